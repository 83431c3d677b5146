"""The ner_bert exception family.

Every error the library raises on purpose is a :class:`NerBertError`. Each subclass also
inherits the builtin a caller would naturally catch (``ValueError``, ``OSError``, ...), so
``except ValueError`` keeps working. Messages say where the problem is (file and line, record,
field), what was expected, what came, and how to fix it.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataFormatError",
    "DataNotFoundError",
    "HubError",
    "InputTypeError",
    "LabelError",
    "MissingDependencyError",
    "ModelLoadError",
    "NerBertError",
    "TagSchemeError",
]


class NerBertError(Exception):
    """Base class of every error raised by ner_bert."""


class ConfigError(NerBertError, ValueError):
    """An option or configuration field has an invalid value."""


class DataNotFoundError(NerBertError, FileNotFoundError):
    """An input file or directory does not exist."""


class DataFormatError(NerBertError, ValueError):
    """Input data is malformed: wrong column count, empty file, bad JSON, span out of range."""


class InputTypeError(DataFormatError, TypeError):
    """A value has the wrong type: a word that is not a ``str``, a string where a list is due."""


class TagSchemeError(DataFormatError):
    """Tags do not follow the declared tag scheme (unknown prefix, IOB2 violation, ...)."""


class LabelError(NerBertError, ValueError):
    """A label is unknown to the label set, or a label map is unusable (``LABEL_0`` names)."""


class ModelLoadError(NerBertError, OSError):
    """A model directory or hub name cannot be loaded (missing files, wrong architecture)."""


class HubError(NerBertError, OSError):
    """The Hugging Face Hub refused a request or cannot be reached (pushing a model)."""


class MissingDependencyError(NerBertError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra
    that installs it (``pip install 'ner-bert[onnx]'``)."""

"""ner_bert: fine-tune BERT-family encoders for NER and serve exact-offset predictions.

Light names (labels, readers, types, errors) are imported eagerly; the torch-backed ones
(:class:`NERTrainer`, :class:`NERPredictor`, :func:`evaluate`...) are imported on first use,
so ``import ner_bert`` and ``ner-bert --help`` stay fast. spaCy is never imported here: the
component is found through the ``spacy_factories`` entry point.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import (
    ConfigError,
    DataFormatError,
    DataNotFoundError,
    HubError,
    InputTypeError,
    LabelError,
    MissingDependencyError,
    ModelLoadError,
    NerBertError,
    TagSchemeError,
)
from .labels import LabelSet, TagScheme, align_labels, convert_to_iob2, detect_scheme
from .types import Entity, TaggedSentence, WordPrediction

try:
    __version__ = version("ner-bert")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

# name -> module that defines it; imported lazily by __getattr__.
_LAZY = {
    "read_conll": "data.conll",
    "write_conll": "data.conll",
    "read_jsonl": "data.jsonl",
    "read_label_studio": "data.label_studio",
    "write_label_studio": "data.label_studio",
    "write_jsonl": "data.jsonl",
    "from_hf_dataset": "data.hf_datasets",
    "to_hf_dataset": "data.hf_datasets",
    "hf_dataset_labels": "data.hf_datasets",
    "EvaluationReport": "evaluation",
    "evaluate_tags": "evaluation",
    "TrainingConfig": "config",
    "PredictionConfig": "config",
    "NERTrainer": "training",
    "TrainingResult": "training",
    "NERPredictor": "prediction",
    "push_to_hub": "model.hub",
    "export_onnx": "model.onnx_export",
}

__all__ = [
    "ConfigError",
    "DataFormatError",
    "DataNotFoundError",
    "Entity",
    "HubError",
    "InputTypeError",
    "LabelError",
    "LabelSet",
    "MissingDependencyError",
    "ModelLoadError",
    "NerBertError",
    "TagScheme",
    "TagSchemeError",
    "TaggedSentence",
    "WordPrediction",
    "__version__",
    "align_labels",
    "convert_to_iob2",
    "detect_scheme",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ner_bert' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

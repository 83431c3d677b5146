"""Where a model comes from: a local folder or a hub name, with its hub options.

:class:`ModelSource` makes every ``from_pretrained`` call of one source with the same
remote-code and hub options, and turns transformers' load errors into ``ModelLoadError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabelError, ModelLoadError
from ..labels import LabelSet
from .files import METADATA_FILE, WEIGHTS_FILE, read_metadata
from .quiet import transformers_bars_off

__all__ = [
    "LOAD_ERRORS",
    "NO_HUB_OPTIONS",
    "HubOptions",
    "ModelSource",
    "hub_metadata",
    "looks_local",
    "source_hint",
]

logger = logging.getLogger(__name__)

# What transformers raises for a folder or hub name it cannot load.
LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError)


@contextlib.contextmanager
def _load_report_off() -> Iterator[None]:
    """No "LOAD REPORT" table from transformers (a warning on every fine-tuning start, listing
    the new head as MISSING): :func:`_log_loading` says what matters in ner_bert's words.

    A filter rather than a level: transformers checks its tensor-parallel plan, and warns
    about it, when this logger's level is WARNING or above."""
    transformers_logger = logging.getLogger("transformers.modeling_utils")
    report_filter = _DropLoadReport()
    transformers_logger.addFilter(report_filter)
    try:
        yield
    finally:
        transformers_logger.removeFilter(report_filter)


class _DropLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def _log_loading(source: str, model: Any, info: dict[str, Any]) -> None:
    """Warn about encoder weights the checkpoint lacks (they start random, which is rarely
    meant); a new or re-initialized head, expected when fine-tuning, is only info."""
    missing = info.get("missing_keys") or []
    prefix = f"{model.base_model_prefix}."
    encoder_keys = set(model.base_model.state_dict()) if missing else set()
    encoder = sorted(k for k in missing if k.removeprefix(prefix) in encoder_keys)
    head = sorted(k for k in missing if k.removeprefix(prefix) not in encoder_keys)
    if encoder:
        logger.warning(
            "%s: %d encoder weights are not in the checkpoint and start untrained (%s); is "
            "this the encoder you meant?",
            source,
            len(encoder),
            ", ".join(encoder[:3]) + (", ..." if len(encoder) > 3 else ""),
        )
    if head:
        logger.info("%s: new head (%s), trained by fine-tuning.", source, ", ".join(head))
    mismatched = [
        str(item[0] if isinstance(item, tuple) else item)
        for item in info.get("mismatched_keys") or []
    ]
    if mismatched:
        logger.info("%s: re-initialized for the new labels: %s.", source, ", ".join(mismatched))
    if info.get("unexpected_keys"):
        logger.debug("%s: unused checkpoint weights: %s", source, info["unexpected_keys"])


def looks_local(path_or_name: str | Path) -> bool:
    if isinstance(path_or_name, Path):
        return True
    text = str(path_or_name)
    return (
        os.path.isabs(text)
        or text.startswith((".", "~"))
        or text.count("/") > 1
        or os.sep in text.replace("/", "")
        or Path(text).exists()
    )


def source_hint(source: str) -> str:
    if Path(source).expanduser().exists():
        return "check the folder holds a saved model (config.json) and its tokenizer files"
    return (
        "pass an existing local directory or a Hugging Face model name (the hub is needed "
        "for names that are not cached)"
    )


@dataclass(frozen=True)
class HubOptions:
    """How ``transformers`` and ``huggingface_hub`` fetch a model given by hub name.

    Passed to every ``from_pretrained`` (tokenizer, config, weights) and to the download of
    ``ner_bert.json``; local folders ignore them.

    Attributes:
        revision: Branch, tag or commit of the hub repository (default: ``main``).
        token: Hub token for private or gated models (``True``: the saved login).
        cache_dir: Cache folder instead of the default ``~/.cache/huggingface/hub``.
        local_files_only: Use the cache only, never the network.
    """

    revision: str | None = None
    token: str | bool | None = None
    cache_dir: str | Path | None = None
    local_files_only: bool = False

    def kwargs(self) -> dict[str, Any]:
        """The options that are set, as ``from_pretrained`` keyword arguments."""
        out: dict[str, Any] = {}
        if self.revision is not None:
            out["revision"] = self.revision
        if self.token is not None:
            out["token"] = self.token
        if self.cache_dir is not None:
            out["cache_dir"] = str(self.cache_dir)
        if self.local_files_only:
            out["local_files_only"] = True
        return out


NO_HUB_OPTIONS = HubOptions()


def hub_metadata(repo_id: str, hub: HubOptions) -> dict[str, Any] | None:
    """``ner_bert.json`` of a model on the hub (one saved by ner_bert and pushed), if any.

    A hub model without one (any transformers token classifier) loads with defaults; one that
    cannot be fetched at all fails when its config is loaded, with transformers' reason.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        file = hf_hub_download(repo_id, METADATA_FILE, **hub.kwargs())
    except (OSError, ValueError, EntryNotFoundError) as exc:  # not there, offline, no network
        logger.debug("%s: no %s (%s)", repo_id, METADATA_FILE, exc)
        return None
    return read_metadata(Path(file).parent)


@dataclass(frozen=True)
class ModelSource:
    """One source's ``from_pretrained`` calls, with its remote-code and hub options."""

    source: str
    trust_remote_code: bool
    hub: HubOptions

    def model(self, *, masked_lm: bool = False, **options: Any) -> Any:
        """The token-classification model (``masked_lm``: the masked-LM one) of the source."""
        from transformers import AutoModelForMaskedLM, AutoModelForTokenClassification

        source = self.source
        auto = AutoModelForMaskedLM if masked_lm else AutoModelForTokenClassification
        with_info = options.pop("output_loading_info", False)
        try:
            with transformers_bars_off(), _load_report_off():
                model, info = auto.from_pretrained(
                    source,
                    use_safetensors=True,
                    trust_remote_code=self.trust_remote_code,
                    output_loading_info=True,
                    **self.hub.kwargs(),
                    **options,
                )
        except (*LOAD_ERRORS, RuntimeError) as exc:
            raise ModelLoadError(
                f"{source}: could not load the model weights ({type(exc).__name__}: {exc}); "
                f"{source_hint(source)}."
            ) from exc
        except Exception as exc:  # safetensors raises its own SafetensorError for corrupt files
            if type(exc).__name__ != "SafetensorError":
                raise
            raise ModelLoadError(f"{source}: corrupt {WEIGHTS_FILE}: {exc}") from exc
        _log_loading(source, model, info)
        return (model, info) if with_info else model

    def saved_labels(self) -> LabelSet | None:
        """The labels the checkpoint's head was trained for, if it names real ones."""
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(
            self.source, trust_remote_code=self.trust_remote_code, **self.hub.kwargs()
        )
        try:
            return LabelSet.from_id2label(getattr(config, "id2label", {}) or {})
        except LabelError:
            return None

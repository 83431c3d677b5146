"""Loading model folders, with clear errors: the one loader of ner_bert.

Checks a local model directory file by file before handing it to ``transformers``, so a
missing or corrupt part is reported by name; loads ``safetensors`` weights only; never runs
remote code unless asked. :func:`load_model` serves both training (an encoder that gets a new
head for the given labels) and prediction (a fine-tuned model with its labels);
:func:`window_length` is the one rule for the length of a model input.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LabelError, ModelLoadError
from ..labels import LabelSet
from .atomic import verify_manifest
from .files import (
    CONFIG_FILE,
    METADATA_FILE,
    ONNX_FILE,
    PICKLE_WEIGHTS_FILES,
    SHARDED_WEIGHTS_FILE,
    TOKENIZER_FILES,
    WEIGHTS_FILE,
    is_onnx_export,
    read_metadata,
)
from .head import load_with_new_head
from .source import (
    LOAD_ERRORS,
    NO_HUB_OPTIONS,
    HubOptions,
    ModelSource,
    hub_metadata,
    looks_local,
    source_hint,
)

__all__ = [
    "MAX_WINDOW",
    "HubOptions",
    "LoadedModel",
    "check_model_dir",
    "load_encoder_config",
    "load_model",
    "load_tokenizer",
    "resolve_labels",
    "window_length",
]

logger = logging.getLogger(__name__)

MAX_WINDOW = 512
"""Longest default input in tokens: longer-context encoders are read in windows of this size
unless ``max_length`` asks for more (attention cost grows with the square of the length)."""


@dataclass
class LoadedModel:
    """What :func:`load_model` returns."""

    model: Any
    tokenizer: Any
    labels: LabelSet
    metadata: dict[str, Any]
    path: Path | None


def _check_exists(directory: Path) -> None:
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "model directory not found"
        raise ModelLoadError(
            f"{directory}: {what}; pass the folder written by NERTrainer.save / "
            "NERPredictor.save, or a Hugging Face model name."
        )


def _check_config_file(directory: Path) -> None:
    config = directory / CONFIG_FILE
    if not config.is_file():
        raise ModelLoadError(
            f"{directory}: {CONFIG_FILE} is missing; this is not a saved model directory."
        )
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"{config}: corrupt {CONFIG_FILE} ({exc}); save the model again."
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{config}: expected a JSON object, got {type(data).__name__}.")


def _check_torch_weights(directory: Path) -> None:
    if (directory / WEIGHTS_FILE).is_file() or (directory / SHARDED_WEIGHTS_FILE).is_file():
        return
    pickled = [name for name in PICKLE_WEIGHTS_FILES if (directory / name).is_file()]
    if pickled:
        raise ModelLoadError(
            f"{directory}: {WEIGHTS_FILE} is missing and only pickle weights ({pickled[0]}) "
            "are present; ner_bert loads safetensors only. Convert them with "
            "model.save_pretrained(path) in a trusted environment."
        )
    raise ModelLoadError(f"{directory}: {WEIGHTS_FILE} is missing (no model weights).")


def _check_onnx_file(directory: Path) -> None:
    if not (directory / ONNX_FILE).is_file():
        raise ModelLoadError(
            f"{directory}: {ONNX_FILE} is missing, though {METADATA_FILE} says the folder is "
            "an ONNX export; export the model again (ner-bert export --model TRAINED_FOLDER "
            f"--output {directory} --overwrite)."
        )


def _check_weights_file(directory: Path) -> None:
    if (directory / ONNX_FILE).is_file() and not (directory / WEIGHTS_FILE).is_file():
        raise ModelLoadError(
            f"{directory}: holds {ONNX_FILE} but no {METADATA_FILE} saying it is a ner_bert "
            "ONNX export; load the folder exported by ner-bert export (or ner_bert.export_onnx)."
        )
    _check_torch_weights(directory)


def _tokenizer_missing(directory: Path) -> str:
    return (
        f"{directory}: could not load a tokenizer: tokenizer.json is missing (the folder has "
        f"none of {', '.join(TOKENIZER_FILES)}); save the tokenizer with the model "
        "(tokenizer.save_pretrained(path))."
    )


def check_model_dir(directory: Path) -> dict[str, Any] | None:
    """Raise :class:`ModelLoadError` naming the first missing or unreadable part, or a part
    that was not saved with the others (the ``files`` manifest of ``ner_bert.json``); returns
    the folder's ``ner_bert.json`` (``None`` if it has none)."""
    _check_exists(directory)
    _check_config_file(directory)
    metadata = read_metadata(directory)
    if is_onnx_export(metadata):
        _check_onnx_file(directory)
    else:
        _check_weights_file(directory)
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelLoadError(_tokenizer_missing(directory))
    if metadata is not None and "files" in metadata:  # folders saved before 0.3 have none
        verify_manifest(directory, metadata["files"], source=str(directory / METADATA_FILE))
    return metadata


def load_tokenizer(
    source: str | Path, *, trust_remote_code: bool = False, hub: HubOptions = NO_HUB_OPTIONS
) -> Any:
    """A fast tokenizer for ``source``; byte-level BPE ones get ``add_prefix_space=True``.

    Raises:
        ModelLoadError: No tokenizer can be loaded, or only a slow (Python) one exists.
    """
    from transformers import AutoTokenizer

    local = Path(source).expanduser()
    is_dir = looks_local(source) and local.is_dir()
    has_vocabulary = is_dir and any((local / name).is_file() for name in TOKENIZER_FILES)
    if is_dir and not has_vocabulary and not (local / "tokenizer_config.json").is_file():
        raise ModelLoadError(_tokenizer_missing(local))
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(source), trust_remote_code=trust_remote_code, **hub.kwargs()
        )
    except Exception as exc:  # the Rust tokenizers library raises plain Exception
        if not isinstance(exc, LOAD_ERRORS) and type(exc) is not Exception:
            raise
        if is_dir and not (local / "tokenizer.json").is_file():
            raise ModelLoadError(_tokenizer_missing(local)) from exc
        raise ModelLoadError(
            f"{source}: could not load a tokenizer ({type(exc).__name__}: {exc}); "
            f"{source_hint(str(source))}. A model directory must contain its tokenizer "
            "(tokenizer.save_pretrained(path)); a corrupt tokenizer.json must be saved again."
        ) from exc
    if isinstance(tokenizer, bool) or not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{source}: the tokenizer {type(tokenizer).__name__} is a slow (Python) tokenizer; "
            "ner_bert needs a fast one (a tokenizer.json) for word ids and offsets. Convert "
            "it with transformers' convert_slow_tokenizer, or pick a model that ships one."
        )
    if is_dir and not has_vocabulary:  # a tokenizer_config.json alone: no vocabulary
        raise ModelLoadError(_tokenizer_missing(local))
    if _is_byte_level(tokenizer) and not getattr(tokenizer, "add_prefix_space", False):
        # Byte-level BPE (RoBERTa, GPT-2 vocab) encodes a word differently at the start of a
        # text; pre-split words must all be encoded as if preceded by a space.
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(source),
                add_prefix_space=True,
                trust_remote_code=trust_remote_code,
                **hub.kwargs(),
            )
        except LOAD_ERRORS as exc:  # pragma: no cover - loaded fine a moment ago
            raise ModelLoadError(f"{source}: could not reload the tokenizer ({exc}).") from exc
    return tokenizer


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and "ByteLevel" in repr(backend.pre_tokenizer)


def load_encoder_config(source: str, *, hub: HubOptions = NO_HUB_OPTIONS) -> Any:
    """The model's ``transformers`` config, after checking it is a bidirectional encoder.

    Raises:
        ModelLoadError: No config, an encoder-decoder (T5, BART), or a model type that is not a
            masked-language-model encoder (GPT-2, Llama, ...).
    """
    from transformers import (
        MODEL_FOR_MASKED_LM_MAPPING,
        MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING,
        AutoConfig,
    )

    if looks_local(source):
        directory = Path(source).expanduser()
        _check_exists(directory)
        _check_config_file(directory)
    try:
        config = AutoConfig.from_pretrained(source, **hub.kwargs())
    except LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"{source}: could not load the model config ({type(exc).__name__}: {exc}); "
            f"{source_hint(source)}."
        ) from exc
    kind = getattr(config, "model_type", type(config).__name__)
    if getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(
            f"{source}: model type {kind!r} is an encoder-decoder; ner_bert fine-tunes "
            "encoders such as BERT, RoBERTa, DeBERTa or ELECTRA."
        )
    if type(config) not in MODEL_FOR_MASKED_LM_MAPPING:
        raise ModelLoadError(
            f"{source}: model type {kind!r} is not a bidirectional encoder (it has no masked-LM "
            "form, e.g. a decoder-only model like GPT-2); ner_bert fine-tunes encoders such as "
            "BERT, RoBERTa, DeBERTa or ELECTRA."
        )
    if type(config) not in MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING:
        raise ModelLoadError(
            f"{source}: transformers has no token-classification model for type {kind!r}."
        )
    return config


def window_length(
    requested: int | None, tokenizer: Any, model_config: Any, *, context_size: int = 0
) -> int:
    """Tokens per model input, special tokens included: the one rule of training and prediction.

    The model's limit is the smallest of the tokenizer's ``model_max_length`` (when set) and
    the position embeddings; the default is that limit capped at :data:`MAX_WINDOW`. With
    document context (``context_size > 0``) the default is ``4 * context_size`` plus the special
    tokens: inputs are filled with up to ``2 * context_size`` subwords of sentences and
    ``context_size`` of context on each side, not stretched to the model's 512.

    Raises:
        ModelLoadError: ``requested`` is longer than the model accepts.
    """
    limits = []
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    positions = getattr(model_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models reserve padding_idx + 1 positions.
        if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            positions -= 2
        limits.append(positions)
    limit = min(limits) if limits else MAX_WINDOW
    if requested is None:
        default = min(limit, MAX_WINDOW)
        if context_size:
            default = min(default, 4 * context_size + tokenizer.num_special_tokens_to_add())
        return default
    if requested > limit:
        raise ModelLoadError(
            f"max_length={requested} is longer than the model accepts ({limit} tokens); "
            f"use max_length <= {limit} (longer sentences are split into windows anyway)."
        )
    return requested


def resolve_labels(
    labels: Sequence[str] | LabelSet | None,
    metadata: dict[str, Any],
    model_config: Any,
) -> LabelSet:
    """The labels of a trained head: ``labels`` if given, else ``ner_bert.json``'s (checked
    against ``config.json``), else ``config.json``'s ``id2label``.

    Raises:
        ConfigError: Not one label per output.
        ModelLoadError: ``ner_bert.json`` and ``config.json`` disagree.
    """
    n_out = int(getattr(model_config, "num_labels", 0))
    if labels is not None:
        label_set = labels if isinstance(labels, LabelSet) else LabelSet(tuple(labels))
    elif isinstance(metadata.get("labels"), list):
        label_set = LabelSet(tuple(metadata["labels"]))
        _check_saved_together(label_set, model_config)
    else:
        label_set = LabelSet.from_id2label(model_config.id2label)
    if len(label_set) != n_out:
        raise ConfigError(
            f"the model has {n_out} outputs but {len(label_set)} labels were given "
            f"({list(label_set.labels)}); pass one label per output, in id order."
        )
    return label_set


def _check_saved_together(labels: LabelSet, model_config: Any) -> None:
    """``ner_bert.json``'s labels must be the head's (``config.json``): ner_bert writes both."""
    try:
        head = LabelSet.from_id2label(getattr(model_config, "id2label", {}) or {})
    except LabelError:
        head = None  # generic LABEL_<n> names: nothing to compare but the count
    if len(labels) != int(getattr(model_config, "num_labels", 0)) or (
        head is not None and head.labels != labels.labels
    ):
        names = list(head.labels) if head is not None else model_config.num_labels
        raise ModelLoadError(
            f"{METADATA_FILE} names the labels {list(labels.labels)} but {CONFIG_FILE} the "
            f"head's {names}: the folder mixes parts of different saves. Save the model again."
        )


def load_model(
    path_or_name: str | Path,
    *,
    labels: Sequence[str] | LabelSet | None = None,
    new_head: bool = False,
    tokenizer: Any = None,
    trust_remote_code: bool = False,
    hub: HubOptions = NO_HUB_OPTIONS,
) -> LoadedModel:
    """Load a token-classification model, its fast tokenizer, labels and ``ner_bert.json``.

    Args:
        path_or_name: A local model directory or a hub name.
        labels: The labels; with ``new_head`` the head gets one output per label (a head
            trained for other labels is re-initialized with a warning), otherwise they name
            the outputs of the saved head (default: ``ner_bert.json`` or ``config.json``).
        new_head: Load an encoder for fine-tuning (training) rather than a trained model.
        tokenizer: A tokenizer already loaded from ``path_or_name`` (else it is loaded).
        trust_remote_code: Allow model code from the folder or hub (off by default).
        hub: Revision, token, cache and offline options for a hub name.

    Raises:
        ModelLoadError: Missing/corrupt files (named), a slow-only tokenizer, a checkpoint
            without a token-classification head, or a hub name that cannot be fetched.
        LabelError: Generic ``LABEL_<n>`` names without ``labels=``, or non-IOB2 labels.
    """
    path = Path(path_or_name).expanduser() if looks_local(path_or_name) else None
    source = str(path) if path is not None else str(path_or_name)
    if path is not None:
        metadata = check_model_dir(path) or {}
    else:  # an encoder to fine-tune needs no ner_bert.json: spare the request
        metadata = ({} if new_head else hub_metadata(source, hub)) or {}
    if tokenizer is None:
        tokenizer = load_tokenizer(source, trust_remote_code=trust_remote_code, hub=hub)
    loader = ModelSource(source, trust_remote_code, hub)
    if new_head:
        if labels is None:
            raise ConfigError("load_model(new_head=True) needs the labels of the new head.")
        label_set = labels if isinstance(labels, LabelSet) else LabelSet(tuple(labels))
        model = load_with_new_head(loader, label_set)
    else:
        model = _load_trained(loader, labels)
        label_set = resolve_labels(labels, metadata, model.config)
    model.config.id2label = label_set.id2label
    model.config.label2id = label_set.label2id
    return LoadedModel(model, tokenizer, label_set, metadata, path)


def _load_trained(loader: ModelSource, labels: Sequence[str] | LabelSet | None) -> Any:
    model, info = loader.model(output_loading_info=True)
    missing = [key for key in info.get("missing_keys", []) if "classifier" in key]
    if missing and labels is None:
        raise ModelLoadError(
            f"{loader.source}: the checkpoint has no token-classification head (missing "
            f"{missing[0]}); fine-tune it with NERTrainer first."
        )
    return model

"""Loading what training starts from (tokenizer, config, encoder) with clear errors.

Everything here runs before any training step, so a wrong model path, a slow tokenizer or a
decoder-only checkpoint fails in seconds with a ner_bert error instead of a traceback deep in
the loop.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import torch

from .config import MixedPrecision
from .errors import ConfigError, LabelError, ModelLoadError
from .labels import LabelSet
from .model_loading import resolve_precision

__all__ = [
    "autocast",
    "autocast_dtype",
    "decay_parameter_groups",
    "load_model",
    "load_model_config",
    "load_tokenizer",
    "on_accelerator",
    "pick_device",
    "window_length",
]

logger = logging.getLogger(__name__)

_MAX_WINDOW = 512

_LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError)

# Files of which a local model directory needs at least one to have a tokenizer.
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "spm.model",
    "tokenizer.model",
)


def _hint(source: str) -> str:
    if Path(source).expanduser().exists():
        return "check the folder holds a saved model (config.json) and its tokenizer files"
    return (
        "pass an existing local directory or a Hugging Face model name (the hub is needed "
        "for names that are not cached)"
    )


def load_tokenizer(source: str) -> Any:
    """A fast tokenizer for ``source``; byte-level BPE ones get ``add_prefix_space=True``.

    Raises:
        ModelLoadError: No tokenizer can be loaded, or only a slow (Python) one exists.
    """
    from transformers import AutoTokenizer

    local = Path(source).expanduser()
    if local.is_dir() and not any((local / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelLoadError(
            f"{source}: could not load a tokenizer: the directory has none of "
            f"{', '.join(_TOKENIZER_FILES)}. Save the tokenizer with the model "
            "(tokenizer.save_pretrained(path))."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except _LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"{source}: could not load a tokenizer ({type(exc).__name__}: {exc}); "
            f"{_hint(source)}. A model directory must contain its tokenizer "
            "(tokenizer.save_pretrained(path))."
        ) from exc
    if isinstance(tokenizer, bool) or not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{source}: the tokenizer {type(tokenizer).__name__} is a slow (Python) tokenizer; "
            "ner_bert needs a fast one (a tokenizer.json) for word ids and offsets. Convert "
            "it with transformers' convert_slow_tokenizer, or pick a model that ships one."
        )
    if _is_byte_level(tokenizer) and not getattr(tokenizer, "add_prefix_space", False):
        # Byte-level BPE (RoBERTa, GPT-2 vocab) encodes a word differently at the start of a
        # text; pre-split words must all be encoded as if preceded by a space.
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, add_prefix_space=True)
        except _LOAD_ERRORS as exc:  # pragma: no cover - loaded fine a moment ago
            raise ModelLoadError(f"{source}: could not reload the tokenizer ({exc}).") from exc
    return tokenizer


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and "ByteLevel" in repr(backend.pre_tokenizer)


def load_model_config(source: str) -> Any:
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

    try:
        config = AutoConfig.from_pretrained(source)
    except _LOAD_ERRORS as exc:
        raise ModelLoadError(
            f"{source}: could not load the model config ({type(exc).__name__}: {exc}); "
            f"{_hint(source)}."
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


def window_length(requested: int | None, tokenizer: Any, model_config: Any) -> int:
    """The window length: ``requested``, or the model's limit capped at 512."""
    limits = [_MAX_WINDOW]
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    positions = getattr(model_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models reserve padding_idx + 1 positions.
        if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            positions -= 2
        limits.append(positions)
    limit = min(limits)
    if requested is None:
        return limit
    if requested > limit:
        raise ModelLoadError(
            f"max_length={requested} is longer than the model accepts ({limit} tokens); "
            f"use max_length <= {limit} (longer sentences are split into windows anyway)."
        )
    return requested


def load_model(source: str, model_config: Any, labels: LabelSet) -> Any:
    """A token-classification model with a head of ``len(labels)`` real-named outputs.

    A head trained for other labels is re-initialized (with a warning); an encoder without a
    head gets a new one.
    """
    from transformers import AutoModelForTokenClassification

    old: LabelSet | None
    try:
        old = LabelSet.from_id2label(getattr(model_config, "id2label", {}) or {})
    except LabelError:
        old = None
    try:
        model = AutoModelForTokenClassification.from_pretrained(
            source,
            num_labels=len(labels),
            id2label=labels.id2label,
            label2id=labels.label2id,
            ignore_mismatched_sizes=True,
        )
    except (*_LOAD_ERRORS, RuntimeError) as exc:
        raise ModelLoadError(
            f"{source}: could not load the model weights ({type(exc).__name__}: {exc}); "
            f"{_hint(source)}."
        ) from exc
    if old is not None and old.labels != labels.labels and len(old) == len(labels):
        logger.warning(
            "%s: its head was trained for labels %s, not %s; re-initializing the head.",
            source,
            list(old.labels),
            list(labels.labels),
        )
        _reset_head(model)
    return model


def _reset_head(model: Any) -> None:
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        return
    std = float(getattr(model.config, "initializer_range", 0.02))
    with torch.no_grad():
        head.weight.normal_(0.0, std)
        if head.bias is not None:
            head.bias.zero_()


def decay_parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: weight decay on matrices only, none on biases and LayerNorm."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.ndim < 2 or "norm" in name.lower() or name.endswith(".bias"):
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def pick_device(device: str) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but no CUDA GPU is available; use 'auto' or 'cpu'.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device='mps' but MPS is not available; use 'auto' or 'cpu'.")
    return torch.device(device)


def autocast_dtype(precision: MixedPrecision, device: torch.device) -> torch.dtype | None:
    if precision is MixedPrecision.FP16 and device.type == "cpu":
        raise ConfigError(
            "mixed_precision='fp16' needs a GPU; use 'bf16' (fast on CPUs with AMX) or 'no'."
        )
    dtype: torch.dtype | None = resolve_precision(precision, device)
    if precision is MixedPrecision.AUTO and dtype is None and device.type == "cuda":
        dtype = torch.float16
    return dtype


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def on_accelerator(model: Any) -> bool:
    return bool(next(model.parameters()).device.type != "cpu")

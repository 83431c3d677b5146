"""Loading and saving token-classification checkpoints for prediction, with clear errors.

Checks a local model directory file by file before handing it to ``transformers``, so a
missing or corrupt part is reported by name; loads ``safetensors`` weights only; never runs
remote code unless asked. Also decides the inference precision (bf16 autocast where the
hardware has fast bfloat16).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import MixedPrecision
from .errors import ConfigError, ModelLoadError
from .labels import LabelSet
from .serialization import CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE, read_metadata, write_metadata

__all__ = [
    "LoadedModel",
    "check_model_dir",
    "cpu_has_fast_bf16",
    "load_model",
    "model_max_length",
    "quantize",
    "resolve_device",
    "resolve_precision",
    "save_model",
]

logger = logging.getLogger(__name__)

_SHARDED_WEIGHTS = WEIGHTS_FILE.replace(".safetensors", ".safetensors.index.json")
_PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spm.model",
    "tokenizer.model",
)


@dataclass
class LoadedModel:
    """What :func:`load_model` returns."""

    model: Any
    tokenizer: Any
    labels: LabelSet
    metadata: dict[str, Any]
    path: Path | None


def _looks_local(path_or_name: str | Path) -> bool:
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


def check_model_dir(directory: Path) -> None:
    """Raise :class:`ModelLoadError` naming the first missing or unreadable part."""
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "model directory not found"
        raise ModelLoadError(
            f"{directory}: {what}; pass the folder written by NERTrainer.save / "
            "NERPredictor.save, or a Hugging Face model name."
        )
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
    if not (directory / WEIGHTS_FILE).is_file() and not (directory / _SHARDED_WEIGHTS).is_file():
        pickled = [name for name in _PICKLE_WEIGHTS if (directory / name).is_file()]
        if pickled:
            raise ModelLoadError(
                f"{directory}: {WEIGHTS_FILE} is missing and only pickle weights ({pickled[0]}) "
                "are present; ner_bert loads safetensors only. Convert them with "
                "model.save_pretrained(path) in a trusted environment."
            )
        raise ModelLoadError(f"{directory}: {WEIGHTS_FILE} is missing (no model weights).")
    if not any((directory / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelLoadError(
            f"{directory}: tokenizer.json is missing (no tokenizer files); save the tokenizer "
            "with the model (tokenizer.save_pretrained(path))."
        )


def _resolve_labels(
    labels: Sequence[str] | LabelSet | None,
    metadata: dict[str, Any],
    model_config: Any,
) -> LabelSet:
    n_out = int(getattr(model_config, "num_labels", 0))
    if labels is not None:
        label_set = labels if isinstance(labels, LabelSet) else LabelSet(tuple(labels))
    elif isinstance(metadata.get("labels"), list) and len(metadata["labels"]) == n_out:
        label_set = LabelSet(tuple(metadata["labels"]))
    else:
        label_set = LabelSet.from_id2label(model_config.id2label)
    if len(label_set) != n_out:
        raise ConfigError(
            f"the model has {n_out} outputs but {len(label_set)} labels were given "
            f"({list(label_set.labels)}); pass one label per output, in id order."
        )
    return label_set


def load_model(
    path_or_name: str | Path,
    *,
    labels: Sequence[str] | LabelSet | None = None,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load model, fast tokenizer, labels and ``ner_bert.json`` metadata.

    Raises:
        ModelLoadError: Missing/corrupt files (named), a slow-only tokenizer, a checkpoint
            without a token-classification head, or a hub name that cannot be fetched.
        LabelError: Generic ``LABEL_<n>`` names without ``labels=``, or non-IOB2 labels.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    local = _looks_local(path_or_name)
    path = Path(path_or_name).expanduser() if local else None
    source = str(path) if path is not None else str(path_or_name)
    if path is not None:
        check_model_dir(path)
    metadata = (read_metadata(path) if path is not None else None) or {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model, info = AutoModelForTokenClassification.from_pretrained(
            source,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
        )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{source}: could not load the model or tokenizer: {exc}") from exc
    except Exception as exc:  # safetensors raises its own SafetensorError for corrupt files
        if type(exc).__name__ != "SafetensorError":
            raise
        raise ModelLoadError(f"{source}: corrupt {WEIGHTS_FILE}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{source}: the tokenizer is not a fast (tokenizer.json) tokenizer; ner_bert needs "
            "one for word ids and character offsets."
        )
    missing = [key for key in info.get("missing_keys", []) if "classifier" in key]
    if missing and labels is None:
        raise ModelLoadError(
            f"{source}: the checkpoint has no token-classification head (missing {missing[0]}); "
            "fine-tune it with NERTrainer first."
        )
    label_set = _resolve_labels(labels, metadata, model.config)
    model.config.id2label = label_set.id2label
    model.config.label2id = label_set.label2id
    return LoadedModel(model, tokenizer, label_set, metadata, path)


def save_model(
    directory: Path, model: Any, tokenizer: Any, labels: LabelSet, metadata: dict[str, Any]
) -> None:
    """Save weights (safetensors), tokenizer, config with real labels and ``ner_bert.json``."""
    from . import __version__

    directory.mkdir(parents=True, exist_ok=True)
    model.config.id2label = labels.id2label
    model.config.label2id = labels.label2id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    meta = {
        "format_version": 1,
        "tag_scheme": "IOB2",
        **metadata,
        "library_version": __version__,
        "labels": list(labels.labels),
    }
    write_metadata(directory, meta)
    logger.info("saved model to %s (%s)", directory, METADATA_FILE)


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (Intel AMX or AVX512-BF16).

    On such CPUs (Intel Sapphire Rapids and later, AMD Zen 4 and later) bf16 autocast trains
    and predicts about 1.5x (AVX512-BF16) to 3x (AMX) faster than fp32.
    """
    import torch

    try:
        if "AMX" in torch.backends.cpu.get_cpu_capability():
            return True
    except (AttributeError, RuntimeError):  # pragma: no cover - old torch
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:  # pragma: no cover - not Linux
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: MixedPrecision, device: Any) -> Any:
    """The autocast dtype for ``precision`` on ``device``, or ``None`` for fp32."""
    import torch

    if precision is MixedPrecision.NO:
        return None
    if precision is MixedPrecision.BF16:
        return torch.bfloat16
    if precision is MixedPrecision.FP16:
        if device.type == "cpu":
            raise ConfigError("precision 'fp16' needs a GPU; use 'bf16' or 'fp32' on CPU.")
        return torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else None
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def resolve_device(device: str | None) -> Any:
    """The torch device for a config value (``None``/``"auto"``: GPU if there is one)."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def model_max_length(model: Any, tokenizer: Any) -> int:
    """The longest input the model takes: tokenizer limit and position embeddings."""
    limits = [512]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits = [tok_max]
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models offset positions by padding_idx + 1.
        if getattr(model.config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
            positions -= 2
        limits.append(positions)
    return min(limits)


def quantize(model: Any, device: Any) -> Any:
    """int8 dynamic quantization of the ``Linear`` layers (CPU only); returns a copy."""
    import torch

    if device.type != "cpu":
        raise ConfigError(f"quantize=True needs device 'cpu', got {device}.")
    return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
        model, {torch.nn.Linear}, dtype=torch.qint8
    )

"""Running an ONNX export of a model (``ner-bert export``) with ONNX Runtime.

An exported folder holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``, int64
``(batch, sequence)``; output ``logits``, float32 ``(batch, sequence, labels)``), the tokenizer,
``config.json`` and ``ner_bert.json`` with ``"runtime": "onnx"``. :func:`load_onnx_model`
checks it and opens an ONNX Runtime session; :class:`OnnxRunner` is the
:class:`~ner_bert.model.forward.Runner` that :class:`~ner_bert.NERPredictor` batches through,
so tokenization, windows, offsets and decoding are the same as with torch. Needs the ``onnx``
extra (``pip install 'ner-bert[onnx]'``).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MixedPrecision, PredictionConfig
from ..errors import ConfigError, MissingDependencyError, ModelLoadError
from ..labels import LabelSet
from .files import CONFIG_FILE, METADATA_FILE, ONNX_FILE, is_onnx_export, read_metadata
from .loading import check_model_dir, load_tokenizer, resolve_labels

__all__ = [
    "INPUT_NAMES",
    "OUTPUT_NAME",
    "OnnxModel",
    "OnnxRunner",
    "check_onnx_options",
    "is_onnx_folder",
    "load_onnx_model",
    "require_onnx_module",
]

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"


def require_onnx_module(name: str, purpose: str) -> Any:
    """Import ``name`` (``onnxruntime``, ``onnx``, ``onnxscript``) or say how to install it.

    Raises:
        MissingDependencyError: The package is not installed.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the package {name}, which is not installed: "
            "pip install 'ner-bert[onnx]'."
        ) from exc


@dataclass
class OnnxModel:
    """A checked ONNX export, opened with ONNX Runtime.

    Attributes:
        session: The ``onnxruntime.InferenceSession`` of ``model.onnx``.
        config: The ``transformers`` config of the exported model (labels, positions).
        path: The folder.
        quantization: ``"int8"`` for a quantized export, else ``"none"``.
    """

    session: Any
    config: Any
    path: Path
    quantization: str

    @property
    def precision(self) -> str:
        """The arithmetic of the export: ``"int8"`` or ``"fp32"``."""
        return "int8" if self.quantization == "int8" else "fp32"


def is_onnx_folder(path: str | Path) -> bool:
    """Whether ``path`` is a local folder whose ``ner_bert.json`` marks an ONNX export."""
    folder = Path(path).expanduser()
    if not (folder / METADATA_FILE).is_file():
        return False
    return is_onnx_export(read_metadata(folder))


def load_onnx_model(
    path: str | Path, *, labels: Any = None, num_threads: int | None = None
) -> tuple[OnnxModel, Any, LabelSet, dict[str, Any]]:
    """Check an exported folder file by file and open it: model, tokenizer, labels, metadata.

    Args:
        path: The folder written by :func:`~ner_bert.export_onnx`.
        labels: Overrides the saved labels (one per output, in id order).
        num_threads: ONNX Runtime's intra-op threads (``None``: ONNX Runtime's default, one per
            physical core; ``NERPredictor`` passes torch's thread count).

    Raises:
        ModelLoadError: A part is missing or is not the file that was exported (named), or
            ONNX Runtime cannot read ``model.onnx``.
        MissingDependencyError: onnxruntime is not installed.
    """
    from transformers import AutoConfig

    folder = Path(path).expanduser()
    metadata = check_model_dir(folder) or {}
    ort = require_onnx_module("onnxruntime", f"{folder}: running an ONNX model")
    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{folder / CONFIG_FILE}: not a transformers config ({exc}).") from exc
    session = _open_session(ort, folder / ONNX_FILE, num_threads)
    quantization = str(metadata.get("onnx", {}).get("quantization", "none"))
    model = OnnxModel(session=session, config=config, path=folder, quantization=quantization)
    tokenizer = load_tokenizer(folder)
    label_set = resolve_labels(labels, metadata, config)
    logger.info("loaded ONNX model %s (%s)", folder / ONNX_FILE, model.precision)
    return model, tokenizer, label_set, metadata


def _open_session(ort: Any, file: Path, num_threads: int | None) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
    options.log_severity_level = 3  # errors only: no per-node warnings on the user's stderr
    try:
        session = ort.InferenceSession(
            str(file), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own Exception subclasses (Fail, ...)
        raise ModelLoadError(
            f"{file}: ONNX Runtime cannot read it ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else exc!r}); export the model again."
        ) from exc
    names = {i.name for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if not set(INPUT_NAMES) <= names or OUTPUT_NAME not in outputs:
        raise ModelLoadError(
            f"{file}: expected inputs {list(INPUT_NAMES)} and output {OUTPUT_NAME!r}, found "
            f"inputs {sorted(names)} and outputs {sorted(outputs)}; use a folder written by "
            "ner-bert export."
        )
    return session


def check_onnx_options(config: PredictionConfig, model: OnnxModel) -> None:
    """Refuse prediction options an ONNX export cannot honour (it runs on the CPU, at the
    precision it was exported with).

    Raises:
        ConfigError: ``precision`` bf16/fp16, ``quantize=True`` or a device other than the CPU.
    """
    if config.precision not in (MixedPrecision.AUTO, MixedPrecision.NO):
        raise ConfigError(
            f"{model.path} is an ONNX export ({model.precision}); it runs at the precision it "
            f"was exported with, not precision={config.precision.value!r}. Use precision "
            "'auto', or predict with the torch model folder for bf16/fp16."
        )
    if config.quantize:
        raise ConfigError(
            f"{model.path} is an ONNX export; quantize=True is for torch models. Export with "
            "ner-bert export --quantize int8 (export_onnx(..., quantize='int8')) instead."
        )
    if config.device not in (None, "auto", "cpu"):
        raise ConfigError(
            f"{model.path} is an ONNX export, run on the CPU with ONNX Runtime; device="
            f"{config.device!r} is not supported (use device 'cpu' or the torch model folder)."
        )


class OnnxRunner:
    """A :class:`~ner_bert.model.forward.Runner` on an ONNX Runtime session (thread-safe:
    ``InferenceSession.run`` may be called from several threads)."""

    def __init__(self, model: OnnxModel) -> None:
        self.session = model.session

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        (logits,) = self.session.run([OUTPUT_NAME], feed)
        return _softmax(np.asarray(logits, dtype=np.float32))


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis.

    Example:
        >>> _softmax(np.array([[0.0, 0.0]], dtype=np.float32)).tolist()
        [[0.5, 0.5]]
    """
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return result

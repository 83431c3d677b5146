"""Exporting a trained model folder to ONNX (``ner-bert export``), optionally int8.

The graph is exported with ``torch.onnx`` (dynamic batch and sequence axes; the TorchScript
exporter, whose graph ONNX Runtime's BERT optimizer fuses, with the dynamo exporter as the
fallback, see :func:`_export_graph`), checked against torch on a sample batch, and quantized
with ONNX Runtime's dynamic int8 quantization when asked (int8 weights with a scale per output
column, activations quantized per batch: VNNI/AMX dot products on x86; the feed-forward output
products stay fp32, see :func:`_feed_forward_outputs`). We export ourselves because Optimum's
ONNX export does not support transformers 5.

The folder it writes (see :mod:`ner_bert.model.onnx_runtime`) is loaded by
``NERPredictor.from_pretrained`` like any model folder, and plain ONNX Runtime runs its
``model.onnx`` too.
"""

from __future__ import annotations

import contextlib
import enum
import io
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._choices import parse_choice
from ..errors import ConfigError, ModelLoadError
from .atomic import staged_folder
from .files import (
    METADATA_FILE,
    ONNX_FILE,
    check_output_dir,
    is_onnx_export,
    write_card_and_metadata,
)
from .loading import check_model_dir, load_model, window_length
from .onnx_runtime import INPUT_NAMES, OUTPUT_NAME, require_onnx_module
from .quiet import transformers_bars_off

__all__ = ["OPSET", "Quantization", "copy_onnx_folder", "export_onnx"]

logger = logging.getLogger(__name__)

OPSET = 18
"""ONNX opset of the export (ONNX Runtime 1.14 and later run it)."""

_MAX_DIFF = 1e-3
"""Largest difference of a logit between ONNX Runtime and torch (fp32) an export may show."""

_SAMPLE = (
    "ner_bert exported this model from Wolfsburg to ONNX on a Tuesday.",
    "EU rejects German call to boycott British lamb.",
)


class Quantization(str, enum.Enum):
    """How the exported weights are stored: ``none`` (fp32) or ``int8`` (dynamic int8)."""

    NONE = "none"
    INT8 = "int8"


def export_onnx(
    model: str | Path,
    output: str | Path,
    *,
    quantize: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Export a trained ner_bert model folder to an ONNX folder that
    :meth:`NERPredictor.from_pretrained <ner_bert.NERPredictor.from_pretrained>` runs with
    ONNX Runtime (same API, offsets and decoding) and plain ONNX Runtime runs too.

    Args:
        model: A folder saved by ``NERTrainer.save``, ``NERPredictor.save`` or
            ``ner-bert train``.
        output: The folder to write (absent or empty, or an earlier export with
            ``overwrite``).
        quantize: ``None``/``"none"`` (fp32) or ``"int8"`` (dynamic int8 quantization of the
            matrix products but the feed-forward outputs, which stay fp32 for accuracy: a
            smaller file, faster on CPUs with VNNI or AMX).
        overwrite: Replace an existing ner_bert folder at ``output``.

    Returns:
        The output folder.

    Raises:
        ConfigError: An unknown ``quantize``, an ``output`` that holds something else, or a
            model that is already an ONNX export.
        ModelLoadError: ``model`` is not a ner_bert model folder, has no
            token-classification head, or cannot be exported (the message says why).
        MissingDependencyError: The ``onnx`` extra is not installed.

    Example:
        >>> export_onnx("my-model", "my-model-onnx", quantize="int4")
        Traceback (most recent call last):
        ...
        ner_bert.errors.ConfigError: quantize must be one of 'none', 'int8', got 'int4'.
    """
    quantization = parse_choice(Quantization, "quantize", quantize or "none")
    source, output = Path(model).expanduser(), Path(output).expanduser()
    for name in ("onnxruntime", "onnx", "onnxscript"):
        require_onnx_module(name, "ONNX export")
    metadata = _check_source(source)
    check_output_dir(output, overwrite=overwrite)
    loaded = load_model(source)
    torch_model = loaded.model.eval()
    with (
        staged_folder(output) as staging,
        tempfile.TemporaryDirectory() as tmp,
        _exporters_quiet(),
    ):
        plain = Path(tmp) / ONNX_FILE
        sample = _sample_batch(loaded.tokenizer, torch_model.config)
        fused = _export_graph(torch_model, sample, plain)
        check = {**_compare_with_torch(torch_model, plain, sample), "fused": fused}
        if quantization is Quantization.INT8:
            _quantize_int8(plain, staging / ONNX_FILE, torch_model.config)
            check["int8_argmax_agreement"] = _argmax_agreement(
                torch_model, staging / ONNX_FILE, sample
            )
        else:
            shutil.move(plain, staging / ONNX_FILE)  # /tmp may be another file system
        with transformers_bars_off():
            torch_model.config.save_pretrained(staging)
        loaded.tokenizer.save_pretrained(staging)
        check["exported_from"] = source.resolve().name
        _write_metadata(staging, output, metadata, quantization, check)
    logger.info("exported %s to %s (%s)", source, output / ONNX_FILE, quantization.value)
    return output


def _check_source(source: Path) -> dict[str, Any]:
    metadata = check_model_dir(source)
    if metadata is None:
        raise ModelLoadError(
            f"{source}: not a ner_bert model folder (it has no {METADATA_FILE}); export a "
            "folder saved by ner-bert train, NERTrainer.save or NERPredictor.save."
        )
    if is_onnx_export(metadata):
        raise ConfigError(
            f"{source} is already an ONNX export; export the trained model folder it came "
            f"from ({metadata.get('onnx', {}).get('exported_from', 'see its ner_bert.json')})."
        )
    return metadata


def _sample_batch(tokenizer: Any, model_config: Any) -> dict[str, Any]:
    """Two sentences of different lengths, padded: the export's example input (no longer
    than the model accepts)."""
    length = min(16, window_length(None, tokenizer, model_config))
    encoded = tokenizer(
        list(_SAMPLE), padding=True, truncation=True, max_length=length, return_tensors="pt"
    )
    return {name: encoded[name] for name in INPUT_NAMES}


def _logits_only(model: Any) -> Any:
    """The model as a module with exactly the inputs and the output of the format."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    return LogitsOnly().eval()


@contextlib.contextmanager
def _exporters_quiet() -> Iterator[None]:
    """torch.onnx, onnxscript and the ONNX Runtime quantizer log and warn about their own
    internals (missing torchvision kernels, renamed axes, deprecations) on every export;
    ner_bert checks the result itself, so they are silenced for the call."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [item.level for item in loggers]
    for item in loggers:
        item.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for item, level in zip(loggers, levels, strict=True):
                item.setLevel(level)


def _export_graph(model: Any, sample: dict[str, Any], file: Path) -> bool:
    """Write ``model`` to ``file`` as an ONNX graph with dynamic batch and sequence axes;
    return whether the graph is fused.

    torch.onnx's TorchScript exporter, with eager attention, writes the graph that ONNX
    Runtime's transformer optimizer recognises: it fuses each layer's attention into one
    ``Attention`` operator, and the LayerNorms and GELUs with the additions before them
    (fusions the dynamo exporter's graph does not get). Where that exporter fails (it is
    deprecated in torch 2.9 and later), the dynamo exporter writes an unfused graph.

    Raises:
        ModelLoadError: Neither exporter can export the model.
    """
    try:
        _export_torchscript(model, sample, file)
    except Exception as exc:  # any failure of the deprecated exporter: use the new one
        logger.info("TorchScript export failed (%s: %s); using dynamo", type(exc).__name__, exc)
        _export_dynamo(model, sample, file)
        return False
    _fuse_transformer_operators(file, model.config)
    return True


def _export_torchscript(model: Any, sample: dict[str, Any], file: Path) -> None:
    model.set_attn_implementation("eager")  # the pattern ONNX Runtime's fusions look for
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    _torch_onnx_export(model, sample, file, dynamic_axes=axes, dynamo=False)


def _torch_onnx_export(model: Any, sample: dict[str, Any], file: Path, **options: Any) -> None:
    """``torch.onnx.export`` of the logits of ``model`` on ``sample``, with the format's input
    and output names, and the exporter's own ``options``."""
    import torch

    try:
        torch.onnx.export(
            _logits_only(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(file),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            **options,
        )
    finally:
        model.eval()  # an exporter may leave the module in training mode


def _config_size(config: Any, *names: str) -> int:
    """The first of ``names`` the model config sets (BERT's names, then DistilBERT's), or 0."""
    return next((int(value) for name in names if (value := getattr(config, name, None))), 0)


def _fuse_transformer_operators(file: Path, config: Any) -> None:
    """ONNX Runtime's BERT optimizer over ``file`` (in place): its fused operators are ONNX
    Runtime's own (``com.microsoft`` domain), which every ONNX Runtime build runs. Only the
    fusions (``opt_level=0``): the optimizations that depend on the machine are left to
    the session that loads the file."""
    from onnxruntime.transformers.optimizer import optimize_model

    heads = _config_size(config, "num_attention_heads", "n_heads")
    hidden = _config_size(config, "hidden_size", "dim")
    fused = optimize_model(
        str(file), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
    )
    fused.save_model_to_file(str(file))


def _export_dynamo(model: Any, sample: dict[str, Any], file: Path) -> None:
    import torch

    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    axes = {name: {0: batch, 1: sequence} for name in INPUT_NAMES}
    try:
        _torch_onnx_export(
            model,
            sample,
            file,
            dynamic_shapes=axes,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    except Exception as exc:  # torch.export / onnxscript raise many kinds of errors
        kind = getattr(model.config, "model_type", type(model).__name__)
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc).strip() or repr(exc)).splitlines()[0]
        raise ModelLoadError(
            f"torch.onnx could not export this {kind} model ({type(exc).__name__}: {first}); "
            "BERT, RoBERTa, DistilBERT and ELECTRA models export. Predict with torch instead."
        ) from exc


def _onnx_logits(file: Path, sample: dict[str, Any]) -> np.ndarray:
    ort = require_onnx_module("onnxruntime", "ONNX export")
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    feed = {name: sample[name].numpy() for name in INPUT_NAMES}
    (logits,) = session.run([OUTPUT_NAME], feed)
    return np.asarray(logits, dtype=np.float32)


def _torch_logits(model: Any, sample: dict[str, Any]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(**{name: sample[name] for name in INPUT_NAMES}).logits
    return np.asarray(logits.float().numpy(), dtype=np.float32)


def _compare_with_torch(model: Any, file: Path, sample: dict[str, Any]) -> dict[str, Any]:
    """The fp32 graph must give torch's logits on the real (unpadded) tokens."""
    mask = sample["attention_mask"].numpy().astype(bool)
    gap = np.abs(_onnx_logits(file, sample) - _torch_logits(model, sample))
    difference = float(gap[mask].max())
    if not difference <= _MAX_DIFF:
        raise ModelLoadError(
            f"the exported graph's logits differ from torch's by {difference:.2e} (more than "
            f"{_MAX_DIFF:g}) on a sample batch; this export would predict differently. Please "
            "report it with the model type."
        )
    return {"fp32_max_abs_logit_diff": difference}


def _argmax_agreement(model: Any, file: Path, sample: dict[str, Any]) -> float:
    mask = sample["attention_mask"].numpy().astype(bool)
    same = _onnx_logits(file, sample).argmax(-1) == _torch_logits(model, sample).argmax(-1)
    return float(same[mask].mean())


def prepare_for_quantization(plain: Path, model_config: Any) -> tuple[Path, list[str]]:
    """ONNX Runtime's recommended first step before quantizing ``plain``: shapes inferred and
    the graph optimized (so that the quantizer sees the fused products), written next to it;
    returns that file and the names of the products to keep fp32
    (:func:`_feed_forward_outputs`)."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = plain.with_name(f"{plain.stem}-prepared.onnx")
    quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
    return prepared, _feed_forward_outputs(onnx.load(str(prepared)), model_config)


def _quantize_int8(plain: Path, target: Path, model_config: Any) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    prepared, kept_fp32 = prepare_for_quantization(plain, model_config)
    quantize_dynamic(
        str(prepared),
        str(target),
        weight_type=QuantType.QInt8,
        # The products of the encoder; the embeddings (Gather) stay fp32: quantizing them
        # saves memory but costs accuracy and no time.
        op_types_to_quantize=["MatMul", "Gemm", "Attention"],
        # One scale per output column: all-MiniLM-L6-v2 fine-tuned on CoNLL-2003 lost 0.46
        # F1 on raw test text with one scale per matrix, 0.34 with one per column.
        per_channel=True,
        nodes_to_exclude=kept_fp32,
        # ONNX's shape inference does not type the outputs of ONNX Runtime's fused operators.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _feed_forward_outputs(graph: Any, model_config: Any) -> list[str]:
    """The products that read the feed-forward layers' GELU outputs (weights of shape
    ``(intermediate, hidden)``): their inputs have the outliers that one int8 scale per
    batch cannot hold, so they stay fp32 (measured on all-MiniLM-L6-v2 fine-tuned on
    CoNLL-2003, raw test text: F1 0.34 below fp32 with them in int8, 0.21 with them in fp32,
    at a third of the products' arithmetic in fp32)."""
    hidden = _config_size(model_config, "hidden_size", "dim")
    inner = _config_size(model_config, "intermediate_size", "hidden_dim")
    if not hidden or not inner:
        return []
    shapes = {item.name: tuple(item.dims) for item in graph.graph.initializer}
    return [
        node.name
        for node in graph.graph.node
        if node.op_type == "MatMul"  # weights (in, out); the export writes no Gemm
        and any(shapes.get(name) == (inner, hidden) for name in node.input)
    ]


def copy_onnx_folder(
    source: Path, target: Path, metadata: dict[str, Any], *, overwrite: bool = False
) -> None:
    """Write a copy of an exported folder with new ``ner_bert.json`` settings (what
    ``NERPredictor.save`` does for an ONNX predictor); staged and swapped in like any save.

    Raises:
        ConfigError: See :func:`~ner_bert.model.files.check_output_dir`.
    """
    check_output_dir(target, overwrite=overwrite)
    if target.resolve() == source.resolve():
        raise ConfigError(f"{target} is the folder this predictor was loaded from.")
    kept = {k: v for k, v in metadata.items() if k not in ("files", "card_sha256")}
    with staged_folder(target) as staging:
        for name in metadata.get("files", {}):
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, staging / name)
        write_card_and_metadata(staging, kept, name=target.resolve().name)


def _write_metadata(
    staging: Path,
    output: Path,
    source_metadata: dict[str, Any],
    quantization: Quantization,
    check: dict[str, Any],
) -> None:
    from .. import __version__

    kept = {k: v for k, v in source_metadata.items() if k not in ("files", "card_sha256")}
    onnx_meta = {
        "file": ONNX_FILE,
        "opset": OPSET,
        "quantization": quantization.value,
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "exported_with": __version__,
        **check,
    }
    meta = {**kept, "runtime": "onnx", "onnx": onnx_meta, "library_version": __version__}
    write_card_and_metadata(staging, meta, name=output.resolve().name)

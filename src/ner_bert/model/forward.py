"""Running a token-classification model over encoded inputs: subword probabilities.

:class:`SubwordScorer` is the part of :class:`~ner_bert.NERPredictor` that touches the model:
it cuts encoded texts or sentences into windows (or, with document context, into the segments
of :mod:`ner_bert.subwords.context`), runs them in batches of rows of one length (no padding)
bounded by a token budget, and puts the softmaxed outputs back together per input. torch is
imported only when the model runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..config import PredictionConfig
from ..errors import ConfigError
from ..subwords.context import check_context
from ..subwords.encoding import Encoded, TextEncoder
from ..subwords.inputs import make_windows, sentence_probabilities
from .device import autocast

__all__ = ["Runner", "SubwordScorer", "TorchRunner", "context_settings", "quantize"]


def context_settings(
    metadata: dict[str, Any], config: PredictionConfig, encoder: TextEncoder
) -> tuple[int, int]:
    """Context subwords per side and content subwords per input for document prediction.

    ``config.context_size`` wins over the saved ``context_size``; inputs are filled the way
    training filled them (the saved ``max_length``) unless ``config.max_length`` is set.

    Raises:
        ConfigError: A bad saved value, or a window too small for the context.
    """
    saved = metadata.get("context_size", 0)
    size = config.context_size if config.context_size is not None else saved
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ConfigError(
            f"ner_bert.json has context_size={size!r}; expected an integer >= 0. Pass "
            "PredictionConfig(context_size=...) to override it."
        )
    window = encoder.window
    trained = metadata.get("max_length")
    if size and config.max_length is None and isinstance(trained, int):
        window = min(window, trained - (encoder.max_length - encoder.window))
    check_context(size, window)
    return size, window


class Runner(Protocol):
    """Softmaxed outputs ``(batch, width, n_labels)`` of a padded batch of token rows, given
    its ``input_ids`` and ``attention_mask`` (int64 arrays of shape ``(batch, width)``)."""

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """A :class:`Runner` on a torch token-classification model (in eval mode, on ``device``),
    with bf16/fp16 autocast when ``dtype`` is set."""

    def __init__(self, model: Any, *, device: Any, dtype: Any) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype

    @classmethod
    def for_prediction(cls, model: Any, *, device: Any, dtype: Any) -> TorchRunner:
        """A runner on a copy of ``model`` whose ``Linear`` weights are stored in ``dtype``
        (bf16/fp16): autocast casts them to ``dtype`` at every forward pass anyway, so the
        products are the same, without a pass over all the weights per batch. ``model``
        itself is left as it is (it is what gets saved)."""
        import copy

        import torch

        if dtype is None:
            return cls(model, device=device, dtype=dtype)
        runtime = copy.deepcopy(model)
        for module in runtime.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(dtype)
        return cls(runtime, device=device, dtype=dtype)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            ids_t = torch.from_numpy(input_ids).to(self.device)
            mask_t = torch.from_numpy(attention_mask).to(self.device)
            with autocast(self.device, self.dtype):
                logits = self.model(input_ids=ids_t, attention_mask=mask_t).logits
            probs = torch.softmax(logits.float(), dim=-1)
            result: np.ndarray = probs.cpu().numpy()
        return result


class SubwordScorer:
    """Softmaxed subword predictions ``(n_tokens, n_labels)`` of encoded inputs.

    Args:
        runner: Runs the model on one padded batch (:class:`TorchRunner`, or ONNX Runtime's
            :class:`~ner_bert.model.onnx_runtime.OnnxRunner`).
        encoder: The :class:`~ner_bert.subwords.encoding.TextEncoder` that encoded the inputs.
        n_labels: Number of model outputs.
        max_batch_tokens: Upper bound on padded tokens per forward pass.
        context_size: Subwords of document context per side when documents are given.
        context_window: Content subwords per input when documents are given.
        stride: Step of the windows over a long input (default ``encoder.stride``).
        pad_multiple: Pad each batch to a multiple of this many tokens.
    """

    def __init__(
        self,
        runner: Runner,
        encoder: TextEncoder,
        *,
        n_labels: int,
        max_batch_tokens: int,
        context_size: int,
        context_window: int,
        stride: int | None = None,
        pad_multiple: int = 1,
    ) -> None:
        self.runner = runner
        self.encoder = encoder
        self.n_labels = n_labels
        self.max_batch_tokens = max_batch_tokens
        self.context_size = context_size
        self.context_window = context_window
        self.stride = encoder.stride if stride is None else stride
        self.pad_multiple = pad_multiple

    def probabilities(
        self,
        encoded: Sequence[Encoded],
        batch_size: int,
        *,
        documents: Sequence[int] | None = None,
    ) -> list[np.ndarray]:
        """One ``(len(input), n_labels)`` array per encoded input.

        Without ``documents`` (or with ``context_size = 0``) each input is read on its own,
        a long one in overlapping windows; with them, sentences are read with the context of
        their document (consecutive equal ids, see :mod:`ner_bert.subwords.context`).
        """
        with_context = documents is not None and self.context_size > 0
        windows = make_windows(
            encoded,
            self.encoder,
            stride=self.stride,
            documents=documents,
            context_size=self.context_size if with_context else 0,
            window=self.context_window if with_context else None,
        )
        rows = [np.array(w.input_ids, dtype=np.int64) for w in windows]
        outputs = self.rows(rows, batch_size)
        merged = sentence_probabilities(windows, outputs, [len(e) for e in encoded])
        empty = np.zeros((0, self.n_labels), dtype=np.float32)
        return [empty if p is None else p for p in merged]

    def rows(self, rows: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """Probabilities of token rows (special tokens included), ``(len(row), n_labels)``
        each, in input order; rows run longest first, in batches of rows of one padded width
        (``pad_multiple``), at most ``batch_size`` rows and ``max_batch_tokens`` tokens per
        forward pass."""
        # Only rows of one padded width share a batch, so that no arithmetic is spent on
        # padding: with batches of the longest-first order cut every `batch_size` rows, 14.7%
        # of the tokens run on CoNLL-2003 test were padding (the profile in
        # benchmarks/predict_throughput.py); more, smaller batches cost less than that.
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        out: list[np.ndarray] = [np.zeros((0, self.n_labels), dtype=np.float32)] * len(rows)
        position = 0
        while position < len(order):
            width = self._width(len(rows[order[position]]))
            count = max(1, min(batch_size, self.max_batch_tokens // max(width, 1)))
            end = position + 1
            while end < min(len(order), position + count) and (
                self._width(len(rows[order[end]])) == width
            ):
                end += 1
            batch = order[position:end]
            position = end
            probs = self._forward([rows[i] for i in batch])
            for i, row in zip(batch, probs, strict=True):
                out[i] = row[: len(rows[i])]
        return out

    def _width(self, length: int) -> int:
        """The padded width of a batch whose longest row has ``length`` tokens."""
        return -(-length // self.pad_multiple) * self.pad_multiple

    def _forward(self, rows: list[np.ndarray]) -> np.ndarray:
        width = self._width(max(len(r) for r in rows))
        input_ids = np.full((len(rows), width), self.encoder.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return self.runner(input_ids, mask)


def quantize(model: Any, device: Any) -> Any:
    """int8 dynamic quantization of the ``Linear`` layers (CPU only); returns a copy."""
    import torch

    if device.type != "cpu":
        raise ConfigError(f"quantize=True needs device 'cpu', got {device}.")
    return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
        model, {torch.nn.Linear}, dtype=torch.qint8
    )

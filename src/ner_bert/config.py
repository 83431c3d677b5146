"""Validated configuration dataclasses.

Each config checks itself in ``__post_init__`` and names the field, the value it got and what
is allowed. ``to_dict()``/``from_dict()`` round-trip through plain JSON/TOML types;
``from_dict`` rejects unknown keys and lists the valid ones.

No torch and no transformers here: the configs are plain data.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from ._choices import parse_choice
from .errors import ConfigError

__all__ = [
    "MixedPrecision",
    "PredictionConfig",
    "TrainingConfig",
]


class MixedPrecision(str, Enum):
    """Mixed-precision mode of training and evaluation.

    ``auto`` picks ``bf16`` on CPUs with AMX and on GPUs that support bfloat16, ``fp16`` on
    older GPUs, and ``no`` elsewhere.
    """

    AUTO = "auto"
    NO = "no"
    BF16 = "bf16"
    FP16 = "fp16"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require_int(name: str, value: Any, minimum: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_int(value) or value < minimum:
        none = " or None" if optional else ""
        raise ConfigError(f"{name} must be an integer >= {minimum}{none}, got {value!r}.")


def _check_window(max_length: int | None, stride: int | None) -> None:
    # 3 tokens at least: [CLS], one subword, [SEP].
    _require_int("max_length", max_length, 3, optional=True)
    _require_int("stride", stride, 1, optional=True)
    # Room for subwords in a window: max_length minus up to 2 special tokens.
    if max_length is not None and stride is not None and stride > max_length - 2:
        raise ConfigError(
            f"stride must be <= max_length - 2 = {max_length - 2} (the subwords "
            f"in a window), got {stride}."
        )


_DEVICE_KINDS = ("auto", "cpu", "cuda", "mps", "xpu")


def _device_name(value: Any, *, indexed: bool) -> str:
    """A device name, lower-cased, after checking its form (whether it exists is checked when
    the model is placed, by :func:`ner_bert.model.device.resolve_device`).

    ``indexed`` allows ``cuda:<n>``; training leaves the choice of GPU to the launcher.
    """
    device = str(value).lower()
    kind, _, index = device.partition(":")
    if kind not in _DEVICE_KINDS or (index and not (indexed and index.isdigit())):
        if indexed:
            raise ConfigError(
                f"device must be None, 'auto', 'cpu', 'cuda', 'cuda:<n>', 'mps' or 'xpu', "
                f"got {value!r}."
            )
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda', 'mps' or 'xpu', got {value!r} "
            "(pick a GPU with CUDA_VISIBLE_DEVICES)."
        )
    return device


@dataclass(frozen=True)
class TrainingConfig:
    """Options of :class:`ner_bert.NERTrainer`.

    Each field the ``transformers.Trainer`` knows sets one ``TrainingArguments`` field (the
    table in the docs' training page); pass ``NERTrainer(..., training_args=...)`` for the
    rest.

    Attributes:
        learning_rate: Peak AdamW learning rate (after warmup), ``> 0``.
        epochs: Maximum number of passes over the training data, ``>= 1``.
        batch_size: Sentences (windows) per batch on each process, ``>= 1``.
        gradient_accumulation_steps: Batches whose gradients are summed before one optimizer
            step, ``>= 1`` (effective batch = ``batch_size * steps * processes``).
        weight_decay: AdamW weight decay, ``>= 0``; never applied to biases and LayerNorm.
        warmup_ratio: Fraction of the optimizer steps with a linear warmup, in ``[0, 1)``;
            the learning rate then decays linearly to 0.
        max_grad_norm: Gradient clipping norm, ``> 0``, or ``None`` for no clipping.
        max_length: Window length in tokens, special tokens included; ``None`` uses the
            tokenizer's ``model_max_length`` capped at 512. Longer sentences are split into
            overlapping windows and every word is trained on, never truncated.
        stride: Distance in tokens between the starts of consecutive windows of a long
            sentence; ``None`` means three quarters of the window (overlap of one quarter).
        label_all_subwords: Train on every subword (default: ``B-X`` on a word's first
            subword, ``I-X`` on the rest), so raw text, whose words need not be the corpus's,
            is tagged as well as words; ``False`` trains the first subword of each word only
            (as ``run_ner.py``). See the concepts page, "Raw text".
        mixed_precision: ``"auto"``, ``"no"``, ``"bf16"`` or ``"fp16"`` (fp16 needs a GPU).
        device: ``"auto"`` (GPU if there is one), ``"cpu"``, ``"cuda"``, ``"mps"`` or
            ``"xpu"``. Under ``accelerate launch``/``torchrun`` each process uses its own.
        seed: Seed of every random choice (initialization of the head, dropout, data order).
        early_stopping_patience: Stop after this many evaluations without a better dev F1
            (``None``: never stop early). The weights of the best evaluation are kept.
        eval_delay: Epochs to train before the first evaluation on the eval data
            (``TrainingArguments.eval_delay`` is this plus one: the epoch from which
            evaluation runs): the best epoch is chosen among the later ones. Saves a dev pass
            per skipped epoch; must be less than ``epochs``.
        checkpoint_dir: Where the Trainer writes its ``checkpoint-<step>`` folders, at each
            evaluation or epoch end (``None``: no checkpoints to resume from). Resume with
            ``trainer.train(..., resume_from=...)``.
        output_dir: Where to save the final model at the end of ``train`` (``None``: only when
            you call ``trainer.save``). Checked before training starts.
        overwrite_output_dir: Replace a ner_bert model already in ``output_dir`` (off: that
            is an error before training starts). A folder that is not a ner_bert model is
            never replaced.
        keep_checkpoints: How many checkpoints to keep (the newest, and the best one),
            ``>= 1``.
        progress_bar: Show the Trainer's progress bar with the latest loss and dev F1.
        group_by_length: Put sentences of similar length in the same batch (less padding).
        num_threads: torch CPU threads (``None``: leave torch's default).
        eval_batch_size: Batch size of evaluation; ``None`` uses twice ``batch_size``.
        context_size: Subwords of document context on each side of the sentences (``0``:
            every sentence alone). Consecutive sentences of a document (``-DOCSTART-`` in
            CoNLL files, ``TaggedSentence.document``) are packed into inputs of up to
            ``max_length`` tokens (default with context: ``4 * context_size`` plus special
            tokens), the middle holding whole sentences that are trained on and predicted, the
            ``context_size`` subwords on each side only read. Saved with the model and used by
            :class:`~ner_bert.NERPredictor`. 64 is a good value for CoNLL-style news.
        context_dropout: Probability, per input and epoch, of training it without its
            context, so the model also works on sentences given alone.

    Example:
        >>> config = TrainingConfig(learning_rate=1e-4, epochs=2)
        >>> config.batch_size, config.mixed_precision
        (32, <MixedPrecision.AUTO: 'auto'>)
        >>> TrainingConfig.from_dict(config.to_dict()) == config
        True
        >>> TrainingConfig(epochs=0)
        Traceback (most recent call last):
        ...
        ner_bert.errors.ConfigError: epochs must be an integer >= 1, got 0.
    """

    learning_rate: float = 5e-5
    epochs: int = 3
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float | None = 1.0
    max_length: int | None = None
    stride: int | None = None
    label_all_subwords: bool = True
    mixed_precision: MixedPrecision = MixedPrecision.AUTO
    device: str = "auto"
    seed: int = 42
    early_stopping_patience: int | None = None
    eval_delay: int = 0
    checkpoint_dir: str | None = None
    output_dir: str | None = None
    overwrite_output_dir: bool = False
    keep_checkpoints: int = 1
    progress_bar: bool = True
    group_by_length: bool = True
    num_threads: int | None = None
    eval_batch_size: int | None = None
    context_size: int = 0
    context_dropout: float = 0.0

    def __post_init__(self) -> None:
        if not _is_number(self.learning_rate) or self.learning_rate <= 0:
            raise ConfigError(
                f"learning_rate must be a number > 0 (typically 1e-5 to 1e-4), "
                f"got {self.learning_rate!r}."
            )
        _require_int("epochs", self.epochs, 1)
        _require_int("batch_size", self.batch_size, 1)
        _require_int("gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}.")
        if not _is_number(self.warmup_ratio) or not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}.")
        if self.max_grad_norm is not None and (
            not _is_number(self.max_grad_norm) or self.max_grad_norm <= 0
        ):
            raise ConfigError(
                f"max_grad_norm must be a number > 0 or None (no clipping), "
                f"got {self.max_grad_norm!r}."
            )
        _check_window(self.max_length, self.stride)
        if not isinstance(self.label_all_subwords, bool):
            raise ConfigError(
                f"label_all_subwords must be true or false, got {self.label_all_subwords!r}."
            )
        object.__setattr__(
            self,
            "mixed_precision",
            parse_choice(MixedPrecision, "mixed_precision", self.mixed_precision),
        )
        object.__setattr__(self, "device", _device_name(self.device, indexed=False))
        _require_int("seed", self.seed, 0)
        _require_int("early_stopping_patience", self.early_stopping_patience, 1, optional=True)
        _require_int("eval_delay", self.eval_delay, 0)
        if self.eval_delay >= self.epochs:
            raise ConfigError(
                f"eval_delay must be less than epochs ({self.epochs}), got {self.eval_delay}; "
                "the last epoch at least must be evaluated."
            )
        for name in ("checkpoint_dir", "output_dir"):
            value = getattr(self, name)
            if value is not None:
                if not str(value):
                    raise ConfigError(f"{name} must be a directory path or None, got ''.")
                object.__setattr__(self, name, str(value))
        _require_int("keep_checkpoints", self.keep_checkpoints, 1)
        for name in ("progress_bar", "group_by_length", "overwrite_output_dir"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        _require_int("num_threads", self.num_threads, 1, optional=True)
        _require_int("eval_batch_size", self.eval_batch_size, 1, optional=True)
        _require_int("context_size", self.context_size, 0)
        if not _is_number(self.context_dropout) or not 0.0 <= self.context_dropout < 1.0:
            raise ConfigError(f"context_dropout must be in [0, 1), got {self.context_dropout!r}.")

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain JSON/TOML-compatible values (enums as strings)."""
        out = asdict(self)
        out["mixed_precision"] = self.mixed_precision.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Build a config from a dict, e.g. a TOML table; unknown keys are an error.

        Raises:
            ConfigError: A key that is not a field (the message suggests the closest ones and
                lists all of them), or an invalid value.
        """
        return cls(**_checked_keys(cls, data))


def _checked_keys(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} needs a dict of options, got {type(data).__name__}.")
    valid = [f.name for f in fields(cls)]
    unknown = [key for key in data if key not in valid]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{cls.__name__}: unknown option {key!r}.{hint} Valid options: {', '.join(valid)}."
        )
    return dict(data)


_AGGREGATIONS = ("first", "average", "max")
_DECODINGS = ("viterbi", "greedy")
_SEGMENTATIONS = ("treebank", "tokenizer")


@dataclass(frozen=True)
class PredictionConfig:
    """Options of :class:`ner_bert.NERPredictor`.

    Attributes:
        batch_size: Windows (sentences, or pieces of long documents) per forward pass, ``>= 1``.
            Inputs are sorted by length and padded per batch.
        max_batch_tokens: Upper bound on padded tokens per forward pass (bounds memory on long
            documents), ``>= 1``; a batch always holds at least one window.
        aggregation: How a word's subword predictions become one: ``"first"`` (default, matches
            training), ``"average"`` or ``"max"``.
        decoding: ``"viterbi"`` (default: the most probable valid IOB2 sequence) or
            ``"greedy"`` (per-word argmax, a stray ``I-X`` opens a mention).
        precision: ``"auto"`` (bf16 autocast on CPUs with AMX and on GPUs with bfloat16,
            fp32 elsewhere), ``"fp32"`` (also ``"no"``), ``"bf16"`` or ``"fp16"`` (GPU only).
        device: ``None``/``"auto"`` (GPU if there is one), ``"cpu"``, ``"cuda"``,
            ``"cuda:<n>"``, ``"mps"`` or ``"xpu"``.
        num_threads: torch CPU threads (process-wide, set when the predictor is built);
            ``None`` leaves torch's default.
        max_length: Window length in tokens, special tokens included; ``None`` uses the model's
            limit (the tokenizer's ``model_max_length`` and the position embeddings).
        stride: Distance in tokens between the starts of consecutive windows of a long input;
            ``None`` means three quarters of the window (overlap of one quarter). Each subword
            takes its prediction from the window where it is farthest from an edge.
        progress_bar: Show a tqdm progress bar in :meth:`~ner_bert.NERPredictor.predict_stream`
            (and ``predict``).
        quantize: Apply int8 dynamic quantization to the ``Linear`` layers (CPU only).
        context_size: Subwords of document context per side for
            :meth:`~ner_bert.NERPredictor.predict_documents` and ``predict_words(...,
            documents=...)``; ``None`` uses the value the model was trained with (saved in
            ``ner_bert.json``), ``0`` predicts every sentence alone.
        segmentation: How raw text is cut into the words the model tags: ``"treebank"``
            (default: the words of NER training data, where ``U.K.``, ``U.S.-based`` and
            ``1-0`` are one word and ``(``, ``,`` and ``'s`` are split off) or
            ``"tokenizer"`` (the tokenizer's pre-tokenizer words, split at every punctuation
            mark, as ``transformers.pipeline`` does). See the concepts page.

    Example:
        >>> PredictionConfig(batch_size=32).precision
        <MixedPrecision.AUTO: 'auto'>
        >>> PredictionConfig(precision="fp32").precision
        <MixedPrecision.NO: 'no'>
        >>> PredictionConfig(aggregation="mean")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ner_bert.errors.ConfigError: aggregation must be one of 'first', ... got 'mean'.
    """

    batch_size: int = 64
    max_batch_tokens: int = 16384
    aggregation: str = "first"
    decoding: str = "viterbi"
    precision: MixedPrecision = MixedPrecision.AUTO
    device: str | None = None
    num_threads: int | None = None
    max_length: int | None = None
    stride: int | None = None
    progress_bar: bool = False
    quantize: bool = False
    context_size: int | None = None
    segmentation: str = "treebank"

    def __post_init__(self) -> None:
        _require_int("batch_size", self.batch_size, 1)
        _require_int("max_batch_tokens", self.max_batch_tokens, 1)
        for name, choices in (
            ("aggregation", _AGGREGATIONS),
            ("decoding", _DECODINGS),
            ("segmentation", _SEGMENTATIONS),
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or value.lower() not in choices:
                shown = ", ".join(repr(c) for c in choices)
                raise ConfigError(f"{name} must be one of {shown}, got {value!r}.")
            object.__setattr__(self, name, value.lower())
        precision = self.precision
        if isinstance(precision, str) and precision.lower() == "fp32":
            precision = MixedPrecision.NO
        object.__setattr__(self, "precision", parse_choice(MixedPrecision, "precision", precision))
        if self.device is not None:
            object.__setattr__(self, "device", _device_name(self.device, indexed=True))
        _require_int("num_threads", self.num_threads, 1, optional=True)
        _check_window(self.max_length, self.stride)
        for name in ("progress_bar", "quantize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        _require_int("context_size", self.context_size, 0, optional=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain JSON/TOML-compatible values (enums as strings)."""
        out = asdict(self)
        out["precision"] = self.precision.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionConfig:
        """Build a config from a dict; unknown keys are an error that lists the valid ones."""
        return cls(**_checked_keys(cls, data))

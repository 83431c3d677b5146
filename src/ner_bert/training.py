"""NERTrainer: fine-tune a Hugging Face encoder for NER, evaluate it, save it.

The loop runs on Hugging Face Accelerate, so the same code trains on one CPU or GPU and, under
``accelerate launch`` / ``torchrun``, data-parallel on several processes. Mixed precision is
``torch.autocast`` chosen by :class:`~ner_bert.config.TrainingConfig` (bf16 on CPUs with AMX and
on recent GPUs, fp16 with loss scaling on older GPUs).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import checkpoint as ckpt
from .aggregation import decode_tags, word_probabilities
from .config import TrainingConfig
from .context import check_context
from .encoding import TextEncoder
from .errors import ConfigError, DataFormatError, LabelError, ModelLoadError
from .evaluation import EvaluationReport, evaluate_tags
from .inference import SubwordScorer
from .labels import LabelSet
from .model_loading import save_model
from .serialization import check_checkpoint_dir, check_output_dir
from .training_data import as_sentences, warn_unseen
from .training_setup import autocast_dtype, on_accelerator, pick_device
from .types import TaggedSentence

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["EpochMetrics", "NERTrainer", "TrainingResult"]

logger = logging.getLogger(__name__)

_DEFAULT_OVERLAP = 0.25


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics of one epoch (plain floats)."""

    epoch: int
    train_loss: float
    learning_rate: float
    seconds: float
    eval_f1: float | None = None
    eval_strict_f1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    """What :meth:`NERTrainer.train` returns.

    Attributes:
        history: One :class:`EpochMetrics` per epoch run (resumed epochs included).
        best_epoch: The epoch with the best dev F1 (its weights are the trainer's), or
            ``None`` without eval data.
        best_eval: The dev :class:`~ner_bert.evaluation.EvaluationReport` of ``best_epoch``.
        global_steps: Optimizer steps taken.
        seconds: Wall time of this call.
        stopped_early: Early stopping ended the run before ``epochs``.
    """

    history: tuple[EpochMetrics, ...]
    best_epoch: int | None
    best_eval: EvaluationReport | None
    global_steps: int
    seconds: float
    stopped_early: bool = False
    labels: tuple[str, ...] = field(default=())

    @property
    def best_f1(self) -> float | None:
        """Dev F1 (conlleval mode) of the best epoch."""
        return None if self.best_eval is None else self.best_eval.f1

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [m.to_dict() for m in self.history],
            "best_epoch": self.best_epoch,
            "best_eval": None if self.best_eval is None else self.best_eval.to_dict(),
            "global_steps": self.global_steps,
            "seconds": self.seconds,
            "stopped_early": self.stopped_early,
            "labels": list(self.labels),
        }


class NERTrainer:
    """Fine-tune a Hugging Face encoder (BERT, RoBERTa, DeBERTa, ...) for NER.

    Args:
        model: A hub name (``"bert-base-cased"``) or a local model directory.
        labels: The IOB2 labels; inferred from the training data when ``None``.
        config: Training options (defaults: :class:`~ner_bert.config.TrainingConfig`).

    Raises:
        ModelLoadError: No tokenizer, a slow-only tokenizer, or a checkpoint that is not a
            bidirectional encoder (GPT-2, T5, ...): all before any training.
        ConfigError: ``config`` is not a :class:`TrainingConfig`.

    Example:
        >>> from ner_bert import NERTrainer, TrainingConfig, read_conll
        >>> trainer = NERTrainer("bert-base-cased", config=TrainingConfig(epochs=3))
        ... # doctest: +SKIP
        >>> result = trainer.train(read_conll("train.txt"), eval=read_conll("dev.txt"))
        ... # doctest: +SKIP
        >>> print(trainer.evaluate(read_conll("test.txt")))  # doctest: +SKIP
        >>> trainer.save("my-ner-model")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path = "bert-base-cased",
        *,
        labels: Sequence[str] | LabelSet | None = None,
        config: TrainingConfig | None = None,
    ) -> None:
        if config is None:
            config = TrainingConfig()
        if not isinstance(config, TrainingConfig):
            raise ConfigError(
                f"config must be a TrainingConfig, got {type(config).__name__}; build one "
                "with TrainingConfig(...) or TrainingConfig.from_dict(...)."
            )
        self.config = config
        self.model_name = str(model)
        self._labels: LabelSet | None = None
        if labels is not None:
            self._labels = labels if isinstance(labels, LabelSet) else LabelSet(tuple(labels))
        from . import training_setup as setup

        self._model_config = setup.load_model_config(self.model_name)
        self.tokenizer = setup.load_tokenizer(self.model_name)
        self.max_length = setup.window_length(config.max_length, self.tokenizer, self._model_config)
        if config.context_size and config.max_length is None:
            # With context, inputs are filled up to max_length: by default 2 x context_size
            # subwords of sentences plus context_size on each side, not the model's 512.
            n_special = self.tokenizer.num_special_tokens_to_add()
            self.max_length = min(self.max_length, 4 * config.context_size + n_special)
        self._encoder = TextEncoder(
            self.tokenizer, max_length=self.max_length, overlap=_DEFAULT_OVERLAP
        )
        check_context(config.context_size, self._encoder.window)
        self.stride = min(config.stride or self._encoder.stride, self._encoder.window)
        self.model: Any = None
        self.result: TrainingResult | None = None

    # -- public API ----------------------------------------------------------------------

    @property
    def labels(self) -> LabelSet | None:
        """The model's labels (``None`` until given or inferred by :meth:`train`)."""
        return self._labels

    def train(
        self,
        train: Any,
        *,
        eval: Any = None,
        resume_from: str | Path | None = None,
    ) -> TrainingResult:
        """Fine-tune on ``train``, evaluating on ``eval`` after each epoch.

        Args:
            train: Training sentences: a list of :class:`~ner_bert.types.TaggedSentence` (from
                :func:`~ner_bert.read_conll`, :func:`~ner_bert.read_jsonl`, ...) or a
                ``datasets.Dataset`` with ``tokens``/``ner_tags`` columns.
            eval: Dev sentences, same forms. Enables best-epoch selection and early stopping.
                Labels that occur here but not in ``train`` are logged as a warning and scored
                as errors (the model can never predict them).
            resume_from: A checkpoint directory (or ``config.checkpoint_dir``) of an earlier
                run with the same data and config; training continues after its epoch and
                ends with the same metrics as an uninterrupted run.

        Returns:
            The per-epoch history and the best dev scores.

        Raises:
            DataFormatError: Empty or malformed training data.
            LabelError: ``labels`` was given and the data has tags outside it.
            ConfigError: An output or checkpoint directory that is not ner_bert's, or a
                device that is not available.
        """
        from . import training_loop

        config = self.config
        if config.output_dir is not None:
            check_output_dir(Path(config.output_dir))
        if config.checkpoint_dir is not None:
            check_checkpoint_dir(Path(config.checkpoint_dir))
        train_sentences = as_sentences(train, "train")
        eval_sentences = None if eval is None else as_sentences(eval, "eval")
        labels = self._resolve_labels(train_sentences, eval_sentences)
        checkpoint = None
        if resume_from is not None:
            checkpoint = ckpt.read_checkpoint(ckpt.find_checkpoint(resume_from))
            saved = tuple(checkpoint.state.get("labels", ()))
            if saved != labels.labels:
                raise LabelError(
                    f"{checkpoint.path}: the checkpoint was trained with labels {list(saved)}, "
                    f"but this data gives {list(labels.labels)}; resume with the same data."
                )
        result = training_loop.run(self, train_sentences, eval_sentences, labels, checkpoint)
        self.result = result
        if config.output_dir is not None:
            self.save(config.output_dir)
        return result

    def evaluate(self, data: Any, *, batch_size: int | None = None) -> EvaluationReport:
        """Predict ``data`` with the current model and score it against its tags.

        Entity-level precision/recall/F1 per type, micro and macro, in the conlleval and the
        strict IOB2 modes (see :func:`~ner_bert.evaluation.evaluate_tags`).
        """
        sentences = as_sentences(data, "eval")
        if self.model is None:
            self._load_for_inference()
        assert self._labels is not None
        warn_unseen(sentences, self._labels, "evaluation data")
        return self._score(sentences, batch_size=batch_size)

    def _score(
        self, sentences: Sequence[TaggedSentence], *, batch_size: int | None = None
    ) -> EvaluationReport:
        predicted = self.predict_tags(
            [s.words for s in sentences],
            documents=[s.document for s in sentences],
            batch_size=batch_size,
        )
        return evaluate_tags([s.tags for s in sentences], predicted)

    def predict_tags(
        self,
        sentences: Sequence[Sequence[str]],
        *,
        documents: Sequence[int] | None = None,
        batch_size: int | None = None,
    ) -> list[list[str]]:
        """IOB2 tags of pre-tokenized sentences (first-subword probabilities, Viterbi).

        Args:
            sentences: Sentences as word sequences.
            documents: Document id of each sentence; with ``config.context_size > 0``,
                consecutive sentences with the same id are each other's context. ``None``:
                every sentence is its own document.
            batch_size: Overrides ``config.eval_batch_size``.
        """
        if self.model is None:
            self._load_for_inference()
        assert self._labels is not None
        if documents is not None and len(documents) != len(sentences):
            raise DataFormatError(
                f"documents has {len(documents)} ids for {len(sentences)} sentences; give "
                "one document id per sentence."
            )
        model = self.model
        device = next(model.parameters()).device
        size = batch_size or self.config.eval_batch_size or 2 * self.config.batch_size
        scorer = SubwordScorer(
            model,
            self._encoder,
            device=device,
            dtype=autocast_dtype(self.config.mixed_precision, device),
            n_labels=len(self._labels),
            max_batch_tokens=size * self.max_length,  # batches of `size` inputs
            context_size=self.config.context_size,
            context_window=self._encoder.window,
            stride=self.stride,
            pad_multiple=8,  # as in training batches
        )
        encoded = self._encoder.encode_words(sentences)
        was_training = model.training
        model.eval()
        probs = scorer.probabilities(encoded, size, documents=documents)
        model.train(was_training)
        out: list[list[str]] = []
        for item, token_probs in zip(encoded, probs, strict=True):
            word_probs = word_probabilities(token_probs, item.word_ids, item.n_words, "first")
            tags, _ = decode_tags(word_probs, self._labels)
            out.append(tags)
        return out

    def save(self, path: str | Path) -> None:
        """Save a directory that :class:`~ner_bert.NERPredictor` and plain
        ``transformers.pipeline("token-classification", model=path)`` both load.

        It holds ``model.safetensors``, the tokenizer, ``config.json`` with the real
        ``id2label``/``label2id`` and ``ner_bert.json`` (library version, tag scheme, max
        length, training config, final metrics).

        Raises:
            ConfigError: ``path`` exists and is not a ner_bert model directory.
            ModelLoadError: There is no model yet (call :meth:`train` first).
        """
        from accelerate import PartialState

        # Only the main process writes. The others return before looking at the directory:
        # the main process may already have created it, without its ner_bert.json yet.
        if not PartialState().is_main_process:
            return
        directory = Path(path)
        check_output_dir(directory)
        if self.model is None or self._labels is None:
            raise ModelLoadError("there is no trained model to save; call trainer.train first.")
        metrics = {} if self.result is None else _metrics(self.result)
        metadata = {
            "max_length": self.max_length,
            "stride": self.stride,
            "label_all_subwords": self.config.label_all_subwords,
            "aggregation": "first",
            "context_size": self.config.context_size,
            "base_model": self.model_name,
            "training_config": self.config.to_dict(),
            "metrics": metrics,
        }
        model = copy.deepcopy(self.model).to("cpu") if on_accelerator(self.model) else self.model
        save_model(directory, model, self.tokenizer, self._labels, metadata)

    # -- internals -----------------------------------------------------------------------

    def _resolve_labels(
        self, train: list[TaggedSentence], eval: list[TaggedSentence] | None
    ) -> LabelSet:
        seen = LabelSet.from_tags(tag for s in train for tag in s.tags)
        if self._labels is None:
            labels = seen
        else:
            labels = self._labels
            missing = sorted(set(seen.entity_types) - set(labels.entity_types))
            if missing:
                raise LabelError(
                    f"the training data has entity types {missing} that are not in labels="
                    f"{list(labels.labels)}; add them or leave labels=None to infer them."
                )
        if not labels.entity_types:
            raise LabelError(
                "the training data has no entity at all (every tag is 'O'); there is nothing "
                "to learn. Check the tag column of the data."
            )
        if eval is not None:
            warn_unseen(eval, labels, "eval data")
        self._labels = labels
        return labels

    def _load_for_inference(self) -> None:
        from .training_setup import load_model

        if self._labels is None:
            try:
                self._labels = LabelSet.from_id2label(self._model_config.id2label)
            except LabelError as exc:
                raise ModelLoadError(
                    f"{self.model_name}: the model has no usable NER labels ({exc}); train it "
                    "first or pass labels=[...]."
                ) from exc
        self.model = load_model(self.model_name, self._model_config, self._labels)
        device = pick_device(self.config.device)
        self.model.to(device)


# -- helpers ---------------------------------------------------------------------------------


def _metrics(result: TrainingResult) -> dict[str, Any]:
    out: dict[str, Any] = {"best_epoch": result.best_epoch, "global_steps": result.global_steps}
    if result.best_eval is not None:
        out["eval_f1"] = result.best_eval.f1
        out["eval_strict_f1"] = result.best_eval.strict.micro.f1
    if result.history:
        out["final_train_loss"] = result.history[-1].train_loss
    return out

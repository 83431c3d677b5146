"""NERTrainer: fine-tune a Hugging Face encoder for NER on ``transformers.Trainer``.

ner_bert prepares the data (windows, document-context packing, label alignment), scores the
model as NER on words at each evaluation, and saves a folder that both
:class:`~ner_bert.NERPredictor` and ``transformers.pipeline`` load. Everything else (loop,
optimizer and schedule, mixed precision, checkpoints and exact resume, early stopping with the
best model kept, logging and ``report_to``, callbacks, distributed launch) is the Trainer's.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import TrainingConfig
from ..errors import ConfigError, LabelError, ModelLoadError
from ..evaluation import EvaluationReport
from ..labels import LabelSet
from ..model.device import on_accelerator, precision_name, resolve_device, resolve_precision
from ..model.files import check_output_dir, check_run_dirs, save_model
from ..model.loading import (
    load_encoder_config,
    load_model,
    load_tokenizer,
    window_length,
)
from ..subwords.context import check_context
from ..subwords.encoding import TextEncoder
from ..types import TaggedSentence
from .arguments import build_training_arguments, merge_training_args
from .data import (
    WindowDataset,
    as_sentences,
    batch_collator,
    check_context_documents,
    declared_labels,
    resolve_labels,
    split_dataset_dict,
    warn_unseen,
    window_dataset,
)
from .hf_trainer import run_folder, train_refusing_pickles
from .result import TrainingResult
from .resume import RunRecordCallback, checkpoint_to_resume, run_record
from .scoring import predict_tags, score_sentences
from .streaming import StreamedWindows, check_streamed_run, read_run_data

__all__ = ["NERTrainer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Run:
    """What a training run needs, checked before any model is loaded."""

    train: list[TaggedSentence]  # of a streamed train set: its first rows
    eval: list[TaggedSentence] | None
    labels: LabelSet
    device: Any
    dtype: Any
    checkpoint: Path | None
    dataset: WindowDataset | StreamedWindows
    record: dict[str, Any]
    streamed: bool


class NERTrainer:
    """Fine-tune a Hugging Face encoder (BERT, RoBERTa, DeBERTa, ...) for NER.

    Args:
        model: A hub name (``"bert-base-cased"``) or a local model directory.
        labels: The IOB2 labels; inferred from the training data when ``None``.
        config: Training options (defaults: :class:`~ner_bert.config.TrainingConfig`).
        training_args: Anything else ``transformers.TrainingArguments`` offers, as a
            ``TrainingArguments`` or a dict of its fields (``report_to``, ``eval_strategy`` and
            ``eval_steps``, ``lr_scheduler_type``, ``gradient_checkpointing``,
            ``torch_compile``, ...). A field that a ``TrainingConfig`` option also sets must
            agree with it (or the option be left at its default).
        callbacks: ``transformers.TrainerCallback`` objects added to the Trainer.

    Raises:
        ModelLoadError: No tokenizer, a slow-only tokenizer, or a checkpoint that is not a
            bidirectional encoder (GPT-2, T5, ...): all before any training.
        ConfigError: ``config`` is not a :class:`TrainingConfig`; an unknown or conflicting
            ``training_args`` field.

    Example:
        >>> from ner_bert import NERTrainer, TrainingConfig, read_conll
        >>> trainer = NERTrainer("bert-base-cased", config=TrainingConfig(epochs=3),
        ...                      training_args={"report_to": ["tensorboard"]})
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
        training_args: Any = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        if config is None:
            config = TrainingConfig()
        if not isinstance(config, TrainingConfig):
            raise ConfigError(
                f"config must be a TrainingConfig, got {type(config).__name__}; build one "
                "with TrainingConfig(...) or TrainingConfig.from_dict(...)."
            )
        self.config, self._explicit_args = merge_training_args(config, training_args)
        self.callbacks = list(callbacks)
        self.model_name = str(model)
        self._labels: LabelSet | None = None
        if labels is not None:
            self._labels = labels if isinstance(labels, LabelSet) else LabelSet(tuple(labels))
        self._model_config = load_encoder_config(self.model_name)
        self.tokenizer = load_tokenizer(self.model_name)
        self.max_length = window_length(
            self.config.max_length,
            self.tokenizer,
            self._model_config,
            context_size=self.config.context_size,
        )
        self._encoder = TextEncoder(self.tokenizer, max_length=self.max_length)
        check_context(self.config.context_size, self._encoder.window)
        self.stride = min(self.config.stride or self._encoder.stride, self._encoder.window)
        self.model: Any = None
        self.result: TrainingResult | None = None
        self.hf_trainer: Any = None
        """The ``transformers.Trainer`` of the last :meth:`train` call (its state, its log)."""

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
        allow_changed_settings: bool = False,
    ) -> TrainingResult:
        """Fine-tune on ``train``, evaluating on ``eval`` after each epoch (or each
        ``eval_steps`` with ``training_args={"eval_strategy": "steps", ...}``).

        Args:
            train: Training sentences: a list of :class:`~ner_bert.types.TaggedSentence` (from
                :func:`~ner_bert.read_conll`, :func:`~ner_bert.read_jsonl`, ...), a
                ``datasets.Dataset`` with ``tokens``/``ner_tags`` columns (a ``ClassLabel``'s
                IOB2 names keep their order as the model's labels), or a ``DatasetDict``
                (its ``train`` split; its ``validation``/``valid``/``dev`` split is the eval
                data unless ``eval`` is given). A streamed ``datasets.IterableDataset`` is
                read as training goes (it needs ``max_steps`` and labels; see the training
                page, "Streamed datasets").
            eval: Dev sentences, same forms. Enables best-model selection and early stopping.
                Labels that occur here but not in ``train`` are logged as a warning and scored
                as errors (the model can never predict them).
            resume_from: A checkpoint folder (``checkpoint-<step>``), or the
                ``checkpoint_dir`` of an earlier run with the same data and config (its newest
                checkpoint); training continues there and ends with the same metrics as an
                uninterrupted run. The checkpoint is checked first: its optimizer state must
                be there, its model and labels must be this run's, and so must its settings
                and data.
            allow_changed_settings: Resume even though settings (learning rate, batch size,
                seed, epochs, ...) or data differ from the checkpoint's (a warning lists
                them).

        Returns:
            The history and the best dev scores.

        Raises:
            DataFormatError: Empty or malformed training data.
            LabelError: ``labels`` was given and the data has tags outside it, the
                checkpoint was trained with other labels, or a stream declares no labels.
            ConfigError: An output or checkpoint directory that is not ner_bert's, a device
                that is not available, fp16 on a CPU, settings TrainingArguments rejects, or
                ``context_size > 0`` with training data in which every sentence is its own
                document, or a stream without ``max_steps``.
        """
        started = time.perf_counter()
        run = self._prepare(train, eval, resume_from, allow_changed_settings)
        backend = self._fit(run)
        self.hf_trainer = backend
        self.model = backend.model.eval()
        self.result = self._result(backend, run, started)
        if self.config.output_dir is not None:
            self.save(self.config.output_dir, overwrite=self.config.overwrite_output_dir)
        return self.result

    def evaluate(self, data: Any, *, batch_size: int | None = None) -> EvaluationReport:
        """Predict ``data`` with the current model and score it against its tags.

        Entity-level precision/recall/F1 per type, micro and macro, in the conlleval and the
        strict IOB2 modes (see :func:`~ner_bert.evaluation.evaluate_tags`).
        """
        sentences = as_sentences(data, "eval")
        self._ensure_model()
        assert self._labels is not None
        warn_unseen(sentences, self._labels, "evaluation data")
        return score_sentences(self.model, sentences, **self._tagging(batch_size))

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
        self._ensure_model()
        return predict_tags(self.model, sentences, documents=documents, **self._tagging(batch_size))

    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Save a directory that :class:`~ner_bert.NERPredictor` and plain
        ``transformers.pipeline("token-classification", model=path)`` both load.

        It holds ``model.safetensors``, the tokenizer, ``config.json`` with the real
        ``id2label``/``label2id`` and ``ner_bert.json`` (library version, tag scheme, max
        length, training config, final metrics).

        The folder is written beside ``path`` and swapped in at the end: a kill leaves the old
        folder or the new one, never a mix.

        Args:
            path: The model directory.
            overwrite: Replace an existing ner_bert model directory at ``path`` (never a
                folder that is not one).

        Raises:
            ConfigError: ``path`` exists and is not a ner_bert model directory, or is one and
                ``overwrite`` is off.
            ModelLoadError: There is no model yet (call :meth:`train` first).
        """
        from accelerate import PartialState

        # Only the main process writes. The others return before looking at the directory:
        # the main process may already have created it, without its ner_bert.json yet.
        if not PartialState().is_main_process:
            return
        directory = Path(path)
        check_output_dir(directory, overwrite=overwrite)
        if self.model is None or self._labels is None:
            raise ModelLoadError("there is no trained model to save; call trainer.train first.")
        metadata = {
            "max_length": self.max_length,
            "stride": self.stride,
            "label_all_subwords": self.config.label_all_subwords,
            "aggregation": "first",
            "context_size": self.config.context_size,
            "base_model": self.model_name,
            "training_config": self.config.to_dict(),
            "metrics": {} if self.result is None else self.result.metrics(),
            "training_data": {} if self.result is None else self.result.data,
        }
        model = copy.deepcopy(self.model).to("cpu") if on_accelerator(self.model) else self.model
        save_model(directory, model, self.tokenizer, self._labels, metadata, overwrite=overwrite)

    # -- internals -----------------------------------------------------------------------

    def _prepare(
        self, train: Any, eval: Any, resume_from: str | Path | None, allow_changed: bool
    ) -> _Run:
        """Check everything a run needs, before any model is loaded."""
        config = self.config
        check_run_dirs(
            output_dir=config.output_dir,
            checkpoint_dir=config.checkpoint_dir,
            overwrite=config.overwrite_output_dir,
        )
        train, eval = split_dataset_dict(train, eval)
        train_sentences, eval_sentences, streamed = read_run_data(train, eval)
        check_context_documents(train_sentences, config.context_size)
        given = self._labels or declared_labels(train)
        if streamed:
            given = check_streamed_run(self._explicit_args, given)
        labels = resolve_labels(given, train_sentences, eval_sentences)
        self._labels = labels
        device = resolve_device(config.device)
        record = run_record(config, self._explicit_args, labels, train_sentences, eval_sentences)
        checkpoint = None
        if resume_from is not None:
            checkpoint = checkpoint_to_resume(
                resume_from, record, self._model_config, allow_changed_settings=allow_changed
            )
        return _Run(
            train=train_sentences,
            eval=eval_sentences,
            labels=labels,
            device=device,
            dtype=resolve_precision(config.mixed_precision, device),
            checkpoint=checkpoint,
            dataset=(StreamedWindows if streamed else window_dataset)(
                train if streamed else train_sentences,
                self._encoder,
                labels,
                config,
                stride=self.stride,
            ),
            record=record,
            streamed=streamed,
        )

    def _fit(self, run: _Run) -> Any:
        """Build the Trainer for ``run`` and train; returns the Trainer."""
        config = self.config
        if config.num_threads is not None:
            import torch

            torch.set_num_threads(config.num_threads)
        with run_folder(config.checkpoint_dir) as output_dir:
            args = build_training_arguments(
                config,
                self._explicit_args,
                output_dir=output_dir,
                has_eval=run.eval is not None,
                dtype_name=None if run.dtype is None else precision_name(run.dtype),
                use_cpu=run.device.type == "cpu",
            )
            backend = self._backend(args, run)
            logger.info(
                "training %s on %s (%s inputs of <= %d tokens, context %d), labels %s, "
                "%d process(es), device %s, autocast %s",
                self.model_name,
                "a stream" if run.streamed else f"{len(run.train)} sentences",
                "streamed" if isinstance(run.dataset, StreamedWindows) else len(run.dataset),
                self.max_length,
                config.context_size,
                list(run.labels.entity_types),
                args.world_size,
                args.device,
                run.dtype,
            )
            train_refusing_pickles(backend, run.checkpoint)
        return backend

    def _backend(self, args: Any, run: _Run) -> Any:
        from transformers import EarlyStoppingCallback, set_seed

        from .hf_trainer import EpochCallback, NERTrainerBackend, TimingCallback

        set_seed(self.config.seed)  # the new head's initialization
        model = load_model(
            self.model_name, labels=run.labels, new_head=True, tokenizer=self.tokenizer
        )
        callbacks = [
            EpochCallback(run.dataset),
            TimingCallback(),
            RunRecordCallback(run.record),
            *self.callbacks,
        ]
        patience = self.config.early_stopping_patience
        if patience is not None and run.eval is not None:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=patience))
        options = self._tagging(None, labels=run.labels, dtype=run.dtype)
        eval_sentences = run.eval or []
        return NERTrainerBackend(
            model=model.model,
            args=args,
            train_dataset=run.dataset,
            eval_dataset=run.dataset if run.eval is not None else None,
            data_collator=batch_collator(self.tokenizer, run.device),
            processing_class=self.tokenizer,
            callbacks=callbacks,
            score=lambda m: score_sentences(m, eval_sentences, **options),
        )

    def _result(self, backend: Any, run: _Run, started: float) -> TrainingResult:
        from .hf_trainer import training_result

        def rescore() -> EvaluationReport:  # resumed after the best step: score the best model
            options = self._tagging(None, labels=run.labels, dtype=run.dtype)
            return score_sentences(self.model, run.eval or [], **options)

        return training_result(
            backend,
            labels=run.labels,
            train=None if run.streamed else run.train,
            eval=run.eval,
            seconds=time.perf_counter() - started,
            rescore=rescore,
        )

    def _tagging(
        self, batch_size: int | None, *, labels: LabelSet | None = None, dtype: Any = None
    ) -> dict[str, Any]:
        """The options of :func:`~ner_bert.training.scoring.predict_tags` for this trainer."""
        if dtype is None and self.model is not None:
            dtype = resolve_precision(self.config.mixed_precision, self.model.device)
        return {
            "encoder": self._encoder,
            "labels": labels or self._labels,
            "dtype": dtype,
            "batch_size": batch_size or self.config.eval_batch_size or 2 * self.config.batch_size,
            "stride": self.stride,
            "context_size": self.config.context_size,
        }

    def _ensure_model(self) -> None:
        """Load ``model`` as a trained model (to evaluate without training first)."""
        if self.model is not None:
            return
        try:
            loaded = load_model(self.model_name, labels=self._labels, tokenizer=self.tokenizer)
        except LabelError as exc:
            raise ModelLoadError(
                f"{self.model_name}: the model has no usable NER labels ({exc}); train it "
                "first or pass labels=[...]."
            ) from exc
        self._labels = loaded.labels
        self.model = loaded.model.to(resolve_device(self.config.device)).eval()

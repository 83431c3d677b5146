"""EncoderAdapter: continue masked-language-model training of an encoder on unlabelled text.

Domain- and task-adaptive pretraining (Gururangan et al., 2020): before fine-tuning for NER,
the encoder keeps learning to fill in masked words, now on the user's own text. Training runs
on ``transformers.Trainer`` (progress, checkpoints and exact resume, ``report_to``, any
``TrainingArguments`` field) with transformers' masked-LM collator and whole-word masking.
The saved folder is an encoder like any other: ``NERTrainer`` fine-tunes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._choices import parse_choice
from ..config import MixedPrecision
from ..errors import ConfigError, DataFormatError, ModelLoadError
from ..model.atomic import atomic_write_text, staged_folder
from ..model.device import precision_name, resolve_device, resolve_precision
from ..model.files import check_folders_apart
from ..model.loading import load_encoder_config, load_tokenizer, window_length
from ..model.quiet import transformers_bars_off
from ..model.source import NO_HUB_OPTIONS, ModelSource
from ..subwords.encoding import TextEncoder
from .corpus import Document
from .packing import MaskingCollator, pack_documents

__all__ = [
    "ADAPTATION_FILE",
    "AdaptationResult",
    "AdaptationSettings",
    "EncoderAdapter",
    "check_target",
]

logger = logging.getLogger(__name__)

ADAPTATION_FILE = "adaptation.json"
"""Written into an adapted encoder's folder: the settings and the result of the adaptation."""


@dataclass(frozen=True)
class AdaptationResult:
    """What an adaptation did.

    Attributes:
        perplexity_before: Masked-LM perplexity of the held-out text before training (the same
            masks before and after), ``None`` without held-out text.
        perplexity_after: The same after training.
        steps: Optimizer steps.
        seconds: Wall time of the training (the perplexities excluded).
        train_sequences: Packed input sequences trained on.
        eval_sequences: Held-out sequences.
    """

    perplexity_before: float | None
    perplexity_after: float | None
    steps: int
    seconds: float
    train_sequences: int
    eval_sequences: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class AdaptationSettings:
    """The options of a masked-LM adaptation.

    Attributes:
        max_length: Tokens per sequence, special tokens included.
        mlm_probability: Share of words masked.
        whole_word_mask: Mask every piece of a word together (else single subwords).
        epochs: Passes over the corpus (ignored when ``max_steps`` is set).
        max_steps: Optimizer steps instead of epochs.
        batch_size: Sequences per step.
        learning_rate: Peak learning rate (linear warmup and decay).
        warmup_ratio: Share of the steps spent warming up.
        weight_decay: AdamW weight decay.
        seed: Seed of initialization, order, masking and the held-out split.
        held_out: Share of documents held out to measure perplexity when ``adapt`` gets no
            ``eval`` corpus.
        mixed_precision: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"no"`` (as in training).
    """

    max_length: int = 128
    mlm_probability: float = 0.15
    whole_word_mask: bool = True
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 42
    held_out: float = 0.05
    mixed_precision: str = "auto"

    def __post_init__(self) -> None:
        ranges = {
            "mlm_probability": (self.mlm_probability, 0.0 < self.mlm_probability < 1.0),
            "held_out": (self.held_out, 0.0 <= self.held_out < 1.0),
            "warmup_ratio": (self.warmup_ratio, 0.0 <= self.warmup_ratio < 1.0),
            "learning_rate": (self.learning_rate, self.learning_rate > 0),
            "epochs": (self.epochs, self.epochs > 0),
            "batch_size": (self.batch_size, self.batch_size >= 1),
            "max_length": (self.max_length, self.max_length >= 8),
            "max_steps": (self.max_steps, self.max_steps is None or self.max_steps >= 1),
        }
        for name, (value, valid) in ranges.items():
            if not valid:
                raise ConfigError(f"AdaptationSettings.{name}: {value!r} is out of range.")
        parse_choice(MixedPrecision, "mixed_precision", self.mixed_precision)


class EncoderAdapter:
    """Adapt a BERT-family encoder to unlabelled text by masked language modelling.

    Args:
        model: A hub name or local folder of an encoder with a masked-LM form (BERT, RoBERTa,
            DeBERTa, ELECTRA, ...). One saved without its masked-LM head (a sentence-embedding
            model) gets a new head whose output layer is its word embeddings.
        settings: The adaptation options (defaults: :class:`AdaptationSettings`).
        device: ``"cpu"``, ``"cuda"``... (default: the best available).
        checkpoint_dir: Where the Trainer saves a checkpoint each epoch (to resume; for long
            epochs add ``training_args={"save_strategy": "steps", "save_steps": 500}``).
        progress_bar: Show the Trainer's progress bar.
        training_args: Any other ``TrainingArguments`` fields (they win).

    Raises:
        ModelLoadError: The model has no masked-LM form (GPT-2, T5) or no tokenizer with a
            mask token; all before any text is read.

    Example:
        >>> from ner_bert.pretraining import EncoderAdapter, read_text_corpus
        >>> adapter = EncoderAdapter("bert-base-cased")  # doctest: +SKIP
        >>> adapter.adapt(read_text_corpus(["news.txt"]))  # doctest: +SKIP
        >>> adapter.save("bert-news")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path = "bert-base-cased",
        *,
        settings: AdaptationSettings | None = None,
        device: str | None = None,
        checkpoint_dir: str | Path | None = None,
        progress_bar: bool = True,
        training_args: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = str(model)
        self.settings = settings or AdaptationSettings()
        self.device = device
        self.checkpoint_dir = None if checkpoint_dir is None else str(checkpoint_dir)
        self.progress_bar = progress_bar
        self.training_args = dict(training_args or {})
        # A masked-LM encoder, before anything else; its inputs as long as the model allows.
        self._model_config = load_encoder_config(self.model_name)
        self.tokenizer = load_tokenizer(self.model_name)
        if self.tokenizer.mask_token is None:
            raise ModelLoadError(f"{self.model_name}: the tokenizer has no mask token.")
        length = window_length(self.settings.max_length, self.tokenizer, self._model_config)
        self.encoder = TextEncoder(self.tokenizer, max_length=length)
        self.model: Any = None
        self.result: AdaptationResult | None = None

    def adapt(
        self,
        corpus: Sequence[Document],
        *,
        eval: Sequence[Document] | None = None,
        resume_from: str | Path | None = None,
    ) -> AdaptationResult:
        """Train on ``corpus`` (documents of sentences of words, from
        :mod:`~ner_bert.pretraining.corpus`), measuring masked-LM perplexity on ``eval`` (or
        on ``held_out`` of the documents) before and after.

        Args:
            corpus: The unlabelled documents.
            eval: Held-out documents (default: a ``held_out`` share of ``corpus``).
            resume_from: A checkpoint folder, or the ``checkpoint_dir`` of an interrupted run
                (its newest checkpoint).

        Raises:
            DataFormatError: The corpus gives fewer sequences than one batch.
            DataNotFoundError: ``resume_from`` holds no checkpoint.
            ConfigError: The checkpoint was written with other settings or text.
            ModelLoadError: The checkpoint is of another model or lacks its optimizer state.
        """
        train_docs, eval_docs = self._split(list(corpus), eval)
        train = pack_documents(train_docs, self.encoder)
        held = pack_documents(eval_docs, self.encoder) if eval_docs else []
        batch = self.settings.batch_size
        if len(train) < batch:
            raise DataFormatError(
                f"the corpus gives {len(train)} sequence(s) of <= {self.encoder.window} "
                f"subwords, fewer than one batch of {batch}; give more text or a smaller "
                "batch_size."
            )
        from ..training.hf_trainer import run_folder, train_refusing_pickles
        from ..training.resume import checkpoint_to_resume

        record = self._record(train, held)
        checkpoint = None
        if resume_from is not None:  # the same model, settings and text, checked first
            checkpoint = checkpoint_to_resume(resume_from, record, self._model_config)
        with run_folder(self.checkpoint_dir) as output_dir:
            trainer = self._trainer(train, output_dir, record)
            before = self._perplexity(trainer, held)
            started = time.perf_counter()
            train_refusing_pickles(trainer, checkpoint)
            seconds = time.perf_counter() - started
            after = self._perplexity(trainer, held)
        self.model = trainer.model.eval()
        self.result = AdaptationResult(
            perplexity_before=before,
            perplexity_after=after,
            steps=trainer.state.global_step,
            seconds=seconds,
            train_sequences=len(train),
            eval_sequences=len(held),
        )
        logger.info("adaptation done: %s", self.result)
        return self.result

    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the adapted encoder (weights with the masked-LM head, tokenizer, config and
        ``adaptation.json``); ``NERTrainer(path)`` fine-tunes it.

        Raises:
            ConfigError: Nothing adapted yet, or ``path`` exists and is not an adapted encoder
                folder (or is one and ``overwrite`` is off).
        """
        if self.model is None or self.result is None:
            raise ConfigError("there is no adapted model to save; call adapter.adapt first.")
        directory = Path(path)
        check_target(directory, overwrite=overwrite, checkpoint_dir=self.checkpoint_dir)
        with staged_folder(directory) as staging, transformers_bars_off():
            self.model.save_pretrained(staging)
            self.tokenizer.save_pretrained(staging)
            record = {
                "base_model": self.model_name,
                "settings": asdict(self.settings),
                "result": self.result.to_dict(),
            }
            atomic_write_text(staging / ADAPTATION_FILE, json.dumps(record, indent=2) + "\n")
        logger.info("saved the adapted encoder to %s", directory)

    # -- internals -------------------------------------------------------------------------

    def _split(
        self, corpus: list[Document], eval: Sequence[Document] | None
    ) -> tuple[list[Document], list[Document]]:
        if not corpus:
            raise DataFormatError("the corpus is empty (no documents).")
        if eval is not None:
            return corpus, list(eval)
        n_held = round(len(corpus) * self.settings.held_out)
        if n_held == 0 or n_held == len(corpus):
            return corpus, []
        held = set(random.Random(self.settings.seed).sample(range(len(corpus)), n_held))
        return (
            [d for i, d in enumerate(corpus) if i not in held],
            [d for i, d in enumerate(corpus) if i in held],
        )

    def _collator(self, *, seed: int | None) -> MaskingCollator:
        """Training masks come from the global RNG (seeded by ``set_seed``, saved in each
        checkpoint and restored on resume, so a resumed run masks as an uninterrupted one);
        perplexity masks from their own ``seed``, the same before and after."""
        return MaskingCollator(
            self.tokenizer,
            mlm_probability=self.settings.mlm_probability,
            whole_word_mask=self.settings.whole_word_mask,
            seed=seed,
        )

    def _record(self, train: list[dict[str, Any]], held: list[dict[str, Any]]) -> dict[str, Any]:
        """What each checkpoint records, to check a resumed run is the same run."""

        def fingerprint(inputs: list[dict[str, Any]]) -> str:
            digest = hashlib.sha256()
            for item in inputs:
                digest.update(json.dumps(item["input_ids"]).encode())
            return f"{len(inputs)} sequences, sha256 {digest.hexdigest()[:16]}"

        return {
            "settings": asdict(self.settings),
            "training_args": self.training_args,
            "labels": [],
            "train_data": fingerprint(train),
            "eval_data": fingerprint(held),
        }

    def _trainer(self, train: list[dict[str, Any]], output_dir: str, record: dict[str, Any]) -> Any:
        from transformers import Trainer, set_seed

        from ..training.hf_trainer import LogEveryEvaluationCallback, ProgressLinesCallback
        from ..training.resume import RunRecordCallback

        set_seed(self.settings.seed)
        model = ModelSource(self.model_name, False, NO_HUB_OPTIONS).model(masked_lm=True)
        trainer = Trainer(
            model=model,
            args=self._arguments(output_dir),
            train_dataset=train,
            data_collator=self._collator(seed=None),
            processing_class=self.tokenizer,
            callbacks=[
                LogEveryEvaluationCallback(),
                ProgressLinesCallback(None),
                RunRecordCallback(record),
            ],
        )
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        return trainer

    def _arguments(self, output_dir: str) -> Any:
        from ..training.arguments import runtime_arguments, training_arguments

        device = resolve_device(self.device)
        dtype = resolve_precision(self.settings.mixed_precision, device)
        s = self.settings
        values: dict[str, Any] = {
            "output_dir": output_dir,
            "per_device_train_batch_size": s.batch_size,
            "per_device_eval_batch_size": 2 * s.batch_size,
            "learning_rate": s.learning_rate,
            "num_train_epochs": s.epochs,
            "max_steps": s.max_steps or -1,
            "warmup_steps": s.warmup_ratio,
            "weight_decay": s.weight_decay,
            "seed": s.seed,
            **runtime_arguments(
                None if dtype is None else precision_name(dtype), use_cpu=device.type == "cpu"
            ),
            "save_strategy": "epoch" if self.checkpoint_dir else "no",
            "logging_strategy": "steps",
            "logging_steps": 50,
            "disable_tqdm": not self.progress_bar,
            **self.training_args,
        }
        return training_arguments(values)

    def _perplexity(self, trainer: Any, held: list[dict[str, Any]]) -> float | None:
        """exp(masked-LM loss) of ``held``, with the same masks every time it is called."""
        if not held:
            return None
        training_collator = trainer.data_collator
        trainer.data_collator = self._collator(seed=self.settings.seed)  # the same masks
        try:
            loss = trainer.evaluate(eval_dataset=held)["eval_loss"]
        finally:
            trainer.data_collator = training_collator
        return float(math.exp(min(loss, 50.0)))


def check_target(path: Path, *, overwrite: bool, checkpoint_dir: str | Path | None = None) -> None:
    """Refuse to save where anything but an adapted encoder would be replaced, or where the
    run's checkpoints are.

    Raises:
        ConfigError: ``path`` is a file or a non-empty folder without ``adaptation.json``,
            holds an adapted encoder and ``overwrite`` is off, or overlaps ``checkpoint_dir``.
    """
    if checkpoint_dir is not None:
        check_folders_apart(path, Path(checkpoint_dir))
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is an existing file; pass a directory path.")
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not (path / ADAPTATION_FILE).is_file():
        raise ConfigError(
            f"{path} exists and is not an adapted encoder folder (no {ADAPTATION_FILE}); choose "
            "a new or empty directory so nothing of yours is overwritten."
        )
    if not overwrite:
        raise ConfigError(f"{path} holds an adapted encoder; pass overwrite=True to replace it.")

"""``transformers.Trainer`` with NER evaluation on words, and the callbacks ner_bert adds.

The Trainer runs the loop, optimizer and schedule, mixed precision, checkpoints and exact
resume, early stopping with the best model kept, logging, ``report_to`` and distributed
launch. What it cannot know is how NER is scored: a model's quality is entity F1 on words,
after merging windows, aggregating subwords and Viterbi decoding, not a loss on subwords. So
:class:`NERTrainerBackend` replaces only :meth:`evaluate`; everything else is the Trainer's.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from ..errors import ModelLoadError
from ..evaluation import EvaluationReport
from ..labels import LabelSet
from ..types import TaggedSentence
from .data import data_statistics
from .result import TrainingResult, history_from_log

__all__ = [
    "EpochCallback",
    "LoggingCallback",
    "NERTrainerBackend",
    "ProgressBarCallback",
    "TimingCallback",
    "evaluation_metrics",
    "run_folder",
    "train_refusing_pickles",
    "training_result",
]

logger = logging.getLogger("ner_bert.training")


def evaluation_metrics(report: EvaluationReport, prefix: str = "eval") -> dict[str, float]:
    """The numbers of a report as Trainer metrics (``eval_f1`` is the one that picks the best).

    Example:
        >>> from ner_bert.evaluation import evaluate_tags
        >>> metrics = evaluation_metrics(evaluate_tags([["B-PER", "O"]], [["B-PER", "O"]]))
        >>> metrics["eval_f1"], metrics["eval_strict_f1"]
        (1.0, 1.0)
    """
    micro = report.conlleval.micro
    return {
        f"{prefix}_f1": report.f1,
        f"{prefix}_precision": micro.precision,
        f"{prefix}_recall": micro.recall,
        f"{prefix}_strict_f1": report.strict.micro.f1,
    }


class NERTrainerBackend(Trainer):
    """A ``transformers.Trainer`` whose evaluation is NER on words.

    Args:
        score: Scores the current model on the eval sentences (ner_bert's own prediction path:
            windows or document context, subword aggregation, Viterbi, conlleval F1).
        *args: Passed to ``transformers.Trainer``.
        **kwargs: Passed to ``transformers.Trainer``.

    Attributes:
        reports: The evaluation report of each evaluated step.
    """

    def __init__(self, *args: Any, score: Callable[[Any], EvaluationReport], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remove_callback(PrinterCallback)
        if self.pop_callback(ProgressCallback) is not None:
            self.add_callback(ProgressBarCallback())
        self.add_callback(LoggingCallback())
        self._score_model = score
        self.reports: dict[int, EvaluationReport] = {}

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        """Score the model on the eval sentences; log and return ``eval_f1`` and friends.

        Every process scores the whole eval data with identical weights, so all of them take
        the same best-model and early-stopping decisions without communicating.
        """
        started = time.perf_counter()
        report = self._score_model(self.model)
        self.reports[self.state.global_step] = report
        metrics = evaluation_metrics(report, metric_key_prefix)
        metrics[f"{metric_key_prefix}_runtime"] = round(time.perf_counter() - started, 4)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(
            self.args, self.state, self.control, metrics
        )
        return metrics


class EpochCallback(TrainerCallback):
    """Tells the training dataset which epoch runs (its context dropout depends on it)."""

    def __init__(self, dataset: Any) -> None:  # WindowDataset or StreamedWindows
        self.dataset = dataset

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.dataset.epoch = int(state.epoch or 0)


class LoggingCallback(TrainerCallback):
    """Sends the Trainer's log lines to the ``ner_bert.training`` logger instead of stdout.

    The library logs and the application configures logging: the Trainer's own
    ``PrinterCallback`` and ``ProgressCallback`` print every log dict to stdout.
    """

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        if not state.is_local_process_zero or not logs:
            return
        where, step = f"epoch {state.epoch or 0.0:.4g}", state.global_step
        if "loss" in logs:
            rate = logs.get("learning_rate", 0.0)
            logger.info(
                "%s: loss %.4f (step %d, learning rate %.3g)", where, logs["loss"], step, rate
            )
        if "eval_f1" in logs:
            strict = logs.get("eval_strict_f1", 0.0)
            logger.info(
                "%s: dev F1 %.4f (strict %.4f, step %d)", where, logs["eval_f1"], strict, step
            )


class ProgressBarCallback(ProgressCallback):
    """The Trainer's progress bar, with the latest loss and dev F1 on the bar instead of a
    printed log dict per logging step."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        bar = self.training_bar
        if state.is_world_process_zero and bar is not None and logs:
            shown = {k: f"{logs[k]:.4f}" for k in ("loss", "eval_f1") if k in logs}
            if shown:
                bar.set_postfix(shown, refresh=False)


class TimingCallback(TrainerCallback):
    """Records the wall time of each logged step (for the seconds of the history)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.times: dict[int, float] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.times.setdefault(state.global_step, time.perf_counter())


def train_refusing_pickles(backend: Any, checkpoint: Path | None) -> None:
    """Train (resuming from ``checkpoint``); a checkpoint file that holds more than tensors and
    plain data is refused with a :class:`~ner_bert.errors.ModelLoadError`, never unpickled."""
    try:
        backend.train(resume_from_checkpoint=None if checkpoint is None else str(checkpoint))
    except pickle.UnpicklingError as exc:
        raise ModelLoadError(
            f"{checkpoint}: a checkpoint file holds objects other than tensors and plain data; "
            f"refused to load it (torch.load weights_only=True). Resume only from checkpoints "
            f"you wrote. ({str(exc).splitlines()[0]})"
        ) from exc


@contextlib.contextmanager
def run_folder(checkpoint_dir: str | None) -> Iterator[str]:
    """The Trainer's output folder: ``checkpoint_dir``, or a scratch folder for the checkpoints
    that keep the best model, shared by all processes and removed after the run."""
    if checkpoint_dir is not None:
        yield checkpoint_dir
        return
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    name = [tempfile.mkdtemp(prefix="ner_bert-run-") if state.is_main_process else None]
    if state.num_processes > 1:
        broadcast_object_list(name)
    try:
        yield str(name[0])
    finally:
        state.wait_for_everyone()
        if state.is_main_process:
            shutil.rmtree(str(name[0]), ignore_errors=True)


def training_result(
    backend: Any,
    *,
    labels: LabelSet,
    train: Sequence[TaggedSentence] | None,
    eval: Sequence[TaggedSentence] | None,
    seconds: float,
    rescore: Callable[[], EvaluationReport],
) -> TrainingResult:
    """The :class:`TrainingResult` of a finished Trainer: its log and its best model's report
    (``rescore()`` when the best step was evaluated before a resume, so its report is gone)."""
    state = backend.state
    timing = next(c for c in backend.callback_handler.callbacks if isinstance(c, TimingCallback))
    history = history_from_log(state.log_history, timing.times, timing.started)
    best_step = state.best_global_step if eval is not None else None
    best_eval = None
    if eval is not None:
        best_eval = backend.reports.get(best_step) or rescore()
    return TrainingResult(
        history=history,
        best_epoch=next((e.epoch for e in history if e.step == best_step), None),
        best_step=best_step,
        best_eval=best_eval,
        global_steps=state.global_step,
        seconds=seconds,
        stopped_early=state.global_step < state.max_steps,
        labels=labels.labels,
        data={
            "train": None if train is None else data_statistics(train),  # None: streamed
            "eval": None if eval is None else data_statistics(eval),
        },
    )

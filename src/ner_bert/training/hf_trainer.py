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
import sys
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
from ..model.quiet import transformers_bars_off
from ..types import TaggedSentence
from .data import data_statistics
from .result import TrainingResult, history_from_log, loss_curve_from_log

__all__ = [
    "EpochCallback",
    "LogEveryEvaluationCallback",
    "NERTrainerBackend",
    "ProgressBarCallback",
    "ProgressLinesCallback",
    "TimingCallback",
    "elapsed",
    "evaluation_metrics",
    "progress_logger",
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
        bar = None
        if self.pop_callback(ProgressCallback) is not None:
            bar = ProgressBarCallback()
            self.add_callback(bar)
        self.add_callback(LogEveryEvaluationCallback())
        self.add_callback(ProgressLinesCallback(bar))
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


progress_logger = logging.getLogger("ner_bert.training.progress")
"""Where the lines of :class:`ProgressLinesCallback` go when no progress bar is drawn (the
command line prints them on stderr)."""


class ProgressBarCallback(ProgressCallback):
    """The Trainer's progress bar, with the latest loss and dev F1 on the bar instead of a
    printed log dict per logging step."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        bar = self.training_bar
        if state.is_world_process_zero and bar is not None and logs:
            shown = {k: f"{logs[k]:.4f}" for k in ("loss", "eval_f1") if k in logs}
            if shown:
                bar.set_postfix(shown, refresh=False)


class ProgressLinesCallback(TrainerCallback):
    """One line that stays per evaluation, and per epoch end without one: step and epoch,
    mean training loss since the previous line, dev precision, recall and F1, time so far.

    Written above the progress bar when there is one (as the Trainer's own progress callback
    writes its logs); otherwise logged at INFO on ``ner_bert.training.progress``, so a library
    stays quiet unless the application shows that logger, and a log file gets plain lines.
    The Trainer's PrinterCallback, which prints every log dict, is removed for this.
    """

    def __init__(self, bar: ProgressBarCallback | None) -> None:
        self.bar = bar
        self.started = time.perf_counter()
        self.best: float | None = None
        self._loss_sum = 0.0
        self._loss_steps = 0
        self._logged_step = 0
        self._epoch_line_due = False
        self._line_step = -1

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()
        self._logged_step = state.global_step  # a resumed run starts where it stopped

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # The Trainer evaluates (when it does) right after this, so that line has the epoch.
        # Without an evaluation the epoch gets its own line, once its last loss is logged.
        if not state.is_world_process_zero or control.should_evaluate:
            return
        if state.global_step != self._line_step:  # not evaluated at this very step already
            if state.global_step > self._logged_step:
                self._epoch_line_due = True  # LogEveryEvaluationCallback logs it next
            else:
                self._write(self._line(args, state, {}), state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            logger.debug("step %d: loss %.4f", state.global_step, logs["loss"])
            steps = state.global_step - self._logged_step
            self._loss_sum += float(logs["loss"]) * steps
            self._loss_steps += steps
            self._logged_step = state.global_step
        if "eval_f1" in logs or ("loss" in logs and self._epoch_line_due):
            self._epoch_line_due = False
            self._write(self._line(args, state, logs), state.global_step)

    def _line(self, args: Any, state: Any, logs: dict[str, Any]) -> str:
        """``step 220/880 (epoch 1/4): loss 0.1234, dev P 0.8123 R 0.8345 F1 0.8232, 1m23s``."""
        where = f"step {state.global_step}/{state.max_steps}"
        if args.max_steps <= 0:  # counted in epochs (a streamed run has steps only)
            where += f" (epoch {_number(state.epoch or 0.0)}/{_number(args.num_train_epochs)})"
        parts = []
        if self._loss_steps:
            parts.append(f"loss {self._loss_sum / self._loss_steps:.4f}")
            self._loss_sum, self._loss_steps = 0.0, 0
        if "eval_f1" in logs:
            f1 = float(logs["eval_f1"])
            best = self.best is None or f1 > self.best
            self.best = f1 if best else self.best
            parts.append(
                f"dev P {logs.get('eval_precision', 0.0):.4f} R "
                f"{logs.get('eval_recall', 0.0):.4f} F1 {f1:.4f}" + (" (best)" if best else "")
            )
        parts.append(elapsed(time.perf_counter() - self.started))
        return f"{where}: " + ", ".join(parts)

    def _write(self, line: str, step: int) -> None:
        self._line_step = step
        bar = None if self.bar is None else self.bar.training_bar
        if bar is not None:  # tqdm.write's default is stdout, which belongs to the program
            bar.write(line, file=sys.stderr)
        else:
            progress_logger.info(line)


class LogEveryEvaluationCallback(TrainerCallback):
    """Logs the training loss at every epoch end and before every evaluation, so that the
    history has the mean loss of each evaluated period and the report its last points (the
    Trainer logs only every ``logging_steps`` otherwise)."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_evaluate:
            control.should_log = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        control.should_log = True


def _number(value: float) -> str:
    """``1`` for 1.0, ``1.25`` for 1.25."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def elapsed(seconds: float) -> str:
    """A duration as a person reads it.

    Example:
        >>> elapsed(8.4), elapsed(83), elapsed(3725)
        ('8s', '1m23s', '1h02m05s')
    """
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


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
        # No "Writing model shards" bar per checkpoint (the training bar is tqdm's own).
        with transformers_bars_off():
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
    by_steps = backend.args.eval_strategy == "steps"  # a str enum
    history = history_from_log(
        state.log_history, timing.times, timing.started, epoch_ends=not by_steps
    )
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
        loss_curve=loss_curve_from_log(state.log_history),
        data={
            "train": None if train is None else data_statistics(train),  # None: streamed
            "eval": None if eval is None else data_statistics(eval),
        },
    )

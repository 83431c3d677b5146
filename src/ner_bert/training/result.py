"""What a training run returns: its history (from the Trainer's log) and its best evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..evaluation import EvaluationReport

__all__ = ["HistoryEntry", "LossPoint", "TrainingResult", "history_from_log", "loss_curve_from_log"]


@dataclass(frozen=True)
class LossPoint:
    """The training loss as the Trainer logged it (about a hundred points a run).

    Attributes:
        step: Optimizer steps taken so far.
        epoch: Epochs done (fractional).
        loss: Mean training loss of the steps since the previous point.
    """

    step: int
    epoch: float
    loss: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryEntry:
    """One point of a run where it was evaluated or an epoch ended (every ``eval_steps``
    steps with step-based evaluation), and its last step (plain floats).

    Attributes:
        step: Optimizer steps taken so far.
        epoch: Epochs done: an ``int`` at the end of an epoch, fractional between epoch ends.
        train_loss: Mean training loss of the steps since the previous entry (``None`` when
            no loss was logged in between).
        learning_rate: Learning rate at this point.
        seconds: Wall time since the previous entry (``None`` for entries of an interrupted
            run that this one resumed).
        eval_f1: Dev entity F1 (conlleval mode), if evaluated here.
        eval_strict_f1: Dev entity F1 (strict IOB2 mode), if evaluated here.
    """

    step: int
    epoch: float
    train_loss: float | None = None
    learning_rate: float | None = None
    seconds: float | None = None
    eval_f1: float | None = None
    eval_strict_f1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    """What :meth:`~ner_bert.NERTrainer.train` returns.

    Attributes:
        history: One :class:`HistoryEntry` per logged point (resumed ones included).
        best_epoch: The epoch of the best dev F1 (its weights are the trainer's), or ``None``
            without eval data.
        best_step: The step of the best dev F1, or ``None`` without eval data.
        best_eval: The dev :class:`~ner_bert.evaluation.EvaluationReport` of the best model.
        global_steps: Optimizer steps taken.
        seconds: Wall time of this call.
        stopped_early: Early stopping ended the run before ``epochs``.
        labels: The model's labels.
        data: Statistics of the training and eval data (``{"train": {...}, "eval": {...}}``:
            sentences, documents, words and entity mentions per type), for the model card.
        loss_curve: The training loss as logged, about a hundred points a run (what the
            training report and TensorBoard draw).
    """

    history: tuple[HistoryEntry, ...]
    best_epoch: float | None
    best_eval: EvaluationReport | None
    global_steps: int
    seconds: float
    stopped_early: bool = False
    labels: tuple[str, ...] = field(default=())
    best_step: int | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False)
    loss_curve: tuple[LossPoint, ...] = field(default=())

    @property
    def best_f1(self) -> float | None:
        """Dev F1 (conlleval mode) of the best model."""
        return None if self.best_eval is None else self.best_eval.f1

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [m.to_dict() for m in self.history],
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "best_eval": None if self.best_eval is None else self.best_eval.to_dict(),
            "global_steps": self.global_steps,
            "seconds": self.seconds,
            "stopped_early": self.stopped_early,
            "labels": list(self.labels),
            "data": self.data,
            "loss_curve": [point.to_dict() for point in self.loss_curve],
        }

    def metrics(self) -> dict[str, Any]:
        """The summary saved in ``ner_bert.json``."""
        out: dict[str, Any] = {
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "global_steps": self.global_steps,
        }
        if self.best_eval is not None:
            out["eval_f1"] = self.best_eval.f1
            out["eval_strict_f1"] = self.best_eval.strict.micro.f1
            out["eval_report"] = self.best_eval.to_dict()
        losses = [m.train_loss for m in self.history if m.train_loss is not None]
        if losses:
            out["final_train_loss"] = losses[-1]
        return out


def history_from_log(
    log_history: Sequence[Mapping[str, Any]],
    times: Mapping[int, float],
    started: float,
    *,
    epoch_ends: bool = True,
) -> tuple[HistoryEntry, ...]:
    """The Trainer's log as one entry per evaluation or epoch end (and the last step), each
    with the mean loss of its steps.

    Args:
        log_history: ``trainer.state.log_history``.
        times: Wall-clock time at which each step was logged in this run.
        started: Wall-clock time at which this run started.
        epoch_ends: Whether epoch ends are entries (``False`` with step-based evaluation:
            the evaluations are).

    Example:
        >>> log = [{"loss": 0.7, "learning_rate": 2e-5, "epoch": 0.5, "step": 5},
        ...        {"loss": 0.5, "learning_rate": 1e-5, "epoch": 1.0, "step": 10},
        ...        {"eval_f1": 0.8, "eval_strict_f1": 0.75, "epoch": 1.0, "step": 10},
        ...        {"train_runtime": 3.0, "epoch": 1.0, "step": 10}]
        >>> entry, = history_from_log(log, {5: 4.0, 10: 5.0}, 2.0)
        >>> entry.step, entry.train_loss, entry.eval_f1, entry.seconds
        (10, 0.6, 0.8, 3.0)
    """
    records = [r for r in log_history if "step" in r and "train_runtime" not in r]
    points = {
        int(r["step"]) for r in records if "eval_f1" in r or (epoch_ends and _whole(r["epoch"]))
    }
    points |= {max((int(r["step"]) for r in records), default=0)} - {0}
    entries: dict[int, dict[str, Any]] = {}
    losses: dict[int, list[tuple[int, float]]] = {}  # (steps covered, mean loss) per entry
    logged = 0  # the step of the previous loss record
    for record in records:
        step = int(record["step"])
        point = min(p for p in points if p >= step)
        entry = entries.setdefault(point, {})
        if step == point:
            epoch = float(record["epoch"])
            entry["epoch"] = int(epoch) if epoch.is_integer() else epoch
        if "loss" in record:
            losses.setdefault(point, []).append((step - logged, float(record["loss"])))
            entry["learning_rate"] = record.get("learning_rate")
            logged = step
        if "eval_f1" in record:
            entry.update(eval_f1=record["eval_f1"], eval_strict_f1=record.get("eval_strict_f1"))
    out = []
    previous = started
    for step in sorted(entries):
        seconds = None
        if step in times:
            seconds, previous = times[step] - previous, times[step]
        period = losses.get(step, [])
        covered = sum(n for n, _ in period)
        if covered:
            entries[step]["train_loss"] = sum(n * loss for n, loss in period) / covered
        out.append(HistoryEntry(step=step, seconds=seconds, **entries[step]))
    return tuple(out)


def loss_curve_from_log(log_history: Sequence[Mapping[str, Any]]) -> tuple[LossPoint, ...]:
    """The training loss records of the Trainer's log.

    Example:
        >>> loss_curve_from_log([{"loss": 0.5, "epoch": 0.5, "step": 5}, {"eval_f1": 0.8}])
        (LossPoint(step=5, epoch=0.5, loss=0.5),)
    """
    return tuple(
        LossPoint(step=int(r["step"]), epoch=float(r["epoch"]), loss=float(r["loss"]))
        for r in log_history
        if "loss" in r and "step" in r
    )


def _whole(epoch: Any) -> bool:
    return float(epoch).is_integer()

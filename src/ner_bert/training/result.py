"""What a training run returns: its history (from the Trainer's log) and its best evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..evaluation import EvaluationReport

__all__ = ["HistoryEntry", "TrainingResult", "history_from_log"]


@dataclass(frozen=True)
class HistoryEntry:
    """One logged point of a run: the end of an epoch, or every ``logging_steps`` / ``eval_steps``
    steps with step-based evaluation (plain floats).

    Attributes:
        step: Optimizer steps taken so far.
        epoch: Epochs done: an ``int`` at the end of an epoch, fractional between epoch ends.
        train_loss: Mean training loss since the previous entry (``None`` at a point where
            only evaluation ran).
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
    log_history: Sequence[Mapping[str, Any]], times: Mapping[int, float], started: float
) -> tuple[HistoryEntry, ...]:
    """Merge the Trainer's log (training and evaluation entries) into one entry per step.

    Args:
        log_history: ``trainer.state.log_history``.
        times: Wall-clock time at which each step was logged in this run.
        started: Wall-clock time at which this run started.

    Example:
        >>> log = [{"loss": 0.5, "learning_rate": 1e-5, "epoch": 1.0, "step": 10},
        ...        {"eval_f1": 0.8, "eval_strict_f1": 0.75, "epoch": 1.0, "step": 10},
        ...        {"train_runtime": 3.0, "epoch": 1.0, "step": 10}]
        >>> entry, = history_from_log(log, {10: 5.0}, 2.0)
        >>> entry.step, entry.train_loss, entry.eval_f1, entry.seconds
        (10, 0.5, 0.8, 3.0)
    """
    entries: dict[int, dict[str, Any]] = {}
    for record in log_history:
        if "train_runtime" in record or "step" not in record:
            continue
        epoch = float(record["epoch"])
        entry = entries.setdefault(
            int(record["step"]), {"epoch": int(epoch) if epoch.is_integer() else epoch}
        )
        if "loss" in record:
            entry.update(
                train_loss=float(record["loss"]), learning_rate=record.get("learning_rate")
            )
        if "eval_f1" in record:
            entry.update(eval_f1=record["eval_f1"], eval_strict_f1=record.get("eval_strict_f1"))
    out = []
    previous = started
    for step in sorted(entries):
        seconds = None
        if step in times:
            seconds, previous = times[step] - previous, times[step]
        out.append(HistoryEntry(step=step, seconds=seconds, **entries[step]))
    return tuple(out)

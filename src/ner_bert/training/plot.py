"""The training report: the logged training loss and the dev F1 of each evaluation, as a PNG
next to the model.

Needs matplotlib (the ``[plot]`` extra: ``pip install 'ner-bert[plot]'``). Without it,
:func:`write_training_plot` writes nothing and returns ``False``, so the caller can say so in
one line. Figures are drawn with :class:`matplotlib.figure.Figure` directly: no pyplot global
state, no GUI backend, safe in threads and on headless machines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataFormatError
from .result import TrainingResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PLOT_MISSING_NOTE",
    "ReportSeries",
    "have_matplotlib",
    "report_series",
    "write_training_plot",
]

logger = logging.getLogger(__name__)

PLOT_MISSING_NOTE = (
    "no training_report.png: matplotlib is not installed (pip install 'ner-bert[plot]')"
)


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class ReportSeries:
    """What the training report draws, by optimizer step.

    Attributes:
        loss: ``(step, loss)`` of each logged training loss.
        dev_f1: ``(step, F1)`` of each evaluation.
        epoch_ends: The steps where an epoch ended (dotted lines).
        best_step: The step of the kept (best) model, if there was eval data.
    """

    loss: tuple[tuple[int, float], ...]
    dev_f1: tuple[tuple[int, float], ...]
    epoch_ends: tuple[int, ...]
    best_step: int | None


def report_series(result: TrainingResult) -> ReportSeries:
    """The series of the training report, from a run's logged history.

    Raises:
        DataFormatError: The run logged no training loss.
    """
    loss = tuple((p.step, p.loss) for p in result.loss_curve)
    if not loss:  # a result from before the loss curve was kept: the loss of each entry
        loss = tuple((e.step, e.train_loss) for e in result.history if e.train_loss is not None)
    if not loss:
        raise DataFormatError("the training report needs a logged training loss; none was.")
    return ReportSeries(
        loss=loss,
        dev_f1=tuple((e.step, e.eval_f1) for e in result.history if e.eval_f1 is not None),
        epoch_ends=tuple(e.step for e in result.history if isinstance(e.epoch, int)),
        best_step=result.best_step,
    )


def write_training_plot(
    path: str | Path, result: TrainingResult, *, title: str = "ner_bert training"
) -> bool:
    """Draw a run's training loss (as logged, about a hundred points) and its dev F1 at each
    evaluation into a PNG file, by optimizer step, with the epoch ends marked.

    Args:
        path: The PNG file to write.
        result: What :meth:`~ner_bert.NERTrainer.train` returned.
        title: Figure title.

    Returns:
        ``True`` if the file was written, ``False`` if matplotlib is not installed.

    Raises:
        DataFormatError: The run logged no training loss.
    """
    series = report_series(result)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed; no training plot written")
        return False

    figure = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    loss_axes, f1_axes = figure.subplots(1, 2, sharex=True)
    _plot_loss(loss_axes, series)
    _plot_dev_f1(f1_axes, series)
    for axes in (loss_axes, f1_axes):
        for step in series.epoch_ends:
            axes.axvline(step, color="#999999", linestyle=":", linewidth=0.8)
        axes.set_xlim(0, series.loss[-1][0] * 1.02)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.savefig(Path(path))
    return True


def _plot_loss(axes: Axes, series: ReportSeries) -> None:
    """The left panel: the training loss as logged."""
    steps, losses = zip(*series.loss, strict=True)
    axes.plot(steps, losses, color="#1f5f99", linewidth=1.0, marker="." if len(steps) < 30 else "")
    axes.set(title="training loss (dotted: epoch ends)", xlabel="step", ylabel="loss")


def _plot_dev_f1(axes: Axes, series: ReportSeries) -> None:
    """The right panel: dev F1 per evaluation, the kept model's labelled."""
    if series.dev_f1:
        steps, f1s = zip(*series.dev_f1, strict=True)
        axes.plot(steps, f1s, marker="o", color="#2a8a4a")
        kept = next((p for p in series.dev_f1 if p[0] == series.best_step), None)
        kept = kept or max(series.dev_f1, key=lambda p: p[1])
        axes.annotate(
            f"kept: {kept[1]:.4f}", kept, textcoords="offset points", xytext=(0, 8), ha="center"
        )
        axes.set_ylim(max(0.0, min(f1s) - 0.1), min(1.0, max(f1s) + 0.05))
    else:
        axes.text(0.5, 0.5, "no dev set", ha="center", va="center", transform=axes.transAxes)
    axes.set(title="dev F1 (conlleval, micro)", xlabel="step", ylabel="F1")

"""The training report: training loss and dev F1 per epoch as a PNG next to the model.

Needs matplotlib (the ``[plot]`` extra: ``pip install 'ner-bert[plot]'``). Without it,
:func:`write_training_plot` writes nothing and returns ``False``, so the caller can say so in
one line. Figures are drawn with :class:`matplotlib.figure.Figure` directly: no pyplot global
state, no GUI backend, safe in threads and on headless machines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataFormatError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PLOT_MISSING_NOTE", "have_matplotlib", "write_training_plot"]

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


def write_training_plot(
    path: str | Path,
    *,
    train_loss: Sequence[float],
    dev_f1: Sequence[float | None] = (),
    step_loss: Sequence[tuple[float, float]] = (),
    title: str = "ner_bert training",
) -> bool:
    """Plot training loss and dev F1 per epoch into a PNG file.

    Args:
        path: The PNG file to write.
        train_loss: Mean training loss of each epoch (epoch ``i + 1`` is ``train_loss[i]``).
        dev_f1: Dev F1 after each epoch (``None`` for an epoch without evaluation); may be
            empty when there was no dev set.
        step_loss: Optional ``(fractional epoch, loss)`` points, drawn as a thin line under
            the epoch means (more informative than one point when training for one epoch).
        title: Figure title.

    Returns:
        ``True`` if the file was written, ``False`` if matplotlib is not installed.

    Raises:
        DataFormatError: ``train_loss`` is empty, or ``dev_f1`` has another length.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.png"
        >>> write_training_plot(out, train_loss=[0.9, 0.4], dev_f1=[0.71, 0.83]) is (
        ...     out.exists())
        True
    """
    _check_series(train_loss, dev_f1)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed; no training plot written")
        return False

    epochs = list(range(1, len(train_loss) + 1))
    figure = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    loss_axes, f1_axes = figure.subplots(1, 2)
    _plot_loss(loss_axes, epochs, train_loss, step_loss)
    _plot_dev_f1(f1_axes, epochs, dev_f1)
    for axes in (loss_axes, f1_axes):
        axes.set_xlim(0.5 if not step_loss else 0.0, len(epochs) + 0.5)
        axes.set_xticks(epochs)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.savefig(Path(path))
    return True


def _check_series(train_loss: Sequence[float], dev_f1: Sequence[float | None]) -> None:
    """Reject an empty ``train_loss`` and a ``dev_f1`` that is not one value per epoch."""
    if not train_loss:
        raise DataFormatError("write_training_plot needs the loss of at least one epoch.")
    if dev_f1 and len(dev_f1) != len(train_loss):
        raise DataFormatError(
            f"got {len(train_loss)} epoch losses but {len(dev_f1)} dev F1 values; give one "
            "dev F1 per epoch (None where there was no evaluation)."
        )


def _plot_loss(
    axes: Axes,
    epochs: list[int],
    train_loss: Sequence[float],
    step_loss: Sequence[tuple[float, float]],
) -> None:
    """The left panel: the epoch means of the training loss over the per-step loss, if any."""
    if step_loss:
        xs, ys = zip(*step_loss, strict=True)
        axes.plot(xs, ys, color="#9ec5e8", linewidth=0.8, label="per step")
    axes.plot(epochs, train_loss, marker="o", color="#1f5f99", label="epoch mean")
    axes.set(title="training loss", xlabel="epoch", ylabel="loss")
    axes.legend(frameon=False)


def _plot_dev_f1(axes: Axes, epochs: list[int], dev_f1: Sequence[float | None]) -> None:
    """The right panel: dev F1 per evaluated epoch, labelled (only the best beyond 10 points)."""
    points = [(e, f) for e, f in zip(epochs, dev_f1, strict=False) if f is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", color="#2a8a4a")
        best = max(points, key=lambda p: p[1])
        shown = points if len(points) <= 10 else [best]
        for point in shown:
            axes.annotate(
                f"{point[1]:.4f}", point, textcoords="offset points", xytext=(0, 8), ha="center"
            )
        axes.set_ylim(max(0.0, min(ys) - 0.1), min(1.0, max(ys) + 0.05))
    else:
        axes.text(0.5, 0.5, "no dev set", ha="center", va="center")
    axes.set(title="dev F1 (conlleval, micro)", xlabel="epoch", ylabel="F1")

"""Document context: which subwords of a document go into each model input.

With ``context_size = N > 0``, the sentences of a document are read as one subword sequence and
cut into *segments*. A segment's *target* is a run of whole consecutive sentences holding at most
``window - 2N`` subwords; the model input is the target plus up to ``N`` subwords of the
document before it and up to ``N`` after it (the *context*). Only target subwords are labelled
in training and predicted at inference, so every sentence is predicted exactly once, with at
least ``min(N, what the document has)`` subwords of its document on each side. Packing several
short sentences into one target (instead of one input per sentence) makes context cost about
twice the sentence-level compute rather than four to eight times.

A sentence longer than a target may be is a segment of its own, with whatever context still
fits the window; a sentence longer than the whole window is cut into overlapping windows without
context, exactly as at ``context_size = 0``.

Pure Python (no numpy, no torch): the plan depends only on subword counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .windows import plan_windows

__all__ = ["MIN_TARGET", "Segment", "check_context", "plan_segments"]

MIN_TARGET = 16
"""The fewest target subwords a window must leave besides ``2 * context_size``."""


@dataclass(frozen=True)
class Segment:
    """One model input cut from a document's subword sequence (no special tokens).

    Attributes:
        start: First document subword fed to the model.
        end: One past the last document subword fed to the model.
        target_start: First labelled / predicted subword (``start <= target_start``).
        target_end: One past the last labelled subword (``target_end <= end``).

    Example:
        >>> s = Segment(start=3, end=20, target_start=5, target_end=12)
        >>> s.left_context, s.right_context, len(s)
        (2, 8, 17)
    """

    start: int
    end: int
    target_start: int
    target_end: int

    @property
    def left_context(self) -> int:
        """Context subwords before the target."""
        return self.target_start - self.start

    @property
    def right_context(self) -> int:
        """Context subwords after the target."""
        return self.end - self.target_end

    def __len__(self) -> int:
        return self.end - self.start


def check_context(context_size: int, window: int) -> None:
    """Raise :class:`~ner_bert.errors.ConfigError` if ``window`` has no room for targets.

    Example:
        >>> check_context(64, 256)
        >>> check_context(64, 128)
        Traceback (most recent call last):
        ...
        ner_bert.errors.ConfigError: context_size=64 needs windows of at least 144 subwords ...
    """
    if context_size and window - 2 * context_size < MIN_TARGET:
        raise ConfigError(
            f"context_size={context_size} needs windows of at least "
            f"{2 * context_size + MIN_TARGET} subwords (2 x context + {MIN_TARGET} for the "
            f"sentences), but max_length leaves {window}; raise max_length or lower "
            "context_size."
        )


def plan_segments(
    lengths: Sequence[int], *, context_size: int, window: int, stride: int
) -> list[Segment]:
    """Cut one document, given its sentences' subword counts, into segments.

    Args:
        lengths: Subword count of each sentence, in document order.
        context_size: Subwords of context on each side (``> 0``).
        window: Content subwords per model input (the model length minus special tokens).
        stride: Step of the windows over a sentence longer than ``window``.

    Returns:
        Segments in document order; their targets cover every subword of every sentence,
        and only the windows of an over-long sentence overlap.

    Example:
        >>> [(s.start, s.end, s.target_start, s.target_end)
        ...  for s in plan_segments([4, 5, 6, 7, 8], context_size=2, window=20, stride=8)]
        [(0, 17, 0, 15), (13, 30, 15, 30)]
    """
    check_context(context_size, window)
    budget = window - 2 * context_size
    bounds = [0]
    for n in lengths:
        bounds.append(bounds[-1] + n)
    total = bounds[-1]
    segments: list[Segment] = []
    i = 0
    while i < len(lengths):
        a = bounds[i]
        if lengths[i] > budget:
            b = bounds[i + 1]
            if lengths[i] <= window:
                room = window - lengths[i]
                left = min(context_size, room // 2, a)
                right = min(context_size, room - left, total - b)
                segments.append(Segment(a - left, b + right, a, b))
            else:
                for s, e in plan_windows(lengths[i], window=window, stride=stride):
                    segments.append(Segment(a + s, a + e, a + s, a + e))
            i += 1
            continue
        j = i
        while j < len(lengths) and bounds[j + 1] - a <= budget:
            j += 1
        b = bounds[j]
        if b > a:
            segments.append(Segment(max(0, a - context_size), min(total, b + context_size), a, b))
        i = j
    return segments

"""Overlapping windows over a long subword sequence, and merging their predictions back.

numpy only (no torch, no transformers). A sequence longer than the model's window is cut into
windows that overlap (:func:`plan_windows`); each subword then takes its prediction from the
window where it has the most context (:func:`merge_windows`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, DataFormatError

__all__ = ["DEFAULT_OVERLAP", "merge_windows", "plan_windows"]

DEFAULT_OVERLAP = 0.25
"""Share of a window that the next window of a long input repeats (training and prediction)."""


def plan_windows(n_tokens: int, *, window: int, stride: int) -> list[tuple[int, int]]:
    """Half-open token ranges ``[start, end)`` that cover ``0..n_tokens``.

    Windows start at ``0, stride, 2*stride, ...``, are at most ``window`` long, and
    consecutive windows overlap by ``window - stride`` tokens. The last window ends at
    ``n_tokens`` exactly; no token is ever left out. ``n_tokens == 0`` gives ``[]``.

    Args:
        n_tokens: Number of tokens to cover (without special tokens).
        window: Maximum window length, ``>= 1``.
        stride: Distance between window starts, ``1 <= stride <= window``.

    Raises:
        ConfigError: ``window`` or ``stride`` out of range, or ``n_tokens < 0``.

    Example:
        >>> plan_windows(10, window=4, stride=3)
        [(0, 4), (3, 7), (6, 10)]
        >>> plan_windows(3, window=4, stride=2)
        [(0, 3)]
        >>> plan_windows(0, window=4, stride=2)
        []
    """
    if window < 1:
        raise ConfigError(f"window must be >= 1, got {window}.")
    if not 1 <= stride <= window:
        raise ConfigError(
            f"stride must be in [1, window={window}], got {stride}; "
            "the overlap between windows is window - stride."
        )
    if n_tokens < 0:
        raise ConfigError(f"n_tokens must be >= 0, got {n_tokens}.")
    windows: list[tuple[int, int]] = []
    start = 0
    while start < n_tokens:
        end = min(start + window, n_tokens)
        windows.append((start, end))
        if end == n_tokens:
            break
        start += stride
    return windows


def merge_windows(
    window_probs: Sequence[np.ndarray], windows: Sequence[tuple[int, int]], n_tokens: int
) -> np.ndarray:
    """Merge per-window subword predictions into one row per token.

    Each token takes its prediction from the window where it has the most context: the
    window that maximizes its distance to the nearest window edge. An edge that is also the
    edge of the whole sequence does not count (no context is missing there).

    Args:
        window_probs: For each window, an array ``(end - start, n_labels)``.
        windows: The windows, as from :func:`plan_windows`.
        n_tokens: Total number of tokens.

    Returns:
        An array ``(n_tokens, n_labels)``.

    Example:
        >>> windows = plan_windows(6, window=4, stride=2)
        >>> probs = [np.full((e - s, 1), float(i)) for i, (s, e) in enumerate(windows)]
        >>> merge_windows(probs, windows, 6)[:, 0].tolist()
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    if len(window_probs) != len(windows):
        raise DataFormatError(
            f"got {len(window_probs)} prediction arrays for {len(windows)} windows."
        )
    if not windows:
        return np.zeros((n_tokens, 0), dtype=np.float32)
    n_labels = window_probs[0].shape[1]
    out = np.zeros((n_tokens, n_labels), dtype=window_probs[0].dtype)
    best = np.full(n_tokens, -1, dtype=np.int64)
    big = n_tokens + 1
    for (start, end), probs in zip(windows, window_probs, strict=True):
        if probs.shape[0] != end - start:
            raise DataFormatError(
                f"window [{start}, {end}) has {end - start} tokens but its predictions have "
                f"{probs.shape[0]} rows."
            )
        positions = np.arange(start, end)
        left = positions - start if start > 0 else np.full(end - start, big)
        right = end - 1 - positions if end < n_tokens else np.full(end - start, big)
        context = np.minimum(left, right)
        better = context > best[start:end]
        out[start:end][better] = probs[better]
        best[start:end][better] = context[better]
    if (best < 0).any():
        missing = int(np.flatnonzero(best < 0)[0])
        raise DataFormatError(f"token {missing} is not covered by any window.")
    return out

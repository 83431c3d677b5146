"""Model inputs built from encoded sentences, with or without document context, and back.

:func:`make_windows` turns tokenized sentences into :class:`Window` inputs: one per sentence
(windows of a sentence longer than the model length) at ``context_size = 0``, or, with
document context, segments of a document planned by :func:`ner_bert.subwords.context.plan_segments`.
Each window records which sentence subwords it predicts (its :class:`Piece` list), and
:func:`sentence_probabilities` puts the model's per-window outputs back together per sentence.
Shared by training, evaluation and :class:`~ner_bert.NERPredictor`; numpy only, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..labels import IGNORE_INDEX, align_labels
from .context import plan_segments
from .encoding import Encoded, TextEncoder
from .windows import merge_windows, plan_windows

__all__ = [
    "Piece",
    "Window",
    "document_chunks",
    "document_runs",
    "make_windows",
    "sentence_probabilities",
]


@dataclass(frozen=True)
class Piece:
    """Subwords ``[start, end)`` of sentence ``sentence``, at ``position`` of a window's input."""

    sentence: int
    start: int
    end: int
    position: int


@dataclass(frozen=True)
class Window:
    """One model input (special tokens included) and the sentence subwords it predicts.

    Attributes:
        input_ids: Token ids, special tokens included.
        labels: Label ids aligned with ``input_ids`` (``-100``: not trained on: special
            tokens, context, continuation subwords unless labelled).
        pieces: The predicted sentence subwords, in input order.
        left_context: Context subwords right after the prefix special tokens.
        right_context: Context subwords right before the suffix special tokens.
    """

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    pieces: tuple[Piece, ...]
    left_context: int = 0
    right_context: int = 0

    def __len__(self) -> int:
        return len(self.input_ids)

    def without_context(self, n_prefix: int, n_suffix: int) -> Window:
        """The same window with its context subwords removed (for context dropout)."""
        if not self.left_context and not self.right_context:
            return self
        lo = n_prefix + self.left_context
        hi = len(self.input_ids) - n_suffix - self.right_context
        tail = len(self.input_ids) - n_suffix
        ids = self.input_ids[:n_prefix] + self.input_ids[lo:hi] + self.input_ids[tail:]
        labels = self.labels[:n_prefix] + self.labels[lo:hi] + self.labels[tail:]
        pieces = tuple(replace(p, position=p.position - self.left_context) for p in self.pieces)
        return Window(ids, labels, pieces)


def document_runs(documents: Sequence[int]) -> list[range]:
    """Index ranges of consecutive equal document ids.

    Example:
        >>> document_runs([0, 0, 1, 1, 1, 0])
        [range(0, 2), range(2, 5), range(5, 6)]
    """
    runs: list[range] = []
    start = 0
    for i in range(1, len(documents) + 1):
        if i == len(documents) or documents[i] != documents[start]:
            runs.append(range(start, i))
            start = i
    return runs


def document_chunks(documents: Sequence[int], size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of at least ``size`` sentences (or to the end) that end at a
    document boundary.

    Example:
        >>> document_chunks([0, 0, 1, 2, 2, 2, 3], 3)
        [(0, 3), (3, 6), (6, 7)]
    """
    chunks = []
    lo = 0
    for i in range(1, len(documents) + 1):
        if i == len(documents) or (i - lo >= size and documents[i] != documents[i - 1]):
            chunks.append((lo, i))
            lo = i
    return chunks


def make_windows(
    encoded: Sequence[Encoded],
    encoder: TextEncoder,
    *,
    stride: int,
    tags: Sequence[Sequence[str]] | None = None,
    label2id: dict[str, int] | None = None,
    label_all_subwords: bool = False,
    documents: Sequence[int] | None = None,
    context_size: int = 0,
    window: int | None = None,
) -> list[Window]:
    """Model inputs of at most ``window`` content subwords plus the special tokens.

    Args:
        encoded: The tokenized sentences.
        encoder: Gives the special tokens and the default ``window``.
        stride: Step of the windows over a sentence longer than ``window``.
        tags: Word tags of each sentence; with ``label2id``, windows carry aligned label ids
            (only on first subwords unless ``label_all_subwords``), else all ``-100``.
        label2id: Label ids.
        label_all_subwords: Label every subword of a word, not only the first.
        documents: Document id of each sentence (consecutive sentences with the same id form a
            document); ``None``: every sentence is its own document.
        context_size: Subwords of document context on each side (``0``: one input per
            sentence, as without context).
        window: Content subwords per input (default ``encoder.window``).

    A sentence with no subword at all is in no window.
    """
    room = encoder.window if window is None else min(window, encoder.window)
    stride = min(stride, room)
    labelled = _subword_labels(encoded, tags, label2id, label_all_subwords=label_all_subwords)
    if context_size <= 0 or documents is None:
        return _sentence_windows(encoded, labelled, encoder, room=room, stride=stride)
    return _document_windows(
        encoded,
        labelled,
        encoder,
        documents,
        context_size=context_size,
        room=room,
        stride=stride,
    )


def _subword_labels(
    encoded: Sequence[Encoded],
    tags: Sequence[Sequence[str]] | None,
    label2id: dict[str, int] | None,
    *,
    label_all_subwords: bool,
) -> list[list[int]]:
    """Label ids of each sentence's subwords: its tags aligned by
    :func:`~ner_bert.labels.align_labels` when ``tags`` and ``label2id`` are given, else all
    ``-100``."""
    return [
        align_labels(item.word_ids, tags[i], label2id, label_all_subwords=label_all_subwords)
        if tags is not None and label2id is not None
        else [IGNORE_INDEX] * len(item)
        for i, item in enumerate(encoded)
    ]


def _sentence_windows(
    encoded: Sequence[Encoded],
    labelled: Sequence[Sequence[int]],
    encoder: TextEncoder,
    *,
    room: int,
    stride: int,
) -> list[Window]:
    """One input per sentence (no document context), or strided windows
    (:func:`~ner_bert.subwords.windows.plan_windows`) of a sentence longer than ``room``."""
    before, after = tuple(encoder.prefix), tuple(encoder.suffix)
    n_prefix = len(before)
    specials = ((IGNORE_INDEX,) * len(before), (IGNORE_INDEX,) * len(after))
    windows: list[Window] = []
    for index, item in enumerate(encoded):
        ids = item.ids.tolist()
        for start, end in plan_windows(len(item), window=room, stride=stride):
            windows.append(
                Window(
                    input_ids=before + tuple(ids[start:end]) + after,
                    labels=specials[0] + tuple(labelled[index][start:end]) + specials[1],
                    pieces=(Piece(index, start, end, n_prefix),),
                )
            )
    return windows


def _document_windows(
    encoded: Sequence[Encoded],
    labelled: Sequence[Sequence[int]],
    encoder: TextEncoder,
    documents: Sequence[int],
    *,
    context_size: int,
    room: int,
    stride: int,
) -> list[Window]:
    """Inputs over each document's subwords, one per segment planned by
    :func:`~ner_bert.subwords.context.plan_segments`: the predicted subwords (labelled) with
    up to ``context_size`` subwords of context (``-100``) on each side."""
    before, after = tuple(encoder.prefix), tuple(encoder.suffix)
    n_prefix = len(before)
    specials = ((IGNORE_INDEX,) * len(before), (IGNORE_INDEX,) * len(after))
    windows: list[Window] = []
    for run in document_runs(documents):
        lengths = [len(encoded[i]) for i in run]
        bounds = np.cumsum([0, *lengths]).tolist()
        doc_ids = [t for i in run for t in encoded[i].ids.tolist()]
        doc_labels = [label for i in run for label in labelled[i]]
        for seg in plan_segments(lengths, context_size=context_size, window=room, stride=stride):
            pieces = []
            for k, i in enumerate(run):
                a, b = bounds[k], bounds[k + 1]
                lo, hi = max(a, seg.target_start), min(b, seg.target_end)
                if lo < hi:
                    pieces.append(Piece(i, lo - a, hi - a, n_prefix + lo - seg.start))
            labels = (
                [IGNORE_INDEX] * seg.left_context
                + doc_labels[seg.target_start : seg.target_end]
                + [IGNORE_INDEX] * seg.right_context
            )
            windows.append(
                Window(
                    input_ids=before + tuple(doc_ids[seg.start : seg.end]) + after,
                    labels=specials[0] + tuple(labels) + specials[1],
                    pieces=tuple(pieces),
                    left_context=seg.left_context,
                    right_context=seg.right_context,
                )
            )
    return windows


def sentence_probabilities(
    windows: Sequence[Window], outputs: Sequence[np.ndarray], lengths: Sequence[int]
) -> list[np.ndarray | None]:
    """Per-sentence subword probabilities from per-window outputs.

    Args:
        windows: The windows that were run.
        outputs: The model's probabilities for each window, ``(len(window), n_labels)``.
        lengths: Subword count of each sentence.

    Returns:
        ``(lengths[i], n_labels)`` per sentence, or ``None`` for a sentence in no window.
        Where windows of one long sentence overlap, each subword takes the window where it
        has the most context (:func:`ner_bert.subwords.windows.merge_windows`).
    """
    parts: list[list[tuple[np.ndarray, tuple[int, int]]]] = [[] for _ in lengths]
    for window, probs in zip(windows, outputs, strict=True):
        for p in window.pieces:
            n = p.end - p.start
            parts[p.sentence].append((probs[p.position : p.position + n], (p.start, p.end)))
    out: list[np.ndarray | None] = []
    for index, found in enumerate(parts):
        if not found:
            out.append(None)
        elif len(found) == 1 and found[0][1] == (0, lengths[index]):
            out.append(found[0][0])
        else:
            out.append(merge_windows([f[0] for f in found], [f[1] for f in found], lengths[index]))
    return out

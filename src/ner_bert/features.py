"""From tagged words to model inputs: tokenization, label alignment, windows and batches.

Sentences are tokenized once with :class:`ner_bert.encoding.TextEncoder` (the tokenization the
predictor uses; ``word_ids`` gives the word of each subword), labels are aligned with
:func:`ner_bert.labels.align_labels`, and a sentence longer than the model window is split into
overlapping windows with :func:`ner_bert.aggregation.plan_windows`, so every word is trained on
and evaluated, never truncated. Batches are padded to their longest member (dynamic padding)
and, optionally, made of sentences of similar length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .aggregation import plan_windows
from .encoding import Encoded, TextEncoder
from .labels import IGNORE_INDEX, align_labels

__all__ = [
    "Window",
    "collate",
    "length_grouped_batches",
    "make_windows",
]


@dataclass(frozen=True)
class Window:
    """One model input: a sentence, or a window of a long one, with special tokens added.

    ``start``/``end`` are the window's subword range in the sentence (without specials).
    """

    sentence: int
    start: int
    end: int
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)


def make_windows(
    encoded: Sequence[Encoded],
    encoder: TextEncoder,
    *,
    stride: int,
    tags: Sequence[Sequence[str]] | None = None,
    label2id: dict[str, int] | None = None,
    label_all_subwords: bool = False,
) -> list[Window]:
    """Cut every sentence into windows of at most ``encoder.max_length`` tokens (specials too).

    With ``tags`` and ``label2id``, each window carries aligned label ids (``-100`` on special
    tokens, and on non-first subwords unless ``label_all_subwords``); otherwise labels are all
    ``-100``. A sentence with no subword at all gives no window.
    """
    room = encoder.window
    stride = min(stride, room)
    before, after = tuple(encoder.prefix), tuple(encoder.suffix)
    prefix = (IGNORE_INDEX,) * len(before)
    suffix = (IGNORE_INDEX,) * len(after)
    windows: list[Window] = []
    for index, item in enumerate(encoded):
        if tags is not None and label2id is not None:
            labels = align_labels(
                item.word_ids, tags[index], label2id, label_all_subwords=label_all_subwords
            )
        else:
            labels = [IGNORE_INDEX] * len(item)
        ids = item.ids.tolist()
        for start, end in plan_windows(len(item), window=room, stride=stride):
            windows.append(
                Window(
                    sentence=index,
                    start=start,
                    end=end,
                    input_ids=before + tuple(ids[start:end]) + after,
                    labels=prefix + tuple(labels[start:end]) + suffix,
                )
            )
    return windows


def length_grouped_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None,
    group_by_length: bool = True,
) -> list[list[int]]:
    """Batches of indices: shuffled (with ``generator``), of similar lengths when grouped.

    Like the length-grouped sampler of ``transformers``: shuffle, cut into mega-batches of 50
    batches, sort each mega-batch by length, cut into batches, then shuffle the batch order.
    With ``generator=None`` the order is kept (evaluation), sorted by length when grouped.

    Example:
        >>> length_grouped_batches([5, 1, 4, 2], 2, generator=None)
        [[0, 2], [3, 1]]
        >>> length_grouped_batches([5, 1, 4, 2], 2, generator=None, group_by_length=False)
        [[0, 1], [2, 3]]
    """
    n = len(lengths)
    if generator is None:
        order = list(range(n))
        if group_by_length:
            order.sort(key=lambda i: -lengths[i])
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = torch.randperm(n, generator=generator).tolist()
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    mega = batch_size * 50
    batches: list[list[int]] = []
    for m in range(0, n, mega):
        group = sorted(order[m : m + mega], key=lambda i: -lengths[i])
        batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def collate(
    windows: Sequence[Window], pad_id: int, *, multiple_of: int = 8
) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest window: ``input_ids``, ``attention_mask``, ``labels``.

    The width is rounded up to a multiple of ``multiple_of``, so few distinct shapes occur
    (kernels are prepared once per shape) and matrix tiles are full.
    """
    longest = max(len(w) for w in windows)
    width = -(-longest // multiple_of) * multiple_of
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    labels = torch.full((len(windows), width), IGNORE_INDEX, dtype=torch.long)
    for row, window in enumerate(windows):
        n = len(window)
        ids[row, :n] = torch.tensor(window.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(window.labels, dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}

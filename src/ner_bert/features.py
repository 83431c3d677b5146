"""Batches of model inputs: length-grouped batch order and dynamic padding.

The inputs themselves (sentences or document segments, with aligned labels) come from
:func:`ner_bert.inputs.make_windows`. Batches are padded to their longest member (dynamic
padding) and, optionally, made of inputs of similar length.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .inputs import Window
from .labels import IGNORE_INDEX

__all__ = ["collate", "length_grouped_batches"]


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

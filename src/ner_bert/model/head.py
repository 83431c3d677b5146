"""The token-classification head of a model loaded for fine-tuning: kept, reordered or new."""

from __future__ import annotations

import logging
from typing import Any

from ..labels import LabelSet
from .source import ModelSource

__all__ = ["load_with_new_head"]

logger = logging.getLogger("ner_bert.model.loading")


def load_with_new_head(loader: ModelSource, labels: LabelSet) -> Any:
    """An encoder with a head for ``labels``: the checkpoint's own head when it was trained
    for the same labels (its rows reordered if their order differs), else a new one."""
    model = loader.model(
        num_labels=len(labels),
        id2label=labels.id2label,
        label2id=labels.label2id,
        ignore_mismatched_sizes=True,
    )
    old = loader.saved_labels()
    if old is None or old.labels == labels.labels or len(old) != len(labels):
        return model
    source = loader.source
    if set(old.labels) == set(labels.labels) and _reorder_head(model, old, labels):
        logger.warning(
            "%s: its head was trained for the same labels in another order (%s); reusing it "
            "with its rows reordered to %s.",
            source,
            list(old.labels),
            list(labels.labels),
        )
        return model
    logger.warning(
        "%s: its head was trained for labels %s, not %s; re-initializing the head.",
        source,
        list(old.labels),
        list(labels.labels),
    )
    _reset_head(model)
    return model


def _classifier(model: Any) -> Any:
    import torch

    head = getattr(model, "classifier", None)
    return head if isinstance(head, torch.nn.Linear) else None


def _reorder_head(model: Any, old: LabelSet, new: LabelSet) -> bool:
    """Permute the head's rows from ``old``'s label order to ``new``'s (what run_ner.py does
    with a checkpoint whose label2id matches in another order); False if there is no plain
    linear head to reorder."""
    import torch

    head = _classifier(model)
    if head is None:
        return False
    rows = torch.tensor([old.label2id[label] for label in new.labels])
    with torch.no_grad():
        head.weight.copy_(head.weight[rows].clone())
        if head.bias is not None:
            head.bias.copy_(head.bias[rows].clone())
    return True


def _reset_head(model: Any) -> None:
    import torch

    head = _classifier(model)
    if head is None:
        return
    std = float(getattr(model.config, "initializer_range", 0.02))
    with torch.no_grad():
        head.weight.normal_(0.0, std)
        if head.bias is not None:
            head.bias.zero_()

"""Training data in: sentences or a ``datasets.Dataset`` checked and turned into model inputs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataFormatError
from .inputs import Window, make_windows
from .labels import LabelSet, convert_to_iob2, split_tag
from .types import TaggedSentence

if TYPE_CHECKING:  # pragma: no cover
    from .training import NERTrainer

__all__ = ["as_sentences", "warn_unseen", "windows_for"]

logger = logging.getLogger("ner_bert.training")


def as_sentences(data: Any, name: str) -> list[TaggedSentence]:
    """Accept sentences or a ``datasets.Dataset``; check they are non-empty IOB2."""
    if type(data).__module__.startswith("datasets"):
        from .hf_datasets import from_hf_dataset

        sentences = from_hf_dataset(data)
    elif isinstance(data, (str, bytes, Path)) or not isinstance(data, Sequence):
        raise DataFormatError(
            f"{name} data must be a list of TaggedSentence (from read_conll, read_jsonl, ...) "
            f"or a datasets.Dataset, got {type(data).__name__}; read files with "
            "ner_bert.read_conll(path) first."
        )
    else:
        sentences = list(data)
    if not sentences:
        raise DataFormatError(f"the {name} data is empty (no sentences); nothing to train on.")
    for index, sentence in enumerate(sentences):
        if not isinstance(sentence, TaggedSentence):
            raise DataFormatError(
                f"{name} item {index} is a {type(sentence).__name__}, not a TaggedSentence; "
                "build sentences with TaggedSentence(words=..., tags=...) or a reader."
            )
        convert_to_iob2(sentence.tags, "IOB2", where=sentence.source or f"{name}[{index}]")
    if not any(len(s) for s in sentences):
        raise DataFormatError(f"the {name} data has no words (every sentence is empty).")
    return sentences


def warn_unseen(sentences: Sequence[TaggedSentence], labels: LabelSet, what: str) -> None:
    known = set(labels.entity_types)
    unseen = sorted(
        {k for s in sentences for t in s.tags if (k := split_tag(t)[1]) and k not in known}
    )
    if unseen:
        logger.warning(
            "%s has entity types %s the model does not have (labels %s); they are scored as "
            "missed entities.",
            what,
            unseen,
            list(labels.entity_types),
        )


def windows_for(trainer: NERTrainer, sentences: list[TaggedSentence]) -> list[Window]:
    assert trainer.labels is not None
    encoded = trainer._encoder.encode_words([s.words for s in sentences])
    return make_windows(
        encoded,
        trainer._encoder,
        stride=trainer.stride,
        tags=[s.tags for s in sentences],
        label2id=trainer.labels.label2id,
        label_all_subwords=trainer.config.label_all_subwords,
        documents=[s.document for s in sentences],
        context_size=trainer.config.context_size,
    )

"""Training on a streamed ``datasets.IterableDataset``, never materialized.

A stream has no length and cannot be read twice for free, so a streamed run differs from a
list-based one in three ways, all checked before the model is loaded: the labels come from
the stream's ``ClassLabel`` or from ``NERTrainer(labels=...)`` (they cannot be collected from
data not yet read), the run's length is ``max_steps`` (``transformers.Trainer`` requires it for
an ``IterableDataset``; each pass over the stream is one epoch), and the first rows are read
and checked up front (:data:`PEEK_ROWS`), while a bad row further on stops training with an
error that names it. Document context works on runs of consecutive rows of one document.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch

from ..config import TrainingConfig
from ..errors import ConfigError, DataFormatError, LabelError
from ..labels import LabelSet
from ..subwords.encoding import TextEncoder
from ..types import TaggedSentence
from .data import as_sentences, training_windows

__all__ = ["PEEK_ROWS", "StreamedWindows", "check_streamed_run", "is_streamed", "read_run_data"]

PEEK_ROWS = 1000
"""Rows of a stream read and checked before the model is loaded."""


def is_streamed(data: Any) -> bool:
    """Whether ``data`` is a ``datasets.IterableDataset``."""
    return type(data).__name__ == "IterableDataset" and type(data).__module__.startswith("datasets")


def sentences_of(stream: Any) -> Iterator[TaggedSentence]:
    """The stream's rows as IOB2 sentences, read one at a time (its default columns)."""
    from ..data.hf_datasets import stream_hf_dataset

    return stream_hf_dataset(stream)


def read_run_data(
    train: Any, eval: Any
) -> tuple[list[TaggedSentence], list[TaggedSentence] | None, bool]:
    """The sentences of a run's ``train`` and ``eval`` data, and whether ``train`` is streamed.

    Of a streamed train set only the first :data:`PEEK_ROWS` rows are read (and checked); a
    streamed eval set is read whole (it is scored whole at every evaluation anyway).

    Raises:
        DataFormatError: Empty or malformed data (see :func:`.data.as_sentences`).
    """
    streamed = is_streamed(train)
    if streamed:
        first = list(itertools.islice(sentences_of(train), PEEK_ROWS))
        if not first:
            raise DataFormatError("the streamed train data is empty (no rows).")
        train_sentences = as_sentences(first, "train")
    else:
        train_sentences = as_sentences(train, "train")
    if eval is not None and is_streamed(eval):
        eval = list(sentences_of(eval))
    return train_sentences, None if eval is None else as_sentences(eval, "eval"), streamed


def check_streamed_run(training_args: dict[str, Any], labels: LabelSet | None) -> LabelSet:
    """The labels of a streamed run; refuse one without labels or ``max_steps``, or one that
    asks for several data-loading workers.

    Raises:
        LabelError: Neither the stream's IOB2 ``ClassLabel`` nor ``labels=`` gives the labels.
        ConfigError: ``training_args`` has no ``max_steps > 0``, or ``dataloader_num_workers``
            above 0 (each worker would read the whole stream).
    """
    if labels is None:
        raise LabelError(
            "a streamed dataset cannot be read ahead for its labels; give them: an IOB2 "
            "ClassLabel tag column (dataset.cast_column), or NERTrainer(..., labels=['O', "
            "'B-PER', ...]). Streamed tags must be IOB2 (convert others with dataset.map)."
        )
    steps = training_args.get("max_steps", -1)
    if not isinstance(steps, int) or steps <= 0:
        raise ConfigError(
            "a streamed dataset has no length, so the run needs one: pass "
            "training_args={'max_steps': N} (each pass over the stream is one epoch; use "
            "eval_strategy='steps' with eval_steps to evaluate within a pass)."
        )
    if training_args.get("dataloader_num_workers", 0):
        raise ConfigError(
            "a streamed dataset is read in the training process: dataloader_num_workers must "
            "be 0 (each worker would read the whole stream)."
        )
    return labels


class StreamedWindows(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """The training inputs of a stream, made as the Trainer reads them: one document (a run
    of consecutive rows with the same document) at a time becomes windows with labels.

    ``epoch`` is set by :class:`~ner_bert.training.hf_trainer.EpochCallback` (context dropout
    is not applied to streams: it needs an input index stable across passes).
    """

    def __init__(
        self,
        stream: Any,
        encoder: TextEncoder,
        labels: LabelSet,
        config: TrainingConfig,
        *,
        stride: int,
    ) -> None:
        self.stream = stream
        self.encoder = encoder
        self.labels = labels
        self.config = config
        self.stride = stride
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """A new pass: the stream reshuffles if it was built with ``.shuffle(...)``."""
        self.epoch = epoch
        if hasattr(self.stream, "set_epoch"):
            self.stream.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict[str, list[int]]]:
        known = set(self.labels.labels)
        for chunk in _whole_documents(sentences_of(self.stream), _CHUNK_SENTENCES):
            for sentence in chunk:
                unknown = sorted(set(sentence.tags) - known)
                if unknown:
                    raise LabelError(
                        f"{sentence.source}: tags {unknown} are not in the run's labels "
                        f"{list(self.labels.labels)}; add them to labels=[...]."
                    )
            for window in training_windows(
                chunk,
                self.encoder,
                self.labels,
                stride=self.stride,
                label_all_subwords=self.config.label_all_subwords,
                context_size=self.config.context_size,
            ):
                yield {"input_ids": list(window.input_ids), "labels": list(window.labels)}


_CHUNK_SENTENCES = 256
"""Sentences tokenized together (one tokenizer call), rounded up to whole documents."""


def _whole_documents(
    sentences: Iterator[TaggedSentence], size: int
) -> Iterator[list[TaggedSentence]]:
    """Consecutive sentences in lists of about ``size``, never cutting a document."""
    chunk: list[TaggedSentence] = []
    for sentence in sentences:
        if len(chunk) >= size and sentence.document != chunk[-1].document:
            yield chunk
            chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk

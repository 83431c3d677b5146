"""Subword scores -> word probabilities -> valid IOB2 tags -> character spans.

numpy only (no torch, no transformers), so every step is testable with hand-written arrays.
Training-time evaluation and :class:`~ner_bert.prediction.NERPredictor` both go through
:func:`word_probabilities` and :func:`decode_tags`, so they give the same tags for the same
model and words.

Scores, as used throughout ner_bert:

* a **word's probability** of a label is the softmax output of the subword(s) chosen by the
  aggregation strategy (``first``: the word's first subword; ``average``: the mean of its
  subwords' distributions; ``max``: the distribution of the subword with the highest single
  probability);
* a **word's score** is its probability of the tag it was finally given (after decoding);
* an **entity's score** is the mean of its words' scores.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from enum import Enum

import numpy as np

from .._choices import parse_choice
from ..errors import ConfigError, DataFormatError
from ..labels import LabelSet, split_tag, tags_to_spans
from ..types import Entity

__all__ = [
    "Aggregation",
    "Decoding",
    "allowed_transitions",
    "char_entities",
    "decode_many",
    "decode_tags",
    "parse_aggregation",
    "parse_decoding",
    "word_probabilities",
]

NO_SUBWORD_SCORE = 1.0
"""Score of the ``O`` tag given to a word that has no subword (the tokenizer dropped it)."""


class Aggregation(str, Enum):
    """How the subword predictions of a word become one prediction (names from transformers)."""

    FIRST = "first"
    AVERAGE = "average"
    MAX = "max"


class Decoding(str, Enum):
    """How word probabilities become tags.

    ``viterbi`` finds the most probable tag sequence among valid IOB2 sequences (``I-X`` only
    after ``B-X`` or ``I-X``); ``greedy`` takes each word's most probable label and reads a
    stray ``I-X`` as opening a mention (``B-X``).
    """

    VITERBI = "viterbi"
    GREEDY = "greedy"


def parse_aggregation(value: Aggregation | str) -> Aggregation:
    """Parse an aggregation name; the error lists the choices.

    Example:
        >>> parse_aggregation("average")
        <Aggregation.AVERAGE: 'average'>
    """
    return parse_choice(Aggregation, "aggregation", value)


def parse_decoding(value: Decoding | str) -> Decoding:
    """Parse a decoding name; the error lists the choices.

    Example:
        >>> parse_decoding("greedy")
        <Decoding.GREEDY: 'greedy'>
    """
    return parse_choice(Decoding, "decoding", value)


def word_probabilities(
    subword_probs: np.ndarray,
    word_ids: Sequence[int | None],
    n_words: int,
    strategy: Aggregation | str = "first",
) -> np.ndarray:
    """One probability distribution per word from the subword distributions.

    Args:
        subword_probs: ``(n_subwords, n_labels)`` softmax outputs, one row per token of
            ``word_ids`` (rows of special tokens are ignored).
        word_ids: For each subword, its word index, or ``None`` for special tokens.
        n_words: Number of words. A word with no subword (the tokenizer dropped it, e.g. a
            lone zero-width character) gets an all-zero row, which :func:`decode_tags` tags
            ``O``.
        strategy: ``"first"`` (the first subword's distribution; matches training, where only
            first subwords carry a label), ``"average"`` (mean over the word's subwords) or
            ``"max"`` (the distribution of the subword with the highest single probability).

    Returns:
        An array ``(n_words, n_labels)``.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
        >>> word_probabilities(probs, [None, 0, 0, 1], 2, "first").tolist()
        [[0.2, 0.8], [0.5, 0.5]]
        >>> word_probabilities(probs, [None, 0, 0, 1], 2, "average").round(2).tolist()
        [[0.4, 0.6], [0.5, 0.5]]
        >>> word_probabilities(probs, [None, 0, 0, 1], 3, "max").tolist()
        [[0.2, 0.8], [0.5, 0.5], [0.0, 0.0]]
    """
    strategy = parse_aggregation(strategy)
    subword_probs = np.asarray(subword_probs)
    if subword_probs.ndim != 2 or subword_probs.shape[0] != len(word_ids):
        raise DataFormatError(
            f"subword_probs must be (n_subwords, n_labels) with n_subwords == len(word_ids) "
            f"= {len(word_ids)}, got shape {subword_probs.shape}."
        )
    out = np.zeros((n_words, subword_probs.shape[1]), dtype=subword_probs.dtype)
    every = np.fromiter(
        (_NO_WORD if w is None else w for w in word_ids), dtype=np.int64, count=len(word_ids)
    )
    rows = np.flatnonzero(every != _NO_WORD)
    if rows.size == 0:
        return out
    words = _checked_word_indices(every[rows], n_words)
    probs = subword_probs[rows]
    if strategy is Aggregation.FIRST:
        _first_subword(out, words, probs)
    elif strategy is Aggregation.AVERAGE:
        _average_subwords(out, words, probs)
    else:
        _max_subword(out, words, probs)
    return out


_NO_WORD = np.iinfo(np.int64).min
"""Stands for ``None`` (a special token) in an array of word ids."""


def _checked_word_indices(words: np.ndarray, n_words: int) -> np.ndarray:
    """``words`` (word indices of subwords), checked to be in ``[0, n_words)``."""
    if words.min() < 0 or words.max() >= n_words:
        raise DataFormatError(
            f"word id {int(words.max() if words.max() >= n_words else words.min())} is out of "
            f"range for {n_words} words; word_ids and n_words must come from the same input."
        )
    return words


def _first_subword(out: np.ndarray, words: np.ndarray, probs: np.ndarray) -> None:
    """``first``: each word in ``out`` gets the distribution of its first subword."""
    present, first = np.unique(words, return_index=True)
    out[present] = probs[first]


def _average_subwords(out: np.ndarray, words: np.ndarray, probs: np.ndarray) -> None:
    """``average``: each word in ``out`` gets the mean distribution of its subwords."""
    np.add.at(out, words, probs)
    counts = np.bincount(words, minlength=out.shape[0]).astype(out.dtype)
    nonzero = counts > 0
    out[nonzero] /= counts[nonzero, None]


def _max_subword(out: np.ndarray, words: np.ndarray, probs: np.ndarray) -> None:
    """``max``: each word in ``out`` gets the distribution of its subword with the highest
    single probability (the earliest such subword on ties)."""
    # Sort by word, then peak descending, then position, and take each word's first row.
    order = np.lexsort((np.arange(len(words)), -probs.max(axis=1), words))
    present, first = np.unique(words[order], return_index=True)
    out[present] = probs[order[first]]


@functools.lru_cache(maxsize=64)
def allowed_transitions(labels: LabelSet) -> tuple[np.ndarray, np.ndarray]:
    """The IOB2 constraints as boolean arrays.

    Returns:
        ``(start, transition)``: ``start[j]`` says label ``j`` may open a sentence;
        ``transition[i, j]`` says label ``j`` may follow label ``i``. ``I-X`` may only follow
        ``B-X`` or ``I-X``; everything else is allowed.

    Example:
        >>> start, trans = allowed_transitions(LabelSet(("O", "B-PER", "I-PER")))
        >>> start.tolist()
        [True, True, False]
        >>> trans.astype(int).tolist()
        [[1, 1, 0], [1, 1, 1], [1, 1, 1]]
    """
    parsed = [split_tag(label) for label in labels.labels]
    n = len(parsed)
    start = np.array([prefix != "I" for prefix, _ in parsed], dtype=bool)
    transition = np.ones((n, n), dtype=bool)
    for j, (prefix, kind) in enumerate(parsed):
        if prefix == "I":
            transition[:, j] = [k == kind and p in ("B", "I") for p, k in parsed]
    start.flags.writeable = transition.flags.writeable = False  # shared by the cache
    return start, transition


def _outside_id(labels: LabelSet) -> int:
    try:
        return labels.labels.index("O")
    except ValueError:
        raise ConfigError(
            f"the label set {list(labels.labels)} has no 'O' label; IOB2 models need one."
        ) from None


def decode_tags(
    word_probs: np.ndarray, labels: LabelSet, *, decoding: Decoding | str = "viterbi"
) -> tuple[list[str], list[float]]:
    """Valid IOB2 tags, one per word, and each word's probability of its tag.

    Args:
        word_probs: ``(n_words, n_labels)`` word probabilities, columns in ``labels`` order
            (from :func:`word_probabilities`). An all-zero row (a word with no subword) is
            tagged ``O`` with score 1.0.
        labels: The model's labels.
        decoding: ``"viterbi"`` (default): the most probable valid IOB2 sequence under the
            model's (independent) word probabilities. ``"greedy"``: each word's most probable
            label, with a stray ``I-X`` rewritten to ``B-X``; its score stays the probability
            of the label the model chose.

    Returns:
        ``(tags, scores)``; scores are plain floats.

    Example:
        >>> labels = LabelSet(("O", "B-PER", "I-PER"))
        >>> probs = np.array([[0.4, 0.1, 0.5], [0.3, 0.1, 0.6]])
        >>> decode_tags(probs, labels, decoding="greedy")
        (['B-PER', 'I-PER'], [0.5, 0.6])
        >>> tags, scores = decode_tags(probs, labels)
        >>> tags, [round(s, 2) for s in scores]
        (['O', 'O'], [0.4, 0.3])
    """
    return decode_many([word_probs], labels, decoding=decoding)[0]


_GROUP_CELLS = 1 << 20
"""Batched Viterbi decodes sentences of similar length together, at most this many
(sentence x word) cells at a time (bounds memory when one sentence is very long)."""


def decode_many(
    word_probs: Sequence[np.ndarray], labels: LabelSet, *, decoding: Decoding | str = "viterbi"
) -> list[tuple[list[str], list[float]]]:
    """:func:`decode_tags` of many sentences at once: the same tags and scores, with the
    Viterbi steps of sentences of similar length run together (one numpy step per word
    position of a group instead of one per word).

    Example:
        >>> labels = LabelSet(("O", "B-PER", "I-PER"))
        >>> many = decode_many([np.array([[0.1, 0.6, 0.3], [0.2, 0.1, 0.7]]),
        ...                     np.zeros((0, 3))], labels)
        >>> [(tags, [round(s, 2) for s in scores]) for tags, scores in many]
        [(['B-PER', 'I-PER'], [0.6, 0.7]), ([], [])]
    """
    decoding = parse_decoding(decoding)
    prepared = [_checked_probabilities(p, labels) for p in word_probs]
    if decoding is Decoding.GREEDY:
        return [_greedy(p, labels) for p in prepared]
    out: list[tuple[list[str], list[float]]] = [([], [])] * len(prepared)
    start, transition = allowed_transitions(labels)
    rest = []
    for index, probs in enumerate(prepared):
        if not len(probs):
            continue
        # No valid sequence scores more than every word's most probable label; when those
        # labels already form a valid sequence, it is the Viterbi path (most sentences: the
        # dynamic programme below runs only for the others).
        best = probs.argmax(axis=1)
        if start[best[0]] and transition[best[:-1], best[1:]].all():
            out[index] = _tags_and_scores(probs, best, labels)
        else:
            rest.append(index)
    order = sorted(rest, key=lambda i: len(prepared[i]))
    position = 0
    while position < len(order):
        group = [order[position]]  # shortest first: each new one is the group's longest
        position += 1
        while position < len(order) and (
            (len(group) + 1) * len(prepared[order[position]]) <= _GROUP_CELLS
        ):
            group.append(order[position])
            position += 1
        paths = _viterbi_batch([prepared[i] for i in group], start, transition)
        for index, ids in zip(group, paths, strict=True):
            out[index] = _tags_and_scores(prepared[index], ids, labels)
    return out


def _tags_and_scores(
    word_probs: np.ndarray, ids: np.ndarray, labels: LabelSet
) -> tuple[list[str], list[float]]:
    """The tags of label ids ``ids`` and each word's probability of its tag."""
    scores = word_probs[np.arange(len(ids)), ids]
    return [labels.labels[i] for i in ids.tolist()], scores.tolist()


def _checked_probabilities(word_probs: np.ndarray, labels: LabelSet) -> np.ndarray:
    """float64 word probabilities, a word without subwords (all-zero row) set to ``O``."""
    word_probs = np.asarray(word_probs, dtype=np.float64)
    if word_probs.ndim != 2 or word_probs.shape[1] != len(labels):
        raise DataFormatError(
            f"word_probs must be (n_words, {len(labels)}) for labels {list(labels.labels)}, "
            f"got shape {word_probs.shape}."
        )
    if word_probs.shape[0] == 0:
        return word_probs
    outside = _outside_id(labels)
    empty = ~(word_probs > 0).any(axis=1)
    if empty.any():
        word_probs = word_probs.copy()
        word_probs[empty] = 0.0
        word_probs[empty, outside] = NO_SUBWORD_SCORE
    return word_probs


def _greedy(word_probs: np.ndarray, labels: LabelSet) -> tuple[list[str], list[float]]:
    n_words = word_probs.shape[0]
    if n_words == 0:
        return [], []
    ids = word_probs.argmax(axis=1)
    scores = word_probs[np.arange(n_words), ids]
    tags = [labels.labels[i] for i in ids.tolist()]
    previous: str | None = None
    for index, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix == "I" and previous != kind:
            tags[index] = "B-" + str(kind)
        previous = kind
    return tags, [float(s) for s in scores.tolist()]


def _viterbi_batch(
    word_probs: Sequence[np.ndarray], start: np.ndarray, transition: np.ndarray
) -> list[np.ndarray]:
    """The best valid label path of each sentence (same arithmetic as one at a time).

    Sentences are padded to the longest; past its end a sentence's score is frozen and its
    backpointer is the identity, so its path ends with the label that was best at its end.
    """
    lengths = np.array([len(p) for p in word_probs], dtype=np.int64)
    n_sentences, n_steps, n_labels = len(word_probs), int(lengths.max()), start.shape[0]
    emissions = np.zeros((n_sentences, n_steps, n_labels))
    with np.errstate(divide="ignore"):
        for i, probs in enumerate(word_probs):
            emissions[i, : len(probs)] = np.log(np.maximum(probs, 1e-30))
    penalty = np.where(transition, 0.0, -np.inf)
    identity = np.broadcast_to(np.arange(n_labels), (n_sentences, n_labels))
    backpointers = np.zeros((n_sentences, n_steps, n_labels), dtype=np.int64)
    score = np.where(start, emissions[:, 0], -np.inf)
    rows = np.arange(n_sentences)[:, None]
    for t in range(1, n_steps):
        candidates = score[:, :, None] + penalty  # (sentence, previous label, next label)
        best_previous = candidates.argmax(axis=1)
        stepped = candidates[rows, best_previous, np.arange(n_labels)] + emissions[:, t]
        active = (t < lengths)[:, None]
        score = np.where(active, stepped, score)
        backpointers[:, t] = np.where(active, best_previous, identity)
    ids = np.zeros((n_sentences, n_steps), dtype=np.int64)
    ids[:, -1] = score.argmax(axis=1)
    for t in range(n_steps - 1, 0, -1):
        ids[:, t - 1] = backpointers[np.arange(n_sentences), t, ids[:, t]]
    return [ids[i, : lengths[i]] for i in range(n_sentences)]


def char_entities(
    text: str,
    word_spans: Sequence[tuple[int, int]],
    tags: Sequence[str],
    scores: Sequence[float],
) -> list[Entity]:
    """Entities with character offsets from word tags.

    An entity runs from the start of its first word to the end of its last word, trimmed of
    surrounding whitespace; its score is the mean of its words' scores. An entity that is
    empty after trimming is dropped (it covered nothing but whitespace).

    Args:
        text: The original string; ``word_spans`` index it.
        word_spans: ``(start, end)`` character span of each word.
        tags: One IOB2 tag per word.
        scores: One score per word.

    Example:
        >>> text = "Ms. Ada Lovelace spoke"
        >>> spans = [(0, 3), (4, 7), (8, 16), (17, 22)]
        >>> [e.text for e in char_entities(text, spans, ["O", "B-PER", "I-PER", "O"], [1.0] * 4)]
        ['Ada Lovelace']
    """
    if not len(word_spans) == len(tags) == len(scores):
        raise DataFormatError(
            f"got {len(word_spans)} word spans, {len(tags)} tags and {len(scores)} scores; "
            "give one of each per word."
        )
    entities: list[Entity] = []
    for span in tags_to_spans(tags):
        start = word_spans[span.start][0]
        end = word_spans[span.end - 1][1]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        score = float(sum(scores[span.start : span.end]) / (span.end - span.start))
        entities.append(
            Entity(label=span.label, start=start, end=end, score=score, text=text[start:end])
        )
    return entities

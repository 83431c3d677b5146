"""Predicting on spaCy docs: the doc's text (or its tokens) goes to the model, the entities
come back as spans on the doc's tokens.

Whitespace-only tokens are not shown to the model, and a line break ends a sentence (as in
raw text). A doc with sentence boundaries is read sentence by sentence, each sentence with the
doc's other sentences as its document (context for a model trained with ``context_size``); a
doc without boundaries is one sequence.
"""

import logging
from enum import Enum
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from .._choices import parse_choice
from ..errors import NerBertError
from ..labels import tags_to_spans

if TYPE_CHECKING:  # pragma: no cover
    from ..prediction import NERPredictor

__all__ = ["WordSource", "parse_word_source", "predict_spans", "word_units"]

logger = logging.getLogger(__name__)

Predicted = list[list[tuple[Span, float]]]
"""Each doc's predicted spans, with their scores (the mean of their words' scores)."""


class WordSource(str, Enum):
    """Which words the model reads a doc as (the component's ``words`` setting).

    * ``text`` (default): the words ner_bert cuts the doc's text into, as
      ``NERPredictor.predict`` does (treebank words, as NER corpora write them: spaCy splits
      ``Soviet-imposed`` into three tokens, CoNLL-2003 keeps one word); the entities' character
      spans are then mapped onto the doc's tokens.
    * ``tokens``: the doc's tokens themselves (``NERPredictor.predict_words``), for a model
      fine-tuned on spaCy-tokenized data such as a ``.spacy`` corpus.
    """

    TEXT = "text"
    TOKENS = "tokens"


def parse_word_source(value: "WordSource | str") -> WordSource:
    """Parse a ``words`` setting; the error lists the choices.

    Example:
        >>> parse_word_source("tokens")
        <WordSource.TOKENS: 'tokens'>
    """
    return parse_choice(WordSource, "words", value, where="ner_bert component: ")


def word_units(docs: list[Doc]) -> list[tuple[int, list[int]]]:
    """The sequences to predict on: ``(doc index, token indices)``, one per sentence of a doc
    with sentence boundaries (else one per doc) and one per line within it, without
    whitespace tokens or empty units.

    Example:
        >>> from spacy.lang.en import English
        >>> vocab = English().vocab
        >>> one = Doc(vocab, words=["Ada", " ", "is", "here"])
        >>> two = Doc(vocab, words=["Hi", ".", "Bye"], sent_starts=[True, False, True])
        >>> lines = Doc(vocab, words=["Hi", "\\n", "Bye"])
        >>> word_units([one, Doc(vocab, words=[" "]), two, lines])
        [(0, [0, 2, 3]), (2, [0, 1]), (2, [2]), (3, [0]), (3, [2])]
    """
    units: list[tuple[int, list[int]]] = []
    for i, doc in enumerate(docs):
        parts = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        for part in parts:
            ids: list[int] = []
            for token in part:
                if not token.is_space:
                    ids.append(token.i)
                elif "\n" in token.text and ids:  # a line break ends a sentence, as in text
                    units.append((i, ids))
                    ids = []
            if ids:
                units.append((i, ids))
    return units


def predict_spans(
    predictor: "NERPredictor",
    docs: list[Doc],
    *,
    batch_size: int,
    words: WordSource = WordSource.TEXT,
) -> Predicted:
    """Each doc's predicted spans (on its tokens) with their scores, from one model call over
    all the docs' units (:func:`word_units`), read as ``words`` says."""
    units = word_units(docs)
    if not units:
        return [[] for _ in docs]
    if words is WordSource.TOKENS:
        return _predict_on_tokens(predictor, docs, units, batch_size)
    return _predict_on_text(predictor, docs, units, batch_size)


def _predict_on_tokens(
    predictor: "NERPredictor", docs: list[Doc], units: list[tuple[int, list[int]]], batch_size: int
) -> Predicted:
    spans: Predicted = [[] for _ in docs]
    predictions = predictor.predict_words(
        [[docs[i][t].text for t in ids] for i, ids in units],
        documents=[i for i, _ in units],
        batch_size=batch_size,
    )
    for (i, ids), preds in zip(units, predictions, strict=True):
        for mention in tags_to_spans([p.tag for p in preds]):
            scores = [p.score for p in preds[mention.start : mention.end]]
            start, end = ids[mention.start], ids[mention.end - 1] + 1
            span = Span(docs[i], start, end, label=mention.label)
            spans[i].append((span, float(sum(scores) / len(scores))))
    return spans


def _predict_on_text(
    predictor: "NERPredictor", docs: list[Doc], units: list[tuple[int, list[int]]], batch_size: int
) -> Predicted:
    texts: list[list[str]] = [[] for _ in docs]  # each doc's unit texts: one document each
    offsets: list[int] = []
    for i, ids in units:
        first, last = docs[i][ids[0]], docs[i][ids[-1]]
        texts[i].append(docs[i].text[first.idx : last.idx + len(last.text)])
        offsets.append(first.idx)
    documents = predictor.predict_documents(texts, batch_size=batch_size)
    found = [entities for document in documents for entities in document]  # in unit order
    spans: Predicted = [[] for _ in docs]
    for (i, _), offset, entities in zip(units, offsets, found, strict=True):
        for entity in entities:
            span = _token_span(docs[i], offset + entity.start, offset + entity.end, entity.label)
            if spans[i] and span.start < spans[i][-1][0].end:
                logger.warning(
                    "ner_bert: entity %r (%s) shares a spaCy token with the entity before it "
                    "and is left out; spaCy tokens: %r",
                    entity.text,
                    entity.label,
                    [t.text for t in span],
                )
                continue
            spans[i].append((span, entity.score))
    return spans


def _token_span(doc: Doc, start: int, end: int, label: str) -> Span:
    """The tokens of characters ``start:end``; an entity that starts or ends inside a token
    (the tokenizer joined it to a neighbouring word) takes the whole token."""
    span = doc.char_span(start, end, label=label, alignment_mode="strict")
    if span is None:
        # expand finds the tokens of any non-empty character span inside the doc
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        logger.debug("ner_bert: entity %r widened to spaCy tokens %r", doc.text[start:end], span)
    if span is None:  # pragma: no cover - an entity is never empty nor outside its text
        raise NerBertError(f"no spaCy tokens cover characters {start}:{end} of the doc")
    return span

"""Predicting on spaCy docs: their tokens go to the model as words, the tags come back as spans.

Whitespace-only tokens are not shown to the model, and a line break ends a sentence (as in
raw text). A doc with sentence boundaries is read sentence by sentence, each sentence with the
doc's other sentences as its document (context for a model trained with ``context_size``); a
doc without boundaries is one sequence.
"""

from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span

from ..labels import tags_to_spans

if TYPE_CHECKING:  # pragma: no cover
    from ..prediction import NERPredictor

__all__ = ["predict_spans", "word_units"]


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
    predictor: "NERPredictor", docs: list[Doc], *, batch_size: int
) -> list[list[tuple[Span, float]]]:
    """Each doc's predicted spans (on its tokens) with their scores, the mean of their words'
    scores, from one ``predict_words`` call over all the docs' units (:func:`word_units`)."""
    units = word_units(docs)
    spans: list[list[tuple[Span, float]]] = [[] for _ in docs]
    if not units:
        return spans
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

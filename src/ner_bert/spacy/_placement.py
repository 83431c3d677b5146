"""Placing predicted spans on a spaCy ``Doc``: ``doc.ents`` by policy, ``doc.spans``, scores.

``doc.ents`` cannot overlap, so an :class:`EntsPolicy` says what happens to entities that are
already there. The functions here only write the doc; the component logs what could not be
placed (:func:`describe_unplaced`), so no prediction is dropped silently.
"""

from collections.abc import Iterable
from enum import Enum

from spacy.tokens import Doc, Span

from .._choices import parse_choice

__all__ = [
    "SCORE_EXTENSION",
    "EntsPolicy",
    "describe_unplaced",
    "parse_policy",
    "place_spans",
    "register_score_extension",
]

SCORE_EXTENSION = "ner_bert_score"
"""Name of the span extension holding a predicted span's score: ``span._.ner_bert_score``."""


class EntsPolicy(str, Enum):
    """What happens to entities already in ``doc.ents`` (from earlier components).

    * ``keep`` (default): existing entities stay; a prediction is added where it overlaps
      none of them, otherwise it is logged (and kept in ``doc.spans[spans_key]`` if set).
    * ``overwrite``: ``doc.ents`` becomes the predictions alone; existing entities are removed.
    * ``replace_overlapping``: predictions win; existing entities that overlap a prediction
      are removed, the others stay.
    * ``spans_only``: ``doc.ents`` is not touched; predictions go only to
      ``doc.spans[spans_key]`` (``spans_key`` is required).
    """

    KEEP = "keep"
    OVERWRITE = "overwrite"
    REPLACE_OVERLAPPING = "replace_overlapping"
    SPANS_ONLY = "spans_only"


def parse_policy(value: "EntsPolicy | str") -> EntsPolicy:
    """Parse a policy name; the error lists the choices.

    Example:
        >>> parse_policy("overwrite")
        <EntsPolicy.OVERWRITE: 'overwrite'>
    """
    return parse_choice(EntsPolicy, "policy", value, where="ner_bert component: ")


def register_score_extension() -> None:
    """Register ``span._.ner_bert_score`` (default ``None``) if it is not registered yet."""
    if not Span.has_extension(SCORE_EXTENSION):
        Span.set_extension(SCORE_EXTENSION, default=None)


def place_spans(
    doc: Doc,
    predicted: list[tuple[Span, float]],
    *,
    policy: EntsPolicy,
    spans_key: str | None,
) -> list[Span]:
    """Write predicted ``(span, score)`` pairs onto ``doc``; return those not placed in ents.

    Every span gets its score as ``span._.ner_bert_score``; with ``spans_key`` all of them go
    to ``doc.spans[spans_key]`` (scores in its ``attrs["scores"]``); ``doc.ents`` follows the
    ``policy``. Only ``keep`` can leave predictions out of ``doc.ents``: those overlapping an
    existing entity (unless the very same entity is already there) are returned.

    Example:
        >>> from spacy.vocab import Vocab
        >>> doc = Doc(Vocab(), words=["Ada", "Lovelace", "in", "London"])
        >>> doc.ents = [Span(doc, 0, 1, label="RULE")]
        >>> ours = [(Span(doc, 0, 2, label="PER"), 0.9), (Span(doc, 3, 4, label="LOC"), 0.8)]
        >>> place_spans(doc, ours, policy=EntsPolicy.KEEP, spans_key=None)
        [Ada Lovelace]
        >>> [(e.text, e.label_) for e in doc.ents]
        [('Ada', 'RULE'), ('London', 'LOC')]
        >>> place_spans(doc, ours, policy=EntsPolicy.REPLACE_OVERLAPPING, spans_key="all")
        []
        >>> [(e.text, e.label_) for e in doc.ents], doc.spans["all"].attrs["scores"]
        ([('Ada Lovelace', 'PER'), ('London', 'LOC')], [0.9, 0.8])
    """
    register_score_extension()
    for span, score in predicted:
        span._.set(SCORE_EXTENSION, score)
    ours = [span for span, _ in predicted]
    if spans_key is not None:
        doc.spans[spans_key] = ours
        doc.spans[spans_key].attrs["scores"] = [score for _, score in predicted]
    if policy is EntsPolicy.SPANS_ONLY:
        return []
    existing = list(doc.ents)
    if policy is EntsPolicy.OVERWRITE or not existing:
        doc.ents = ours
        return []
    if policy is EntsPolicy.REPLACE_OVERLAPPING:
        taken = _token_set(ours)
        kept = [e for e in existing if taken.isdisjoint(range(e.start, e.end))]
        doc.ents = sorted(kept + ours, key=lambda s: s.start)
        return []
    taken = _token_set(existing)
    present = {(e.start, e.end, e.label) for e in existing}
    placed, unplaced = [], []
    for span in ours:
        if taken.isdisjoint(range(span.start, span.end)):
            placed.append(span)
        elif (span.start, span.end, span.label) not in present:  # not already there
            unplaced.append(span)
    doc.ents = sorted(existing + placed, key=lambda s: s.start)
    return unplaced


def describe_unplaced(spans: list[Span], *, spans_key: str | None, shown: int = 20) -> str:
    """The log message for predictions that ``keep`` left out of ``doc.ents``.

    Example:
        >>> from spacy.vocab import Vocab
        >>> doc = Doc(Vocab(), words=["in", "Berlin"])
        >>> print(describe_unplaced([Span(doc, 1, 2, label="LOC")], spans_key=None))
        ... # doctest: +NORMALIZE_WHITESPACE
        1 prediction(s) overlap entities already in doc.ents and were not added (policy
        'keep'; set "spans_key" to keep every prediction; policy 'replace_overlapping' makes
        ours win): 'Berlin' LOC [3:9]
    """
    listed = "; ".join(
        f"{s.text!r} {s.label_} [{s.start_char}:{s.end_char}]" for s in spans[:shown]
    )
    more = f" (and {len(spans) - shown} more)" if len(spans) > shown else ""
    where = (
        f"they are in doc.spans[{spans_key!r}]"
        if spans_key is not None
        else 'set "spans_key" to keep every prediction'
    )
    return (
        f"{len(spans)} prediction(s) overlap entities already in doc.ents and were not added "
        f"(policy 'keep'; {where}; policy 'replace_overlapping' makes ours win): {listed}{more}"
    )


def _token_set(spans: Iterable[Span]) -> set[int]:
    return {i for span in spans for i in range(span.start, span.end)}

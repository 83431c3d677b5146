"""Predicted entities drawn by spaCy's displaCy, with colours for every model's labels.

:func:`render_entities` draws texts and the entities a :class:`~ner_bert.NERPredictor` found
in them (``predictor(texts)``) with ``displacy.render(..., manual=True)``: no spaCy ``Doc``
or tokenizer is involved, so the marks sit at the model's exact character offsets. Hovering
an entity shows its score and offsets. ``ner-bert predict --html`` writes the same page.

displaCy colours only the labels it knows (spaCy's own ``PERSON``, ``GPE``, ...) and shows
the rest in grey, CoNLL's ``PER`` and ``MISC`` among them. :func:`label_color` gives every
label a colour, and every model a ``ner_bert`` component loads adds its entity types to
displaCy's ``displacy_colors`` registry, so ``displacy.render(doc, style="ent")`` of a spaCy
pipeline shows them in colour too.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from spacy import displacy
from spacy.displacy.templates import TPL_ENT
from spacy.util import registry

from ..errors import DataFormatError
from ..types import Entity

__all__ = ["add_label_colors", "label_color", "render_entities"]

# displaCy's colours for the labels people know, plus the CoNLL-2003 types.
_KNOWN_COLORS = {
    "PER": "#aa9cfc",
    "PERSON": "#aa9cfc",
    "ORG": "#7aecec",
    "LOC": "#ff9561",
    "GPE": "#feca74",
    "MISC": "#f0d0ff",
    "NORP": "#c887fb",
    "FAC": "#9cc9cc",
    "EVENT": "#ffeb80",
    "PRODUCT": "#bfeeb7",
    "WORK_OF_ART": "#f0d0ff",
    "LAW": "#ff8197",
    "LANGUAGE": "#ff8197",
    "DATE": "#bfe1d9",
    "TIME": "#bfe1d9",
    "MONEY": "#e4e7d2",
    "QUANTITY": "#e4e7d2",
    "ORDINAL": "#e4e7d2",
    "CARDINAL": "#e4e7d2",
    "PERCENT": "#e4e7d2",
}
_PALETTE = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa", "#d9f99d")

# displaCy's own mark, with a tooltip: entity "params" fill {tooltip}.
_ENT_WITH_TOOLTIP = TPL_ENT.replace('class="entity" ', 'class="entity" title="{tooltip}" ')

_LOADED_COLORS: dict[str, str] = {}  # labels of the models ner_bert components loaded


def label_color(label: str) -> str:
    """The background colour of a label: displaCy's for known labels, else a stable pick.

    Example:
        >>> label_color("ORG")
        '#7aecec'
        >>> label_color("GENE") == label_color("GENE")
        True
    """
    known = _KNOWN_COLORS.get(label.upper())
    if known is not None:
        return known
    return _PALETTE[zlib.crc32(label.encode("utf-8")) % len(_PALETTE)]


def add_label_colors(labels: Iterable[str]) -> None:
    """Colour ``labels`` in every later ``displacy.render`` (spaCy's own labels keep theirs)."""
    for label in labels:
        _LOADED_COLORS.setdefault(label.upper(), label_color(label))  # displaCy looks up upper()


def _loaded_label_colors() -> dict[str, str]:
    return dict(_LOADED_COLORS)


registry.displacy_colors.register("ner_bert", func=_loaded_label_colors)


def render_entities(
    texts: Sequence[str],
    entities: Sequence[Sequence[Entity]],
    *,
    titles: Sequence[str] | None = None,
    page: bool = True,
) -> str:
    """Draw texts with their entities marked, as displaCy's entity view.

    Args:
        texts: The texts, exactly as given to the model.
        entities: For each text, its entities (half-open character offsets into it, not
            overlapping), e.g. ``predictor(texts)``.
        titles: A heading above each text (``"news.txt:3"``), or ``None`` for none.
        page: A complete HTML page (``True``) or the markup alone, to embed.

    Returns:
        The HTML.

    Raises:
        DataFormatError: ``texts``, ``entities`` and ``titles`` differ in length, or an
            entity's offsets are outside its text, overlap the previous entity, or its
            ``text`` is not ``text[start:end]``; the error names the text.

    Example:
        >>> page = render_entities(["Ada lives in Paris."], [[Entity("LOC", 13, 18, 0.9, "Paris")]])
        >>> "Paris" in page and "LOC" in page and "LOC 0.900 [13, 18)" in page
        True
    """
    if len(entities) != len(texts) or (titles is not None and len(titles) != len(texts)):
        raise DataFormatError(
            f"render_entities: {len(texts)} texts, {len(entities)} entity lists and "
            f"{'no' if titles is None else len(titles)} titles; give one of each per text."
        )
    parsed = []
    for index, (text, found) in enumerate(zip(texts, entities, strict=True)):
        title = titles[index] if titles is not None else None
        parsed.append(
            {
                "text": text,
                "ents": _displacy_spans(text, found, title or f"text {index + 1}"),
                "title": html.escape(title) if title is not None else None,  # displaCy does not
            }
        )
    labels = {entity.label for found in entities for entity in found}
    options = {
        "colors": {label.upper(): label_color(label) for label in labels},
        "template": _ENT_WITH_TOOLTIP,
    }
    return displacy.render(
        parsed, style="ent", manual=True, page=page, jupyter=False, options=options
    )


def _displacy_spans(text: str, entities: Sequence[Entity], name: str) -> list[dict[str, Any]]:
    """displaCy's manual spans of one text's entities, checked against the text."""
    spans: list[dict[str, Any]] = []
    position = 0
    for entity in sorted(entities, key=lambda e: (e.start, e.end)):
        if not 0 <= entity.start < entity.end <= len(text) or entity.start < position:
            raise DataFormatError(
                f"{name}: entity {entity.label} [{entity.start}, {entity.end}) is outside the "
                f"text (length {len(text)}) or overlaps the previous entity; entities must be "
                "non-overlapping half-open character spans of the text."
            )
        if text[entity.start : entity.end] != entity.text:
            raise DataFormatError(
                f"{name}: entity text {entity.text!r} is not text[{entity.start}:{entity.end}]"
                f" = {text[entity.start : entity.end]!r}; the offsets do not match the text."
            )
        tooltip = f"{entity.label} {entity.score:.3f} [{entity.start}, {entity.end})"
        spans.append(
            {
                "start": entity.start,
                "end": entity.end,
                "label": entity.label,
                "params": {"tooltip": html.escape(tooltip)},
            }
        )
        position = entity.end
    return spans

"""A self-contained HTML page of predicted entities, in the style of spaCy's displaCy.

Pure Python (the standard library's :mod:`html` escaping): spaCy is not needed. The page has
no scripts and no external resources, so it opens from disk in any browser and can be mailed
around. Each entity is a coloured ``<mark>`` with its type; hovering shows its score and
character offsets.
"""

from __future__ import annotations

import html as _html
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DataFormatError
from ..types import Entity

__all__ = ["Document", "label_color", "render_html"]

# displaCy's colours for the labels people know, plus the CoNLL-2003 types.
_COLORS = {
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

_MARK = (
    '<mark class="entity" title="{title}" style="background: {color}; padding: 0.45em 0.6em; '
    'margin: 0 0.25em; line-height: 1; border-radius: 0.35em;">{text}<span style="font-size: '
    "0.8em; font-weight: bold; line-height: 1; border-radius: 0.35em; vertical-align: middle; "
    'margin-left: 0.5rem">{label}</span></mark>'
)
_LEGEND = (
    '<mark class="legend" style="background: {color}; padding: 0.25em 0.6em; margin-right: '
    '0.5em; border-radius: 0.35em; font-size: 0.8em; font-weight: bold; color: #222;">'
    "{label}</mark>"
)
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-size: 16px; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica,
  Arial, sans-serif; padding: 2rem 2rem; color: #222; max-width: 72rem; }}
h1 {{ font-size: 1.4rem; margin: 0 0 0.3rem 0; }}
.meta {{ color: #666; font-size: 0.85rem; margin-bottom: 1.2rem; }}
.legend {{ margin-bottom: 0.8rem; color: #666; font-size: 0.85rem; }}
.doc {{ border-top: 1px solid #e5e5e5; padding: 0.8rem 0; }}
.source {{ color: #888; font-size: 0.75rem; font-family: monospace; }}
.entities {{ line-height: 2.5; white-space: pre-wrap; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div class="meta">{meta}</div>
<div class="legend">entity types: {legend}</div>
{documents}
</body>
</html>
"""


@dataclass(frozen=True)
class Document:
    """One text and the entities predicted in it.

    Attributes:
        text: The text, exactly as given to the model.
        entities: Entities with half-open character offsets into ``text``.
        source: Where the text came from (``"news.txt:3"``), shown above it; or ``None``.
    """

    text: str
    entities: Sequence[Entity]
    source: str | None = None


def label_color(label: str) -> str:
    """The background colour of a label: displaCy's for known labels, else a stable pick.

    Example:
        >>> label_color("ORG")
        '#7aecec'
        >>> label_color("GENE") == label_color("GENE")
        True
    """
    known = _COLORS.get(label.upper())
    if known is not None:
        return known
    return _PALETTE[zlib.crc32(label.encode("utf-8")) % len(_PALETTE)]


def render_html(
    documents: Sequence[Document], *, title: str = "ner_bert predictions", meta: str = ""
) -> str:
    """Render documents with their entities marked as one standalone HTML page.

    Args:
        documents: The texts and their entities (sorted or not; they must not overlap).
        title: Page title and heading.
        meta: One line of plain text under the heading (e.g. the model path).

    Returns:
        The page, a complete HTML document.

    Raises:
        DataFormatError: An entity's offsets are outside its text, overlap the previous
            entity, or its ``text`` is not ``text[start:end]``.

    Example:
        >>> doc = Document("Ada lives in Paris.", [Entity("LOC", 13, 18, 0.9, "Paris")])
        >>> page = render_html([doc])
        >>> "Paris<span" in page and "LOC</span></mark>" in page
        True
    """
    labels = sorted({entity.label for document in documents for entity in document.entities})
    legend = "".join(
        _LEGEND.format(color=label_color(label), label=_html.escape(label)) for label in labels
    )
    parts = []
    for index, document in enumerate(documents):
        source = document.source or f"document {index + 1}"
        parts.append(
            f'<div class="doc"><div class="source">{_html.escape(source)}</div>'
            f'<div class="entities">{_mark_entities(document, source)}</div></div>'
        )
    n_entities = sum(len(document.entities) for document in documents)
    counts = f"{len(documents)} document(s), {n_entities} entit{'y' if n_entities == 1 else 'ies'}"
    return _PAGE.format(
        title=_html.escape(title),
        meta=_html.escape(f"{meta} · {counts}" if meta else counts),
        legend=legend,
        documents="\n".join(parts),
    )


def _mark_entities(document: Document, source: str) -> str:
    text = document.text
    out: list[str] = []
    position = 0
    for entity in sorted(document.entities, key=lambda e: (e.start, e.end)):
        if not 0 <= entity.start < entity.end <= len(text) or entity.start < position:
            raise DataFormatError(
                f"{source}: entity {entity.label} [{entity.start}, {entity.end}) is outside the "
                f"text (length {len(text)}) or overlaps the previous entity; entities must be "
                "non-overlapping half-open character spans of the text."
            )
        if text[entity.start : entity.end] != entity.text:
            raise DataFormatError(
                f"{source}: entity text {entity.text!r} is not text[{entity.start}:{entity.end}]"
                f" = {text[entity.start : entity.end]!r}; the offsets do not match the text."
            )
        out.append(_html.escape(text[position : entity.start]))
        title = f"{entity.label} {entity.score:.3f} [{entity.start}, {entity.end})"
        out.append(
            _MARK.format(
                title=_html.escape(title),
                color=label_color(entity.label),
                text=_html.escape(entity.text),
                label=_html.escape(entity.label),
            )
        )
        position = entity.end
    out.append(_html.escape(text[position:]))
    return "".join(out)

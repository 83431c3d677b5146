"""Colours of the loaded models' labels for ``displacy.render``.

displaCy colours only the labels it knows (spaCy's own ``PERSON``, ``GPE``, ...) and shows
the rest in grey: CoNLL's ``PER`` and ``MISC`` among them. Every model a ``ner_bert``
component loads adds its entity types here, with the colours of ner_bert's own HTML view
(:func:`~ner_bert.data.html.label_color`), and displaCy reads them through its
``displacy_colors`` registry on every render.
"""

from __future__ import annotations

from collections.abc import Iterable

from spacy.util import registry

from ..data.html import label_color

__all__ = ["add_label_colors"]

_COLORS: dict[str, str] = {}


def add_label_colors(labels: Iterable[str]) -> None:
    """Colour ``labels`` in every later ``displacy.render`` (spaCy's own labels keep theirs)."""
    for label in labels:
        _COLORS.setdefault(label, label_color(label))


def _label_colors() -> dict[str, str]:
    return dict(_COLORS)


registry.displacy_colors.register("ner_bert", func=_label_colors)

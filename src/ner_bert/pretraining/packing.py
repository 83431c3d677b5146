"""Masked-LM inputs: a document's sentences packed in order into sequences of the window.

Sentences of one document share a sequence (as in BERT's pretraining, the model sees text
longer than a sentence); a document never shares a sequence with another. A sentence longer
than the window is cut at a word start. Each input carries ``special_tokens_mask`` and an
``offset_mapping`` in which the pieces of a word touch and words do not: that is how
``transformers.DataCollatorForLanguageModeling(whole_word_mask=True)`` tells words apart, so
every piece of a word is masked together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..subwords.encoding import Encoded, TextEncoder
from .corpus import Document

__all__ = ["pack_documents"]

Piece = tuple[list[int], list[bool]]
"""Token ids and, for each, whether it starts a word."""


def pack_documents(documents: Sequence[Document], encoder: TextEncoder) -> list[dict[str, Any]]:
    """The model inputs of ``documents`` (``input_ids``, ``special_tokens_mask``,
    ``offset_mapping``), at most ``encoder.window`` content subwords each."""
    flat = [sentence for document in documents for sentence in document]
    encoded = iter(encoder.encode_words(flat))
    inputs = []
    for document in documents:
        pieces = [p for _ in document for p in _sentence_pieces(next(encoded), encoder.window)]
        for ids, starts in _packed(pieces, encoder.window):
            inputs.append(_model_input(ids, starts, encoder))
    return inputs


def _sentence_pieces(sentence: Encoded, window: int) -> list[Piece]:
    """A sentence's tokens, in pieces of at most ``window`` cut at word starts if possible."""
    ids = sentence.ids.tolist()
    starts = [i == 0 or w != sentence.word_ids[i - 1] for i, w in enumerate(sentence.word_ids)]
    pieces: list[Piece] = []
    while len(ids) > window:
        cut = next((i for i in range(window, 0, -1) if starts[i]), window)
        pieces.append((ids[:cut], starts[:cut]))
        ids, starts = ids[cut:], [True, *starts[cut + 1 :]]
    if ids:
        pieces.append((ids, starts))
    return pieces


def _packed(pieces: list[Piece], window: int) -> list[Piece]:
    """Consecutive pieces joined while they fit in ``window``."""
    out: list[Piece] = []
    for ids, starts in pieces:
        if out and len(out[-1][0]) + len(ids) <= window:
            out[-1][0].extend(ids)
            out[-1][1].extend(starts)
        else:
            out.append((list(ids), list(starts)))
    return out


def _model_input(ids: list[int], starts: list[bool], encoder: TextEncoder) -> dict[str, Any]:
    prefix, suffix = list(encoder.prefix), list(encoder.suffix)
    offsets: list[tuple[int, int]] = [(0, 0)] * len(prefix)
    position = 0
    for start in starts:
        position += 1 if start else 0  # a gap before each word, none inside one
        offsets.append((position, position + 1))
        position += 1
    offsets += [(0, 0)] * len(suffix)
    return {
        "input_ids": prefix + ids + suffix,
        "special_tokens_mask": [1] * len(prefix) + [0] * len(ids) + [1] * len(suffix),
        "offset_mapping": offsets,
    }


class MaskingCollator:
    """``transformers.DataCollatorForLanguageModeling`` on :func:`pack_documents` inputs.

    The transformers collator pads with ``tokenizer.pad``, which pads the token-level keys but
    not ``offset_mapping``; whole-word masking needs it, so it is padded here first (pads are
    special tokens, never masked). With whole-word masking every masked word becomes
    ``[MASK]`` (transformers replaces no word by a random one then).

    Args:
        tokenizer: The encoder's tokenizer (it must have a mask token).
        mlm_probability: Share of words (or subwords) masked.
        whole_word_mask: Mask all pieces of a word together.
        seed: Seed of the masking (``None``: the global RNG).
    """

    def __init__(
        self, tokenizer: Any, *, mlm_probability: float, whole_word_mask: bool, seed: int | None
    ) -> None:
        import warnings

        from transformers import DataCollatorForLanguageModeling

        self.whole_word_mask = whole_word_mask
        with warnings.catch_warnings():  # "random replacement is not supported": we know
            warnings.simplefilter("ignore")
            self.inner = DataCollatorForLanguageModeling(
                tokenizer,
                mlm_probability=mlm_probability,
                whole_word_mask=whole_word_mask,
                mask_replace_prob=1.0 if whole_word_mask else 0.8,
                random_replace_prob=0.0 if whole_word_mask else 0.1,
                seed=seed,
            )

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        longest = max(len(f["input_ids"]) for f in features)
        batch = []
        for feature in features:
            feature = dict(feature)
            offsets = feature.pop("offset_mapping")
            if self.whole_word_mask:
                feature["offset_mapping"] = offsets + [(0, 0)] * (longest - len(offsets))
            batch.append(feature)
        out: dict[str, Any] = self.inner(batch)
        return out

"""Masked-language-model adaptation of an encoder to unlabelled text, before fine-tuning.

:mod:`.corpus` reads the text (documents of sentences of words), :mod:`.packing` makes the
masked-LM inputs and the whole-word-masking collator, :mod:`.adapter` trains and saves.
"""

from .adapter import AdaptationResult, AdaptationSettings, EncoderAdapter
from .corpus import documents_of_sentences, documents_of_texts, read_text_corpus

__all__ = [
    "AdaptationResult",
    "AdaptationSettings",
    "EncoderAdapter",
    "documents_of_sentences",
    "documents_of_texts",
    "read_text_corpus",
]

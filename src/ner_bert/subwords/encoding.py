"""Text -> subword tokens with character offsets and words, and token windows for long inputs.

Works on the Rust ``tokenizers.Tokenizer`` behind a Hugging Face fast tokenizer (no torch).
Words come from the tokenizer itself (``word_ids``: its pre-tokenizer's words for raw text,
the caller's words for pre-tokenized input), never from whitespace guesses; character offsets
come from its alignment tracking, so they index the caller's original string even when the
normalizer lowercases, strips accents or removes control and zero-width characters.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelLoadError
from .segmentation import Segmentation, segment_words
from .windows import DEFAULT_OVERLAP, plan_windows

__all__ = ["Encoded", "TextEncoder"]


@dataclass(frozen=True)
class Encoded:
    """One tokenized text or sentence, without special tokens.

    Attributes:
        ids: Token ids, shape ``(n_tokens,)``.
        word_ids: Word index of each token.
        n_words: Number of words (raw text: the tokenizer's words; pre-tokenized input: the
            caller's words, including any that produced no token).
        word_spans: ``(start, end)`` character span of each word in the text (tokenizer words:
            from its first token's start to its last token's end, ``(0, 0)`` for a word
            without tokens). Empty for pre-tokenized input.
    """

    ids: np.ndarray
    word_ids: list[int | None]
    n_words: int
    word_spans: list[tuple[int, int]]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


class TextEncoder:
    """Tokenizes raw texts or word lists and cuts long token sequences into windows.

    Thread-safe: calls into the Rust tokenizer are serialized by a lock (a tokenizer shared
    between threads can otherwise fail with "Already borrowed").

    Args:
        tokenizer: A Hugging Face fast tokenizer (anything with ``backend_tokenizer``).
        max_length: Window length including special tokens.
        overlap: Fraction of a window shared with the next one, in ``[0, 0.9]``.
    """

    def __init__(
        self, tokenizer: Any, *, max_length: int, overlap: float = DEFAULT_OVERLAP
    ) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelLoadError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; ner_bert needs one "
                "(a tokenizer.json) for word ids and character offsets."
            )
        from tokenizers import Tokenizer

        # A private copy, so changing truncation/padding never touches the caller's tokenizer.
        self._backend = Tokenizer.from_str(backend.to_str())
        self._backend.no_truncation()
        self._backend.no_padding()
        self._lock = threading.Lock()
        self.prefix, self.suffix = self._special_tokens()
        n_special = len(self.prefix) + len(self.suffix)
        if max_length <= n_special:
            raise ConfigError(
                f"max_length must be greater than the {n_special} special tokens, got {max_length}."
            )
        self.max_length = max_length
        self.window = max_length - n_special
        self.stride = max(1, self.window - round(self.window * overlap))
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0

    def _special_tokens(self) -> tuple[list[int], list[int]]:
        """The special token ids the tokenizer puts before and after one sequence."""
        plain = self._backend.encode("a", add_special_tokens=False).ids
        full = self._backend.encode("a", add_special_tokens=True).ids
        for i in range(len(full) - len(plain) + 1):
            if full[i : i + len(plain)] == plain:
                return full[:i], full[i + len(plain) :]
        return [], []  # pragma: no cover - a post-processor that rewrites content tokens

    def encode_texts(
        self, texts: Sequence[str], *, segmentation: Segmentation = Segmentation.TOKENIZER
    ) -> list[Encoded]:
        """Tokenize raw texts into words: the tokenizer's pre-tokenizer words, or with
        ``segmentation=TREEBANK`` the words of :func:`.segmentation.segment_words`."""
        if segmentation is Segmentation.TREEBANK:
            return self.encode_spans(texts, [segment_words(text) for text in texts])
        with self._lock:
            encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
        out = []
        for encoding in encodings:
            word_ids = encoding.word_ids
            n = len(word_ids)
            if n == 0:
                out.append(Encoded(np.zeros(0, dtype=np.int64), [], 0, []))
                continue
            words = np.array([-1 if w is None else w for w in word_ids], dtype=np.int64)
            offsets = np.array(encoding.offsets, dtype=np.int64).reshape(n, 2)
            n_words = int(words.max()) + 1
            # A token with an empty offset (some byte-level pieces) does not move the span.
            real = (words >= 0) & (offsets[:, 1] > offsets[:, 0])
            starts = np.full(n_words, np.iinfo(np.int64).max, dtype=np.int64)
            ends = np.full(n_words, -1, dtype=np.int64)
            np.minimum.at(starts, words[real], offsets[real, 0])
            np.maximum.at(ends, words[real], offsets[real, 1])
            missing = ends < 0
            starts[missing] = 0
            ends[missing] = 0
            spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
            out.append(Encoded(np.array(encoding.ids, dtype=np.int64), word_ids, n_words, spans))
        return out

    def encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> list[Encoded]:
        """Tokenize the words at character ``spans[i]`` of ``texts[i]`` (e.g. the sentences of
        :func:`.segmentation.segment_sentences`); each word's span is kept in ``word_spans``,
        narrowed to its tokens."""
        words = [[text[a:b] for a, b in found] for text, found in zip(texts, spans, strict=True)]
        out = []
        for encoding, found in zip(self._encode_pretokenized(words), spans, strict=True):
            word_ids = encoding.word_ids  # a new Python list at each access
            spans_kept = _token_spans(found, word_ids, encoding.offsets)
            out.append(
                Encoded(np.array(encoding.ids, dtype=np.int64), word_ids, len(found), spans_kept)
            )
        return out

    def _encode_pretokenized(self, batch: list[list[str]]) -> list[Any]:
        with self._lock:
            return list(
                self._backend.encode_batch(batch, is_pretokenized=True, add_special_tokens=False)
            )

    def encode_words(self, sentences: Sequence[Sequence[str]]) -> list[Encoded]:
        """Tokenize pre-tokenized sentences; word ``i`` is the caller's ``i``-th word."""
        batch = [list(words) for words in sentences]
        return [
            Encoded(np.array(e.ids, dtype=np.int64), e.word_ids, len(words), [])
            for e, words in zip(self._encode_pretokenized(batch), batch, strict=True)
        ]

    def windows(self, n_tokens: int) -> list[tuple[int, int]]:
        """Windows over ``n_tokens`` content tokens (see :func:`.windows.plan_windows`)."""
        return plan_windows(n_tokens, window=self.window, stride=self.stride)


def _token_spans(
    words: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
) -> list[tuple[int, int]]:
    """Each word's span narrowed to its tokens (offsets are relative to the word), so that
    characters the tokenizer drops at a word's edges (zero-width, control) stay outside."""
    lows = [b for _, b in words]
    highs = [a for a, _ in words]
    for word, (lo, hi) in zip(word_ids, offsets, strict=True):
        if word is not None and hi > lo:
            start = words[word][0]
            lows[word] = min(lows[word], start + lo)
            highs[word] = max(highs[word], start + hi)
    return [(lo, hi) if lo < hi else span for lo, hi, span in zip(lows, highs, words, strict=True)]

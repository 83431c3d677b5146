"""Raw text -> words as NER corpora write them, with exact character spans.

NER training data (CoNLL-2003, OntoNotes and most English corpora) is tokenized the Penn
Treebank way: punctuation at the edges of a word is split off (``(IAEA)`` -> ``( IAEA )``,
``Paris,`` -> ``Paris ,``), clitics are their own word (``Iran's`` -> ``Iran 's``), but a word
keeps the punctuation inside it (``U.S.-based``, ``1-0``, ``Al-Ahly``, ``e-mail``, ``1,000``,
URLs) and an abbreviation keeps its period (``U.K.``, ``Corp.``). A tokenizer's pre-tokenizer
instead splits at every punctuation mark, so raw text reaches the model as different "words"
than the ones it was trained on. :func:`segment_words` gives raw text the training data's
words, so a prediction on text is the prediction on those words.

Pure Python (regular expressions and Unicode categories), no torch, no transformers.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from .._choices import parse_choice

__all__ = ["Segmentation", "parse_segmentation", "segment_sentences", "segment_words"]


class Segmentation(str, Enum):
    """How raw text is cut into the words the model tags.

    ``treebank``: the words of NER training corpora (:func:`segment_words`); ``tokenizer``:
    the words of the tokenizer's pre-tokenizer (split at every punctuation mark), as
    ``transformers.pipeline`` does.
    """

    TREEBANK = "treebank"
    TOKENIZER = "tokenizer"


def parse_segmentation(value: Segmentation | str) -> Segmentation:
    """Parse a segmentation name; the error lists the choices.

    Example:
        >>> parse_segmentation("tokenizer")
        <Segmentation.TOKENIZER: 'tokenizer'>
    """
    return parse_choice(Segmentation, "segmentation", value)


_CHUNK = re.compile(r"\S+")
_CURRENCY = re.compile(r"[$£€¥₹](?=\d)")
# A clitic at the end of a word (ASCII or typographic apostrophe), PTB style.
_CLITIC = re.compile(r"(?i)(?:n['’]t|['’](?:s|re|ve|ll|d|m))$")
_ELLIPSIS = re.compile(r"\.{2,}$")
_BRACKETS_AND_QUOTES = frozenset(("Ps", "Pe", "Pi", "Pf"))
_QUOTES = "\"'`"
# Punctuation that stays inside a word at its end ("." has its own rule, see _keeps_period).
_KEPT_AT_END = "#&@\\/._-"
_LIST_NUMBER = re.compile(r"\d{1,3}\.")
_PLAIN = re.compile(r"[^\W_]+")
# CJK ideographs and kana: one word each.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LETTERS = re.compile(r"[^\W\d_]")

# fmt: off
ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "dr", "prof", "rev", "hon", "st", "mt", "ft", "jr", "sr", "gen", "col",
    "lt", "sgt", "capt", "cmdr", "adm", "maj", "gov", "sen", "rep", "pres",
    "inc", "corp", "co", "ltd", "plc", "bros", "cie", "dept", "univ", "assn", "est", "vs",
    "etc", "no", "nos", "vol", "fig", "approx",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
    "ala", "ariz", "ark", "calif", "colo", "conn", "del", "fla", "ga", "ill", "ind", "kan",
    "kans", "ky", "la", "md", "mass", "mich", "minn", "miss", "mo", "mont", "neb", "nev",
    "okla", "ore", "pa", "penn", "tenn", "tex", "va", "vt", "wash", "wis", "wyo",
))
# fmt: on
"""Words that keep a final period (compared lowercased, without the period): titles, company
forms, months and days, US state abbreviations, as in the Moses and PTB tokenizers' lists."""


def segment_words(text: str) -> list[tuple[int, int]]:
    """The words of ``text`` as ``(start, end)`` character spans, in order.

    Whitespace separates words; inside a whitespace-delimited chunk, edge punctuation, ``%``
    after a number and clitics are split off, internal punctuation stays, a final period stays
    on abbreviations (``U.S.``, ``Corp.``, single letters), and CJK ideographs are one word
    each (as BERT's tokenizer treats them). A number with a period that starts a line
    (``1.`` numbering a list) stays one word.

    Example:
        >>> text = '(IAEA) Iran\\'s U.S.-based e-mail, "Al-Ahly" won 1-0 in the U.K. today.'
        >>> [text[a:b] for a, b in segment_words(text)]  # doctest: +NORMALIZE_WHITESPACE
        ['(', 'IAEA', ')', 'Iran', "'s", 'U.S.-based', 'e-mail', ',', '"', 'Al-Ahly', '"',
         'won', '1-0', 'in', 'the', 'U.K.', 'today', '.']
    """
    spans: list[tuple[int, int]] = []
    previous_end = 0
    cjk = _CJK.search(text) is not None
    for match in _CHUNK.finditer(text):
        start, end = match.span()
        if not cjk and _PLAIN.fullmatch(text, start, end):
            spans.append((start, end))  # letters and digits only: the common case
        elif _LIST_NUMBER.fullmatch(text, start, end) and (
            previous_end == 0 or "\n" in text[previous_end:start]
        ):
            spans.append((start, end))  # "1." numbering a list item keeps its period
        elif cjk and _CJK.search(text, start, end):
            _split_cjk(text, start, end, spans)
        else:
            _split_chunk(text, start, end, spans)
        previous_end = end
    return spans


_SENTENCE_END = frozenset((".", "!", "?", "...", "…", "。", "！", "？", "‼", "⁇"))


def segment_sentences(text: str) -> list[list[tuple[int, int]]]:
    """The words of ``text`` (:func:`segment_words`) grouped into sentences.

    A sentence ends after a word that is sentence-final punctuation (``.``, ``!``, ``?``,
    ``...``; an abbreviation's period is part of its word and ends nothing), together with the
    closing quotes and brackets right after it, and at every line break.

    Example:
        >>> text = 'Mr. Smith visited the U.S. "It rained." He left!\\nREUTERS'
        >>> [[text[a:b] for a, b in s] for s in segment_sentences(text)]
        ... # doctest: +NORMALIZE_WHITESPACE
        [['Mr.', 'Smith', 'visited', 'the', 'U.S.', '"', 'It', 'rained', '.', '"'],
         ['He', 'left', '!'], ['REUTERS']]
    """
    sentences: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    ended = False
    previous_end = 0
    for start, end in segment_words(text):
        word = text[start:end]
        line_break = "\n" in text[previous_end:start]
        closing = ended and len(word) == 1 and _closes(word)
        if current and (line_break or (ended and not closing)):
            sentences.append(current)
            current = []
            ended = False
        current.append((start, end))
        ended = ended or word in _SENTENCE_END
        previous_end = end
    if current:
        sentences.append(current)
    return sentences


def _closes(ch: str) -> bool:
    return unicodedata.category(ch) in ("Pe", "Pf") or ch in _QUOTES


def _split_chunk(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Append the words of ``text[start:end]`` (no whitespace, no CJK inside) to ``out``."""
    if _CLITIC.fullmatch(text, start, end):
        out.append((start, end))  # "'s" or "n't" written as a word of its own
        return
    head: list[tuple[int, int]] = []
    while end - start > 1 and (_splits_at_start(text[start]) or _CURRENCY.match(text, start)):
        head.append((start, start + 1))
        start += 1
    tail: list[tuple[int, int]] = []
    while end - start > 1:
        cut = _trailing_cut(text, start, end)
        if cut is None:
            break
        tail.append((cut, end))
        end = cut
    out.extend(head)
    if end > start:
        out.append((start, end))
    out.extend(reversed(tail))


def _trailing_cut(text: str, start: int, end: int) -> int | None:
    """Where the last piece to split off ``text[start:end]`` begins, or ``None``."""
    word = text[start:end]
    last = word[-1]
    if last == ".":
        dots = _ELLIPSIS.search(word)
        if dots is not None:
            return start + dots.start()  # "wait..." -> "wait" "..."
        return None if _keeps_period(word[:-1]) else end - 1
    if last == "%":
        return end - 1 if word[-2].isdigit() else None  # "10%" -> "10" "%"
    if _splits_at_end(last):
        return end - 1
    m = _CLITIC.search(word)
    if m is not None and m.start() > 0:
        return start + m.start()
    return None


def _splits_at_start(ch: str) -> bool:
    """Brackets and quotes come off the start of a word (``(IAEA``, ``"yes``, ``¿qué``)."""
    return unicodedata.category(ch) in _BRACKETS_AND_QUOTES or ch in _QUOTES or ch in "¿¡"


def _splits_at_end(ch: str) -> bool:
    """Brackets, quotes and sentence punctuation (``,`` ``;`` ``:`` ``!`` ``?`` ``…`` ``。``)
    come off the end of a word."""
    category = unicodedata.category(ch)
    return category in _BRACKETS_AND_QUOTES or (category == "Po" and ch not in _KEPT_AT_END)


def _keeps_period(stem: str) -> bool:
    """Whether ``stem + "."`` is an abbreviation (``U.S``, ``p.m``, ``J``, ``Corp``)."""
    if not stem or not _LETTERS.search(stem) or any(ch in stem for ch in "/@:"):
        return False  # "3.", "?." or a URL before a sentence's period
    if "." in stem:
        return True
    if len(stem) == 1:
        return True
    return stem.lower() in ABBREVIATIONS


def _split_cjk(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """A chunk with CJK characters: each of them is a word, the runs between are chunks."""
    run = start
    for match in _CJK.finditer(text, start, end):
        if run < match.start():
            _split_chunk(text, run, match.start(), out)
        out.append(match.span())
        run = match.end()
    if run < end:
        _split_chunk(text, run, end, out)

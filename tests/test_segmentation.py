"""segment_words: raw text -> the words NER corpora are written in, with exact spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert import ConfigError
from ner_bert.subwords.segmentation import Segmentation, parse_segmentation, segment_words


def words(text: str) -> list[str]:
    return [text[a:b] for a, b in segment_words(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.K. and the U.S. met.", ["The", "U.K.", "and", "the", "U.S.", "met", "."]),
        ("a U.S.-based firm", ["a", "U.S.-based", "firm"]),
        ("won 1-0 against Al-Ahly,", ["won", "1-0", "against", "Al-Ahly", ","]),
        ("send an e-mail today", ["send", "an", "e-mail", "today"]),
        ("the agency (IAEA) said", ["the", "agency", "(", "IAEA", ")", "said"]),
        ("Iran’s plan and Iran's plan", ["Iran", "’s", "plan", "and", "Iran", "'s", "plan"]),
        ("didn't", ["did", "n't"]),
        ("Reuters' view", ["Reuters", "'", "view"]),
        ("see http://www.reuters.com/news.", ["see", "http://www.reuters.com/news", "."]),
        ("mail derivatives@reuters.com now", ["mail", "derivatives@reuters.com", "now"]),
        ('he said: "yes!"', ["he", "said", ":", '"', "yes", "!", '"']),
        ("rose 10% to $1,000.5", ["rose", "10", "%", "to", "$", "1,000.5"]),
        ("Acme Corp. and Beta Inc.", ["Acme", "Corp.", "and", "Beta", "Inc."]),
        ("J. Smith vs. M. Jones", ["J.", "Smith", "vs.", "M.", "Jones"]),
        ("in Wolfsburg.", ["in", "Wolfsburg", "."]),
        ("scored 3.", ["scored", "3", "."]),
        ("1. Smith 2:03\n2. Jones", ["1.", "Smith", "2:03", "2.", "Jones"]),
        ("wait...", ["wait", "..."]),
        ("东京 Tokyo（日本）。", ["东", "京", "Tokyo", "（", "日", "本", "）", "。"]),
        ("«Bonjour», ¿qué?", ["«", "Bonjour", "»", ",", "¿", "qué", "?"]),
        ("", []),
        ("  \n\t ", []),
    ],
)
def test_words_as_ner_corpora_write_them(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_space_joined_conll_words_come_back_unchanged() -> None:
    conll = ["U.S.", "Treasury", "'s", "Al-Ahly", "(", "IAEA", ")", "1-0", ",", "Corp.", "."]
    assert words(" ".join(conll)) == conll


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_spans_are_ordered_and_cover_every_visible_character_once(text: str) -> None:
    spans = segment_words(text)
    covered = [False] * len(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not any(ch.isspace() for ch in text[start:end])
        for i in range(start, end):
            covered[i] = True
        previous_end = end
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))


def test_parse_segmentation() -> None:
    assert parse_segmentation("TREEBANK") is Segmentation.TREEBANK
    with pytest.raises(ConfigError, match="'treebank', 'tokenizer'"):
        parse_segmentation("spacy")

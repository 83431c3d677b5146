"""Character offsets index the caller's original string, whatever the tokenizer normalizes."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner_bert.config import PredictionConfig
from ner_bert.prediction import NERPredictor
from ner_bert.subwords.encoding import TextEncoder
from ner_bert.types import Entity


@pytest.fixture(scope="module")
def predictor(trained_tiny_model_dir: Path) -> NERPredictor:
    return NERPredictor.from_pretrained(
        trained_tiny_model_dir, config=PredictionConfig(precision="fp32")
    )


def check_entities(text: str, entities: list[Entity]) -> None:
    previous_end = 0
    for e in entities:
        assert previous_end <= e.start < e.end <= len(text), (e, len(text))
        assert text[e.start : e.end] == e.text
        assert not e.text[0].isspace() and not e.text[-1].isspace()
        assert isinstance(e.score, float) and 0.0 <= e.score <= 1.0
        previous_end = e.end


def found(predictor: NERPredictor, text: str) -> list[tuple[str, str]]:
    entities = predictor.predict_text(text)
    check_entities(text, entities)
    return [(e.label, e.text) for e in entities]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Accents stripped and case folded by the uncased tokenizer.
        ("Jóhn Smíth visited PÀRIS", [("PER", "Jóhn Smíth"), ("LOC", "PÀRIS")]),
        # Combining marks (decomposed accents) inside words.
        ("Ma\u0301ry lives in Be\u0300rlin", [("PER", "Ma\u0301ry"), ("LOC", "Be\u0300rlin")]),
        # Emoji and CJK ([UNK] pieces) around entities.
        ("😀 Mary 東京 in Paris 🇫🇷", [("PER", "Mary"), ("LOC", "Paris")]),
        # "mary😀smith" is one word of one [UNK] piece: tagged O, offsets still exact.
        ("Mary😀Smith in Paris", [("LOC", "Paris")]),
        # Zero-width characters (removed by the normalizer) inside and around words.
        ("\u200bJo\u200bhn\u200b visited \u200dLondon", [("PER", "Jo\u200bhn"), ("LOC", "London")]),
        # Tabs, CRLF, runs of spaces, no-break and ideographic spaces (a line break ends a
        # sentence, so an entity does not run across one).
        ("\tJohn \t  Smith\t\tin \r\n  Paris\r\n", [("PER", "John \t  Smith"), ("LOC", "Paris")]),
        ("Mary\u00a0Smith\u3000London", [("PER", "Mary\u00a0Smith"), ("LOC", "London")]),
        # Control characters (dropped by the normalizer).
        ("John\x00 Smith\x07 in\x1b Paris", [("PER", "John\x00 Smith"), ("LOC", "Paris")]),
        # A 1,000-character word with no spaces (1,000 subwords, many windows).
        ("x" * 1000 + " Mary in London", [("PER", "Mary"), ("LOC", "London")]),
        ("Mary " + "ab" * 500 + " London", [("PER", "Mary"), ("LOC", "London")]),
    ],
)
def test_offsets_on_hard_text(predictor: NERPredictor, text: str, expected: list) -> None:
    assert found(predictor, text) == expected


# Pieces the random texts are made of: entity words (with case and accent variants),
# separators of every kind, and arbitrary unicode.
ENTITY_WORDS = st.sampled_from(
    ["John", "Mary", "Smith", "Paris", "LONDON", "Bérlin", "Reuters", "Máry", "paris"]
)
SEPARATORS = st.sampled_from(
    [" ", "  ", "\t", "\r\n", "\n", "\u00a0", "\u200b", "\u3000", "\u2028", " \u0301", ""]
)
PIECES = st.one_of(ENTITY_WORDS, SEPARATORS, st.text(max_size=12))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_entity_offsets_property(predictor: NERPredictor, text: str) -> None:
    check_entities(text, predictor.predict_text(text))


def _normalize(text: str) -> str:
    """What the uncased BERT normalizer does to text, for comparison with tokens: lowercase,
    strip accents, drop control characters (its clean_text step)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cc", "Cf"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ENTITY_WORDS, SEPARATORS, st.text(max_size=8)), max_size=20))
def test_wordpiece_token_offsets_point_at_their_characters(
    wordpiece_encoder: TextEncoder, pieces: list[str]
) -> None:
    text = "".join(pieces)
    (encoded,) = wordpiece_encoder.encode_texts([text])
    backend = wordpiece_encoder._backend
    encoding = backend.encode(text, add_special_tokens=False)
    for token, (start, end) in zip(encoding.tokens, encoding.offsets, strict=True):
        assert 0 <= start <= end <= len(text)
        if token != "[UNK]":
            assert _normalize(text[start:end]) == token.removeprefix("##")
    for start, end in encoded.word_spans:
        assert 0 <= start <= end <= len(text)
    assert encoded.n_words == len(encoded.word_spans)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ENTITY_WORDS, SEPARATORS, st.text(max_size=8)), max_size=20))
def test_bpe_word_spans_cover_their_bytes(bpe_encoder: TextEncoder, pieces: list[str]) -> None:
    text = "".join(pieces)
    (encoded,) = bpe_encoder.encode_texts([text])
    covered = "".join(text[s:e] for s, e in encoded.word_spans)
    # Byte-level BPE loses nothing: the words cover every non-space character in order.
    assert covered.replace(" ", "") == "".join(c for c in text if c != " ")
    for start, end in encoded.word_spans:
        assert 0 <= start <= end <= len(text)  # a lone space is a word with an empty span


@pytest.fixture(scope="module")
def wordpiece_encoder(wordpiece_tokenizer) -> TextEncoder:  # type: ignore[no-untyped-def]
    return TextEncoder(wordpiece_tokenizer, max_length=32, overlap=0.25)


@pytest.fixture(scope="module")
def bpe_encoder(bpe_tokenizer) -> TextEncoder:  # type: ignore[no-untyped-def]
    return TextEncoder(bpe_tokenizer, max_length=32, overlap=0.25)

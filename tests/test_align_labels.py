"""Tests of labels.align_labels with real offline tokenizers and hypothesis properties."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert.errors import LabelError, NerBertError
from ner_bert.labels import IGNORE_INDEX, LabelSet, align_labels

WORDS = ["John", "Smithers", "visited", "Parisian", "banks", "in", "New", "York", "."]
TAGS = ["B-PER", "I-PER", "O", "B-MISC", "O", "O", "B-LOC", "I-LOC", "O"]
LABELS = LabelSet.from_tags(TAGS)
TOKENIZERS = ["wordpiece_tokenizer", "bpe_tokenizer"]


def _encode(tokenizer, words, **kwargs):
    return tokenizer(words, is_split_into_words=True, return_special_tokens_mask=True, **kwargs)


def _first_positions(word_ids):
    """Position of the first subword of each word that has subwords."""
    first: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in first:
            first[word] = position
    return first


@pytest.mark.parametrize("name", TOKENIZERS)
def test_real_tokenizer_default_mode(name, request):
    tokenizer = request.getfixturevalue(name)
    enc = _encode(tokenizer, WORDS)
    word_ids = enc.word_ids()
    pieces = Counter(w for w in word_ids if w is not None)
    # The test is only meaningful if some words really split into several subwords ...
    assert sorted(pieces) == list(range(len(WORDS)))
    assert sum(n > 1 for n in pieces.values()) >= 2, enc.tokens()
    # ... and the tokenizer knows the words (a broken vocab gives one [UNK] per word).
    assert tokenizer.unk_token not in enc.tokens()

    out = align_labels(word_ids, TAGS, LABELS.label2id)

    assert len(out) == len(word_ids) == len(enc["input_ids"])
    first = _first_positions(word_ids)
    for position, (word, special) in enumerate(
        zip(word_ids, enc["special_tokens_mask"], strict=True)
    ):
        if word is None:
            assert special == 1
            assert out[position] == IGNORE_INDEX
        elif position == first[word]:
            assert LABELS.id2label[out[position]] == TAGS[word]
        else:
            assert out[position] == IGNORE_INDEX
    assert sum(label != IGNORE_INDEX for label in out) == len(WORDS)
    assert out[0] == out[-1] == IGNORE_INDEX  # [CLS]/<s> and [SEP]/</s>


@pytest.mark.parametrize("name", TOKENIZERS)
def test_real_tokenizer_label_all_subwords(name, request):
    tokenizer = request.getfixturevalue(name)
    word_ids = _encode(tokenizer, WORDS).word_ids()
    out = align_labels(word_ids, TAGS, LABELS.label2id, label_all_subwords=True)
    default = align_labels(word_ids, TAGS, LABELS.label2id)

    first = _first_positions(word_ids)
    b_to_i = LABELS.b_to_i
    for position, word in enumerate(word_ids):
        if word is None:
            assert out[position] == IGNORE_INDEX
        elif position == first[word]:
            assert out[position] == default[position] == LABELS.label2id[TAGS[word]]
        else:
            first_id = LABELS.label2id[TAGS[word]]
            assert out[position] == b_to_i.get(first_id, first_id)
    # "Smithers" (I-PER) and "Parisian" (B-MISC) both split: check the decoded tags.
    smithers = [LABELS.id2label[out[p]] for p, w in enumerate(word_ids) if w == 1]
    parisian = [LABELS.id2label[out[p]] for p, w in enumerate(word_ids) if w == 3]
    assert smithers == ["I-PER"] * len(smithers)
    assert parisian == ["B-MISC"] + ["I-MISC"] * (len(parisian) - 1)
    assert len(parisian) > 1


@pytest.mark.parametrize("name", TOKENIZERS)
def test_real_tokenizer_batch_and_truncation(name, request):
    tokenizer = request.getfixturevalue(name)
    batch = [WORDS, WORDS[:3]]
    enc = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=6)
    for index, (words_, tags) in enumerate(zip(batch, [TAGS, TAGS[:3]], strict=True)):
        word_ids = enc.word_ids(index)
        out = align_labels(word_ids, tags, LABELS.label2id)
        assert len(out) == len(word_ids) <= 6
        seen = {w for w in word_ids if w is not None}
        # Truncated words get no label; every word that survived gets exactly one.
        assert sum(label != IGNORE_INDEX for label in out) == len(seen) <= len(words_)
    assert len({w for w in enc.word_ids(0) if w is not None}) < len(WORDS)


# ---------------------------------------------------------------- properties

PROPERTY_LABELS = LabelSet.from_entity_types(["LOC", "PER"])
ANY_TAG = st.sampled_from(PROPERTY_LABELS.labels)


@st.composite
def sentences(draw, min_pieces: int = 1):
    """(word_ids, IOB2 tags, pieces per word): monotone word ids, special tokens at the ends."""
    tags = draw(st.lists(ANY_TAG, min_size=1, max_size=10))
    # Repair I-X that does not continue X, so the tags are valid IOB2.
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:]):
            tags[i] = "B-" + tag[2:]
    pieces = draw(st.lists(st.integers(min_pieces, 4), min_size=len(tags), max_size=len(tags)))
    head, tail = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    word_ids: list[int | None] = [None] * head
    for word, count in enumerate(pieces):
        word_ids += [word] * count
    word_ids += [None] * tail
    return word_ids, tags, pieces


@settings(max_examples=150, deadline=None)
@given(sentences())
def test_property_default_mode(sentence):
    word_ids, tags, _ = sentence
    out = align_labels(word_ids, tags, PROPERTY_LABELS.label2id)
    assert len(out) == len(word_ids)
    labelled = [w for w, label in zip(word_ids, out, strict=True) if label != IGNORE_INDEX]
    assert labelled == list(range(len(tags)))  # each word exactly once, in order
    first = _first_positions(word_ids)
    for position, (word, label) in enumerate(zip(word_ids, out, strict=True)):
        if word is None:
            assert label == IGNORE_INDEX
        elif position == first[word]:
            assert PROPERTY_LABELS.id2label[label] == tags[word]
        else:
            assert label == IGNORE_INDEX


@settings(max_examples=150, deadline=None)
@given(sentences(min_pieces=0))
def test_property_words_without_subwords_get_no_label(sentence):
    word_ids, tags, pieces = sentence
    out = align_labels(word_ids, tags, PROPERTY_LABELS.label2id)
    counts = Counter(w for w, label in zip(word_ids, out, strict=True) if label != IGNORE_INDEX)
    assert counts == Counter({w: 1 for w, n in enumerate(pieces) if n > 0})


@settings(max_examples=150, deadline=None)
@given(sentences())
def test_property_label_all_subwords(sentence):
    word_ids, tags, _ = sentence
    out = align_labels(word_ids, tags, PROPERTY_LABELS.label2id, label_all_subwords=True)
    default = align_labels(word_ids, tags, PROPERTY_LABELS.label2id)
    assert len(out) == len(word_ids)
    first = _first_positions(word_ids)
    for position, (word, label) in enumerate(zip(word_ids, out, strict=True)):
        if word is None:
            assert label == IGNORE_INDEX
            continue
        tag = PROPERTY_LABELS.id2label[label]
        if position == first[word]:
            assert label == default[position]
            assert tag == tags[word]
        else:
            assert not tag.startswith("B-")
            assert default[position] == IGNORE_INDEX
            assert tag == (tags[word] if tags[word] == "O" else "I-" + tags[word][2:])


# ---------------------------------------------------------------- errors


def test_unknown_tag_lists_known_labels():
    label2id = LabelSet.from_entity_types(["PER"]).label2id
    with pytest.raises(LabelError, match="'B-LOC' is not in label2id") as info:
        align_labels([None, 0, 1, None], ["O", "B-LOC"], label2id)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NerBertError)
    for label in label2id:
        assert repr(label) in str(info.value)


def test_missing_i_label_for_continuation_subwords():
    label2id = {"O": 0, "B-PER": 1}  # no I-PER
    assert align_labels([0, 0], ["B-PER"], label2id) == [1, IGNORE_INDEX]
    with pytest.raises(LabelError, match="'I-PER'"):
        align_labels([0, 0], ["B-PER"], label2id, label_all_subwords=True)


@pytest.mark.parametrize("bad", [2, 5, -1])
def test_word_id_out_of_range(bad):
    with pytest.raises(LabelError, match=f"word id {bad} is out of range for 2 tags"):
        align_labels([None, 0, 1, bad, None], ["O", "O"], {"O": 0})

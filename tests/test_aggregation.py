"""Tests of ner_bert.aggregation: plain numpy arrays, no model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert.errors import ConfigError, DataFormatError
from ner_bert.labels import LabelSet, convert_to_iob2
from ner_bert.subwords.decoding import (
    Aggregation,
    Decoding,
    allowed_transitions,
    char_entities,
    decode_many,
    decode_tags,
    parse_aggregation,
    parse_decoding,
    word_probabilities,
)
from ner_bert.subwords.windows import merge_windows, plan_windows

LABELS = LabelSet(("O", "B-LOC", "I-LOC", "B-PER", "I-PER"))


# --- plan_windows / merge_windows -------------------------------------------------------


@given(
    n=st.integers(0, 300),
    window=st.integers(1, 40),
    data=st.data(),
)
def test_plan_windows_covers_everything(n: int, window: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, window))
    windows = plan_windows(n, window=window, stride=stride)
    covered = set()
    for start, end in windows:
        assert 0 <= start < end <= n
        assert end - start <= window
        covered.update(range(start, end))
    assert covered == set(range(n))
    if windows:
        assert windows[0][0] == 0 and windows[-1][1] == n
    for (s1, e1), (s2, _) in itertools.pairwise(windows):
        assert s2 - s1 == stride
        assert e1 - s2 == window - stride  # overlap


@pytest.mark.parametrize(("window", "stride"), [(0, 1), (4, 0), (4, 5), (-1, 1)])
def test_plan_windows_rejects_bad_arguments(window: int, stride: int) -> None:
    with pytest.raises(ConfigError, match="must be"):
        plan_windows(10, window=window, stride=stride)


def test_merge_windows_takes_the_most_context() -> None:
    n = 20
    windows = plan_windows(n, window=8, stride=4)
    probs = [np.full((e - s, 1), float(i)) for i, (s, e) in enumerate(windows)]
    merged = merge_windows(probs, windows, n)[:, 0]
    # token t: among windows containing it, the chosen window maximizes distance to an
    # inner edge (sequence edges do not count).
    for t in range(n):
        best = max(
            (min(t - s if s > 0 else n, e - 1 - t if e < n else n), -i)
            for i, (s, e) in enumerate(windows)
            if s <= t < e
        )
        assert merged[t] == -best[1]


def test_merge_windows_checks_shapes() -> None:
    with pytest.raises(DataFormatError, match="rows"):
        merge_windows([np.zeros((3, 2))], [(0, 4)], 4)
    with pytest.raises(DataFormatError, match="windows"):
        merge_windows([], [(0, 4)], 4)


# --- word_probabilities ---------------------------------------------------------------------


def test_word_probabilities_strategies() -> None:
    probs = np.array(
        [
            [1.0, 0.0],  # special
            [0.6, 0.4],  # word 0
            [0.1, 0.9],  # word 0
            [0.3, 0.7],  # word 1
            [0.5, 0.5],  # special
        ]
    )
    word_ids = [None, 0, 0, 1, None]
    np.testing.assert_allclose(
        word_probabilities(probs, word_ids, 3, "first"), [[0.6, 0.4], [0.3, 0.7], [0, 0]]
    )
    np.testing.assert_allclose(
        word_probabilities(probs, word_ids, 3, Aggregation.AVERAGE),
        [[0.35, 0.65], [0.3, 0.7], [0, 0]],
    )
    np.testing.assert_allclose(
        word_probabilities(probs, word_ids, 3, "max"), [[0.1, 0.9], [0.3, 0.7], [0, 0]]
    )


def test_word_probabilities_max_prefers_earliest_on_ties() -> None:
    probs = np.array([[0.8, 0.2], [0.2, 0.8]])
    assert word_probabilities(probs, [0, 0], 1, "max").tolist() == [[0.8, 0.2]]


def test_word_probabilities_errors() -> None:
    with pytest.raises(ConfigError, match="'first', 'average', 'max'"):
        word_probabilities(np.zeros((1, 2)), [0], 1, "mean")
    with pytest.raises(DataFormatError, match="out of range"):
        word_probabilities(np.zeros((1, 2)), [3], 1)
    with pytest.raises(DataFormatError, match="shape"):
        word_probabilities(np.zeros((2, 2)), [0], 1)


def test_parsers_accept_enums_and_names() -> None:
    assert parse_aggregation("FIRST") is Aggregation.FIRST
    assert parse_decoding(Decoding.VITERBI) is Decoding.VITERBI
    with pytest.raises(ConfigError, match="'viterbi', 'greedy'"):
        parse_decoding("beam")


# --- decode_tags ----------------------------------------------------------------------------


def _is_valid_iob2(tags: list[str]) -> bool:
    try:
        convert_to_iob2(tags, "IOB2", strict=True)
    except ValueError:
        return False
    return True


def test_allowed_transitions_iob2() -> None:
    start, trans = allowed_transitions(LABELS)
    assert start.tolist() == [True, True, False, True, False]
    ids = LABELS.label2id
    assert trans[ids["B-LOC"], ids["I-LOC"]] and trans[ids["I-LOC"], ids["I-LOC"]]
    assert not trans[ids["O"], ids["I-LOC"]]
    assert not trans[ids["B-PER"], ids["I-LOC"]]
    assert trans[ids["I-PER"], ids["B-LOC"]]


def _brute_force_best(probs: np.ndarray) -> float:
    best = -np.inf
    for combo in itertools.product(range(len(LABELS)), repeat=probs.shape[0]):
        tags = [LABELS.labels[i] for i in combo]
        if _is_valid_iob2(tags):
            best = max(best, float(np.sum(np.log(probs[np.arange(len(combo)), combo]))))
    return best


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5), min_size=n, max_size=n
        )
    )
)
def test_viterbi_is_valid_and_optimal(rows: list[list[float]]) -> None:
    probs = np.array(rows)
    probs /= probs.sum(axis=1, keepdims=True)
    tags, scores = decode_tags(probs, LABELS)
    assert _is_valid_iob2(tags)
    ids = [LABELS.label2id[t] for t in tags]
    np.testing.assert_allclose(scores, probs[np.arange(len(ids)), ids])
    assert all(type(s) is float for s in scores)
    got = float(np.sum(np.log(probs[np.arange(len(ids)), ids])))
    assert got == pytest.approx(_brute_force_best(probs), abs=1e-9)


@given(st.lists(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5), min_size=0, max_size=30))
def test_greedy_is_valid_and_keeps_argmax_types(rows: list[list[float]]) -> None:
    probs = np.array(rows).reshape(len(rows), 5)
    tags, scores = decode_tags(probs, LABELS, decoding="greedy")
    assert _is_valid_iob2(tags)
    assert len(tags) == len(scores) == len(rows)
    for row, tag in zip(probs, tags, strict=True):
        if row.any():
            argmax = LABELS.labels[int(row.argmax())]
            assert tag[2:] == argmax[2:]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5), max_size=12),
        max_size=9,
    ),
    st.sampled_from(["viterbi", "greedy"]),
)
def test_decode_many_is_decode_tags_of_each(
    sentences: list[list[list[float]]], decoding: str
) -> None:
    arrays = [np.array(rows).reshape(len(rows), 5) for rows in sentences]
    together = decode_many(arrays, LABELS, decoding=decoding)
    assert together == [decode_tags(a, LABELS, decoding=decoding) for a in arrays]


def test_decode_many_groups_long_and_short_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    import ner_bert.subwords.decoding as decoding_module

    rng = np.random.default_rng(0)
    arrays = [rng.dirichlet(np.ones(5), size=n) for n in (1, 40, 3, 0, 7, 40, 2, 15)]
    one_group = decode_many(arrays, LABELS)
    monkeypatch.setattr(decoding_module, "_GROUP_CELLS", 20)  # several groups, one per long
    assert decode_many(arrays, LABELS) == one_group
    for array, (tags, scores) in zip(arrays, one_group, strict=True):
        assert len(tags) == len(scores) == len(array)
        assert _is_valid_iob2(tags)
        if len(array) <= 7:
            best = _brute_force_best(array) if len(array) <= 4 else None
            ids = [LABELS.label2id[t] for t in tags]
            if best is not None:
                got = float(np.sum(np.log(array[np.arange(len(ids)), ids])))
                assert got == pytest.approx(best, abs=1e-9)


def test_viterbi_fixes_stray_inside_tag() -> None:
    # O, then a word that prefers I-PER slightly over B-PER: viterbi picks B-PER.
    probs = np.array([[0.9, 0.025, 0.025, 0.025, 0.025], [0.1, 0.0, 0.0, 0.4, 0.5]])
    tags, scores = decode_tags(probs, LABELS)
    assert tags == ["O", "B-PER"]
    assert scores == pytest.approx([0.9, 0.4])
    greedy, greedy_scores = decode_tags(probs, LABELS, decoding="greedy")
    assert greedy == ["O", "B-PER"]
    assert greedy_scores == pytest.approx([0.9, 0.5])


def test_word_without_subwords_is_outside() -> None:
    labels = LabelSet(("B-PER", "I-PER", "O"))  # O is not label 0
    probs = np.array([[0.9, 0.05, 0.05], [0.0, 0.0, 0.0], [0.1, 0.8, 0.1]])
    for decoding in ("viterbi", "greedy"):
        tags, scores = decode_tags(probs, labels, decoding=decoding)
        assert tags[1] == "O" and scores[1] == 1.0
        assert tags[2] == "B-PER"


def test_decode_tags_empty_and_bad_shape() -> None:
    assert decode_tags(np.zeros((0, 5)), LABELS) == ([], [])
    with pytest.raises(DataFormatError, match="shape"):
        decode_tags(np.zeros((2, 3)), LABELS)


# --- char_entities -------------------------------------------------------------------------


def test_char_entities_trims_and_scores() -> None:
    text = "  Ada\u00a0 Lovelace \t went to  Paris\r\n"
    spans = [(0, 5), (5, 16), (16, 23), (24, 26), (26, 33)]
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC"]
    entities = char_entities(text, spans, tags, [0.5, 1.0, 1.0, 1.0, 0.25])
    assert [(e.label, e.text, e.score) for e in entities] == [
        ("PER", "Ada\u00a0 Lovelace", 0.75),
        ("LOC", "Paris", 0.25),
    ]
    for e in entities:
        assert text[e.start : e.end] == e.text
        assert type(e.score) is float


def test_char_entities_drops_whitespace_only_and_checks_lengths() -> None:
    assert char_entities("a   b", [(1, 4)], ["B-PER"], [1.0]) == []
    with pytest.raises(DataFormatError, match="one of each"):
        char_entities("a", [(0, 1)], ["O", "O"], [1.0])

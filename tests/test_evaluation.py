"""Tests of ner_bert.evaluation against hand-computed numbers and an independent reference."""

from __future__ import annotations

import json
import statistics
import warnings
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert.errors import DataFormatError, NerBertError, TagSchemeError
from ner_bert.evaluation import EvaluationReport, ModeReport, Scores, evaluate_tags
from ner_bert.labels import tags_to_spans

# Sentence 0: the predicted PER mention opens with I-PER (conlleval: a mention, strict: none).
# Sentence 1: the predicted ORG mention is one word short (wrong in both modes).
GOLD = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "O"]]
PRED = [["I-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O", "O"]]


def _approx(scores: Scores, precision: float, recall: float, f1: float, support: int) -> None:
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((precision, recall, f1))
    assert scores.support == support


def _no_warnings(gold, pred) -> EvaluationReport:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return evaluate_tags(gold, pred)


def test_conlleval_counts_a_mention_opened_by_i_strict_does_not():
    report = _no_warnings(GOLD, PRED)
    # conlleval: predicted PER(0-1), LOC(3), ORG(0); gold PER, LOC, ORG(0-1) -> 2 of 3 right.
    _approx(report.conlleval.micro, 2 / 3, 2 / 3, 2 / 3, 3)
    _approx(report.conlleval.per_type["PER"], 1.0, 1.0, 1.0, 1)
    _approx(report.conlleval.per_type["LOC"], 1.0, 1.0, 1.0, 1)
    _approx(report.conlleval.per_type["ORG"], 0.0, 0.0, 0.0, 1)
    _approx(report.conlleval.macro, 2 / 3, 2 / 3, 2 / 3, 3)
    # strict: predicted LOC and ORG(0) only -> P = 1/2, R = 1/3, F1 = 2PR/(P+R) = 0.4.
    _approx(report.strict.micro, 1 / 2, 1 / 3, 0.4, 3)
    _approx(report.strict.per_type["PER"], 0.0, 0.0, 0.0, 1)
    _approx(report.strict.per_type["LOC"], 1.0, 1.0, 1.0, 1)
    _approx(report.strict.per_type["ORG"], 0.0, 0.0, 0.0, 1)
    _approx(report.strict.macro, 1 / 3, 1 / 3, 1 / 3, 3)
    assert report.f1 == report.conlleval.micro.f1
    assert report.n_sentences == 2


def test_perfect_predictions_score_one():
    report = _no_warnings(GOLD, GOLD)
    for mode in (report.conlleval, report.strict):
        _approx(mode.micro, 1.0, 1.0, 1.0, 3)
        _approx(mode.macro, 1.0, 1.0, 1.0, 3)
        assert all(s.f1 == 1.0 for s in mode.per_type.values())
    assert report.f1 == 1.0


def test_all_o_predictions_score_zero_without_warnings():
    pred = [["O"] * len(tags) for tags in GOLD]
    report = _no_warnings(GOLD, pred)
    for mode in (report.conlleval, report.strict):
        _approx(mode.micro, 0.0, 0.0, 0.0, 3)
        _approx(mode.macro, 0.0, 0.0, 0.0, 3)
        assert {k: s.support for k, s in mode.per_type.items()} == {"LOC": 1, "ORG": 1, "PER": 1}
    assert report.f1 == 0.0


def test_no_mentions_anywhere_scores_zero_without_warnings():
    report = _no_warnings([["O", "O"], []], [["O", "O"], []])
    for mode in (report.conlleval, report.strict):
        assert mode.per_type == {}
        _approx(mode.micro, 0.0, 0.0, 0.0, 0)
        _approx(mode.macro, 0.0, 0.0, 0.0, 0)


def test_per_type_supports_count_gold_mentions():
    gold = [
        ["B-PER", "O", "B-PER", "I-PER", "B-LOC"],
        ["B-LOC", "B-LOC", "O"],
        ["B-MISC", "I-MISC", "I-MISC"],
    ]
    report = _no_warnings(gold, [["O"] * len(tags) for tags in gold])
    expected = {"LOC": 3, "MISC": 1, "PER": 2}
    for mode in (report.conlleval, report.strict):
        assert {k: s.support for k, s in mode.per_type.items()} == expected
        assert list(mode.per_type) == sorted(expected)
        assert mode.micro.support == mode.macro.support == 6


def test_type_only_in_predictions_is_a_row_with_support_zero():
    report = _no_warnings([["B-PER", "O"]], [["B-PER", "B-MISC"]])
    for mode in (report.conlleval, report.strict):
        _approx(mode.per_type["MISC"], 0.0, 0.0, 0.0, 0)
        _approx(mode.per_type["PER"], 1.0, 1.0, 1.0, 1)
        _approx(mode.micro, 1 / 2, 1.0, 2 / 3, 1)
        # The spurious type drags the macro average down: mean(1.0, 0.0).
        assert mode.macro.f1 == pytest.approx(0.5)


def test_type_predicted_only_by_i_tags_has_no_strict_row():
    report = _no_warnings([["O", "O"]], [["O", "I-MISC"]])
    assert list(report.conlleval.per_type) == ["MISC"]
    _approx(report.conlleval.micro, 0.0, 0.0, 0.0, 0)
    assert report.strict.per_type == {}
    misc_line = next(line for line in report.format_table().splitlines() if line.startswith("MISC"))
    assert misc_line.split()[4:7] == ["-", "-", "-"]


def test_macro_is_mean_of_per_type_scores():
    report = _no_warnings(GOLD, PRED)
    for mode in (report.conlleval, report.strict):
        for field in ("precision", "recall", "f1"):
            values = [getattr(s, field) for s in mode.per_type.values()]
            assert getattr(mode.macro, field) == pytest.approx(statistics.fmean(values))


def test_scores_are_plain_python_numbers():
    report = evaluate_tags(GOLD, PRED)
    for mode in (report.conlleval, report.strict):
        for scores in (mode.micro, mode.macro, *mode.per_type.values()):
            assert type(scores.precision) is float
            assert type(scores.recall) is float
            assert type(scores.f1) is float
            assert type(scores.support) is int
    assert type(report.f1) is float


def test_to_dict_json_round_trip():
    report = evaluate_tags(GOLD, PRED)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["n_sentences"] == 2
    assert data["f1"] == report.f1
    assert data["strict"]["per_type"]["LOC"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
    }
    assert data["conlleval"]["micro"]["support"] == 3
    assert set(data["strict"]) == {"per_type", "micro", "macro"}


def test_table_has_a_row_per_type_and_averages():
    report = evaluate_tags(GOLD, PRED)
    table = report.format_table()
    assert str(report) == table
    first_words = [line.split()[0] for line in table.splitlines() if line.strip()]
    for name in ("LOC", "ORG", "PER", "micro", "macro"):
        assert name in first_words
    assert "conlleval" in table and "strict" in table and "support" in table
    strict_per = next(line for line in table.splitlines() if line.startswith("PER"))
    assert strict_per.split()[1:] == ["1.0000"] * 3 + ["0.0000"] * 3 + ["1"]
    micro = next(line for line in table.splitlines() if line.startswith("micro"))
    assert micro.split()[-4:] == ["0.5000", "0.3333", "0.4000", "3"]


def test_underscore_separator_is_read_as_hyphen():
    report = evaluate_tags([["B_PER", "I_PER"]], [["B-PER", "I-PER"]])
    assert report.f1 == 1.0
    assert list(report.strict.per_type) == ["PER"]


def test_frozen_results():
    report = evaluate_tags(GOLD, PRED)
    assert isinstance(report.strict, ModeReport)
    with pytest.raises(AttributeError):
        report.n_sentences = 3  # type: ignore[misc]


# ---------------------------------------------------------------- validation


def test_empty_input():
    with pytest.raises(DataFormatError, match="no sentences"):
        evaluate_tags([], [])


def test_different_number_of_sentences():
    with pytest.raises(DataFormatError, match="2 gold sentences but 1 predicted"):
        evaluate_tags(GOLD, PRED[:1])


def test_sentence_length_mismatch_names_index_and_lengths():
    pred = [PRED[0], ["B-ORG", "O"]]
    with pytest.raises(DataFormatError, match=r"sentence 1: 3 gold tags but 2 predicted") as info:
        evaluate_tags(GOLD, pred)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NerBertError)


def test_a_string_is_not_a_sentence():
    with pytest.raises(DataFormatError, match="not a sequence of tags"):
        evaluate_tags(["B-PER"], [["B-PER"]])  # type: ignore[list-item]


def test_gold_must_be_valid_iob2():
    with pytest.raises(TagSchemeError, match=r"gold sentence 0, word 0: .*'I-PER' opens"):
        evaluate_tags([["I-PER", "O"]], [["B-PER", "O"]])
    with pytest.raises(TagSchemeError, match=r"gold sentence 0, word 1: .*follows 'B-LOC'"):
        evaluate_tags([["B-LOC", "I-PER"]], [["B-LOC", "I-LOC"]])


@pytest.mark.parametrize("bad", ["PER", "E-PER", "S-LOC", " O", ""])
def test_non_iob2_tags_are_rejected(bad):
    with pytest.raises(TagSchemeError, match="predicted sentence 0, word 1"):
        evaluate_tags([["O", "O"]], [["O", bad]])
    with pytest.raises(TagSchemeError, match="gold sentence 0, word 1"):
        evaluate_tags([["O", bad]], [["O", "O"]])


# ---------------------------------------------------------------- independent reference

TYPES = ("LOC", "PER", "ORG")
TAG = st.sampled_from(["O", "O", *(p + t for p in ("B-", "I-") for t in TYPES)])


def _valid_iob2(tags: list[str]) -> list[str]:
    """Turn an I-X that does not continue X into B-X (gold must be valid IOB2)."""
    out: list[str] = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (i == 0 or out[i - 1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def _strict_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """Mentions that open with B-X and continue with I-X of the same type."""
    spans = set()
    i = 0
    while i < len(tags):
        if tags[i].startswith("B-"):
            kind, end = tags[i][2:], i + 1
            while end < len(tags) and tags[end] == "I-" + kind:
                end += 1
            spans.add((kind, i, end))
            i = end
        else:
            i += 1
    return spans


def _reference(gold, pred, spans_of):
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        gs, ps = spans_of(g), spans_of(p)
        for kind, *_ in gs:
            n_gold[kind] += 1
        for kind, *_ in ps:
            n_pred[kind] += 1
        for kind, *_ in gs & ps:
            tp[kind] += 1
    total_tp, total_pred, total_gold = sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())
    precision = total_tp / total_pred if total_pred else 0.0
    recall = total_tp / total_gold if total_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, dict(n_gold), set(n_gold) | set(n_pred)


def _conlleval_spans(tags):
    return {(s.label, s.start, s.end) for s in tags_to_spans(tags)}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(TAG, TAG), max_size=7), min_size=1, max_size=4))
def test_matches_an_independent_reference(sentences):
    gold = [_valid_iob2([g for g, _ in s]) for s in sentences]
    pred = [[p for _, p in s] for s in sentences]
    report = _no_warnings(gold, pred)
    for mode, spans_of in ((report.conlleval, _conlleval_spans), (report.strict, _strict_spans)):
        precision, recall, f1, supports, kinds = _reference(gold, pred, spans_of)
        assert (mode.micro.precision, mode.micro.recall, mode.micro.f1) == pytest.approx(
            (precision, recall, f1)
        )
        assert set(mode.per_type) == kinds
        assert {k: s.support for k, s in mode.per_type.items() if s.support} == supports
        if kinds:
            assert mode.macro.f1 == pytest.approx(
                statistics.fmean(s.f1 for s in mode.per_type.values())
            )

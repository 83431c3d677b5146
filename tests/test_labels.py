"""labels.py: scheme detection and conversion, tags <-> spans, LabelSet, parse_scheme."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert import ConfigError, LabelError, TagSchemeError
from ner_bert.labels import (
    LabelSet,
    Span,
    TagScheme,
    convert_to_iob2,
    detect_scheme,
    parse_scheme,
    spans_to_tags,
    split_tag,
    tags_to_spans,
)

# --- split_tag / parse_scheme ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("O", ("O", None)),
        ("B-PER", ("B", "PER")),
        ("I_MISC", ("I", "MISC")),
        ("S-WORK_OF_ART", ("S", "WORK_OF_ART")),
        ("PER", ("", "PER")),
        ("LABEL_0", ("", "LABEL_0")),
    ],
)
def test_split_tag(tag, expected):
    assert split_tag(tag) == expected


@pytest.mark.parametrize("tag", ["", " B-PER", "B-PER "])
def test_split_tag_rejects_empty_and_padded_tags(tag):
    with pytest.raises(TagSchemeError, match=r"x\.txt:3: tag"):
        split_tag(tag, where="x.txt:3: ")


@pytest.mark.parametrize("name", ["iob1", "IOB2", "Bioes", "bilou", "io", TagScheme.IOB2])
def test_parse_scheme_accepts_names_case_insensitively(name):
    assert parse_scheme(name) is TagScheme(str(getattr(name, "value", name)).upper())


def test_parse_scheme_error_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        parse_scheme("BIO")
    assert isinstance(info.value, ValueError)
    assert "'IOB1', 'IOB2', 'BIOES', 'BILOU', 'IO'" in str(info.value)
    assert "'BIO'" in str(info.value)


# --- detect_scheme ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequences", "expected"),
    [
        ([["B-PER", "I-PER", "O"], ["B-LOC"]], TagScheme.IOB2),
        ([["O", "O"]], TagScheme.IOB2),
        ([["B-PER", "I-PER"], ["O", "I-LOC"]], TagScheme.IOB1),
        ([["B-PER", "I-LOC"]], TagScheme.IOB1),
        ([["B-PER", "E-PER", "O"], ["S-LOC"]], TagScheme.BIOES),
        ([["B-PER", "L-PER"], ["U-LOC"]], TagScheme.BILOU),
        ([["PER", "PER", "O", "LOC"]], TagScheme.IO),
        ([["B-PER"], ["LOC"]], TagScheme.IO),
    ],
)
def test_detect_scheme(sequences, expected):
    assert detect_scheme(sequences) is expected


def test_detect_scheme_looks_across_sentence_starts():
    # "I-PER" opening the second sentence is IOB1 even though it follows I-PER in the first.
    assert detect_scheme([["B-PER", "I-PER"], ["I-PER"]]) is TagScheme.IOB1


# --- convert_to_iob2 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "tags", "expected"),
    [
        (
            "IOB1",
            ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"],
            ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"],
        ),
        ("IOB2", ["B-PER", "I-PER", "B-PER", "O"], ["B-PER", "I-PER", "B-PER", "O"]),
        (
            "BIOES",
            ["B-LOC", "I-LOC", "E-LOC", "S-PER", "S-PER", "O", "E-ORG"],
            ["B-LOC", "I-LOC", "I-LOC", "B-PER", "B-PER", "O", "B-ORG"],
        ),
        (
            "BILOU",
            ["B-LOC", "I-LOC", "L-LOC", "U-PER", "U-PER", "O"],
            ["B-LOC", "I-LOC", "I-LOC", "B-PER", "B-PER", "O"],
        ),
        ("IO", ["PER", "PER", "O", "LOC", "ORG"], ["B-PER", "I-PER", "O", "B-LOC", "B-ORG"]),
        ("IO", ["I-PER", "I-PER", "I-LOC"], ["B-PER", "I-PER", "B-LOC"]),
        ("IOB2", ["B_PER", "I_PER"], ["B-PER", "I-PER"]),
    ],
)
def test_convert_to_iob2(scheme, tags, expected):
    assert convert_to_iob2(tags, scheme) == expected


def test_strict_iob2_violation_says_where_and_suggests_iob1():
    with pytest.raises(TagSchemeError) as info:
        convert_to_iob2(["O", "I-PER"], "IOB2", where="train.txt:12")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith("train.txt:12: word 2: tag 'I-PER' follows 'O'")
    assert "scheme='IOB1'" in message
    with pytest.raises(TagSchemeError, match="opens the sentence"):
        convert_to_iob2(["I-PER"], "IOB2")
    with pytest.raises(TagSchemeError, match="follows 'B-LOC'"):
        convert_to_iob2(["B-LOC", "I-PER"], "IOB2")


def test_non_strict_iob2_reads_a_violation_as_opening_a_mention():
    assert convert_to_iob2(["O", "I-PER", "I-PER"], "IOB2", strict=False) == [
        "O",
        "B-PER",
        "I-PER",
    ]


@pytest.mark.parametrize(
    ("scheme", "tag"),
    [("IOB2", "E-PER"), ("IOB1", "S-PER"), ("BIOES", "L-PER"), ("BILOU", "E-PER"), ("IO", "B-PER")],
)
def test_prefix_not_in_the_scheme_is_an_error(scheme, tag):
    with pytest.raises(TagSchemeError, match=f"tag '{tag}' has prefix {tag[0]}-") as info:
        convert_to_iob2(["O", tag], scheme, where="f.txt:3")
    assert str(info.value).startswith("f.txt:3: word 2:")


def test_plain_label_outside_io_is_an_error():
    with pytest.raises(TagSchemeError, match=r"prefix \(none\)"):
        convert_to_iob2(["B-PER", "LOC"], "IOB2")


# --- tags <-> spans --------------------------------------------------------------------------


def test_tags_to_spans_reads_stray_i_as_opening():
    assert tags_to_spans(["I-PER", "I-PER", "I-LOC", "O", "B-PER"]) == [
        Span("PER", 0, 2),
        Span("LOC", 2, 3),
        Span("PER", 4, 5),
    ]
    assert tags_to_spans([]) == []


def test_spans_to_tags_rejects_overlap_and_out_of_range():
    with pytest.raises(TagSchemeError, match="overlaps"):
        spans_to_tags(4, [Span("PER", 0, 2), Span("LOC", 1, 3)])
    for bad in (Span("PER", 2, 5), Span("PER", -1, 1), Span("PER", 2, 2)):
        with pytest.raises(TagSchemeError, match="out of range"):
            spans_to_tags(4, [bad])


TYPES = st.sampled_from(["PER", "LOC", "ORG"])


@st.composite
def spans_and_length(draw: st.DrawFn) -> tuple[int, list[Span]]:
    """Non-overlapping spans (adjacent ones allowed) over a random number of words."""
    spans: list[Span] = []
    position = 0
    for _ in range(draw(st.integers(0, 6))):
        start = position + draw(st.integers(0, 2))
        end = start + draw(st.integers(1, 3))
        spans.append(Span(draw(TYPES), start, end))
        position = end
    return position + draw(st.integers(0, 2)), spans


def encode(length: int, spans: list[Span], scheme: str) -> list[str]:
    """Write spans in a scheme (the inverse of convert_to_iob2, written independently)."""
    tags = ["O"] * length
    previous_end, previous_label = -1, None
    for span in spans:
        n = span.end - span.start
        for offset in range(n):
            i = span.start + offset
            if scheme == "IOB1":
                touching = previous_end == span.start and previous_label == span.label
                prefix = "B" if offset == 0 and touching else "I"
            elif scheme in ("BIOES", "BILOU"):
                single, last = ("S", "E") if scheme == "BIOES" else ("U", "L")
                if n == 1:
                    prefix = single
                else:
                    prefix = "B" if offset == 0 else last if offset == n - 1 else "I"
            elif scheme == "IO":
                prefix = ""
            else:
                prefix = "B" if offset == 0 else "I"
            tags[i] = f"{prefix}-{span.label}" if prefix else span.label
        previous_end, previous_label = span.end, span.label
    return tags


@settings(max_examples=200, deadline=None)
@given(spans_and_length())
def test_spans_tags_round_trip(case):
    length, spans = case
    tags = spans_to_tags(length, spans)
    assert len(tags) == length
    assert tags_to_spans(tags) == spans
    assert spans_to_tags(length, tags_to_spans(tags)) == tags


@settings(max_examples=200, deadline=None)
@given(spans_and_length(), st.sampled_from(["IOB1", "IOB2", "BIOES", "BILOU"]))
def test_every_scheme_converts_back_to_the_same_spans(case, scheme):
    length, spans = case
    tags = encode(length, spans, scheme)
    iob2 = convert_to_iob2(tags, scheme)
    assert iob2 == spans_to_tags(length, spans)
    # Detection never picks a scheme that would read the tags differently.
    assert convert_to_iob2(tags, detect_scheme([tags])) == iob2


@settings(max_examples=100, deadline=None)
@given(spans_and_length())
def test_io_merges_touching_same_type_spans_and_keeps_the_rest(case):
    length, spans = case
    merged: list[Span] = []
    for span in spans:
        if merged and merged[-1].end == span.start and merged[-1].label == span.label:
            merged[-1] = Span(span.label, merged[-1].start, span.end)
        else:
            merged.append(span)
    assert tags_to_spans(convert_to_iob2(encode(length, spans, "IO"), "IO")) == merged


# --- LabelSet --------------------------------------------------------------------------------


def test_label_set_orders_labels_stably():
    a = LabelSet.from_entity_types(["PER", "LOC", "PER"])
    b = LabelSet.from_tags(["I-PER", "O", "B-LOC", "B-PER"])
    assert a == b
    assert a.labels == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    assert a.entity_types == ("LOC", "PER")
    assert len(a) == 5
    assert a.label2id == {label: i for i, label in enumerate(a.labels)}
    assert a.id2label == dict(enumerate(a.labels))
    assert a.b_to_i == {1: 2, 3: 4}


def test_label_set_from_id2label_accepts_string_keys_in_any_order():
    labels = LabelSet.from_id2label({"2": "I-PER", "0": "O", "1": "B-PER"})
    assert labels.labels == ("O", "B-PER", "I-PER")
    with pytest.raises(LabelError, match=r"0\.\.n-1"):
        LabelSet.from_id2label({0: "O", 2: "B-PER"})


def test_generic_label_names_are_an_error_that_says_what_to_do():
    with pytest.raises(LabelError) as info:
        LabelSet.from_id2label({0: "LABEL_0", 1: "LABEL_1"})
    assert isinstance(info.value, ValueError)
    assert "LABEL_0" in str(info.value) and "labels=[...]" in str(info.value)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (("O", "B-PER", "I-PER", "O"), "unique"),
        (("O", "S-PER"), "IOB2"),
        (("O", "PER"), "IOB2"),
        (("O", "B-PER"), "no partner 'I-PER'"),
        (("O", "I-LOC"), "no partner 'B-LOC'"),
    ],
)
def test_invalid_label_sets(labels, message):
    with pytest.raises(LabelError, match=message):
        LabelSet(labels)


def test_id_of_unknown_tag_lists_the_labels():
    labels = LabelSet.from_entity_types(["PER"])
    assert labels.id_of("I-PER") == 2
    with pytest.raises(LabelError, match=r"x.txt:4: tag 'B-LOC' .*\['O', 'B-PER', 'I-PER'\]"):
        labels.id_of("B-LOC", where="x.txt:4")

"""read_jsonl / write_jsonl: accepted record shapes, tokenization, every error with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_bert import DataFormatError, DataNotFoundError
from ner_bert.data.jsonl import read_jsonl, tokenize, write_jsonl
from ner_bert.labels import tags_to_spans
from ner_bert.types import TaggedSentence


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "data.jsonl"
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def pairs(sentence: TaggedSentence) -> list[tuple[str, str]]:
    return list(zip(sentence.words, sentence.tags, strict=True))


def test_entities_spans_and_doccano_label_lists(tmp_path):
    path = write(
        tmp_path,
        {"text": "Jane Doe visited Paris.", "entities": [{"start": 0, "end": 8, "label": "PER"}]},
        "",
        {"text": "Acme Corp.", "spans": [{"start": 0, "end": 9, "label": "ORG", "id": 3}]},
        {"id": 7, "text": "Bo met Al", "label": [[7, 9, "PER"], [0, 2, "PER"]]},
        {"text": "nothing here", "entities": []},
    )
    sentences = read_jsonl(path)
    assert pairs(sentences[0]) == [
        ("Jane", "B-PER"),
        ("Doe", "I-PER"),
        ("visited", "O"),
        ("Paris", "O"),
        (".", "O"),
    ]
    assert pairs(sentences[1]) == [("Acme", "B-ORG"), ("Corp", "I-ORG"), (".", "O")]
    assert pairs(sentences[2]) == [("Bo", "B-PER"), ("met", "O"), ("Al", "B-PER")]
    assert sentences[3].tags == ("O", "O")
    assert [s.document for s in sentences] == [0, 1, 2, 3]
    assert [s.source for s in sentences] == [f"{path}:{n}" for n in (1, 3, 4, 5)]


def test_tokenization_splits_punctuation_and_keeps_word_runs():
    assert [w for w, _, _ in tokenize("Dr. Müller's 3.5%-rise\tok")] == [
        "Dr",
        ".",
        "Müller",
        "'",
        "s",
        "3",
        ".",
        "5",
        "%",
        "-",
        "rise",
        "ok",
    ]


def test_adjacent_same_label_entities_stay_separate(tmp_path):
    path = write(
        tmp_path,
        {"text": "U.S.-Japan", "entities": [[0, 4, "LOC"], [5, 10, "LOC"]]},
    )
    assert read_jsonl(path)[0].tags == ("B-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "B-LOC")


def test_whitespace_around_an_entity_is_trimmed(tmp_path):
    path = write(tmp_path, {"text": "hi  Jane  there", "entities": [[3, 10, "PER"]]})
    assert read_jsonl(path)[0].tags == ("O", "B-PER", "O")


def test_write_then_read_round_trips(tmp_path):
    sentences = [
        TaggedSentence(words=("EU", "rejects", "German"), tags=("B-ORG", "O", "B-MISC")),
        TaggedSentence(words=("Peter", "Blackburn"), tags=("B-PER", "I-PER"), document=0),
        TaggedSentence(words=("Köln", "Köln", "."), tags=("B-LOC", "B-LOC", "O"), document=5),
    ]
    path = tmp_path / "out.jsonl"
    write_jsonl(path, sentences)
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert record == {
        "text": "EU rejects German",
        "entities": [
            {"start": 0, "end": 2, "label": "ORG"},
            {"start": 11, "end": 17, "label": "MISC"},
        ],
    }
    back = read_jsonl(path)
    assert [(s.words, s.tags) for s in back] == [(s.words, s.tags) for s in sentences]
    assert [s.document for s in back] == [0, 1, 2]


def test_round_trip_of_multi_token_words_keeps_the_entity_text(tmp_path):
    sentences = [TaggedSentence(words=("New-York", "1996-08-22"), tags=("B-LOC", "O"))]
    path = tmp_path / "out.jsonl"
    write_jsonl(path, sentences)
    back = read_jsonl(path)[0]
    assert back.words == ("New", "-", "York", "1996", "-", "08", "-", "22")
    assert [
        (span.label, back.words[span.start : span.end]) for span in tags_to_spans(back.tags)
    ] == [("LOC", ("New", "-", "York"))]


word = st.from_regex(r"\A(\w+|[^\w\s])\Z", fullmatch=True).filter(
    lambda w: [t for t, _, _ in tokenize(w)] == [w]
)
tag = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(word, tag), min_size=1, max_size=8), min_size=1, max_size=4))
def test_round_trip_property(tmp_path_factory, data):
    sentences = []
    for i, rows in enumerate(data):
        tags = [t for _, t in rows]
        # Make the tags valid IOB2 by reading them as mentions and writing them back.
        iob2 = ["O"] * len(tags)
        for span in tags_to_spans(tags):
            iob2[span.start : span.end] = ["B-" + span.label] + ["I-" + span.label] * (
                span.end - span.start - 1
            )
        sentences.append(TaggedSentence(words=[w for w, _ in rows], tags=iob2, document=i))
    path = tmp_path_factory.mktemp("jsonl") / "p.jsonl"
    write_jsonl(path, sentences)
    assert read_jsonl(path) == sentences


# --- errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        read_jsonl(tmp_path / "nope.jsonl")
    assert isinstance(info.value, FileNotFoundError)
    assert "nope.jsonl" in str(info.value)


def test_file_without_records(tmp_path):
    path = write(tmp_path, "", "   ")
    with pytest.raises(DataFormatError, match="no records") as info:
        read_jsonl(path)
    assert isinstance(info.value, ValueError) and str(path) in str(info.value)


GOOD = {"text": "Jane Doe", "entities": []}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"text": "a", "entities": [}', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"entities": []}, "has no 'text'"),
        ({"text": 3, "entities": []}, "int 'text'"),
        ({"text": "Jane"}, "exactly one of 'entities', 'spans' or 'label'"),
        ({"text": "Jane", "entities": [], "label": []}, "exactly one of"),
        ({"text": "Jane", "entities": {"start": 0}}, "must be a list"),
        ({"text": "   ", "entities": []}, "has no words"),
        ({"text": "Jane", "entities": [{"start": 0, "label": "PER"}]}, "lacks \\['end'\\]"),
        ({"text": "Jane", "entities": [[0, 4]]}, "neither an object"),
        ({"text": "Jane", "entities": [[0, "4", "PER"]]}, "integer start and end"),
        ({"text": "Jane", "entities": [[0, True, "PER"]]}, "integer start and end"),
        ({"text": "Jane", "entities": [[0, 4, ""]]}, "non-empty"),
        ({"text": "Jane", "entities": [[2, 2, "PER"]]}, "start 2 >= end 2"),
        ({"text": "Jane", "entities": [[3, 1, "PER"]]}, "start 3 >= end 1"),
        ({"text": "Jane", "entities": [[0, 9, "PER"]]}, "out of range for a text of 4"),
        ({"text": "Jane", "entities": [[-1, 2, "PER"]]}, "out of range"),
        (
            {"text": "Jane Doe", "entities": [[0, 8, "PER"], [5, 8, "PER"]]},
            "overlaps entity 'PER' \\[0, 8\\) 'Jane Doe'",
        ),
        ({"text": "Jane Doe", "entities": [[0, 4, "PER"], [0, 4, "LOC"]]}, "overlaps"),
        ({"text": "Jane  Doe", "entities": [[4, 6, "PER"]]}, "covers only whitespace"),
        (
            {"text": "Jane Doe", "entities": [[1, 8, "PER"]]},
            "starts inside the word 'Jane' \\[0, 4\\)",
        ),
        (
            {"text": "Jane Doesburg", "entities": [[0, 8, "PER"]]},
            "'Jane Doe' ends inside the word 'Doesburg' \\[5, 13\\)",
        ),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, record, message):
    path = write(tmp_path, GOOD, "", record)
    with pytest.raises(DataFormatError, match=message) as info:
        read_jsonl(path)
    assert isinstance(info.value, ValueError)
    assert f"{path}:3:" in str(info.value), str(info.value)

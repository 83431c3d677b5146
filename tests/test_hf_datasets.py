"""from_hf_dataset / to_hf_dataset on datasets built in-process (no hub)."""

from __future__ import annotations

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, NamedSplit, Value

from ner_bert import DataFormatError, LabelError, LabelSet, TagSchemeError
from ner_bert.data.hf_datasets import from_hf_dataset, to_hf_dataset
from ner_bert.types import TaggedSentence

NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def conll_like(tokens, tags, *, names=NAMES, split="train", extra=None):
    """The hub conll2003 layout: tokens + Sequence(ClassLabel) ner_tags."""
    columns = {"tokens": tokens, "ner_tags": tags, **(extra or {})}
    features = {
        "tokens": List(Value("string")),
        "ner_tags": List(ClassLabel(names=names)),
    }
    for key, values in (extra or {}).items():
        features[key] = Value("string") if isinstance(values[0], str) else Value("int64")
    return Dataset.from_dict(
        columns, features=Features(features), split=NamedSplit(split) if split else None
    )


def test_reads_classlabel_names_and_sources():
    ds = conll_like([["EU", "rejects"], ["Peter", "Blackburn"]], [[3, 0], [1, 2]])
    sentences = from_hf_dataset(ds)
    assert [(s.words, s.tags, s.document) for s in sentences] == [  # no document column:
        (("EU", "rejects"), ("B-ORG", "O"), 0),  # each row is its own document
        (("Peter", "Blackburn"), ("B-PER", "I-PER"), 1),
    ]
    assert [s.source for s in sentences] == ["train[0]", "train[1]"]


def test_document_id_column_gives_documents_by_first_appearance():
    ds = conll_like(
        [["a"], ["b"], ["c"], ["d"]],
        [[0], [0], [0], [0]],
        extra={"document_id": ["doc-9", "doc-9", "doc-2", "doc-2"]},
    )
    assert [s.document for s in from_hf_dataset(ds)] == [0, 0, 1, 1]


def test_doc_id_column_and_custom_column_names():
    ds = Dataset.from_dict(
        {"words": [["a", "b"], ["c"]], "labels": [["B-PER", "I-PER"], ["O"]], "doc_id": [4, 5]}
    )
    sentences = from_hf_dataset(ds, tokens_column="words", tags_column="labels")
    assert [(s.tags, s.document, s.source) for s in sentences] == [
        (("B-PER", "I-PER"), 0, "dataset[0]"),
        (("O",), 1, "dataset[1]"),
    ]


def test_iob1_tags_are_detected_and_converted():
    names = ["O", "I-PER", "B-PER"]
    ds = conll_like([["a", "b", "c"]], [[1, 1, 2]], names=names)
    assert from_hf_dataset(ds)[0].tags == ("B-PER", "I-PER", "B-PER")


def test_plain_int_tags_need_label_names():
    ds = Dataset.from_dict({"tokens": [["Jane", "left"]], "ner_tags": [[1, 0]]})
    with pytest.raises(DataFormatError, match="cast_column") as info:
        from_hf_dataset(ds)
    assert isinstance(info.value, ValueError)
    assert "label_names" in str(info.value)
    assert from_hf_dataset(ds, label_names=["O", "B-PER", "I-PER"])[0].tags == ("B-PER", "O")


def test_tag_id_out_of_range_names_the_row():
    ds = Dataset.from_dict({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0], [0, 3]]})
    with pytest.raises(LabelError, match="tag id 3") as info:
        from_hf_dataset(ds, label_names=["O", "B-PER", "I-PER"])
    assert isinstance(info.value, ValueError)
    assert "dataset[1]" in str(info.value)
    ds = Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[-1]]})
    with pytest.raises(LabelError, match="dataset\\[0\\]: tag id -1"):
        from_hf_dataset(ds, label_names=["O"])


def test_dataset_dict_asks_for_a_split():
    ds = conll_like([["a"]], [[0]])
    with pytest.raises(DataFormatError, match=r"\['train', 'validation'\]") as info:
        from_hf_dataset(DatasetDict({"train": ds, "validation": ds}))
    assert "dataset['train']" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_column_lists_the_columns():
    ds = conll_like([["a"]], [[0]])
    with pytest.raises(DataFormatError, match=r"no column 'labels'.*\['tokens', 'ner_tags'\]"):
        from_hf_dataset(ds, tags_column="labels")


def test_length_mismatch_names_the_row():
    ds = conll_like([["a", "b"], ["c", "d"]], [[0, 0], [0]])
    with pytest.raises(DataFormatError, match="train\\[1\\]: 2 words but 1 tags"):
        from_hf_dataset(ds)


def test_strict_iob2_violation_names_the_row():
    ds = conll_like([["a", "b"], ["c", "d"]], [[1, 2], [0, 2]])
    with pytest.raises(TagSchemeError, match="train\\[1\\]: word 2") as info:
        from_hf_dataset(ds, scheme="IOB2")
    assert isinstance(info.value, ValueError)
    assert from_hf_dataset(ds, scheme="IOB2", strict=False)[1].tags == ("O", "B-PER")


def test_empty_dataset():
    with pytest.raises(DataFormatError, match="no rows"):
        from_hf_dataset(conll_like([], [], split=None).select([]))


def test_to_hf_dataset_round_trip():
    sentences = [
        TaggedSentence(words=("EU", "rejects"), tags=("B-ORG", "O"), document=0),
        TaggedSentence(words=("Peter", "Blackburn"), tags=("B-PER", "I-PER"), document=0),
        TaggedSentence(words=("Bonn",), tags=("B-LOC",), document=1),
    ]
    ds = to_hf_dataset(sentences)
    assert ds.column_names == ["tokens", "ner_tags", "document"]
    names = ds.features["ner_tags"].feature.names
    assert names == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert from_hf_dataset(ds) == sentences

    label_set = LabelSet.from_entity_types(["PER", "ORG", "LOC", "MISC"])
    ds = to_hf_dataset(sentences, label_set=label_set)
    assert ds.features["ner_tags"].feature.names == list(label_set.labels)
    assert ds[2]["ner_tags"] == [label_set.label2id["B-LOC"]]
    assert from_hf_dataset(ds) == sentences


def test_to_hf_dataset_unknown_tag_names_the_sentence():
    sentences = [TaggedSentence(words=("Bonn",), tags=("B-LOC",), source="x.txt:12")]
    with pytest.raises(LabelError, match=r"x\.txt:12: tag 'B-LOC'"):
        to_hf_dataset(sentences, label_set=LabelSet.from_entity_types(["PER"]))


def test_conll2003_round_trip(conll_dir):
    from ner_bert.data.conll import read_conll

    sentences = read_conll(conll_dir / "test.txt")
    ds = to_hf_dataset(sentences)
    assert len(ds) == 3453
    assert from_hf_dataset(ds) == sentences

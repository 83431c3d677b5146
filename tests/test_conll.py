"""read_conll / write_conll: format variants, document boundaries, every error with file:line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ner_bert import ConfigError, DataFormatError, DataNotFoundError, TagSchemeError
from ner_bert.data.conll import read_conll, write_conll
from ner_bert.labels import tags_to_spans
from ner_bert.types import TaggedSentence, iter_documents


def write(tmp_path: Path, text: str, name: str = "data.txt", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(sentences: list[TaggedSentence]) -> list[tuple[tuple[str, ...], tuple[str, ...], int]]:
    return [(s.words, s.tags, s.document) for s in sentences]


# --- reading ---------------------------------------------------------------------------------


def test_documents_sentences_and_sources(tmp_path):
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n"
        "-DOCSTART- -X- -X- O\n\nBRUSSELS NNP B-NP B-LOC\n\n",
    )
    sentences = read_conll(path)
    assert rows(sentences) == [
        (("EU", "rejects"), ("B-ORG", "O"), 0),
        (("Peter", "Blackburn"), ("B-PER", "I-PER"), 0),
        (("BRUSSELS",), ("B-LOC",), 1),
    ]
    assert [s.source for s in sentences] == [f"{path}:3", f"{path}:6", f"{path}:11"]
    assert [len(doc) for doc in iter_documents(sentences)] == [2, 1]


def test_no_docstart_is_one_document_and_no_trailing_blank_line(tmp_path):
    path = write(tmp_path, "a O\nb B-X\n\n\n\nc O")
    assert rows(read_conll(path)) == [(("a", "b"), ("O", "B-X"), 0), (("c",), ("O",), 0)]


def test_docstart_without_blank_line_ends_sentence_and_empty_documents_take_no_number(tmp_path):
    path = write(tmp_path, "a O\n-DOCSTART- O\n-DOCSTART- O\n\nb O\n-DOCSTART- -X- -X- O\nc O\n")
    assert rows(read_conll(path)) == [
        (("a",), ("O",), 0),
        (("b",), ("O",), 1),
        (("c",), ("O",), 2),
    ]


def test_tabs_bom_crlf_and_spaces_inside_tab_fields(tmp_path):
    path = write(tmp_path, "\ufeffNew York\tNNP\tB-LOC\r\nis\tVBZ\tO\r\n\r\n")
    assert rows(read_conll(path)) == [(("New York", "is"), ("B-LOC", "O"), 0)]


def test_lines_may_mix_tabs_and_space_runs(tmp_path):
    path = write(tmp_path, "Jane\tB-PER\nDoe    I-PER\n  \t \nleft O\n")
    assert rows(read_conll(path)) == [
        (("Jane", "Doe"), ("B-PER", "I-PER"), 0),
        (("left",), ("O",), 0),
    ]


def test_tag_column_selects_a_column(tmp_path):
    path = write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    assert read_conll(path, tag_column=2)[0].tags == ("B-NP", "B-VP")
    assert read_conll(path, tag_column=-2)[0].tags == ("B-NP", "B-VP")
    assert read_conll(path, tag_column=3)[0].tags == ("B-ORG", "O")


@pytest.mark.parametrize(
    ("scheme", "tags", "expected"),
    [
        ("IOB1", ["I-PER", "I-PER", "B-PER", "O"], ("B-PER", "I-PER", "B-PER", "O")),
        ("BIOES", ["B-LOC", "E-LOC", "S-PER", "O"], ("B-LOC", "I-LOC", "B-PER", "O")),
        ("BILOU", ["B-LOC", "L-LOC", "U-PER", "O"], ("B-LOC", "I-LOC", "B-PER", "O")),
        ("IO", ["PER", "PER", "O", "LOC"], ("B-PER", "I-PER", "O", "B-LOC")),
    ],
)
def test_auto_detects_and_explicit_scheme_converts(tmp_path, caplog, scheme, tags, expected):
    path = write(tmp_path, "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    with caplog.at_level(logging.INFO, logger="ner_bert.data.conll"):
        assert read_conll(path)[0].tags == expected
    assert f"detected tag scheme {scheme}" in caplog.text
    assert read_conll(path, scheme=scheme.lower())[0].tags == expected


def test_non_strict_reads_an_iob2_violation_as_a_new_mention(tmp_path):
    path = write(tmp_path, "a O\nb I-PER\n")
    assert read_conll(path, scheme="IOB2", strict=False)[0].tags == ("O", "B-PER")


def test_conll2003_counts(conll_dir):
    expected = {
        "train.txt": (946, 14041, 23499),
        "valid.txt": (216, 3250, 5942),
        "test.txt": (231, 3453, 5648),
    }
    for name, counts in expected.items():
        sentences = read_conll(conll_dir / name)
        n_docs = len(list(iter_documents(sentences)))
        n_mentions = sum(len(tags_to_spans(s.tags)) for s in sentences)
        assert (n_docs, len(sentences), n_mentions) == counts, name
        assert sentences[-1].document == n_docs - 1
    first = read_conll(conll_dir / "valid.txt")[0]
    assert first.source == f"{conll_dir / 'valid.txt'}:3"


# --- writing ---------------------------------------------------------------------------------


def test_write_then_read_round_trips_with_documents(tmp_path):
    sentences = [
        TaggedSentence(words=("EU", "rejects"), tags=("B-ORG", "O"), document=0),
        TaggedSentence(words=("Peter", "Blackburn"), tags=("B-PER", "I-PER"), document=0),
        TaggedSentence(words=("Bonn", "!"), tags=("B-LOC", "O"), document=3),
        TaggedSentence(words=("Ünïcode",), tags=("B-MISC",), document=3),
    ]
    path = tmp_path / "out.txt"
    write_conll(path, sentences)
    back = read_conll(path)
    assert rows(back) == [(s.words, s.tags, 1 if s.document == 3 else 0) for s in sentences]
    assert path.read_text(encoding="utf-8").startswith("-DOCSTART- -X- -X- O\n\nEU B-ORG\n")

    write_conll(path, sentences, write_docstart=False)
    assert "-DOCSTART-" not in path.read_text(encoding="utf-8")
    assert {s.document for s in read_conll(path)} == {0}


def test_conll2003_round_trip(conll_dir, tmp_path):
    sentences = read_conll(conll_dir / "valid.txt")
    write_conll(tmp_path / "valid.txt", sentences)
    assert read_conll(tmp_path / "valid.txt") == sentences


@pytest.mark.parametrize("word", ["New York", "", "tab\there", "-DOCSTART-"])
def test_write_rejects_unwritable_words_and_writes_nothing(tmp_path, word):
    sentence = TaggedSentence(words=("ok", word), tags=("O", "O"), source="in.jsonl:7")
    path = tmp_path / "out.txt"
    with pytest.raises(DataFormatError, match=r"in\.jsonl:7") as info:
        write_conll(path, [sentence])
    assert isinstance(info.value, ValueError)
    assert repr(word) in str(info.value)
    assert not path.exists()


def test_write_names_the_sentence_index_without_source(tmp_path):
    sentences = [
        TaggedSentence(words=("a",), tags=("O",)),
        TaggedSentence(words=("b c",), tags=("O",)),
    ]
    with pytest.raises(DataFormatError, match="sentence 1"):
        write_conll(tmp_path / "out.txt", sentences)


# --- errors ----------------------------------------------------------------------------------


def check(info: pytest.ExceptionInfo[Exception], builtin: type[Exception], where: str) -> None:
    assert isinstance(info.value, builtin)
    assert where in str(info.value), str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(DataNotFoundError) as info:
        read_conll(path)
    check(info, FileNotFoundError, str(path))


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="is not a file"):
        read_conll(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("\n\n  \n", "is empty"),
        ("-DOCSTART- -X- -X- O\n\n", "no token lines"),
    ],
)
def test_empty_file_or_no_sentences(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataFormatError, match=message) as info:
        read_conll(path)
    check(info, ValueError, str(path))


def test_wrong_column_count_names_file_line_expected_and_got(tmp_path):
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-ORG\nrejects O\n")
    with pytest.raises(DataFormatError) as info:
        read_conll(path)
    check(info, ValueError, f"{path}:4")
    assert "expected 3 columns" in str(info.value) and "got 2" in str(info.value)
    assert f"{path}:3" in str(info.value)  # the first token line it is compared with


def test_empty_tab_field(tmp_path):
    path = write(tmp_path, "a\tX\tO\nb\t\tO\n")
    with pytest.raises(DataFormatError, match="column 2 is empty") as info:
        read_conll(path)
    check(info, ValueError, f"{path}:2")


@pytest.mark.parametrize("tag_column", [0, 3, -3, 7])
def test_tag_column_out_of_range(tmp_path, tag_column):
    path = write(tmp_path, "\nEU NNP B-ORG\n")
    with pytest.raises(ConfigError, match="out of range") as info:
        read_conll(path, tag_column=tag_column)
    check(info, ValueError, f"{path}:2")


def test_single_column_file(tmp_path):
    path = write(tmp_path, "EU\nrejects\n")
    with pytest.raises(DataFormatError, match="at least 2") as info:
        read_conll(path)
    check(info, ValueError, f"{path}:1")


def test_unknown_tag_prefix_names_the_token_line(tmp_path):
    path = write(tmp_path, "a O\n\nb O\nc X-PER\n")
    with pytest.raises(TagSchemeError, match="prefix X-") as info:
        read_conll(path)
    check(info, ValueError, f"{path}:4")


def test_bioes_prefix_in_explicit_iob2_file(tmp_path):
    path = write(tmp_path, "a B-PER\nb E-PER\n")
    with pytest.raises(TagSchemeError, match="prefix E-") as info:
        read_conll(path, scheme="IOB2")
    check(info, ValueError, f"{path}:2")


def test_strict_iob2_violation_names_the_token_line_and_suggests_iob1(tmp_path):
    path = write(tmp_path, "x O\n\na O\nb O\nc I-PER\n")
    with pytest.raises(TagSchemeError, match="scheme='IOB1'") as info:
        read_conll(path, scheme="IOB2")
    check(info, ValueError, f"{path}:5")


def test_auto_rejects_tags_that_mix_iob1_and_iob2(tmp_path, caplog):
    # B-PER after O is IOB2 style; I-LOC opening a mention is IOB1 style (or an IOB2 error).
    path = write(tmp_path, "a B-PER\nb I-PER\n\nc O\nd I-LOC\n")
    with pytest.raises(TagSchemeError, match="mix IOB1 and IOB2") as info:
        read_conll(path)
    check(info, ValueError, f"{path}:5")
    assert f"{path}:1" in str(info.value)
    with caplog.at_level(logging.WARNING, logger="ner_bert.data.conll"):
        assert read_conll(path, strict=False)[1].tags == ("O", "B-LOC")
    assert "mix IOB1 and IOB2" in caplog.text


def test_genuine_iob1_with_b_between_touching_mentions_is_not_mixed(tmp_path):
    path = write(tmp_path, "a I-PER\nb B-PER\nc O\n")
    assert read_conll(path)[0].tags == ("B-PER", "B-PER", "O")


def test_undecodable_byte_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("a O\nb O\n\ncaf\u00e9 O\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="encoding=") as info:
        read_conll(path)
    check(info, ValueError, f"{path}:4")
    assert read_conll(path, encoding="latin-1")[1].words == ("café",)


def test_unknown_scheme_lists_the_choices(tmp_path):
    path = write(tmp_path, "a O\n")
    with pytest.raises(ConfigError, match=r"'IOB1', 'IOB2', 'BIOES', 'BILOU', 'IO'.*'auto'"):
        read_conll(path, scheme="BIO")

"""Read and write CoNLL column files, keeping ``-DOCSTART-`` document boundaries.

The format: one token per line, columns separated by spaces or tabs, the word in the first
column and the tag in a chosen column (the last by default), a blank line after each sentence,
and ``-DOCSTART-`` lines between documents. Tags are converted to IOB2 on the way in.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
    >>> _ = path.write_text("-DOCSTART- -X- -X- O\\n\\nJane NNP B-PER\\nleft VBD O\\n\\n")
    >>> [(s.words, s.tags, s.document) for s in read_conll(path)]
    [(('Jane', 'left'), ('B-PER', 'O'), 0)]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._schemes import where_prefix
from ..errors import ConfigError, DataFormatError, DataNotFoundError, TagSchemeError
from ..labels import (
    TagScheme,
    convert_to_iob2,
    detect_scheme,
    parse_scheme,
    split_tag,
)
from ..types import TaggedSentence

__all__ = ["DOCSTART", "read_conll", "write_conll"]

logger = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"
"""First field of the line that starts a document."""

_DOCSTART_LINE = "-DOCSTART- -X- -X- O"

MAX_COLUMNS = 64
"""Most columns a token line may have. CoNLL-U has 10 and OntoNotes' CoNLL-2012 files a few
more; a line with hundreds is running text (a raw-text file passed as CoNLL), whose first
word would otherwise be read as the only word and the rest dropped."""

Locate = Callable[[int, int], str]
"""``locate(sentence_index, word_index)`` gives a location for error messages."""


def read_conll(
    path: str | os.PathLike[str],
    *,
    tag_column: int = -1,
    scheme: str | TagScheme = "auto",
    strict: bool = True,
    encoding: str = "utf-8",
) -> list[TaggedSentence]:
    """Read a CoNLL column file into sentences with IOB2 tags.

    Each non-blank line is one token. A line is split on tabs if it has a tab, else on runs of
    spaces; every token line must have as many columns as the file's first token line. The
    word is the first column, the tag the ``tag_column``-th. Blank lines end sentences. A line
    whose first field is ``-DOCSTART-`` starts a new document (it is not a sentence); a file
    without ``-DOCSTART-`` lines is one document, ``0``. Documents are numbered ``0, 1, ...``
    in file order (an empty document takes no number). A UTF-8 BOM and CRLF line ends are
    accepted.

    Args:
        path: The file.
        tag_column: Index of the tag column (negative counts from the end; default last).
        scheme: The tag scheme of the file (``IOB1``, ``IOB2``, ``BIOES``, ``BILOU``, ``IO``)
            or ``"auto"`` to detect it over the whole file (the result is logged at INFO).
        strict: Reject IOB2 violations (an ``I-X`` that does not continue an ``X`` mention)
            instead of reading them as opening a mention.
        encoding: Text encoding of the file.

    Returns:
        The sentences in file order. ``source`` is ``"path:line"`` of each sentence's first
        token.

    Raises:
        DataNotFoundError: ``path`` does not exist or is not a file.
        DataFormatError: The file is empty, has no sentences, cannot be decoded, a line has
            the wrong number of columns, or the first token line has more than
            :data:`MAX_COLUMNS` (running text, not CoNLL).
        TagSchemeError: A tag has a prefix the scheme does not have, or (with ``strict``) an
            IOB2 violation. The message names the file and line of the token.
        ConfigError: ``tag_column`` is out of range for the file's columns, or ``scheme`` is
            not a known scheme.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "iob1.txt"
        >>> _ = path.write_text("Jane\\tI-PER\\nDoe\\tI-PER\\n\\nParis\\tI-LOC\\n")
        >>> [s.tags for s in read_conll(path)]
        [('B-PER', 'I-PER'), ('B-LOC',)]
    """
    name = str(path)
    lines = _read_lines(Path(path), encoding)
    scheme_value = _parse_scheme_option(scheme)
    read = _read_sentences(lines, name=name, tag_column=tag_column)
    iob2 = convert_tags(
        read.tags, scheme=scheme_value, strict=strict, locate=read.locate, name=name
    )
    return [
        TaggedSentence(words=tuple(w), tags=tuple(t), document=d, source=f"{name}:{first}")
        for w, t, d, first in zip(read.words, iob2, read.documents, read.first_lines, strict=True)
    ]


def write_conll(
    path: str | os.PathLike[str],
    sentences: Iterable[TaggedSentence],
    *,
    write_docstart: bool = True,
) -> None:
    """Write sentences as a two-column CoNLL file (``word tag``, space separated).

    A blank line follows each sentence. With ``write_docstart``, each document (a change of
    ``document`` index) starts with ``-DOCSTART- -X- -X- O`` and a blank line, so
    :func:`read_conll` gives the sentences back with the same document grouping (indices
    renumbered ``0, 1, ...``). Without it, reading the file back gives one document.

    Args:
        path: The file to write (overwritten).
        sentences: The sentences, in order.
        write_docstart: Write ``-DOCSTART-`` lines at document starts.

    Raises:
        DataFormatError: A word or tag is empty, contains whitespace (it would split into
            columns), or a word is ``-DOCSTART-``; nothing is written then.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> write_conll(path, [TaggedSentence(words=("Jane", "left"), tags=("B-PER", "O"))])
        >>> print(path.read_text())
        -DOCSTART- -X- -X- O
        <BLANKLINE>
        Jane B-PER
        left O
        <BLANKLINE>
        <BLANKLINE>
    """
    out: list[str] = []
    previous: int | None = None
    for index, sentence in enumerate(sentences):
        if write_docstart and sentence.document != previous:
            out.append(_DOCSTART_LINE + "\n\n")
        previous = sentence.document
        for word, tag in zip(sentence.words, sentence.tags, strict=True):
            for kind, value in (("word", word), ("tag", tag)):
                if not value or len(value.split()) != 1 or value != value.strip():
                    raise DataFormatError(_unwritable(sentence, index, kind, value))
            if word == DOCSTART:
                raise DataFormatError(_unwritable(sentence, index, "word", word))
            out.append(f"{word} {tag}\n")
        out.append("\n")
    Path(path).write_text("".join(out), encoding="utf-8", newline="\n")


def convert_tags(
    tag_sequences: Sequence[Sequence[str]],
    *,
    scheme: str | TagScheme,
    strict: bool,
    locate: Locate,
    name: str,
) -> list[list[str]]:
    """Convert every sentence's tags to IOB2 (``scheme="auto"`` detects the scheme first).

    Shared by the readers. Errors name ``locate(sentence, word)`` of the offending word. In
    ``auto`` mode, data that looks like IOB1 (an ``I-X`` opens a mention) but also has a
    ``B-X`` that does not follow an ``X`` mention (which IOB1 never has) mixes the two
    schemes: with ``strict`` that is a :class:`TagSchemeError`, otherwise it is logged and
    read like lenient IOB2.

    Example:
        >>> convert_tags([["I-PER", "O"]], scheme="auto", strict=True,
        ...              locate=lambda s, w: f"row {s}", name="data")
        [['B-PER', 'O']]
    """
    _check_tags(tag_sequences, locate)
    parsed = _parse_scheme_option(scheme)
    if parsed == "auto":
        resolved = detect_scheme(tag_sequences)
        if resolved is TagScheme.IOB1:
            _check_not_mixed(tag_sequences, strict=strict, locate=locate, name=name)
        logger.info("%s: detected tag scheme %s; converting to IOB2", name, resolved.value)
    else:
        resolved = parse_scheme(parsed)
    out: list[list[str]] = []
    for index, tags in enumerate(tag_sequences):
        try:
            out.append(convert_to_iob2(tags, resolved, strict=strict))
        except TagSchemeError:
            # Find the first word whose prefix fails, and raise again naming its location.
            for word in range(len(tags)):
                convert_to_iob2(
                    tags[: word + 1], resolved, where=locate(index, word), strict=strict
                )
            raise
    return out


def _check_tags(tag_sequences: Sequence[Sequence[str]], locate: Locate) -> None:
    """Every tag is well formed (see :func:`split_tag`); the error names the word's place."""
    for index, tags in enumerate(tag_sequences):
        for word, tag in enumerate(tags):
            if tag != "O":
                try:
                    split_tag(tag)
                except TagSchemeError:
                    split_tag(tag, where=where_prefix(locate(index, word)))


def _check_not_mixed(
    tag_sequences: Sequence[Sequence[str]], *, strict: bool, locate: Locate, name: str
) -> None:
    i_opens: tuple[int, int, str] | None = None
    b_opens: tuple[int, int, str] | None = None
    for index, tags in enumerate(tag_sequences):
        previous: str | None = None
        for word, tag in enumerate(tags):
            prefix, label = split_tag(tag)
            if label != previous and label is not None:
                if prefix == "I" and i_opens is None:
                    i_opens = (index, word, tag)
                elif prefix == "B" and b_opens is None:
                    b_opens = (index, word, tag)
            previous = label
        if i_opens and b_opens:
            break
    if not (i_opens and b_opens):
        return
    message = (
        f"{locate(i_opens[0], i_opens[1])}: tag {i_opens[2]!r} opens a mention (IOB1 style), "
        f"but {locate(b_opens[0], b_opens[1])} has {b_opens[2]!r} opening one after a "
        "different tag (IOB2 style): the tags mix IOB1 and IOB2."
    )
    if strict:
        raise TagSchemeError(
            f"{message} Fix the tags, or pass scheme='IOB2', strict=False to read each I- "
            "that opens a mention as B-."
        )
    logger.warning("%s Reading it as lenient IOB2 (strict=False).", message)


@dataclass
class _SentenceReader:
    """Gathers a CoNLL file's sentences line by line, before their tags are converted.

    ``words``, ``tags``, ``first_lines`` and ``documents`` hold one entry per finished
    sentence; the other fields are the state of the reading (columns, document, open sentence).
    """

    name: str
    tag_column: int
    words: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    first_lines: list[int] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)
    n_columns: int = 0  # columns of the first token line; 0 until one is seen
    column: int = 0  # tag column resolved to a non-negative index
    first_token_line: int = 0
    document: int = -1  # index of the current document; -1 before the first sentence
    new_document: bool = False  # a -DOCSTART- was seen since the last sentence started
    empty_documents: int = 0
    sentence_words: list[str] = field(default_factory=list)
    sentence_tags: list[str] = field(default_factory=list)

    def read_line(self, lineno: int, line: str) -> None:
        """Read one line: a blank line, a ``-DOCSTART-`` line or a token line."""
        stripped = line.strip()
        if not stripped:
            self.end_sentence()
            return
        if "\t" in stripped:
            parts = [part.strip() for part in stripped.split("\t")]
        else:
            parts = stripped.split()
        if parts[0] == DOCSTART:
            self.end_sentence()
            if self.new_document:
                self.empty_documents += 1
            self.new_document = True
            return
        self._check_columns(lineno, parts, stripped)
        if not self.sentence_words:
            self._start_sentence(lineno)
        self.sentence_words.append(parts[0])
        self.sentence_tags.append(parts[self.column])

    def end_sentence(self) -> None:
        """Finish the sentence being read, if it has words."""
        if self.sentence_words:
            self.words.append(self.sentence_words)
            self.tags.append(self.sentence_tags)
            self.sentence_words, self.sentence_tags = [], []

    def locate(self, sentence: int, word: int) -> str:
        """``"path:line"`` of a word, for error messages."""
        return f"{self.name}:{self.first_lines[sentence] + word}"

    def _check_columns(self, lineno: int, parts: list[str], stripped: str) -> None:
        name = self.name
        if not self.n_columns:
            _check_column_count(parts, f"{name}:{lineno}")
            self.n_columns, self.first_token_line = len(parts), lineno
            self.column = _resolve_tag_column(self.tag_column, self.n_columns, f"{name}:{lineno}")
        if len(parts) != self.n_columns:
            raise DataFormatError(
                f"{name}:{lineno}: expected {self.n_columns} columns (as on the first token line, "
                f"{name}:{self.first_token_line}) but got {len(parts)}: {stripped!r}. Every "
                "token line needs the same columns; a blank line ends a sentence."
            )
        if "" in parts:
            raise DataFormatError(
                f"{name}:{lineno}: column {parts.index('') + 1} is empty in {stripped!r}; "
                "every column of a token line needs a value."
            )

    def _start_sentence(self, lineno: int) -> None:
        if self.new_document or self.document < 0:
            self.document += 1
            self.new_document = False
        self.first_lines.append(lineno)
        self.documents.append(self.document)


def _read_sentences(lines: list[str], *, name: str, tag_column: int) -> _SentenceReader:
    """Read the lines into sentences (tags as in the file); reject a file with none."""
    reader = _SentenceReader(name=name, tag_column=tag_column)
    for lineno, line in enumerate(lines, start=1):
        reader.read_line(lineno, line)
    reader.end_sentence()
    if reader.new_document:
        reader.empty_documents += 1
    if not reader.words:
        what = "is empty" if not any(line.strip() for line in lines) else "has no token lines"
        raise DataFormatError(
            f"{name}: the file {what} (read {len(lines)} lines); expected one token per line "
            "with a blank line after each sentence."
        )
    if reader.empty_documents:
        logger.info(
            "%s: skipped %d -DOCSTART- line(s) with no sentences", name, reader.empty_documents
        )
    return reader


def _read_lines(path: Path, encoding: str) -> list[str]:
    """Decode a file into lines without line ends (BOM dropped, CRLF/CR accepted)."""
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file; check the path (cwd is {Path.cwd()}).")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: is not a file; pass the path of a data file in it.")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(
            f"{path}:{line}: cannot decode byte {data[error.start : error.start + 1]!r} as "
            f"{encoding}; pass the file's encoding (e.g. encoding='latin-1')."
        ) from None
    except LookupError:
        raise ConfigError(f"encoding {encoding!r} is not a known text encoding.") from None
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _parse_scheme_option(scheme: str | TagScheme) -> str | TagScheme:
    if isinstance(scheme, str) and scheme.lower() == "auto":
        return "auto"
    try:
        return parse_scheme(scheme)
    except ConfigError as exc:
        raise ConfigError(f"{exc} Pass scheme='auto' to detect it.") from None


def _check_column_count(parts: list[str], where: str) -> None:
    if len(parts) > MAX_COLUMNS:
        raise DataFormatError(
            f"{where}: the first token line has {len(parts)} columns (more than {MAX_COLUMNS}), "
            f"starting {' '.join(parts[:8])!r}; this looks like running text, not CoNLL (one "
            "word per line, then its columns and the tag). Predict raw text with "
            "`ner-bert predict` or NERPredictor.predict, or convert it to one word per line."
        )


def _resolve_tag_column(tag_column: int, n_columns: int, where: str) -> int:
    if n_columns < 2:
        raise DataFormatError(
            f"{where}: the first token line has {n_columns} column; expected at least 2 "
            "(the word and its tag)."
        )
    column = tag_column + n_columns if tag_column < 0 else tag_column
    if not 1 <= column < n_columns:
        raise ConfigError(
            f"{where}: tag_column={tag_column} is out of range for {n_columns} columns (column 0 "
            f"is the word); use 1..{n_columns - 1} or -{n_columns - 1}..-1."
        )
    return column


def _unwritable(sentence: TaggedSentence, index: int, kind: str, value: str) -> str:
    where = sentence.source or f"sentence {index}"
    return (
        f"{where}: cannot write {kind} {value!r} of sentence {index} ({' '.join(sentence.words)!r})"
        " to a CoNLL file: it is empty, contains whitespace or is -DOCSTART-; use write_jsonl "
        "or fix the word."
    )

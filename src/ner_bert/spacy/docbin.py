"""Read and write spaCy's training corpora (``DocBin``, ``.spacy`` files) as sentences.

``spacy convert`` and ``spacy train`` use ``.spacy`` files; these functions let the same
corpus train and evaluate a ner_bert model (``ner-bert train --train corpus.spacy``). Each
doc is one document; its sentences (when the doc has sentence boundaries) are the sentences,
else the whole doc is one sentence. Tags come from ``doc.ents`` as IOB2; whitespace tokens
(``"\\n"``, double spaces) are not words and are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from spacy.tokens import Doc, DocBin, Token
from spacy.vocab import Vocab

from ..errors import DataFormatError, DataNotFoundError
from ..model.atomic import atomic_write_bytes
from ..types import TaggedSentence, iter_documents

__all__ = ["DOCBIN_SUFFIX", "read_docbin", "write_docbin"]

DOCBIN_SUFFIX = ".spacy"


def read_docbin(path: str | os.PathLike[str]) -> list[TaggedSentence]:
    """Read a spaCy ``DocBin`` file into sentences with IOB2 tags from ``doc.ents``.

    ``source`` is ``"path[doc D, sentence S]"`` (both counted from 1) and ``document`` is
    the doc's index.

    Raises:
        DataNotFoundError: ``path`` does not exist or is not a file.
        DataFormatError: The file is not a ``DocBin`` or holds no tokens.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.spacy"
        >>> write_docbin([TaggedSentence(words=("Jane", "left"), tags=("B-PER", "O"))], path)
        >>> [(s.words, s.tags) for s in read_docbin(path)]
        [(('Jane', 'left'), ('B-PER', 'O'))]
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "no such file"
        raise DataNotFoundError(f"{path}: {what}; pass a .spacy file (spaCy's DocBin).")
    try:
        docs = list(DocBin().from_bytes(path.read_bytes()).get_docs(Vocab()))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise DataFormatError(
            f"{path}: not a spaCy DocBin ({type(exc).__name__}: {exc}); write one with "
            "DocBin(docs=...).to_disk(path) or `spacy convert`."
        ) from None
    sentences = [
        sentence
        for number, doc in enumerate(docs)
        for sentence in _doc_sentences(doc, number, path)
    ]
    if not sentences:
        raise DataFormatError(f"{path}: the DocBin holds {len(docs)} docs but no tokens.")
    return sentences


def _doc_sentences(doc: Doc, number: int, path: Path) -> list[TaggedSentence]:
    spans = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
    out = []
    for index, span in enumerate(spans):
        tokens = [token for token in span if not token.text.isspace()]  # a bare Vocab has no
        # lexeme attributes (is_space is False for every token), so look at the text
        if not tokens:
            continue
        tags = [_tag(token) for token in tokens]
        if tags[0].startswith("I-"):  # an entity crossing the sentence boundary
            tags[0] = "B-" + tags[0][2:]
        out.append(
            TaggedSentence(
                words=tuple(token.text for token in tokens),
                tags=tuple(tags),
                document=number,
                source=f"{path}[doc {number + 1}, sentence {index + 1}]",
            )
        )
    return out


def _tag(token: Token) -> str:
    iob, kind = token.ent_iob_, token.ent_type_
    return f"{iob}-{kind}" if iob in ("B", "I") and kind else "O"


def write_docbin(sentences: Iterable[TaggedSentence], path: str | os.PathLike[str]) -> None:
    """Write sentences as a spaCy ``DocBin``: one doc per document, sentence boundaries set,
    entities from the IOB2 tags; words are joined by single spaces. Written atomically.

    Raises:
        DataFormatError: No sentences.
    """
    vocab = Vocab()
    docs = []
    for document in iter_documents(sentences):
        words = [w for s in document for w in s.words]
        starts: list[bool | int | None] = [i == 0 for s in document for i in range(len(s))]
        tags = [t for s in document for t in s.tags]
        spaces = [True] * len(words)
        if spaces:
            spaces[-1] = False
        docs.append(Doc(vocab, words=words, spaces=spaces, sent_starts=starts, ents=tags))
    if not docs:
        raise DataFormatError("write_docbin got no sentences; nothing to write.")
    atomic_write_bytes(Path(path), DocBin(docs=docs, store_user_data=False).to_bytes())

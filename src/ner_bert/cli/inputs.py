"""What the commands read: data files and datasets as sentences, texts to predict."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataFormatError, DataNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from ..types import TaggedSentence

__all__ = [
    "count_documents",
    "dataset_sentences",
    "load_dataset_splits",
    "read_data",
    "read_documents",
    "read_splits",
    "require_file",
]

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".spacy": "spacy"}


def require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DataNotFoundError(f"{what} {path}: no such file (cwd is {Path.cwd()}).")
    if not path.is_file():
        raise DataNotFoundError(f"{what} {path}: is not a file; pass a data file.")


def read_data(path: Path, data_format: str | None) -> list[TaggedSentence]:
    kind = data_format or _SUFFIX_FORMATS.get(path.suffix.lower(), "conll")
    reader: Callable[[Path], list[TaggedSentence]]
    if kind == "jsonl":
        from ..data.jsonl import read_jsonl as reader
    elif kind == "label-studio":
        from ..data.label_studio import read_label_studio as reader
    elif kind == "spacy":  # spaCy is imported by ner_bert.spacy only
        from ..spacy.docbin import read_docbin as reader
    else:
        from ..data.conll import read_conll as reader
    return reader(path)


def read_splits(run: dict[str, Any]) -> dict[str, list[TaggedSentence]]:
    """The sentences of each given split (``train``, ``dev``, ``test``): the files, and the
    splits of ``--dataset`` for those not given as files."""
    data = {
        key: read_data(Path(run[key]), run.get("format"))
        for key in ("train", "dev", "test")
        if run.get(key) is not None
    }
    if run.get("dataset") is not None:
        splits = load_dataset_splits(str(run["dataset"]))
        from ..data.hf_datasets import EVAL_SPLITS

        split_names = {"train": ("train",), "dev": EVAL_SPLITS, "test": ("test",)}
        for key, names in split_names.items():
            found = next((name for name in names if name in splits), None)
            if key not in data and found is not None:
                data[key] = dataset_sentences(splits[found])
        if "train" not in data:
            raise DataFormatError(
                f"--dataset {run['dataset']}: no train split (it has {sorted(splits)}); pass "
                "--train FILE, or a dataset with a 'train' split."
            )
    return data


_DATASET_BUILDERS = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}


def load_dataset_splits(source: str) -> dict[str, Any]:
    """The splits of a dataset: a data file (one ``train`` split), a folder or a hub name."""
    import datasets

    path = Path(source).expanduser()
    builder = _DATASET_BUILDERS.get(path.suffix.lower()) if path.is_file() else None
    try:
        if builder is not None:
            loaded = datasets.load_dataset(builder, data_files=str(path))
        else:
            loaded = datasets.load_dataset(str(path) if path.exists() else source)
    except (OSError, ValueError, ImportError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise DataNotFoundError(
            f"--dataset {source}: datasets.load_dataset cannot load it ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:300]}); pass a hub name (cached, or with network), a "
            "folder of data files, or a .json/.jsonl/.csv/.parquet file."
        ) from None
    return dict(loaded)


def dataset_sentences(split: Any) -> list[TaggedSentence]:
    from ..data.hf_datasets import from_hf_dataset

    return from_hf_dataset(split)


def read_documents(files: Sequence[Path], *, whole_file: bool) -> Iterator[tuple[str, str]]:
    """``(source, text)`` of each document: each non-blank line, or each whole file.

    Files and stdin are read as bytes and decoded as strict UTF-8 here, line by line, so the
    locale does not matter (under the C locale Python would decode stdin with
    ``errors="surrogateescape"``) and an error names the line.
    """
    for path in files:
        name = "<stdin>" if str(path) == "-" else str(path)
        with contextlib.ExitStack() as stack:
            handle = sys.stdin.buffer if name == "<stdin>" else stack.enter_context(path.open("rb"))
            if whole_file:
                yield name, _decode(handle.read(), name, 1)
                continue
            for number, raw in enumerate(handle, start=1):
                line = _decode(raw, name, number)
                if line.strip():
                    yield f"{name}:{number}", line.rstrip("\r\n")


def count_documents(files: Sequence[Path], *, whole_file: bool) -> int | None:
    """How many documents :func:`read_documents` will yield (for a progress bar's total), or
    ``None`` when one of the inputs is stdin (read once only)."""
    if any(str(path) == "-" for path in files):
        return None
    if whole_file:
        return len(files)
    count = 0
    for path in files:
        with path.open("rb") as handle:
            count += sum(1 for raw in handle if raw.strip())
    return count


def _decode(data: bytes, name: str, first_line: int) -> str:
    """``data`` (from line ``first_line`` of ``name``) as UTF-8 text, a leading BOM dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise DataFormatError(
            f"{name}:{line}: is not UTF-8 text ({error.reason}); convert it to UTF-8 first "
            "(e.g. iconv -t utf-8)."
        ) from None

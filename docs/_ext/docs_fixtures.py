"""Scratch workspace for the docs' doctests: tiny offline models and small data files.

``enter_workspace()`` builds, once per process, a temporary folder::

    bert-base-cased/      a tiny random BERT encoder + WordPiece tokenizer (no head)
    my-ner-model/         a tiny model trained on a synthetic task (tests/tiny_trained.py),
                          saved by ner_bert: it finds "John"/"Mary" (+ "Smith") as PER,
                          "Paris"/"London"/"Berlin" as LOC, "Reuters"/"European Union" as ORG
    conll2003/{train,valid,test}.txt   a few IOB2 sentences in CoNLL-2003's format

and makes it the current directory, so the snippets in the docs use the same names a user
would (``NERTrainer("bert-base-cased")``, ``"conll2003/train.txt"``) and still run offline in
seconds: transformers loads a local folder before it looks at the Hub. Only my-ner-model
really finds entities (the synthetic ones above), so only snippets that use it show exact
entities; the others check what holds for any model (types, offsets that slice the text).
``leave_workspace()`` restores the previous directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_workspace: Path | None = None
_previous: list[str] = []


def build_workspace(directory: Path) -> Path:
    """Fill ``directory`` with the tiny models and data files; returns it."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import tiny_models
        import tiny_trained
    finally:
        sys.path.remove(str(ROOT / "tests"))
    from ner_bert import NERPredictor

    # 512 positions, like the real bert-base-cased (document context needs the room).
    tiny_models.build_tiny_encoder(directory / "bert-base-cased", max_length=512)
    for name, n in (("train", 24), ("valid", 12), ("test", 12)):
        tiny_models.write_sample_conll(directory / "conll2003" / f"{name}.txt", n_sentences=n)
    # A tiny model trained on a synthetic task, saved the way ner_bert saves models.
    raw = tiny_trained.build_trained_tiny_bert(directory / "_trained")
    NERPredictor.from_pretrained(raw).save(directory / "my-ner-model")
    return directory


def enter_workspace() -> Path:
    """Build the workspace on first use, then ``chdir`` into it."""
    global _workspace
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if _workspace is None:
        directory = Path(tempfile.mkdtemp(prefix="ner_bert_docs_"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _workspace = build_workspace(directory)
    _previous.append(os.getcwd())
    os.chdir(_workspace)
    return _workspace


def leave_workspace() -> None:
    """Go back to the directory that was current before :func:`enter_workspace`."""
    if _previous:
        os.chdir(_previous.pop())

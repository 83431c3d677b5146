"""Scratch workspace for the docs' doctests: tiny offline models and small data files.

``enter_workspace()`` builds, once per process, a temporary folder::

    bert-base-cased/      a tiny random BERT encoder + WordPiece tokenizer (no head)
    my-ner-model/         that encoder fine-tuned by NERTrainer for two epochs on train.txt
    conll2003/{train,valid,test}.txt   a few IOB2 sentences in CoNLL-2003's format

and makes it the current directory, so the snippets in the docs use the same names a user
would (``NERTrainer("bert-base-cased")``, ``"conll2003/train.txt"``) and still run offline in
seconds: transformers loads a local folder before it looks at the Hub. The models are random,
so the snippets only check what holds for any model (types, offsets that slice the text).
``leave_workspace()`` restores the previous directory.
"""

from __future__ import annotations

import os
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
    finally:
        sys.path.remove(str(ROOT / "tests"))
    tiny_models.build_tiny_encoder(directory / "bert-base-cased")
    for name, n in (("train", 24), ("valid", 12), ("test", 12)):
        tiny_models.write_sample_conll(directory / "conll2003" / f"{name}.txt", n_sentences=n)

    from ner_bert import NERTrainer, TrainingConfig, read_conll

    config = TrainingConfig(epochs=2, batch_size=8, learning_rate=1e-3, progress_bar=False)
    trainer = NERTrainer(directory / "bert-base-cased", config=config)
    trainer.train(read_conll(directory / "conll2003" / "train.txt"))
    trainer.save(directory / "my-ner-model")
    return directory


def enter_workspace() -> Path:
    """Build the workspace on first use, then ``chdir`` into it."""
    global _workspace
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if _workspace is None:
        _workspace = build_workspace(Path(tempfile.mkdtemp(prefix="ner_bert_docs_")))
    _previous.append(os.getcwd())
    os.chdir(_workspace)
    return _workspace


def leave_workspace() -> None:
    """Go back to the directory that was current before :func:`enter_workspace`."""
    if _previous:
        os.chdir(_previous.pop())

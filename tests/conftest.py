"""Shared fixtures. Tests never touch the network: every model is built here, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread per test process (and the CLI subprocesses it starts): the models here are
# tiny, so a second thread only adds synchronisation, and `make test` runs one process per
# core; two threads each would oversubscribe the cores, which slows torch down many times.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import tiny_models

# Property tests check behaviour, not speed: no per-example deadline (a loaded CI machine made
# a 200 ms deadline fail spuriously).
settings.register_profile("ner_bert", deadline=None)
settings.load_profile("ner_bert")

_DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/conll2003"
CONLL_DIR = Path(os.environ.get("NER_BERT_DATA", _DEFAULT_DATA))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run slow tests (real encoder/data)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = config.getoption("--slow") or os.environ.get("NER_BERT_SLOW") == "1"
    if run_slow or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --slow or NER_BERT_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def conll_dir() -> Path:
    if not (CONLL_DIR / "train.txt").exists():
        pytest.skip(f"CoNLL-2003 data not found at {CONLL_DIR}")
    return CONLL_DIR


@pytest.fixture(scope="session")
def wordpiece_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return tiny_models.build_wordpiece_tokenizer(tmp_path_factory.mktemp("wordpiece"))


@pytest.fixture(scope="session")
def bpe_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return tiny_models.build_bpe_tokenizer(tmp_path_factory.mktemp("bpe"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random BertForTokenClassification (PER/ORG/LOC/MISC) saved with its tokenizer."""
    return tiny_models.build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random BertModel without a head, saved with its tokenizer."""
    return tiny_models.build_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"))


@pytest.fixture(scope="session")
def trained_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT trained in-process (seconds) to tag john/mary [smith] PER, paris/london/
    berlin LOC, reuters and "european union" ORG; 32-token window. See tests/tiny_trained.py."""
    import tiny_trained

    return tiny_trained.build_trained_tiny_bert(tmp_path_factory.mktemp("trained_tiny_bert"))

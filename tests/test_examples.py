"""Every script in examples/ runs end to end on a tiny offline model and a small data sample.

The scripts run as ``__main__`` (``runpy``) with their command-line arguments and environment
variables, in this process so torch is imported once; the spaCy example, which starts worker
processes (``--n-process 2``), runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiny_models

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = {"train_conll2003.py", "predict_text.py", "spacy_pipeline.py", "evaluate.py"}


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_example(script: str, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    """Run ``examples/<script>`` as ``__main__`` with ``args``; return its stdout."""
    out = io.StringIO()
    argv, sys_stdin = sys.argv, sys.stdin
    sys.argv, sys.stdin = [str(EXAMPLES / script), *args], io.StringIO(stdin)
    try:
        with (
            _environment(env or {}),
            contextlib.redirect_stdout(out),
            pytest.raises(SystemExit) as exit_info,
        ):
            runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    finally:
        sys.argv, sys.stdin = argv, sys_stdin
    assert exit_info.value.code == 0, f"{script} exited {exit_info.value.code}\n{out.getvalue()}"
    return out.getvalue()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("conll_sample")
    for split, n in (("train", 18), ("valid", 6), ("test", 6)):
        tiny_models.write_sample_conll(directory / f"{split}.txt", n_sentences=n)
    return directory


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path, data_dir: Path
) -> tuple[Path, str]:
    """examples/train_conll2003.py on the tiny encoder: its output folder and stdout."""
    output = tmp_path_factory.mktemp("example_model") / "model"
    stdout = run_example(
        "train_conll2003.py",
        *("--model", str(tiny_encoder_dir), "--output", str(output)),
        *("--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3"),
        *("--max-length", "64", "--max-sentences", "12"),
        env={"NER_BERT_DATA": str(data_dir)},
    )
    return output, stdout


def test_every_example_is_tested_and_says_how_to_run_it() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} - {"demo.py"} == SCRIPTS
    for name in SCRIPTS:
        docstring = (EXAMPLES / name).read_text(encoding="utf-8").split('"""')[1]
        assert f"python examples/{name}" in docstring, name


def test_train_example(trained: tuple[Path, str]) -> None:
    output, stdout = trained
    assert "12 train, 6 dev, 6 test sentences" in stdout
    assert "epoch 2: loss" in stdout and "dev F1" in stdout
    assert "micro" in stdout and "conlleval" in stdout
    assert (output / "ner_bert.json").is_file() and (output / "config.json").is_file()
    scores = json.loads((output / "test_scores.json").read_text(encoding="utf-8"))
    assert 0.0 <= scores["f1"] <= 1.0 and scores["n_sentences"] == 6


def test_predict_example(trained: tuple[Path, str]) -> None:
    texts = ["John Smith lives in Paris.", "  Reuters said the bank was in London ! "]
    stdout = run_example("predict_text.py", "--model", str(trained[0]), "--json", *texts)
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["text"] for r in records] == texts
    for record in records:
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
            assert isinstance(entity["score"], float)

    # stdin, a text longer than the model's window, the model from the environment.
    long_text = " ".join(["Mary visited the European Union in Berlin today ."] * 40)
    stdout = run_example(
        "predict_text.py",
        "--aggregation",
        "max",
        env={"NER_BERT_MODEL": str(trained[0])},
        stdin=long_text,
    )
    assert stdout.startswith("Mary visited")


def test_evaluate_example(trained: tuple[Path, str], data_dir: Path) -> None:
    stdout = run_example(
        "evaluate.py", "--model", str(trained[0]), env={"NER_BERT_DATA": str(data_dir)}
    )
    assert f"{data_dir / 'test.txt'}: 6 sentences" in stdout
    assert "F1 (conlleval, micro):" in stdout and "strict" in stdout


def test_spacy_example(trained: tuple[Path, str], tmp_path: Path) -> None:
    pytest.importorskip("spacy")
    proc = subprocess.run(
        [
            *(sys.executable, str(EXAMPLES / "spacy_pipeline.py"), "--model", str(trained[0])),
            *("--n-process", "2", "--output", str(tmp_path / "pipeline")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "'entity_ruler', 'ner_bert'" in proc.stdout
    assert "PRODUCT  'Golf GTI'" in proc.stdout
    assert "spacy.load gives the same entities" in proc.stdout
    assert (tmp_path / "pipeline" / "ner_bert" / "model" / "ner_bert.json").is_file()


def test_examples_say_where_the_data_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    for script in ("train_conll2003.py", "evaluate.py"):
        argv = sys.argv
        sys.argv = [script, "--model", "unused"]
        try:
            with (
                _environment({"NER_BERT_DATA": str(missing)}),
                pytest.raises(SystemExit) as exit_info,
            ):
                runpy.run_path(str(EXAMPLES / script), run_name="__main__")
        finally:
            sys.argv = argv
        assert exit_info.value.code == 2, script
        err = capsys.readouterr().err
        assert str(missing) in err and "NER_BERT_DATA" in err, err

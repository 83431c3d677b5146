"""The README's quickstart, Python and shell, run as written against a tiny offline encoder
and a small CoNLL-format corpus (only the encoder folder and the data folder are swapped)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import _SENTENCES, conll_text

README = Path(__file__).resolve().parents[1] / "README.md"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def quickstart_blocks() -> tuple[str, str]:
    """The Quickstart section's Python block and its shell block."""
    section = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    python = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    shell = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(python) == 1 and len(shell) == 1, "the Quickstart has one Python, one shell block"
    return python[0], shell[0]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "conll2003"
    folder.mkdir()
    (folder / "train.txt").write_text(conll_text(_SENTENCES, copies=2))
    (folder / "valid.txt").write_text(conll_text(_SENTENCES[:5]))
    (folder / "test.txt").write_text(conll_text(_SENTENCES[5:]))
    return folder


def test_the_python_quickstart_runs(tiny_encoder_dir: Path, corpus: Path, tmp_path: Path) -> None:
    code, _ = quickstart_blocks()
    assert len(code.strip().splitlines()) <= 12  # "a 10-line quickstart", with its import
    swapped = re.sub(r'^encoder = ".*?"', f"encoder = {str(tiny_encoder_dir)!r}", code, flags=re.M)
    swapped = re.sub(r'^data = ".*?"', f"data = {str(corpus)!r}", swapped, flags=re.M)
    assert swapped.count(str(tiny_encoder_dir)) == 1 and swapped.count(str(corpus)) == 1
    done = subprocess.run(
        [sys.executable, "-c", swapped], cwd=tmp_path, capture_output=True, text=True,
        env=ENV, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "conlleval" in done.stdout and "micro" in done.stdout
    assert done.stdout.rstrip().endswith("]")  # the printed list of entities
    assert (tmp_path / "my-ner-model" / "ner_bert.json").is_file()


def test_the_shell_quickstart_runs(tiny_encoder_dir: Path, corpus: Path) -> None:
    _, script = quickstart_blocks()
    swapped = script.replace("path/to/.cache/minilm/model", shlex.quote(str(tiny_encoder_dir)))
    assert swapped != script
    bin_dir = Path(sys.executable).parent  # where pip put the ner-bert command
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", swapped], cwd=corpus, capture_output=True,
        text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"entities": [' in done.stdout.splitlines()[-1]  # predict's JSON line
    assert "test (test.txt):" in done.stdout and "micro" in done.stdout  # the test scores

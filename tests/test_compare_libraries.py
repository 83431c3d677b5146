"""benchmarks/compare_libraries.py, run as a user runs it: its one scorer and how a run merges
its rows into an existing results file (``--rescore`` scores predictions already written, so
no other library's virtual environment is needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_libraries.py"

DOCUMENT = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

"""


def _write_data(data: Path) -> None:
    data.mkdir()
    for split in ("train", "valid", "test"):
        (data / f"{split}.txt").write_text(DOCUMENT, encoding="utf-8")


def _predictions() -> dict:
    """Flair's predictions file as its runner writes it: the words right, the natural sentences
    missing German (MISC), the article right."""
    return {
        "library": "flair",
        "version": "0.15.1",
        "recipe": {"epochs": 1},
        "train_seconds": 12.0,
        "words": {"tags": [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]], "seconds": 1},
        "natural": {"spans": [[["ORG", 0, 2]], [["PER", 0, 15]]], "seconds": 2},
        "articles": {
            "spans": [[["ORG", 0, 2], ["MISC", 11, 17], ["PER", 24, 39]]],
            "seconds": 0.5,
        },
    }


def test_rescore_scores_every_text_form_and_keeps_earlier_rows(tmp_path: Path) -> None:
    data, work, results = tmp_path / "data", tmp_path / "work", tmp_path / "results.json"
    _write_data(data)
    work.mkdir()
    (work / "predictions-flair-quick.json").write_text(json.dumps(_predictions()))
    earlier = {"library": "ner_bert", "date": "2026-01-01 00:00 UTC", "scores": {}}
    results.write_text(json.dumps({"libraries": {"ner_bert": earlier}}))

    command = [sys.executable, str(SCRIPT), "--quick", "--rescore", "--library", "flair"]
    command += ["--data", str(data), "--work", str(work), "--results", str(results)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)

    written = json.loads(results.read_text())
    assert written["libraries"]["ner_bert"] == earlier
    flair = written["libraries"]["flair"]
    assert flair["date"] != earlier["date"]
    assert flair["train_seconds"] == 12.0
    scores = flair["scores"]
    assert scores["words"]["f1"] == 1.0
    assert (scores["natural"]["precision"], scores["natural"]["recall"]) == (1.0, 2 / 3)
    assert abs(scores["natural"]["f1"] - 0.8) < 1e-12
    assert scores["articles"]["f1"] == 1.0
    assert [scores[form]["words_per_second"] for form in ("words", "natural", "articles")] == [
        7.0, 3.5, 14.0,
    ]  # fmt: skip
    options = written["command"].split("compare_libraries.py ")[1]
    assert options == (
        "--library ner_bert --library flair --quick"
        " --results benchmarks/results/compare_libraries_quick.json"
    )
    assert written["quick"] is True

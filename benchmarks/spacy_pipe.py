"""spaCy component overhead: ``nlp.pipe`` with the ``ner_bert`` component vs NERPredictor.

Both sides run in one process on the **same** NERPredictor (the component's own) and the same
words, the CoNLL-2003 test sentences:

* ``predictor``  for each group of ``--pipe-batch-size`` sentences (the groups ``nlp.pipe``
                 hands the component) the call the component makes: with ``--words text``
                 (the component's default) ``predictor.predict_documents`` on each sentence's
                 text (its words joined by spaces, one document each), entities out; with
                 ``--words tokens`` ``predictor.predict_words(group)``, read as entities with
                 ``tags_to_spans``;
* ``component``  ``nlp.pipe(docs)`` over ``spacy.blank("en")`` docs built from the same words
                 (``Doc(vocab, words=...)``, outside the timing: a pipeline's tokenizer makes
                 them), with the component writing ``doc.ents``, the span scores and, with
                 ``--spans-key``, a span group.

The two are interleaved (predictor, component, predictor, ...) ``--repeats`` times; medians of
wall time and CPU time are reported. The overhead is ``component time / predictor time - 1``
(the acceptance bar is <= 15 %). Because the speed of a shared machine can change several-fold
between runs, the component runs also time the predictor calls they make, and
``overhead_paired`` is the median over runs of ``(total - inside the model call) / inside``: the
component's own work relative to the model's, measured within one run. Before timing, both
sides are checked to find the same number of entities.

The model: ``--model`` (default ``/work/models/minilm-conll``, the MiniLM fine-tuned by the
training benchmark) or, when absent, a fresh MiniLM token-classification head (the overhead
does not depend on the weights, but a random head tags far more entities than a trained one,
which makes the component's per-entity work look larger, not smaller).

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/spacy_pipe.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict_throughput import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_MODEL,
    count_tokens,
    fresh_head,
    machine_info,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--pipe-batch-size", type=int, default=1000, help="docs per nlp.pipe batch")
    parser.add_argument("--spans-key", default=None, help="also write doc.spans[KEY]")
    parser.add_argument("--words", choices=("text", "tokens"), default="text")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/spacy_pipe.json")
    args = parser.parse_args(argv)

    import spacy
    import torch
    from spacy.tokens import Doc

    from ner_bert.data.conll import read_conll
    from ner_bert.labels import tags_to_spans

    sentences = [list(s.words) for s in read_conll(args.data) if len(s)]
    if args.limit:
        sentences = sentences[: args.limit]

    with tempfile.TemporaryDirectory() as tmp:
        model, fine_tuned = args.model, args.model.is_dir()
        if not fine_tuned:
            print(f"{args.model} not found: using a fresh MiniLM head")
            model = fresh_head(Path(tmp) / "minilm-fresh")
        n_tokens = count_tokens(model, [" ".join(words) for words in sentences])
        nlp = spacy.blank("en")
        config: dict[str, Any] = {"model": str(model), "words": args.words}
        if args.spans_key:
            config["spans_key"] = args.spans_key
        component = nlp.add_pipe("ner_bert", config=config)
        predictor = component.predictor

        def make_docs() -> list[Doc]:
            return [Doc(nlp.vocab, words=words) for words in sentences]

        step = args.pipe_batch_size

        call = "predict_documents" if args.words == "text" else "predict_words"

        def run_predictor() -> int:
            # The same groups as nlp.pipe hands the component, so both sides run the very
            # same forward passes (with bf16, a different batch composition can flip a
            # near-tie tag of a random head).
            count = 0
            for start in range(0, len(sentences), step):
                group = sentences[start : start + step]
                if call == "predict_documents":
                    found = predictor.predict_documents([[" ".join(words)] for words in group])
                    count += sum(len(entities) for (entities,) in found)
                else:
                    predictions = predictor.predict_words(group)
                    count += sum(len(tags_to_spans([p.tag for p in pr])) for pr in predictions)
            return count

        inside = [0.0]  # seconds the component spent in the predictor call
        model_call = getattr(predictor, call)

        def timed_call(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return model_call(*a, **k)
            finally:
                inside[0] += time.perf_counter() - start

        setattr(predictor, call, timed_call)

        def run_component(docs: list[Doc]) -> int:
            return sum(len(doc.ents) for doc in nlp.pipe(docs, batch_size=step))

        # Warm-up, and the correctness check: the same entities on both sides.
        warm = sentences[:64]
        predictor.predict_words(warm)
        predictor.predict_documents([[" ".join(w)] for w in warm])
        list(nlp.pipe([Doc(nlp.vocab, words=w) for w in warm]))
        n_entities = {"predictor": run_predictor(), "component": run_component(make_docs())}
        if n_entities["predictor"] != n_entities["component"]:
            raise SystemExit(f"entity counts differ: {n_entities}")

        runs: dict[str, list[dict[str, float]]] = {"predictor": [], "component": []}
        for repeat in range(args.repeats):
            for side in ("predictor", "component"):
                docs = make_docs() if side == "component" else []
                load = os.getloadavg()[0]
                inside[0] = 0.0
                start, cpu_start = time.perf_counter(), time.process_time()
                if side == "predictor":
                    run_predictor()
                else:
                    run_component(docs)
                seconds = time.perf_counter() - start
                cpu = time.process_time() - cpu_start
                runs[side].append(
                    {"seconds": seconds, "cpu_seconds": cpu, "load": load, "model": inside[0]}
                )
                print(
                    f"repeat {repeat + 1} {side:9s} {seconds:7.2f}s wall {cpu:7.2f}s cpu "
                    f"{len(sentences) / seconds:7.1f} sent/s (load {load:.1f})"
                    + (f" in model {inside[0]:.2f}s" if side == "component" else ""),
                    flush=True,
                )

    summary: dict[str, Any] = {}
    for side, side_runs in runs.items():
        wall = statistics.median(r["seconds"] for r in side_runs)
        cpu = statistics.median(r["cpu_seconds"] for r in side_runs)
        summary[side] = {
            "median_seconds": wall,
            "median_cpu_seconds": cpu,
            "best_seconds": min(r["seconds"] for r in side_runs),
            "seconds": [round(r["seconds"], 3) for r in side_runs],
            "cpu_seconds": [round(r["cpu_seconds"], 3) for r in side_runs],
            "load_average_before": [round(r["load"], 2) for r in side_runs],
            "sentences_per_second": len(sentences) / wall,
            "tokens_per_second": n_tokens / wall,
        }
    ours, base = summary["component"], summary["predictor"]
    result = {
        "benchmark": "spacy_pipe",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine_info("spacy"), "threads": torch.get_num_threads()},
        "model": str(args.model) if fine_tuned else "fresh MiniLM head (random classifier)",
        "model_fine_tuned": fine_tuned,
        "precision": predictor.precision,
        "data": str(args.data),
        "sentences": len(sentences),
        "subword_tokens": n_tokens,
        "entities": n_entities["component"],
        "entity_counts_equal": True,
        "pipe_batch_size": args.pipe_batch_size,
        "spans_key": args.spans_key,
        "words": args.words,
        "predictor_call": call,
        "repeats": args.repeats,
        "sides": summary,
        "overhead": ours["median_seconds"] / base["median_seconds"] - 1,
        "overhead_best": ours["best_seconds"] / base["best_seconds"] - 1,
        "overhead_cpu_time": ours["median_cpu_seconds"] / base["median_cpu_seconds"] - 1,
        "throughput_ratio": base["median_seconds"] / ours["median_seconds"],
        # Paired, within each component run: time outside the model call over time inside it.
        # Robust to the machine's speed changing between runs (other jobs, shared CPUs).
        "overhead_paired": statistics.median(
            (r["seconds"] - r["model"]) / r["model"] for r in runs["component"]
        ),
        "overhead_paired_runs": [
            round((r["seconds"] - r["model"]) / r["model"], 4) for r in runs["component"]
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("sides", "machine")}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Masked-LM adaptation before fine-tuning, measured: CoNLL-2003 with the offline MiniLM.

One invocation, one machine: adapt the encoder (``EncoderAdapter``, whole-word masking) on
the unlabelled text of CoNLL-2003 train (not valid, which picks the best epoch of the
fine-tuning) for a fixed budget of epochs, report the masked-LM perplexity of held-out
train documents (5% of them, not adapted on) before and after,
then fine-tune with the default recipe of ``train_conll.py`` from the adapted and from the
original encoder, seeds 42-44, and report test F1 (mean ± std) and the wall time of every
phase. ``--baseline`` reuses fine-tuning runs of the original encoder made by
``train_conll.py`` on this machine in the same session (their JSON files) instead of
repeating them.

Usage::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/pretrain_conll.py \\
        --baseline benchmark-runs/sentence42.json benchmark-runs/sentence43.json \\
        benchmark-runs/sentence44.json
    .venv/bin/python benchmarks/pretrain_conll.py --quick      # subsets (smoke)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from train_conll import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_MODEL,
    NER_BERT_SETTINGS,
    machine,
    run_ner_bert,
)

SEEDS = (42, 43, 44)
ADAPTATION = {"epochs": 5.0, "batch_size": 32, "learning_rate": 1e-4, "max_length": 128}


def adapt(model: str, documents: list, output: Path, settings: dict[str, Any]) -> dict[str, Any]:
    from ner_bert.pretraining import AdaptationSettings, EncoderAdapter

    adapter = EncoderAdapter(model, settings=AdaptationSettings(**settings), progress_bar=False)
    result = adapter.adapt(documents)
    adapter.save(output, overwrite=True)
    return {"settings": settings, **result.to_dict(), "documents": len(documents)}


def fine_tune(model: str, data: tuple, seed: int, quick: bool) -> dict[str, Any]:
    settings = {**NER_BERT_SETTINGS, "seed": seed}
    if quick:
        settings.update(epochs=1, eval_delay=0)
    run = run_ner_bert(model, *data, settings, None)
    keep = ("wall_seconds", "test", "valid_f1_conlleval", "best_epoch", "precision")
    return {"seed": seed, **{k: run[k] for k in keep}}


def from_baseline(path: Path) -> dict[str, Any]:
    run = json.loads(path.read_text(encoding="utf-8"))["ner_bert"]
    keep = ("wall_seconds", "test", "valid_f1_conlleval", "best_epoch", "precision")
    return {"seed": run["settings"]["seed"], "from": str(path), **{k: run[k] for k in keep}}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    f1 = [r["test"]["f1_conlleval"] for r in runs]
    return {
        "test_f1_mean": statistics.mean(f1),
        "test_f1_std": statistics.stdev(f1) if len(f1) > 1 else 0.0,
        "wall_seconds_median": statistics.median(r["wall_seconds"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--adapted", type=Path, default=Path("benchmark-runs/minilm-conll-mlm"))
    parser.add_argument("--adapt-epochs", type=float, default=ADAPTATION["epochs"])
    parser.add_argument("--baseline", type=Path, nargs="*", default=[])
    parser.add_argument("--quick", action="store_true", help="subsets, one epoch (smoke)")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "pretrain_conll.json")
    args = parser.parse_args(argv)
    if args.quick and args.baseline:
        parser.error("--quick fine-tunes on subsets; full-size --baseline runs do not compare")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    from ner_bert import read_conll
    from ner_bert.pretraining import documents_of_sentences

    train, valid, test = (read_conll(args.data / f"{s}.txt") for s in ("train", "valid", "test"))
    if args.quick:
        train, valid, test = train[:1000], valid[:300], test[:300]
    started = time.perf_counter()
    settings = {**ADAPTATION, "epochs": 1.0 if args.quick else args.adapt_epochs}
    documents = documents_of_sentences(train)
    adaptation = adapt(args.model, documents, args.adapted, settings)
    data = (train, valid, test)
    adapted = [fine_tune(str(args.adapted), data, seed, args.quick) for seed in SEEDS]
    if args.baseline:
        original = [from_baseline(path) for path in args.baseline]
    else:
        original = [fine_tune(args.model, data, seed, args.quick) for seed in SEEDS]
    results = {
        "benchmark": "pretrain_conll",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "model": args.model,
        "quick": args.quick,
        "adaptation": adaptation,
        "fine_tuning_settings": NER_BERT_SETTINGS,
        "adapted": {"runs": adapted, **summary(adapted)},
        "original": {"runs": original, **summary(original)},
        "seconds_total": time.perf_counter() - started,
    }
    results["f1_delta"] = results["adapted"]["test_f1_mean"] - results["original"]["test_f1_mean"]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"results": str(args.results), "f1_delta": results["f1_delta"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

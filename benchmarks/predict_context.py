"""Prediction speed and F1 with document context vs sentence by sentence, on CoNLL-2003 test.

Two fine-tuned MiniLM models from ``train_conll.py`` (same seed): one sentence-level
(``context_size=0``), one with document context (``context_size=64``). Each predicts the 3,453
test sentences from their words with :meth:`NERPredictor.predict_words` (the context model
with ``documents=`` from ``-DOCSTART-``, and once more without, each sentence alone). Runs are
interleaved and repeated; the table reports the median words per second, the ratio to the
sentence-level model in the same run, and the test F1 (conlleval) of each way::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/predict_context.py \\
        --sentence-model /work/runs/m_sent42 --context-model /work/runs/m_ctx42
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("NER_BERT_DATA", HERE.parents[1] / "shared/data/conll2003"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentence-model", required=True)
    parser.add_argument("--context-model", required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "predict_context.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(HERE))
    from predict_throughput import machine_info

    from ner_bert import NERPredictor, evaluate_tags, read_conll

    test = read_conll(args.data / "test.txt")
    words = [list(s.words) for s in test]
    documents = [s.document for s in test]
    n_words = sum(len(w) for w in words)
    sentence = NERPredictor.from_pretrained(args.sentence_model)
    context = NERPredictor.from_pretrained(args.context_model)
    ways: dict[str, Any] = {
        "sentence-level model, sentence by sentence": lambda: sentence.predict_words(words),
        "context model, with document context": lambda: context.predict_words(
            words, documents=documents
        ),
        "context model, each sentence alone": lambda: context.predict_words(words),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    f1: dict[str, float] = {}
    for name, run in ways.items():  # warm-up, and the F1
        predicted = run()
        f1[name] = evaluate_tags([s.tags for s in test], [[p.tag for p in s] for s in predicted]).f1
    for _ in range(args.repeats):
        for name, run in ways.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    base = statistics.median(seconds["sentence-level model, sentence by sentence"])
    rows = []
    for name in ways:
        median = statistics.median(seconds[name])
        rows.append(
            {
                "way": name,
                "words_per_second_median": n_words / median,
                "seconds_median": median,
                "time_vs_sentence_level": median / base,
                "test_f1": f1[name],
            }
        )
    results = {
        "benchmark": "predict_context",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "data": {"sentences": len(test), "documents": len(set(documents)), "words": n_words},
        "models": {"sentence": args.sentence_model, "context": args.context_model},
        "context_size": context.context_size,
        "precision": context.precision,
        "repeats": args.repeats,
        "results": rows,
        "reproduce": "flock /tmp/ner_bert_bench.lock .venv/bin/python "
        "benchmarks/predict_context.py --sentence-model M0 --context-model M64",
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

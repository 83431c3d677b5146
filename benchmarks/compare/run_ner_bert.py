"""ner_bert's side of ``compare_libraries.py``: train and predict one task file.

Usage: ``python run_ner_bert.py TASK.json OUT.json [--context 64]``

Recipe: ``NERTrainer`` with its defaults (every subword labelled, length-grouped batches,
AdamW with weight decay 0.01, linear warmup and decay, gradient clipping, bf16 autocast where
the CPU multiplies bf16 natively), the task's budget (epochs, peak learning rate, sentences per
step, warmup, seed, threads), dev F1 after every epoch and the best epoch kept. Prediction
with ``NERPredictor``'s defaults (Viterbi decoding of valid IOB2, raw text cut into treebank
words). With ``--context N`` the model reads each sentence with up to N subwords of its
document on each side (FLERT's idea): one input holds about 5.5 CoNLL sentences, so the batch
is the task's sentences per step divided by 5.5; test words and natural sentences are
predicted with their documents.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from itertools import groupby
from pathlib import Path
from typing import Any

import torch

from ner_bert import NERPredictor, NERTrainer, TaggedSentence, TrainingConfig

SENTENCES_PER_CONTEXT_INPUT = 5.5  # measured on CoNLL-2003 train with context_size 64


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def sentences_of(records: list[dict[str, Any]]) -> list[TaggedSentence]:
    return [TaggedSentence(r["words"], r["tags"], document=r["document"]) for r in records]


def by_document(items: list[Any], documents: list[int]) -> list[list[Any]]:
    pairs = zip(documents, items, strict=True)
    return [[item for _, item in group] for _, group in groupby(pairs, key=lambda p: p[0])]


def spans(entities: list[list[Any]]) -> list[list[list[Any]]]:
    return [[[e.label, e.start, e.end] for e in ents] for ents in entities]


def train(task: dict[str, Any], context: int) -> tuple[NERPredictor, dict[str, Any]]:
    settings = task["settings"]
    batch_size = settings["batch_size"]
    if context:
        batch_size = max(1, round(batch_size / SENTENCES_PER_CONTEXT_INPUT))
    config = TrainingConfig(
        learning_rate=settings["learning_rate"],
        epochs=settings["epochs"],
        batch_size=batch_size,
        warmup_ratio=settings["warmup_ratio"],
        seed=settings["seed"],
        num_threads=settings["threads"],
        context_size=context,
        progress_bar=False,
    )
    trainer = NERTrainer(task["encoder"], config=config)
    result = trainer.train(sentences_of(task["train"]), eval=sentences_of(task["valid"]))
    folder = Path(tempfile.mkdtemp(prefix="ner_bert-compare-")) / "model"
    trainer.save(folder)
    predictor = NERPredictor.from_pretrained(folder)
    recipe = {
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "batch_size": batch_size,
        "batch_unit": "inputs of about 5.5 sentences" if context else "sentences",
        "warmup_ratio": config.warmup_ratio,
        "context_size": context,
        "labels": "every subword",
        "decoding": "Viterbi (valid IOB2)",
        "model_kept": f"best dev F1 (epoch {result.best_epoch})",
        "precision": predictor.precision,
    }
    return predictor, recipe


def predict(predictor: NERPredictor, task: dict[str, Any], context: int) -> dict[str, Any]:
    test = task["test"]
    words = [r["words"] for r in test]
    documents = [r["document"] for r in test]
    tagged, words_seconds = timed(
        lambda: predictor.predict_words(words, documents=documents if context else None)
    )
    natural = task["texts"]["natural"]
    if context:
        grouped, natural_seconds = timed(
            lambda: predictor.predict_documents(by_document(natural, documents))
        )
        natural_entities = [sentence for document in grouped for sentence in document]
    else:
        natural_entities, natural_seconds = timed(lambda: predictor.predict(natural))
    articles, articles_seconds = timed(lambda: predictor.predict(task["texts"]["articles"]))
    return {
        "words": {"tags": [[w.tag for w in s] for s in tagged], "seconds": words_seconds},
        "natural": {"spans": spans(natural_entities), "seconds": natural_seconds},
        "articles": {"spans": spans(articles), "seconds": articles_seconds},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--context", type=int, default=0, help="context_size in subwords")
    args = parser.parse_args()
    task = json.loads(args.task.read_text(encoding="utf-8"))
    torch.set_num_threads(task["settings"]["threads"])
    (predictor, recipe), train_seconds = timed(lambda: train(task, args.context))
    out = {
        "library": "ner_bert" + (f" (context {args.context})" if args.context else ""),
        "version": f"{version('ner-bert')} (transformers {version('transformers')})",
        "recipe": recipe,
        "train_seconds": train_seconds,
        **predict(predictor, task, args.context),
    }
    args.out.write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""SpanMarker's side of ``compare_libraries.py``: train and predict one task file.

Usage: ``python run_span_marker.py TASK.json OUT.json [--no-context]``

Recipe: SpanMarker's CoNLL-2003 training scripts (``training_scripts/conll03_context.py`` and
``conll03_no_context.py`` in github.com/tomaarsen/SpanMarkerNER, v1.8.1; the README's Quick Start
and the "Document-level context" notebook): ``SpanMarkerModel.from_pretrained(encoder,
labels=IOB2 labels, ...)``, ``span_marker.Trainer`` on a ``datasets.Dataset`` with ``tokens``
and ``ner_tags`` columns, ``TrainingArguments`` with weight decay 0.01 and warmup ratio 0.1,
AdamW with linear decay (the Trainer's default), final model kept. The task sets the budget:
epochs, peak learning rate, per-device batch (= sentences per step: each SpanMarker sample is
one sentence, a long sentence's span candidates spread over more than one sample), warmup,
seed and threads. No evaluation during training; fp32 on CPU (the scripts' bf16 is for GPUs).

By default the model trains and predicts with document-level context (``document_id`` and
``sentence_id`` columns: SpanMarker packs neighbouring sentences of the same document around
each sentence up to ``model_max_length``), with the README's ``model_max_length=256,
marker_max_length=128, entity_max_length=8`` (the context script's 512 overflows BERT's 512
positions, since SpanMarker shifts position ids by 2). ``--no-context`` follows
``conll03_no_context.py``: sentence level, ``model_max_length=128, marker_max_length=64,
entity_max_length=6``.

Prediction is ``SpanMarkerModel.predict``: the CoNLL words as lists of words (spans come back
as word indices, end exclusive, turned into IOB2 tags); the natural sentences as strings (the
encoder's fast tokenizer splits a string into words, BERT's pre-tokenizer: whitespace and
punctuation; spans come back as character offsets into the string); with context, both with
their test document. Articles are split into their lines (one sentence each; one string
longer than ``model_max_length`` subwords would be truncated), predicted as the sentences of
one document, and the character offsets shifted back into the article.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from span_marker import SpanMarkerModel, Trainer
from transformers import TrainingArguments, set_seed

# SpanMarker hyperparameters per mode (see the docstring).
CONTEXT_LENGTHS = {"model_max_length": 256, "marker_max_length": 128, "entity_max_length": 8}
SENTENCE_LENGTHS = {"model_max_length": 128, "marker_max_length": 64, "entity_max_length": 6}
WEIGHT_DECAY = 0.01
PREDICT_BATCH_SIZE = 32  # samples per forward pass in predict (its default is 4)


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def sentence_ids(documents: list[Any]) -> list[int]:
    """Each sentence's position in its document (documents are contiguous)."""
    ids, previous, position = [], None, 0
    for document in documents:
        position = position + 1 if document == previous else 0
        ids.append(position)
        previous = document
    return ids


def dataset_of(tokens: list[Any], documents: list[Any] | None, **columns: Any) -> Dataset:
    """A Dataset with a ``tokens`` column, and ``document_id``/``sentence_id`` if documents."""
    data = {"tokens": tokens, **columns}
    if documents is not None:
        data["document_id"] = [int(d) for d in documents]
        data["sentence_id"] = sentence_ids(documents)
    return Dataset.from_dict(data)


def train(task: dict[str, Any], context: bool) -> tuple[SpanMarkerModel, dict[str, Any]]:
    settings = task["settings"]
    labels = task["labels"]
    lengths = CONTEXT_LENGTHS if context else SENTENCE_LENGTHS
    set_seed(settings["seed"])  # the classifier is initialised before the Trainer seeds
    model = SpanMarkerModel.from_pretrained(task["encoder"], labels=labels, **lengths)
    label_id = {label: i for i, label in enumerate(labels)}
    records = task["train"]
    train_set = dataset_of(
        [r["words"] for r in records],
        [r["document"] for r in records] if context else None,
        ner_tags=[[label_id[t] for t in r["tags"]] for r in records],
    )
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="span_marker-compare-"),
        learning_rate=settings["learning_rate"],
        per_device_train_batch_size=settings["batch_size"],
        num_train_epochs=settings["epochs"],
        weight_decay=WEIGHT_DECAY,
        warmup_ratio=settings["warmup_ratio"],
        seed=settings["seed"],
        eval_strategy="no",
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    Trainer(model=model, args=args, train_dataset=train_set).train()
    recipe = {
        "epochs": settings["epochs"],
        "learning_rate": settings["learning_rate"],
        "batch_size": settings["batch_size"],
        "batch_unit": "samples (one sentence each; a long sentence's spans spread over more)",
        "warmup_ratio": settings["warmup_ratio"],
        "weight_decay": WEIGHT_DECAY,
        "scheduler": "linear",
        "document_context": context,
        **lengths,
        "labels": "span classification over all spans up to entity_max_length words",
        "decoding": "greedy: highest-scoring non-overlapping spans",
        "model_kept": "final",
        "precision": "fp32",
        "predict_batch_size": PREDICT_BATCH_SIZE,
        "articles": "split into lines, predicted as one document's sentences"
        if context
        else "split into lines, one sentence each",
    }
    return model, recipe


def predict(model: SpanMarkerModel, inputs: list[Any], documents: list[Any] | None) -> list[Any]:
    """``model.predict`` on sentences (strings or word lists), with context if documents."""
    if all(isinstance(s, str) and " " not in s for s in inputs):
        # SpanMarker would take strings without spaces for the words of one sentence.
        return [model.predict(s) for s in inputs]
    return model.predict(dataset_of(inputs, documents), batch_size=PREDICT_BATCH_SIZE)


def iob2_tags(n_words: int, entities: list[dict[str, Any]]) -> list[str]:
    """One IOB2 tag per word from spans of word indices (end exclusive)."""
    tags = ["O"] * n_words
    for e in entities:
        start, end = e["word_start_index"], e["word_end_index"]
        tags[start:end] = [f"B-{e['label']}"] + [f"I-{e['label']}"] * (end - start - 1)
    return tags


def char_spans(entities: list[dict[str, Any]], shift: int = 0) -> list[list[Any]]:
    return [
        [e["label"], e["char_start_index"] + shift, e["char_end_index"] + shift] for e in entities
    ]


def lines_of(text: str) -> list[tuple[str, int]]:
    """The non-blank lines of an article and their start offsets."""
    lines, position = [], 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((line, position))
        position += len(line) + 1
    return lines


def predict_words(model: SpanMarkerModel, task: dict[str, Any], context: bool) -> list[list[str]]:
    test = task["test"]
    words = [r["words"] for r in test]
    documents = [r["document"] for r in test] if context else None
    entities = predict(model, words, documents)
    return [iob2_tags(len(w), e) for w, e in zip(words, entities, strict=True)]


def predict_natural(model: SpanMarkerModel, task: dict[str, Any], context: bool) -> list[Any]:
    texts = task["texts"]["natural"]
    documents = [r["document"] for r in task["test"]] if context else None
    return [char_spans(e) for e in predict(model, texts, documents)]


def predict_articles(model: SpanMarkerModel, task: dict[str, Any], context: bool) -> list[Any]:
    articles = [lines_of(text) for text in task["texts"]["articles"]]
    lines = [line for article in articles for line, _ in article]
    documents = [i for i, article in enumerate(articles) for _ in article]
    entities = iter(predict(model, lines, documents if context else None))
    return [
        [span for _, start in article for span in char_spans(next(entities), start)]
        for article in articles
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-context", action="store_true", help="sentence-level recipe")
    args = parser.parse_args()
    task = json.loads(args.task.read_text(encoding="utf-8"))
    context = not args.no_context
    torch.set_num_threads(task["settings"]["threads"])
    (model, recipe), train_seconds = timed(lambda: train(task, context))
    out: dict[str, Any] = {
        "library": "span_marker" + ("" if context else " (sentence level)"),
        "version": f"{version('span_marker')} (transformers {version('transformers')})",
        "recipe": recipe,
        "train_seconds": train_seconds,
    }
    for form, run, key in (
        ("words", predict_words, "tags"),
        ("natural", predict_natural, "spans"),
        ("articles", predict_articles, "spans"),
    ):
        result, seconds = timed(lambda run=run: run(model, task, context))
        out[form] = {key: result, "seconds": seconds}
    args.out.write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

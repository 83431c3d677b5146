"""GLiNER runner for ``compare_libraries.py``: ``python run_gliner.py TASK.json OUT.json``.

GLiNER (https://github.com/urchade/GLiNER, ``pip install gliner``) is open-type span NER:
entity types are given as words and matched against every span of up to ``max_width`` words.
Its pretrained checkpoints live on the Hugging Face hub, which this machine cannot reach, so
this runner builds a *new* GLiNER model whose backbone is the task's plain encoder and
fine-tunes it on the task's ``train`` split with GLiNER's own training code.

Recipe (GLiNER's ``train.py`` + ``configs/config.yaml``, with the shared budget on top):

* model: ``GLiNER.from_config`` with ``model_name`` = the local encoder, ``span_mode``
  markerV0, ``max_width`` 12, ``dropout`` 0.3, ``subtoken_pooling`` first, ``max_types`` 100,
  ``max_len`` 512 words (config.yaml); ``hidden_size`` = the encoder's own width (config.yaml
  sets 768 = its DeBERTa-v3-small's width), so no projection layer;
* data: ``{"tokenized_text": words, "ner": [[start, end_inclusive, type]]}`` with the types as
  words (PER person, ORG organization, LOC location, MISC miscellaneous) and ``ner_labels`` =
  all four types on every sentence, which docs/training.md recommends for a fixed label set;
* training: ``GLiNER.train_model`` (GLiNER's Trainer): the task's learning rate for the encoder,
  3x it for the other parameters (config.yaml: lr_encoder 1e-5, lr_others 3e-5), weight decay
  0.1 encoder / 0.01 others, cosine schedule, focal loss alpha 0.75 gamma 0, loss summed,
  negatives 1.0, masking none, max_grad_norm 10 (all config.yaml); epochs, sentences per
  step, warmup ratio, seed and threads from the task; fp32 on CPU, no evaluation, no
  checkpoints (temporary output dir);
* prediction: threshold 0.5, ``flat_ner=True`` (GLiNER's defaults). ``words``: the exact word
  lists go through GLiNER's own collate/run/decode steps (its public ``inference`` only takes
  strings), and the word spans become IOB2 tags. ``natural``: ``GLiNER.inference`` on the
  sentence strings (its regex word splitter, character offsets back). ``articles``: GLiNER
  truncates inputs past ``max_len`` words and the encoder past 512 subwords, so each article
  is split into its lines (sentences), predicted as in ``natural``, and the offsets shifted by
  the line's start.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gliner
import torch
import transformers
from gliner import GLiNER

TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}
THRESHOLD = 0.5
FLAT_NER = True
PREDICT_BATCH = 32
OTHERS_LR_RATIO = 3.0  # configs/config.yaml: lr_others 3e-5 / lr_encoder 1e-5

MODEL_CONFIG: dict[str, Any] = {
    "span_mode": "markerV0",
    "max_width": 12,
    "dropout": 0.3,
    "fine_tune": True,
    "subtoken_pooling": "first",
    "fuse_layers": False,
    "max_types": 100,
    "max_len": 512,
    "max_neg_type_ratio": 1,
}
TRAIN_CONFIG: dict[str, Any] = {
    "lr_scheduler_type": "cosine",
    "weight_decay": 0.1,
    "others_weight_decay": 0.01,
    "focal_loss_alpha": 0.75,
    "focal_loss_gamma": 0.0,
    "loss_reduction": "sum",
    "negatives": 1.0,
    "masking": "none",
    "max_grad_norm": 10.0,
}


def encoder_width(encoder: str) -> int:
    return int(json.loads((Path(encoder) / "config.json").read_text())["hidden_size"])


def build_model(encoder: str) -> GLiNER:
    """A new GLiNER span model on the local encoder (backbone weights loaded, head random)."""
    config = {"model_name": encoder, "hidden_size": encoder_width(encoder), **MODEL_CONFIG}
    return GLiNER.from_config(config).to(dtype=torch.float32)


def spans_of(tags: list[str]) -> list[tuple[str, int, int]]:
    """IOB2 tags to (label, first word, last word) spans."""
    spans: list[tuple[str, int, int]] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        label = tag[2:]
        if tag.startswith("I-") and spans and spans[-1][0] == label and spans[-1][2] == i - 1:
            spans[-1] = (label, spans[-1][1], i)
        else:
            spans.append((label, i, i))
    return spans


def to_gliner(sentence: dict[str, Any]) -> dict[str, Any]:
    """A task sentence in GLiNER's training format, all four types offered."""
    return {
        "tokenized_text": sentence["words"],
        "ner": [[start, end, TYPES[label]] for label, start, end in spans_of(sentence["tags"])],
        "ner_labels": list(TYPES.values()),
    }


def train(model: GLiNER, sentences: list[dict[str, Any]], settings: dict[str, Any]) -> float:
    """Fine-tune with GLiNER's Trainer; returns the seconds it took."""
    data = [to_gliner(s) for s in sentences]
    with tempfile.TemporaryDirectory(prefix="gliner-") as out:
        start = time.perf_counter()
        model.train_model(
            train_dataset=data,
            eval_dataset=None,
            output_dir=out,
            num_train_epochs=settings["epochs"],
            max_steps=-1,
            learning_rate=settings["learning_rate"],
            others_lr=settings["learning_rate"] * OTHERS_LR_RATIO,
            per_device_train_batch_size=settings["batch_size"],
            warmup_ratio=settings["warmup_ratio"],
            seed=settings["seed"],
            data_seed=settings["seed"],
            use_cpu=True,
            dataloader_num_workers=0,
            save_strategy="no",
            logging_steps=50,
            **TRAIN_CONFIG,
        )
        return time.perf_counter() - start


def predict_words(model: GLiNER, word_lists: list[list[str]]) -> list[list[str]]:
    """IOB2 tags for pre-split words, through GLiNER's own collate/run/decode steps."""
    model.eval()
    collator = model.create_collator()
    prompts, names = list(TYPES.values()), list(TYPES)
    tags: list[list[str]] = []
    for first in range(0, len(word_lists), PREDICT_BATCH):
        chunk = word_lists[first : first + PREDICT_BATCH]
        inputs = model.prepare_base_input(chunk)
        batch = model.collate_batch(inputs, prompts, collator, label_names=names)
        output = model.run_batch(batch, threshold=THRESHOLD)
        decoded = model.decode_batch(output, batch, threshold=THRESHOLD, flat_ner=FLAT_NER)
        tags.extend(iob2(len(words), spans) for words, spans in zip(chunk, decoded, strict=True))
    return tags


def iob2(n_words: int, spans: list[Any]) -> list[str]:
    tags = ["O"] * n_words
    for span in spans:
        tags[span.start] = f"B-{span.entity_type}"
        for i in range(span.start + 1, span.end + 1):
            tags[i] = f"I-{span.entity_type}"
    return tags


def predict_texts(model: GLiNER, texts: list[str]) -> list[list[list[Any]]]:
    """[[label, start, end]] character spans per text."""
    entities = model.inference(
        texts, TYPES, threshold=THRESHOLD, flat_ner=FLAT_NER, batch_size=PREDICT_BATCH
    )
    return [[[e["label"], e["start"], e["end"]] for e in found] for found in entities]


def predict_articles(model: GLiNER, articles: list[str]) -> list[list[list[Any]]]:
    """Each article predicted line by line, the offsets shifted back into the article."""
    lines, owners, offsets = [], [], []
    for index, article in enumerate(articles):
        start = 0
        for line in article.split("\n"):
            lines.append(line)
            owners.append(index)
            offsets.append(start)
            start += len(line) + 1
    spans: list[list[list[Any]]] = [[] for _ in articles]
    found_per_line = predict_texts(model, lines)
    for line, owner, offset, found in zip(lines, owners, offsets, found_per_line, strict=True):
        for label, start, end in found:
            assert articles[owner][start + offset : end + offset] == line[start:end]
            spans[owner].append([label, start + offset, end + offset])
    return spans


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def check_spans(texts: list[str], spans: list[list[list[Any]]]) -> None:
    """Every span is a known label over a non-empty, unpadded stretch of its text."""
    for text, found in zip(texts, spans, strict=True):
        for label, start, end in found:
            assert label in TYPES and 0 <= start < end <= len(text), (label, start, end, len(text))
            assert text[start:end] == text[start:end].strip(), text[start:end]


def recipe(settings: dict[str, Any], encoder: str) -> dict[str, Any]:
    return {
        "model": {"model_name": encoder, "hidden_size": encoder_width(encoder), **MODEL_CONFIG},
        "types": TYPES,
        "ner_labels": "all four types on every training sentence",
        "epochs": settings["epochs"],
        "learning_rate_encoder": settings["learning_rate"],
        "learning_rate_others": settings["learning_rate"] * OTHERS_LR_RATIO,
        "batch_size": settings["batch_size"],
        "warmup_ratio": settings["warmup_ratio"],
        "seed": settings["seed"],
        "threads": settings["threads"],
        **TRAIN_CONFIG,
        "threshold": THRESHOLD,
        "flat_ner": FLAT_NER,
        "predict_batch": PREDICT_BATCH,
        "words": "exact word lists via collate_batch/run_batch/decode_batch",
        "natural": "GLiNER.inference on each sentence string",
        "articles": "each article split into its lines, predicted, offsets shifted back",
    }


def main(task_path: str, out_path: str) -> None:
    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    settings = task["settings"]
    torch.set_num_threads(settings["threads"])
    transformers.set_seed(settings["seed"])
    model = build_model(task["encoder"])
    train_seconds = train(model, task["train"], settings)

    words, words_seconds = timed(predict_words, model, [s["words"] for s in task["test"]])
    natural_texts, article_texts = task["texts"]["natural"], task["texts"]["articles"]
    natural, natural_seconds = timed(predict_texts, model, natural_texts)
    articles, articles_seconds = timed(predict_articles, model, article_texts)
    check_spans(natural_texts, natural)
    check_spans(article_texts, articles)
    assert all(len(t) == len(s["words"]) for t, s in zip(words, task["test"], strict=True))

    predictions = {
        "library": "gliner",
        "version": f"{gliner.__version__} (transformers {transformers.__version__})",
        "recipe": recipe(settings, task["encoder"]),
        "train_seconds": train_seconds,
        "words": {"tags": words, "seconds": words_seconds},
        "natural": {"spans": natural, "seconds": natural_seconds},
        "articles": {"spans": articles, "seconds": articles_seconds},
    }
    Path(out_path).write_text(json.dumps(predictions), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Flair runner for compare_libraries.py: the FLERT recipe on the shared budget.

Usage: ``python run_flair.py TASK.json OUT.json`` (in its own venv; see requirements-flair.txt).

Recipe (Schweter & Akbik 2020, "FLERT: Document-Level Features for Named Entity Recognition",
as given in Flair's tutorial "Train a sequence tagger" / "Fine-tuning a transformer model"
(flairnlp.github.io/flair/master/tutorial/tutorial-training/how-to-train-sequence-tagger.html)
and in ``examples/ner/run_ner.py``):

* ``TransformerWordEmbeddings(encoder, layers="-1", subtoken_pooling="first", fine_tune=True,
  use_context=True)``: 64 words of left and right document context around each sentence, with
  Flair's default context dropout (0.5) in training, stopping at document boundaries;
* ``SequenceTagger(hidden_size=256, use_crf=False, use_rnn=False, reproject_embeddings=False)``:
  a linear softmax layer over the first subtoken, BIOES tags (Flair's default tag format);
* ``ModelTrainer.fine_tune``: AdamW, linear schedule with warmup, gradient clipping at 5.0,
  the final model (``use_final_model_for_eval=True``, fine_tune's default), dev scored after each
  epoch for monitoring only.

The budget comes from the task, not from the tutorial (which uses lr 5e-6, batch 4, 20 epochs):
max_epochs = epochs, learning_rate, mini_batch_size = batch_size, warmup_fraction = warmup_ratio,
``flair.set_seed(seed)``, ``torch.set_num_threads(threads)``.

Document context: Flair's ``ColumnCorpus`` links every sentence of a file to its neighbours and
marks ``-DOCSTART-`` sentences as document boundaries. Here the task's sentences are built as
``Sentence`` objects and linked within each document (``Sentence.set_context_for_sentences``),
which gives the same context without the one-word ``-DOCSTART-`` sentences.

Prediction of ``test``:

* ``words``: ``Sentence(words)`` (no re-tokenization), linked per document as in training;
  predicted spans become one IOB2 tag per word;
* ``natural``: ``Sentence(text)`` with Flair's default tokenizer (segtok), linked per document;
* ``articles``: ``SegtokSentenceSplitter().split(article)`` (Flair's default splitter, which
  links the sentences it returns); offsets are ``sentence.start_position + span.start_position``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import flair
import torch
import transformers
from flair.data import Corpus, Sentence
from flair.datasets import FlairDatapointDataset
from flair.embeddings import TransformerWordEmbeddings
from flair.models import SequenceTagger
from flair.splitter import SegtokSentenceSplitter
from flair.trainers import ModelTrainer

LABEL_TYPE = "ner"
EMBEDDINGS = {"layers": "-1", "subtoken_pooling": "first", "fine_tune": True, "use_context": True}
TAGGER = {"hidden_size": 256, "use_crf": False, "use_rnn": False, "reproject_embeddings": False}
PREDICT_BATCH = 32  # SequenceTagger.predict's default mini_batch_size


def labelled_sentence(words: list[str], tags: list[str]) -> Sentence:
    """A Sentence over the exact words, with the IOB2 entities as span labels."""
    sentence = Sentence(words)
    for label, start, end in iob2_entities(tags):
        sentence[start:end].add_label(LABEL_TYPE, label)
    return sentence


def iob2_entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(label, first word, end word) for each entity; a stray I- starts one, as in conlleval."""
    entities: list[tuple[str, int, int]] = []
    for index, tag in enumerate(tags):
        prefix, _, label = tag.partition("-")
        continues = entities and entities[-1][2] == index and entities[-1][0] == label
        if prefix == "I" and continues:
            entities[-1] = (label, entities[-1][1], index + 1)
        elif prefix in ("B", "I"):
            entities.append((label, index, index + 1))
    return entities


def link_documents(sentences: list[Sentence], documents: list[Any]) -> list[Sentence]:
    """Link each document's sentences in order (previous/next), as ColumnCorpus does."""
    pairs = zip(documents, sentences, strict=True)
    for _, group in groupby(pairs, key=lambda pair: pair[0]):
        Sentence.set_context_for_sentences([sentence for _, sentence in group])
    return sentences


def dataset(split: list[dict[str, Any]]) -> FlairDatapointDataset:
    sentences = [labelled_sentence(s["words"], s["tags"]) for s in split]
    return FlairDatapointDataset(link_documents(sentences, [s["document"] for s in split]))


def train(task: dict[str, Any], base_path: Path) -> tuple[SequenceTagger, dict[str, Any]]:
    """Fine-tune the FLERT tagger on train (dev monitored); returns it and the options used."""
    settings = task["settings"]
    flair.set_seed(settings["seed"])
    corpus = Corpus(
        train=dataset(task["train"]),
        dev=dataset(task["valid"]),
        test=None,
        name="task",
        sample_missing_splits=False,
    )
    label_dict = corpus.make_label_dictionary(label_type=LABEL_TYPE, add_unk=False)
    embeddings = TransformerWordEmbeddings(model=task["encoder"], **EMBEDDINGS)
    tagger = SequenceTagger(
        embeddings=embeddings, tag_dictionary=label_dict, tag_type=LABEL_TYPE, **TAGGER
    )
    fine_tune = {
        "max_epochs": settings["epochs"],
        "learning_rate": settings["learning_rate"],
        "mini_batch_size": settings["batch_size"],
        "warmup_fraction": settings["warmup_ratio"],
        "save_final_model": False,  # predictions come from the model in memory
    }
    ModelTrainer(tagger, corpus).fine_tune(base_path, **fine_tune)
    tagger.eval()
    recipe = {
        "embeddings": {
            **EMBEDDINGS,
            "context_length": embeddings.context_length,
            "context_dropout": embeddings.context_dropout,
        },
        "tagger": {**TAGGER, "tag_format": tagger.tag_format, "labels": label_dict.get_items()},
        "fine_tune": {
            **fine_tune,
            "optimizer": "AdamW",
            "scheduler": "linear with warmup",
            "max_grad_norm": 5.0,
            "model": "final (use_final_model_for_eval=True)",
        },
        "seed": settings["seed"],
        "threads": torch.get_num_threads(),
        "dev_f1_per_epoch": dev_scores(base_path / "loss.tsv"),
        "train_sentences": len(corpus.train),
        "document_context": "Sentence objects linked per document (no -DOCSTART- sentences)",
    }
    return tagger, recipe


def dev_scores(loss_file: Path) -> list[float]:
    """The DEV_F1 column of Flair's loss.tsv, one per epoch."""
    if not loss_file.exists():
        return []
    header, *rows = [line.split("\t") for line in loss_file.read_text().splitlines()]
    if "DEV_F1" not in header:
        return []
    column = header.index("DEV_F1")
    return [float(row[column]) for row in rows]


def predict(tagger: SequenceTagger, sentences: list[Sentence]) -> None:
    tagger.predict(sentences, mini_batch_size=PREDICT_BATCH, label_name=LABEL_TYPE)


def predict_words(tagger: SequenceTagger, test: list[dict[str, Any]]) -> list[list[str]]:
    """One IOB2 tag per given word, from Flair's predicted spans."""
    sentences = [Sentence(s["words"]) for s in test]
    predict(tagger, link_documents(sentences, [s["document"] for s in test]))
    all_tags = []
    for item, sentence in zip(test, sentences, strict=True):
        assert len(sentence) == len(item["words"]), "Flair dropped a word"
        tags = ["O"] * len(sentence)
        for span in sentence.get_spans(LABEL_TYPE):
            label = span.get_label(LABEL_TYPE).value
            first, *rest = [token.idx - 1 for token in span.tokens]
            tags[first] = f"B-{label}"
            for index in rest:
                tags[index] = f"I-{label}"
        all_tags.append(tags)
    return all_tags


def char_spans(text: str, sentence: Sentence) -> list[list[Any]]:
    """[label, start, end] in ``text`` for the sentence's predicted spans; checks each token."""
    spans = []
    for span in sentence.get_spans(LABEL_TYPE):
        offset = sentence.start_position
        for token in span.tokens:
            found = text[offset + token.start_position : offset + token.end_position]
            assert found == token.text, (found, token.text)
        start, end = offset + span.start_position, offset + span.end_position
        spans.append([span.get_label(LABEL_TYPE).value, start, end])
    return spans


def predict_natural(tagger: SequenceTagger, texts: list[str], documents: list[Any]) -> list[list]:
    """One Sentence(text) per test sentence (segtok tokenizer), linked per document."""
    sentences = [Sentence(text) for text in texts]
    predict(tagger, link_documents(sentences, documents))
    return [char_spans(text, sentence) for text, sentence in zip(texts, sentences, strict=True)]


def predict_articles(tagger: SequenceTagger, articles: list[str]) -> tuple[list[list], int]:
    """Flair's SegtokSentenceSplitter on each article; spans in the article's characters."""
    splitter = SegtokSentenceSplitter()
    per_article = [splitter.split(article) for article in articles]
    predict(tagger, [sentence for sentences in per_article for sentence in sentences])
    spans = [
        [span for sentence in sentences for span in char_spans(article, sentence)]
        for article, sentences in zip(articles, per_article, strict=True)
    ]
    return spans, sum(len(sentences) for sentences in per_article)


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main(task_path: str, out_path: str) -> int:
    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    torch.set_num_threads(task["settings"]["threads"])
    logging.getLogger("flair").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="flair-flert-") as base_path:
        (tagger, recipe), train_seconds = timed(train, task, Path(base_path))
    test, texts = task["test"], task["texts"]
    tags, words_seconds = timed(predict_words, tagger, test)
    natural, natural_seconds = timed(
        predict_natural, tagger, texts["natural"], [s["document"] for s in test]
    )
    (articles, n_split), articles_seconds = timed(predict_articles, tagger, texts["articles"])
    recipe["predict"] = {
        "mini_batch_size": PREDICT_BATCH,
        "words": "Sentence(words), linked per document",
        "natural": "Sentence(text), segtok tokenizer, linked per document",
        "articles": f"SegtokSentenceSplitter, linked: {n_split} sentences "
        f"from {sum(a.count(chr(10)) + 1 for a in texts['articles'])} lines",
    }
    predictions = {
        "library": "flair",
        "version": f"{flair.__version__} (transformers {transformers.__version__})",
        "recipe": recipe,
        "train_seconds": train_seconds,
        "words": {"tags": tags, "seconds": words_seconds},
        "natural": {"spans": natural, "seconds": natural_seconds},
        "articles": {"spans": articles, "seconds": articles_seconds},
    }
    Path(out_path).write_text(json.dumps(predictions), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    sys.exit(main(sys.argv[1], sys.argv[2]))

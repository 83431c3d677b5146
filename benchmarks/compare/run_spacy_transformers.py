"""spacy-transformers runner for ``compare_libraries.py``: spaCy's own transformer NER recipe.

Usage: ``python run_spacy_transformers.py TASK.json OUT.json`` (in its own venv; never imports
ner_bert). The task and predictions formats are in ``compare_libraries.py``.

The recipe is spaCy's, with the shared budget mapped onto its options:

* Config: ``spacy init config --lang en --pipeline ner --optimize accuracy --gpu`` (the
  transformer variant; without ``--gpu`` spaCy picks a CNN tok2vec with static vectors), i.e.
  a ``transformer`` component (``TransformerModel.v3``, strided spans of 128 tokens, stride 96)
  whose ``name`` is the local encoder directory, and ``ner`` (``TransitionBasedParser.v2``)
  listening to it through ``TransformerListener.v1``. Adam with L2 weight decay 0.01, gradient
  clipping 1.0, dropout 0.1 and ``accumulate_gradient = 3`` stay spaCy's defaults. GPU
  allocator off (CPU). https://spacy.io/usage/embeddings-transformers#transformers-training
* Corpora: DocBin files built from the task the way ``spacy convert -c ner -n 10`` builds them
  from CoNLL (https://spacy.io/api/cli#convert): up to 10 consecutive sentences of one
  document per Doc (documents never mixed), gold words without spacing information (so
  ``spacy.Corpus`` trains on the gold tokens, see ``Corpus._make_example``), sentence starts
  set and IOB2 tags as entities.
* ``max_epochs`` = settings epochs, ``max_steps = 0``, ``patience = 0`` (no early stop: the
  budget is the epochs).
* Batches: ``spacy.batch_by_words.v1`` (spaCy batches by words, not sentences) with
  ``size`` = settings batch_size x the mean words per train sentence (~14.5 on CoNLL-2003, so
  32 sentences ~ 464 words), default tolerance 0.2, oversize docs kept. A step is one batch:
  ``accumulate_gradient`` only splits the batch for memory before one optimizer step
  (``spacy.training.loop.train_while_improving``).
* Learning rate: ``warmup_linear.v1`` with peak ``initial_rate`` = settings learning_rate,
  ``total_steps`` = epochs x the batches one epoch makes (the batcher run over the train docs)
  and ``warmup_steps`` = warmup_ratio x total_steps. The schedule steps once per batch.
* Seed: ``[system] seed`` (``training.seed`` follows it); torch threads = settings threads.
* Selection: spaCy evaluates on ``valid`` every ``eval_frequency`` steps and keeps the best as
  ``model-best``. spaCy's 200 steps is about half an epoch of full CoNLL-2003 with these
  batches, so ``eval_frequency`` = half the steps of an epoch. spaCy never evaluates the last
  step, so the runner scores ``model-last`` on ``valid`` once more and predicts with whichever
  of the two scores higher (``model-best`` on a tie).

Prediction uses ``nlp.pipe`` (spaCy's batched ``nlp(...)``):

* words: the test sentences grouped as for training, each group a ``Doc(words=...,
  sent_starts=...)`` so tokens are exactly the CoNLL words, then ``doc.ents`` as IOB2 per word;
* natural / articles: ``nlp.pipe(texts)``, spans ``[label, start_char, end_char]`` of
  ``doc.ents``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SENTENCES_PER_DOC = 10  # spacy convert -n 10
EVALS_PER_EPOCH = 2


def main(argv: list[str]) -> int:
    task_path, out_path = Path(argv[0]), Path(argv[1])
    task = json.loads(task_path.read_text(encoding="utf-8"))
    settings = task["settings"]
    os.environ.setdefault("OMP_NUM_THREADS", str(settings["threads"]))

    import torch

    torch.set_num_threads(settings["threads"])
    with tempfile.TemporaryDirectory(prefix="spacy_transformers-") as work:
        start = time.perf_counter()
        nlp, recipe = train(task, Path(work))
        train_seconds = time.perf_counter() - start
        print(f"trained in {train_seconds:.0f} s ({recipe['selected']})", flush=True)
        result = {
            "library": "spacy-transformers",
            "version": (
                f"{version('spacy-transformers')} (spaCy {version('spacy')}, "
                f"transformers {version('transformers')})"
            ),
            "recipe": recipe,
            "train_seconds": train_seconds,
            **predict(nlp, task),
        }
    out_path.write_text(json.dumps(result), encoding="utf-8")
    print(f"wrote {out_path}", flush=True)
    return 0


# --- corpora -------------------------------------------------------------------------------


def group_sentences(sentences: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive sentences of one document, at most SENTENCES_PER_DOC per group."""
    groups: list[list[dict[str, Any]]] = []
    for sentence in sentences:
        last = groups[-1] if groups else None
        if last and last[-1]["document"] == sentence["document"] and len(last) < SENTENCES_PER_DOC:
            last.append(sentence)
        else:
            groups.append([sentence])
    return groups


def group_doc(vocab: Any, group: list[dict[str, Any]], *, gold: bool) -> Any:
    """One Doc of the group's words (no spacing info, as spacy convert), sentence starts set."""
    from spacy.tokens import Doc

    words = [word for s in group for word in s["words"]]
    sent_starts = [i == 0 for s in group for i in range(len(s["words"]))]
    ents = [tag for s in group for tag in s["tags"]] if gold else None
    return Doc(vocab, words=words, sent_starts=sent_starts, ents=ents)


def write_docbin(path: Path, sentences: list[dict[str, Any]]) -> int:
    """The split as a .spacy DocBin; returns the number of Docs."""
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("en").vocab
    docs = [group_doc(vocab, group, gold=True) for group in group_sentences(sentences)]
    DocBin(docs=docs).to_disk(path)
    return len(docs)


# --- config --------------------------------------------------------------------------------


def words_per_batch(task: dict[str, Any]) -> int:
    """settings batch_size sentences expressed in words, at the train split's mean length."""
    train = task["train"]
    mean_words = sum(len(s["words"]) for s in train) / len(train)
    return round(task["settings"]["batch_size"] * mean_words)


def steps_per_epoch(task: dict[str, Any], size: int) -> int:
    """Batches spaCy's word batcher makes from the train docs in one epoch."""
    from spacy.training.batchers import minibatch_by_words

    lengths = [sum(len(s["words"]) for s in group) for group in group_sentences(task["train"])]
    return sum(1 for _ in minibatch_by_words(lengths, size, get_length=lambda n: n))


def make_config(task: dict[str, Any], corpora: dict[str, Path]) -> tuple[Any, dict[str, Any]]:
    """spaCy's transformer NER config with the budget mapped in, and the recipe it encodes."""
    from spacy.cli.init_config import init_config

    settings = task["settings"]
    size = words_per_batch(task)
    per_epoch = steps_per_epoch(task, size)
    total = settings["epochs"] * per_epoch
    warmup = round(settings["warmup_ratio"] * total)
    eval_frequency = max(1, round(per_epoch / EVALS_PER_EPOCH))

    config = init_config(lang="en", pipeline=["ner"], optimize="accuracy", gpu=True)
    config["paths"]["train"] = str(corpora["train"])
    config["paths"]["dev"] = str(corpora["valid"])
    config["system"]["seed"] = settings["seed"]
    config["system"]["gpu_allocator"] = None
    config["components"]["transformer"]["model"]["name"] = task["encoder"]
    training = config["training"]
    training.update(max_epochs=settings["epochs"], max_steps=0, patience=0)
    training["eval_frequency"] = eval_frequency
    training["batcher"] = {
        "@batchers": "spacy.batch_by_words.v1",
        "size": size,
        "tolerance": 0.2,
        "discard_oversize": False,
        "get_length": None,
    }
    training["optimizer"]["learn_rate"] = {
        "@schedules": "warmup_linear.v1",
        "initial_rate": settings["learning_rate"],
        "warmup_steps": warmup,
        "total_steps": total,
    }
    recipe = {
        "config": "spacy init config --lang en --pipeline ner --optimize accuracy --gpu",
        "pipeline": "transformer (TransformerModel.v3, strided spans 128/96) + ner "
        "(TransitionBasedParser.v2 via TransformerListener.v1)",
        "grouping": f"up to {SENTENCES_PER_DOC} sentences of one document per Doc "
        "(spacy convert -n 10), gold tokens",
        "epochs": settings["epochs"],
        "max_steps": 0,
        "patience": 0,
        "batcher": f"spacy.batch_by_words.v1 size={size} words tolerance=0.2 "
        f"(~{settings['batch_size']} sentences)",
        "steps_per_epoch": per_epoch,
        "learn_rate": f"warmup_linear.v1 initial_rate={settings['learning_rate']} "
        f"warmup_steps={warmup} total_steps={total}",
        "optimizer": "Adam.v1 (spaCy defaults: L2 weight decay 0.01, grad_clip 1.0)",
        "dropout": training["dropout"],
        "accumulate_gradient": training["accumulate_gradient"],
        "eval_frequency": eval_frequency,
        "seed": settings["seed"],
        "threads": settings["threads"],
    }
    return config, recipe


# --- training ------------------------------------------------------------------------------


def train(task: dict[str, Any], work: Path) -> tuple[Any, dict[str, Any]]:
    """Build the corpora, train with spaCy's loop, return the selected pipeline and recipe."""
    import spacy
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_nlp

    corpora = {split: work / f"{split}.spacy" for split in ("train", "valid")}
    docs = {split: write_docbin(path, task[split]) for split, path in corpora.items()}
    config, recipe = make_config(task, corpora)
    recipe["docs"] = docs
    print(f"corpora {docs}; {recipe['batcher']}; {recipe['learn_rate']}", flush=True)
    nlp = init_nlp(config)
    output = work / "output"
    output.mkdir()
    nlp, _ = train_nlp(nlp, output, stdout=sys.stdout, stderr=sys.stderr)

    best_path = output / "model-best"
    best = spacy.load(best_path) if best_path.exists() else None
    best_score = score_valid(best, corpora["valid"]) if best else -1.0
    last_score = score_valid(nlp, corpora["valid"])
    recipe["valid_ents_f"] = {"model-best": best_score, "model-last": last_score}
    if last_score > best_score:
        recipe["selected"] = "model-last (spaCy never evaluates the last step)"
        return nlp, recipe
    recipe["selected"] = "model-best"
    return best, recipe


def score_valid(nlp: Any, path: Path) -> float:
    """Entity F1 on the valid DocBin, as spaCy's training loop computes it."""
    from spacy.training import Corpus

    return float(nlp.evaluate(Corpus(path)(nlp))["ents_f"])


# --- prediction ----------------------------------------------------------------------------


def predict(nlp: Any, task: dict[str, Any]) -> dict[str, Any]:
    """The three timed prediction passes over the test split."""
    out: dict[str, Any] = {}
    start = time.perf_counter()
    out["words"] = {"tags": predict_words(nlp, task["test"])}
    out["words"]["seconds"] = time.perf_counter() - start
    for form in ("natural", "articles"):
        start = time.perf_counter()
        spans = [doc_spans(doc) for doc in nlp.pipe(task["texts"][form])]
        out[form] = {"spans": spans, "seconds": time.perf_counter() - start}
    for form, result in out.items():
        print(f"{form}: {result['seconds']:.1f} s", flush=True)
    return out


def predict_words(nlp: Any, sentences: list[dict[str, Any]]) -> list[list[str]]:
    """IOB2 tags per CoNLL word, the sentences grouped into Docs as for training."""
    groups = group_sentences(sentences)
    docs = [group_doc(nlp.vocab, group, gold=False) for group in groups]
    tags: list[list[str]] = []
    for group, doc in zip(groups, nlp.pipe(docs), strict=True):
        doc_tags = iob2_tags(doc)
        start = 0
        for sentence in group:
            tags.append(doc_tags[start : start + len(sentence["words"])])
            start += len(sentence["words"])
    return tags


def iob2_tags(doc: Any) -> list[str]:
    """One IOB2 tag per token from doc.ents."""
    tags = ["O"] * len(doc)
    for ent in doc.ents:
        tags[ent.start] = f"B-{ent.label_}"
        for i in range(ent.start + 1, ent.end):
            tags[i] = f"I-{ent.label_}"
    return tags


def doc_spans(doc: Any) -> list[list[Any]]:
    return [[ent.label_, ent.start_char, ent.end_char] for ent in doc.ents]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

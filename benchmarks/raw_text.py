"""Raw text as accurate as words: entity F1 of the same model on CoNLL-2003 as words and as text.

For each model (sentence-level or document-context, from ``train_conll.py``), the split is
predicted in every form users hand the library:

* ``words``: :meth:`NERPredictor.predict_words` on the CoNLL words (a context model with its
  documents), scored with conlleval (seqeval's default mode);
* ``spaced``: each sentence as text, words joined by single spaces;
* ``natural``: each sentence as naturally written text (this script's detokenizer: no space
  before punctuation, closing brackets and quotes or clitics such as ``'s``, none after opening
  brackets and quotes);
* ``articles``: each ``-DOCSTART-`` document as one natural text, sentences on their own lines.

Sentence forms go through :meth:`NERPredictor.predict` for a sentence-level model and
:meth:`NERPredictor.predict_documents` (sentence strings with their document) for a context
model; articles always go through ``predict``. The spaCy component (its default
``words = "text"``) runs in a blank English pipeline on the natural sentences, one doc each
(so a context model reads them without context), and on the articles with a sentencizer.
The same model is also run through
``transformers.pipeline("token-classification", aggregation_strategy="first")`` on the text
forms. Text forms are scored by exact match of (label, start, end) character spans against the
gold CoNLL entities mapped into the text (micro F1; equal to conlleval on valid IOB2).

Run (benchmarks never run concurrently)::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/raw_text.py \\
        --model sentence42=/work/runs/model-sentence42 --model context42=/work/runs/model-context42
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path(os.environ.get("NER_BERT_DATA", HERE.parents[1] / "shared/data/conll2003"))
TEXT_FORMS = ("spaced", "natural", "articles")

# The detokenizer's rules, on CoNLL-2003 (Reuters, PTB-like) tokens.
NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "''", "..."}
NO_SPACE_AFTER = {"(", "[", "{", "$", "``"}
CLITICS = {"'s", "'re", "'ve", "'ll", "'d", "'m", "n't", "'"}

Span = tuple[str, int, int]


@dataclass
class Unit:
    """One text to predict and its gold entity spans."""

    text: str
    gold: set[Span]


def spaced_text(words: Sequence[str]) -> tuple[str, list[int]]:
    """Words joined by single spaces, and each word's start offset."""
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return " ".join(words), starts


def natural_text(words: Sequence[str]) -> tuple[str, list[int]]:
    """The words as naturally written text, and each word's start offset.

    Example:
        >>> natural_text(["(", "IAEA", ")", "Iran", "'s", "chief", ",", '"', "ok", '"', "."])[0]
        '(IAEA) Iran\\'s chief, "ok".'
    """
    pieces: list[str] = []
    starts: list[int] = []
    position = 0
    glue_next = True  # no space before the first word
    quote_open = False
    for word in words:
        closing_quote = word == '"' and quote_open
        glue = glue_next or word in NO_SPACE_BEFORE or word.lower() in CLITICS or closing_quote
        if not glue:
            pieces.append(" ")
            position += 1
        starts.append(position)
        pieces.append(word)
        position += len(word)
        glue_next = word in NO_SPACE_AFTER or (word == '"' and not quote_open)
        if word == '"':
            quote_open = not quote_open
    return "".join(pieces), starts


def gold_spans(sentence: Any, starts: Sequence[int], offset: int = 0) -> set[Span]:
    from ner_bert.labels import tags_to_spans

    words = sentence.words
    return {
        (s.label, offset + starts[s.start], offset + starts[s.end - 1] + len(words[s.end - 1]))
        for s in tags_to_spans(sentence.tags)
    }


def sentence_units(sentences: Sequence[Any], form: str) -> list[Unit]:
    make = spaced_text if form == "spaced" else natural_text
    units = []
    for sentence in sentences:
        text, starts = make(sentence.words)
        units.append(Unit(text, gold_spans(sentence, starts)))
    return units


def article_units(sentences: Sequence[Any]) -> list[Unit]:
    """Each document as one natural text, one sentence per line."""
    from ner_bert.types import iter_documents

    units = []
    for document in iter_documents(sentences):
        lines, gold, offset = [], set(), 0
        for sentence in document:
            text, starts = natural_text(sentence.words)
            gold |= gold_spans(sentence, starts, offset)
            lines.append(text)
            offset += len(text) + 1
        units.append(Unit("\n".join(lines), gold))
    return units


def span_f1(units: Sequence[Unit], predicted: Sequence[set[Span]]) -> dict[str, float]:
    tp = sum(len(u.gold & p) for u, p in zip(units, predicted, strict=True))
    n_pred = sum(len(p) for p in predicted)
    n_gold = sum(len(u.gold) for u in units)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def documents_of(sentences: Sequence[Any], units: Sequence[Unit]) -> list[list[str]]:
    """Sentence texts grouped by document, in order."""
    groups: list[list[str]] = []
    previous = None
    for sentence, unit in zip(sentences, units, strict=True):
        if not groups or sentence.document != previous:
            groups.append([])
        groups[-1].append(unit.text)
        previous = sentence.document
    return groups


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def ner_bert_scores(path: str, sentences: list[Any], config: dict[str, Any]) -> dict[str, Any]:
    from ner_bert import NERPredictor, PredictionConfig, evaluate_tags

    predictor = NERPredictor.from_pretrained(
        path, config=PredictionConfig(**config) if config else None
    )
    context = predictor.context_size > 0
    words = [list(s.words) for s in sentences]
    documents = [s.document for s in sentences] if context else None
    out: dict[str, Any] = {"context_size": predictor.context_size}
    tagged, seconds = timed(lambda: predictor.predict_words(words, documents=documents))
    report = evaluate_tags([s.tags for s in sentences], [[p.tag for p in s] for s in tagged])
    out["words"] = {"f1": report.f1, "seconds": seconds}

    def as_spans(entities: Sequence[Sequence[Any]]) -> list[set[Span]]:
        return [{(e.label, e.start, e.end) for e in ents} for ents in entities]

    for form in ("spaced", "natural"):
        units = sentence_units(sentences, form)
        if context:
            grouped = documents_of(sentences, units)
            result, seconds = timed(lambda g=grouped: predictor.predict_documents(g))
            flat = [s for document in result for s in document]
        else:
            flat, seconds = timed(lambda u=units: predictor.predict([x.text for x in u]))
        out[form] = {**span_f1(units, as_spans(flat)), "seconds": seconds}
        if context:  # informational: a context model without its document
            alone = predictor.predict([x.text for x in units])
            out[f"{form}_sentences_alone"] = span_f1(units, as_spans(alone))
    units = article_units(sentences)
    flat, seconds = timed(lambda: predictor.predict([u.text for u in units]))
    out["articles"] = {**span_f1(units, as_spans(flat)), "seconds": seconds}
    return out


def spacy_scores(path: str, sentences: list[Any]) -> dict[str, Any]:
    """The spaCy component in a blank English pipeline (spaCy's tokenizer): natural sentences
    one doc each, and articles as docs with sentence boundaries from the sentencizer."""
    import spacy

    out: dict[str, Any] = {}
    for form in ("natural", "articles"):
        nlp = spacy.blank("en")
        if form == "articles":
            nlp.add_pipe("sentencizer")
        nlp.add_pipe("ner_bert", config={"model": path, "batch_size": 64})
        units = article_units(sentences) if form == "articles" else sentence_units(sentences, form)
        docs, seconds = timed(lambda u=units, n=nlp: list(n.pipe(x.text for x in u)))
        predicted = [{(e.label_, e.start_char, e.end_char) for e in doc.ents} for doc in docs]
        out[form] = {**span_f1(units, predicted), "seconds": seconds}
    return out


def pipeline_scores(path: str, sentences: list[Any]) -> dict[str, Any]:
    from transformers import pipeline

    pipe = pipeline("token-classification", model=path, aggregation_strategy="first", device="cpu")

    def run(texts: list[str], **options: Any) -> list[set[Span]]:
        results = pipe(texts, batch_size=64, **options)
        return [{(e["entity_group"], int(e["start"]), int(e["end"])) for e in r} for r in results]

    out: dict[str, Any] = {}
    for form in TEXT_FORMS:
        units = article_units(sentences) if form == "articles" else sentence_units(sentences, form)
        # stride= lets the pipeline read texts longer than the model (a quarter overlap).
        options = {"stride": 128} if form == "articles" else {}
        predicted, seconds = timed(lambda u=units, o=options: run([x.text for x in u], **o))
        out[form] = {**span_f1(units, predicted), "seconds": seconds}
    return out


def speed(path: str, sentences: list[Any], repeats: int) -> dict[str, Any]:
    """Seconds of ``predict`` with treebank words (this version) and with the tokenizer's words
    (the previous path) on the same model, interleaved, median of ``repeats``."""
    from ner_bert import NERPredictor, PredictionConfig

    sides = {
        name: NERPredictor.from_pretrained(path, config=PredictionConfig(segmentation=name))
        for name in ("treebank", "tokenizer")
    }
    forms = {
        "spaced": [u.text for u in sentence_units(sentences, "spaced")],
        "articles": [u.text for u in article_units(sentences)],
    }
    seconds: dict[str, dict[str, list[float]]] = {f: {n: [] for n in sides} for f in forms}
    for predictor in sides.values():
        predictor.predict(forms["spaced"][:64])  # warm-up
    for _ in range(repeats):
        for form, texts in forms.items():
            for name, predictor in sides.items():
                seconds[form][name].append(timed(lambda p=predictor, t=texts: p.predict(t))[1])
    out: dict[str, Any] = {}
    for form, by_side in seconds.items():
        medians = {name: statistics.median(values) for name, values in by_side.items()}
        out[form] = {
            "seconds": by_side,
            "median_seconds": medians,
            "treebank_over_tokenizer": medians["treebank"] / medians["tokenizer"],
        }
    return out


def summarize(runs: dict[str, Any]) -> dict[str, Any]:
    """Mean and std per kind of model (the name before its seed digits) and form."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for name, run in runs.items():
        kinds.setdefault(name.rstrip("0123456789"), []).append(run)
    summary: dict[str, Any] = {}
    for kind, items in kinds.items():
        row: dict[str, Any] = {"runs": len(items)}
        for side in ("ner_bert", "spacy", "pipeline"):
            for form in ("words", *TEXT_FORMS):
                values = [r[side][form]["f1"] for r in items if form in r.get(side, {})]
                if values:
                    row[f"{side}_{form}_f1_mean"] = statistics.fmean(values)
                    row[f"{side}_{form}_f1_std"] = statistics.pstdev(values)
                    row[f"{side}_{form}_f1_runs"] = len(values)
        words = row.get("ner_bert_words_f1_mean")
        if words is not None:
            row["worst_text_minus_words_points"] = 100 * (
                min(row[f"ner_bert_{f}_f1_mean"] for f in TEXT_FORMS) - words
            )
        summary[kind] = row
    return summary


def markdown_table(results: dict[str, Any]) -> str:
    lines = [
        "| model | runs | words | spaced text | natural text | articles "
        "| spaCy (natural / articles) | pipeline (spaced / natural / articles) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, row in results["summary"].items():

        def cell(side: str, form: str, row: dict[str, Any] = row) -> str:
            mean = row.get(f"{side}_{form}_f1_mean")
            if mean is None:
                return "-"
            std = row[f"{side}_{form}_f1_std"]
            runs = row.get(f"{side}_{form}_f1_runs", row["runs"])
            return f"{100 * mean:.2f} ± {100 * std:.2f}" if runs > 1 else f"{100 * mean:.2f}"

        pipe = " / ".join(cell("pipeline", f) for f in TEXT_FORMS)
        text = " | ".join(cell("ner_bert", f) for f in TEXT_FORMS)
        nlp = " / ".join(cell("spacy", f) for f in ("natural", "articles"))
        lines.append(
            f"| {kind} | {row['runs']} | {cell('ner_bert', 'words')} | {text} | {nlp} | {pipe} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", action="append", required=False, default=[], help="NAME=PATH (repeatable)"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--limit", type=int, help="first N sentences only (smoke)")
    parser.add_argument(
        "--prediction", action="append", default=[], help="PredictionConfig KEY=VALUE"
    )
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument(
        "--pipeline-for",
        action="append",
        default=[],
        metavar="NAME",
        help="run the transformers pipeline on these models only (default: all)",
    )
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument(
        "--speed", type=int, default=0, metavar="N", help="time the first model, N repeats"
    )
    parser.add_argument("--results", type=Path, default=HERE / "results" / "raw_text.json")
    parser.add_argument("--table", type=Path, help="print the Markdown table of a results file")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(HERE))
    import transformers
    from predict_throughput import machine_info

    from ner_bert import read_conll

    transformers.logging.set_verbosity_error()
    sentences = list(read_conll(args.data / f"{args.split}.txt"))
    if args.limit:
        sentences = sentences[: args.limit]
    config = {k: _value(v) for k, v in (item.split("=", 1) for item in args.prediction)}
    runs: dict[str, Any] = {}
    for item in args.model:
        name, path = item.split("=", 1)
        runs[name] = {"path": path, "ner_bert": ner_bert_scores(path, sentences, config)}
        if not args.skip_spacy:
            runs[name]["spacy"] = spacy_scores(path, sentences)
        if not args.skip_pipeline and (not args.pipeline_for or name in args.pipeline_for):
            runs[name]["pipeline"] = pipeline_scores(path, sentences)
        print(name, json.dumps(runs[name], indent=1), flush=True)
    timing = None
    if args.speed and args.model:
        timing = speed(args.model[0].split("=", 1)[1], sentences, args.speed)
        print(json.dumps(timing, indent=1), flush=True)
    results = {
        "benchmark": "raw_text",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "split": args.split,
        "sentences": len(sentences),
        "prediction_config": config,
        "runs": runs,
        "summary": summarize(runs),
        "speed": timing,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(results))
    return 0


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


if __name__ == "__main__":
    raise SystemExit(main())

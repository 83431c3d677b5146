"""The ``ner-bert`` subcommands: parse nothing, call the library, print.

:mod:`ner_bert.cli` builds the parser and turns errors into one line; the functions here get
its parsed arguments. torch and transformers are imported inside them, never at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from ..errors import DataFormatError, DataNotFoundError
from ..model.atomic import atomic_text_file
from ..types import Entity
from .inputs import (
    count_documents,
    dataset_sentences,
    load_dataset_splits,
    read_data,
    read_documents,
    read_splits,
    require_file,
)
from .options import TRAINING_ARGS_KEY, dump_toml, resolve_train_options, training_args

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluation import EvaluationReport
    from ..training.result import TrainingResult
    from ..types import TaggedSentence

__all__ = ["PROG", "UsageError", "evaluate", "predict", "push", "train"]

PROG = "ner-bert"


class UsageError(Exception):
    """A bad command line; printed as one line, exit code 2."""


# ----------------------------------------------------------------------------------- train


def train(args: argparse.Namespace) -> int:
    """``ner-bert train``."""
    run, training = resolve_train_options(args)
    run[TRAINING_ARGS_KEY] = training_args(args, run)
    if args.dump_config:
        sys.stdout.write(dump_toml(run, training))
        return 0
    output = _check_train_options(run, training)
    data = read_splits(run)
    result, reports = _train_and_score(args, run, training, data)
    plotted = _write_train_outputs(output, run, training, result, reports)
    _print_train_summary(output, run, reports, plotted=plotted)
    return 0


def _check_train_options(run: dict[str, Any], training: Any) -> Path:
    """Check that the required options are given, the output folder can be written and the
    data files exist (before the slow part, not after it); returns the output folder."""
    missing = [key for key in ("model", "train") if run.get(key) is None]
    if run.get("dataset") is not None and "train" in missing:
        missing.remove("train")  # the dataset's train split
    if training.output_dir is None:
        missing.append("output")
    if missing:
        key = missing[0]
        in_file = "output_dir" if key == "output" else key
        raise UsageError(
            f"{PROG} train: error: --{key} is required (on the command line, or as "
            f"{in_file} = ... in --config) (see {PROG} train --help)"
        )
    from ..model.files import check_run_dirs

    output = Path(training.output_dir)
    check_run_dirs(  # before the slow part, not after it
        output_dir=training.output_dir,
        checkpoint_dir=training.checkpoint_dir,
        overwrite=training.overwrite_output_dir,
    )
    for key in ("train", "dev", "test"):
        if run.get(key) is not None:
            require_file(Path(run[key]), f"--{key}")
    return output


def _train_and_score(
    args: argparse.Namespace,
    run: dict[str, Any],
    training: Any,
    data: dict[str, list[TaggedSentence]],
) -> tuple[TrainingResult, dict[str, EvaluationReport]]:
    """Train (the trainer saves the model to ``output_dir``), then the dev and test reports."""
    _quiet_transformers()
    _show_progress_lines()
    from ..training.trainer import NERTrainer

    trainer = NERTrainer(run["model"], config=training, training_args=run[TRAINING_ARGS_KEY])
    result = trainer.train(
        data["train"],
        eval=data.get("dev"),
        resume_from=_resume_from(args, training),
        allow_changed_settings=args.allow_changed_settings,
    )  # saves to output_dir
    reports: dict[str, EvaluationReport] = {}
    if result.best_eval is not None:  # the dev scores of the kept (best) weights
        reports["dev"] = result.best_eval
    elif "dev" in data:
        reports["dev"] = trainer.evaluate(data["dev"])
    if "test" in data:
        reports["test"] = trainer.evaluate(data["test"])
    return result, reports


def _write_train_outputs(
    output: Path,
    run: dict[str, Any],
    training: Any,
    result: TrainingResult,
    reports: dict[str, EvaluationReport],
) -> bool:
    """Write training.toml, scores.json and training_report.png (if it can be plotted; the
    return value says whether it was) next to the saved model."""
    _write(output / "training.toml", dump_toml(run, training))
    scores = {
        "training": {k: v for k, v in result.to_dict().items() if k != "best_eval"},
        **{split: report.to_dict() for split, report in reports.items()},
    }
    _write(output / "scores.json", json.dumps(scores, indent=2) + "\n")

    from ..training.plot import write_training_plot

    return write_training_plot(
        output / "training_report.png",
        result,
        title=f"{_short(run['model'])} on {_data_name(run)}",
    )


def _data_name(run: dict[str, Any]) -> str:
    """The training data's name: its file's, or the dataset's."""
    if run.get("train") is not None:
        return Path(run["train"]).name
    return _short(str(run["dataset"]))


def _print_train_summary(
    output: Path, run: dict[str, Any], reports: dict[str, EvaluationReport], *, plotted: bool
) -> None:
    """Print the score tables and where the outputs are."""
    from ..training.plot import PLOT_MISSING_NOTE

    for split, report in reports.items():
        print(f"\n{split} ({run[split]}):\n{report.format_table()}")
    print(f"\nsaved the model, training.toml and scores.json to {output}")
    print(f"training report: {output / 'training_report.png'}" if plotted else PLOT_MISSING_NOTE)


def _resume_from(args: argparse.Namespace, training: Any) -> str | None:
    if args.resume is None:
        return None
    if args.resume is True:
        if training.checkpoint_dir is None:
            raise UsageError(
                f"{PROG} train: error: --resume without a CHECKPOINT needs --checkpoint-dir "
                "(the folder of the interrupted run's checkpoints)"
            )
        return str(training.checkpoint_dir)
    return str(args.resume)


def _short(model: str) -> str:
    """A hub name as is; a local folder as its last two path parts."""
    path = Path(model)
    return "/".join(path.resolve().parts[-2:]) if path.exists() else model


def _write(path: Path, text: str) -> None:
    from ..model.atomic import atomic_write_text

    atomic_write_text(path, text)


# -------------------------------------------------------------------------------- evaluate


def evaluate(args: argparse.Namespace) -> int:
    """``ner-bert evaluate``."""
    if (args.data is None) == (args.dataset is None):
        raise UsageError(
            f"{PROG} evaluate: error: one of --data FILE or --dataset NAME_OR_PATH is required"
        )
    if args.dataset is not None:
        splits = load_dataset_splits(args.dataset)
        if args.split not in splits:
            raise DataFormatError(
                f"--dataset {args.dataset}: no split {args.split!r} (it has {sorted(splits)}); "
                "pick one with --split."
            )
        sentences = dataset_sentences(splits[args.split])
    else:
        require_file(args.data, "--data")
        sentences = read_data(args.data, args.format)
    predictor = _load_predictor(args)
    from ..evaluation import evaluate_tags

    predictions = predictor.predict_words(
        [s.words for s in sentences],
        documents=[s.document for s in sentences],
        batch_size=args.batch_size,
    )
    report = evaluate_tags(
        [s.tags for s in sentences], [[word.tag for word in words] for words in predictions]
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table())
    return 0


# --------------------------------------------------------------------------------- predict


def predict(args: argparse.Namespace) -> int:
    """``ner-bert predict``."""
    files: list[Path] = args.files or [Path("-")]
    if sum(str(path) == "-" for path in files) > 1:
        raise UsageError(f"{PROG} predict: error: '-' (stdin) can be given only once")
    for path in files:
        if str(path) != "-":
            require_file(path, "input")
    _check_predict_outputs(files, args)
    if "-" in map(str, files) and sys.stdin.isatty():
        print(f"{PROG}: reading text from stdin (end with Ctrl-D)", file=sys.stderr)
    predictor = _load_predictor(args)
    # Stream: documents are read, predicted and written chunk by chunk (constant memory),
    # except for the HTML page, which keeps what it shows.
    documents = read_documents(files, whole_file=args.whole_file)
    rendered: list[_Predicted] | None = [] if args.html is not None else None
    with contextlib.ExitStack() as stack:
        out: IO[str] | None = sys.stdout if args.html is None else None
        if args.output is not None:  # written beside, renamed into place when complete
            out = stack.enter_context(atomic_text_file(args.output))
        for document, lines in _predicted(predictor, documents, args):
            if out is not None:
                out.writelines(lines)
            if rendered is not None:
                rendered.append(document)
        if out is not None:
            out.flush()
    if rendered is not None:
        from ..spacy.rendering import render_entities

        texts, entities = [p.text for p in rendered], [p.entities for p in rendered]
        page = render_entities(texts, entities, titles=[p.source for p in rendered])
        _write(args.html, page)
        print(f"wrote {args.html} ({len(rendered)} documents)", file=sys.stderr)
    return 0


class _Predicted(NamedTuple):
    text: str
    entities: list[Entity]
    source: str


def _check_predict_outputs(files: Sequence[Path], args: argparse.Namespace) -> None:
    """Before the model loads: outputs that are inputs, that exist (without --overwrite) or
    whose folder is missing, and a closed stdout, are errors; nothing is lost afterwards."""
    outputs = [path for path in (args.output, args.html) if path is not None]
    inputs = [path for path in files if str(path) != "-"]
    if len(outputs) == 2 and _same_file(*outputs):
        raise UsageError(f"{PROG} predict: error: --output and --html are both {args.output}")
    for path in outputs:
        if any(_same_file(path, source) for source in inputs):
            raise UsageError(
                f"{PROG} predict: error: {path} is also an input; writing it would destroy it "
                "(choose another output file)"
            )
        if not path.parent.is_dir():
            raise DataNotFoundError(f"{path}: its folder does not exist; create it first.")
        if path.exists() and not args.overwrite:
            raise UsageError(
                f"{PROG} predict: error: {path} exists; pass --overwrite to replace it"
            )
    if args.output is None and args.html is None and sys.stdout is None:
        raise UsageError(f"{PROG} predict: error: stdout is closed; pass --output FILE")
    if args.html is not None and importlib.util.find_spec("spacy") is None:
        raise UsageError(
            f"{PROG} predict: error: --html draws the page with spaCy's displaCy, and spaCy "
            "is not installed: pip install 'ner-bert[spacy]'"
        )


def _same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def _predicted(
    predictor: Any, documents: Iterator[tuple[str, str]], args: argparse.Namespace
) -> Iterator[tuple[_Predicted, list[str]]]:
    """``(text with its entities, output lines)`` of each document, in input order."""
    if not args.tokenized:
        first, second = itertools.tee(documents)
        progress = _progress(args)
        files: list[Path] = args.files or [Path("-")]
        stream = predictor.predict_stream(
            (text for _, text in first),
            batch_size=args.batch_size,
            progress=progress,
            total=count_documents(files, whole_file=args.whole_file) if progress else None,
        )
        for (source, text), entities in zip(second, stream, strict=True):
            record = {"source": source, "text": text, "entities": [e.to_dict() for e in entities]}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            yield _Predicted(text, entities, source), [line]
        return
    from ..subwords.decoding import char_entities

    # Each line is a sentence; with --whole-file the lines of a file are one document (each
    # other's context when the model was trained with document context).
    while chunk := list(itertools.islice(documents, 1 if args.whole_file else 1024)):
        units = [
            (source if not args.whole_file else f"{source}:{number}", line.split(), index)
            for index, (source, text) in enumerate(chunk)
            for number, line in enumerate(text.splitlines() or [text], start=1)
            if line.strip() or not args.whole_file
        ]
        sentences = [words for _, words, _ in units]
        predictions = predictor.predict_words(
            sentences, documents=[index for _, _, index in units], batch_size=args.batch_size
        )
        for (source, _, _), words, tags in zip(units, sentences, predictions, strict=True):
            lines = [f"{w}\t{p.tag}\t{p.score:.4f}\n" for w, p in zip(words, tags, strict=True)]
            text, spans = _join_words(words)
            entities = char_entities(text, spans, [p.tag for p in tags], [p.score for p in tags])
            yield _Predicted(text, entities, source), [*lines, "\n"]


def _join_words(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    spans, position = [], 0
    for word in words:
        spans.append((position, position + len(word)))
        position += len(word) + 1
    return " ".join(words), spans


# ------------------------------------------------------------------------------------ push


def push(args: argparse.Namespace) -> int:
    """``ner-bert push``."""
    from ..model.hub import push_to_hub

    url = push_to_hub(
        args.folder,
        args.repo_id,
        token=args.token,
        private=True if args.private else None,
        revision=args.revision,
        commit_message=args.message,
        create_pr=args.create_pr,
    )
    print(f"pushed {args.folder} to {args.repo_id}: {url}")
    return 0


# ---------------------------------------------------------------------------------- shared


def _quiet_transformers() -> None:
    """No "Loading weights" bars from transformers: the command prints its own output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # e.g. the load report listing the new classifier head as "MISSING": expected here.
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def _show_progress_lines() -> None:
    """Print the line of each evaluation (logged on ``ner_bert.training.progress`` when no
    bar is drawn) on stderr as it is, without the log prefix, also without ``--verbose``."""
    from ..training.hf_trainer import progress_logger

    if not progress_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        progress_logger.addHandler(handler)
    progress_logger.setLevel(logging.INFO)
    progress_logger.propagate = False


def _load_predictor(args: argparse.Namespace) -> Any:
    from ..prediction import NERPredictor

    _quiet_transformers()
    return NERPredictor.from_pretrained(args.model, device=args.device, precision=args.precision)


def _progress(args: argparse.Namespace) -> bool:
    return bool(sys.stderr.isatty()) if args.progress is None else bool(args.progress)

"""The ``ner-bert`` command (also ``python -m ner_bert``): train, evaluate, predict.

A thin layer: each subcommand parses its options, calls the library and prints. Every
:class:`~ner_bert.errors.NerBertError` and every bad option becomes one line on stderr and exit
code 2. torch and transformers are imported inside the subcommands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import __version__
from .cli_config import (
    RUN_KEYS,
    add_training_options,
    dump_toml,
    resolve_train_options,
)
from .errors import DataFormatError, DataNotFoundError, NerBertError

if TYPE_CHECKING:  # pragma: no cover
    from .evaluation import EvaluationReport
    from .types import TaggedSentence

__all__ = ["build_parser", "main"]

PROG = "ner-bert"
EXIT_USAGE = 2
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


class UsageError(Exception):
    """A bad command line; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's signature is NoReturn
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ner-bert`` command line and return its exit code.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        ``0`` on success, ``2`` on a usage or data error (one line on stderr).

    Example:
        >>> main(["predict", "--model"])
        2
    """
    parser = build_parser()
    logging.basicConfig(format=f"{PROG}: %(levelname)s: %(name)s: %(message)s")
    try:
        args = parser.parse_args(argv)
        if not hasattr(args, "run"):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if getattr(args, "verbose", False):
            logging.getLogger("ner_bert").setLevel(logging.INFO)
        code: int = args.run(args)
        return code
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except BrokenPipeError:  # `ner-bert ... | head`: the reader left; not an error of ours
        _silence_stdout()
        return 0
    except UsageError as error:
        _fail(str(error))
    except NerBertError as error:
        _fail(f"{PROG}: error: {error}")
    except OSError as error:  # e.g. an output folder that cannot be written
        _fail(f"{PROG}: error: {error}")
    except KeyboardInterrupt:
        _fail(f"{PROG}: interrupted")
        return 130
    return EXIT_USAGE


def _fail(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr)


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    with contextlib.suppress(OSError, ValueError):  # stdout may not be a file (in-process)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ner-bert`` and its subcommands (no heavy imports)."""
    parser = _Parser(
        prog=PROG,
        description="Fine-tune BERT-family encoders for named-entity recognition and predict "
        "entities with exact character offsets.",
        epilog="Run 'ner-bert COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    train = command(
        "train",
        "fine-tune an encoder on CoNLL or span-JSONL data",
        "Fine-tune an encoder for NER, save it to --output and print dev/test scores per\n"
        "type. Data: CoNLL column files or span JSONL (by extension, or --format).\n\n"
        "Options come from the command line, a TOML file (--config), or both (the command\n"
        "line wins). A config file is flat TOML with the keys\n  "
        + ", ".join(RUN_KEYS)
        + "\nand any training option below with '_' for '-' (learning_rate = 3e-5; the key\n"
        "of --output is output_dir). Relative paths in it are relative to the file's\n"
        "folder. The --output folder gets the model,\n"
        "training.toml (the options used; train again with --config), scores.json, and\n"
        "training_report.png (needs the [plot] extra: pip install 'ner-bert[plot]').",
    )
    train.add_argument("--config", type=Path, metavar="FILE.toml", help="TOML file of options")
    train.add_argument("--model", help="encoder to fine-tune: a local folder or hub name")
    train.add_argument("--train", type=Path, metavar="FILE", help="training data")
    train.add_argument("--dev", type=Path, metavar="FILE", help="dev data, scored every epoch")
    train.add_argument("--test", type=Path, metavar="FILE", help="test data, scored at the end")
    _add_format(train)
    train.add_argument(
        "--dump-config",
        action="store_true",
        help="print the resolved options as TOML and exit without training",
    )
    add_training_options(train)
    _add_verbose(train)
    train.set_defaults(run=_train)

    evaluate = command(
        "evaluate",
        "score a trained model on labelled data",
        "Predict the words of --data with the model and print entity-level precision, recall\n"
        "and F1 per type, in the conlleval-compatible mode (an I-X may open a mention; the\n"
        "number papers report) and the strict IOB2 mode, side by side.",
    )
    evaluate.add_argument("--model", required=True, help="trained model folder (or hub name)")
    evaluate.add_argument("--data", required=True, type=Path, metavar="FILE", help="gold data")
    _add_format(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_runtime(evaluate)
    _add_verbose(evaluate)
    evaluate.set_defaults(run=_evaluate)

    predict = command(
        "predict",
        "find entities in new text",
        "Find the entities in text files (or stdin). Each non-blank line is one document\n"
        "(--whole-file: each file is one). Output: one JSON object per document with the\n"
        "text and its entities as half-open character offsets (text[start:end] is the\n"
        "entity). With --tokenized each line is one sentence of space-separated words and\n"
        "the output is CoNLL (word, tag, score). --html writes a displaCy-style page with\n"
        "the entities marked; it is plain HTML written by ner_bert (spaCy is not needed).",
    )
    predict.add_argument("--model", required=True, help="trained model folder (or hub name)")
    predict.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="input files ('-' or none: stdin)"
    )
    layout = predict.add_mutually_exclusive_group()
    layout.add_argument(
        "--whole-file", action="store_true", help="each file is one document (not each line)"
    )
    layout.add_argument(
        "--tokenized", action="store_true", help="lines are space-separated words; CoNLL out"
    )
    predict.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write the output here (default stdout)"
    )
    predict.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write an HTML page of the entities (then nothing goes to stdout unless "
        "--output is given)",
    )
    _add_runtime(predict)
    _add_progress(predict)
    _add_verbose(predict)
    predict.set_defaults(run=_predict)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what ner_bert does (INFO level)"
    )


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("conll", "jsonl"),
        help="data format (default: jsonl for .jsonl/.json/.ndjson files, else CoNLL columns)",
    )


def _add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_positive_int, metavar="N", help="batch size")
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: best)")


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress bars (default: when stderr is a terminal)",
    )


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _progress(args: argparse.Namespace) -> bool:
    return bool(sys.stderr.isatty()) if args.progress is None else bool(args.progress)


# ----------------------------------------------------------------------------------- train


def _train(args: argparse.Namespace) -> int:
    run, training = resolve_train_options(args)
    if args.dump_config:
        sys.stdout.write(dump_toml(run, training))
        return 0
    missing = [key for key in ("model", "train") if run.get(key) is None]
    if training.output_dir is None:
        missing.append("output")
    if missing:
        key = missing[0]
        in_file = "output_dir" if key == "output" else key
        raise UsageError(
            f"{PROG} train: error: --{key} is required (on the command line, or as "
            f"{in_file} = ... in --config) (see {PROG} train --help)"
        )
    from .serialization import check_output_dir

    output = Path(training.output_dir)
    check_output_dir(output)  # before the slow part, not after it
    for key in ("train", "dev", "test"):
        if run.get(key) is not None:
            _require_file(Path(run[key]), f"--{key}")
    data = {
        key: _read_data(Path(run[key]), run.get("format"))
        for key in ("train", "dev", "test")
        if run.get(key) is not None
    }
    _quiet_transformers()
    from .training import NERTrainer

    trainer = NERTrainer(run["model"], config=training)
    result = trainer.train(data["train"], eval=data.get("dev"))  # saves to output_dir
    reports: dict[str, EvaluationReport] = {}
    if result.best_eval is not None:  # the dev scores of the kept (best) weights
        reports["dev"] = result.best_eval
    elif "dev" in data:
        reports["dev"] = trainer.evaluate(data["dev"])
    if "test" in data:
        reports["test"] = trainer.evaluate(data["test"])
    _write(output / "training.toml", dump_toml(run, training))
    scores = {
        "training": {k: v for k, v in result.to_dict().items() if k != "best_eval"},
        **{split: report.to_dict() for split, report in reports.items()},
    }
    _write(output / "scores.json", json.dumps(scores, indent=2) + "\n")

    from .report import PLOT_MISSING_NOTE, write_training_plot

    plotted = write_training_plot(
        output / "training_report.png",
        train_loss=[epoch.train_loss for epoch in result.history],
        dev_f1=[epoch.eval_f1 for epoch in result.history] if "dev" in data else [],
        title=f"{_short(run['model'])} on {Path(run['train']).name}",
    )
    for split, report in reports.items():
        print(f"\n{split} ({run[split]}):\n{report.format_table()}")
    print(f"\nsaved the model, training.toml and scores.json to {output}")
    print(f"training report: {output / 'training_report.png'}" if plotted else PLOT_MISSING_NOTE)
    return 0


def _short(model: str) -> str:
    """A hub name as is; a local folder as its last two path parts."""
    path = Path(model)
    return "/".join(path.resolve().parts[-2:]) if path.exists() else model


def _write(path: Path, text: str) -> None:
    from .serialization import atomic_write_text

    atomic_write_text(path, text)


# -------------------------------------------------------------------------------- evaluate


def _evaluate(args: argparse.Namespace) -> int:
    _require_file(args.data, "--data")
    sentences = _read_data(args.data, args.format)
    predictor = _load_predictor(args)
    from .evaluation import evaluate_tags

    predictions = predictor.predict_words([s.words for s in sentences], batch_size=args.batch_size)
    report = evaluate_tags(
        [s.tags for s in sentences], [[word.tag for word in words] for words in predictions]
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table())
    return 0


# --------------------------------------------------------------------------------- predict


def _predict(args: argparse.Namespace) -> int:
    files: list[Path] = args.files or [Path("-")]
    if sum(str(path) == "-" for path in files) > 1:
        raise UsageError(f"{PROG} predict: error: '-' (stdin) can be given only once")
    for path in files:
        if str(path) != "-":
            _require_file(path, "input")
    for path in (args.output, args.html):
        if path is not None and not path.parent.is_dir():
            raise DataNotFoundError(f"{path}: its folder does not exist; create it first.")
    if "-" in map(str, files) and sys.stdin.isatty():
        print(f"{PROG}: reading text from stdin (end with Ctrl-D)", file=sys.stderr)
    predictor = _load_predictor(args)
    from .html import Document, render_html

    # Stream: documents are read, predicted and written chunk by chunk (constant memory),
    # except for the HTML page, which keeps what it shows.
    documents = _documents(files, whole_file=args.whole_file)
    rendered: list[Document] | None = [] if args.html is not None else None
    with contextlib.ExitStack() as stack:
        out: IO[str] | None = sys.stdout if args.html is None else None
        if args.output is not None:
            out = stack.enter_context(args.output.open("w", encoding="utf-8"))
        for document, lines in _predicted(predictor, documents, args):
            if out is not None:
                out.writelines(lines)
            if rendered is not None:
                rendered.append(document)
        if out is not None:
            out.flush()
    if rendered is not None:
        _write(args.html, render_html(rendered, meta=f"model: {args.model}"))
        print(f"wrote {args.html} ({len(rendered)} documents)", file=sys.stderr)
    return 0


def _predicted(
    predictor: Any, documents: Iterator[tuple[str, str]], args: argparse.Namespace
) -> Iterator[tuple[Any, list[str]]]:
    """``(html.Document, output lines)`` of each document, in input order."""
    from .html import Document

    if not args.tokenized:
        first, second = itertools.tee(documents)
        stream = predictor.predict_stream(
            (text for _, text in first), batch_size=args.batch_size, progress=_progress(args)
        )
        for (source, text), entities in zip(second, stream, strict=True):
            record = {"source": source, "text": text, "entities": [e.to_dict() for e in entities]}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            yield Document(text=text, entities=entities, source=source), [line]
        return
    from .aggregation import char_entities

    while chunk := list(itertools.islice(documents, 1024)):
        sentences = [text.split() for _, text in chunk]
        predictions = predictor.predict_words(sentences, batch_size=args.batch_size)
        for (source, _), words, tags in zip(chunk, sentences, predictions, strict=True):
            lines = [f"{w}\t{p.tag}\t{p.score:.4f}\n" for w, p in zip(words, tags, strict=True)]
            text, spans = _join_words(words)
            entities = char_entities(text, spans, [p.tag for p in tags], [p.score for p in tags])
            yield Document(text=text, entities=entities, source=source), [*lines, "\n"]


def _documents(files: Sequence[Path], *, whole_file: bool) -> Iterator[tuple[str, str]]:
    """``(source, text)`` of each document: each non-blank line, or each whole file."""
    for path in files:
        name = "<stdin>" if str(path) == "-" else str(path)
        with contextlib.ExitStack() as stack:
            handle = (
                sys.stdin if name == "<stdin>" else stack.enter_context(path.open(encoding="utf-8"))
            )
            try:
                if whole_file:
                    yield name, handle.read()
                    continue
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield f"{name}:{number}", line.rstrip("\n")
            except UnicodeDecodeError as error:
                raise DataFormatError(
                    f"{name}: is not UTF-8 text ({error.reason} at byte {error.start}); "
                    "convert it to UTF-8 first (e.g. iconv -t utf-8)."
                ) from None


def _join_words(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    spans, position = [], 0
    for word in words:
        spans.append((position, position + len(word)))
        position += len(word) + 1
    return " ".join(words), spans


# ---------------------------------------------------------------------------------- shared


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DataNotFoundError(f"{what} {path}: no such file (cwd is {Path.cwd()}).")
    if not path.is_file():
        raise DataNotFoundError(f"{what} {path}: is not a file; pass a data file.")


def _read_data(path: Path, data_format: str | None) -> list[TaggedSentence]:
    kind = data_format or ("jsonl" if path.suffix.lower() in _JSONL_SUFFIXES else "conll")
    reader: Callable[[Path], list[TaggedSentence]]
    if kind == "jsonl":
        from .jsonl import read_jsonl as reader
    else:
        from .conll import read_conll as reader
    return reader(path)


def _quiet_transformers() -> None:
    """No "Loading weights" bars from transformers: the command prints its own output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # e.g. the load report listing the new classifier head as "MISSING": expected here.
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def _load_predictor(args: argparse.Namespace) -> Any:
    from .prediction import NERPredictor

    _quiet_transformers()
    return NERPredictor.from_pretrained(args.model, device=args.device)

"""The ``ner-bert`` command (also ``python -m ner_bert``): train, evaluate, predict, push,
pretrain, export.

A thin layer: each subcommand parses its options, calls the library and prints. Every
:class:`~ner_bert.errors.NerBertError` and every bad option becomes one line on stderr and exit
code 2. torch and transformers are imported inside the subcommands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import NerBertError
from . import commands as cli_commands
from . import pretraining as cli_pretraining
from .commands import PROG, UsageError
from .exporting import add_export_arguments, export
from .options import DATA_FORMATS, RUN_KEYS, add_training_options, positive_int
from .pretraining import add_pretrain_arguments
from .scaling import add_engine_arguments, predict_on_engine

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141
"""As a program killed by SIGPIPE: the reader of stdout left before all output was written."""


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
    except BrokenPipeError:  # `ner-bert ... | head`: the reader left, output was lost
        _silence_stdout()
        return EXIT_BROKEN_PIPE
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
    _add_train_command(commands)
    _add_evaluate_command(commands)
    _add_predict_command(commands)
    _add_push_command(commands)
    _add_pretrain_command(commands)
    _add_export_command(commands)
    return parser


def _add_command(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    help_: str,
    description: str,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=help_,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_train_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert train``: data, model and config options, then the training options."""
    train = _add_command(
        commands,
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
    train.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="a Hugging Face dataset (hub name, folder, or .json/.jsonl/.csv/.parquet file, "
        "through datasets.load_dataset) with tokens/ner_tags columns: its train, "
        "validation and test splits stand for --train, --dev and --test",
    )
    _add_format(train)
    train.add_argument(
        "--dump-config",
        action="store_true",
        help="print the resolved options as TOML and exit without training",
    )
    add_training_options(train)
    _add_trainer_options(train)
    _add_verbose(train)
    train.set_defaults(run=cli_commands.train)


def _add_evaluate_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert evaluate``: a trained model, gold data and how to print the scores."""
    evaluate = _add_command(
        commands,
        "evaluate",
        "score a trained model on labelled data",
        "Predict the words of --data (or --dataset) with the model and print entity-level\n"
        "precision, recall\n"
        "and F1 per type, in the conlleval-compatible mode (an I-X may open a mention; the\n"
        "number papers report) and the strict IOB2 mode, side by side.",
    )
    _add_trained_model(evaluate)
    evaluate.add_argument("--data", type=Path, metavar="FILE", help="gold data")
    evaluate.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="gold data from a Hugging Face dataset instead of --data (see train --dataset)",
    )
    evaluate.add_argument("--split", default="test", help="split of --dataset (default: test)")
    _add_format(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_runtime(evaluate)
    _add_verbose(evaluate)
    evaluate.set_defaults(run=cli_commands.evaluate)


def _add_predict_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert predict``: a trained model, the input files and the output options."""
    predict = _add_command(
        commands,
        "predict",
        "find entities in new text",
        "Find the entities in text files (or stdin). Each non-blank line is one document\n"
        "(--whole-file: each file is one). Output: one JSON object per document with the\n"
        "text and its entities as half-open character offsets (text[start:end] is the\n"
        "entity). With --tokenized each line is one sentence of space-separated words and\n"
        "the output is CoNLL (word, tag, score); add --whole-file to make each file one\n"
        "document whose sentences are each other's context (models trained with\n"
        "--context-size). --html writes a page with the entities marked, drawn by spaCy's\n"
        "displaCy (needs the spacy extra).",
    )
    _add_trained_model(predict)
    predict.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="input files ('-' or none: stdin)"
    )
    predict.add_argument(
        "--whole-file",
        action="store_true",
        help="each file is one document (not each line); with --tokenized, its lines are the "
        "document's sentences",
    )
    predict.add_argument(
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
    predict.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --output / --html files that exist (an error otherwise)",
    )
    _add_runtime(predict)
    _add_progress(predict)
    _add_verbose(predict)
    add_engine_arguments(predict)
    predict.set_defaults(run=_predict)


def _predict(args: argparse.Namespace) -> int:
    """``predict`` in this process, or on Ray or Spark with ``--engine``."""
    run = cli_commands.predict if args.engine is None else predict_on_engine
    return run(args)


def _add_push_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert push``: a saved model folder and the Hub repository."""
    push = _add_command(
        commands,
        "push",
        "share a trained model folder on the Hugging Face Hub",
        "Upload a model folder saved by ner-bert train (or NERTrainer/NERPredictor.save) to a\n"
        "Hub model repository, created if needed, in one commit: the folder's files (not\n"
        "its subfolders or hidden files), after checking them against ner_bert.json. An\n"
        "unedited model card (README.md) is written again to name the repository; an\n"
        "edited one is pushed as it is. Log in first (hf auth login) or set HF_TOKEN.",
    )
    push.add_argument("folder", type=Path, metavar="FOLDER", help="the saved model folder")
    push.add_argument("repo_id", metavar="REPO_ID", help="the repository: org/name or name")
    push.add_argument("--private", action="store_true", help="create the repository private")
    push.add_argument("--revision", metavar="BRANCH", help="branch to push to (default main)")
    push.add_argument("--message", metavar="TEXT", help="commit message")
    push.add_argument(
        "--create-pr", action="store_true", help="open a pull request instead of committing"
    )
    push.add_argument("--token", help="Hub token (default: the saved login or HF_TOKEN)")
    _add_verbose(push)
    push.set_defaults(run=cli_commands.push)


def _add_pretrain_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert pretrain``: the encoder, the unlabelled text and the adaptation options."""
    pretrain = _add_command(
        commands,
        "pretrain",
        "adapt an encoder to your unlabelled text (masked-LM) before fine-tuning",
        "Continue masked-language-model training of an encoder on unlabelled text, with\n"
        "whole-word masking, and save it to --output: fine-tune that folder with\n"
        "ner-bert train --model OUTPUT. Text: plain files (blank lines separate documents)\n"
        "or .jsonl files with a 'text' field (--text), or the words of labelled training\n"
        "files (--from-data; the task-adaptive case). Sentences of one document share a\n"
        "sequence. Prints the masked-LM perplexity of held-out text before and after.",
    )
    add_pretrain_arguments(pretrain)
    _add_format(pretrain)
    _add_progress(pretrain)
    _add_verbose(pretrain)
    pretrain.set_defaults(run=cli_pretraining.pretrain)


def _add_export_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``ner-bert export``: a trained model folder to ONNX."""
    parser = _add_command(
        commands,
        "export",
        "export a trained model to ONNX (optionally int8) for ONNX Runtime",
        "Write an ONNX folder from a trained model folder: model.onnx (inputs input_ids and\n"
        "attention_mask, output logits), the tokenizer, config.json and ner_bert.json.\n"
        "ner-bert predict/evaluate --model FOLDER and NERPredictor.from_pretrained run it\n"
        "with ONNX Runtime, with the same offsets and decoding; plain ONNX Runtime runs\n"
        "model.onnx too. Needs the onnx extra: pip install 'ner-bert[onnx]'.",
    )
    add_export_arguments(parser)
    _add_verbose(parser)
    parser.set_defaults(run=export)


def _add_trainer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "transformers.TrainingArguments (anything beyond the training options above)"
    )
    group.add_argument(
        "--report-to",
        nargs="+",
        metavar="NAME",
        help="where the Trainer reports metrics: tensorboard, wandb, mlflow, ... (needs "
        "that package; TensorBoard logs go to <checkpoint-dir>/runs)",
    )
    group.add_argument(
        "--eval-steps",
        type=positive_int,
        metavar="N",
        help="evaluate on --dev (and log, and keep the best model) every N steps instead of "
        "every epoch",
    )
    group.add_argument(
        "--training-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other TrainingArguments field, e.g. --training-arg lr_scheduler_type=cosine "
        "(VALUE is read as JSON, else as a string); repeatable",
    )
    group.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="CHECKPOINT",
        help="continue an interrupted run: from the newest checkpoint in --checkpoint-dir, "
        "or from the given checkpoint folder",
    )
    group.add_argument(
        "--allow-changed-settings",
        action="store_true",
        help="with --resume: continue even though settings or data differ from the "
        "checkpoint's (an error otherwise)",
    )


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what ner_bert does (INFO level)"
    )


def _add_trained_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="trained model folder (or hub name)")


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=DATA_FORMATS,
        help="data format (default: jsonl for .jsonl/.json/.ndjson files, spacy (DocBin) for "
        ".spacy files, else CoNLL columns; label-studio: a Label Studio JSON export)",
    )


def _add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=positive_int, metavar="N", help="batch size")
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: best)")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="arithmetic of the forward pass (default auto: bf16 where the hardware is fast "
        "at it, else fp32)",
    )


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress bars (default: when stderr is a terminal)",
    )

"""``ner-bert pretrain``: masked-LM adaptation of an encoder to unlabelled text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .commands import UsageError
from .inputs import read_data, require_file
from .options import positive_int, training_args

__all__ = ["add_pretrain_arguments", "pretrain"]

_NUMBERS: tuple[tuple[str, Any, Any, str, str], ...] = (
    ("--epochs", float, 1.0, "N", "passes over the text (default 1)"),
    ("--max-steps", positive_int, None, "N", "optimizer steps instead of --epochs"),
    ("--batch-size", positive_int, 32, "N", "sequences per step (default 32)"),
    ("--learning-rate", float, 5e-5, "LR", "peak learning rate (default 5e-5)"),
    ("--max-length", positive_int, 128, "N", "tokens per sequence (default 128)"),
    ("--mlm-probability", float, 0.15, "P", "share of words masked (default 0.15)"),
    ("--seed", int, 42, "N", "seed (default 42)"),
)


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ner-bert pretrain`` (the model, the text, the adaptation settings)."""
    parser.add_argument("--model", required=True, help="encoder to adapt: folder or hub name")
    parser.add_argument(
        "--text",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="plain text files (blank lines separate documents) or .jsonl with a text field",
    )
    parser.add_argument(
        "--from-data",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="labelled files (CoNLL, JSONL, .spacy) whose words are the text",
    )
    parser.add_argument("--output", type=Path, required=True, help="adapted encoder folder")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an adapted encoder in --output"
    )
    for flag, kind, default, metavar, help_ in _NUMBERS:
        parser.add_argument(flag, type=kind, default=default, metavar=metavar, help=help_)
    parser.add_argument(
        "--whole-word-mask",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mask every piece of a word together (default: on)",
    )
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: best)")
    parser.add_argument("--checkpoint-dir", type=Path, help="save a checkpoint each epoch")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="CHECKPOINT",
        help="continue from the newest checkpoint in --checkpoint-dir (or the one given)",
    )
    parser.add_argument("--report-to", nargs="+", metavar="NAME", help="tensorboard, wandb…")
    parser.add_argument(
        "--training-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other TrainingArguments field (VALUE read as JSON, else a string)",
    )


def pretrain(args: argparse.Namespace) -> int:
    """``ner-bert pretrain``."""
    from ..pretraining import (
        AdaptationSettings,
        EncoderAdapter,
        documents_of_sentences,
        read_text_corpus,
    )

    if not args.text and not args.from_data:
        raise UsageError(
            "ner-bert pretrain: error: no text to adapt on; give --text FILE... or "
            "--from-data FILE..."
        )
    for path in [*args.text, *args.from_data]:
        require_file(path, "text file")
    settings = AdaptationSettings(
        max_length=args.max_length,
        mlm_probability=args.mlm_probability,
        whole_word_mask=args.whole_word_mask,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    adapter = EncoderAdapter(
        args.model,
        settings=settings,
        device=args.device,
        checkpoint_dir=args.checkpoint_dir,
        progress_bar=sys.stderr.isatty() if args.progress is None else args.progress,
        training_args=training_args(args, {}),
    )
    _check_output(args.output, overwrite=args.overwrite, checkpoint_dir=args.checkpoint_dir)
    corpus = read_text_corpus(args.text) if args.text else []
    for path in args.from_data:
        corpus += documents_of_sentences(read_data(path, args.format))
    result = adapter.adapt(corpus, resume_from=_resume(args))
    adapter.save(args.output, overwrite=args.overwrite)
    before, after = result.perplexity_before, result.perplexity_after
    if before is not None and after is not None:
        print(f"masked-LM perplexity on held-out text: {before:.2f} -> {after:.2f}")
    print(
        f"adapted {args.model} on {result.train_sequences} sequences in {result.steps} steps "
        f"({result.seconds:.0f} s); saved to {args.output}"
    )
    return 0


def _check_output(path: Path, *, overwrite: bool, checkpoint_dir: Path | None) -> None:
    from ..pretraining.adapter import check_target

    check_target(path, overwrite=overwrite, checkpoint_dir=checkpoint_dir)


def _resume(args: argparse.Namespace) -> str | None:
    if args.resume is None:
        return None
    if args.resume is True:
        if args.checkpoint_dir is None:
            raise UsageError(
                "ner-bert pretrain: error: --resume without a CHECKPOINT needs --checkpoint-dir."
            )
        return str(args.checkpoint_dir)
    return str(args.resume)

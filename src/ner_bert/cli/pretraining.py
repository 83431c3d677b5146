"""``ner-bert pretrain``: masked-LM adaptation of an encoder to unlabelled text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import DataFormatError
from .inputs import read_data, require_file
from .options import training_args

__all__ = ["pretrain"]


def pretrain(args: argparse.Namespace) -> int:
    """``ner-bert pretrain``."""
    from ..pretraining import (
        AdaptationSettings,
        EncoderAdapter,
        documents_of_sentences,
        read_text_corpus,
    )

    if not args.text and not args.from_data:
        raise DataFormatError("no text to adapt on: give --text FILE... or --from-data FILE...")
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
    _check_output(args.output, overwrite=args.overwrite)
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


def _check_output(path: Path, *, overwrite: bool) -> None:
    from ..pretraining.adapter import check_target

    check_target(path, overwrite=overwrite)


def _resume(args: argparse.Namespace) -> str | None:
    if args.resume is None:
        return None
    if args.resume is True:
        if args.checkpoint_dir is None:
            raise DataFormatError("--resume without a CHECKPOINT needs --checkpoint-dir.")
        return str(args.checkpoint_dir)
    return str(args.resume)

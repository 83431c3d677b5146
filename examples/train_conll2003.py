"""Fine-tune an encoder on CoNLL-2003, report the test scores and save the model.

Run (the data folder holds train.txt, valid.txt and test.txt in CoNLL format)::

    python examples/train_conll2003.py --data path/to/conll2003 --output conll-model
    NER_BERT_DATA=path/to/conll2003 python examples/train_conll2003.py --epochs 3

``--data`` defaults to ``$NER_BERT_DATA``, else ``../shared/data/conll2003``.
Options: ``--model`` (default ``bert-base-cased``: any local folder or hub name of an encoder
with a fast tokenizer), ``--epochs``, ``--batch-size``, ``--learning-rate``, ``--max-length``,
``--context-size N`` to read every sentence with N subwords of its document on each side
(about +1 F1 on CoNLL-2003; use a batch size about 5x smaller), and ``--max-sentences N`` to
use only the first N sentences of each split (a quick try-out).
Then try ``examples/predict_text.py --model conll-model``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from ner_bert import NERTrainer, TrainingConfig, read_conll

DEFAULT_DATA = "../shared/data/conll2003"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("NER_BERT_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--model", default="bert-base-cased")
    parser.add_argument("--output", type=Path, default=Path("conll-model"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=None, help="default 128 (no context)")
    parser.add_argument("--context-size", type=int, default=0)
    parser.add_argument("--max-sentences", type=int, default=None)
    args = parser.parse_args(argv)
    if not (args.data / "train.txt").is_file():
        parser.error(f"no train.txt in {args.data}: give --data or set NER_BERT_DATA")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    train, dev, test = (
        read_conll(args.data / f"{split}.txt")[: args.max_sentences]
        for split in ("train", "valid", "test")
    )
    print(f"{len(train)} train, {len(dev)} dev, {len(test)} test sentences")

    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        # With context the default length is 4 x context_size plus the special tokens.
        max_length=args.max_length or (None if args.context_size else 128),
        context_size=args.context_size,
    )
    trainer = NERTrainer(args.model, config=config)
    result = trainer.train(train, eval=dev)
    for epoch in result.history:
        print(f"epoch {epoch.epoch}: loss {epoch.train_loss:.4f}  dev F1 {epoch.eval_f1:.4f}")

    report = trainer.evaluate(test)
    print(f"\ntest scores (best epoch: {result.best_epoch})\n{report}")
    trainer.save(args.output, overwrite=True)  # this script's --output: replaced by every run
    (args.output / "test_scores.json").write_text(json.dumps(report.to_dict(), indent=2))
    print(f"\nsaved the model to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Find the entities in some text with a fine-tuned model.

Run::

    python examples/predict_text.py --model conll-model "Angela Merkel visited Wolfsburg."
    cat article.txt | python examples/predict_text.py --model conll-model

Each argument is one text; without arguments the whole of stdin is one text (of any length:
long texts are predicted in overlapping windows, never cut off). ``--model`` defaults to
``$NER_BERT_MODEL``, else ``conll-model`` (what ``examples/train_conll2003.py`` saves).
``--aggregation`` picks how subword predictions become word predictions (first, average,
max); ``--json`` prints one JSON object per text instead of a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ner_bert import NERPredictor, PredictionConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="*", help="texts (default: stdin)")
    parser.add_argument("--model", default=os.environ.get("NER_BERT_MODEL", "conll-model"))
    parser.add_argument("--aggregation", choices=("first", "average", "max"), default="first")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    args = parser.parse_args(argv)
    texts = args.texts or [sys.stdin.read()]

    config = PredictionConfig(aggregation=args.aggregation)
    predictor = NERPredictor.from_pretrained(args.model, config=config)
    for text, entities in zip(texts, predictor.predict(texts), strict=True):
        # Offsets are half-open and index the string we passed in.
        assert all(text[e.start : e.end] == e.text for e in entities)
        if args.json:
            record = {"text": text, "entities": [e.to_dict() for e in entities]}
            print(json.dumps(record, ensure_ascii=False))
            continue
        print(text if len(text) <= 100 else text[:97] + "...")
        for e in entities:
            print(f"  {e.label:<6} {e.start:>5}-{e.end:<5} {e.score:.3f}  {e.text}")
        if not entities:
            print("  (no entities)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

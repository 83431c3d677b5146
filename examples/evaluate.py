"""Score a fine-tuned model on labelled CoNLL data, entity by entity, on words.

Run::

    python examples/evaluate.py --model conll-model --data path/to/conll2003/test.txt
    NER_BERT_DATA=path/to/conll2003 python examples/evaluate.py --model conll-model

``--data`` defaults to ``$NER_BERT_DATA/test.txt`` (``NER_BERT_DATA`` defaults to
``../shared/data/conll2003``); ``--max-sentences N`` scores only the
first N sentences. Prints precision, recall and F1 per type and their micro/macro averages in
the conlleval-compatible and strict IOB2 modes, then a few sentences with errors. Works for
any token-classification model folder, not only ner_bert's (pass ``--labels`` for a model
whose config has generic ``LABEL_0`` names).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ner_bert import NERPredictor, evaluate_tags, read_conll

DEFAULT_DATA = "../shared/data/conll2003"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("NER_BERT_MODEL", "conll-model"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--max-sentences", type=int, default=None)
    parser.add_argument("--labels", nargs="+", default=None, help="IOB2 labels in id order")
    parser.add_argument("--show-errors", type=int, default=3)
    args = parser.parse_args(argv)
    data = args.data or Path(os.environ.get("NER_BERT_DATA", DEFAULT_DATA)) / "test.txt"
    if not data.is_file():
        parser.error(f"{data} does not exist: give --data or set NER_BERT_DATA")

    sentences = read_conll(data)[: args.max_sentences]
    predictor = NERPredictor.from_pretrained(args.model, labels=args.labels)
    predictions = predictor.predict_words([s.words for s in sentences])
    predicted = [[p.tag for p in words] for words in predictions]
    gold = [list(s.tags) for s in sentences]

    report = evaluate_tags(gold, predicted)
    print(f"{data}: {len(sentences)} sentences\n{report}")
    print(f"\nF1 (conlleval, micro): {report.f1:.4f}")

    errors = [(s, p) for s, p in zip(sentences, predicted, strict=True) if list(s.tags) != p]
    print(f"\n{len(errors)} sentences with at least one wrong tag")
    for sentence, tags in errors[: args.show_errors]:
        print(f"  {sentence.source}")
        for word, gold_tag, tag in zip(sentence.words, sentence.tags, tags, strict=True):
            mark = "" if gold_tag == tag else f"   <- predicted {tag}"
            print(f"    {word:<15} {gold_tag:<7}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

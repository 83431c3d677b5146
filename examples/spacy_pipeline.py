"""Use a fine-tuned model in a spaCy pipeline, next to an entity ruler; save and reload it.

Run (needs ``pip install "ner-bert[spacy]"``)::

    python examples/spacy_pipeline.py --model conll-model
    python examples/spacy_pipeline.py --model conll-model --n-process 2 --output my-pipeline

The pipeline is ``spacy.blank("en")`` + an ``entity_ruler`` that knows a product name + the
``ner_bert`` component with ``policy="keep"`` (the ruler's entities win where they overlap)
and ``spans_key="ner_bert"`` (every prediction also goes to ``doc.spans["ner_bert"]``). The
texts run through ``nlp.pipe`` (``--n-process`` processes); the pipeline is saved to
``--output`` (default: a temporary folder) and loaded again with ``spacy.load``, which gives
the same entities. ``--model`` defaults to ``$NER_BERT_MODEL``, else ``conll-model``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import spacy

TEXTS = [
    "Angela Merkel visited the Volkswagen plant in Wolfsburg.",
    "The Golf GTI was unveiled in Frankfurt by Volkswagen's chief executive.",
    "Reuters reported that the European Union fined Google in Brussels.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("NER_BERT_MODEL", "conll-model"))
    parser.add_argument("--n-process", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="where to save the pipeline")
    args = parser.parse_args(argv)

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PRODUCT", "pattern": "Golf GTI"}])
    nlp.add_pipe(
        "ner_bert",
        config={"model": args.model, "policy": "keep", "spans_key": "ner_bert"},
    )
    print("pipeline:", nlp.pipe_names)

    docs = list(nlp.pipe(TEXTS, n_process=args.n_process, batch_size=16))
    for doc in docs:
        print(doc.text)
        for ent in doc.ents:
            score = ent._.ner_bert_score
            source = "ruler" if score is None else f"ner_bert {score:.3f}"
            print(f"  {ent.label_:<8} {ent.text!r:<30} ({source})")

    output = args.output or Path(tempfile.mkdtemp()) / "pipeline"
    nlp.to_disk(output)
    reloaded = spacy.load(output)
    for doc, again in zip(docs, reloaded.pipe(TEXTS), strict=True):
        before = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        after = [(e.start_char, e.end_char, e.label_) for e in again.ents]
        if before != after:
            raise SystemExit(f"the reloaded pipeline disagrees on {doc.text!r}")
    print(f"saved to {output}; spacy.load gives the same entities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

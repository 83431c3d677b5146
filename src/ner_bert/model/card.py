"""The model card (``README.md``) of a saved folder, in the Hugging Face Hub's format.

Written from what the folder records (``ner_bert.json``: labels, base model, training
settings, data statistics, evaluation), so a folder pushed to the Hub shows what it is, how
it was trained and how well it does, and ``huggingface_hub.ModelCard`` reads its metadata
(``model-index`` holds the evaluation). The YAML header comes from ``huggingface_hub``'s
``ModelCardData``; the body is plain Markdown.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["model_card"]

_SETTINGS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "warmup_ratio",
    "max_length",
    "context_size",
    "label_all_subwords",
    "mixed_precision",
    "seed",
)
"""Training settings shown in the card, in this order (all are in ``ner_bert.json``)."""


def model_card(metadata: Mapping[str, Any], *, name: str) -> str:
    """The text of ``README.md`` for a folder whose ``ner_bert.json`` holds ``metadata``.

    Args:
        metadata: The folder's ``ner_bert.json`` (``labels`` at least).
        name: The model's name in the card (the folder's name, or the hub repository).

    Example:
        >>> text = model_card({"labels": ["O", "B-PER", "I-PER"]}, name="my-ner")
        >>> text.splitlines()[0], "library_name: transformers" in text
        ('---', True)
    """
    header = _card_data(metadata, name).to_yaml()
    sections = [
        f"# {name}\n\n{_summary(metadata)}",
        _labels_section(metadata),
        _evaluation_section(metadata),
        _training_section(metadata),
        _usage_section(name),
        _LIMITATIONS,
        _versions_section(metadata),
    ]
    return f"---\n{header}\n---\n\n" + "\n\n".join(s for s in sections if s) + "\n"


def _card_data(metadata: Mapping[str, Any], name: str) -> Any:
    from huggingface_hub import EvalResult, ModelCardData

    base = metadata.get("base_model")
    report = (metadata.get("metrics") or {}).get("eval_report")
    results = []
    if report:
        micro = report["conlleval"]["micro"]
        results = [
            EvalResult(
                task_type="token-classification",
                task_name="Named-entity recognition",
                dataset_type="custom",
                dataset_name="evaluation data given to training",
                dataset_split="validation",
                metric_type=metric,
                metric_name=f"entity {metric} (conlleval)",
                metric_value=round(float(micro[metric]), 4),
            )
            for metric in ("f1", "precision", "recall")
        ]
    return ModelCardData(
        model_name=name,
        library_name="transformers",
        pipeline_tag="token-classification",
        tags=["ner_bert", "token-classification", "named-entity-recognition"],
        base_model=base if isinstance(base, str) and _is_hub_name(base) else None,
        metrics=["seqeval"],
        eval_results=results or None,
    )


def _is_hub_name(name: str) -> bool:
    """A hub repository id (``org/model`` or ``model``), not a local path."""
    path = Path(name).expanduser()
    return not (
        path.is_absolute() or path.exists() or name.startswith((".", "~")) or name.count("/") > 1
    )


def _summary(metadata: Mapping[str, Any]) -> str:
    labels = list(metadata.get("labels", []))
    types = sorted({label[2:] for label in labels if label[:2] in ("B-", "I-")})
    base_model = metadata.get("base_model")
    base = f"`{base_model}`" if base_model else "a BERT-family encoder"
    context = int(metadata.get("context_size") or 0)
    read = (
        f"reads each sentence with up to {context} subwords of its document on each side"
        if context
        else "reads each sentence on its own"
    )
    return (
        f"A named-entity recognizer for {', '.join(types) or 'no entity types'}, fine-tuned "
        f"from {base} with [ner_bert](https://pypi.org/project/ner-bert/). It tags words "
        f"in IOB2 ({len(labels)} labels) and {read}. The folder is a plain transformers "
        "token-classification checkpoint plus `ner_bert.json` (ner_bert's settings)."
    )


def _labels_section(metadata: Mapping[str, Any]) -> str:
    data = metadata.get("training_data") or {}
    counts = (data.get("train") or {}).get("entities") or {}
    rows = [f"| `{label}` |" for label in metadata.get("labels", [])]
    if not counts:
        return "## Labels\n\n| label |\n|---|\n" + "\n".join(rows)
    types = sorted(counts)
    lines = ["| entity type | mentions in training data |", "|---|---|"]
    lines += [f"| {kind} | {counts[kind]:,} |" for kind in types]
    stats = data["train"]
    out = (
        f"## Labels and training data\n\nTrained on {stats['sentences']:,} sentences "
        f"({stats['words']:,} words, {stats['documents']:,} documents)"
    )
    evaluated = data.get("eval")
    if evaluated:
        out += f"; evaluated on {evaluated['sentences']:,} sentences"
    return out + ".\n\n" + "\n".join(lines)


def _evaluation_section(metadata: Mapping[str, Any]) -> str:
    metrics = metadata.get("metrics") or {}
    report = metrics.get("eval_report")
    if not report:
        return "## Evaluation\n\nNo evaluation data was given to training."
    lines = [
        "Entity-level scores on the evaluation data given to training, best epoch "
        f"({metrics.get('best_epoch')}); conlleval mode (as seqeval's default).",
        "",
        "| entity type | precision | recall | F1 | mentions |",
        "|---|---|---|---|---|",
    ]
    per_type = report["conlleval"]["per_type"]
    for kind in sorted(per_type):
        lines.append(_score_row(kind, per_type[kind]))
    lines.append(_score_row("**all (micro)**", report["conlleval"]["micro"]))
    lines.append(_score_row("strict IOB2 (micro)", report["strict"]["micro"]))
    return "## Evaluation\n\n" + "\n".join(lines)


def _score_row(name: str, scores: Mapping[str, Any]) -> str:
    return (
        f"| {name} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} "
        f"| {int(scores['support']):,} |"
    )


def _training_section(metadata: Mapping[str, Any]) -> str:
    config = metadata.get("training_config")
    if not config:
        return ""
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| `{key}` | `{config[key]}` |" for key in _SETTINGS if key in config]
    extra = config.get("training_args") or {}
    lines += [f"| `{key}` (TrainingArguments) | `{value}` |" for key, value in extra.items()]
    steps = (metadata.get("metrics") or {}).get("global_steps")
    done = f" for {steps:,} optimizer steps" if steps else ""
    intro = f"Fine-tuned with `ner_bert.NERTrainer` on `transformers.Trainer`{done}."
    return f"## Training\n\n{intro}\n\n" + "\n".join(lines)


def _usage_section(name: str) -> str:
    return f"""## How to use

With ner_bert (exact character offsets, long texts, document context):

```python
from ner_bert import NERPredictor

predictor = NERPredictor.from_pretrained("{name}")
predictor("John Smith lives in Paris.")
```

With the transformers pipeline:

```python
from transformers import pipeline

ner = pipeline("token-classification", model="{name}", aggregation_strategy="first")
```

In a spaCy pipeline:

```python
import spacy

nlp = spacy.blank("en")
nlp.add_pipe("ner_bert", config={{"model": "{name}"}})
doc = nlp("John Smith lives in Paris.")
```"""


_LIMITATIONS = """## Limitations

The model knows only the entity types above, and its scores hold for text like its training
data: other domains, languages, casing or spelling lower them. The figures above are on the
evaluation data given to training, which may have been used to pick the best epoch; measure
on your own held-out text before you rely on them."""


def _versions_section(metadata: Mapping[str, Any]) -> str:
    import torch
    import transformers

    return (
        "## Framework versions\n\n"
        f"- ner_bert {metadata.get('library_version', 'unknown')}\n"
        f"- transformers {transformers.__version__}\n"
        f"- torch {torch.__version__}\n"
        f"- Python {platform.python_version()}"
    )

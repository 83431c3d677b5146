"""Charts of the benchmark results, drawn from ``benchmarks/results/*.json`` at every build.

The charts are written to ``docs/_generated/`` (not in git) when the build starts, so they
always show the JSON the tables beside them show; the pages include them with
``.. image:: _generated/<name>.png``. Drawn with :class:`matplotlib.figure.Figure` (no pyplot
state, no display needed). A results file that is missing gives a chart saying so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ner_bert_docs import ner_bert_first

GENERATED = "_generated"
_BLUE, _GREY, _GREEN, _ORANGE = "#1f5f99", "#9a9a9a", "#2a8a4a", "#c8702a"


def _figure(width: float = 8.0, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _label_bars(axes: Any, bars: Any, texts: list[str]) -> None:
    for bar, text in zip(bars, texts, strict=True):
        axes.annotate(
            text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8,
        )  # fmt: skip


def training_chart(results: dict[str, Any]) -> Any:
    """Test F1 (mean ± std over seeds) and median wall time: the run_ner.py recipe, ner_bert
    sentence by sentence, ner_bert with document context."""
    figure = _figure()
    f1_axes, time_axes = figure.subplots(1, 2)
    names = ["run_ner.py recipe", "ner_bert", "ner_bert + context"]
    reference = results["reference"]
    sides = [results.get("ner_bert", {}), results.get("ner_bert_context", {})]
    f1 = [reference["test"]["f1_conlleval"]] + [s.get("test_f1_mean", 0.0) for s in sides]
    std = [0.0] + [s.get("test_f1_std", 0.0) for s in sides]
    seconds = [reference["wall_seconds"]] + [s.get("wall_seconds_median", 0.0) for s in sides]
    colours = [_GREY, _BLUE, _GREEN]
    bars = f1_axes.bar(names, f1, yerr=std, color=colours, capsize=4)
    _label_bars(f1_axes, bars, [f"{v:.4f}" for v in f1])
    f1_axes.set_ylim(min(f1) - 0.02, max(f1) + 0.01)
    f1_axes.set(title="test F1 (mean ± std over seeds)", ylabel="entity F1")
    bars = time_axes.bar(names, seconds, color=colours)
    _label_bars(time_axes, bars, [f"{v:.0f} s" for v in seconds])
    time_axes.set_ylim(0, max(seconds) * 1.15)
    time_axes.set(title="wall time (median)", ylabel="seconds")
    for axes in (f1_axes, time_axes):
        axes.tick_params(axis="x", labelsize=8)
    return figure


_SIDE_NAMES = {
    "pipeline": "pipeline (fp32)",
    "ner_bert_fp32": "ner_bert fp32",
    "onnx_fp32": "ONNX fp32",
    "onnx_int8": "ONNX int8",
    "ner_bert": "ner_bert default",
}


def _side_name(results: dict[str, Any], name: str) -> str:
    """The chart label of a side; the default's says the precision it ran at (bf16 where
    the CPU has it, fp32 elsewhere)."""
    if name == "ner_bert":
        return f"ner_bert default ({results['sides'][name].get('precision', '?')})"
    return _SIDE_NAMES[name]


def prediction_chart(results: dict[str, Any]) -> Any:
    """Subword tokens per second of each prediction path, against the machine's limits."""
    figure = _figure(8.0, 3.4)
    axes = figure.subplots()
    sides = [name for name in _SIDE_NAMES if name in results["sides"]]
    speeds = [results["sides"][name]["tokens_per_second"] for name in sides]
    colours = [_GREY if name == "pipeline" else _BLUE for name in sides]
    bars = axes.barh([_side_name(results, name) for name in sides], speeds, color=colours)
    pipeline = results["sides"].get("pipeline", {}).get("tokens_per_second")
    for bar, speed in zip(bars, speeds, strict=True):
        ratio = f" ({speed / pipeline:.1f}x the pipeline)" if pipeline else ""
        axes.annotate(
            f"{speed:,.0f}{ratio}", (speed, bar.get_y() + bar.get_height() / 2),
            textcoords="offset points", xytext=(4, 0), va="center", fontsize=8,
        )  # fmt: skip
    limit = results.get("limit", {})
    # A precision's limit is drawn when a side ran at it (a CPU without bf16 units emulates
    # bf16 products far below its fp32 rate, and no side uses them there).
    used = {results["sides"][name].get("precision") for name in sides}
    for key, label, colour in (
        ("fp32_tokens_per_second_limit", "fp32 limit", _ORANGE),
        ("bf16_tokens_per_second_limit", "bf16 limit", _GREEN),
    ):
        if key in limit and label.split()[0] in used:
            axes.axvline(limit[key], color=colour, linestyle="--", linewidth=1, label=label)
    axes.set(xlabel="subword tokens per second (median)", title="raw-text prediction speed")
    if axes.get_lines():
        axes.legend(loc="lower right", fontsize=8, frameon=False)
    return figure


def profile_chart(results: dict[str, Any]) -> Any:
    """Where the time of one ``predict`` call goes, stage by stage, per profiled path."""
    profiled = [n for n in _SIDE_NAMES if results["sides"].get(n, {}).get("profile")]
    figure = _figure(8.0, 1.2 + 0.7 * len(profiled))
    axes = figure.subplots()
    stages: list[str] = []
    for name in profiled:
        for stage in results["sides"][name]["profile"]["stages"]:
            if stage not in stages:
                stages.append(stage)
    colours = _stage_colours(len(stages))
    for row, name in enumerate(profiled):
        profile = results["sides"][name]["profile"]
        left = 0.0
        for stage, colour in zip(stages, colours, strict=True):
            share = profile["stages"].get(stage, 0.0) / profile["total_seconds"] * 100
            axes.barh(row, share, left=left, color=colour, label=stage if row == 0 else None)
            if share >= 4:
                axes.text(left + share / 2, row, f"{share:.0f}%", ha="center", va="center",
                          fontsize=8, color="white")  # fmt: skip
            left += share
    axes.set_yticks(range(len(profiled)), [_side_name(results, n) for n in profiled])
    axes.set(xlabel="share of the time of predict (%)", xlim=(0, 100))
    axes.legend(ncols=4, fontsize=7, frameon=False, loc="upper center",
                bbox_to_anchor=(0.5, -0.5 if len(profiled) < 2 else -0.32))  # fmt: skip
    return figure


def libraries_chart(results: dict[str, Any]) -> Any:
    """Test F1 on natural sentences, training time and prediction speed per library, from
    ``compare_libraries.json`` (one budget for all); ner_bert's rows in colour."""
    libraries = results["libraries"]
    order = ner_bert_first(libraries)[::-1]  # barh draws bottom up: ner_bert on top
    names = [libraries[name]["library"] for name in order]
    colours = [_BLUE if name.startswith("ner_bert") else _GREY for name in order]
    natural = [libraries[name]["scores"]["natural"] for name in order]
    panels = (
        ("test F1, natural sentences", [s["f1"] for s in natural], "{:.3f}"),
        ("training (minutes)", [libraries[n]["train_seconds"] / 60 for n in order], "{:.0f}"),
        ("prediction (words per second)", [s["words_per_second"] for s in natural], "{:,.0f}"),
    )
    figure = _figure(9.0, 0.9 + 0.38 * len(order))
    for column, axes in enumerate(figure.subplots(1, 3, sharey=True)):
        title, values, label = panels[column]
        bars = axes.barh(names, values, color=colours)
        for bar, value in zip(bars, values, strict=True):
            axes.annotate(
                label.format(value), (value, bar.get_y() + bar.get_height() / 2),
                textcoords="offset points", xytext=(3, 0), va="center", fontsize=7,
            )  # fmt: skip
        axes.set_xlim(0, max(values) * 1.3)
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=8)
    return figure


def _stage_colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i % 10) for i in range(n)]


CHARTS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "training.png": ("train_conll.json", training_chart),
    "prediction.png": ("predict_throughput.json", prediction_chart),
    "profile.png": ("predict_throughput.json", profile_chart),
    "prediction_avx2.png": ("predict_throughput_avx2.json", prediction_chart),
    "profile_avx2.png": ("predict_throughput_avx2.json", profile_chart),
    "libraries.png": ("compare_libraries.json", libraries_chart),
}


def write_charts(results_dir: Path, out_dir: Path) -> list[Path]:
    """Draw every chart of :data:`CHARTS` whose results file exists into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (source, draw) in CHARTS.items():
        path = results_dir / source
        figure = _figure(8.0, 1.0)
        if path.is_file():
            figure = draw(json.loads(path.read_text(encoding="utf-8")))
        else:
            figure.text(0.5, 0.5, f"not measured yet: no {source}", ha="center", va="center")
        figure.savefig(out_dir / name)
        written.append(out_dir / name)
    return written


def _on_builder_inited(app: Any) -> None:
    docs = Path(app.srcdir)
    write_charts(docs.parent / "benchmarks" / "results", docs / GENERATED)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""The Sphinx docs build without warnings, their code snippets run, and the generated parts
(CLI reference, benchmark tables, changelog) match their sources."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"

sys.path.insert(0, str(DOCS / "_ext"))
import benchmark_charts  # noqa: E402
import ner_bert_docs  # noqa: E402
from headless import headless, require_browser  # noqa: E402

BUILDERS = ("html", "doctest")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Run ``sphinx-build -W`` with the html and doctest builders, in parallel subprocesses."""
    out = tmp_path_factory.mktemp("docs")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "NER_BERT_DOCS_LAYOUT_CHECK": "1",  # each page lists its layout problems
    }
    procs = {
        builder: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sphinx",
                "-W",
                "--keep-going",
                "-q",
                "-b",
                builder,
                "-d",
                str(out / f"doctrees-{builder}"),
                str(DOCS),
                str(out / builder),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for builder in BUILDERS
    }
    results = {}
    for builder, proc in procs.items():
        output, _ = proc.communicate(timeout=600)
        results[builder] = (proc.returncode, output, out / builder)
    return results


def _page(built: dict[str, tuple[int, str, Path]], name: str) -> str:
    code, output, directory = built["html"]
    assert code == 0, output
    return (directory / name).read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_html_build_has_no_warnings(built: dict[str, tuple[int, str, Path]]) -> None:
    code, output, directory = built["html"]
    assert code == 0, f"sphinx-build -W -b html failed:\n{output}"
    for page in ("index", "quickstart", "tutorial", "concepts", "spacy", "cli", "faq"):
        assert (directory / f"{page}.html").is_file()


def test_doc_snippets_run(built: dict[str, tuple[int, str, Path]]) -> None:
    code, output, directory = built["doctest"]
    report = directory / "output.txt"
    details = report.read_text(encoding="utf-8") if report.is_file() else output
    assert code == 0, f"doc snippets failed:\n{details[-20000:]}"
    summary = re.search(r"(\d+) tests\s+(\d+) failures in tests", details)
    assert summary is not None, details[-2000:]
    assert int(summary.group(1)) >= 40 and summary.group(2) == "0"


def test_cli_reference_is_the_parsers_help(built: dict[str, tuple[int, str, Path]]) -> None:
    page = _page(built, "cli.html")
    blocks = {_text(b).strip() for b in re.findall(r"<pre>(.*?)</pre>", page, flags=re.S)}
    parser = ner_bert_docs.cli_parser()
    expected = [parser, *(sub for _, _, sub in ner_bert_docs.subcommands(parser))]
    names = [name for name, _, _ in ner_bert_docs.subcommands(parser)]
    assert {"train", "evaluate", "predict"} <= set(names)
    for sub in expected:
        help_text = ner_bert_docs.format_help(sub).strip()
        assert help_text in blocks, f"the docs do not show the current help of {sub.prog!r}"


def test_changelog_page_has_every_entry(built: dict[str, tuple[int, str, Path]]) -> None:
    page = " ".join(_text(_page(built, "changelog.html")).split())
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entries = [line[2:] for line in changelog.splitlines() if line.startswith("- ")]
    assert entries
    for entry in entries:
        plain = " ".join(re.sub(r"`|\*\*|\[([^\]]+)\]\([^)]+\)", r"\1", entry).split())
        assert plain[:60] in page, plain


def test_performance_page_shows_the_json_figures(
    built: dict[str, tuple[int, str, Path]],
) -> None:
    page = _text(_page(built, "performance.html"))
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        assert "Not measured yet" in page
    for path in files:
        assert path.name in page
        data = ner_bert_docs.for_readers(json.loads(path.read_text(encoding="utf-8")))
        scalars = ner_bert_docs.flatten(data)[0] if isinstance(data, dict) else {}
        numbers = [v for v in scalars.values() if isinstance(v, float)]
        for value in numbers[:5]:
            assert ner_bert_docs.format_value(value) in page, (path.name, value)


def _tables(nodes: list) -> dict[str, list[list[str]]]:
    """Rendered tables by caption: rows of cell texts (header row first)."""
    out = {}
    for node in nodes:
        if node.tagname != "table":
            continue
        caption = node.children[0].astext() if node.children[0].tagname == "title" else ""
        rows = [
            [cell.astext() for cell in row.children]
            for row in node.findall(lambda n: n.tagname == "row")
        ]
        out[caption] = rows
    return out


def test_benchmark_json_renders_as_tables(tmp_path: Path) -> None:
    from ner_bert import evaluate_tags

    report = evaluate_tags([["B-PER", "O", "B-LOC"]], [["B-PER", "O", "I-LOC"]]).to_dict()
    record = {
        "title": "Fine-tuning",
        "machine": {"cores": 2},
        "data": {"train": 14041},
        "ner_bert": {
            "wall_seconds": 1234.5,
            "test": {"f1": 0.8912345},
            "settings": {"learning_rate": 1e-4},
            "history": [{"epoch": 1, "dev_f1": 0.81}, {"epoch": 2, "dev_f1": 0.86}],
            "test_report": report,
        },
        "reference": {"wall_seconds": 4000.0, "test": {"f1": 0.85}, "truncated": 3},
        "time_ratio": 0.3086,
        "command": ["python", "benchmarks/train.py"],
    }
    path = tmp_path / "train_x.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    nodes = ner_bert_docs.render_result(path)
    assert nodes[0].astext() == "Fine-tuning"
    assert "python benchmarks/train.py" in nodes[-1].astext()
    tables = _tables(nodes)
    assert tables["train_x.json"] == [
        ["field", "value"],
        ["machine.cores", "2"],
        ["data.train", "14,041"],
        ["time_ratio", "0.3086"],
    ]
    assert tables["ner_bert vs reference"] == [
        ["", "ner_bert", "reference"],
        ["wall_seconds", "1,234", "4,000"],
        ["test.f1", "0.8912", "0.8500"],
        ["settings.learning_rate", "0.0001", ""],
        ["truncated", "", "3"],
    ]
    assert tables["ner_bert.history"][2] == ["2", "0.8600"]
    assert tables["ner_bert.test_report (1 sentence)"][1:] == [
        ["LOC", "1.0000", "1.0000", "1.0000", "0.0000", "1"],
        ["PER", "1.0000", "1.0000", "1.0000", "1.0000", "1"],
        ["micro avg", "1.0000", "1.0000", "1.0000", "0.6667", "2"],
        ["macro avg", "1.0000", "1.0000", "1.0000", "0.5000", "2"],
    ]


def test_markdown_changelog_converter() -> None:
    markdown = (
        "# Changelog\n\nIntro [link](https://x.org).\n\n## [Unreleased]\n\n### Added\n"
        "- `read_conll` reads **IOB1**\n  and BIOES.\n  - nested item\n- second\n\n"
        "[Unreleased]: https://example.org\n"
    )
    (intro, version) = ner_bert_docs.markdown_to_nodes(markdown)
    assert intro.astext() == "Intro link."
    assert version.astext().startswith("[Unreleased]")
    (added,) = [child for child in version.children if child.tagname == "section"]
    items = added.children[1]
    assert items.tagname == "bullet_list" and len(items.children) == 2
    assert items.children[0].astext().startswith("read_conll reads IOB1 and BIOES.")
    assert "nested item" in items.children[0].astext()


def test_benchmark_parts_render_only_what_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train_conll.json"
    history = [{"epoch": 1, "eval_f1": 0.8}]
    path.write_text(json.dumps({"ner_bert": {"history": history, "x": 1}}), encoding="utf-8")
    tables = _tables(ner_bert_docs.render_parts(path, ["ner_bert.history"]))
    assert tables == {"train_conll.json: ner_bert.history": [["epoch", "eval_f1"], ["1", "0.8000"]]}
    with pytest.raises(KeyError, match=r"ner_bert\.test_report"):
        ner_bert_docs.render_parts(path, ["ner_bert.test_report"])


def _shell_commands(program: str) -> list[tuple[str, list[str]]]:
    """Every ``program ...`` command line in the docs' code blocks (continuations joined,
    the part after a pipe), as ``(page, argv)``."""
    import shlex

    found = []
    for page in sorted(DOCS.rglob("*.rst")):
        text = page.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            command = line.split("|")[-1].strip()
            if command.startswith(program + " "):
                found.append((page.name, shlex.split(command)[1:]))
    return found


def test_cli_commands_in_the_docs_parse() -> None:
    from ner_bert.cli import build_parser

    commands = _shell_commands("ner-bert")
    assert len(commands) >= 5
    for page, argv in commands:
        args = build_parser().parse_args(argv)
        assert hasattr(args, "run"), (page, argv)


# -- what a reader sees: every page in a real browser ---------------------------------------------

_NOT_PAGES = ("genindex.html", "search.html", "py-modindex.html")


def test_every_page_fits_the_window_and_its_images_load(
    built: dict[str, tuple[int, str, Path]],
) -> None:
    """Each page opened in headless Chromium at 1280x1000: no code block or table wider than
    the text column, no page wider than the window, every image loaded (see
    docs/_static/layout_check.js)."""
    browser = require_browser()
    code, output, directory = built["html"]
    assert code == 0, output
    pages = sorted(
        p for p in directory.rglob("*.html")
        if p.name not in _NOT_PAGES and not p.relative_to(directory).parts[0].startswith("_")
    )  # fmt: skip
    assert len(pages) > 20
    problems = {}
    for page in pages:
        dom = headless(
            browser, "--window-size=1280,1000", "--virtual-time-budget=5000", "--dump-dom",
            page.as_uri(),
        ).stdout  # fmt: skip
        found = re.search(r'data-layout-problems="([^"]*)"', dom)
        assert found, f"{page.name}: the layout check did not run"
        listed = json.loads(html.unescape(found.group(1)))
        if listed:
            problems[str(page.relative_to(directory))] = listed
    assert not problems, json.dumps(problems, indent=1)


def test_the_charts_draw_the_json_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")

    written = benchmark_charts.write_charts(RESULTS, tmp_path)
    assert [p.name for p in written] == list(benchmark_charts.CHARTS)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    results = json.loads((RESULTS / "train_conll.json").read_text())
    f1_axes, _ = benchmark_charts.training_chart(results).axes
    heights = [bar.get_height() for bar in f1_axes.patches]
    assert heights == [
        results["reference"]["test"]["f1_conlleval"],
        results["ner_bert"]["test_f1_mean"],
        results["ner_bert_context"]["test_f1_mean"],
    ]
    speeds = json.loads((RESULTS / "predict_throughput.json").read_text())["sides"]
    (axes,) = benchmark_charts.prediction_chart({"sides": speeds}).axes
    widths = sorted(bar.get_width() for bar in axes.patches)
    assert widths == sorted(side["tokens_per_second"] for side in speeds.values())


def test_the_prediction_chart_names_the_default_s_precision_and_its_limit() -> None:
    pytest.importorskip("matplotlib")

    def side(precision: str) -> dict:
        return {"precision": precision, "tokens_per_second": 1000.0}

    limit = {"fp32_tokens_per_second_limit": 4000.0, "bf16_tokens_per_second_limit": 600.0}
    for default, lines in (("fp32", ["fp32 limit"]), ("bf16", ["fp32 limit", "bf16 limit"])):
        results = {"sides": {"pipeline": side("fp32"), "ner_bert": side(default)}, "limit": limit}
        (axes,) = benchmark_charts.prediction_chart(results).axes
        labels = [tick.get_text() for tick in axes.get_yticklabels()]
        assert labels == ["pipeline (fp32)", f"ner_bert default ({default})"]
        assert [line.get_label() for line in axes.get_lines()] == lines


def _library_row(name: str, f1: float, train_seconds: float, speed: float) -> dict:
    score = {"f1": f1, "words_per_second": speed}
    return {
        "library": name,
        "version": "1.0",
        "train_seconds": train_seconds,
        "scores": {"words": score, "natural": score, "articles": score},
    }


def test_library_comparison_puts_ner_bert_first_with_ratios() -> None:
    libraries = {
        "flair": _library_row("flair", 0.85, 3000.0, 200.0),
        "ner_bert": _library_row("ner_bert", 0.84, 300.0, 2000.0),
    }
    node = ner_bert_docs.library_table(libraries, speed_only=False, caption="c.json")
    rows = _tables([node])["c.json"]
    assert rows[1] == ["ner_bert 1.0", "0.8400", "0.8400", "0.8400", "5.0 min", "2,000 words/s"]
    assert rows[2] == [
        "flair 1.0", "0.8500", "0.8500", "0.8500", "50.0 min (10.0x)", "200 words/s (0.10x)",
    ]  # fmt: skip
    speed = ner_bert_docs.library_table(libraries, speed_only=True, caption="c.json")
    header = _tables([speed])["c.json"][0]
    assert header == ["library", "training", "prediction (natural sentences)"]

    pytest.importorskip("matplotlib")
    chart = benchmark_charts.libraries_chart({"libraries": libraries})
    f1_axes, time_axes, speed_axes = chart.axes
    assert [bar.get_width() for bar in f1_axes.patches] == [0.85, 0.84]  # ner_bert on top
    assert [bar.get_width() for bar in time_axes.patches] == [50.0, 5.0]
    assert [bar.get_width() for bar in speed_axes.patches] == [200.0, 2000.0]


def _build_page_showing(line: str, source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``sphinx-build -W`` of a one-page project whose code block shows ``line``."""
    source.mkdir(exist_ok=True)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['sphinx.ext.doctest', 'doctest_display']\n"
    )
    (source / "index.rst").write_text(f"Page\n====\n\n.. code-block:: text\n\n   {line}\n")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(source), str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_page_showing_doctest_scaffolding_fails_the_build(tmp_path: Path) -> None:
    source = tmp_path / "src"
    done = _build_page_showing("PER 'John Smith' 0 10 0.9...", source, tmp_path / "out")
    assert done.returncode != 0
    assert 'shows doctest scaffolding to readers: a number cut short with "..." (0.9...)' in (
        done.stderr
    )
    done = _build_page_showing("PER 'John Smith' 0 10 0.97", source, tmp_path / "out2")
    assert done.returncode == 0, done.stderr


def test_doctest_numbers_may_move_but_nothing_else() -> None:
    import doctest_display

    assert doctest_display.numbers_close("LOC 'Paris' 20 25 0.97\n", "LOC 'Paris' 20 25 0.93\n")
    assert not doctest_display.numbers_close("LOC 'Paris' 20 25 0.97\n", "LOC 'Paris' 20 25 0.8\n")
    assert not doctest_display.numbers_close("LOC 20 25 0.97\n", "LOC 20 26 0.97\n")
    assert not doctest_display.numbers_close("LOC 0.97\n", "ORG 0.97\n")

"""Sphinx directives that keep the docs in step with the code and the measurements.

``.. markdown-changelog:: ../CHANGELOG.md``
    Renders a Keep-a-Changelog Markdown file (headings, paragraphs, bullet lists, inline code,
    links, bold) as docutils nodes, so the changelog is included without a Markdown parser.
``.. ner-bert-cli::``
    The CLI reference, generated at build time from the parser in :mod:`ner_bert.cli`
    (``format_help()`` of the top-level parser and of every subcommand), so it cannot drift.
``.. benchmark-results:: [glob]``
    Tables rendered from ``benchmarks/results/*.json`` (or the files matching ``glob``), so the
    figures in the docs are the ones in the JSON files; says "not measured yet" when none exist.
``.. library-comparison:: compare_libraries.json``
    The short table of ``benchmarks/compare_libraries.py``: one row per library.

Only docutils and Sphinx are used; nothing here needs the network.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives

HELP_WIDTH = 88

# --------------------------------------------------------------------------- markdown changelog

_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
)
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s+\S+")


def inline_nodes(text: str) -> list[nodes.Node]:
    """Markdown inline markup (code spans, links, bold) as docutils nodes; the rest is text."""
    out: list[nodes.Node] = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            out.append(nodes.Text(text[position : match.start()]))
        if match.group("code") is not None:
            out.append(nodes.literal(text=match.group("code_text")))
        elif match.group("url") is not None:
            label = match.group("link_text")
            out.append(nodes.reference(label, "", *inline_nodes(label), refuri=match.group("url")))
        else:
            out.append(nodes.strong(text=match.group("bold")))
        position = match.end()
    if position < len(text):
        out.append(nodes.Text(text[position:]))
    return out


def _paragraph(lines: list[str]) -> nodes.paragraph:
    text = " ".join(line.strip() for line in lines)
    return nodes.paragraph("", "", *inline_nodes(text))


def markdown_to_nodes(markdown: str, *, skip_title: bool = True) -> list[nodes.Node]:
    """Convert the Markdown subset a Keep-a-Changelog file uses into docutils nodes.

    ``#`` is the document title (skipped: the page has its own), ``##`` and deeper headings
    become nested sections; ``- `` items (with indented continuation lines and one level of
    nested items) become bullet lists; other runs of lines become paragraphs.
    """
    top: list[nodes.Node] = []
    stack: list[tuple[int, nodes.Element]] = []  # (heading level, section)

    def container() -> list[nodes.Node] | nodes.Element:
        return stack[-1][1] if stack else top

    def add(node: nodes.Node) -> None:
        parent = container()
        if isinstance(parent, list):
            parent.append(node)
        else:
            parent += node

    paragraph: list[str] = []
    items: list[tuple[int, list[str]]] = []  # (indent, lines) of the current bullet list

    def flush() -> None:
        if paragraph:
            add(_paragraph(paragraph))
            paragraph.clear()
        if items:
            add(_bullets(items))
            items.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            if level == 1 and skip_title:
                continue
            title = heading.group(2).strip()
            section = nodes.section("", ids=[nodes.make_id("changelog-" + title)])
            section += nodes.title("", "", *inline_nodes(title))
            while stack and stack[-1][0] >= level:
                stack.pop()
            add(section)
            stack.append((level, section))
        elif not stripped or _LINK_DEFINITION.match(stripped):
            flush()
        elif stripped.startswith(("- ", "* ")):
            if paragraph:
                add(_paragraph(paragraph))
                paragraph.clear()
            items.append((indent, [stripped[2:]]))
        elif items:
            items[-1][1].append(stripped)
        else:
            paragraph.append(stripped)
    flush()
    return top


def _bullets(items: list[tuple[int, list[str]]]) -> nodes.bullet_list:
    base = items[0][0]
    outer = nodes.bullet_list(bullet="-")
    current: nodes.list_item | None = None
    nested: nodes.bullet_list | None = None
    for indent, lines in items:
        if indent > base and current is not None:
            if nested is None:
                nested = nodes.bullet_list(bullet="-")
                current += nested
            nested += nodes.list_item("", _paragraph(lines))
        else:
            current = nodes.list_item("", _paragraph(lines))
            nested = None
            outer += current
    return outer


class MarkdownChangelog(Directive):
    """``.. markdown-changelog:: path`` (relative to the current document)."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        relative, absolute = env.relfn2path(self.arguments[0])
        path = Path(absolute)
        if not path.is_file():
            raise self.error(f"markdown-changelog: {path} does not exist.")
        env.note_dependency(relative)
        return markdown_to_nodes(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- CLI reference

_PARSER_FACTORIES = ("build_parser", "make_parser", "get_parser", "create_parser", "_build_parser")


def cli_parser() -> argparse.ArgumentParser:
    """The top-level ``ner-bert`` argument parser, from :mod:`ner_bert.cli`."""
    from ner_bert import cli

    for name in _PARSER_FACTORIES:
        factory = getattr(cli, name, None)
        if callable(factory):
            parser = factory()
            if isinstance(parser, argparse.ArgumentParser):
                return parser
    raise RuntimeError(
        f"ner_bert.cli has none of {_PARSER_FACTORIES} returning an argparse.ArgumentParser; "
        "update docs/_ext/ner_bert_docs.py:_PARSER_FACTORIES."
    )


def subcommands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of each subcommand, recursively, in definition order
    (aliases skipped)."""
    found: list[tuple[str, str, argparse.ArgumentParser]] = []
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                found.append((name, helps.get(name, ""), sub))
                found += [(f"{name} {n}", h, p) for n, h, p in subcommands(sub)]
    return found


def format_help(parser: argparse.ArgumentParser, *, width: int = HELP_WIDTH) -> str:
    """``parser.format_help()`` at a fixed width, independent of the terminal."""
    formatter_class = parser.formatter_class
    parser.formatter_class = lambda prog, _cls=formatter_class: _cls(prog, width=width)  # type: ignore[misc]
    try:
        return parser.format_help()
    finally:
        parser.formatter_class = formatter_class


class CliReference(Directive):
    """``.. ner-bert-cli::``: one section per subcommand with its ``--help`` text."""

    def run(self) -> list[nodes.Node]:
        parser = cli_parser()
        out: list[nodes.Node] = [_help_block(format_help(parser))]
        for name, summary, sub in subcommands(parser):
            section = nodes.section(
                "", ids=[nodes.make_id(f"cli-{name}")], names=[f"ner-bert {name}"]
            )
            section += nodes.title("", "", nodes.literal(text=f"ner-bert {name}"))
            if summary:
                # A literal, so smartquotes leave option names like --output alone.
                section += nodes.paragraph("", "", nodes.literal(text=summary))
            section += _help_block(format_help(sub))
            out.append(section)
        return out


class TrainingArgumentsTable(Directive):
    """``.. training-arguments-table::``: each TrainingConfig field and the
    ``transformers.TrainingArguments`` field it sets, read from ``ner_bert.training.arguments``."""

    def run(self) -> list[nodes.Node]:
        from ner_bert.training.arguments import LINKS

        rows = [[link.config, link.args] for link in LINKS]
        rows += [["mixed_precision", "bf16 / fp16"], ["device", "use_cpu (device 'cpu')"]]
        return [table(["TrainingConfig field", "TrainingArguments field"], rows)]


def _help_block(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


# --------------------------------------------------------------------------- benchmark tables

_META_KEYS = ("command", "reproduce", "description", "title", "notes", "note")
_NOT_FOR_READERS = re.compile(r"^(platform|cpu_flags|targets_met|goal_met|.*load_average.*)$")


def for_readers(data: Any) -> Any:
    """``data`` without what only the benchmark's author needs: load averages, goal flags,
    the platform string, CPU flag lists and absolute paths of the machine it ran on (the JSON
    file keeps them)."""
    if isinstance(data, dict):
        return {
            key: for_readers(value)
            for key, value in data.items()
            if not _NOT_FOR_READERS.match(str(key))
            and not (isinstance(value, str) and value.startswith("/"))
        }
    if isinstance(data, list):
        return [for_readers(item) for item in data]
    return data


def format_value(value: Any) -> str:
    """A table cell: numbers with a precision that suits their size, the rest as ``str``.

    Scores and ratios in ``[-1, 1]`` get four decimals, very small numbers (learning rates)
    the shortest exact form, large ones thousands separators.
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if value != 0 and abs(value) < 0.001:
            return f"{value:g}"
        if abs(value) <= 1:
            return f"{value:.4f}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def is_report(value: Any) -> bool:
    """Whether ``value`` is an ``EvaluationReport.to_dict()``."""
    return isinstance(value, dict) and {"conlleval", "strict", "n_sentences"} <= set(value)


def is_records(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of JSON objects (rows of a table)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flatten(data: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a JSON object into dotted scalar fields and the named parts that get their own
    table (lists of records and evaluation reports)."""
    scalars: dict[str, Any] = {}
    parts: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if is_report(value) or is_records(value):
            parts[name] = value
        elif isinstance(value, dict):
            inner_scalars, inner_parts = flatten(value, prefix=f"{name}.")
            scalars.update(inner_scalars)
            parts.update(inner_parts)
        else:
            scalars[name] = value
    return scalars, parts


def table(header: list[str], rows: list[list[str]], *, caption: str | None = None) -> nodes.table:
    """A docutils table (header row plus body rows of plain-text cells)."""
    node = nodes.table(classes=["benchmark-table"])
    if caption:
        node += nodes.title(text=caption)
    group = nodes.tgroup(cols=len(header))
    node += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += _row(header)
    body = nodes.tbody()
    group += body
    for row in rows:
        body += _row(row)
    return node


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=cell)
        row += entry
    return row


def records_table(records: list[dict[str, Any]], *, caption: str | None = None) -> nodes.table:
    """One row per record, one column per (flattened) field, in first-seen order."""
    flat = [flatten(r)[0] for r in records]
    columns: list[str] = []
    for record in flat:
        columns += [k for k in record if k not in columns]
    rows = [[format_value(r[c]) if c in r else "" for c in columns] for r in flat]
    return table(columns, rows, caption=caption)


def report_table(report: dict[str, Any], *, caption: str | None = None) -> nodes.table:
    """An ``EvaluationReport.to_dict()`` as rows per type, then micro and macro."""
    conll, strict = report["conlleval"], report["strict"]
    header = ["type", "precision", "recall", "F1", "F1 (strict)", "support"]
    rows = []
    named = [(kind, conll["per_type"][kind]) for kind in sorted(conll.get("per_type", {}))]
    named += [("micro avg", conll["micro"]), ("macro avg", conll["macro"])]
    for name, scores in named:
        if name.endswith(" avg"):
            strict_scores = strict[name.split()[0]]
        else:
            strict_scores = strict.get("per_type", {}).get(name, {})
        rows.append(
            [
                name,
                format_value(float(scores["precision"])),
                format_value(float(scores["recall"])),
                format_value(float(scores["f1"])),
                format_value(float(strict_scores["f1"])) if "f1" in strict_scores else "-",
                format_value(scores["support"]),
            ]
        )
    n = report["n_sentences"]
    caption = f"{caption} ({n:,} sentence{'' if n == 1 else 's'})" if caption else None
    return table(header, rows, caption=caption)


def _similar_groups(children: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Group sibling objects whose flattened fields mostly agree (e.g. ``ner_bert`` vs
    ``reference``): each group of two or more becomes one side-by-side table."""
    keys = {name: set(flatten(child)[0]) for name, child in children.items()}
    groups: list[list[str]] = []
    for name in children:
        for group in groups:
            first = keys[group[0]]
            shared = len(first & keys[name])
            if shared >= 2 and shared / max(1, min(len(first), len(keys[name]))) >= 0.5:
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def _render_object(data: dict[str, Any], prefix: str, out: list[nodes.Node]) -> dict[str, Any]:
    """Render ``data``'s tables into ``out``; return its remaining scalar fields (dotted)."""
    scalars: dict[str, Any] = {}
    children = {
        key: value
        for key, value in data.items()
        if isinstance(value, dict) and not is_report(value)
    }
    grouped = [g for g in _similar_groups(children) if len(g) > 1]
    in_group = {name for group in grouped for name in group}
    done_groups: set[int] = set()
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key in in_group:
            index = next(i for i, g in enumerate(grouped) if key in g)
            if index in done_groups:
                continue
            done_groups.add(index)
            group = grouped[index]
            flat = {member: flatten(children[member]) for member in group}
            rows_keys: list[str] = []
            for member in group:
                rows_keys += [k for k in flat[member][0] if k not in rows_keys]
            rows = [
                [k, *(format_value(flat[m][0][k]) if k in flat[m][0] else "" for m in group)]
                for k in rows_keys
            ]
            caption = (f"{prefix.rstrip('.')}: " if prefix else "") + " vs ".join(group)
            out.append(table(["", *group], rows, caption=caption))
            for member in group:
                for part_name, part in flat[member][1].items():
                    _render_part(part, f"{prefix}{member}.{part_name}", out)
        elif is_report(value) or is_records(value):
            _render_part(value, name, out)
        elif isinstance(value, dict):
            scalars.update(_render_object(value, f"{name}.", out))
        else:
            scalars[name] = value
    return scalars


def _render_part(value: Any, name: str, out: list[nodes.Node]) -> None:
    if is_report(value):
        out.append(report_table(value, caption=name))
    else:
        out.append(records_table(value, caption=name))


def render_parts(path: Path, parts: list[str]) -> list[nodes.Node]:
    """Only the named parts (dotted paths such as ``ner_bert.test_report``) of a results file.

    A missing part is an error, so a renamed field breaks the docs build instead of quietly
    dropping the table.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[nodes.Node] = []
    for part in parts:
        value: Any = data
        for key in part.split("."):
            if not isinstance(value, dict) or key not in value:
                raise KeyError(f"{path.name} has no field {part!r}")
            value = value[key]
        if is_report(value) or is_records(value):
            _render_part(value, f"{path.name}: {part}", out)
        elif isinstance(value, dict):
            tables: list[nodes.Node] = []
            scalars = _render_object(value, "", tables)
            if scalars:
                rows = [[name, format_value(v)] for name, v in scalars.items()]
                out.append(table(["field", "value"], rows, caption=f"{path.name}: {part}"))
            out += tables
        else:
            out.append(table(["field", "value"], [[part, format_value(value)]]))
    return out


def render_result(path: Path) -> list[nodes.Node]:
    """The nodes for one ``benchmarks/results/*.json`` file.

    Scalar fields (nested objects flattened to dotted names) form a field/value table;
    sibling objects with mostly the same fields (the sides of a comparison) form one
    side-by-side table; lists of objects and evaluation reports get tables of their own.
    """
    data = for_readers(json.loads(path.read_text(encoding="utf-8")))
    out: list[nodes.Node] = []
    if isinstance(data, list):
        out.append(
            records_table(data, caption=path.name)
            if is_records(data)
            else nodes.paragraph(text=f"{path.name}: {format_value(data)}")
        )
        return out
    if not isinstance(data, dict):
        out.append(nodes.paragraph(text=f"{path.name}: {format_value(data)}"))
        return out
    for key in ("title", "description", "notes", "note"):
        if isinstance(data.get(key), str):
            out.append(nodes.paragraph(text=data[key]))
    tables: list[nodes.Node] = []
    scalars = _render_object({k: v for k, v in data.items() if k not in _META_KEYS}, "", tables)
    if scalars:
        rows = [[name, format_value(value)] for name, value in scalars.items()]
        out.append(table(["field", "value"], rows, caption=path.name))
    out += tables
    for key in ("command", "reproduce"):
        command = data.get(key)
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        if isinstance(command, str):
            command = command.replace(" --", " \\\n    --")  # one option per line
            out.append(nodes.paragraph(text="Reproduce with:"))
            block = nodes.literal_block(command, command)
            block["language"] = "bash"
            out.append(block)
    return out


def not_measured(why: str) -> nodes.paragraph:
    """"**Not measured yet**: ``why``", what a page shows where a results file is missing."""
    para = nodes.paragraph()
    para += nodes.strong(text="Not measured yet")
    para += nodes.Text(f": {why}")
    return para


def ner_bert_first(libraries: dict[str, Any]) -> list[str]:
    """The keys of a ``compare_libraries.json`` ``libraries`` object, ner_bert's rows first."""
    return sorted(libraries, key=lambda name: not name.startswith("ner_bert"))


class BenchmarkResults(Directive):
    """``.. benchmark-results:: [glob]`` with options ``:dir:`` (default ``benchmarks/results``,
    relative to the repository root, the parent of the docs folder) and ``:parts:`` (comma-
    separated dotted paths: render only these fields of each file)."""

    optional_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {
        "dir": directives.unchanged,
        "parts": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        root = Path(env.srcdir).parent
        directory = root / self.options.get("dir", "benchmarks/results")
        pattern = self.arguments[0] if self.arguments else "*.json"
        paths = sorted(directory.glob(pattern))
        # Sphinx re-reads a document whose dependency is not a file, so a page that says "not
        # measured yet", or whose pattern could match new files, is rebuilt every time and
        # picks up results that appear later.
        if not paths or any(c in pattern for c in "*?["):
            env.note_dependency(str(directory / pattern))
        if not paths:
            where = f"{directory.relative_to(root)}/{pattern}"
            return [not_measured(f"no results file matches {where}.")]
        parts = [p.strip() for p in self.options.get("parts", "").split(",") if p.strip()]
        out: list[nodes.Node] = []
        for path in paths:
            env.note_dependency(str(path))
            try:
                out += render_parts(path, parts) if parts else render_result(path)
            except (KeyError, ValueError) as exc:
                raise self.error(f"benchmark-results: {path}: {exc}") from exc
            out += self._download_link(path, Path(env.doc2path(env.docname)).parent)
        return out

    def _download_link(self, path: Path, page_dir: Path) -> list[nodes.Node]:
        """"The whole run: name.json" as a link that downloads the file."""
        from docutils.statemachine import StringList

        relative = os.path.relpath(path, page_dir)
        holder = nodes.container()
        text = f"The whole run: :download:`{path.name} <{relative}>`."
        self.state.nested_parse(StringList([text], source=str(path)), 0, holder)
        return list(holder.children)


class LibraryComparison(Directive):
    """``.. library-comparison:: compare_libraries.json``: one row per library of a
    ``benchmarks/compare_libraries.py`` results file (F1 on words, natural sentences and
    articles; training time and prediction speed, each also as a multiple of ner_bert's).
    With ``:speed-only:`` the F1 columns are left out (a ``--quick`` probe's F1 means nothing).
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"speed-only": directives.flag}

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        path = Path(env.srcdir).parent / "benchmarks" / "results" / self.arguments[0]
        env.note_dependency(str(path))
        if not path.is_file():
            return [not_measured(f"no benchmarks/results/{path.name}.")]
        libraries = json.loads(path.read_text(encoding="utf-8"))["libraries"]
        speed_only = "speed-only" in self.options
        return [library_table(libraries, speed_only=speed_only, caption=path.name)]


def library_table(
    libraries: dict[str, dict[str, Any]], *, speed_only: bool, caption: str
) -> nodes.table:
    """The rows of :class:`LibraryComparison`, ner_bert's first."""
    reference = libraries.get("ner_bert")
    order = ner_bert_first(libraries)
    header = ["library"]
    if not speed_only:
        header += ["test F1: CoNLL words", "natural sentences", "articles"]
    header += ["training", "prediction (natural sentences)"]
    rows = []
    for name in order:
        entry = libraries[name]
        scores = entry["scores"]
        row = [f"{entry['library']} {entry['version']}"]
        if not speed_only:
            row += [f"{scores[view]['f1']:.4f}" for view in ("words", "natural", "articles")]
        minutes = f"{entry['train_seconds'] / 60:.1f} min"
        speed = f"{scores['natural']['words_per_second']:,.0f} words/s"
        if reference is not None and name != "ner_bert":
            minutes += f" ({entry['train_seconds'] / reference['train_seconds']:.1f}x)"
            reference_speed = reference["scores"]["natural"]["words_per_second"]
            speed += f" ({scores['natural']['words_per_second'] / reference_speed:.2f}x)"
        rows.append([*row, minutes, speed])
    return table(header, rows, caption=caption)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("markdown-changelog", MarkdownChangelog)
    app.add_directive("ner-bert-cli", CliReference)
    app.add_directive("benchmark-results", BenchmarkResults)
    app.add_directive("training-arguments-table", TrainingArgumentsTable)
    app.add_directive("library-comparison", LibraryComparison)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""The package's layers (docs/architecture.rst) hold: every import goes down or sideways
within a layer, never up, and the library layer has no cycle between its subpackages."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ner_bert"
BASE = {"errors", "types", "config", "labels", "_choices", "_schemes", "_words", "evaluation"}
RANK = {
    **dict.fromkeys(BASE, 0),
    "data": 1,
    "subwords": 1,
    "model": 2,
    "prediction": 3,
    "training": 3,
    "pretraining": 3,
    "cli": 4,
    "scale": 4,
    "spacy": 4,
}


def _unit(module: str) -> str | None:
    """``ner_bert.training.data`` -> ``training``; the package itself -> ``None``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ner_bert" else None


def _imports(path: Path) -> set[str]:
    """The ner_bert modules ``path`` imports (relative imports resolved)."""
    here = ["ner_bert", *path.relative_to(PACKAGE).with_suffix("").parts]
    if here[-1] == "__init__":
        here = here[:-1]
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            if target == "ner_bert":  # from .. import training: the names are the modules
                found.update(f"ner_bert.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _third_party(path: Path) -> set[str]:
    """The top-level names of the other packages ``path`` imports (anywhere in it)."""
    return {name.split(".")[0] for name in _imports(path) if not name.startswith("ner_bert")}


def _edges() -> set[tuple[str, str]]:
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        source = _unit("ner_bert." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if source in (None, "__init__", "__main__"):  # the package root imports lazily
            continue
        for target in map(_unit, (n for n in _imports(path) if n.startswith("ner_bert"))):
            if target is not None and target != source:
                edges.add((source, target))
    return edges


def test_every_module_belongs_to_a_layer() -> None:
    entries = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix in ("", ".py")}
    assert entries - {"__init__", "__main__", "__pycache__"} == set(RANK)


def test_imports_go_down_or_sideways() -> None:
    upward = [(s, t) for s, t in _edges() if RANK.get(t, 0) > RANK[s]]
    assert upward == []


def test_data_and_subwords_do_not_import_each_other() -> None:
    assert not {("data", "subwords"), ("subwords", "data")} & _edges()


def test_no_cycle_between_subpackages() -> None:
    edges = _edges()
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(s for s in graph if reaches(s, s, {s}))
    assert cycles == []


def test_spacy_is_imported_by_the_spacy_component_only() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "spacy" in _third_party(p)
    )
    assert users and all(user.startswith("spacy/") for user in users), users


def test_subwords_and_the_base_import_no_torch_and_no_transformers() -> None:
    pure = [*PACKAGE.glob("subwords/*.py"), *(PACKAGE / f"{n}.py" for n in BASE)]
    heavy = {str(p.relative_to(PACKAGE)): _third_party(p) & {"torch", "transformers"} for p in pure}
    assert {k: v for k, v in heavy.items() if v} == {}

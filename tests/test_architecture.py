"""Dependencies run one way (docs/ARCHITECTURE.md): CLI → pretrain → tokenization → core, and
pipeline → core; nothing imports the CLI; and no import circle, between folders or modules.

Every module is parsed, imports inside functions included, so a lazy import cannot hide a
dependency (nor a circle held together by imports inside functions).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTS = ("pipeline", "tokenization", "pretrain")
# layer -> the layers it may import (itself included)
ALLOWED = {
    "cli": {"cli", "pretrain", "tokenization", "pipeline", "core"},
    "pretrain": {"pretrain", "tokenization", "core"},
    "tokenization": {"tokenization", "core"},
    "pipeline": {"pipeline", "core"},
    "core": {"core"},
}


def layer(module: str) -> str:
    if module == "pipeline.cli" or module.startswith("pipeline.cli."):
        return "cli"
    if module == "pipeline.core" or module.startswith("pipeline.core."):
        return "core"
    return module.split(".", 1)[0]


def modules() -> dict[str, Path]:
    found = {}
    for part in PARTS:
        for path in sorted((REPO / part).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """Project modules `module` imports anywhere in its file (relative imports resolved).

    `from pkg import sub` imports the module pkg.sub, like `from pkg.sub import x`: pkg itself
    counts only when a name it defines is imported (`from pkg import Name`)."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            named = {f"{base}.{alias.name}" for alias in node.names}
            out.update(named)
            if not named <= PATHS.keys():
                out.add(base)
    return {m for m in out if m.split(".", 1)[0] in PARTS}


PATHS = modules()
GRAPH = {m: imports(m, p) for m, p in PATHS.items()}


def module_of(target: str) -> str | None:
    """The module an import names: `a.b.Name` → `a.b`."""
    while target not in PATHS:
        if "." not in target:
            return None
        target = target.rsplit(".", 1)[0]
    return target


def folder(module: str) -> str:
    """A module's package; a package's `__init__` sits in the package's own folder."""
    return module if PATHS[module].name == "__init__.py" else module.rsplit(".", 1)[0]


# (importer, imported) between two different modules
EDGES = sorted(
    {(m, t) for m, targets in GRAPH.items() for x in targets if (t := module_of(x)) not in (None, m)}
)


def circles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node: each reaches every other one and back."""
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for n in succ.get(todo.pop(), set()) - seen:
                seen.add(n)
                todo.append(n)
        return seen

    reached = {n: reach(n) for n in list(succ)}
    found: list[list[str]] = []
    placed: set[str] = set()
    for n in sorted(reached):
        if n not in placed:
            group = sorted(m for m in reached[n] if n in reached.get(m, ()))
            placed.update(group)
            if len(group) > 1:
                found.append(group)
    return found


def describe(edges: dict[tuple[str, str], list[str]]) -> str:
    """Each circle and the edges inside it that close it, with the imports behind each edge."""
    out = []
    for group in circles(edges):
        out.append("circle: " + ", ".join(group))
        out += [
            f"  {a} → {b}" + ("" if why == [f"{a} → {b}"] else ": " + ", ".join(why))
            for (a, b), why in sorted(edges.items())
            if a in group and b in group
        ]
    return "\n".join(out)


def test_the_layers_import_one_way() -> None:
    known = set(GRAPH)
    wrong = sorted(
        f"{m} ({layer(m)}) imports {t} ({layer(t)})"
        for m, targets in GRAPH.items()
        for t in targets
        if t in known and layer(t) not in ALLOWED[layer(m)]
    )
    assert not wrong, "imports against the one-way rule:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("pipeline.run", "tokenization.train", False),
        ("tokenization.encode", "pipeline.run", False),
        ("tokenization.encode", "pipeline.core.atomic", True),
        ("pretrain.train", "pipeline.cli.common", False),
        ("pipeline.cli.demo", "pretrain.runs", True),
        ("pipeline.core.atomic", "pipeline.io.collector", False),
    ],
)
def test_the_rule_itself(importer: str, imported: str, allowed: bool) -> None:
    assert (layer(imported) in ALLOWED[layer(importer)]) is allowed


def test_no_import_circle_between_folders() -> None:
    """A folder imports the folders below it, never one that imports it back."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a, b in EDGES:
        if folder(a) != folder(b):
            edges[folder(a), folder(b)].append(f"{a} → {b}")
    found = describe(edges)
    assert not found, "import circles between folders:\n" + found


def test_no_import_circle_between_modules() -> None:
    """Modules too: a package `__init__` that imports its submodules counts, so they must not import it."""
    found = describe({edge: [f"{edge[0]} → {edge[1]}"] for edge in EDGES})
    assert not found, "import circles between modules:\n" + found


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([("a", "b"), ("b", "c")], []),
        ([("a", "b"), ("b", "a"), ("c", "a")], [["a", "b"]]),
        (
            [("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "d"), ("c", "d")],
            [["a", "b", "c"], ["d", "e"]],
        ),
    ],
)
def test_circles_are_the_groups_that_reach_each_other(edges: list, expected: list) -> None:
    assert circles(edges) == expected


def test_a_folder_is_the_package_and_a_package_init_sits_in_its_own() -> None:
    assert [folder(m) for m in ("pipeline", "pipeline.run", "pipeline.dedup", "pipeline.dedup.job")] == [
        "pipeline",
        "pipeline",
        "pipeline.dedup",
        "pipeline.dedup",
    ]


def test_from_a_package_import_a_module_is_an_import_of_that_module(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("from pipeline.core import atomic\nfrom pipeline.steps import StepResult\n")
    assert imports("pipeline.dedup.x", source) == {
        "pipeline.core.atomic",
        "pipeline.steps",
        "pipeline.steps.StepResult",
    }

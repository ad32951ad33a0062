"""Dependencies run one way (docs/ARCHITECTURE.md): CLI → pretrain → tokenization → core, and
pipeline → core; nothing imports the CLI.

Every module is parsed, imports inside functions included, so a lazy import cannot hide a
dependency.
"""

from __future__ import annotations

import ast
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
    """Project modules `module` imports anywhere in its file (relative imports resolved)."""
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
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".", 1)[0] in PARTS}


GRAPH = {m: imports(m, p) for m, p in modules().items()}


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
        ("pipeline.core.atomic", "pipeline.io.records", False),
    ],
)
def test_the_rule_itself(importer: str, imported: str, allowed: bool) -> None:
    assert (layer(imported) in ALLOWED[layer(importer)]) is allowed

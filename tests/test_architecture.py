"""The package's structure, held to what DESIGN.md promises: checked from the sources.

- daskpar's modules are private (``_name.py``) and call each other by public names only: no
  ``from ._module import _name``, so a module's underscored names are its own business;
- graphs are built in ``_graph.py`` only (``HighLevelGraph``, ``da.blockwise``, ``da.Array``);
- every state merge goes through ``reduce_partitions`` (no other module calls ``tree_combine``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "daskpar"
MODULES = sorted(PACKAGE.rglob("*.py"))


def source(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_underscored_names_across_modules(path: Path) -> None:
    imported = [
        f"{node.lineno}: from {'.' * node.level}{node.module} import {alias.name}"
        for node in ast.walk(source(path))
        if isinstance(node, ast.ImportFrom) and node.level > 0
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert imported == [], f"{path.name} imports private names of other modules: {imported}"


GRAPH_BUILDERS = {"HighLevelGraph", "blockwise", "tree_combine"}


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.name != "_graph.py"], ids=lambda p: p.name
)
def test_graphs_are_built_in_graph_module_only(path: Path) -> None:
    used = {
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(source(path))
        if isinstance(node, ast.Attribute | ast.Name)
    }
    assert used & GRAPH_BUILDERS == set(), f"{path.name} builds graphs itself"


def test_the_checks_can_fail() -> None:
    """The scans see what they look for (in the module that is allowed to have it)."""
    graph = {
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(source(PACKAGE / "_graph.py"))
        if isinstance(node, ast.Attribute | ast.Name)
    }
    assert graph >= GRAPH_BUILDERS

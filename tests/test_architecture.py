"""The package's structure, held to what DESIGN.md promises: checked from the sources.

- daskpar's modules are private (``_name.py``) and call each other by public names only: no
  ``from ._module import _name``, so a module's underscored names are its own business;
- graphs are built in ``_graph.py`` only (``HighLevelGraph``, ``da.blockwise``, ``da.Array``);
- every state merge goes through ``reduce_partitions`` (no other module calls ``tree_combine``);
- imports point down the layers of :data:`LAYERS`, at module level and inside functions alike,
  and form no cycle; a module imports daskpar's modules inside a function only where
  :data:`LAZY_IMPORTS` says why;
- dask's and distributed's internal modules are imported in ``_dask_compat.py`` only, as
  scikit-learn's private API is in ``_sklearn_compat.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from itertools import pairwise
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


# --------------------------------------------------------------------------------------------
# Layers

#: daskpar's modules from the ground up; a module imports from its own layer and those below.
#:
#: 1. fences and foundations: the exception tree, the mergeable states, and the only modules
#:    that reach into scikit-learn's private API and dask's internals;
#: 2. lazy blocks in: the graph, the input checks, the readers and generators;
#: 3. persistence: the audit log (and its data fingerprint), model files and ``save``. Model
#:    files name daskpar's classes as strings (``persist.trusted_types``) instead of importing
#:    them, so persistence sits below everything that is saved or audited: the native learner
#:    has ``save``, and the pass and the scorers write to the audit log;
#: 4. what one block does: how each model family fits a block and finalizes (daskpar's own
#:    learner, ``_adaptive``, is one of the families), and the metrics and scorers;
#: 5. the pass and epoch loop over the blocks, and its checkpoints (model files of a run,
#:    holding the pass's block digests);
#: 6. the estimators: check, plan, run, set;
#: 7. the edges: the command line, plots, certificates, the embedded cluster, and the package
#:    itself (``daskpar/__init__.py``, which exports them all and which the CLI uses).
#:
#: A subpackage (``daskpar.metrics``, ``daskpar._cli``) is one entry: its modules import each
#: other freely.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "daskpar.errors daskpar._states daskpar._sklearn_compat daskpar._dask_compat",
        "daskpar._graph daskpar._validation daskpar._columns daskpar._generate daskpar._io "
        "daskpar._split daskpar._murmur daskpar._coalesce daskpar._cluster_check "
        "daskpar.data",
        "daskpar.audit daskpar._fingerprint daskpar.persist daskpar._saving "
        "daskpar._model_file daskpar._model_keys",
        "daskpar._families daskpar._adaptive daskpar.metrics",
        "daskpar._pass daskpar._checkpoint",
        "daskpar._incremental daskpar._linear daskpar._preprocessing daskpar._encoders "
        "daskpar._hashing daskpar._text daskpar._decomposition daskpar._truncated_svd "
        "daskpar._kmeans "
        "daskpar._compose daskpar._search",
        "daskpar._cli daskpar.plot daskpar.tls daskpar._cluster daskpar",
    )
)

#: Modules (or subpackages, all their modules) that import daskpar's modules inside
#: functions, and why.
LAZY_IMPORTS = {
    "daskpar._cli": "a click group with lazy imports: `daskpar --help` imports no dask",
}


@dataclass(frozen=True)
class Import:
    """One module named by an import statement: a daskpar module or another package's."""

    line: int
    module: str  # absolute: "daskpar.metrics._scorer", "dask.task_spec"
    names: tuple[str, ...]  # what ``from module import ...`` takes (empty for a submodule)
    in_function: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_daskpar_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path, text: str | None = None) -> list[Import]:
    """Every import in the module at ``path`` (or in ``text``, read as that module)."""
    tree = ast.parse(path.read_text() if text is None else text, filename=str(path))
    module = module_name(path)
    nested = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for node in ast.walk(function)
    }
    found = []
    for node in ast.walk(tree):
        inside = id(node) in nested
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name, (), inside) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up ``level - 1`` packages
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                parts = package.split(".")[: package.count(".") + 2 - node.level]
                base = ".".join([*parts, node.module] if node.module else parts)
            names = tuple(alias.name for alias in node.names)
            # ``from . import audit`` imports a module; ``from .metrics import Scorer`` a name.
            submodules = [n for n in names if is_daskpar_module(f"{base}.{n}")]
            found += [Import(node.lineno, f"{base}.{n}", (), inside) for n in submodules]
            rest = tuple(n for n in names if n not in submodules)
            if rest:
                found.append(Import(node.lineno, base, rest, inside))
    return found


def daskpar_imports(path: Path, text: str | None = None) -> list[Import]:
    return [
        i for i in imports(path, text) if i.module == "daskpar" or i.module.startswith("daskpar.")
    ]


def layer(module: str) -> int:
    """The index in :data:`LAYERS` of a module (a subpackage's modules are in its layer)."""
    entry = ".".join(module.split(".")[:2])
    return next(i for i, names in enumerate(LAYERS) if entry in names)


def upward(path: Path, text: str | None = None) -> list[str]:
    mine = layer(module_name(path))
    return [
        f"{i.line}: {i.module}" + (" (in a function)" if i.in_function else "")
        for i in daskpar_imports(path, text)
        if layer(i.module) > mine
    ]


def test_every_module_is_in_one_layer() -> None:
    entries = {".".join(module_name(p).split(".")[:2]) for p in MODULES}
    listed = [name for names in LAYERS for name in names]
    assert sorted(listed) == sorted(set(listed)), "a module is in two layers"
    assert set(listed) == entries


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path: Path) -> None:
    assert upward(path) == [], f"{module_name(path)} imports from a layer above its own"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_daskpar_is_imported_at_module_level(path: Path) -> None:
    """An import inside a function hides a dependency (and used to hide import cycles)."""
    if ".".join(module_name(path).split(".")[:2]) in LAZY_IMPORTS:  # a subpackage: all of it
        return
    inside = [f"{i.line}: {i.module}" for i in daskpar_imports(path) if i.in_function]
    assert inside == [], f"{module_name(path)} imports daskpar inside functions: {inside}"


def import_graph() -> dict[str, set[str]]:
    """Module -> the daskpar modules its imports run, wherever the import statement is.

    Importing ``daskpar.metrics._base`` runs ``daskpar.metrics`` (its ``__init__``) first; the
    package's own ``__init__`` is left out, as it is always the first to run.
    """
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        module = module_name(path)
        targets = graph.setdefault(module, set())
        for i in daskpar_imports(path):
            parts = i.module.split(".")
            targets |= {
                parent
                for parent in (".".join(parts[:n]) for n in range(2, len(parts) + 1))
                if not module.startswith(f"{parent}.") and parent != module
            }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """An import cycle of ``graph`` (its first module repeated at the end), or []."""
    remaining = {module: set(targets) for module, targets in graph.items()}
    while sinks := [m for m, targets in remaining.items() if not targets & remaining.keys()]:
        for module in sinks:
            del remaining[module]
    if not remaining:
        return []
    # Every module left imports one that is left: following them must come back.
    path = [min(remaining)]
    while path[-1] not in path[:-1]:
        path.append(min(remaining[path[-1]] & remaining.keys()))
    return path[path.index(path[-1]) :]


def test_no_import_cycles() -> None:
    assert find_cycle(import_graph()) == []


# --------------------------------------------------------------------------------------------
# dask's internals, in one module

#: dask's and distributed's public API, the modules any daskpar module may import from; None
#: takes every name, a set only those (the modules' other names are internal).
DASK_PUBLIC: dict[str, frozenset[str] | None] = {
    "dask": None,
    "dask.array": None,
    "dask.dataframe": None,
    "dask.bag": None,
    "dask.config": None,
    "dask.delayed": None,
    "dask.tokenize": None,
    # Also exported by ``dask`` itself.
    "dask.base": frozenset({"tokenize", "is_dask_collection"}),
    # Documented in dask's "High Level Graphs" API.
    "dask.highlevelgraph": frozenset({"HighLevelGraph"}),
    # dask's documented utilities.
    "dask.utils": frozenset({"format_bytes", "format_time", "parse_bytes", "parse_timedelta"}),
    "distributed": None,
    # Documented in distributed's "Plugins" API.
    "distributed.diagnostics.plugin": frozenset({"NannyPlugin", "SchedulerPlugin", "WorkerPlugin"}),
}
#: Modules still importing ``dask.task_spec`` themselves, and why; the test fails once one
#: imports none, to take it off this list.
DASK_INTERNALS_PENDING: dict[str, str] = {}


def dask_internals(path: Path) -> list[str]:
    """The imports of dask's and distributed's modules beyond :data:`DASK_PUBLIC`."""
    found = []
    for i in imports(path):
        if i.module.partition(".")[0] not in ("dask", "distributed"):
            continue
        public = DASK_PUBLIC.get(i.module, frozenset())
        if public is not None and (not i.names or not set(i.names) <= public):
            found.append(f"{i.line}: {i.module} {', '.join(i.names)}".rstrip())
    return found


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.name != "_dask_compat.py"], ids=lambda p: p.name
)
def test_dask_internals_are_imported_in_dask_compat_only(path: Path) -> None:
    found = dask_internals(path)
    if module_name(path) in DASK_INTERNALS_PENDING:
        assert found, f"{path.name} is clean: take it off DASK_INTERNALS_PENDING"
        found = [f for f in found if not f.split(": ")[1].startswith("dask.task_spec ")]
    assert found == [], f"{path.name} imports dask's internals"


def test_the_import_checks_can_fail() -> None:
    """The scans see what they look for: an upward import even inside a function, a cycle,
    and dask's internals where they are allowed."""
    scorer = PACKAGE / "metrics" / "_scorer.py"
    reach_up = "def f():\n    from .._search import GridSearchCV\n"
    assert upward(scorer, reach_up) == ["2: daskpar._search (in a function)"]
    assert [i.module for i in daskpar_imports(scorer, "from .. import audit")] == ["daskpar.audit"]
    graph = import_graph()
    assert "daskpar._graph" in graph["daskpar._validation"]
    graph["daskpar._graph"] = graph["daskpar._graph"] | {"daskpar._validation"}
    cycle = find_cycle(graph)
    assert cycle[0] == cycle[-1]
    assert ("daskpar._graph", "daskpar._validation") in set(pairwise(cycle))
    compat = [f.split(": ")[1] for f in dask_internals(PACKAGE / "_dask_compat.py")]
    assert "dask.task_spec DataNode, GraphNode, List, Task, TaskRef" in compat
    assert "dask.base compute_as_if_collection, get_scheduler" in compat
    assert dask_internals(PACKAGE / "_graph.py") == []

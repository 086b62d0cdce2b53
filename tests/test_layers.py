"""The package's layers: every import points down, and no modules import each other.

A lower layer importing a higher one (the model code reaching into the engine, the database
layer into the API's schemas) is how cycles and hidden coupling start; this test keeps the layout
honest. Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deepverify

PACKAGE = Path(deepverify.__file__).parent

# Lowest first. A module belongs to the longest unit naming it; the package root's own small
# modules (errors, defaults, geometry, ...) are the base every layer may use.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("deepverify",),
    ("deepverify.faces", "deepverify.decision", "deepverify.explain"),
    ("deepverify.video",),
    ("deepverify.provenance",),
    ("deepverify.model",),
    ("deepverify.engine",),
    ("deepverify.scoring",),
    ("deepverify.report",),
    ("deepverify.pipeline",),
    ("deepverify.live",),
    ("deepverify.training", "deepverify.service.core"),
    ("deepverify.service.jobs",),
    ("deepverify.service.services",),
    ("deepverify.service.api",),
    ("deepverify.service",),
    ("deepverify.cli",),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:  # Alembic's scripts, loaded by Alembic
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path, *, top_level_only: bool) -> set[str]:
    """The package's modules that ``name`` imports (a ``from pkg import mod`` names ``mod``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {module for module in found if module in MODULES}


def _unit(module: str) -> str:
    return max((u for u in RANK if module == u or module.startswith(u + ".")), key=len)


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if m != "deepverify" and _unit(m) == "deepverify" and "." in m]
    base = {m.removeprefix("deepverify.") for m in unplaced}
    # The base holds only small dependency-free helpers and the one core function's module.
    assert base <= {
        "errors", "defaults", "extras", "geometry", "stages", "files", "imaging", "calibration",
        "onnx_session",
    }, sorted(base)  # fmt: skip


def test_imports_point_down() -> None:
    upward = []
    for name, path in MODULES.items():
        for target in _imports(name, path, top_level_only=False):
            source_unit, target_unit = _unit(name), _unit(target)
            if source_unit == target_unit:
                continue
            if RANK[target_unit] >= RANK[source_unit]:
                upward.append(f"{name} -> {target}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = {n: _imports(n, p, top_level_only=True) - {n} for n, p in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> list[str] | None:
        if module in stack:
            return [*stack[stack.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            cycle = visit(target, [*stack, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        assert cycle is None, " -> ".join(cycle)


def test_layers_are_real_packages() -> None:
    assert all(unit in MODULES for unit in RANK), sorted(set(RANK) - set(MODULES))

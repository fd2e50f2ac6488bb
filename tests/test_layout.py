"""The package layout holds: imports run one way along the data walk, no cycles,
no module reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "segkit"

#: Layers in the order of the data walk; a module may import its own layer or an
#: earlier one, never a later one. ``base`` holds what every stage shares.
LAYERS = (
    "base",
    "data",
    "features",
    "clustering",
    "validation",
    "profiles",
    "scoring",
    "runner",
)
_TOP = {"__init__", "__main__"}  # the lazy front door re-exports from everywhere


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    head = parts[1]
    return head if head in LAYERS else "base"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every segkit import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Imports under ``if TYPE_CHECKING:`` never run: annotations only.
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "segkit" or node.module.startswith("segkit."):
                names = [a.name for a in node.names]
                if node.module == "segkit":  # from segkit import data -> segkit.data
                    for name in names:
                        found.append((f"segkit.{name}", [], node.lineno))
                else:
                    found.append((node.module, names, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("segkit"):
                    found.append((alias.name, [], node.lineno))
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_imports_follow_the_data_walk():
    bad = []
    for module, path in _modules().items():
        if path.stem in _TOP and _layer(module) == "base":
            continue
        here = LAYERS.index(_layer(module))
        for target, _, line in _imports(path):
            there = LAYERS.index(_layer(target))
            if there > here:
                bad.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
                )
    assert not bad, "imports against the data walk:\n" + "\n".join(bad)


def test_no_module_imports_another_modules_private_names():
    bad = []
    for module, path in _modules().items():
        for target, names, line in _imports(path):
            private = [n for n in names if n.startswith("_")]
            if private and target != module:
                bad.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} {target}: {private}"
                )
    assert not bad, "\n".join(bad)


def test_the_import_graph_has_no_cycles():
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        if path.stem in _TOP and _layer(module) == "base":
            continue
        deps = set()
        for target, names, _ in _imports(path):
            # "from segkit.data import io" imports segkit.data.io
            for name in names:
                if f"{target}.{name}" in modules:
                    deps.add(f"{target}.{name}")
            if target in modules:
                deps.add(target)
        graph[module] = deps - {module}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state.get(dep) is None:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)


def test_the_layer_rule_catches_a_backwards_import(tmp_path):
    # The checker itself can fail: a data module importing the clustering stage.
    assert LAYERS.index(_layer("segkit.data.io")) < LAYERS.index(
        _layer("segkit.clustering.model")
    )
    assert _layer("segkit.config") == "base"
    assert _layer("segkit.runner.cli") == "runner"


def test_importing_segkit_loads_no_stage():
    import subprocess
    import sys

    code = (
        "import sys, segkit; "
        "heavy = [m for m in ('pandas', 'sklearn', 'ibis', 'segkit.data') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


#: Hard cap on a module's length; the goal is ~500 lines (split past it where one
#: job per module reads better), this cap only stops a module from growing on.
MAX_MODULE_LINES = 600


def _too_long(paths, limit: int, root: Path) -> list[str]:
    out = []
    for path in paths:
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root)}: {n} lines")
    return out


def test_every_module_stays_under_the_line_cap():
    bad = _too_long(_modules().values(), MAX_MODULE_LINES, PACKAGE.parent)
    assert not bad, (
        f"modules over {MAX_MODULE_LINES} lines (aim for ~500; split by job):\n"
        + "\n".join(bad)
    )


def test_the_line_cap_catches_a_long_module(tmp_path):
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    short = tmp_path / "short.py"
    short.write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    found = _too_long([long, short], MAX_MODULE_LINES, tmp_path)
    assert found == [f"long.py: {MAX_MODULE_LINES + 1} lines"]

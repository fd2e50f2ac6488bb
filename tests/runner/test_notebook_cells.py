"""The real notebooks: static rules for every one, and a full report on the fixture.

Static checks hold the notebook rules of STYLE.md (committed without outputs,
kernel metadata, a literals-only ``parameters`` cell, a standard opening cell, no
``def``/``class``, short cells, a markdown title). The slow test runs the report
runner over ``tests/fixtures/retail_small.yaml`` exactly as ``segkit report`` does.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from segkit.pipeline import STEPS
from segkit.runner.manifest import read_manifest
from segkit.runner.notebooks import NOTEBOOK_PATTERN, RUNNER_PARAMETERS, run_report
from tests.conftest import ROOT

NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name)
)
OPEN_CELL = [
    "import segkit",
    "ctx = segkit.context.open_run(config_path, run_dir or None, overrides)",
]
KERNELSPEC = {"name": "segkit", "display_name": "segkit (.venv)", "language": "python"}
MAX_CELL_LINES = 10
# Main artifacts each step leaves (docs/architecture.md, segkit/pipeline.py).
STEP_ARTIFACTS = {
    "data": ["ledger.csv", "transactions.parquet"],
    "features": ["features.parquet"],
    "value": ["value.json"],
    "compare": ["labels.parquet"],
    "validate": [],
    "profile": ["assignments.csv", "segments.json"],
}

# The steps each numbered notebook runs (02 also estimates customer value).
NOTEBOOK_STEPS = {
    1: ("data",),
    2: ("features", "value"),
    3: ("compare",),
    4: ("validate",),
    5: ("profile",),
}
assert {s for steps in NOTEBOOK_STEPS.values() for s in steps} == set(STEPS)

notebook_params = pytest.mark.parametrize(
    "path",
    NOTEBOOKS
    or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"))],
    ids=lambda p: p.stem if p else "none",
)


def _read(path):
    return nbformat.read(str(path), as_version=4)


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@notebook_params
def test_notebook_is_valid_and_committed_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.outputs or cell.execution_count is not None)
    ]
    assert dirty == [], f"{path.name}: cells {dirty} hold outputs or execution counts"


@notebook_params
def test_notebook_has_segkit_kernelspec_and_language_info(path):
    nb = _read(path)
    assert dict(nb.metadata.get("kernelspec", {})) == KERNELSPEC
    assert nb.metadata.get("language_info", {}).get("name") == "python"


@notebook_params
def test_notebook_starts_with_a_markdown_title(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.lstrip().startswith("# ")


@notebook_params
def test_second_cell_is_a_literals_only_parameters_cell(path):
    cell = _read(path).cells[1]
    assert cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    names = []
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), f"{path.name}: only assignments allowed"
        assert len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        assert _is_literal(node.value), (
            f"{path.name}: {ast.unparse(node)} is not a literal"
        )
        names.append(node.targets[0].id)
    assert set(RUNNER_PARAMETERS) <= set(names)


@notebook_params
def test_third_cell_opens_the_run(path):
    cell = _read(path).cells[2]
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    assert cell.cell_type == "code" and lines == OPEN_CELL


@notebook_params
def test_code_cells_are_short_and_define_nothing(path):
    for i, cell in enumerate(_code_cells(_read(path))):
        lines = cell.source.strip().splitlines()
        assert len(lines) <= MAX_CELL_LINES, (
            f"{path.name} code cell {i}: {len(lines)} lines"
        )
        defined = [
            node
            for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        assert defined == [], f"{path.name} code cell {i} defines a function or class"


@pytest.mark.slow
def test_full_report_over_the_small_fixture_runs_every_notebook(tmp_path):
    if not NOTEBOOKS:
        pytest.skip("no numbered notebooks in notebooks/ yet")
    result = run_report(
        ROOT / "tests" / "fixtures" / "retail_small.yaml", output_dir=tmp_path
    )
    errors = {nb.name: nb.error for nb in result.notebooks if nb.status != "ok"}
    assert errors == {}
    run_dir = result.run_dir
    assert read_manifest(run_dir / "manifest.json")["status"] == "ok"
    assert (run_dir / "index.html").exists()
    for path in NOTEBOOKS:
        page = (run_dir / f"{path.stem}.html").read_text(encoding="utf-8")
        assert '<nav class="sk sk-toc"' in page
        assert '<img src="http' not in page
        assert (run_dir / "notebooks" / path.name).exists()
        number = int(path.name[:2])
        for step in NOTEBOOK_STEPS.get(number, ()):
            assert (run_dir / "artifacts" / "steps" / f"{step}.json").exists()
            for name in STEP_ARTIFACTS[step]:
                assert (run_dir / "artifacts" / name).exists(), (
                    f"{step}: {name} missing"
                )

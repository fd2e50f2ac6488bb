"""The report runs' papermill engine: fewer saves, every output still kept."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from segkit.runner import engine
from tests.runner.test_notebooks import write_notebook


def _run(source, target, monkeypatch):
    """Execute with the segkit engine; return the managers it built."""
    managers = []

    class Counting(engine.SparseSaves):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(engine, "SparseSaves", Counting)
    papermill.execute_notebook(
        str(source),
        str(target),
        kernel_name="segkit",
        engine_name=engine.ENGINE,
        progress_bar=False,
    )
    return managers


def _outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    return [
        "".join(o.get("text", "")).strip()
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.output_type == "stream"
    ]


def test_quick_cells_are_saved_once_at_the_start_and_once_at_the_end(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(engine.SparseSaves, "every", 600.0)
    cells = [("code", f"print({i})") for i in range(8)]
    source = write_notebook(tmp_path / "01-quick.ipynb", *cells)
    target = tmp_path / "out.ipynb"
    (manager,) = _run(source, target, monkeypatch)
    # papermill's own engine saves twice per cell, here 2 x 9 + 2
    assert manager.saves == 2
    assert _outputs(target) == [str(i) for i in range(8)]


def test_a_failing_notebook_keeps_every_output_before_the_failure(
    tmp_path, monkeypatch
):
    cells = [("code", "print('before')"), ("code", "raise ValueError('planted')")]
    cells.append(("code", "print('never')"))
    source = write_notebook(tmp_path / "01-fails.ipynb", *cells)
    target = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match="planted"):
        _run(source, target, monkeypatch)
    nb = nbformat.read(str(target), as_version=4)
    errors = [
        o.evalue
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]
    assert errors == ["planted"]
    assert _outputs(target) == ["before"]


def test_a_long_notebook_is_saved_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(engine.SparseSaves, "every", 0.3)
    cells = [("code", "import time\ntime.sleep(0.4)\nprint('slept')")] * 3
    source = write_notebook(tmp_path / "01-slow.ipynb", *cells)
    target = tmp_path / "out.ipynb"
    (manager,) = _run(source, target, monkeypatch)
    assert manager.saves >= 4
    assert _outputs(target) == ["slept"] * 3

"""A full report over the small fixture, built once per session for the page checks.

``fixture_run`` runs every numbered notebook on ``tests/fixtures/retail_small.yaml``
with the real runner (about two minutes on two cores), so the tests that read its
pages (tests/runner/test_html.py, test_browser.py, test_one_truth.py) share one
run. Tests using it are marked slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory) -> Path:
    """The run folder of a full report over the small fixture (every page ok)."""
    from segkit.runner.notebooks import run_report

    result = run_report(
        ROOT / "tests" / "fixtures" / "retail_small.yaml",
        output_dir=tmp_path_factory.mktemp("fixture-run") / "reports",
    )
    failed = {nb.name: nb.error for nb in result.notebooks if nb.status != "ok"}
    assert failed == {}, f"the fixture report failed: {failed}"
    return result.run_dir

"""Report pages import no fitting or drawing library until they compute or draw.

A rerun's pages read reused artifacts and take their figures from the figure
cache; each notebook kernel then only needs pandas, matplotlib's Figure and the
config. Seaborn, scikit-learn, scipy.stats and Ibis (each 0.4-1.6 s to import,
in every kernel) load when a step computes or a chart is drawn.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("seaborn", "sklearn", "scipy.stats", "ibis", "umap", "pymc_marketing")


def _imports(notebook: Path) -> list[str]:
    lines = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [
                line
                for line in source.splitlines()
                if line.startswith(("import ", "from "))
            ]
    return lines


@pytest.mark.parametrize(
    "notebook",
    sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")),
    ids=lambda p: p.name,
)
def test_a_notebooks_imports_load_no_fitting_or_drawing_library(notebook):
    imports = _imports(notebook)
    assert any("segkit" in line for line in imports), imports
    script = "\n".join(
        [*imports, "import sys", f"print([m for m in {HEAVY!r} if m in sys.modules])"]
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.strip() == "[]", (notebook.name, done.stdout, imports)

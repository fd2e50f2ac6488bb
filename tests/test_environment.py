"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from the PyPI names.
CONDA_TO_PYPI = {
    "ibis-framework-duckdb": "ibis-framework",
    "python-duckdb": "duckdb",
}
CONDA_ONLY = {"python", "pip", "openjdk"}


def _name_and_bound(spec: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", spec)
    assert match, spec
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    specs = list(project["dependencies"]) + list(
        project["optional-dependencies"]["dev"]
    )
    return dict(_name_and_bound(s) for s in specs)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for item in env["dependencies"]:
        if isinstance(item, dict):
            continue
        name, bound = _name_and_bound(item.split("#")[0])
        if name in CONDA_ONLY:
            continue
        out[CONDA_TO_PYPI.get(name, name)] = bound
    return out


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert set(_conda()) == set(_pyproject())


def test_environment_yml_uses_the_same_version_bounds_as_pyproject():
    pip, conda = _pyproject(), _conda()
    mismatched = {
        n: (pip[n], conda[n]) for n in pip if n in conda and pip[n] != conda[n]
    }
    assert mismatched == {}


def test_environment_yml_installs_segkit_itself_and_python_312():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.12" in env["dependencies"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requires["requires-python"] == ">=3.12"
    pip_part = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip_part


def test_find_python_explains_what_it_tried_when_there_is_none(tmp_path):
    import shutil
    import subprocess

    out = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "find-python")],
        env={"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "needs Python >= 3.12" in out.stderr
    assert "python3.12 (not on PATH)" in out.stderr
    assert "PYTHON=" in out.stderr


def test_find_python_finds_a_312_or_newer_here():
    import subprocess

    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "find-python")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    version = subprocess.run(
        [out.stdout.strip(), "-c", "import sys; print(sys.version_info >= (3, 12))"],
        capture_output=True,
        text=True,
    )
    assert version.stdout.strip() == "True"

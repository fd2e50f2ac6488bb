"""Kernels forked from the preloaded fork server (segkit.runner.kernels).

A forked kernel must be a kernel like a launched one: same outputs (figures
included), its own process group, the working directory and the environment of
the launch, and the modules of PRELOAD already there when its first cell runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from segkit.runner import fork_server, kernels
from segkit.runner.notebooks import run_report
from tests.runner.test_notebooks import PLOT_CELLS, make_config, write_notebook

PYTHON = sys.executable


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (
            [
                PYTHON,
                "-Xfrozen_modules=off",
                "-m",
                "ipykernel_launcher",
                "-f",
                "c.json",
            ],
            ["-f", "c.json"],
        ),
        ([PYTHON, "-m", "ipykernel_launcher", "-f", "c.json"], ["-f", "c.json"]),
        # another interpreter (another venv's python) has other packages
        (["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "c.json"], None),
        # another kernel module, or a flag that changes what runs
        ([PYTHON, "-m", "other_kernel", "-f", "c.json"], None),
        ([PYTHON, "-S", "-m", "ipykernel_launcher", "-f", "c.json"], None),
        ([PYTHON, "-c", "print(1)"], None),
        (["python", "-m", "ipykernel_launcher"], None),  # not an absolute path
    ],
)
def test_only_this_interpreters_ipykernel_commands_are_forked(cmd, expected):
    assert kernels.forkable(cmd) == expected


@pytest.mark.parametrize(
    ("value", "enabled"), [("", True), ("1", True), ("0", False), ("no", False)]
)
def test_the_environment_variable_turns_forking_off(monkeypatch, value, enabled):
    monkeypatch.setenv(fork_server.ENV, value)
    assert fork_server.forking_enabled() is enabled


# What the kernel saw at its first cell, before it imported anything itself.
PROBE = (
    "code",
    "import json, os, sys, pathlib\n"
    "probe = {\n"
    "    'preloaded': 'segkit.profiles.report' in sys.modules,\n"
    "    'own_group': os.getpgid(0) == os.getpid(),\n"
    "    'cwd': os.getcwd(),\n"
    "    'marker': os.environ.get('SEGKIT_TEST_MARKER'),\n"
    "    'backend': os.environ.get('MPLBACKEND'),\n"
    "}\n"
    "(pathlib.Path(run_dir) / 'artifacts' / 'probe.json').write_text(json.dumps(probe))",
)


def _run(tmp_path, monkeypatch, fork: str, marker: str):
    monkeypatch.setenv(fork_server.ENV, fork)
    # set after any earlier test started the fork server: the kernel must get the
    # environment of its own launch, not the server's
    monkeypatch.setenv("SEGKIT_TEST_MARKER", marker)
    folder = tmp_path / f"fork{fork}"
    folder.mkdir()
    config = make_config(folder)
    nbs = folder / "nbs"
    write_notebook(nbs / "01-plot.ipynb", PROBE, *PLOT_CELLS)
    result = run_report(config, notebooks_dir=nbs, output_dir=folder / "reports")
    assert result.status == "ok", [nb.error for nb in result.notebooks]
    probe = json.loads((result.run_dir / "artifacts" / "probe.json").read_text())
    executed = nbformat.read(
        str(result.run_dir / "notebooks" / "01-plot.ipynb"), as_version=4
    )
    outputs = [
        [
            {k: v for k, v in out.items() if k != "execution_count"}
            for out in cell.get("outputs", [])
        ]
        for cell in executed.cells
        if cell.cell_type == "code"
    ]
    return probe, outputs, nbs


def test_a_forked_kernel_runs_a_notebook_as_a_launched_one_does(tmp_path, monkeypatch):
    forked, forked_outputs, nbs = _run(tmp_path, monkeypatch, "1", "first")
    launched, launched_outputs, _ = _run(tmp_path, monkeypatch, "0", "second")

    assert forked["preloaded"] and not launched["preloaded"]
    for probe, marker in ((forked, "first"), (launched, "second")):
        assert probe["own_group"]
        assert probe["marker"] == marker
        assert probe["backend"] == "module://matplotlib_inline.backend_inline"
    assert forked["cwd"] == str(nbs) and launched["cwd"] == str(
        tmp_path / "fork0" / "nbs"
    )
    # the same outputs of the chart and the stderr cells, the PNG byte for byte
    # (the cells before write run-specific paths)
    forked_outputs, launched_outputs = forked_outputs[-2:], launched_outputs[-2:]
    images = [
        out["data"]["image/png"]
        for cell in forked_outputs
        for out in cell
        if "image/png" in out.get("data", {})
    ]
    assert len(images) == 1
    assert forked_outputs == launched_outputs


def test_kernels_are_not_forked_from_a_server_holding_older_code(monkeypatch):
    # the server of this process started (or starts now) with today's sources
    monkeypatch.delenv(fork_server.ENV, raising=False)
    assert fork_server.start_server()
    current = fork_server.source_signature()
    assert fork_server.start_server()  # unchanged sources: the server is used
    edited = (*current[:-1], (current[-1][0], current[-1][1] + 1, current[-1][2]))
    monkeypatch.setattr(fork_server, "source_signature", lambda: edited)
    assert not fork_server.start_server()  # an edited file: kernels launch anew


def test_the_fork_server_module_imports_only_the_standard_library():
    # the command line starts the server before it imports pandas or papermill
    # itself, so that both sets of imports overlap (segkit.runner.fork_server)
    code = (
        "import sys; import segkit.runner.fork_server; "
        "heavy = {'pandas', 'numpy', 'jupyter_client', 'nbconvert', 'papermill'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_segkit_report_starts_the_fork_server_before_its_own_imports(tmp_path):
    # the server is started while the runner's modules are not loaded yet; a
    # missing config then fails as usual (the server dies with the command)
    code = (
        "import sys\n"
        "from segkit.runner import cli, fork_server\n"
        "seen = []\n"
        "fork_server.start_server = lambda: seen.append("
        "'segkit.runner.notebooks' in sys.modules) or True\n"
        "rc = cli.main(['report', '--config', sys.argv[1]])\n"
        "print(rc, seen)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "2 [False]", out.stderr


def test_a_script_without_a_main_guard_gets_launched_kernels():
    # a forked kernel re-imports the main module; an unguarded script calling
    # run_report at its top level would run again in every kernel
    from types import ModuleType, SimpleNamespace

    def main(file=None, spec=None):
        module = ModuleType("__main__")
        module.__spec__ = spec
        if file is not None:
            module.__file__ = file
        return module

    bindir = str(Path(sys.executable).parent)
    assert kernels.main_module_safe(main())  # JupyterLab, python -c
    assert kernels.main_module_safe(main(f"{bindir}/segkit"))  # console script
    assert kernels.main_module_safe(
        main("/x/segkit/__main__.py", SimpleNamespace(name="segkit.__main__"))
    )
    assert not kernels.main_module_safe(main("/home/me/run_reports.py"))


def test_the_fork_servers_imports_print_nothing():
    # what the server prints reaches the terminal of `segkit report` (debugpy's
    # warning about frozen modules did, once the debugger was preloaded)
    out = subprocess.run(
        [sys.executable, "-c", "import segkit.runner.kernel_preload"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (out.stdout, out.stderr) == ("", "")

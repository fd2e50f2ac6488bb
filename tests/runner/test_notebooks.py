"""The report runner, its HTML pages, index.html and manifest.json.

Runs tiny dummy notebooks (built here in tmp folders) with the real runner, so the
whole module takes seconds. One module-scoped run (01 ok and plots, 02 fails, 03
never runs) serves most assertions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from segkit.context import new_run_dir
from segkit.exceptions import ConfigError, InputFileError, RunError
from segkit.runner.html import export_notebook_html, headline_numbers, toc_entries
from segkit.runner.manifest import PACKAGES, file_record, git_info, read_manifest
from segkit.runner.notebooks import (
    check_parameters,
    find_notebooks,
    resolve_kernel,
    run_report,
)
from tests.conftest import TINY_COLUMNS, TINY_CSV, write_config
from tests.test_context import config_elsewhere, make_project

PARAMETERS = 'config_path = "../configs/x.yaml"\nrun_dir = ""\noverrides = {}'
METADATA = {
    "kernelspec": {
        "name": "segkit",
        "display_name": "segkit (.venv)",
        "language": "python",
    },
    "language_info": {"name": "python"},
}


def write_notebook(
    path: Path,
    *cells: tuple[str, str],
    parameters: str | None = PARAMETERS,
    metadata: bool = True,
) -> Path:
    """A notebook: markdown title, a parameters cell, then ``cells`` ("md"/"code", src)."""
    nb = nbformat.v4.new_notebook()
    if metadata:
        nb.metadata.update(METADATA)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# Report {path.stem}"))
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    for kind, source in cells:
        make = (
            nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        )
        nb.cells.append(make(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def make_config(folder: Path, **extra) -> Path:
    csv = folder / "tiny.csv"
    csv.write_text(TINY_CSV, encoding="utf-8")
    body = {
        "name": "tiny",
        "transactions": {"path": csv.name, "columns": dict(TINY_COLUMNS)},
        "as_of": "2021-04-02",
        "seed": 0,
        **extra,
    }
    return write_config(folder, body)


# 01 records what it was given, writes artifacts the index reads, and plots.
PLOT_CELLS = (
    ("md", "## Section one\nA sentence for the reviewer."),
    (
        "code",
        "import json, os, pathlib\n"
        "art = pathlib.Path(run_dir) / 'artifacts'\n"
        "seen = dict(config_path=config_path, run_dir=run_dir, overrides=overrides)\n"
        "seen['cwd'] = os.getcwd()\n"
        "(art / 'seen.json').write_text(json.dumps(seen))",
    ),
    (
        "code",
        "(art / 'ledger.csv').write_text('rule,rows,value\\nraw,10,99.0\\n"
        "missing_customer_id,3,9.0\\nkept,7,90.0\\n')\n"
        "(art / 'steps').mkdir(exist_ok=True)\n"
        "summary = {'customers': 1234, 'repeat_share': 0.4567, 'raw_columns': ['a'],"
        " 'sha256': 'f' * 64}\n"
        "(art / 'steps' / 'data.json').write_text(json.dumps({'summary': summary}))",
    ),
    ("md", "### Sub & section"),
    (
        "code",
        "import matplotlib\nimport matplotlib.pyplot as plt\n"
        "hidden_marker_variable = 1\n"
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([1, 2], [3, 1])\n"
        "ax.set_title('A tiny chart')\nplt.show()",
    ),
    ("code", "import sys\nprint('progress-bar-noise', file=sys.stderr)"),
)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """01 ok (plots), 02 raises, 03 never runs; overrides seed=3."""
    folder = tmp_path_factory.mktemp("project")
    config = make_config(folder)
    nbs = folder / "nbs"
    write_notebook(nbs / "01-plot.ipynb", *PLOT_CELLS)
    write_notebook(
        nbs / "02-fail.ipynb",
        ("md", "## Before the failure"),
        ("code", "raise ValueError('planted failure in notebook two')"),
    )
    write_notebook(nbs / "03-after.ipynb", ("code", "print('never runs')"))
    lines: list[str] = []
    before = os.getcwd()
    result = run_report(
        config,
        ["seed=3"],
        notebooks_dir=nbs,
        output_dir=folder / "reports",
        progress=lines.append,
    )
    return {
        "result": result,
        "lines": lines,
        "config": config,
        "nbs": nbs,
        "cwd": (before, os.getcwd()),
    }


def test_a_run_leaves_the_working_directory_of_the_process_alone(failed_run):
    # 01 and 02 overlap (02 starts once 01 wrote the data marker); papermill's
    # cwd= would chdir the whole process and leave it in the notebooks folder
    before, after = failed_run["cwd"]
    assert after == before


def test_failing_notebook_marks_run_failed_and_skips_later_notebooks(failed_run):
    result = failed_run["result"]
    assert [(nb.name, nb.status) for nb in result.notebooks] == [
        ("01-plot", "ok"),
        ("02-fail", "failed"),
        ("03-after", "skipped"),
    ]
    assert result.status == "failed" and result.exit_code == 1
    assert result.notebooks[1].error == "ValueError: planted failure in notebook two"


def test_progress_prints_one_line_per_notebook(failed_run):
    # one line per notebook as it ends (01 and 02 may end in either order)
    lines = failed_run["lines"]
    assert len(lines) == 3
    ok = next(line for line in lines if line.startswith("[ok] 01-plot  "))
    assert ok.endswith(" s")
    failed = next(line for line in lines if line.startswith("[failed] 02-fail  "))
    assert failed.endswith("ValueError: planted failure in notebook two")
    assert lines[2] == "[skipped] 03-after"


def test_failed_notebook_keeps_executed_copy_with_the_error(failed_run):
    run_dir = failed_run["result"].run_dir
    executed = nbformat.read(str(run_dir / "notebooks" / "02-fail.ipynb"), as_version=4)
    errors = [
        out
        for cell in executed.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert [(e.ename, e.evalue) for e in errors] == [
        ("ValueError", "planted failure in notebook two")
    ]
    assert not (run_dir / "notebooks" / "03-after.ipynb").exists()


def test_failed_notebook_html_is_exported_and_shows_the_failure(failed_run):
    page = (failed_run["result"].run_dir / "02-fail.html").read_text(encoding="utf-8")
    assert 'class="alert"' in page and "This notebook failed." in page
    assert "ValueError: planted failure in notebook two" in page
    assert 'href="#papermill-error-cell"' in page


def test_notebooks_receive_absolute_paths_overrides_and_run_in_their_folder(failed_run):
    result = failed_run["result"]
    seen = json.loads((result.run_dir / "artifacts" / "seen.json").read_text())
    assert seen["config_path"] == str(failed_run["config"].resolve())
    assert seen["run_dir"] == str(result.run_dir)
    assert seen["overrides"] == {"seed": 3}
    assert seen["cwd"] == str(failed_run["nbs"].resolve())


def test_html_hides_code_keeps_markdown_and_embeds_the_figure(failed_run):
    page = (failed_run["result"].run_dir / "01-plot.html").read_text(encoding="utf-8")
    assert "hidden_marker_variable" not in page
    assert "A sentence for the reviewer." in page
    assert "data:image/png;base64," in page
    assert '<img src="http' not in page
    assert "require.min.js" not in page  # no CDN scripts without math


def test_html_of_an_ok_notebook_drops_stderr_but_the_executed_copy_keeps_it(
    failed_run,
):
    run_dir = failed_run["result"].run_dir
    assert "progress-bar-noise" not in (run_dir / "01-plot.html").read_text("utf-8")
    assert "progress-bar-noise" in (run_dir / "notebooks" / "01-plot.ipynb").read_text()


def test_html_has_a_table_of_contents_and_a_run_header(failed_run):
    result = failed_run["result"]
    page = (result.run_dir / "01-plot.html").read_text(encoding="utf-8")
    toc = page[page.index('<nav class="sk sk-toc"') : page.index("</nav>")]
    assert '<a href="#Section-one">Section one</a>' in toc
    assert '<a href="#Sub-&amp;-section">Sub &amp; section</a>' in toc
    assert page.index("<nav") < page.index('id="Section-one"')
    header = page[page.index('<header class="sk sk-header"') : page.index("</header>")]
    assert result.run_dir.name in header and "<code>tiny</code>" in header
    assert "status-ok" in header


def test_index_shows_failure_in_red_with_status_and_links(failed_run):
    run_dir = failed_run["result"].run_dir
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    alert = page[page.index('<div class="alert">') :]
    assert alert.index('<a href="02-fail.html">02-fail</a>') < alert.index("</div>")
    assert "Not run because of the failure: 03-after." in alert
    for name, status in (
        ("01-plot", "ok"),
        ("02-fail", "failed"),
        ("03-after", "skipped"),
    ):
        assert f'<td>{name}</td>\n    <td><span class="status status-{status}">' in page
    assert '<a href="notebooks/02-fail.ipynb">' in page


def test_index_has_parameters_provenance_and_no_external_resources(failed_run):
    run_dir = failed_run["result"].run_dir
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    digest = hashlib.sha256(TINY_CSV.encode()).hexdigest()
    assert f"<code>{digest}</code>" in page
    assert "<code>seed=3</code>" in page
    assert "2021-04-02" in page
    assert "<script" not in page and "<link" not in page and "http" not in page


def test_index_headline_numbers_come_from_ledger_and_step_summaries(failed_run):
    page = (failed_run["result"].run_dir / "index.html").read_text(encoding="utf-8")
    table = page[page.index("Headline numbers") :]
    for name, value in (
        ("raw rows", "10"),
        ("kept rows", "7"),
        ("rows removed by cleaning", "3"),
        ("customers", "1,234"),
        ("repeat_share", "0.4567"),
    ):
        assert f'<td>{name}</td><td class="num">{value}</td>' in table
    assert "raw_columns" not in table and "f" * 64 not in table


def test_manifest_records_data_sha256_versions_commit_and_status(failed_run):
    result = failed_run["result"]
    manifest = read_manifest(result.run_dir / "manifest.json")
    record = manifest["data_files"]["transactions"]
    assert record["sha256"] == hashlib.sha256(TINY_CSV.encode()).hexdigest()
    assert record["size"] == len(TINY_CSV.encode())
    assert set(manifest["versions"]) == {"python", *PACKAGES}
    assert manifest["versions"]["papermill"]
    assert set(manifest["git"]) == {"commit", "dirty"}
    assert manifest["status"] == "failed"
    assert manifest["config"]["seed"] == 3 and manifest["overrides"] == {"seed": 3}
    assert [(nb["name"], nb["status"]) for nb in manifest["notebooks"]] == [
        ("01-plot", "ok"),
        ("02-fail", "failed"),
        ("03-after", "skipped"),
    ]
    assert manifest["notebooks"][1]["error"].startswith("ValueError")
    assert manifest["started"] <= manifest["finished"]
    # 02 may start once 01 has written the data marker, so the notebooks' seconds
    # can overlap; the run lasts at least as long as its longest notebook
    assert manifest["seconds"] >= max(
        nb["seconds"] or 0 for nb in manifest["notebooks"]
    )


def test_second_run_the_same_day_gets_a_new_folder_and_overrides_are_not_mutated(
    tmp_path,
):
    config = make_config(tmp_path)
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01-ok.ipynb", ("code", "x = 1"))
    overrides = {"seed": 5}
    first = run_report(config, overrides, notebooks_dir=nbs, output_dir=tmp_path / "r")
    second = run_report(config, overrides, notebooks_dir=nbs, output_dir=tmp_path / "r")
    today = dt.date.today().isoformat()
    assert (first.run_dir.name, second.run_dir.name) == (today, f"{today}-2")
    assert first.exit_code == second.exit_code == 0
    assert read_manifest(first.manifest_path)["status"] == "ok"
    assert overrides == {"seed": 5}


def _new_run(folder: str) -> str:
    return new_run_dir(folder, dt.date(2026, 11, 23)).name


def test_concurrent_processes_never_share_a_run_folder(tmp_path):
    with ProcessPoolExecutor(max_workers=4) as pool:
        names = list(pool.map(_new_run, [str(tmp_path)] * 8))
    expected = {"2026-11-23", *(f"2026-11-23-{n}" for n in range(2, 9))}
    assert sorted(names) == sorted(expected)


def test_cell_timeout_from_config_fails_the_notebook(tmp_path):
    config = make_config(tmp_path, report={"timeout": 2})
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01-slow.ipynb", ("code", "import time\ntime.sleep(60)"))
    result = run_report(config, notebooks_dir=nbs, output_dir=tmp_path / "r")
    assert result.notebooks[0].status == "failed"
    assert "timed out" in result.notebooks[0].error.lower()
    assert (result.run_dir / "notebooks" / "01-slow.ipynb").exists()
    assert (result.run_dir / "01-slow.html").exists()


def test_unknown_parameter_is_refused_before_any_run_folder_exists(tmp_path):
    config = make_config(tmp_path)
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01-a.ipynb", parameters='config_path = ""\nrun_dir = ""')
    with pytest.raises(
        RunError,
        match=r"'01-a.ipynb' does not declare the parameters \['overrides'\].*add them to its parameters cell",
    ):
        run_report(config, notebooks_dir=nbs, output_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    path = write_notebook(tmp_path / "01-a.ipynb", parameters=None)
    with pytest.raises(RunError, match="has no cell tagged 'parameters'; add one"):
        check_parameters(path, ["config_path"])


def test_notebook_without_kernel_metadata_is_refused(tmp_path):
    path = write_notebook(tmp_path / "01-a.ipynb", metadata=False)
    with pytest.raises(
        RunError, match=r"lacks metadata \['kernelspec', 'language_info'\]"
    ):
        check_parameters(path, ["config_path"])


def test_bad_override_raises_config_error_and_creates_no_run_folder(tmp_path):
    config = make_config(tmp_path)
    write_notebook(tmp_path / "nbs" / "01-a.ipynb")
    with pytest.raises(ConfigError, match="did you mean 'k_max'"):
        run_report(
            config,
            ["clustering.kmax=3"],
            notebooks_dir=tmp_path / "nbs",
            output_dir=tmp_path / "r",
        )
    assert not (tmp_path / "r").exists()


def test_find_notebooks_orders_numbered_notebooks_and_selects(tmp_path):
    for name in ("02-b", "01-a", "10-c", "notes", "1-short"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    assert [p.stem for p in find_notebooks(tmp_path)] == ["01-a", "02-b", "10-c"]
    assert [p.stem for p in find_notebooks(tmp_path, "10,1")] == ["01-a", "10-c"]
    assert [p.stem for p in find_notebooks(tmp_path, ["02-b"])] == ["02-b"]
    with pytest.raises(RunError, match=r"notebook '07' not found .*01-a, 02-b, 10-c"):
        find_notebooks(tmp_path, "07")


def test_folder_without_numbered_notebooks_is_an_error(tmp_path):
    (tmp_path / "explore.ipynb").write_text("{}")
    with pytest.raises(RunError, match=r"no numbered notebooks \(NN-name.ipynb"):
        find_notebooks(tmp_path)
    with pytest.raises(RunError, match="notebooks folder .* not found"):
        find_notebooks(tmp_path / "missing")


def _kernel_dir(root: Path, name: str, python: str) -> None:
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name,
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))


def test_resolve_kernel_falls_back_when_the_kernel_runs_another_python(
    tmp_path, monkeypatch
):
    _kernel_dir(tmp_path, "segkit-other", "/elsewhere/venv/bin/python")
    _kernel_dir(tmp_path, "segkit-here", sys.executable)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    assert resolve_kernel("segkit-other", install=False) == "python3"
    assert resolve_kernel("segkit-here", install=False) == "segkit-here"
    assert resolve_kernel("segkit-missing-kernel", install=False) == "python3"


def test_file_record_hashes_bytes_and_reports_missing_files(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    record = file_record(path)
    assert record["sha256"] == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert (record["size"], record["name"], record["exists"]) == (3, "abc.txt", True)
    missing = file_record(tmp_path / "gone.csv")
    assert (missing["exists"], missing["sha256"], missing["size"]) == (
        False,
        None,
        None,
    )


def test_git_info_is_none_outside_a_repository(tmp_path):
    assert git_info(tmp_path) == {"commit": None, "dirty": None}


def test_git_info_reports_commit_and_dirty_flag(tmp_path):
    def git(*args):
        subprocess.run(
            [
                "git",
                "-C",
                str(tmp_path),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    clean = git_info(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    assert git_info(tmp_path) == {"commit": clean["commit"], "dirty": True}


def test_toc_entries_read_headings_and_unescape_them():
    body = (
        '<h1 id="Top">Top<a class="anchor-link" href="#Top">¶</a></h1><p>x</p>'
        '<h2 id="A-&amp;-B">A &amp; <code>B</code><a class="anchor-link" href="#">¶</a></h2>'
        '<h4 id="Deep">Deep</h4><h2>No id</h2>'
    )
    assert toc_entries(body) == [
        {"level": 1, "anchor": "Top", "text": "Top"},
        {"level": 2, "anchor": "A-&-B", "text": "A & B"},
    ]


def test_headline_numbers_keep_scalars_in_step_order(tmp_path):
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "features.json").write_text(json.dumps({"summary": {"features": 12}}))
    (steps / "data.json").write_text(
        json.dumps(
            {"summary": {"customers": 4372, "ok": True, "cols": ["a"], "n": None}}
        )
    )
    assert headline_numbers(tmp_path) == [
        {"source": "data", "name": "customers", "value": "4,372"},
        {"source": "data", "name": "ok", "value": "yes"},
        {"source": "features", "name": "features", "value": "12"},
    ]


def test_export_without_executed_notebook_writes_a_page_with_the_error(tmp_path):
    page = export_notebook_html(
        tmp_path / "01-a.ipynb",
        tmp_path / "01-a.html",
        run_id="2026-11-23",
        config_name="tiny",
        status="failed",
        error="DeadKernelError: Kernel died",
    ).read_text(encoding="utf-8")
    assert "This notebook failed." in page and "DeadKernelError: Kernel died" in page


def test_pages_reuse_the_compiled_templates_and_come_out_the_same(tmp_path):
    from segkit.runner.html import _page_exporter

    source = write_notebook(
        tmp_path / "01-a.ipynb", ("md", "## A heading"), ("code", "print(1)")
    )
    executed = nbformat.read(str(source), as_version=4)
    nbformat.write(executed, str(tmp_path / "run.ipynb"))
    kwargs = dict(run_id="2026-12-03", config_name="tiny", status="ok", pages=["run"])
    first = export_notebook_html(tmp_path / "run.ipynb", tmp_path / "a.html", **kwargs)
    cache = _page_exporter()().environment.bytecode_cache
    compiled = dict(cache.code)
    assert compiled  # the lab template and its includes
    second = export_notebook_html(tmp_path / "run.ipynb", tmp_path / "b.html", **kwargs)
    assert cache.code == compiled  # nothing compiled again
    assert first.read_bytes() == second.read_bytes()
    assert "A heading" in first.read_text(encoding="utf-8")


def test_a_config_outside_the_project_reports_from_a_subfolder(tmp_path, monkeypatch):
    # notebooks come from the project, the run folder goes to its reports/
    project = make_project(tmp_path / "project")
    write_notebook(
        project / "notebooks" / "01-data.ipynb",
        (
            "code",
            "from segkit.context import open_run\n"
            "ctx = open_run(config_path, run_dir, overrides)\n"
            "assert ctx.run_step('data')['summary']['kept_rows'] == 5",
        ),
    )
    config = config_elsewhere(tmp_path / "elsewhere", "data/tiny.csv")
    monkeypatch.chdir(project / "sub" / "deeper")
    result = run_report(config)
    assert [nb.status for nb in result.notebooks] == ["ok"], result.notebooks
    assert result.run_dir.parent == (project / "reports").resolve()
    assert (result.run_dir / "artifacts" / "ledger.csv").exists()


def test_a_missing_notebooks_folder_says_where_segkit_looked_and_why(
    tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project")
    config = config_elsewhere(tmp_path / "elsewhere", "data/tiny.csv")
    monkeypatch.chdir(project / "sub")
    notebooks = project.resolve() / "notebooks"
    with pytest.raises(
        RunError,
        match=rf"notebooks folder '{notebooks}' not found \(looked there because it "
        rf"is the notebooks/ folder of the project root {project.resolve()}, found "
        rf"from the current folder {project.resolve() / 'sub'}: .*pyproject.toml "
        "names the segkit project\\)",
    ):
        run_report(config)


def test_a_missing_data_file_is_refused_before_any_run_folder_exists(
    tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project")
    write_notebook(project / "notebooks" / "01-a.ipynb", ("code", "x = 1"))
    config = config_elsewhere(tmp_path / "elsewhere", "data/absent.csv")
    monkeypatch.chdir(project)
    with pytest.raises(
        InputFileError,
        match=r"'transactions.path': data file 'data/absent.csv' not found; a "
        r"relative path is tried from the config file's folder, then from the "
        r"project root",
    ):
        run_report(config)
    assert not (project / "reports").exists()

"""The report runner: numbered notebooks -> executed copies -> HTML -> index + manifest.

:func:`run_report` validates the config, creates a new run folder
``<output_dir>/<YYYY-MM-DD>[-N]`` (never reused, see :func:`segkit.context.new_run_dir`),
and executes every numbered notebook ``NN-name.ipynb`` in order with papermill,
passing ``config_path``, ``run_dir`` and ``overrides``. Each executed notebook is
kept in ``<run>/notebooks/`` and exported to ``<run>/NN-name.html`` (code hidden).
A notebook that fails keeps its executed copy with the error and its HTML; the
notebooks not started by then are marked ``skipped``. Steps whose inputs are
unchanged are reused from the step cache (:mod:`segkit.reuse`); ``fresh=True``
(``segkit report --fresh``) sets ``SEGKIT_FRESH=1`` for the kernels, which turns
reuse off. Before the notebooks start, the reusable steps are copied in; each
notebook then starts as soon as the steps it reads are there, beside the others,
one kernel per core, with one kernel at a time computing steps
(:mod:`segkit.runner.schedule`; the manifest's ``parallel`` lists the notebooks
that overlapped). The
manifest's ``steps`` says per step whether it was computed or reused, and from
which run. ``manifest.json`` and ``index.html``
are written at the start (status ``running``) and again at the end.

Finding the notebooks, checking their parameters and choosing the kernel happen
in :mod:`segkit.runner.preflight` (re-exported here). Only this module configures
logging (:func:`configure_logging`, called by the CLI).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from segkit import figure_cache, memo
from segkit.config import load_config, missing_data_files
from segkit.context import new_run_dir
from segkit.exceptions import InputFileError
from segkit.pipeline import step_records
from segkit.project import locate_project_root
from segkit.reuse import FRESH_ENV, cache_dir
from segkit.runner.exports import prune as prune_pseudonymised
from segkit.runner.exports import write_exports
from segkit.runner.html import export_notebook_html, write_index
from segkit.runner.manifest import new_manifest, now, write_manifest
from segkit.runner.preflight import (
    KERNEL_NAME,
    NOTEBOOK_PATTERN,
    RUNNER_PARAMETERS,
    check_parameters,
    find_notebooks,
    resolve_kernel,
)
from segkit.runner.schedule import (
    overlapping,
    restore_reusable,
    run_notebooks,
    workers,
)

__all__ = [
    "NOTEBOOK_PATTERN",
    "RUNNER_PARAMETERS",
    "KERNEL_NAME",
    "NotebookResult",
    "RunResult",
    "find_notebooks",
    "check_parameters",
    "resolve_kernel",
    "run_report",
    "configure_logging",
]

logger = logging.getLogger(__name__)


@dataclass
class NotebookResult:
    """Outcome of one notebook in a run.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"01-explore"``.
    source : Path
        The notebook that was run.
    status : {"pending", "ok", "failed", "skipped"}
    seconds : float or None
        Wall time of the execution.
    error : str or None
        One line, e.g. ``"SchemaError: column 'x' not found ..."``.
    html, ipynb : str or None
        Paths of the HTML page and the executed notebook, relative to the run folder.
    """

    name: str
    source: Path
    status: str = "pending"
    seconds: float | None = None
    error: str | None = None
    html: str | None = None
    ipynb: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The manifest entry of this notebook."""
        return {**asdict(self), "source": str(self.source)}


@dataclass
class RunResult:
    """What :func:`run_report` produced.

    Attributes
    ----------
    run_dir : Path
        The new run folder.
    status : {"ok", "failed"}
        ``"failed"`` when any notebook failed.
    notebooks : list of NotebookResult
        In run order.
    manifest : dict
        The content of ``manifest.json``.
    """

    run_dir: Path
    status: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exit_code(self) -> int:
        """0 when every notebook ran, 1 otherwise (the CLI's exit status)."""
        return 0 if self.ok else 1

    @property
    def failed(self) -> list[NotebookResult]:
        return [nb for nb in self.notebooks if nb.status == "failed"]

    @property
    def index_path(self) -> Path:
        return self.run_dir / "index.html"

    def failure_lines(self) -> list[str]:
        """What went wrong, for the terminal: the failed notebooks with their
        cell's error (class and message) and the index to open."""
        if not self.failed:
            return []
        names = ", ".join(nb.name for nb in self.failed)
        lines = [
            f"{len(self.failed)} notebook(s) failed: {names}; see {self.index_path}"
        ]
        lines += [f"{nb.name}: {nb.error}" for nb in self.failed if nb.error]
        return lines

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"


def _one_line(text: str, limit: int = 1000) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_summary(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename:  # papermill.PapermillExecutionError: the notebook's own exception
        return _one_line(f"{ename}: {getattr(exc, 'evalue', '')}")
    return _one_line(f"{type(exc).__name__}: {exc}")


def _execute(
    nb: NotebookResult,
    target: Path,
    *,
    parameters: Mapping[str, Any],
    kernel: str,
    cwd: Path,
    timeout: int | float | None,
) -> None:
    import papermill

    from segkit.runner.engine import ENGINE
    from segkit.runner.kernels import ForkingKernelManager

    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(nb.source),
            str(target),
            parameters=dict(parameters),
            kernel_name=kernel,
            # nbclient, saving the executed copy every few seconds and at the end
            # rather than twice per cell (segkit.runner.engine)
            engine_name=ENGINE,
            # kernels forked from a process that imported the libraries once
            # (segkit.runner.kernels); any other kernelspec launches as usual
            kernel_manager_class=ForkingKernelManager,
            # The kernel's working directory, given to nbclient: papermill's own
            # cwd= changes the directory of this whole process for the run, which
            # notebooks running side by side in threads would leave behind.
            resources={"metadata": {"path": str(cwd)}},
            execution_timeout=timeout,
            start_timeout=180,
            progress_bar=False,
            log_output=False,
            # The kernel's own log (e.g. "running over TCP without encryption") is
            # noise in a report run; failures reach the run through nbclient anyway.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        nb.status = "ok"
    except Exception as exc:  # any failure of one notebook is recorded, not raised
        nb.status, nb.error = "failed", _error_summary(exc)
        logger.debug("notebook %s failed: %s", nb.name, nb.error, exc_info=True)
    finally:
        nb.seconds = round(time.perf_counter() - start, 2)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_report(
    config_path: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    notebooks_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    notebooks: Iterable[Any] | str | None = None,
    kernel_name: str | None = None,
    progress: Callable[[str], Any] | None = None,
    fresh: bool = False,
) -> RunResult:
    """Run the numbered notebooks into a new run folder and write its HTML reports.

    Parameters
    ----------
    config_path : str or Path
        The YAML config; validated before anything runs.
    overrides : list of "key=value" or mapping, optional
        Config overrides (``--set``), passed on to every notebook.
    notebooks_dir : str or Path, optional
        Folder of ``NN-name.ipynb`` notebooks; default ``notebooks/`` of the project
        (found from the current folder, see :mod:`segkit.project`), wherever the
        config file is. Notebooks run with this folder as working directory.
    output_dir : str or Path, optional
        Where run folders go (relative paths: from the current folder); default
        ``report.output_dir`` of the config (relative paths: from the project root).
    notebooks : iterable or comma-separated str, optional
        Run only these (``"01,02"``); default ``report.notebooks`` or all.
    kernel_name : str, optional
        Jupyter kernel; default :func:`resolve_kernel`.
    progress : callable, optional
        Called with one line per notebook as it finishes, e.g. ``print``.
    fresh : bool
        Compute every step, reusing nothing from earlier runs (the kernels get
        ``SEGKIT_FRESH=1``); the results still refresh the step cache.

    Returns
    -------
    RunResult
        ``status`` is ``"failed"`` when a notebook failed (its executed copy and
        HTML are kept, later notebooks are ``skipped``); nothing is raised for it.

    Raises
    ------
    ConfigError
        The config or an override is invalid (no run folder is created).
    RunError
        No notebooks, or a notebook cannot take the runner's parameters.
    InputFileError
        A data file of the config is in none of the places tried.
    """
    config = load_config(config_path, overrides)
    root = Path(config.root)
    if notebooks_dir is not None:
        folder, why = Path(notebooks_dir).expanduser(), "notebooks_dir was given"
    else:
        found, how = locate_project_root()
        folder = root / "notebooks"
        why = f"it is the notebooks/ folder of the project root {root}" + (
            f", {how}" if found == root else ""
        )
    select = notebooks if notebooks is not None else config.report.notebooks
    sources = find_notebooks(folder, select, why=why)
    missing = missing_data_files(config)
    if missing:
        raise InputFileError("; ".join(missing))
    for source in sources:
        check_parameters(source, RUNNER_PARAMETERS)
    kernel = kernel_name or resolve_kernel()

    if output_dir is not None:  # given by the caller: relative to the current folder
        out = Path(output_dir).expanduser().resolve()
    else:  # from the config: relative to the project root
        out = Path(config.report.output_dir).expanduser()
        out = out if out.is_absolute() else root / out
    run_dir = new_run_dir(out).resolve()
    (run_dir / "notebooks").mkdir()
    (run_dir / "artifacts").mkdir()
    parameters = {
        "config_path": config.config_path,
        "run_dir": str(run_dir),
        "overrides": _jsonable(config.overrides),
    }
    results = [NotebookResult(name=p.stem, source=p.resolve()) for p in sources]
    clock = time.perf_counter()
    manifest = new_manifest(
        config,
        run_dir,
        parameters=parameters,
        notebooks_dir=folder,
        kernel=kernel,
        notebooks=[nb.as_dict() for nb in results],
        fresh=fresh,
    )
    write_manifest(run_dir / "manifest.json", manifest)
    write_index(run_dir, manifest)
    logger.info("run folder %s, kernel %s", run_dir, kernel)

    # The kernels inherit this process's environment: SEGKIT_FRESH=1 turns reuse
    # off, SEGKIT_QUIET=1 progress bars (they would be stderr noise in the pages).
    previous_env = {k: os.environ.get(k) for k in (FRESH_ENV, "SEGKIT_QUIET")}
    if fresh:
        os.environ[FRESH_ENV] = "1"
    os.environ["SEGKIT_QUIET"] = "1"
    # the kernels' fork server (started already by the command line) imports its
    # modules while the steps are restored
    from segkit.runner.fork_server import start_server

    start_server()

    by_name = {nb.name: nb for nb in results}

    def one(name: str) -> bool:
        nb = by_name[name]
        target = run_dir / "notebooks" / f"{nb.name}.ipynb"
        try:
            _execute(
                nb,
                target,
                parameters=parameters,
                kernel=kernel,
                cwd=folder,
                timeout=config.report.timeout,
            )
        finally:
            _finish_notebook(nb, run_dir, config.name)
        line = f"[{nb.status}] {nb.name}  {nb.seconds:.1f} s"
        _say(progress, line + (f"  {nb.error}" if nb.error else ""))
        return nb.status == "ok"

    try:
        # Cached steps are copied in first; each notebook then starts as soon as
        # the steps it reads have markers, beside the others (runner.schedule).
        restored = restore_reusable(config, run_dir)
        # Ctrl-C reaches the kernels too: the running notebooks end as failed,
        # the others stay pending and are marked skipped below.
        not_started, spans = run_notebooks(
            [nb.name for nb in results],
            one,
            run_dir=run_dir,
            restored=restored,
            kernels=workers(len(results)),
        )
        manifest["parallel"] = overlapping(spans)
        manifest["timeline"] = {
            name: [round(start, 2), round(end, 2)]
            for name, (start, end) in spans.items()
        }
        for name in not_started:
            by_name[name].status = "skipped"
            _say(progress, f"[skipped] {name}")
    finally:
        for key, value in previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for nb in results:
            if nb.status == "pending":
                nb.status = "skipped"
        status = "ok" if all(nb.status == "ok" for nb in results) else "failed"
        manifest.update(
            status=status,
            finished=now(),
            seconds=round(time.perf_counter() - clock, 2),
            notebooks=[nb.as_dict() for nb in results],
            steps=step_records(run_dir),
        )
        write_manifest(run_dir / "manifest.json", manifest)
        # The CRM export (real ids) goes to exports/<run>/; the run folder keeps
        # pseudonyms only, so it can be shared as is (segkit.runner.exports).
        try:
            write_exports(
                run_dir,
                out.parent / "exports",
                cache_folder=cache_dir(run_dir) / "pseudonymised",
                fresh=fresh,
            )
        except Exception as exc:  # the privacy step must not hide the run's status
            logger.warning("could not write the exports of %s: %s", run_dir.name, exc)
        write_index(run_dir, manifest)
        figure_cache.prune(cache_dir(run_dir) / "figures")
        memo.prune(cache_dir(run_dir) / "memo")
        prune_pseudonymised(cache_dir(run_dir) / "pseudonymised")
    return RunResult(
        run_dir=run_dir, status=status, notebooks=results, manifest=manifest
    )


def _finish_notebook(nb: NotebookResult, run_dir: Path, config_name: str) -> None:
    target = run_dir / "notebooks" / f"{nb.name}.ipynb"
    if target.exists():
        nb.ipynb = f"notebooks/{target.name}"
    try:
        export_notebook_html(
            target,
            run_dir / f"{nb.name}.html",
            run_id=run_dir.name,
            config_name=config_name,
            status=nb.status if nb.status in ("ok", "failed") else "failed",
            seconds=nb.seconds,
            error=nb.error,
        )
        nb.html = f"{nb.name}.html"
    except Exception as exc:  # a broken export must not hide the notebook's own status
        logger.warning("could not export %s to HTML: %s", nb.name, exc)
        if nb.status == "ok":
            nb.status, nb.error = "failed", f"HTML export failed: {_error_summary(exc)}"


def _say(progress: Callable[[str], Any] | None, line: str) -> None:
    if progress is not None:
        progress(line)


def configure_logging(verbose: bool = False) -> None:
    """Log warnings (``verbose``: segkit's info too) to stderr, briefly.

    Only the runner calls this; importing segkit never touches logging.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("segkit: %(levelname)s: %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("segkit").setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in ("papermill", "nbclient", "traitlets", "nbconvert", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)

"""The kernels' fork server: started first thing in ``segkit report``.

:mod:`segkit.runner.kernels` forks each notebook kernel from a server that has
imported :data:`PRELOAD`. Those imports take about 5 s on 2 cores (Online Retail,
2026-12-03), and on a one-parameter rerun the first kernels waited for them: the
server was started inside :func:`segkit.runner.notebooks.run_report`, after the
runner had imported pandas, nbconvert and papermill itself (2.2 s). This module
imports only the standard library, so the command line starts the server before
anything else (:func:`start_server`) and both sets of imports overlap.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "ENV",
    "INLINE_BACKEND",
    "PRELOAD",
    "context",
    "forking_enabled",
    "source_signature",
    "start_server",
]

logger = logging.getLogger(__name__)

#: Environment variable; ``0`` launches every kernel as its own new process.
ENV = "SEGKIT_FORK_KERNELS"

#: Modules the fork server imports (:mod:`segkit.runner.kernel_preload`): what the
#: notebooks import in their first cells, the kernel itself, and the libraries
#: their steps load when they compute (DuckDB and Ibis for the data and feature
#: builds, scikit-learn for the models, pyarrow for every artifact).
PRELOAD = (
    "ipykernel.kernelapp",
    # imported by every kernel as it starts (its debugger class, the shell's
    # completer): 0.36 s of each kernel's start, measured with py-spy
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "matplotlib.pyplot",
    "seaborn",
    "pyarrow.parquet",
    "sklearn.cluster",
    "sklearn.mixture",
    "sklearn.neighbors",
    "ibis",
    "duckdb",
    "segkit.data.report",
    "segkit.data.report_tables",
    "segkit.features.report",
    "segkit.features.value_report",
    "segkit.features.step",
    "segkit.clustering.report",
    "segkit.clustering.model",
    "segkit.validation.structure",
    "segkit.validation.report",
    "segkit.validation.verdict",
    "segkit.profiles.step",
    "segkit.profiles.report",
    "segkit.profiles.rules",
)

#: The fork server's state in this process: ``signature`` of the sources it loaded.
_SERVER: dict[str, Any] = {}

#: The backend ipykernel gives matplotlib (``MPLBACKEND``) in a kernel.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def forking_enabled() -> bool:
    """False when ``SEGKIT_FORK_KERNELS`` is ``0`` (or ``false``/``no``)."""
    value = os.environ.get(ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def context() -> Any:
    return multiprocessing.get_context("forkserver")


def start_server() -> bool:
    """Start the fork server now (it imports :data:`PRELOAD`); False if it cannot.

    Call it early: the imports then overlap whatever the caller does before its
    first kernel. Safe to call again; the server is started once per process.
    """
    if not forking_enabled() or sys.platform == "win32":
        return False
    from multiprocessing import forkserver

    signature = source_signature()
    started = _SERVER.get("signature")
    if started is not None and started != signature:
        # segkit's files changed since the server imported them (an edit in a
        # long-lived process): its kernels would run the old code, so launch anew
        logger.info("segkit changed since the kernels' fork server started")
        return False
    try:
        # the server imports this module's preload list in its own process
        forkserver.set_forkserver_preload(["segkit.runner.kernel_preload"])
        forkserver.ensure_running()
    except Exception as exc:  # no fork server: kernels start the ordinary way
        logger.info("kernels start without the fork server: %s", exc)
        return False
    _SERVER.setdefault("signature", signature)
    return True


def source_signature() -> tuple[tuple[str, int, int], ...]:
    """Path, modification time and size of every ``.py`` file of segkit (cheap:
    one ``stat`` each), to tell whether the code changed since the server started."""
    package = Path(__file__).resolve().parents[1]
    out = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        info = path.stat()
        out.append(
            (path.relative_to(package).as_posix(), info.st_mtime_ns, info.st_size)
        )
    return tuple(out)

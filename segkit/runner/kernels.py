"""Notebook kernels forked from one process that has imported the libraries already.

Every notebook of a report runs in its own IPython kernel, a fresh process that
imports ipykernel, pandas, matplotlib and the segkit modules its cells use before
its first line of work: about 3 s of CPU per kernel, measured on Online Retail (2
cores), so 15 s of the 43 s of CPU a one-parameter rerun spends. On two cores that
is several seconds of every run's wall time, and it buys nothing: each kernel
imports the same modules from the same files.

:class:`ForkingKernelManager` starts the kernels from Python's own fork server
(:mod:`multiprocessing.forkserver`): one process imports :data:`PRELOAD` once, and
each kernel is a ``fork`` of it, so a kernel starts with those modules loaded,
shared copy-on-write. Everything else is a kernel as jupyter_client launches it:

- the same ``ipykernel`` application with the kernelspec's arguments (connection
  file, log level), in the working directory and with the environment
  jupyter_client computed for it (``JPY_PARENT_PID`` then names the fork server,
  the kernel's real parent);
- its own session and process group (``os.setsid``), as ``start_new_session``
  gives a launched kernel, so interrupts and kills reach it through
  :class:`jupyter_client.provisioning.LocalProvisioner` unchanged;
- matplotlib's inline backend, which ipykernel sets through ``MPLBACKEND`` before
  matplotlib is imported; the fork server sets it the same way before its imports.

Only kernelspecs that run this very interpreter (``<this python> ... -m
ipykernel_launcher ...``) are forked; any other kernel, or a fork server that
cannot start, is launched the ordinary way. ``SEGKIT_FORK_KERNELS=0`` turns forking
off. Why not write this ourselves from ``os.fork``: the fork server is the
standard library's (a single-threaded server, children reaped and their exit codes
reported through :class:`multiprocessing.Process`); what segkit adds is only the
provisioner that hands a kernel command to it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

__all__ = [
    "ENV",
    "INLINE_BACKEND",
    "PRELOAD",
    "ForkingKernelManager",
    "KernelProcess",
    "forkable",
    "forking_enabled",
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
_LAUNCHER = "ipykernel_launcher"


def forking_enabled() -> bool:
    """False when ``SEGKIT_FORK_KERNELS`` is ``0`` (or ``false``/``no``)."""
    value = os.environ.get(ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def forkable(cmd: Sequence[str]) -> list[str] | None:
    """The ipykernel arguments of ``cmd`` when it runs this interpreter, else None.

    ``cmd`` is a kernelspec's launch command, e.g. ``[<python>, "-Xfrozen_modules=off",
    "-m", "ipykernel_launcher", "-f", <connection file>]``. The path must be this
    very ``sys.executable`` (a symlink of another virtual environment to the same
    base interpreter has other packages); interpreter flags before ``-m`` are
    accepted (they only tune the interpreter).
    """
    if len(cmd) < 3 or not os.path.isabs(cmd[0]):
        return None
    if os.path.abspath(cmd[0]) != os.path.abspath(sys.executable):
        return None
    try:
        at = list(cmd).index("-m")
    except ValueError:
        return None
    if list(cmd[at + 1 : at + 2]) != [_LAUNCHER]:
        return None
    if any(not str(flag).startswith("-X") for flag in cmd[1:at]):
        return None
    return [str(a) for a in cmd[at + 2 :]]


def _context() -> Any:
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


def _kernel_main(
    argv: list[str], env: Mapping[str, str], cwd: str | None
) -> None:  # pragma: no cover - runs in the forked kernel process
    """The forked kernel: ipykernel's launcher, as ``python -m ipykernel_launcher``."""
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    if cwd:
        os.chdir(cwd)
    sys.argv = [_LAUNCHER, *argv]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


class KernelProcess:
    """What :class:`LocalProvisioner` needs of a :class:`subprocess.Popen`, for a
    kernel forked by the fork server (a :class:`multiprocessing.Process`)."""

    stdin = stdout = stderr = None

    def __init__(self, process: Any) -> None:
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return None if self._process.is_alive() else self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


class ForkingProvisioner(LocalProvisioner):
    """:class:`LocalProvisioner` that forks this interpreter's kernels (see above)."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        argv = forkable(cmd) if forking_enabled() else None
        if argv is None or not start_server():
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = kwargs.get("cwd")
        process = _context().Process(
            target=_kernel_main,
            args=(argv, env, None if cwd is None else str(cwd)),
            name="segkit-kernel",
        )
        process.start()
        self.process = KernelProcess(process)
        self.pid = process.pid
        # the kernel's first act is os.setsid(): its group is its pid (asking
        # os.getpgid now could still answer the fork server's, which is ours)
        self.pgid = process.pid
        self.cwd = cwd
        logger.debug("forked kernel %s for %s", process.pid, argv)
        return self.connection_info


class ForkingKernelManager(AsyncKernelManager):
    """The kernel manager papermill is given: kernels through :class:`ForkingProvisioner`."""

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkingProvisioner(
                kernel_id=self.kernel_id,
                kernel_spec=self.kernel_spec,
                parent=self,
            )
        return await super()._async_pre_start_kernel(**kw)

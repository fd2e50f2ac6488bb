"""Notebook kernels forked from one process that has imported the libraries already.

Every notebook of a report runs in its own IPython kernel, a fresh process that
imports ipykernel, pandas, matplotlib and the segkit modules its cells use before
its first line of work: about 3 s of CPU per kernel, measured on Online Retail (2
cores), so 15 s of the 43 s of CPU a one-parameter rerun spends. On two cores that
is several seconds of every run's wall time, and it buys nothing: each kernel
imports the same modules from the same files.

:class:`ForkingKernelManager` starts the kernels from Python's own fork server
(:mod:`multiprocessing.forkserver`, started by :mod:`segkit.runner.fork_server`):
one process imports :data:`~segkit.runner.fork_server.PRELOAD` once, and each
kernel is a ``fork`` of it, so a kernel starts with those modules loaded,
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
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from segkit.runner.fork_server import (
    INLINE_BACKEND,
    context,
    forking_enabled,
    start_server,
)

__all__ = [
    "ForkingKernelManager",
    "ForkingProvisioner",
    "KernelProcess",
    "forkable",
    "main_module_safe",
]

logger = logging.getLogger(__name__)

#: The module a forkable kernelspec runs (``python -m ipykernel_launcher``).
_LAUNCHER = "ipykernel_launcher"


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


def main_module_safe(main: Any = None) -> bool:
    """Whether a forked kernel may re-import the program's ``__main__`` module.

    Every child of a fork server first re-imports the main module of the process
    that asked for it, as ``__mp_main__`` (:func:`multiprocessing.spawn.prepare`,
    the reason multiprocessing asks for an ``if __name__ == "__main__"`` guard).
    A user's script that calls :func:`segkit.runner.notebooks.run_report` at its
    top level would then run again in every kernel. Safe are: no main file
    (JupyterLab, ``python -c``); a main run as a module (``python -m segkit``,
    ``-m pytest``), which the standard library skips or re-imports by name; a
    console script of this environment (``.venv/bin/segkit``: pip writes its
    guard). Any other script gets kernels launched the ordinary way.
    """
    main = sys.modules["__main__"] if main is None else main
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    here = os.path.dirname(os.path.abspath(sys.executable))
    return os.path.dirname(os.path.abspath(path)) == here


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
        argv = forkable(cmd) if forking_enabled() and main_module_safe() else None
        if argv is None or not start_server():
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = kwargs.get("cwd")
        process = context().Process(
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

"""Before a report runs: which notebooks, whether they take the runner's parameters,
and which Jupyter kernel runs them.

:func:`find_notebooks` lists the numbered notebooks ``NN-name.ipynb`` of a folder
(or a selection of them), :func:`check_parameters` refuses a notebook whose
``parameters`` cell lacks a name the runner passes (papermill only warns), and
:func:`resolve_kernel` names a kernel that runs this Python.
:mod:`segkit.runner.notebooks` calls all three before it executes anything.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from segkit.exceptions import RunError

__all__ = [
    "NOTEBOOK_PATTERN",
    "RUNNER_PARAMETERS",
    "KERNEL_NAME",
    "find_notebooks",
    "check_parameters",
    "resolve_kernel",
]

logger = logging.getLogger(__name__)

#: File names of the notebooks a report runs: two digits, a dash, a name.
NOTEBOOK_PATTERN = re.compile(r"^(\d\d)-[^/\\]+\.ipynb$")
#: Parameters the runner passes to every notebook.
RUNNER_PARAMETERS = ("config_path", "run_dir", "overrides")
#: Kernel that ``make venv`` installs into the venv (``ipykernel install --sys-prefix``).
KERNEL_NAME = "segkit"
_FALLBACK_KERNEL = "python3"  # ipykernel's own spec: always runs sys.executable


def _selection(select: Iterable[Any] | str | None) -> list[str] | None:
    if select is None:
        return None
    if isinstance(select, str | int):
        select = str(select).split(",")
    keys = []
    for item in select:
        text = str(item).strip()
        if not text:
            continue
        keys.append(
            f"{int(text):02d}" if text.isdigit() else text.removesuffix(".ipynb")
        )
    return keys or None


def find_notebooks(
    notebooks_dir: str | Path,
    select: Iterable[Any] | str | None = None,
    *,
    why: str | None = None,
) -> list[Path]:
    """The numbered notebooks ``NN-name.ipynb`` of a folder, in order.

    Parameters
    ----------
    notebooks_dir : str or Path
        Folder holding the notebooks.
    select : iterable or comma-separated str, optional
        Numbers (``"01"``, ``1``) or stems (``"01-explore"``) of the notebooks to
        run; default all.

    Returns
    -------
    list of Path
        Sorted by file name.

    Raises
    ------
    RunError
        The folder does not exist, holds no numbered notebook, or ``select`` names
        a notebook that is not there.
    why : str, optional
        Why segkit looked in this folder (said in the message when it is missing).
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        reason = f" (looked there because {why})" if why else ""
        raise RunError(
            f"notebooks folder {str(folder)!r} not found{reason}; run segkit from "
            "inside the segkit project (any folder of it), or pass notebooks_dir / "
            "--notebooks-dir"
        )
    found = sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise RunError(
            f"no numbered notebooks (NN-name.ipynb, e.g. 01-explore.ipynb) in "
            f"{str(folder)!r}; add one or point notebooks_dir at the right folder"
        )
    keys = _selection(select)
    if keys is None:
        return found
    chosen = []
    for key in keys:
        matches = [p for p in found if p.stem == key or p.name[:2] == key]
        if not matches:
            raise RunError(
                f"notebook {key!r} not found in {str(folder)!r} (notebooks: "
                f"{', '.join(p.stem for p in found)}); fix --notebooks or "
                "report.notebooks"
            )
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


def check_parameters(notebook: str | Path, parameters: Iterable[str]) -> dict[str, Any]:
    """Refuse a notebook that cannot take the runner's parameters.

    papermill only warns when it passes a name the notebook does not declare, so a
    typo would silently run with the default; here it is an error.

    Parameters
    ----------
    notebook : str or Path
        The notebook file.
    parameters : iterable of str
        Names the runner will pass.

    Returns
    -------
    dict
        The declared parameters, as :func:`papermill.inspect_notebook` reports them.

    Raises
    ------
    RunError
        The notebook lacks kernelspec/language_info metadata, has no cell tagged
        ``parameters``, or does not declare one of ``parameters``.
    """
    import nbformat
    import papermill

    path = Path(notebook)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several types for a broken file
        raise RunError(
            f"notebook {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); "
            "restore it from git or re-save it in JupyterLab"
        ) from None
    missing_meta = [
        key for key in ("kernelspec", "language_info") if key not in nb.metadata
    ]
    if missing_meta:
        raise RunError(
            f"notebook {path.name!r} lacks metadata {missing_meta}, which papermill "
            "needs; open it in JupyterLab on the 'segkit' kernel and save it"
        )
    declared = papermill.inspect_notebook(str(path))
    if not declared:
        raise RunError(
            f"notebook {path.name!r} has no cell tagged 'parameters'; add one declaring "
            f"{', '.join(RUNNER_PARAMETERS)} as literals and tag it 'parameters'"
        )
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise RunError(
            f"notebook {path.name!r} does not declare the parameters {unknown} "
            f"(its parameters cell declares: {', '.join(declared) or 'nothing'}); "
            "add them to its parameters cell or stop passing them"
        )
    return declared


def _runs_this_python(executable: str) -> bool:
    if executable in {"python", "python3", f"python3.{sys.version_info[1]}"}:
        return True  # jupyter_client replaces these by sys.executable
    # Same bin/ folder = same venv; symlinks are not resolved on purpose (a venv's
    # python links to the base interpreter, which would not tell venvs apart).
    exe = Path(os.path.abspath(executable))
    return exe.parent == Path(os.path.abspath(sys.executable)).parent


def resolve_kernel(name: str = KERNEL_NAME, *, install: bool = True) -> str:
    """Name of a kernel that runs this Python (``sys.executable``).

    The ``segkit`` kernel is installed into the venv by ``make venv``. When it is
    missing it is installed the same way (``ipykernel install --sys-prefix``);
    when it points at another interpreter (a kernel of another checkout earlier on
    the Jupyter path), or cannot be installed, ipykernel's native ``python3`` kernel
    is used, which jupyter_client starts with ``sys.executable``.

    Parameters
    ----------
    name : str
        Preferred kernel name.
    install : bool
        Install ``name`` into ``sys.prefix`` when no kernel of that name exists.

    Returns
    -------
    str
        ``name`` or ``"python3"``.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(name)
    except NoSuchKernel:
        spec = None
        if install:
            try:
                from ipykernel.kernelspec import install as install_kernel

                install_kernel(
                    kernel_name=name, display_name="segkit (.venv)", prefix=sys.prefix
                )
                spec = KernelSpecManager().get_kernel_spec(name)
                logger.info("installed the %r kernel into %s", name, sys.prefix)
            except (OSError, NoSuchKernel) as exc:
                logger.warning("could not install the %r kernel: %s", name, exc)
    if spec is not None and spec.argv and _runs_this_python(spec.argv[0]):
        return name
    if spec is not None:
        logger.warning(
            "kernel %r runs %s, not this Python (%s); using %r instead",
            name,
            spec.argv[0] if spec.argv else "?",
            sys.executable,
            _FALLBACK_KERNEL,
        )
    return _FALLBACK_KERNEL

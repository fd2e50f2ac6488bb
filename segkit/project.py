"""Where the segkit project is, and where a relative data path points.

segkit runs from anywhere inside its project, with a config file anywhere on disk.
The project (the folder holding ``notebooks/``, ``reports/`` and the ``segkit``
package) is found from the current folder, never from the config file:

1. the nearest folder at or above the current folder that holds a
   ``pyproject.toml`` naming the ``segkit`` project, or both ``notebooks/`` and
   ``segkit/``;
2. else the source checkout of the installed package
   (``Path(segkit.__file__).parents[1]``) when it holds ``notebooks/``;
3. else the current folder itself (nothing of the project is there; commands that
   need notebooks say so and name the places tried).

A relative data path in a config (``transactions.path``, ``customers.path``) is
tried, in this order, from the config file's folder and then from the project
root; the first that exists wins. When none exists the path is resolved from the
project root, and :func:`missing_data_message` names both places tried. A path may
also be a folder or a glob (``data/raw/days/*.csv.gz``): a glob "exists" where it
matches at least one file (:func:`data_path_exists`).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from segkit.fileinfo import is_glob

__all__ = [
    "find_project_root",
    "locate_project_root",
    "package_checkout",
    "resolve_data_path",
    "data_path_exists",
    "data_path_candidates",
    "missing_data_message",
]

_NAME_LINE = re.compile(r"""^\s*name\s*=\s*["']segkit["']\s*$""", re.MULTILINE)


def _is_project(folder: Path) -> str | None:
    """Why ``folder`` is a segkit project root, or None when it is not one."""
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            text = ""
        if _NAME_LINE.search(text):
            return f"{pyproject} names the segkit project"
    if (folder / "notebooks").is_dir() and (folder / "segkit").is_dir():
        return f"{folder} holds notebooks/ and segkit/"
    return None


def package_checkout() -> Path | None:
    """The source checkout of the imported ``segkit`` package, if it has notebooks."""
    folder = Path(__file__).resolve().parents[1]
    return folder if (folder / "notebooks").is_dir() else None


def locate_project_root(start: str | Path | None = None) -> tuple[Path, str]:
    """The segkit project folder and why it was chosen (for messages).

    Parameters
    ----------
    start : str or Path, optional
        Folder (or file) to search upwards from; default ``os.getcwd()``.

    Returns
    -------
    (Path, str)
        The folder, and a sentence saying how it was found.
    """
    origin = Path(start if start is not None else os.getcwd()).resolve()
    folder = origin if origin.is_dir() else origin.parent
    for candidate in (folder, *folder.parents):
        why = _is_project(candidate)
        if why:
            return candidate, f"found from the current folder {folder}: {why}"
    checkout = package_checkout()
    if checkout is not None:
        return checkout, (
            f"no segkit project at or above the current folder {folder}; using the "
            "source checkout of the installed segkit package"
        )
    return folder, (
        f"no segkit project at or above the current folder {folder} (no "
        "pyproject.toml naming segkit, no folder with notebooks/ and segkit/) and the "
        "installed package has no notebooks/; using the current folder"
    )


def find_project_root(start: str | Path | None = None) -> Path:
    """The segkit project folder, found from ``start`` (default: the current folder).

    See the module docstring for the order; :func:`locate_project_root` also says
    why.
    """
    return locate_project_root(start)[0]


def data_path_candidates(
    path: str | Path, *, config_dir: Path | None, root: Path
) -> list[Path]:
    """The places a data path may point to, in the order they are tried."""
    given = Path(str(path)).expanduser()
    if given.is_absolute():
        return [given]
    folders = [config_dir, root] if config_dir is not None else [root]
    seen: list[Path] = []
    for folder in folders:
        candidate = (Path(folder) / given).resolve()
        if candidate not in seen:
            seen.append(candidate)
    return seen


def resolve_data_path(
    path: str | Path, *, config_dir: Path | None, root: Path
) -> tuple[Path, list[Path]]:
    """Resolve a data path: the first candidate that exists, else the project one.

    Returns
    -------
    (Path, list of Path)
        The absolute path, and every candidate tried (in order).
    """
    candidates = data_path_candidates(path, config_dir=config_dir, root=root)
    for candidate in candidates:
        if data_path_exists(candidate):
            return candidate, candidates
    return candidates[-1], candidates


def data_path_exists(path: str | Path) -> bool:
    """Whether a data path names something: an existing file or folder, or a glob
    matching at least one file."""
    text = str(Path(str(path)).expanduser())
    if is_glob(text):
        return any(Path(p).is_file() for p in glob.iglob(text, recursive=True))
    return Path(text).exists()


def missing_data_message(key: str, given: str, tried: list[Path]) -> str:
    """Message for a data file (or a glob matching nothing) none of the tried
    places holds."""
    if is_glob(given) or any(is_glob(p) for p in tried):
        places = " and ".join(str(p) for p in tried) or repr(given)
        return (
            f"config key {key!r}: the pattern {given!r} matches no file (tried "
            f"{places}); fix the glob, or put the files there"
        )
    if len(tried) <= 1:
        where = str(tried[0]) if tried else repr(given)
        return (
            f"config key {key!r}: data file {where} not found; fix the path or put "
            "the file there"
        )
    places = " and ".join(str(p) for p in tried)
    return (
        f"config key {key!r}: data file {given!r} not found; a relative path is tried "
        f"from the config file's folder, then from the project root: {places}. Fix "
        "the path (absolute, or relative to one of those folders)"
    )

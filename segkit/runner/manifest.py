"""Provenance of a report run: ``manifest.json``.

The manifest records everything needed to tell whether two runs are comparable:
the full validated config, the overrides, each data file read (size and sha256),
the versions of the packages that shape the numbers, the git commit of the code
(and whether the working tree had uncommitted changes), timestamps, the status
and seconds of every notebook, and per analysis step (``steps``) its fingerprint
and whether it was computed or reused from an earlier run (which one), see
:mod:`segkit.reuse`; ``fresh`` is true when reuse was turned off.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from segkit.fileinfo import file_record, source_record

__all__ = [
    "PACKAGES",
    "file_record",
    "data_files",
    "package_versions",
    "git_info",
    "now",
    "new_manifest",
    "write_manifest",
    "read_manifest",
]

logger = logging.getLogger(__name__)

#: Distributions whose versions go into every manifest.
PACKAGES = (
    "segkit",
    "pandas",
    "numpy",
    "scikit-learn",
    "umap-learn",
    "hdbscan",
    "ibis-framework",
    "duckdb",
    "papermill",
    "nbconvert",
)


def data_files(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Records of the data files a config reads, keyed by table.

    Parameters
    ----------
    config : mapping
        A validated config (see :func:`segkit.config.load_config`).

    Returns
    -------
    dict
        ``{"transactions": record, "customers": record}`` for the tables the config
        declares, plus ``"transactions.lookups.<i>"`` per lookup table; see
        :func:`segkit.fileinfo.source_record` (a glob or folder also lists its
        ``files``).
    """
    records = {}
    for table in ("transactions", "customers"):
        section = config.get(table)
        if section and section.get("path"):
            records[table] = source_record(section["path"])
        for i, lookup in enumerate((section.get("lookups") if section else None) or []):
            records[f"{table}.lookups.{i}"] = source_record(lookup["path"])
    return records


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None when one is not installed), plus python.

    Parameters
    ----------
    packages : tuple of str
        Distribution names as pip knows them.

    Returns
    -------
    dict
        ``{"python": "3.11.9", "pandas": "3.1.0", ...}``.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_info(folder: str | Path | None = None) -> dict[str, Any]:
    """Git commit of the code and whether its working tree had uncommitted changes.

    Parameters
    ----------
    folder : str or Path, optional
        A folder inside the repository; default: the folder of the segkit package.

    Returns
    -------
    dict
        ``{"commit": str | None, "dirty": bool | None}``; both None outside a git
        repository or when git is not installed.
    """
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit.strip(),
        "dirty": None if status is None else bool(status.strip()),
    }


def now() -> str:
    """The current local time as ISO 8601 with its UTC offset, to the second."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def new_manifest(
    config: Mapping[str, Any],
    run_dir: Path,
    *,
    parameters: Mapping[str, Any],
    notebooks_dir: Path,
    kernel: str,
    notebooks: list[dict[str, Any]],
    fresh: bool = False,
) -> dict[str, Any]:
    """The manifest of a run that is starting (``status`` ``"running"``).

    Parameters
    ----------
    config : mapping
        The validated config (with ``config_path`` and ``overrides``).
    run_dir : Path
        The new run folder.
    parameters : mapping
        What every notebook receives (``config_path``, ``run_dir``, ``overrides``).
    notebooks_dir : Path
        Folder the notebooks come from.
    kernel : str
        Jupyter kernel they run on.
    notebooks : list of dict
        One entry per notebook (name, status, seconds, error, html, ipynb).
    fresh : bool
        Reuse of earlier steps is off (``segkit report --fresh``).

    Returns
    -------
    dict
        Keys: run_id, run_dir, status, config_path, config, overrides, parameters,
        notebooks_dir, kernel, fresh, data_files, versions, git, started, finished,
        seconds, notebooks, steps. The runner fills in status, finished, seconds,
        the notebooks' outcomes and ``steps`` (step -> fingerprint, status
        ``computed``/``reused``, reused_from run id, seconds, computed_seconds;
        :func:`segkit.pipeline.step_records`) at the end.
    """
    return {
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "status": "running",
        "config_path": config["config_path"],
        "config": _plain(config),
        "overrides": parameters["overrides"],
        "parameters": dict(parameters),
        "notebooks_dir": str(Path(notebooks_dir).resolve()),
        "kernel": kernel,
        "fresh": bool(fresh),
        "data_files": data_files(config),
        "versions": package_versions(),
        "git": git_info(),
        "started": now(),
        "finished": None,
        "seconds": None,
        "notebooks": list(notebooks),
        "steps": {},
    }


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as plain JSON values (a typed Config or an older plain dict)."""
    to_dict = getattr(config, "to_dict", None)
    return to_dict(mode="json") if callable(to_dict) else dict(config)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_manifest(path: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` as indented JSON, atomically (write then rename).

    Parameters
    ----------
    path : str or Path
        Usually ``<run>/manifest.json``.
    manifest : mapping
        Dates, paths and numpy scalars are converted to JSON values.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(
        json.dumps(manifest, indent=2, default=_json_default), encoding="utf-8"
    )
    scratch.replace(path)
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a ``manifest.json`` written by :func:`write_manifest`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))

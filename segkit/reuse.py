"""Step reuse: a private cache of step artifacts keyed by what the step read.

A step's artifacts are reused when its inputs are unchanged. The inputs of a step
are summed up in its *fingerprint* (:func:`step_fingerprint`), a SHA-256 of

- the step's name;
- segkit's code: the version and a hash of every ``.py`` file of the installed
  package (an edited checkout never reuses results of the old code), plus the
  versions of the libraries that shape the numbers (:data:`LIBRARIES`);
- the checksums of the data files the config names (``transactions.path``,
  ``customers.path``, each a file, folder or glob, and the lookup tables of
  ``transactions.lookups``);
- the resolved config keys the step reads (:data:`segkit.pipeline.STEP_SECTIONS`,
  a section name or a dotted key);
- the fingerprints of the earlier steps whose artifacts it reads
  (:data:`segkit.pipeline.STEP_DEPENDS`).

Where the cache lives, and why there: after a report run,
:func:`segkit.runner.exports.write_exports` pseudonymises every id-bearing
artifact of the run folder, so a previous run folder cannot be copied back as
input (the CRM export would then carry pseudonyms). The cache keeps the artifacts
as the step wrote them, with the real ids, next to the CRM exports, the one place
real ids live: ``<reports parent>/exports/.cache/<step>/<fingerprint>/`` (the run
folder is ``<reports parent>/reports/<run>``). Each entry holds the files the step
created or changed under ``artifacts/`` and its marker. The last :data:`KEEP`
entries per step are kept; older ones are deleted.

When reuse happens: only in a report run folder (one with a ``manifest.json``,
written by ``segkit report`` before the first notebook), so scratch folders of
JupyterLab and tests never read or fill a shared cache; never when the
environment variable ``SEGKIT_FRESH`` is ``1`` (``segkit report --fresh`` sets it
for the notebook kernels); never for a step in :data:`NEVER_REUSED`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from stat import S_ISREG
from typing import Any

from segkit.exceptions import InputFileError
from segkit.fileinfo import files_sha256, source_files

__all__ = [
    "FRESH_ENV",
    "KEEP",
    "NEVER_REUSED",
    "cache_enabled",
    "LIBRARIES",
    "cache_dir",
    "code_fingerprint",
    "config_value",
    "data_checksums",
    "fingerprint_of",
    "fresh_requested",
    "library_versions",
    "reuse_allowed",
    "snapshot",
    "changed_files",
    "store",
    "lookup",
    "restore",
]

logger = logging.getLogger(__name__)

#: Environment variable that turns reuse off (``1``); ``segkit report --fresh``
#: sets it for the notebook kernels it starts.
FRESH_ENV = "SEGKIT_FRESH"

#: Cache entries kept per step (the newest by use). Ten, so that going back and
#: forth between a few settings (a horizon of 60, then 90 again) still finds every
#: step computed before; an entry is the step's artifacts, a few MB on Online
#: Retail (the data step's 5.6 MB is the largest).
KEEP = 10

#: Steps that are always computed. ``profile`` writes the run id into
#: ``assignments.csv`` and ``segments.json`` and reads the previous run folder
#: (migration) and the analyst's names file: inputs outside the config and data
#: that change with every run, so its artifacts can never be reused as they are.
NEVER_REUSED = frozenset({"profile"})

#: Distributions whose versions enter every fingerprint (they shape the numbers).
LIBRARIES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "umap-learn",
    "hdbscan",
    "ibis-framework",
    "duckdb",
    "pymc-marketing",
)

_MARKER = "marker.json"
_PACKAGE = Path(__file__).resolve().parent


def fresh_requested() -> bool:
    """True when ``SEGKIT_FRESH=1`` is set (``segkit report --fresh``)."""
    return os.environ.get(FRESH_ENV, "").strip().lower() in ("1", "true", "yes")


def cache_dir(run_dir: str | Path) -> Path:
    """``<parent of the reports folder>/exports/.cache`` for a run folder.

    The same folder as :func:`segkit.runner.exports.default_exports_dir` uses for
    the CRM exports (computed here from the path: this base module imports no
    runner).
    """
    return Path(run_dir).resolve().parent.parent / "exports" / ".cache"


def cache_enabled(run_dir: str | Path, step: str) -> bool:
    """Whether a computed ``step`` is stored in the cache: in a report run folder
    (it has a ``manifest.json``), for a step not in :data:`NEVER_REUSED`. Also
    under ``--fresh``, so a fresh run refreshes the cache."""
    return step not in NEVER_REUSED and (Path(run_dir) / "manifest.json").is_file()


def reuse_allowed(run_dir: str | Path, step: str) -> bool:
    """Whether ``step`` may be read from the cache: :func:`cache_enabled` and
    ``SEGKIT_FRESH`` not set."""
    return cache_enabled(run_dir, step) and not fresh_requested()


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of segkit's version, its ``.py`` sources and the library versions.

    Computed once per process (the sources do not change while a kernel runs).
    """
    digest = hashlib.sha256()
    try:
        version = importlib.metadata.version("segkit")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest.update(f"segkit {version}\n".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for line in library_versions(LIBRARIES):
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()


def library_versions(names: Iterable[str]) -> list[str]:
    """``"<name> <version>"`` per installed distribution, ``"<name> -"`` if absent."""
    out = []
    for name in names:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} -")
    return out


def _checksum(path: str | Path) -> str | None:
    try:
        return files_sha256(source_files(path))
    except InputFileError:
        return None


def data_checksums(config: Mapping[str, Any]) -> dict[str, str | None]:
    """SHA-256 of each data source the config names, keyed by table.

    A glob or folder gives one digest over its files
    (:func:`segkit.fileinfo.files_sha256`); lookup tables are keyed
    ``transactions.lookups.<i>``; a source naming no file gives None.
    """
    out: dict[str, str | None] = {}
    for table in ("transactions", "customers"):
        section = config.get(table)
        path = None if section is None else section.get("path")
        if path:
            out[table] = _checksum(path)
        lookups = (section.get("lookups") if section is not None else None) or []
        for i, lookup in enumerate(lookups):
            out[f"{table}.lookups.{i}"] = _checksum(lookup["path"])
    return out


def config_value(config: Mapping[str, Any], key: str) -> Any:
    """The resolved value of a section (``"clustering"``) or a dotted key
    (``"validation.horizon_days"``) as plain JSON data."""
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part)
    dump = getattr(node, "model_dump", None)
    return dump(mode="json") if callable(dump) else node


def fingerprint_of(parts: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of JSON data with sorted keys."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def snapshot(artifacts: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of the files under ``artifacts``,
    step markers excluded."""
    found: dict[str, tuple[int, int]] = {}
    if not artifacts.is_dir():
        return found
    for path in artifacts.rglob("*"):
        rel = path.relative_to(artifacts).as_posix()
        if rel.startswith("steps/"):
            continue
        try:  # another step, running beside this one, may remove or rename a file
            stat = path.stat()
        except FileNotFoundError:
            continue
        if _is_file(stat):
            found[rel] = (stat.st_size, stat.st_mtime_ns)
    return found


def _is_file(stat: os.stat_result) -> bool:
    """True for the ``stat`` of a regular file."""
    return S_ISREG(stat.st_mode)


def changed_files(
    before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
) -> tuple[list[str], list[str]]:
    """The files a step created or changed, and those it removed (sorted)."""
    changed = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
    removed = sorted(set(before) - set(after))
    return changed, removed


def _entries(step_dir: Path) -> list[Path]:
    if not step_dir.is_dir():
        return []
    return [p for p in step_dir.iterdir() if p.is_dir() and (p / _MARKER).is_file()]


def _prune(step_dir: Path, keep: int) -> None:
    entries = sorted(_entries(step_dir), key=lambda p: p.stat().st_mtime_ns)
    for old in entries[: max(len(entries) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def store(
    run_dir: str | Path,
    step: str,
    record: Mapping[str, Any],
    *,
    keep: int = KEEP,
) -> Path | None:
    """Copy a computed step's files and marker into the cache.

    Parameters
    ----------
    run_dir : str or Path
        The run folder the step ran in.
    step : str
        The step.
    record : mapping
        Its marker: ``fingerprint`` and ``files`` (paths under ``artifacts/``).
    keep : int
        Entries kept per step after storing.

    Returns
    -------
    Path or None
        The cache entry; None when it could not be written (logged, the run goes
        on: a missing cache entry only costs a recomputation later).
    """
    artifacts = Path(run_dir) / "artifacts"
    step_dir = cache_dir(run_dir) / step
    final = step_dir / str(record["fingerprint"])
    scratch = step_dir / f".tmp-{uuid.uuid4().hex}"
    try:
        for rel in record["files"]:
            target = scratch / "files" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            # A copy, never a link: write_exports later rewrites the run's files in
            # place (pseudonyms) and must not reach the cached real ids.
            shutil.copyfile(artifacts / rel, target)
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / _MARKER).write_text(
            json.dumps(dict(record), indent=2, default=str), encoding="utf-8"
        )
        if final.exists():  # the newest computation of a fingerprint wins
            trash = step_dir / f".old-{uuid.uuid4().hex}"
            final.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        scratch.rename(final)
    except OSError as exc:
        logger.warning("could not cache step %s in %s: %s", step, step_dir, exc)
        shutil.rmtree(scratch, ignore_errors=True)
        return None
    _prune(step_dir, keep)
    return final


def lookup(run_dir: str | Path, step: str, fingerprint: str) -> dict[str, Any] | None:
    """The cached marker of ``step`` with ``fingerprint``, or None."""
    path = cache_dir(run_dir) / step / fingerprint / _MARKER
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = path.parent / "files"
    if not all((files / rel).is_file() for rel in record.get("files", [])):
        return None
    return record


def restore(run_dir: str | Path, step: str, cached: Mapping[str, Any]) -> Iterable[str]:
    """Copy a cache entry's files into the run's ``artifacts/``; return their paths.

    Files the step removed when it ran are removed here too.
    """
    artifacts = Path(run_dir) / "artifacts"
    entry = cache_dir(run_dir) / step / str(cached["fingerprint"])
    for rel in cached.get("files", []):
        target = artifacts / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry / "files" / rel, target)
    for rel in cached.get("removed", []):
        (artifacts / rel).unlink(missing_ok=True)
    os.utime(entry)  # most recently used: pruned last
    return list(cached.get("files", []))

"""Describe a data file by path, size and SHA-256 (for the ledger and the manifest).

A data source may also be several files: a glob (``data/raw/days/*.csv.gz``) or a
folder (every CSV or Parquet file in it). :func:`source_files` lists them, sorted
by path; :func:`files_sha256` is one digest over them and :func:`source_record`
the manifest's record of a file, glob or folder.
"""

from __future__ import annotations

import functools
import glob
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from segkit.exceptions import InputFileError

__all__ = [
    "DATA_SUFFIXES",
    "file_record",
    "file_sha256",
    "files_sha256",
    "is_glob",
    "source_files",
    "source_record",
]

#: File names a folder source reads (a name ends with one of these, any case).
DATA_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".txt", ".tsv", ".parquet", ".pq")

_CHUNK = 1 << 20


def file_record(path: str | Path) -> dict[str, Any]:
    """Describe one data file: absolute path, size in bytes and sha256.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        ``{"path", "name", "exists", "size", "sha256"}``; ``size`` and ``sha256`` are
        None when the file does not exist (the run then fails in its first notebook,
        which names the file and the fix).
    """
    path = Path(path).expanduser().resolve()
    record: dict[str, Any] = {
        "path": str(path),
        "name": path.name,
        "exists": path.is_file(),
        "size": None,
        "sha256": None,
    }
    if record["exists"]:
        stat = path.stat()
        record["size"] = stat.st_size
        record["sha256"] = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    return record


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and modification time as well as the path, so an edited file
    # is hashed again; the manifest and every step fingerprint of a kernel then
    # hash a large data file once.
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex); hashed once per process while the file's
    size and modification time stay the same."""
    return str(file_record(path)["sha256"])


def is_glob(path: str | Path) -> bool:
    """Whether ``path`` is a glob pattern (holds ``*``, ``?`` or ``[``)."""
    return glob.has_magic(str(path))


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not name.startswith(".") and name.endswith(DATA_SUFFIXES)


def source_files(path_or_glob: str | Path) -> list[Path]:
    """The data files a source path names, sorted by path.

    Parameters
    ----------
    path_or_glob : str or Path
        A file; a folder (every CSV or Parquet file directly in it, see
        :data:`DATA_SUFFIXES`); or a glob such as ``data/raw/days/*.csv.gz``
        (``**`` reaches into subfolders).

    Returns
    -------
    list of Path
        Absolute paths, sorted by path (for daily files named by date: by day).

    Raises
    ------
    InputFileError
        The file does not exist, the glob matches no file, or the folder holds
        no data file; the message names the path or pattern.
    """
    text = str(Path(str(path_or_glob)).expanduser())
    if is_glob(text):
        found = sorted(
            Path(p).resolve()
            for p in glob.glob(text, recursive=True)
            if Path(p).is_file()
        )
        if not found:
            raise InputFileError(
                f"the pattern {text!r} matches no file; fix transactions.path (a glob "
                "such as 'data/raw/days/*.csv.gz', relative to the config's folder or "
                "the project root) or put the files there"
            )
        return found
    path = Path(text).resolve()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if _is_data_file(p))
        if not found:
            raise InputFileError(
                f"folder {path} holds no CSV or Parquet file (names ending "
                f"{', '.join(DATA_SUFFIXES)}); put the data files there or point "
                "the config's path at a file or a glob"
            )
        return found
    if not path.is_file():
        raise InputFileError(
            f"data file {path} not found; fix the path in the config or put the file "
            "there"
        )
    return [path]


def files_sha256(paths: Iterable[str | Path]) -> str:
    """One SHA-256 over several files (hex), independent of the order given.

    One file: its own SHA-256 (what ``sha256sum`` prints, as :func:`file_sha256`).
    Several: the SHA-256 of the ``sha256sum``-style lines ``<sha256>  <name>`` of
    the files sorted by path, one per line, so a renamed, added, removed or edited
    file changes it (``sha256sum $(ls) | sha256sum`` in the folder gives the same
    digest when the names sort the same way).
    """
    files = sorted(Path(p).expanduser().resolve() for p in paths)
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{file_sha256(p)}  {p.name}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def source_record(path_or_glob: str | Path) -> dict[str, Any]:
    """Describe a data source: a file (:func:`file_record`), a glob or a folder.

    A glob or folder gives ``{"path", "name", "exists", "size", "sha256",
    "files"}``: the pattern or folder, the total size, :func:`files_sha256` over
    the files and their names in order; ``exists`` is False (size and sha256 None,
    files empty) when it names no file.
    """
    text = str(path_or_glob)
    if not is_glob(text) and not Path(text).expanduser().is_dir():
        return file_record(text)
    try:
        files = source_files(text)
    except InputFileError:
        files = []
    return {
        "path": text,
        "name": Path(text).name,
        "exists": bool(files),
        "size": sum(p.stat().st_size for p in files) if files else None,
        "sha256": files_sha256(files) if files else None,
        "files": [p.name for p in files],
    }

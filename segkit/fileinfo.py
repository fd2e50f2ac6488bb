"""Describe a data file by path, size and SHA-256 (for the ledger and the manifest)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

__all__ = ["file_record", "file_sha256"]

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

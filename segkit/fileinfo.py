"""Describe a data file by path, size and SHA-256 (for the ledger and the manifest)."""

from __future__ import annotations

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
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        record["size"] = path.stat().st_size
        record["sha256"] = digest.hexdigest()
    return record


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return str(file_record(path)["sha256"])

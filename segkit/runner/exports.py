"""The CRM export of a run, kept apart from the shareable report folder.

A run folder ``reports/<run>/`` is meant to be shared as is, so it must hold no
real customer id. After the notebooks ran, :func:`write_exports`

1. writes the CRM export with the real ids to ``exports/<run>/`` (next to
   ``reports/``): ``assignments.csv`` (copied from the run) and one CSV per segment
   under ``segments/`` (``<id>-<name>.csv``, columns ``customer_id``,
   ``segment_id``, ``segment_name``), plus a ``README.txt``;
2. replaces the customer ids in every artifact of the run (each Parquet file with
   a ``customer_id`` index or column and each CSV with a ``customer_id`` column)
   by keyed pseudonyms (:func:`segkit.privacy.pseudonymise`, salted with the
   config name). The same id always gets the same pseudonym, so the artifacts
   still join with each other: notebooks re-run on the folder and ``segkit
   report`` keep working;
3. records what it did in ``artifacts/privacy.json`` (the files rewritten, where
   the export went; never the key), which also makes a second call a no-op.

Step 2 is read back where it can be (``cache_folder``, which ``segkit report``
gives): a rerun's reused artifacts are the very files of an earlier run, so their
pseudonymised copies are too. Rewriting Online Retail's 11 id-bearing artifacts
took about 1.2 s at the end of every report (2026-12-03), most of it the
transactions; a copy keyed by the file's bytes, the salt, the key and segkit's
code (:func:`_pseudonymised_key`) takes a few milliseconds and gives the same bytes.
The cache holds pseudonymised files only.

Design note: moving the id-bearing artifacts out of the run folder would break
every notebook that re-runs alone on it; pseudonymising them in place keeps the
folder self-contained and shareable. Whoever holds the key (outside the run and
the repository, see :func:`segkit.privacy.key_path`) can recompute a pseudonym,
no one can reverse one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

import pandas as pd

from segkit.exceptions import RunError
from segkit.privacy import pseudonym_key, pseudonym_salt, pseudonymise
from segkit.reuse import code_fingerprint

__all__ = [
    "ID_COLUMN",
    "KEEP",
    "default_exports_dir",
    "id_artifacts",
    "prune",
    "write_exports",
]

logger = logging.getLogger(__name__)

#: The column (or index name) that holds customer ids in every artifact.
ID_COLUMN = "customer_id"

_SLUG = re.compile(r"[^a-z0-9]+")

#: Pseudonymised artifacts kept in the cache (the newest by use): a report run
#: of Online Retail rewrites 11.
KEEP = 200


def default_exports_dir(run_dir: str | Path) -> Path:
    """``<parent of the reports folder>/exports/<run name>``."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent.parent / "exports" / run_dir.name


def _has_ids(path: Path) -> bool:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        return ID_COLUMN in names
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
        return ID_COLUMN in header
    return False


def id_artifacts(run_dir: str | Path) -> list[Path]:
    """The artifacts of a run that hold customer ids (Parquet and CSV files)."""
    art = Path(run_dir) / "artifacts"
    found = [
        p
        for p in sorted(art.rglob("*"))
        if p.is_file() and p.suffix in (".parquet", ".csv") and _has_ids(p)
    ]
    return found


def _config_name(run_dir: Path) -> str:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(
            f"cannot read {run_dir / 'manifest.json'} ({exc}); write_exports needs "
            "the manifest of a finished run (its config name salts the pseudonyms)"
        ) from exc
    return str((manifest.get("config") or {}).get("name") or "")


def _segment_files(assignments: pd.DataFrame, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    columns = [ID_COLUMN, "segment_id", "segment_name"]
    for (segment, name), part in assignments.groupby(
        ["segment_id", "segment_name"], sort=True
    ):
        slug = _SLUG.sub("-", str(name).lower()).strip("-") or "segment"
        path = folder / f"{int(segment)}-{slug}.csv"
        part[columns].to_csv(path, index=False)
        written.append(path)
    return written


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as text the way the steps key them: 17850.0 (a float column) -> "17850"."""
    if pd.api.types.is_float_dtype(ids) and (ids.dropna() % 1 == 0).all():
        ids = ids.astype("Int64")
    return ids.astype(str)


def _pseudonymise_file(path: Path, salt: str) -> None:
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype={ID_COLUMN: str}, keep_default_na=False)
        frame[ID_COLUMN] = pseudonymise(frame[ID_COLUMN], salt=salt).to_numpy()
        frame.to_csv(path, index=False)
        return
    frame = pd.read_parquet(path)
    if frame.index.name == ID_COLUMN:
        new = pseudonymise(_id_text(frame.index.to_series()), salt=salt)
        frame.index = pd.Index(new.to_numpy(), name=ID_COLUMN, dtype="str")
    if ID_COLUMN in frame.columns:
        ids = frame[ID_COLUMN]
        mask = ids.notna()
        out = pd.Series(pd.NA, index=frame.index, dtype="str")
        out[mask] = pseudonymise(_id_text(ids[mask]), salt=salt).to_numpy()
        frame[ID_COLUMN] = out
    frame.to_parquet(path)


def _pseudonymised_key(path: Path, salt: str) -> str:
    """What the pseudonymised bytes of ``path`` depend on: its bytes, the salt, the
    secret key (through its hash only) and segkit's code and library versions."""
    digest = hashlib.sha256()
    key_hash = hashlib.sha256(pseudonym_key()).hexdigest()
    for part in (code_fingerprint(), salt, key_hash, path.suffix):
        digest.update(part.encode("utf-8") + b"\0")
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pseudonymise_cached(
    path: Path, salt: str, folder: Path | None, *, read: bool = True
) -> bool:
    """:func:`_pseudonymise_file`, read back from ``folder`` when it holds this
    file's pseudonymised copy (True then); ``read=False`` rewrites and refreshes."""
    if folder is None:
        _pseudonymise_file(path, salt)
        return False
    stored = folder / f"{_pseudonymised_key(path, salt)}{path.suffix}"
    if read and stored.is_file():
        shutil.copyfile(stored, path)
        os.utime(stored)  # used now: kept by prune
        return True
    _pseudonymise_file(path, salt)
    folder.mkdir(parents=True, exist_ok=True)
    partial = stored.with_name(f"{stored.name}.{os.getpid()}.partial")
    shutil.copyfile(path, partial)
    os.replace(partial, stored)  # never a half-written copy under the key
    return False


def prune(folder: str | Path, keep: int = KEEP) -> int:
    """Delete all but the ``keep`` most recently used copies; return how many went."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    files = [p for p in folder.iterdir() if p.suffix in (".parquet", ".csv")]
    files.sort(key=lambda p: p.stat().st_mtime_ns)
    old = files[: max(len(files) - keep, 0)]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)


def write_exports(
    run_dir: str | Path,
    exports_root: str | Path | None = None,
    *,
    pseudonymise_run: bool = True,
    cache_folder: str | Path | None = None,
    fresh: bool = False,
) -> Path:
    """Write the CRM export of a run and pseudonymise the ids left in the run folder.

    Parameters
    ----------
    run_dir : str or Path
        A run folder with ``manifest.json`` and ``artifacts/assignments.csv``
        (written by notebook 05). Without the assignments only step 2 happens.
    exports_root : str or Path, optional
        Folder that gets one subfolder per run; default ``exports/`` next to the
        run's reports folder (:func:`default_exports_dir`).
    pseudonymise_run : bool
        Replace the ids in the run's artifacts (default); ``False`` only writes
        the export.
    cache_folder : str or Path, optional
        Where pseudonymised copies are kept and read back (see above); default
        none: every file is rewritten.
    fresh : bool
        Rewrite every file and refresh its copy in ``cache_folder`` (``segkit
        report --fresh``).

    Returns
    -------
    Path
        ``<exports_root>/<run name>``.

    Raises
    ------
    RunError
        The run's ``manifest.json`` cannot be read, or the export folder is inside
        the run folder (it would then be shared with the report).
    """
    run_dir = Path(run_dir).resolve()
    dest = (
        default_exports_dir(run_dir)
        if exports_root is None
        else Path(exports_root).resolve() / run_dir.name
    )
    if dest == run_dir or run_dir in dest.parents:
        raise RunError(
            f"exports folder {dest} is inside the run folder {run_dir}; pass an "
            "exports_root outside it (the run folder must hold no real ids)"
        )
    record_path = run_dir / "artifacts" / "privacy.json"
    if record_path.exists():
        logger.info("%s: ids already pseudonymised; export left as is", run_dir.name)
        return dest
    salt = pseudonym_salt({"name": _config_name(run_dir)})
    assignments_path = run_dir / "artifacts" / "assignments.csv"
    segment_files: list[Path] = []
    if assignments_path.exists():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assignments_path, dest / "assignments.csv")
        assignments = pd.read_csv(assignments_path, dtype={ID_COLUMN: str})
        segment_files = _segment_files(assignments, dest / "segments")
        (dest / "README.txt").write_text(
            f"CRM export of run {run_dir.name} with REAL customer ids: do not share.\n"
            "assignments.csv: one row per customer (customer_id, segment_id, "
            "segment_name, run_id, as_of).\n"
            "segments/<id>-<name>.csv: the customers of one segment.\n"
            f"The report folder {run_dir} holds pseudonymised ids only.\n",
            encoding="utf-8",
        )
    rewritten: list[str] = []
    read_back = 0
    folder = None if cache_folder is None else Path(cache_folder)
    if pseudonymise_run:
        for path in id_artifacts(run_dir):
            read_back += _pseudonymise_cached(path, salt, folder, read=not fresh)
            rewritten.append(str(path.relative_to(run_dir)))
        record = {
            "pseudonymised": rewritten,
            "id_column": ID_COLUMN,
            "salt": "config name",
            "exports": str(dest) if assignments_path.exists() else None,
            "segment_files": [str(p.relative_to(dest)) for p in segment_files],
            "written": dt.datetime.now().isoformat(timespec="seconds"),
        }
        record_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    logger.info(
        "exports of %s in %s; %d artifacts pseudonymised (%d read back)",
        run_dir.name,
        dest,
        len(rewritten),
        read_back,
    )
    return dest


def _parquet_ids(path: Path, ids: set[str]) -> set[str]:
    """Ids in the ``customer_id`` column or a named index of a Parquet file (a
    product code that happens to equal an id is no leak, so other columns are not
    compared)."""
    frame = pd.read_parquet(path)
    columns = [frame[c] for c in frame.columns if c == ID_COLUMN]
    if not isinstance(frame.index, pd.RangeIndex):
        columns.append(frame.index.to_series())
    hits: set[str] = set()
    for column in columns:
        values = column.dropna().astype(str).str.removesuffix(".0")
        hits |= ids & set(values.unique())
    return hits


def files_with_ids(
    folder: str | Path, ids: list[str] | pd.Index
) -> dict[str, list[str]]:
    """Which files under ``folder`` contain any of ``ids`` as a whole token.

    Text and binary files alike are searched for each id's digits (or text) not
    touching another letter, digit, ``+`` or ``/`` (so base64 images and longer
    numbers do not match); an id followed by ``.0`` (a float) still matches.

    Parameters
    ----------
    folder : str or Path
        Searched recursively.
    ids : list of str
        Raw customer ids (compared as text).

    Returns
    -------
    dict
        Path relative to ``folder`` -> the ids found in it (at most 5 listed),
        only for files with a match.
    """
    folder = Path(folder)
    tokens = sorted({str(i) for i in ids if str(i)}, key=len, reverse=True)
    if not tokens:
        return {}
    pattern = re.compile(
        rb"(?<![0-9A-Za-z+/])("
        + b"|".join(re.escape(t.encode()) for t in tokens)
        + rb")(?![0-9A-Za-z+/])"
    )
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        hits = {m.decode() for m in pattern.findall(path.read_bytes())}
        if path.suffix == ".parquet":  # compressed pages: compare the values too
            hits |= _parquet_ids(path, set(tokens))
        hits = sorted(hits)
        if hits:
            found[str(path.relative_to(folder))] = hits[:5]
    return found

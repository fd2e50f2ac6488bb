"""What changed: migration between two assignments, ARI and size changes.

Two comparisons use the same functions:

* **Between runs** — the previous run of the same config (``profiles.compare_to``,
  or found by :func:`find_previous_run`) against this run. Previous segment ids are
  first mapped to this run's ids by the Hungarian method on shared customers
  (:func:`segkit.profiles.naming.match_by_overlap`), so "stayed" is the diagonal even when
  label numbers differ.
* **Within a run** — the fitted model's assignment as of ``as_of - horizon`` against
  the assignment as of ``as_of`` (same model, same ids), so a first run already
  shows how customers move.

Migration matrix
    Rows: the previous state (each segment, plus ``new`` for customers only in the
    current assignment); columns: the current state (each segment, plus ``lapsed``
    for customers only in the previous one). Each row is divided by its total, so a
    row reads "of the customers who were in X, this share is now in Y".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segkit.exceptions import DataError
from segkit.profiles.naming import match_by_overlap
from segkit.profiles.profile import segment_label

__all__ = [
    "NEW",
    "LAPSED",
    "Evolution",
    "migration_counts",
    "migration_matrix",
    "common_ari",
    "size_changes",
    "compare_assignments",
    "find_previous_run",
    "read_assignments",
]

logger = logging.getLogger(__name__)

NEW = "new"
LAPSED = "lapsed"


def _states(previous: pd.Series, current: pd.Series) -> tuple[pd.Series, pd.Series]:
    index = previous.index.union(current.index)
    before = previous.astype("object").reindex(index).fillna(NEW)
    after = current.astype("object").reindex(index).fillna(LAPSED)
    return before.astype(str), after.astype(str)


def migration_counts(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Customers per (previous state, current state).

    Parameters
    ----------
    previous, current : Series
        Segment (id or name) per customer, indexed by ``customer_id``.

    Returns
    -------
    DataFrame
        Rows: previous states then ``new``; columns: current states then
        ``lapsed``; integer counts. State labels are strings.
    """
    before, after = _states(previous, current)
    rows = [str(s) for s in pd.unique(previous.astype(str))] + [NEW]
    cols = [str(s) for s in pd.unique(current.astype(str))] + [LAPSED]
    rows = sorted(rows[:-1], key=_state_key) + [NEW]
    cols = sorted(cols[:-1], key=_state_key) + [LAPSED]
    table = pd.crosstab(before, after).reindex(index=rows, columns=cols, fill_value=0)
    table.index.name = "previous"
    table.columns.name = "current"
    return table.astype("int64")


def _state_key(value: str) -> tuple[int, Any]:
    try:
        return (0, int(value))
    except ValueError:
        return (1, value)


def migration_matrix(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Row-normalised migration matrix (each row sums to 1; empty rows are 0)."""
    counts = migration_counts(previous, current)
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def common_ari(previous: pd.Series, current: pd.Series) -> float:
    """Adjusted Rand index on the customers present in both (NaN if < 2)."""
    common = previous.index.intersection(current.index)
    if len(common) < 2:
        return float("nan")
    return float(
        adjusted_rand_score(
            previous.loc[common].astype(str), current.loc[common].astype(str)
        )
    )


def size_changes(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Customers per segment before and after.

    Returns
    -------
    DataFrame
        ``segment, previous_size, current_size, change, change_pct,
        previous_share, current_share`` (``change_pct`` NaN for a new segment).
    """
    before = previous.astype(str).value_counts()
    after = current.astype(str).value_counts()
    segments = sorted(set(before.index) | set(after.index), key=_state_key)
    out = pd.DataFrame({"segment": segments})
    out["previous_size"] = [int(before.get(s, 0)) for s in segments]
    out["current_size"] = [int(after.get(s, 0)) for s in segments]
    out["change"] = out["current_size"] - out["previous_size"]
    base = out["previous_size"].replace(0, np.nan)
    out["change_pct"] = 100.0 * out["change"] / base
    out["previous_share"] = out["previous_size"] / max(int(before.sum()), 1)
    out["current_share"] = out["current_size"] / max(int(after.sum()), 1)
    return out


@dataclass
class Evolution:
    """One comparison of two assignments.

    Attributes
    ----------
    kind : str
        ``"previous run"`` or ``"within run"``.
    matrix, counts : DataFrame
        Row-normalised and raw migration tables (state labels are segment names).
    sizes : DataFrame
        :func:`size_changes` on the names.
    ari : float
        On customers in both.
    mapping : dict
        Previous segment id -> current segment id (identity within a run).
    details : dict
        Customers in both, new, lapsed, stayed share, and what was compared.
    """

    kind: str
    matrix: pd.DataFrame
    counts: pd.DataFrame
    sizes: pd.DataFrame
    ari: float
    mapping: dict[int, int]
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (one entry of ``evolution.json``)."""
        return {
            "kind": self.kind,
            "ari": self.ari,
            "mapping": {str(k): v for k, v in self.mapping.items()},
            **self.details,
            "sizes": self.sizes.to_dict(orient="records"),
        }

    def long_matrix(self) -> pd.DataFrame:
        """The matrix in long form: ``comparison, previous, current, customers, share``."""
        counts = self.counts.stack().rename("customers")
        shares = self.matrix.stack().rename("share")
        long = pd.concat([counts, shares], axis=1).reset_index()
        long.insert(0, "comparison", self.kind)
        return long


def compare_assignments(
    previous: pd.Series,
    current: pd.Series,
    *,
    names: dict[int, str] | None = None,
    match: bool = True,
    kind: str = "previous run",
) -> Evolution:
    """Compare two assignments of segment ids (index ``customer_id``).

    Parameters
    ----------
    previous, current : Series
        Integer segment ids per customer.
    names : dict, optional
        Current segment id -> name, used to label states.
    match : bool
        Map previous ids to current ids by shared customers first (between runs);
        False when both come from the same model (within a run).
    kind : str
        Label stored in the result.

    Returns
    -------
    Evolution
    """
    for which, series in (("previous", previous), ("current", current)):
        if not isinstance(series, pd.Series):
            raise DataError(
                f"the {which} assignment must be a Series of segment ids indexed by "
                f"customer_id, got {type(series).__name__}"
            )
    previous = previous.astype("int64")
    current = current.astype("int64")
    if match:
        mapping = match_by_overlap(previous, current)
    else:
        mapping = {int(s): int(s) for s in previous.unique()}

    def prev_label(s: int) -> str:
        if s in mapping:
            return segment_label(mapping[s], names)
        return f"previous {segment_label(s, None if match else names)}"

    before = previous.map(prev_label)
    after = current.map(lambda s: segment_label(s, names))
    common = previous.index.intersection(current.index)
    stayed = (
        float((before.loc[common] == after.loc[common]).mean())
        if len(common)
        else np.nan
    )
    details = {
        "customers_both": int(len(common)),
        "customers_new": int(len(current.index.difference(previous.index))),
        "customers_lapsed": int(len(previous.index.difference(current.index))),
        "stayed_share": stayed,
    }
    return Evolution(
        kind=kind,
        matrix=migration_matrix(before, after),
        counts=migration_counts(before, after),
        sizes=size_changes(before, after),
        ari=common_ari(previous, current),
        mapping=mapping,
        details=details,
    )


def read_assignments(path: str | Path) -> pd.Series:
    """Segment ids from an ``assignments.csv`` (index ``customer_id`` as string)."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"assignments file {str(path)!r} not found; profiles.compare_to must name a "
            "run folder whose artifacts/assignments.csv exists"
        )
    frame = pd.read_csv(path, dtype={"customer_id": "str"})
    missing = [c for c in ("customer_id", "segment_id") if c not in frame.columns]
    if missing:
        raise DataError(
            f"assignments file {str(path)!r} lacks the columns {missing} (columns: "
            f"{list(frame.columns)}); point profiles.compare_to at a segkit run folder"
        )
    series = frame.set_index("customer_id")["segment_id"].astype("int64")
    return series.rename("segment")


_RUN_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:-(\d+))?$")


def _run_key(folder: Path) -> tuple[dt.date, int] | None:
    match = _RUN_NAME.match(folder.name)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return day, int(match.group(2) or 1)


def _config_name_of(folder: Path) -> str | None:
    for name, keys in (
        ("manifest.json", (("config", "name"), ("config_name",), ("name",))),
        ("artifacts/segments.json", (("config_name",),)),
    ):
        path = folder / name
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for chain in keys:
            value: Any = data
            for key in chain:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, str):
                return value
    return None


def find_previous_run(run_dir: str | Path, config_name: str) -> Path | None:
    """The newest earlier run folder of the same config, or None.

    Looks in ``run_dir``'s parent (the reports output dir) for folders named
    ``YYYY-MM-DD[-N]`` that sort before ``run_dir``, whose ``manifest.json`` (or
    ``artifacts/segments.json``) names the same config and that hold
    ``artifacts/assignments.csv``.
    """
    run_dir = Path(run_dir).resolve()
    mine = _run_key(run_dir)
    candidates = []
    for folder in run_dir.parent.iterdir() if run_dir.parent.exists() else []:
        key = _run_key(folder)
        if key is None or folder.resolve() == run_dir or not folder.is_dir():
            continue
        if mine is not None and key >= mine:
            continue
        if not (folder / "artifacts" / "assignments.csv").exists():
            continue
        if _config_name_of(folder) != config_name:
            continue
        candidates.append((key, folder))
    return max(candidates)[1] if candidates else None

"""What to call each segment: automatic names, the names file, matching across runs.

Automatic names
    Every word is a claim checked on the members (:mod:`segkit.profiles.claims`:
    "one-timers" = >= 80 % have one order, ...); the rule table :data:`NAME_RULES`
    gives the first name whose claims all hold, e.g. "High-value loyal", "Lapsed
    one-timers". Otherwise the name is a feature claim that holds ("High
    basket_size") or the neutral "Segment N (mixed)". Names are unique within a
    run: duplicates get a claim that holds for them and not their namesakes, then
    a number, in order of segment size (never of label number).

The names file (``segments.yaml``)
    Every run writes ``artifacts/segments.yaml``. Copy it next to the config (or to
    ``profiles.names_file``) and edit the ``name`` lines; the next run applies them::

        format: 1                     # names-file format version
        config: online-retail         # config name of the run that wrote it
        run_id: 2026-11-25            # run folder name
        as_of: '2011-12-10'
        segments:
        - segment_id: 2               # label in that run (informative only)
          name: Champions             # the name to use: edit this
          auto_name: High-value loyal # what segkit would call it
          size: 412
          share: 0.095
          centroid: {recency: 14.0, frequency: 11.2, monetary: 5230.1}

    Segments are matched to the file's entries by their centroids (mean of each
    numeric feature), not by label number: the distance is the root-mean-square over
    the shared features of ``(previous - current) / overall std``, and the Hungarian
    method (:func:`scipy.optimize.linear_sum_assignment`) pairs them one-to-one. A
    pair farther apart than ``profiles.match_max_distance`` is not matched and keeps
    its automatic name. An entry without ``centroid`` applies by ``segment_id``.

Analyst names are checked, not trusted blindly
    The words of a names-file name that are claims ("lapsed", "one-time",
    "high-value", "loyal", "regulars", "new", "at risk", ...;
    :data:`segkit.profiles.claims.NAME_WORDS`) are tested on the members like an
    automatic name's. A claim that fails (< ``profiles.claim_coverage`` of the
    members) does **not** replace the analyst's name -- the analyst may know
    better, and a name changing by itself between runs breaks CRM workflows --
    but it is never silent: ``name_matches.csv`` gets ``claims_hold`` False and a
    ``warning`` ("'Loyal champions': loyal holds for 41 % of members"), the run
    logs it, and 05 prints it under the names note
    (:func:`segkit.profiles.report.names_note`). Words the data cannot test (e.g.
    "churn risk" without the value step) are listed as unchecked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import linear_sum_assignment

from segkit.config import LifecycleSettings
from segkit.exceptions import ConfigError
from segkit.profiles.claims import NAME_RULES, check_name, claim_names
from segkit.profiles.profile import numeric_features

__all__ = [
    "NAME_RULES",
    "NAMES_FILE_FORMAT",
    "MATCH_COLUMNS",
    "auto_names",
    "segment_centroids",
    "match_centroids",
    "match_by_overlap",
    "names_file_path",
    "read_names_file",
    "names_document",
    "write_names_file",
    "resolve_names",
]

logger = logging.getLogger(__name__)

NAMES_FILE_FORMAT = 1

#: Columns of ``name_matches.csv`` (:func:`resolve_names`).
MATCH_COLUMNS = [
    "segment",
    "name",
    "source",
    "file_entry",
    "distance",
    "name_claims",
    "claims_hold",
    "warning",
]


def auto_names(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    settings: LifecycleSettings | None = None,
    coverage: float = 0.8,
) -> dict[int, str]:
    """Unique names made only of claims that hold for the members.

    See :func:`segkit.profiles.claims.claim_names` (this returns its names).
    """
    names, _ = claim_names(features, labels, settings=settings, coverage=coverage)
    return names


def segment_centroids(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Mean of every numeric feature per segment (the segments' signatures).

    Returns
    -------
    DataFrame
        Index ``segment`` (int), one column per numeric feature.
    """
    numeric = numeric_features(features)
    common = numeric.index.intersection(labels.index)
    centroids = numeric.loc[common].groupby(labels.loc[common].astype("int64")).mean()
    centroids.index.name = "segment"
    return centroids


def match_centroids(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    *,
    scale: pd.Series,
    max_distance: float = np.inf,
) -> dict[Any, int]:
    """Pair previous segments with current ones by centroid (Hungarian method).

    Parameters
    ----------
    previous, current : DataFrame
        Centroids, one row per segment (index = key / segment id), numeric columns.
    scale : Series
        Per-feature scale (the overall standard deviation); features with a zero or
        missing scale are ignored.
    max_distance : float
        Pairs whose RMS standardised distance exceeds this are dropped.

    Returns
    -------
    dict
        Previous key -> current segment id.
    """
    columns = [
        c
        for c in previous.columns
        if c in current.columns and pd.notna(scale.get(c)) and scale.get(c) > 0
    ]
    if not columns or previous.empty or current.empty:
        return {}
    prev = previous[columns].astype("float64") / scale[columns]
    cur = current[columns].astype("float64") / scale[columns]
    diff = prev.to_numpy()[:, None, :] - cur.to_numpy()[None, :, :]
    cost = np.sqrt(np.nanmean(diff**2, axis=2))
    cost = np.where(np.isnan(cost), 1e9, cost)
    rows, cols = linear_sum_assignment(cost)
    return {
        prev.index[r]: int(cur.index[c])
        for r, c in zip(rows, cols, strict=True)
        if cost[r, c] <= max_distance
    }


def match_by_overlap(previous: pd.Series, current: pd.Series) -> dict[int, int]:
    """Pair previous segment ids with current ones by shared customers (Hungarian).

    The contingency table of customers present in both assignments is maximised
    one-to-one; pairs without any shared customer are dropped.

    Returns
    -------
    dict
        Previous segment id -> current segment id.
    """
    common = previous.index.intersection(current.index)
    if len(common) == 0:
        return {}
    table = pd.crosstab(previous.loc[common], current.loc[common])
    rows, cols = linear_sum_assignment(-table.to_numpy())
    return {
        int(table.index[r]): int(table.columns[c])
        for r, c in zip(rows, cols, strict=True)
        if table.iat[r, c] > 0
    }


def names_file_path(config: dict[str, Any]) -> Path | None:
    """Where the analyst's names file is read from.

    ``profiles.names_file`` when set (relative paths are relative to the project
    root); else ``<config stem>.segments.yaml`` next to the config when it exists
    (several configs can share a folder), else ``segments.yaml`` next to the config;
    None when there is no config file.
    """
    given = config["profiles"]["names_file"]
    if given:
        path = Path(str(given)).expanduser()
        if not path.is_absolute():
            path = Path(config["root"]) / path
        return path
    if config.get("config_path"):
        config_path = Path(config["config_path"])
        own = config_path.parent / f"{config_path.stem}.segments.yaml"
        return own if own.exists() else config_path.parent / "segments.yaml"
    return None


def read_names_file(path: str | Path) -> dict[str, Any]:
    """Read and check a names file (see the module docstring for the format).

    Returns
    -------
    dict
        The document, with ``segments`` a list of dicts that all have a ``name``.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"names file {str(path)!r} is not valid YAML ({exc}); fix it or delete it "
            "to use automatic names"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise ConfigError(
            f"names file {str(path)!r} has no 'segments' list; start from the "
            "artifacts/segments.yaml a run writes and edit its 'name' lines"
        )
    if doc.get("format", NAMES_FILE_FORMAT) != NAMES_FILE_FORMAT:
        raise ConfigError(
            f"names file {str(path)!r} has format {doc.get('format')!r}, this segkit "
            f"reads format {NAMES_FILE_FORMAT}; copy a fresh artifacts/segments.yaml"
        )
    for i, entry in enumerate(doc["segments"]):
        if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
            raise ConfigError(
                f"names file {str(path)!r}: entry {i} of 'segments' has no 'name'; "
                "give every entry a name or remove the entry"
            )
        if "centroid" not in entry and "segment_id" not in entry:
            raise ConfigError(
                f"names file {str(path)!r}: entry {i} ({entry['name']!r}) has neither "
                "'centroid' nor 'segment_id'; keep the centroid segkit wrote so the "
                "segment can be found again"
            )
        if "centroid" in entry and not isinstance(entry["centroid"], dict):
            raise ConfigError(
                f"names file {str(path)!r}: entry {i} ({entry['name']!r}) has a "
                "'centroid' that is not a mapping of feature: mean"
            )
    return doc


def names_document(
    names: dict[int, str],
    auto: dict[int, str],
    centroids: pd.DataFrame,
    sizes: pd.Series,
    *,
    config_name: str,
    run_id: str,
    as_of: Any,
) -> dict[str, Any]:
    """The names file a run writes (``artifacts/segments.yaml``), as a dict."""
    total = float(sizes.sum()) or 1.0
    segments = []
    for segment in centroids.index:
        if int(segment) == -1:
            continue
        centroid = {
            str(k): float(np.round(v, 4))
            for k, v in centroids.loc[segment].items()
            if pd.notna(v)
        }
        segments.append(
            {
                "segment_id": int(segment),
                "name": names.get(int(segment), auto.get(int(segment), "")),
                "auto_name": auto.get(int(segment), ""),
                "size": int(sizes.get(segment, 0)),
                "share": round(float(sizes.get(segment, 0)) / total, 4),
                "centroid": centroid,
            }
        )
    return {
        "format": NAMES_FILE_FORMAT,
        "config": config_name,
        "run_id": run_id,
        "as_of": None if as_of is None else str(as_of),
        "segments": segments,
    }


def write_names_file(path: str | Path, document: dict[str, Any]) -> Path:
    """Write a names document as YAML with a header telling the analyst what to do."""
    path = Path(path)
    header = (
        "# segkit names file. To rename segments, copy this file next to the config\n"
        "# as segments.yaml (or to profiles.names_file) and edit the 'name' lines.\n"
        "# Segments are found again by their centroid, not by segment_id.\n"
    )
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
    return path


def resolve_names(
    auto: dict[int, str],
    centroids: pd.DataFrame,
    scale: pd.Series,
    document: dict[str, Any] | None,
    *,
    max_distance: float = 1.0,
    config_name: str | None = None,
    claims: pd.DataFrame | None = None,
) -> tuple[dict[int, str], pd.DataFrame]:
    """Apply a names file over the automatic names.

    Parameters
    ----------
    auto : dict
        Automatic names (:func:`auto_names`).
    centroids : DataFrame
        Current centroids (:func:`segment_centroids`).
    scale : Series
        Overall standard deviation of each feature in the current run.
    document : dict or None
        A names file (:func:`read_names_file`); None keeps the automatic names.
    max_distance : float
        ``profiles.match_max_distance``.
    config_name : str, optional
        The run's config name; a names file whose ``config`` names another config
        is ignored (a folder may hold several configs).
    claims : DataFrame, optional
        :func:`segkit.profiles.claims.claim_names` claims table; with it every
        names-file name's claim words are checked (module docstring).

    Returns
    -------
    names : dict
        Segment id -> final name (unique; an automatic name that clashes with an
        override gets " (auto)" appended).
    matches : DataFrame
        ``segment, name, source ("names file" | "auto"), file_entry, distance,
        name_claims`` (claims the analyst's words make, ``"; "``-joined),
        ``claims_hold`` (True / False; None when not checked or no claim words)
        and ``warning`` (text, "" when none).
    """
    names = dict(auto)
    source = {s: "auto" for s in auto}
    if document and config_name and document.get("config") not in (None, config_name):
        logger.warning(
            "names file of config %r ignored for config %r",
            document["config"],
            config_name,
        )
        document = None
    entry_of: dict[int, Any] = {}
    distance: dict[int, float] = {}
    if document:
        entries = document["segments"]
        with_centroid = [e for e in entries if isinstance(e.get("centroid"), dict)]
        current = centroids.drop(index=-1, errors="ignore")
        if with_centroid:
            previous = pd.DataFrame(
                [e["centroid"] for e in with_centroid], index=range(len(with_centroid))
            )
            pairs = match_centroids(
                previous, current, scale=scale, max_distance=max_distance
            )
            for key, segment in pairs.items():
                entry = with_centroid[key]
                names[segment] = str(entry["name"]).strip()
                source[segment] = "names file"
                entry_of[segment] = entry.get("segment_id", key)
                distance[segment] = _distance(
                    previous.loc[key], current.loc[segment], scale
                )
        for entry in entries:
            if "centroid" in entry or entry.get("segment_id") is None:
                continue
            segment = int(entry["segment_id"])
            if segment in names and source[segment] == "auto":
                names[segment] = str(entry["name"]).strip()
                source[segment] = "names file"
                entry_of[segment] = segment
    chosen = {n for s, n in names.items() if source[s] == "names file"}
    for segment in names:
        if source[segment] == "auto" and names[segment] in chosen:
            names[segment] = f"{names[segment]} (auto)"
    seen: dict[str, int] = {}
    for segment in sorted(names):
        seen[names[segment]] = seen.get(names[segment], 0) + 1
        if seen[names[segment]] > 1:
            names[segment] = f"{names[segment]} ({seen[names[segment]]})"
    rows = []
    for s in sorted(names):
        made, hold, warning = (), None, ""
        if source[s] == "names file" and claims is not None:
            made, hold, warning = _check_analyst_name(names[s], s, claims)
        rows.append(
            {
                "segment": s,
                "name": names[s],
                "source": source[s],
                "file_entry": entry_of.get(s),
                "distance": distance.get(s, np.nan),
                "name_claims": "; ".join(made),
                "claims_hold": hold,
                "warning": warning,
            }
        )
    matches = pd.DataFrame(rows, columns=MATCH_COLUMNS)
    return names, matches


def _check_analyst_name(
    name: str, segment: int, claims: pd.DataFrame
) -> tuple[tuple[str, ...], bool | None, str]:
    """Claims of an analyst's name, whether they all hold, and the warning text."""
    made, failed, unchecked = check_name(name, segment, claims)
    notes = []
    if failed:
        notes.append(
            "does not hold: " + ", ".join(failed) + " (kept as the analyst's name)"
        )
    if unchecked:
        notes.append("not checkable on these data: " + ", ".join(unchecked))
    warning = f"{name!r}: " + "; ".join(notes) if notes else ""
    if failed:
        logger.warning("names file name %s", warning)
    checked = len(made) > len(unchecked)
    return made, (not failed) if checked else None, warning


def _distance(previous: pd.Series, current: pd.Series, scale: pd.Series) -> float:
    cols = [c for c in previous.index if c in current.index and scale.get(c, 0) > 0]
    if not cols:
        return float("nan")
    diff = (previous[cols].astype(float) - current[cols].astype(float)) / scale[cols]
    return float(np.sqrt(np.nanmean(diff.to_numpy() ** 2)))

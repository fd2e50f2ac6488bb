"""The classic RFM view: recency, frequency and monetary scores and named segments.

Scoring
-------
Each of R, F and M gets a score from 1 to ``bins`` (3, 4 or 5). The score of a
customer is

    score = 1 + floor(bins * (number of customers strictly worse) / n)

where "worse" means less recent (a larger ``recency`` in days), fewer orders or less
money. This is the quantile bin of the customer's *lowest* tied rank, so:

* without ties the bins hold equal numbers of customers (10 customers, 5 bins: two
  customers per score);
* customers with equal values always get the same score, whatever the row order
  (``rank(method="first")`` would split a tie by row order);
* a massive tie (60 % one-time buyers all with ``frequency == 1``) would leave
  empty score levels: the tie gets score 1 and the next value (2 orders) jumps to
  F4. When the quantile scores leave a level empty, that dimension is scored on its
  **distinct values** instead (:func:`tie_aware_scores`): the sorted distinct values
  are cut into ``bins`` contiguous groups, each boundary at the distinct value whose
  cumulative share is closest to ``j / bins`` while every level keeps at least one
  value. With 60 % one-time buyers: 1 order = F1, 2 = F2, 3 = F3, ... Customers
  with equal values still share a score. When there are fewer distinct values than
  bins (3 distinct order counts, 5 bins) the top levels stay empty; either way the
  table's ``attrs["notes"]`` records it as ``(rule, count, detail)`` and the
  features step copies them to ``preprocess_notes.csv``.

R is reversed: the most recent customers get the highest score.

Named segments
--------------
Segments come from a precedence-ordered rule table held as data
(:data:`SCHEMES`): each rule gives inclusive score ranges for R, F and M on the
1-5 scale, and the first rule a customer matches names its segment; a customer
matching none is ``"Other"``. With 3 or 4 bins the scores are first mapped onto the
1-5 scale (3 bins: 1, 3, 5; 4 bins: 1, 2, 4, 5) so the same table applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segkit.exceptions import ConfigError, DataError, SchemaError

__all__ = [
    "SCHEMES",
    "OTHER",
    "rfm_table",
    "rfm_summary",
    "tie_aware_scores",
    "segment_order",
]

logger = logging.getLogger(__name__)

#: Name given to customers that match no rule of a scheme.
OTHER = "Other"

_FULL = (1, 5)

#: Rule tables, first match wins. Ranges are inclusive, on the 1-5 score scale.
SCHEMES: dict[str, list[dict[str, Any]]] = {
    # The common 10-segment scheme, laid out on the R x F grid (M refines the top
    # corners): every (R, F, M) cell matches exactly one rule, so "Other" is empty.
    "ten": [
        {"segment": "Champions", "r": (4, 5), "f": (4, 5), "m": (4, 5)},
        {"segment": "Loyal Customers", "r": (3, 5), "f": (4, 5), "m": _FULL},
        {"segment": "Can't Lose Them", "r": (1, 2), "f": (4, 5), "m": (4, 5)},
        {"segment": "At Risk", "r": (1, 2), "f": (3, 5), "m": _FULL},
        {"segment": "New Customers", "r": (5, 5), "f": (1, 1), "m": _FULL},
        {"segment": "Potential Loyalist", "r": (4, 5), "f": (2, 3), "m": _FULL},
        {"segment": "Promising", "r": (4, 4), "f": (1, 1), "m": _FULL},
        {"segment": "Need Attention", "r": (3, 3), "f": (2, 3), "m": _FULL},
        {"segment": "About To Sleep", "r": (2, 3), "f": (1, 2), "m": _FULL},
        {"segment": "Lost", "r": (1, 1), "f": (1, 2), "m": _FULL},
    ],
    # A compact 6-group scheme for small data or a first read.
    "six": [
        {"segment": "Champions", "r": (4, 5), "f": (4, 5), "m": (4, 5)},
        {"segment": "Loyal", "r": (3, 5), "f": (3, 5), "m": _FULL},
        {"segment": "New & Promising", "r": (4, 5), "f": (1, 2), "m": _FULL},
        {"segment": "Need Attention", "r": (3, 3), "f": (1, 2), "m": _FULL},
        {"segment": "At Risk", "r": (1, 2), "f": (3, 5), "m": _FULL},
        {"segment": "Lost", "r": (1, 2), "f": (1, 2), "m": _FULL},
    ],
}

_REQUIRED = ("recency", "frequency", "monetary")
_BINS = (3, 4, 5)

Rules = Sequence[Mapping[str, Any]]


def _rules(scheme: str | Rules) -> list[Mapping[str, Any]]:
    if isinstance(scheme, str):
        if scheme not in SCHEMES:
            raise ConfigError(
                f"RFM scheme {scheme!r} is unknown; set rfm.scheme in the config to "
                f"one of {sorted(SCHEMES)}"
            )
        return list(SCHEMES[scheme])
    rules = list(scheme)
    for rule in rules:
        missing = {"segment", "r", "f", "m"} - set(rule)
        if missing:
            raise ConfigError(
                f"RFM rule {dict(rule)!r} lacks {sorted(missing)}; each rule needs "
                "'segment' and inclusive (low, high) score ranges 'r', 'f', 'm'"
            )
    return rules


def segment_order(scheme: str | Rules = "ten") -> list[str]:
    """Segment names of a scheme in precedence order, with ``"Other"`` last.

    Parameters
    ----------
    scheme : str or list of rules
        A key of :data:`SCHEMES` or a rule table of the same shape.

    Returns
    -------
    list of str
    """
    names = list(dict.fromkeys(rule["segment"] for rule in _rules(scheme)))
    return [*names, OTHER] if OTHER not in names else names


def _scores(worse_count: np.ndarray, n: int, bins: int) -> np.ndarray:
    """1 + floor(bins * worse / n), in integers so no rounding can creep in."""
    return (bins * worse_count) // n + 1


def tie_aware_scores(values: pd.Series | np.ndarray, bins: int) -> np.ndarray:
    """Scores 1..bins from contiguous groups of distinct values (ties kept together).

    Parameters
    ----------
    values : array-like of float
        Higher is better (negate recency first).
    bins : int
        Number of score levels.

    Returns
    -------
    ndarray of int
        Score of each value. Every level holds at least one distinct value when
        there are at least ``bins`` distinct values; otherwise the levels
        ``1..d`` are used (``d`` distinct values) and the upper ones stay empty.

    Notes
    -----
    Greedy cut placement: the boundary after level ``j`` goes at the distinct
    value whose cumulative count is closest to ``j * n / bins``, after the previous
    boundary and leaving one distinct value for each level still to come. Written
    here because ``pandas.qcut(duplicates="drop")`` merges tied bins (it leaves
    fewer levels instead of re-placing the boundaries).
    """
    data = np.asarray(values, dtype="float64")
    distinct, inverse, counts = np.unique(data, return_inverse=True, return_counts=True)
    d, n = len(distinct), len(data)
    if d <= bins:
        return inverse.astype(np.int64) + 1
    cumulative = np.cumsum(counts)  # cumulative[i]: customers with value <= distinct[i]
    level_of = np.empty(d, dtype=np.int64)
    start = 0
    for j in range(1, bins):
        # boundary after distinct index `cut` (inclusive), start <= cut <= d-1-(bins-j)
        low, high = start, d - 1 - (bins - j)
        window = cumulative[low : high + 1]
        cut = low + int(np.argmin(np.abs(window - j * n / bins)))
        level_of[start : cut + 1] = j
        start = cut + 1
    level_of[start:] = bins
    return level_of[inverse]


def _score_dimension(
    values: pd.Series, bins: int, name: str, notes: list[tuple[str, int, str]]
) -> np.ndarray:
    """Quantile scores of one dimension; tie-aware when the quantiles collapse."""
    worse = values.rank(method="min").to_numpy(dtype=np.int64) - 1
    scores = _scores(worse, len(values), bins)
    empty = sorted(set(range(1, bins + 1)) - set(scores.tolist()))
    if not empty:
        return scores
    letter = name[0].upper()
    scores = tie_aware_scores(values, bins)
    still = sorted(set(range(1, bins + 1)) - set(scores.tolist()))
    top = int(pd.Series(values).value_counts().iloc[0])
    notes.append(
        (
            f"{name} scored on distinct values (ties)",
            top,
            f"quantile scores left {', '.join(f'{letter}{e}' for e in empty)} empty "
            f"(the largest tie holds {top} of {len(values)} customers); scores cut "
            "the distinct values instead",
        )
    )
    if still:
        notes.append(
            (
                f"{name}: empty score levels {', '.join(f'{letter}{e}' for e in still)}",
                0,
                f"only {int(pd.Series(values).nunique())} distinct values for "
                f"{bins} bins; segments needing those scores stay empty",
            )
        )
        logger.warning("RFM %s: empty score levels %s", name, still)
    return scores


def _to_five(scores: np.ndarray, bins: int) -> np.ndarray:
    return np.rint(1 + (scores - 1) * 4 / (bins - 1)).astype(int)


def _assign(
    r: np.ndarray, f: np.ndarray, m: np.ndarray, rules: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Name of the first rule each (r, f, m) on the 1-5 scale matches, else Other."""
    five = {"r": np.asarray(r), "f": np.asarray(f), "m": np.asarray(m)}
    segment = np.full(len(five["r"]), OTHER, dtype=object)
    unassigned = np.ones(len(segment), dtype=bool)
    for rule in rules:
        match = unassigned.copy()
        for key in ("r", "f", "m"):
            low, high = rule[key]
            match &= (five[key] >= low) & (five[key] <= high)
        segment[match] = rule["segment"]
        unassigned &= ~match
    return segment


def _check(features: pd.DataFrame, bins: int) -> None:
    if not isinstance(features, pd.DataFrame):
        raise SchemaError(
            f"rfm_table needs a DataFrame of per-customer features, got "
            f"{type(features).__name__}; pass the features table"
        )
    missing = [c for c in _REQUIRED if c not in features.columns]
    if missing:
        raise SchemaError(
            f"columns {missing} not found in the features (columns: "
            f"{list(features.columns)}); RFM needs recency (days since the last "
            "order), frequency (orders) and monetary (revenue) per customer"
        )
    if bins not in _BINS:
        raise ConfigError(f"RFM bins is {bins!r}; set rfm.bins to one of {list(_BINS)}")
    if len(features) == 0:
        raise DataError(
            "the features table is empty, so there is no customer to score; check "
            "that cleaning and the as_of date leave some transactions"
        )
    for col in _REQUIRED:
        values = pd.to_numeric(features[col], errors="coerce")
        bad = int(values.isna().sum())
        if bad:
            raise DataError(
                f"column {col!r} has {bad} missing or non-numeric values (e.g. "
                f"customer {values[values.isna()].index[0]!r}); RFM needs a value "
                "for every customer: fill or drop those customers first"
            )


def rfm_table(
    features: pd.DataFrame, *, bins: int = 5, scheme: str | Rules = "ten"
) -> pd.DataFrame:
    """Score every customer on R, F and M and name its RFM segment.

    Parameters
    ----------
    features : DataFrame
        One row per customer (index ``customer_id``) with at least the columns
        ``recency`` (days since the last order; lower is more recent),
        ``frequency`` (orders) and ``monetary`` (revenue). Other columns are ignored.
    bins : {3, 4, 5}
        Number of score levels.
    scheme : {"ten", "six"} or list of rules
        The rule table naming the segments (see :data:`SCHEMES`).

    Returns
    -------
    DataFrame
        Same index, columns ``recency``, ``frequency``, ``monetary`` (float64),
        ``r_score``, ``f_score``, ``m_score`` (int64, 1..bins, higher is better),
        ``rfm_cell`` (str, e.g. ``"545"``), ``rfm_score`` (int64, the sum) and
        ``segment`` (str). ``attrs["notes"]``: list of ``(rule, count, detail)``
        for each dimension scored on distinct values or left with empty levels.

    Raises
    ------
    SchemaError
        A required column is missing.
    ConfigError
        ``bins`` or ``scheme`` is not supported.
    DataError
        The table is empty or a required value is missing.
    """
    _check(features, bins)
    rules = _rules(scheme)
    out = pd.DataFrame(
        {col: pd.to_numeric(features[col]).astype("float64") for col in _REQUIRED},
        index=features.index.copy(),
    )
    notes: list[tuple[str, int, str]] = []
    scores = {
        "r": _score_dimension(-out["recency"], bins, "recency", notes),
        "f": _score_dimension(out["frequency"], bins, "frequency", notes),
        "m": _score_dimension(out["monetary"], bins, "monetary", notes),
    }
    for key in ("r", "f", "m"):
        out[f"{key}_score"] = scores[key].astype("int64")
    out["rfm_cell"] = (
        out["r_score"].astype(str)
        + out["f_score"].astype(str)
        + out["m_score"].astype(str)
    ).astype("str")
    out["rfm_score"] = (out["r_score"] + out["f_score"] + out["m_score"]).astype(
        "int64"
    )
    five = {key: _to_five(scores[key], bins) for key in scores}
    segment = _assign(five["r"], five["f"], five["m"], rules)
    unassigned = segment == OTHER
    out["segment"] = pd.Series(segment, index=out.index, dtype="str")
    if unassigned.any():
        logger.info("%d customers match no RFM rule: %r", int(unassigned.sum()), OTHER)
    out.attrs["notes"] = notes
    return out


def rfm_summary(
    rfm: pd.DataFrame, *, scheme: str | Rules | None = None
) -> pd.DataFrame:
    """Size, revenue and mean R/F/M of each RFM segment.

    Parameters
    ----------
    rfm : DataFrame
        The output of :func:`rfm_table`.
    scheme : str or list of rules, optional
        Orders the rows by the scheme's precedence (and lists its empty segments
        with zero customers). None: the first of :data:`SCHEMES` that names every
        segment present, else by revenue.

    Returns
    -------
    DataFrame
        Index ``segment``; columns ``customers`` (int), ``share`` (of customers),
        ``revenue`` (sum of ``monetary``), ``revenue_share`` (NaN when the total
        revenue is not positive), ``mean_recency``, ``mean_frequency``,
        ``mean_monetary``, ``mean_r_score``, ``mean_f_score``, ``mean_m_score``.
    """
    needed = [
        "segment",
        "monetary",
        "recency",
        "frequency",
        "r_score",
        "f_score",
        "m_score",
    ]
    missing = [c for c in needed if c not in rfm.columns]
    if missing:
        raise SchemaError(
            f"columns {missing} not found in the RFM table (columns: "
            f"{list(rfm.columns)}); pass the output of segkit.features.rfm.rfm_table"
        )
    grouped = rfm.groupby("segment", sort=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size().astype("int64"),
            "revenue": grouped["monetary"].sum(),
            "mean_recency": grouped["recency"].mean(),
            "mean_frequency": grouped["frequency"].mean(),
            "mean_monetary": grouped["monetary"].mean(),
            "mean_r_score": grouped["r_score"].mean(),
            "mean_f_score": grouped["f_score"].mean(),
            "mean_m_score": grouped["m_score"].mean(),
        }
    )
    present = set(table.index)
    if scheme is None:
        scheme = next(
            (name for name in SCHEMES if present <= set(segment_order(name))), None
        )
    if scheme is not None:
        order = segment_order(scheme)
        order += sorted(present - set(order))
        table = table.reindex(order)
        table["customers"] = table["customers"].fillna(0).astype("int64")
        table["revenue"] = table["revenue"].fillna(0.0)
        if OTHER not in present:
            table = table.drop(index=OTHER, errors="ignore")
    else:
        table = table.sort_values("revenue", ascending=False)
    total = table["revenue"].sum()
    table.insert(1, "share", table["customers"] / max(int(table["customers"].sum()), 1))
    table.insert(3, "revenue_share", table["revenue"] / total if total > 0 else np.nan)
    table.index.name = "segment"
    return table

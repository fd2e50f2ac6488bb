"""How do the segments differ? Rank tests and effect sizes per feature and segment.

These numbers are **descriptive** when the features tested are the ones the
segments were formed on: a clustering separates its own features by construction
(k-means on pure noise gives every pair an adjusted p <= 3e-47), so their p-values
are no evidence that the segments are distinct. The inferential, held-out test
of distinctness is :mod:`segkit.validation.separation`; the verdict uses it.

All tests are rank-based, so they do not care about skew or the scale of a feature:

* :func:`kruskal_table` - per feature, a Kruskal-Wallis test across segments with
  its effect size epsilon squared (``H / (n - 1)``, Tomczak & Tomczak 2014) and
  Benjamini-Hochberg adjusted p-values.
* :func:`segment_effects` - per segment and feature, Cliff's delta of the segment
  against all other customers (``P(x > y) - P(x < y)``, from the Mann-Whitney U).
* :func:`pairwise_distinctness` - per pair of segments, whether any feature differs
  with an adjusted p below ``alpha`` *and* a Cliff's delta of at least
  ``min_effect``. A pair without one is statistically indistinct: a merge candidate.
* :func:`distinctness_summary` - one row per segment for the verdict.

Categorical and boolean features enter as 0/1 indicators (``country=France``), for
which Cliff's delta is the difference of the two shares. Missing values are filled
with the feature's median. Noise (segment -1) is left out: it is not a segment.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from scipy import stats

from segkit.exceptions import DataError

__all__ = [
    "numeric_view",
    "kruskal_table",
    "segment_effects",
    "pairwise_distinctness",
    "distinctness_summary",
    "effect_magnitude",
]

logger = logging.getLogger(__name__)

#: Romano et al. (2006) reading of |Cliff's delta|, as (lower bound, label).
CLIFF_BANDS = (
    (0.474, "large"),
    (0.33, "medium"),
    (0.147, "small"),
    (0.0, "negligible"),
)
#: Cohen's reading of epsilon / eta squared, as (lower bound, label).
EPSILON_BANDS = (
    (0.14, "large"),
    (0.06, "medium"),
    (0.01, "small"),
    (0.0, "negligible"),
)


def effect_magnitude(value: float, *, kind: str = "cliff") -> str:
    """Label an effect size: ``negligible``, ``small``, ``medium`` or ``large``.

    Parameters
    ----------
    value : float
        Cliff's delta (its absolute value is used) or epsilon squared.
    kind : {"cliff", "epsilon"}
        Which thresholds apply (:data:`CLIFF_BANDS` or :data:`EPSILON_BANDS`).
    """
    bands = CLIFF_BANDS if kind == "cliff" else EPSILON_BANDS
    for lower, label in bands:
        if abs(value) >= lower:
            return label
    return "negligible"


def numeric_view(features: pd.DataFrame, *, max_levels: int = 10) -> pd.DataFrame:
    """Return a float copy of ``features`` fit for rank tests.

    Numeric columns are kept, booleans become 0/1, each categorical or string
    column becomes one 0/1 indicator per level (its ``max_levels`` most frequent
    ones, named ``column=level``); missing values are filled with the median and
    constant columns dropped.

    Parameters
    ----------
    features : DataFrame
        One row per customer.
    max_levels : int
        Indicators kept per categorical column.

    Returns
    -------
    DataFrame
        float64, same index; the input is not changed.
    """
    parts = []
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_bool_dtype(values):
            parts.append(values.astype(float).rename(str(column)))
        elif pd.api.types.is_numeric_dtype(values):
            parts.append(values.astype(float).rename(str(column)))
        else:
            text = values.astype("str")
            for level in text.value_counts().index[:max_levels]:
                parts.append((text == level).astype(float).rename(f"{column}={level}"))
    if not parts:
        raise DataError(
            f"none of the feature columns {list(features.columns)[:10]} can be tested; "
            "distinctness needs numeric, boolean or categorical features"
        )
    frame = pd.concat(parts, axis=1)
    frame = frame.fillna(frame.median()).fillna(0.0)
    return frame.loc[:, frame.nunique() > 1]


def _check(features: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    missing = features.index.difference(labels.index)
    if len(missing):
        raise DataError(
            f"{len(missing)} customers of the features (e.g. {missing[0]!r}) have no "
            "segment in labels; pass labels.parquet of the same run"
        )
    aligned = labels.reindex(features.index).astype(int)
    keep = aligned != -1
    data, aligned = numeric_view(features.loc[keep]), aligned.loc[keep]
    if aligned.nunique() < 2:
        raise DataError(
            f"distinctness needs at least 2 segments, got {aligned.nunique()} "
            "(noise -1 left out); fit the model with n_segments >= 2"
        )
    return data, aligned


def kruskal_table(
    features: pd.DataFrame, labels: pd.Series, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Kruskal-Wallis test of every feature across segments.

    Parameters
    ----------
    features : DataFrame
        One row per customer (index customer_id), e.g. ``features.parquet``.
    labels : Series
        Segment id per customer; -1 (noise) is left out.
    alpha : float
        Level for ``significant`` on the Benjamini-Hochberg adjusted p-value.

    Returns
    -------
    DataFrame
        ``feature``, ``statistic`` (H), ``p_value``, ``p_adjusted``,
        ``epsilon_squared``, ``effect`` (label) and ``significant``; sorted by
        decreasing epsilon squared.
    """
    data, aligned = _check(features, labels)
    groups = [data.loc[aligned == s].to_numpy() for s in sorted(aligned.unique())]
    n = len(data)
    result = stats.kruskal(*groups, axis=0)
    statistic = np.nan_to_num(np.asarray(result.statistic, dtype=float))
    p_value = np.nan_to_num(np.asarray(result.pvalue, dtype=float), nan=1.0)
    table = pd.DataFrame(
        {
            "feature": data.columns,
            "statistic": statistic,
            "p_value": p_value,
            "p_adjusted": stats.false_discovery_control(p_value),
            "epsilon_squared": statistic / (n - 1),
        }
    )
    table["effect"] = [
        effect_magnitude(v, kind="epsilon") for v in table["epsilon_squared"]
    ]
    table["significant"] = table["p_adjusted"] < alpha
    return table.sort_values("epsilon_squared", ascending=False, ignore_index=True)


def _cliff(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cliff's delta of x vs y per column and the two-sided Mann-Whitney p-value."""
    result = stats.mannwhitneyu(x, y, axis=0, method="asymptotic")
    delta = 2.0 * np.asarray(result.statistic, dtype=float) / (len(x) * len(y)) - 1.0
    return delta, np.nan_to_num(np.asarray(result.pvalue, dtype=float), nan=1.0)


def segment_effects(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Cliff's delta of each segment against the rest, per feature.

    Parameters
    ----------
    features : DataFrame
        One row per customer.
    labels : Series
        Segment id per customer; -1 left out.

    Returns
    -------
    DataFrame
        Long form: ``segment``, ``feature``, ``median_segment``, ``median_rest``,
        ``cliffs_delta`` (positive: the segment's values are higher) and
        ``magnitude``. A one-customer segment gets deltas of -1, 0 or 1.
    """
    data, aligned = _check(features, labels)
    rows = []
    for segment in sorted(aligned.unique()):
        inside = (aligned == segment).to_numpy()
        x, y = data.to_numpy()[inside], data.to_numpy()[~inside]
        delta, _ = _cliff(x, y)
        rows.append(
            pd.DataFrame(
                {
                    "segment": int(segment),
                    "feature": data.columns,
                    "median_segment": np.median(x, axis=0),
                    "median_rest": np.median(y, axis=0),
                    "cliffs_delta": delta,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    table["magnitude"] = [effect_magnitude(v) for v in table["cliffs_delta"]]
    return table


def pairwise_distinctness(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    alpha: float = 0.05,
    min_effect: float = 0.33,
) -> pd.DataFrame:
    """Test every pair of segments on every feature.

    Mann-Whitney U tests, Benjamini-Hochberg adjusted over all pairs and features.

    Parameters
    ----------
    features : DataFrame
        One row per customer.
    labels : Series
        Segment id per customer; -1 left out.
    alpha : float
        Level on the adjusted p-value.
    min_effect : float
        Smallest |Cliff's delta| that counts as a meaningful difference (0.33 is
        "medium" on Romano's scale).

    Returns
    -------
    DataFrame
        ``segment_a``, ``segment_b``, ``max_abs_delta``, ``top_feature``,
        ``n_meaningful`` (features that differ significantly with at least
        ``min_effect``) and ``distinct`` (``n_meaningful > 0``).
    """
    data, aligned = _check(features, labels)
    values = data.to_numpy()
    pairs, deltas, p_values = [], [], []
    for a, b in itertools.combinations(sorted(aligned.unique()), 2):
        x, y = values[(aligned == a).to_numpy()], values[(aligned == b).to_numpy()]
        delta, p_value = _cliff(x, y)
        pairs.append((int(a), int(b)))
        deltas.append(delta)
        p_values.append(p_value)
    delta_matrix = np.vstack(deltas)
    adjusted = stats.false_discovery_control(np.vstack(p_values).ravel()).reshape(
        delta_matrix.shape
    )
    meaningful = (adjusted < alpha) & (np.abs(delta_matrix) >= min_effect)
    top = np.abs(delta_matrix).argmax(axis=1)
    table = pd.DataFrame(
        {
            "segment_a": [a for a, _ in pairs],
            "segment_b": [b for _, b in pairs],
            "max_abs_delta": np.abs(delta_matrix).max(axis=1),
            "top_feature": data.columns[top],
            "n_meaningful": meaningful.sum(axis=1),
        }
    )
    table["distinct"] = table["n_meaningful"] > 0
    return table


def distinctness_summary(
    effects: pd.DataFrame, pairwise: pd.DataFrame, *, top: int = 3
) -> pd.DataFrame:
    """One row per segment: what sets it apart and which segment it is closest to.

    Parameters
    ----------
    effects : DataFrame
        Output of :func:`segment_effects`.
    pairwise : DataFrame
        Output of :func:`pairwise_distinctness`.
    top : int
        Features listed per segment.

    Returns
    -------
    DataFrame
        ``segment``, ``top_features`` (e.g. ``"recency -0.81; frequency +0.62"``),
        ``max_abs_delta`` (vs the rest), ``nearest_segment`` (the other segment with
        the smallest largest difference), ``nearest_max_delta``, ``merge_candidate``
        (indistinct from at least one segment) and ``merge_with`` (the nearest
        indistinct segment, or None). When ``pairwise`` has a ``tested`` column
        (the held-out test of :mod:`segkit.validation.separation`), untested
        pairs never make a merge candidate.
    """
    rows = []
    for segment, part in effects.groupby("segment", sort=True):
        order = part.reindex(
            part["cliffs_delta"].abs().sort_values(ascending=False).index
        )
        listed = "; ".join(
            f"{f} {d:+.2f}"
            for f, d in zip(
                order["feature"][:top], order["cliffs_delta"][:top], strict=True
            )
        )
        mine = pairwise[
            (pairwise["segment_a"] == segment) | (pairwise["segment_b"] == segment)
        ]
        other = np.where(
            mine["segment_a"] == segment, mine["segment_b"], mine["segment_a"]
        )
        mine = mine.assign(other=other).sort_values("max_abs_delta")
        nearest = mine.iloc[0] if len(mine) else None
        tested = mine["tested"] if "tested" in mine else True
        indistinct = mine.loc[~mine["distinct"].astype(bool) & tested]
        rows.append(
            {
                "segment": int(segment),
                "top_features": listed,
                "max_abs_delta": float(order["cliffs_delta"].abs().iloc[0]),
                "nearest_segment": int(nearest["other"])
                if nearest is not None
                else None,
                "nearest_max_delta": float(nearest["max_abs_delta"])
                if nearest is not None
                else np.nan,
                "merge_candidate": bool(len(indistinct)),
                "merge_with": int(indistinct["other"].iloc[0])
                if len(indistinct)
                else None,
            }
        )
    return pd.DataFrame(rows)

"""How much of an outcome a labelling explains, in-sample (descriptive numbers).

* :func:`eta_squared` - ``SS_between / SS_total``; grows with the number of groups
  (null mean ``(g - 1) / (n - 1)``), so it favours finer labellings;
* :func:`omega_squared` - corrected for the number of groups;
* :func:`compare_segmentations` - both, per labelling, with the best-vs-worst lift.

The fair, held-out comparison that decides the verdict's wording is in
:mod:`segkit.validation.baselines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MIN_LIFT_CUSTOMERS",
    "eta_squared",
    "omega_squared",
    "compare_segmentations",
]

#: Segments smaller than this are left out of the best-vs-worst lift (too noisy).
MIN_LIFT_CUSTOMERS = 10


def eta_squared(values: pd.Series, groups: pd.Series) -> float:
    """Share of the variance of ``values`` explained by ``groups`` (one-way ANOVA).

    ``eta^2 = SS_between / SS_total``; 0 when ``values`` is constant.
    """
    frame = pd.DataFrame(
        {"v": np.asarray(values, dtype=float), "g": np.asarray(groups)}
    )
    total = float(((frame["v"] - frame["v"].mean()) ** 2).sum())
    if total == 0:
        return 0.0
    means = frame.groupby("g")["v"].transform("mean")
    between = float(((means - frame["v"].mean()) ** 2).sum())
    return between / total


def omega_squared(values: pd.Series, groups: pd.Series) -> float:
    """Omega squared: eta squared corrected for the number of groups (Hays 1963).

    ``(SS_between - (g - 1) MS_within) / (SS_total + MS_within)``; about 0 for
    labels without information whatever their number of groups ``g``.
    """
    v = np.asarray(values, dtype=float)
    g = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    n, k = len(v), int(g.max()) + 1 if len(g) else 0
    total = float(((v - v.mean()) ** 2).sum())
    if total == 0 or n <= k:
        return 0.0
    means = np.bincount(g, weights=v) / np.bincount(g)
    between = float((np.bincount(g) * (means - v.mean()) ** 2).sum())
    within = (total - between) / (n - k)
    return (between - (k - 1) * within) / (total + within)


def compare_segmentations(
    outcome: pd.DataFrame,
    labelings: Mapping[str, pd.Series],
    *,
    target: str = "revenue",
    rate: str = "bought_again",
) -> pd.DataFrame:
    """How much of the next-horizon outcome each segmentation explains.

    Parameters
    ----------
    outcome : DataFrame
        Outcome per customer (:func:`next_horizon` or a single outcome column).
    labelings : mapping
        ``{segmentation name: labels}`` on the same customers (e.g. ``model``,
        ``rfm``, ``shuffled``).
    target : str
        Numeric outcome column for eta squared and the revenue lift.
    rate : str or None
        Binary column for the retention eta squared and lift (None to skip).

    Returns
    -------
    DataFrame
        One row per segmentation: ``segmentation``, ``segments``, ``customers``,
        ``eta2_<target>``, ``eta2_log_<target>`` (of ``log1p`` of the target
        clipped at 0; only when at least 95 % of it is non-negative),
        ``eta2_<rate>``, the same as ``omega2_*`` (descriptive, in-sample), and for both columns the best and worst segment means (among
        segments of at least :data:`MIN_LIFT_CUSTOMERS` customers) and their ratio
        ``lift_<column>`` (NaN when the worst is 0).
    """
    rows = []
    for name, labels in labelings.items():
        groups = labels.reindex(outcome.index)
        row: dict[str, Any] = {
            "segmentation": name,
            "segments": int(groups.nunique()),
            "customers": int(groups.notna().sum()),
        }
        columns = [target] + ([rate] if rate else [])
        values = outcome[target].astype(float)
        row[f"eta2_{target}"] = eta_squared(values, groups)
        row[f"omega2_{target}"] = omega_squared(values, groups)
        if (values >= 0).mean() > 0.95:  # net revenue: a few returns below 0
            logged = np.log1p(values.clip(lower=0))
            row[f"eta2_log_{target}"] = eta_squared(logged, groups)
            row[f"omega2_log_{target}"] = omega_squared(logged, groups)
        for column in columns:
            series = outcome[column].astype(float)
            if column != target:
                row[f"eta2_{column}"] = eta_squared(series, groups)
                row[f"omega2_{column}"] = omega_squared(series, groups)
            means = series.groupby(groups.to_numpy()).agg(["mean", "size"])
            big = means.loc[means["size"] >= MIN_LIFT_CUSTOMERS]
            big = big if len(big) else means
            best, worst = float(big["mean"].max()), float(big["mean"].min())
            row[f"best_{column}"] = best
            row[f"worst_{column}"] = worst
            row[f"lift_{column}"] = best / worst if worst > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)

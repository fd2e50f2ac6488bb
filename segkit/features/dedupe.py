"""Near-duplicate features: find them and say which one of each group to keep.

Two features that move together (``frequency``, ``active_months`` and
``distinct_products`` are all "how often does this customer come back") weigh the
same trait two or three times in a distance-based clustering. :func:`near_duplicates`
keeps one feature of every group whose absolute Spearman correlation reaches the
threshold and names the others to drop.

Which one is kept: the **more interpretable** one, i.e. the one earlier in the
preference order -- the RFM columns first, then the other behavioural features in
the order of :data:`segkit.features.behaviour.FEATURE_DEFINITIONS` (an order count
reads more plainly than a count of active months), then any other column in its
input order. Spearman (rank) correlation is used because the preprocessor's
transforms (log1p, Yeo-Johnson, scaling) are monotone: a rank correlation measured
before them holds after them, and one heavy tail cannot fake or hide a relation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segkit.columns import numeric_columns
from segkit.features.behaviour import feature_definitions

__all__ = ["near_duplicates", "preference_order"]


def preference_order(columns: Sequence[str]) -> list[str]:
    """``columns`` sorted by interpretability (behavioural definitions first)."""
    known = [n for n in feature_definitions()["name"] if n in set(columns)]
    return [*known, *[c for c in columns if c not in set(known)]]


def near_duplicates(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Numeric columns that nearly duplicate a more interpretable one.

    Parameters
    ----------
    frame : DataFrame
        Numeric columns only (others are ignored).
    threshold : float
        ``|Spearman r|`` at or above which two columns are near-duplicates.

    Returns
    -------
    DataFrame
        Columns ``drop``, ``keep``, ``r`` (Spearman, signed): one row per column
        to drop, naming the kept column it duplicates. Greedy in preference order:
        a column is kept unless it reaches the threshold with a column already
        kept.
    """
    numeric = frame[numeric_columns(frame, bool_counts=False)]
    empty = pd.DataFrame(
        {
            "drop": pd.Series(dtype="str"),
            "keep": pd.Series(dtype="str"),
            "r": pd.Series(dtype="float64"),
        }
    )
    if numeric.shape[1] < 2:
        return empty
    corr = numeric.astype("float64").corr(method="spearman", min_periods=3)
    kept: list[str] = []
    rows = []
    for column in preference_order(list(numeric.columns)):
        values = corr.loc[column, kept] if kept else pd.Series(dtype="float64")
        values = values[np.isfinite(values) & (values.abs() >= threshold)]
        if len(values):
            partner = values.abs().idxmax()
            rows.append((column, partner, float(values[partner])))
        else:
            kept.append(column)
    if not rows:
        return empty
    return pd.DataFrame(rows, columns=["drop", "keep", "r"]).astype(
        {"drop": "str", "keep": "str"}
    )

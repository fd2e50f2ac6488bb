"""Customer value per segment for the profiles: CLV, probability alive, value at risk.

When the value step wrote ``values.parquet`` (:mod:`segkit.features.value_step`),
every segmentation's profile gains :data:`VALUE_PROFILE_COLUMNS`, computed with
:func:`segkit.features.clv.segment_value`:

=====================  ==========================================================
column                 per segment
=====================  ==========================================================
``clv_mean``           mean customer lifetime value of the members with a value
``clv_total``          their summed CLV
``p_alive_mean``       mean probability alive (BG/NBD)
``revenue_at_risk``    run-rate revenue of the members at risk (probability alive
                       below ``value.risk_threshold``)
``at_risk_customers``  members at risk
=====================  ==========================================================

Without ``values.parquet`` the columns are absent (not NaN): the run has no value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "VALUE_CLAIMS",
    "VALUE_PROFILE_COLUMNS",
    "clv_rank",
    "read_values",
    "spend_rank",
    "value_columns",
    "value_entry",
    "value_facts",
    "with_value",
]

#: Value columns added to ``profiles.csv`` (and ``segments.json`` ``value``).
VALUE_PROFILE_COLUMNS = [
    "clv_mean",
    "clv_total",
    "p_alive_mean",
    "revenue_at_risk",
    "at_risk_customers",
]


def read_values(ctx: RunContext) -> pd.DataFrame | None:
    """``values.parquet`` with a string ``customer_id`` index, or None."""
    if not ctx.has("values.parquet"):
        return None
    values = ctx.load_frame("values.parquet")
    if "customer_id" in values.columns:
        values = values.set_index("customer_id")
    values.index = values.index.astype("str")
    values.index.name = "customer_id"
    return values


def value_columns(values: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """:data:`VALUE_PROFILE_COLUMNS` per segment.

    Parameters
    ----------
    values : DataFrame
        Per customer (index ``customer_id``): ``clv``, ``p_alive``,
        ``expected_revenue``, ``run_rate_revenue``, ``at_risk``.
    labels : Series
        Segment per customer (index ``customer_id``). Members without a value row
        count in no value column (``at_risk_customers`` counts only known ones).

    Returns
    -------
    DataFrame
        ``segment`` and :data:`VALUE_PROFILE_COLUMNS`, one row per segment.
    """
    from segkit.features.clv import segment_value

    values = values.copy()
    values.index = values.index.astype("str")
    labels = labels.copy()
    labels.index = labels.index.astype("str")
    table = segment_value(values, labels).rename(
        columns={"mean_p_alive": "p_alive_mean"}
    )
    return table[["segment", *VALUE_PROFILE_COLUMNS]]


def with_value(
    profiles: pd.DataFrame, values: pd.DataFrame | None, labels: pd.Series
) -> pd.DataFrame:
    """``profiles`` (one row per ``segment``) with the value columns joined, if any."""
    if values is None:
        return profiles.copy()
    table = value_columns(values, labels)
    out = profiles.drop(columns=VALUE_PROFILE_COLUMNS, errors="ignore")
    return out.merge(table, on="segment", how="left")


def value_entry(row: Any) -> dict[str, float | int | None] | None:
    """The ``value`` entry of a segment in ``segments.json`` (None without value)."""
    if not hasattr(row, "clv_mean"):
        return None
    out: dict[str, float | int | None] = {}
    for column in VALUE_PROFILE_COLUMNS:
        value = getattr(row, column)
        if value is None or pd.isna(value):
            out[column] = None
        elif column == "at_risk_customers":
            out[column] = int(value)
        else:
            out[column] = float(value)
    return out


#: Value claims (:mod:`segkit.profiles.claims`) when ``values.parquet`` exists:
#: claim -> (member fact column, threshold text). They replace the spend rule of
#: "high-value" / "low-value" and add "churn risk".
VALUE_CLAIMS: dict[str, tuple[str, str]] = {
    "high-value": ("above_median_clv", "CLV > overall median, top-third CLV rank"),
    "low-value": ("below_median_clv", "CLV <= overall median, bottom-third CLV rank"),
    "churn risk": ("churn_risk", "probability alive < value.risk_threshold"),
}


def value_facts(values: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Per customer of ``index``: ``above_median_clv``, ``below_median_clv``,
    ``churn_risk`` (the value step's ``at_risk``).

    The median is the CLV median over the customers of ``index`` that have a
    value; a customer without a value row passes none of the three.
    """
    aligned = values.reindex(index.astype("str"))
    clv = aligned["clv"].astype("float64")
    median = clv.median()
    known = clv.notna()
    return pd.DataFrame(
        {
            "above_median_clv": (known & (clv > median)).to_numpy(),
            "below_median_clv": (known & (clv <= median)).to_numpy(),
            "churn_risk": aligned["at_risk"].fillna(False).astype(bool).to_numpy(),
        },
        index=index,
    )


def spend_rank(features: pd.DataFrame, labels: pd.Series) -> dict[str, set[int]]:
    """Segments whose median ``monetary`` (spend) ranks in the top / bottom third.

    The rule of "high-value" / "low-value" when the run has no CLV.
    """
    if "monetary" not in features.columns:
        return {"top": set(), "bottom": set()}
    return _thirds(features["monetary"].astype("float64"), labels)


def _thirds(measure: pd.Series, labels: pd.Series) -> dict[str, set[int]]:
    medians = measure.groupby(labels).median().drop(-1, errors="ignore").dropna()
    k = len(medians)
    third = max(1, round(k / 3)) if k >= 2 else 0
    order = medians.sort_values(ascending=False, kind="stable").index
    return {
        "top": {int(s) for s in order[:third]},
        "bottom": {int(s) for s in order[::-1][:third]},
    }


def clv_rank(values: pd.DataFrame, labels: pd.Series) -> dict[str, set[int]]:
    """Segments whose median CLV ranks in the top / bottom third of the segments.

    The third is ``round(k / 3)`` segments (at least 1) of the ``k`` segments
    (Unassigned, -1, left out), as for the spend rule.
    """
    aligned = values["clv"].astype("float64").reindex(labels.index.astype("str"))
    aligned.index = labels.index
    return _thirds(aligned, labels)

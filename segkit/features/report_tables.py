"""Tables and sentences of notebook 02-features: how each customer is described.

Every function takes an artifact of the ``features`` step (see
:func:`segkit.features.report.features_artifacts`) and returns a
:class:`~segkit.display.Table` (column and feature names as the glossary's display
names) or a :class:`~segkit.display.Note`: a section with nothing to show says so
in one sentence. No function shows a customer id. The figures of the same notebook
live in :mod:`segkit.features.report`, which re-exports these names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from segkit.columns import numeric_columns
from segkit.display import Note, Table
from segkit.exceptions import SchemaError
from segkit.features.definitions import FEATURE_DEFINITIONS
from segkit.features.lifecycle import STATES
from segkit.features.rfm import rfm_summary
from segkit.glossary import display_name

__all__ = [
    "summary_note",
    "coverage_note",
    "definitions_table",
    "feature_summary_table",
    "notes_table",
    "treatment_table",
    "duplicates_table",
    "lifecycle_mix",
    "rfm_segments_table",
]


def summary_note(summary: Mapping[str, Any] | None) -> Note:
    """One sentence on what the features step built (``steps/features.json``).

    >>> summary_note({"customers": 297, "features": 13, "matrix_columns": 12,
    ...               "as_of": "2011-12-10"})
    '297 customers are described by 13 features as of 2011-12-10; 12 of them (after \
preprocessing) are what the segments are formed on.'
    """
    if not summary:
        return Note("The features step has not run: run it first.")
    text = (
        f"{int(summary['customers']):,} customers are described by "
        f"{int(summary['features'])} features as of {summary['as_of']}"
    )
    if summary.get("matrix_columns") is not None:
        text += (
            f"; {int(summary['matrix_columns'])} of them (after preprocessing) are "
            "what the segments are formed on"
        )
    return Note(text + ".")


_COVERAGE = re.compile(r"of ([\d,]+) customers with transactions \(([\d.]+)%\)")


def coverage_note(notes: pd.DataFrame | None) -> Note | None:
    """One sentence on how much of the base the customers table covers and what
    that decided (the ``customers table coverage`` row of ``preprocess_notes.csv``,
    written by :func:`segkit.features.build.customer_features`); None, so the page
    shows nothing, without a customers table beside transactions.

    >>> notes = pd.DataFrame([{"source": "features",
    ...     "rule": "customers table coverage", "count": 3, "detail":
    ...     "of 10 customers with transactions (30.0%) have a row; "
    ...     "customers.min_coverage is 80%: the attributes are NOT used ..."}])
    >>> str(coverage_note(notes))[:78]
    'The customers table covers 3 of 10 customers with transactions (30.0 %), below'
    """
    rows = None if notes is None else notes[notes["rule"] == "customers table coverage"]
    if rows is None or rows.empty:  # no customers table beside transactions
        return None
    row = rows.iloc[0]
    found = _COVERAGE.search(str(row["detail"]))
    total, share = (found.group(1), found.group(2)) if found else ("?", "?")
    threshold = re.search(r"min_coverage is (\d+)%", str(row["detail"]))
    limit = f"{threshold.group(1)} %" if threshold else "the threshold"
    head = (
        f"The customers table covers {int(row['count']):,} of {total} customers with "
        f"transactions ({share} %)"
    )
    if "NOT used" in str(row["detail"]):
        return Note(
            f"{head}, below customers.min_coverage ({limit}): its attributes are not "
            "used to form the segments (nobody's missing values are filled in) and "
            "only describe them in 05-profiles."
        )
    return Note(
        f"{head}, at or above customers.min_coverage ({limit}): its attributes are "
        "clustering features; customers without a row keep missing values that the "
        "preprocessor imputes (see the treatment table)."
    )


#: Feature names with an underscore, as text mentions them ("dropped active_months").
_CODE_NAME = re.compile(
    r"(?<![\w.`])("
    + "|".join(
        sorted((n for n in FEATURE_DEFINITIONS["name"] if "_" in n), key=len)[::-1]
    )
    + r")(?![\w.`])"
)


def _readable(text: Any) -> Any:
    """Text with the features it names by column name given their display names."""
    if not isinstance(text, str):
        return text
    return _CODE_NAME.sub(lambda m: display_name(m.group(1)).lower(), text)


def need_columns(frame: pd.DataFrame, columns: list[str], what: str, fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what} lacks the columns {missing} (columns: {list(frame.columns)}); {fix}"
        )


def definitions_table(definitions: pd.DataFrame) -> Table:
    """The feature definitions, indexed by display name, shown in full.

    Parameters
    ----------
    definitions : DataFrame
        ``feature_definitions.csv`` (columns ``name``, ``group``, ``unit``,
        ``definition``).
    """
    need_columns(
        definitions,
        ["name", "group", "unit", "definition"],
        "the definitions table",
        "pass feature_definitions.csv of the features step",
    )
    table = definitions.fillna("").set_index("name")
    table["definition"] = table["definition"].map(_readable)
    table.index = table.index.map(display_name)
    table.index.name = "feature"
    return Table(table)


def feature_summary_table(features: pd.DataFrame) -> Table:
    """Median, 5th and 95th percentile and share of zeros of each numeric feature.

    Parameters
    ----------
    features : DataFrame
        ``features.parquet`` (one row per customer).

    Returns
    -------
    DataFrame
        Index ``feature``; columns ``median``, ``p5``, ``p95``, ``mean``,
        ``zeros %`` (aggregates only).
    """
    numeric = features[numeric_columns(features, bool_counts=False)]
    table = pd.DataFrame(
        {
            "median": numeric.median(),
            "p5": numeric.quantile(0.05),
            "p95": numeric.quantile(0.95),
            "mean": numeric.mean(),
            "zeros %": (numeric == 0).mean() * 100,
        }
    ).round(2)
    table.index = table.index.map(display_name)
    table.index.name = "feature"
    return Table(table)


def notes_table(notes: pd.DataFrame | None) -> Table | Note:
    """The rules the features step applied, with how many customers or columns each hit.

    Parameters
    ----------
    notes : DataFrame or None
        ``preprocess_notes.csv`` (columns ``source``, ``rule``, ``count``, ``detail``).
    """
    if notes is None or notes.empty:
        return Note("No rule was applied: every customer and column is kept as is.")
    need_columns(
        notes,
        ["source", "rule", "count", "detail"],
        "the notes table",
        "pass preprocess_notes.csv of the features step",
    )
    table = notes[["source", "rule", "count", "detail"]].fillna("")
    for column in ("rule", "detail"):
        table[column] = table[column].map(_readable)
    return Table(table.reset_index(drop=True))


def treatment_table(plan: pd.DataFrame | None) -> Table | Note:
    """What preprocessing did to each feature column, for a reviewer.

    Parameters
    ----------
    plan : DataFrame or None
        ``preprocess_plan.csv`` (the output of
        :meth:`segkit.features.preprocess.Preprocessor.describe`).

    Returns
    -------
    DataFrame
        Index ``feature``; columns ``kind``, ``action``, ``treatment``, ``reason``,
        ``correlated_with`` (blank where nothing applies).
    """
    if plan is None:
        return Note("There is no preprocessing plan: run the features step.")
    columns = ["column", "kind", "action", "treatment", "reason", "correlated_with"]
    need_columns(plan, columns, "the preprocessing plan", "pass preprocess_plan.csv")
    table = plan[columns].astype("object").fillna("").set_index("column")
    table.index = table.index.map(display_name)
    table.index.name = "feature"
    return Table(table)


def duplicates_table(plan: pd.DataFrame | None) -> Table | Note:
    """The features dropped as near-duplicates of a more interpretable one.

    Parameters
    ----------
    plan : DataFrame or None
        ``preprocess_plan.csv``.

    Returns
    -------
    DataFrame
        Columns ``dropped``, ``kept instead``, ``Spearman r``; a one-row note when
        no feature was dropped as a near-duplicate.
    """
    if plan is None:
        return Note("There is no preprocessing plan: run the features step.")
    need_columns(
        plan, ["column", "reason"], "the preprocessing plan", "pass preprocess_plan.csv"
    )
    found = (
        plan["reason"]
        .fillna("")
        .astype("str")
        .str.extract(
            r"^near-duplicate of (?P<keep>.+) \(Spearman r = (?P<r>[-+0-9.]+)\)$"
        )
    )
    hit = found["keep"].notna()
    if not hit.any():
        return Note("No two features are near-duplicates: every one is kept.")
    return Table(
        {
            "dropped": plan.loc[hit, "column"]
            .astype("str")
            .map(display_name)
            .to_numpy(),
            "kept instead": found.loc[hit, "keep"].map(display_name).to_numpy(),
            "Spearman r": found.loc[hit, "r"].astype("float64").round(2).to_numpy(),
        }
    )


def lifecycle_mix(lifecycle: pd.DataFrame | None) -> Table | Note:
    """Customers per lifecycle state, with the rule that defines each state.

    Parameters
    ----------
    lifecycle : DataFrame or None
        ``lifecycle.parquet`` (columns ``state``, ``rule``).

    Returns
    -------
    DataFrame
        Index ``state`` (lifecycle order); columns ``customers``, ``share``,
        ``rule``.
    """
    if lifecycle is None or lifecycle.empty:
        return Note(
            "There are no lifecycle states: they need transactions (recency, orders)."
        )
    need_columns(
        lifecycle, ["state", "rule"], "the lifecycle table", "pass lifecycle.parquet"
    )
    states = lifecycle["state"].astype("str")
    counts = states.value_counts().reindex(list(STATES), fill_value=0)
    rules = lifecycle.groupby(states)["rule"].first().reindex(list(STATES))
    table = pd.DataFrame(
        {
            "customers": counts.astype("int64"),
            "share": (counts / max(len(states), 1)).round(3),
            "rule": rules.fillna("").astype("str"),
        }
    )
    table.index.name = "state"
    return Table(table)


def rfm_segments_table(
    rfm: pd.DataFrame | None, *, scheme: str | None = None
) -> Table | Note:
    """Customers and revenue of each named RFM segment (see :func:`segkit.features.rfm.rfm_summary`)."""
    if rfm is None:
        return Note("This run has no transactions, so there are no RFM segments.")
    table = rfm_summary(rfm, scheme=scheme)
    return Table(table)[["customers", "share", "revenue", "revenue_share", "mean_recency",
                  "mean_frequency", "mean_monetary"]].round(3)  # fmt: skip

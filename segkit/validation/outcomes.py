"""Do the segments predict what customers do next? Outcome (predictive) validity.

The segmentation is rebuilt as it would have been ``validation.horizon_days`` before
``as_of`` (``t0``): features from the transactions before ``t0``, a fresh clone of the
chosen model fitted on them, every customer active by ``t0`` assigned. What each
segment's customers then did in the following horizon ``[t0, as_of]`` is measured:

* ``retention`` - share who bought again,
* ``revenue_per_customer`` - net revenue (sales minus returns) per customer,
* ``revenue_share`` - the segment's share of the horizon's total revenue,

each with a confidence interval from :mod:`segkit.intervals` (Wilson for the rate,
bootstrap-t for revenue per customer, a joint bootstrap of all customers for the
share). The same is measured for the RFM named segments at ``t0``.

Which segmentation predicts better is decided on held-out customers
(:mod:`segkit.validation.baselines`): the t0 customers are split in halves, the
model is fitted on one and predicts the other, and its held-out R squared is
compared with the same-size RFM tiers, the named RFM map and shuffled labels,
with a paired bootstrap interval of each difference. :func:`compare_segmentations`
adds descriptive in-sample numbers: eta squared (grows with the number of groups),
omega squared (corrected for it) and the best-vs-worst segment lift.

For data without transactions, :func:`outcome_rates` reports an outcome column of the
customers table (e.g. a campaign response) per segment the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from segkit import intervals, memo
from segkit.exceptions import DataError
from segkit.validation import baselines
from segkit.validation.explained import (
    MIN_LIFT_CUSTOMERS,
    compare_segmentations,
    eta_squared,
    omega_squared,
)
from segkit.validation.value_baseline import value_baseline

__all__ = [
    "MIN_LIFT_CUSTOMERS",
    "horizon_start",
    "next_horizon",
    "eta_squared",
    "omega_squared",
    "segment_outcomes",
    "compare_segmentations",
    "outcome_validity",
    "outcome_rates",
    "coerce_outcome",
    "default_build",
    "fit_labels_at",
]

logger = logging.getLogger(__name__)


def horizon_start(
    transactions: pd.DataFrame, *, as_of: dt.date | None, horizon_days: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return ``(t0, as_of)``: the start and the end of the outcome horizon.

    ``as_of`` defaults to the day after the last transaction.

    Raises
    ------
    DataError
        When no customer has a transaction before ``t0`` (the horizon is as long as
        the history) or ``horizon_days`` is not positive.
    """
    if horizon_days is None or horizon_days < 1:
        raise DataError(
            f"validation.horizon_days is {horizon_days!r}; set it to a positive number "
            "of days, e.g. 90"
        )
    first, last = transactions["timestamp"].min(), transactions["timestamp"].max()
    end = (
        pd.Timestamp(as_of)
        if as_of is not None
        else pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    )
    t0 = end - pd.Timedelta(days=horizon_days)
    if pd.isna(first) or t0 <= first:
        span = 0 if pd.isna(first) else (end - first).days
        raise DataError(
            f"validation.horizon_days={horizon_days} reaches back to {t0.date()}, "
            f"before the first transaction ({first}); the history spans only {span} "
            "days. Set validation.horizon_days to at most half of it, e.g. "
            f"{max(span // 2, 1)}"
        )
    return t0, end


def next_horizon(
    transactions: pd.DataFrame,
    returns: pd.DataFrame | None,
    customers: pd.Index,
    *,
    t0: pd.Timestamp,
) -> pd.DataFrame:
    """What each customer did from ``t0`` on (to the end of the clean data).

    Parameters
    ----------
    transactions : DataFrame
        Clean lines with ``customer_id``, ``order_id``, ``timestamp``, ``amount``.
    returns : DataFrame or None
        Returned lines (positive ``amount``), subtracted from revenue.
    customers : Index
        The customers followed (those active by ``t0``).
    t0 : Timestamp
        Start of the horizon (inclusive).

    Returns
    -------
    DataFrame
        Index customer_id (as ``customers``): ``bought_again`` (bool), ``orders``
        (int), ``revenue`` (net, float).
    """
    for column in ("customer_id", "order_id", "timestamp", "amount"):
        if column not in transactions.columns:
            raise DataError(
                f"column {column!r} not found in transactions (columns: "
                f"{list(transactions.columns)}); pass the clean transactions.parquet"
            )
    later = transactions.loc[transactions["timestamp"] >= t0]
    ids = later["customer_id"].astype("str")
    orders = later.groupby(ids)["order_id"].nunique()
    revenue = later.groupby(ids)["amount"].sum()
    if returns is not None and len(returns):
        back = returns.loc[returns["timestamp"] >= t0]
        revenue = revenue.sub(
            back.groupby(back["customer_id"].astype("str"))["amount"].sum(),
            fill_value=0,
        )
    index = pd.Index(customers.astype("str"), name="customer_id")
    frame = pd.DataFrame(
        {
            "orders": orders.reindex(index, fill_value=0).astype(int),
            "revenue": revenue.reindex(index, fill_value=0.0).astype(float),
        },
        index=index,
    )
    frame.insert(0, "bought_again", frame["orders"] > 0)
    return frame


def segment_outcomes(
    labels: pd.Series,
    outcome: pd.DataFrame,
    *,
    metrics: Mapping[str, str] | None = None,
    names: Mapping[Any, str] | None = None,
    ci_level: float = 0.95,
    n_resamples: int = 1000,
    random_state: int = 0,
    segmentation: str = "model",
) -> pd.DataFrame:
    """Per-segment outcome means, shares of total and their confidence intervals.

    Intervals come from :mod:`segkit.intervals`: Wilson for 0/1 columns (rates),
    the bootstrap-t for amounts (revenue per customer), and a joint bootstrap of
    all customers for the revenue share (the rest of revenue varies with the
    segment).

    Parameters
    ----------
    labels : Series
        Segment per customer (int ids or RFM names), index customer_id.
    outcome : DataFrame
        Outcome columns per customer (e.g. :func:`next_horizon`), same customers.
    metrics : mapping, optional
        ``{output name: outcome column}`` averaged per segment; by default
        ``retention <- bought_again`` and ``revenue_per_customer <- revenue``.
        Columns mapped from ``revenue`` also give ``revenue_share``.
    names : mapping, optional
        Display name per segment (default ``str(segment)``).
    ci_level : float
        Confidence level of the intervals (``validation.ci_level``).
    n_resamples : int
        Bootstrap resamples per interval (means and revenue shares).
    random_state : int
        Seed; same seed, same intervals.
    segmentation : str
        Value of the ``segmentation`` column (``model``, ``rfm``...).

    Returns
    -------
    DataFrame
        ``segmentation``, ``segment``, ``name``, ``customers`` and per metric
        ``<m>``, ``<m>_low``, ``<m>_high``, ``<m>_index`` (segment / overall).
    """
    metrics = dict(
        metrics or {"retention": "bought_again", "revenue_per_customer": "revenue"}
    )
    missing = [c for c in metrics.values() if c not in outcome.columns]
    if missing:
        raise DataError(
            f"outcome columns {missing} not found (columns: {list(outcome.columns)}); "
            "pass the frame returned by next_horizon or name existing columns"
        )
    aligned = labels.reindex(outcome.index)
    if aligned.isna().any():
        raise DataError(
            f"{int(aligned.isna().sum())} customers of the outcome frame have no "
            "segment; pass labels for every customer followed"
        )
    keys = aligned.to_numpy()
    segments = sorted(aligned.unique().tolist(), key=lambda s: (str(type(s)), s))
    rows = {
        segment: {
            "segmentation": segmentation,
            "segment": segment,
            "name": (names or {}).get(segment, str(segment)),
            "customers": int((keys == segment).sum()),
        }
        for segment in segments
    }
    for name, column in metrics.items():
        values = outcome[column].to_numpy(dtype=float)
        overall = values.mean() if len(values) else np.nan
        flag = bool(np.isin(values, (0.0, 1.0)).all())
        for segment, row in rows.items():
            mine = values[keys == segment]
            if flag:  # a rate: Wilson, never [1, 1] for a small segment
                low, high = intervals.wilson(mine.sum(), len(mine), level=ci_level)
            else:  # a skewed amount: bootstrap-t
                low, high = intervals.mean_interval(
                    mine,
                    level=ci_level,
                    n_resamples=n_resamples,
                    random_state=random_state,
                )
            row[name] = float(mine.mean())
            row[f"{name}_low"], row[f"{name}_high"] = float(low), float(high)
            row[f"{name}_index"] = float(mine.mean() / overall) if overall else np.nan
        if column == "revenue":  # every customer resampled: the rest varies too
            shares = intervals.share_intervals(
                keys,
                values,
                level=ci_level,
                n_resamples=n_resamples,
                random_state=random_state,
            )
            for segment, row in rows.items():
                row["revenue_share"] = float(shares.loc[segment, "share"])
                row["revenue_share_low"] = float(shares.loc[segment, "low"])
                row["revenue_share_high"] = float(shares.loc[segment, "high"])
    rows = list(rows.values())
    return pd.DataFrame(rows)


def fit_labels_at(model, features: pd.DataFrame) -> np.ndarray:
    """Labels of ``features`` from a clone of ``model`` fitted on them (int)."""
    fitted = clone(model).fit(features)
    found = getattr(fitted, "labels_", None)
    found = fitted.predict(features) if found is None else found
    return np.asarray(found, int)


def default_build(config, transactions, returns, customers, *, as_of):
    """The features as of ``as_of`` (:func:`segkit.features.step.build`)."""
    from segkit.features.step import build

    return build(config, transactions, returns, customers, as_of=as_of)


def outcome_validity(
    model,
    config: Mapping[str, Any],
    transactions: pd.DataFrame,
    returns: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    *,
    build: Callable[..., dict] | None = None,
    use_matrix: bool = False,
    value: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Segments at ``t0 = as_of - horizon`` against behaviour in the next horizon.

    Parameters
    ----------
    model : estimator
        The chosen segmentation model; a clone (same settings and seed) is refitted
        on the features as of ``t0``.
    config : mapping
        The validated run config (``as_of``, ``seed``, ``validation.*``).
    transactions, returns, customers : DataFrame
        Clean artifacts of the data step (``returns`` and ``customers`` optional).
    build : callable, optional
        Feature builder with the signature of ``segkit.features.step.build``
        (default); it must return ``features`` and, for the baseline, ``rfm``.
    use_matrix : bool
        Fit on the builder's preprocessed ``matrix`` instead of ``features`` (for a
        model that was fitted on ``matrix.parquet``).
    value : mapping, optional
        The value step's record (``value.json``) when it produced artifacts: adds
        the ``CLV tiers`` baseline (:func:`segkit.validation.value_baseline.
        value_baseline`); None skips it with a note.

    Returns
    -------
    dict
        ``t0``, ``as_of``, ``customers`` (followed), ``outcome`` (per customer),
        ``labels_t0``, ``per_segment`` (model and rfm rows of
        :func:`segment_outcomes`), ``comparison`` (:func:`compare_segmentations`
        of model, rfm and shuffled labels, descriptive), ``heldout`` (rows of
        :func:`segkit.validation.baselines.compare_heldout`), ``primary`` (the
        outcome that decides the wording) and ``baselines`` (the list written to
        ``validation.json``), ``value_baseline`` (``{"included", "note"}``).
    """
    validation = config["validation"]
    t0, end = horizon_start(
        transactions, as_of=config.get("as_of"), horizon_days=validation["horizon_days"]
    )
    before = transactions.loc[transactions["timestamp"] < t0]
    returns_before = (
        returns.loc[returns["timestamp"] < t0] if returns is not None else None
    )
    built = (build or default_build)(
        config, before, returns_before, customers, as_of=t0.date()
    )
    features = built["matrix" if use_matrix else "features"]
    # seeded and independent of the level: a ci_level rerun reads it back
    found = memo.call(fit_labels_at, model, features)
    labels_t0 = pd.Series(found, index=features.index, name="segment")
    outcome = next_horizon(transactions, returns, features.index, t0=t0)
    labels_t0.index = outcome.index
    seed = config["seed"]
    names = {s: f"t0 segment {s}" for s in labels_t0.unique()}
    shuffled = pd.Series(
        np.random.default_rng(seed).permutation(labels_t0.to_numpy()),
        index=labels_t0.index,
    )
    labelings = {"model": labels_t0, "shuffled (chance)": shuffled}
    rfm = built.get("rfm")
    if rfm is not None:
        rfm = rfm.copy()
        rfm.index = rfm.index.astype("str")
        rfm = rfm.reindex(outcome.index)
    if rfm is not None and "segment" in rfm.columns:
        labelings["rfm"] = rfm["segment"].astype("str").fillna("(no RFM segment)")
    options = {
        "ci_level": validation["ci_level"],
        "n_resamples": validation["ci_resamples"],
        "random_state": seed,
    }
    parts = [
        segment_outcomes(
            labels_t0, outcome, names=names, segmentation="model", **options
        )
    ]
    if "rfm" in labelings:
        parts.append(
            segment_outcomes(labelings["rfm"], outcome, segmentation="rfm", **options)
        )
    tiers, value_note = value_baseline(
        transactions,
        outcome.index,
        t0=t0,
        groups=labels_t0.nunique(),
        value=value,
        seed=seed,
    )
    heldout = baselines.heldout_comparison(
        model,
        features,
        outcome,
        labels_t0,
        rfm,
        level=validation["ci_level"],
        n_resamples=validation["ci_resamples"],
        random_state=seed,
        n_permutations=validation["permutations"],
        value_tiers=None if tiers is None else tiers.reindex(outcome.index),
    )
    logger.info("outcome validity: %d customers from %s", len(outcome), t0.date())
    return {
        "t0": t0.date(),
        "as_of": end.date(),
        "horizon_days": validation["horizon_days"],
        "customers": len(outcome),
        "outcome": outcome,
        "labels_t0": labels_t0,
        "per_segment": pd.concat(parts, ignore_index=True),
        "comparison": compare_segmentations(outcome, labelings),
        **heldout,
        "value_baseline": {"included": tiers is not None, "note": value_note},
    }


def coerce_outcome(values: pd.Series, *, column: str) -> pd.Series:
    """Turn an outcome column into floats (yes/no, true/false and 1/0 accepted).

    Raises
    ------
    DataError
        When the column is neither numeric nor a two-valued flag.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("str").str.strip().str.lower()
    known = {"1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0}
    known |= {"true": 1.0, "false": 0.0}
    mapped = text.map(known)
    if mapped[values.notna()].isna().any():
        bad = values[values.notna() & mapped.isna()].iloc[0]
        raise DataError(
            f"outcome column {column!r} holds {bad!r}, which is not a number nor a "
            "yes/no flag; declare a numeric or 0/1 column in customers.outcomes or "
            "validation.outcome"
        )
    return mapped


def outcome_rates(
    labels: pd.Series,
    customers: pd.DataFrame,
    column: str,
    *,
    names: Mapping[Any, str] | None = None,
    ci_level: float = 0.95,
    n_resamples: int = 1000,
    random_state: int = 0,
    model=None,
    frame: pd.DataFrame | None = None,
    n_permutations: int = 200,
) -> dict[str, Any]:
    """Outcome rate per segment for attribute-only data (no transactions).

    Parameters
    ----------
    labels : Series
        Segment per customer (index customer_id).
    customers : DataFrame
        The customers table (index customer_id) holding ``column``.
    column : str
        The outcome column (``customers.outcomes`` or ``validation.outcome``).
    model, frame : optional
        The segmentation model and the frame it is fitted on (index customer_id):
        when given, the outcome is also scored on held-out customers against
        shuffled labels (:mod:`segkit.validation.baselines`), with
        ``n_permutations`` label permutations for its null.

    Returns
    -------
    dict
        ``per_segment`` (rows of :func:`segment_outcomes` with metric ``rate``),
        ``comparison`` (model vs shuffled labels, :func:`compare_segmentations`)
        and, with ``model``, ``heldout``, ``primary`` and ``baselines``.
    """
    if column not in customers.columns:
        raise DataError(
            f"outcome column {column!r} not found in customers (columns: "
            f"{list(customers.columns)}); set validation.outcome to one of them"
        )
    values = coerce_outcome(customers[column], column=column).dropna()
    index = labels.index.intersection(values.index)
    outcome = pd.DataFrame({column: values.loc[index]})
    aligned = labels.loc[index].astype(int)
    per_segment = segment_outcomes(
        aligned,
        outcome,
        metrics={"rate": column},
        names=names,
        ci_level=ci_level,
        n_resamples=n_resamples,
        random_state=random_state,
    )
    shuffled = pd.Series(
        np.random.default_rng(random_state).permutation(aligned.to_numpy()), index=index
    )
    comparison = compare_segmentations(
        outcome,
        {"model": aligned, "shuffled (chance)": shuffled},
        target=column,
        rate=None,
    )
    result: dict[str, Any] = {"per_segment": per_segment, "comparison": comparison}
    if model is not None and frame is not None:
        targets = ({column: outcome[column].to_numpy()}, column)
        result |= baselines.heldout_comparison(
            model,
            frame.loc[index],
            outcome,
            aligned,
            None,
            level=ci_level,
            n_resamples=n_resamples,
            random_state=random_state,
            n_permutations=n_permutations,
            targets=targets,
        )
    return result

"""Do the segments predict what customers do next? Outcome (predictive) validity.

The segmentation is rebuilt as it would have been ``validation.horizon_days`` before
``as_of`` (``t0``): features from the transactions before ``t0``, a fresh clone of the
chosen model fitted on them, every customer active by ``t0`` assigned. What each
segment's customers then did in the following horizon ``[t0, as_of]`` is measured:

* ``retention`` - share who bought again,
* ``revenue_per_customer`` - net revenue (sales minus returns) per customer,
* ``revenue_share`` - the segment's share of the horizon's total revenue,

each with a percentile bootstrap confidence interval (customers resampled within
segment). The same is measured for the RFM named segments at ``t0`` and for a
shuffled copy of the segments (the chance level), and :func:`compare_segmentations`
puts the three side by side: eta squared of next-horizon revenue (and of its log and
of retention) and the best-vs-worst segment lift.

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

from segkit.exceptions import DataError

__all__ = [
    "MIN_LIFT_CUSTOMERS",
    "horizon_start",
    "next_horizon",
    "eta_squared",
    "segment_outcomes",
    "compare_segmentations",
    "outcome_validity",
    "outcome_rates",
    "coerce_outcome",
]

logger = logging.getLogger(__name__)

#: Segments smaller than this are left out of the best-vs-worst lift (too noisy).
MIN_LIFT_CUSTOMERS = 10
_BLOCK = 4_000_000  # resampled values held in memory at once


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
    t0 = end - pd.Timedelta(days=int(horizon_days))
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


def _resampled_sums(
    values: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Sums of ``n_resamples`` bootstrap resamples of ``values`` (block-wise)."""
    n = len(values)
    out = np.empty(n_resamples)
    block = max(1, _BLOCK // max(n, 1))
    for start in range(0, n_resamples, block):
        stop = min(start + block, n_resamples)
        draws = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[draws].sum(axis=1)
    return out


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
    """Per-segment outcome means, shares of total and bootstrap confidence intervals.

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
        Confidence level of the percentile intervals (``validation.ci_level``).
    n_resamples : int
        Bootstrap resamples per segment.
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
    rng = np.random.default_rng(random_state)
    tail = (1 - ci_level) / 2
    segments = sorted(aligned.unique().tolist(), key=lambda s: (str(type(s)), s))
    totals = {c: float(outcome[c].astype(float).sum()) for c in metrics.values()}
    rows = []
    for segment in segments:
        inside = (aligned == segment).to_numpy()
        row: dict[str, Any] = {
            "segmentation": segmentation,
            "segment": segment,
            "name": (names or {}).get(segment, str(segment)),
            "customers": int(inside.sum()),
        }
        for name, column in metrics.items():
            values = outcome[column].to_numpy(dtype=float)
            mine = values[inside]
            sums = _resampled_sums(mine, n_resamples, rng)
            overall = values.mean() if len(values) else np.nan
            row[name] = float(mine.mean())
            row[f"{name}_low"] = float(np.quantile(sums / len(mine), tail))
            row[f"{name}_high"] = float(np.quantile(sums / len(mine), 1 - tail))
            row[f"{name}_index"] = float(mine.mean() / overall) if overall else np.nan
            if column == "revenue":
                rest = totals[column] - float(mine.sum())
                shares = sums / (sums + rest) if totals[column] else sums * np.nan
                row["revenue_share"] = (
                    float(mine.sum() / totals[column]) if totals[column] else np.nan
                )
                row["revenue_share_low"] = float(np.quantile(shares, tail))
                row["revenue_share_high"] = float(np.quantile(shares, 1 - tail))
        rows.append(row)
    return pd.DataFrame(rows)


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
        ``eta2_<rate>``, and for both columns the best and worst segment means (among
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
        if (values >= 0).mean() > 0.95:  # net revenue: a few returns below 0
            row[f"eta2_log_{target}"] = eta_squared(
                np.log1p(values.clip(lower=0)), groups
            )
        for column in columns:
            series = outcome[column].astype(float)
            if column != target:
                row[f"eta2_{column}"] = eta_squared(series, groups)
            means = series.groupby(groups.to_numpy()).agg(["mean", "size"])
            big = means.loc[means["size"] >= MIN_LIFT_CUSTOMERS]
            big = big if len(big) else means
            best, worst = float(big["mean"].max()), float(big["mean"].min())
            row[f"best_{column}"] = best
            row[f"worst_{column}"] = worst
            row[f"lift_{column}"] = best / worst if worst > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _default_build(config, transactions, returns, customers, *, as_of):
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

    Returns
    -------
    dict
        ``t0``, ``as_of``, ``customers`` (followed), ``outcome`` (per customer),
        ``labels_t0``, ``per_segment`` (model and rfm rows of
        :func:`segment_outcomes`) and ``comparison`` (:func:`compare_segmentations`
        of model, rfm and shuffled labels).
    """
    validation = config["validation"]
    t0, end = horizon_start(
        transactions, as_of=config.get("as_of"), horizon_days=validation["horizon_days"]
    )
    before = transactions.loc[transactions["timestamp"] < t0]
    returns_before = (
        returns.loc[returns["timestamp"] < t0] if returns is not None else None
    )
    built = (build or _default_build)(
        config, before, returns_before, customers, as_of=t0.date()
    )
    features = built["matrix" if use_matrix else "features"]
    fitted = clone(model).fit(features)
    found = getattr(fitted, "labels_", None)
    found = fitted.predict(features) if found is None else found
    labels_t0 = pd.Series(np.asarray(found, int), index=features.index, name="segment")
    outcome = next_horizon(transactions, returns, features.index, t0=t0)
    labels_t0.index = outcome.index
    seed = int(config.get("seed", 0))
    names = {s: f"t0 segment {s}" for s in labels_t0.unique()}
    shuffled = pd.Series(
        np.random.default_rng(seed).permutation(labels_t0.to_numpy()),
        index=labels_t0.index,
    )
    labelings = {"model": labels_t0, "shuffled (chance)": shuffled}
    rfm = built.get("rfm")
    if rfm is not None and "segment" in getattr(rfm, "columns", []):
        rfm_labels = rfm["segment"].astype("str")
        rfm_labels.index = rfm_labels.index.astype("str")
        labelings["rfm"] = rfm_labels.reindex(outcome.index).fillna("(no RFM segment)")
    options = {
        "ci_level": validation["ci_level"],
        "n_resamples": validation.get("ci_resamples", 1000),
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
    logger.info("outcome validity: %d customers from %s", len(outcome), t0.date())
    return {
        "t0": t0.date(),
        "as_of": end.date(),
        "horizon_days": int(validation["horizon_days"]),
        "customers": len(outcome),
        "outcome": outcome,
        "labels_t0": labels_t0,
        "per_segment": pd.concat(parts, ignore_index=True),
        "comparison": compare_segmentations(outcome, labelings),
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
) -> dict[str, pd.DataFrame]:
    """Outcome rate per segment for attribute-only data (no transactions).

    Parameters
    ----------
    labels : Series
        Segment per customer (index customer_id).
    customers : DataFrame
        The customers table (index customer_id) holding ``column``.
    column : str
        The outcome column (``customers.outcomes`` or ``validation.outcome``).

    Returns
    -------
    dict
        ``per_segment`` (rows of :func:`segment_outcomes` with metric ``rate``) and
        ``comparison`` (model vs shuffled labels, :func:`compare_segmentations`).
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
    return {"per_segment": per_segment, "comparison": comparison}

"""Held-out outcome validity of a segmentation against fair baselines.

Raw eta squared grows with the number of groups (its null mean is
``(g - 1) / (n - 1)``), so a 10-cell RFM grid beats 3 segments on it by
construction. Here every labelling is scored the same way, on customers it was not
fitted on:

* **cross-fitting**: customers are split at random into halves A and B. The
  segmentation is fitted on A and assigns everyone; the segment means of the
  outcome are estimated on A and predict B. Then the roles swap. The **held-out
  R squared** pools both directions:
  ``1 - (SSE_B|A + SSE_A|B) / (SST_B|A + SST_A|B)``, where ``SST`` uses the
  training half's overall mean. It is about 0 (slightly negative) for labels that
  carry no information, whatever their number of groups.
* a **permutation null** (labels shuffled across customers) gives its p-value.
* **baselines** are scored on the same halves: ``RFM tiers`` (as many equal-sized
  tiers of an RFM value score as the segmentation has groups, :func:`rfm_tiers`),
  ``RFM named segments`` (the named RFM map of :mod:`segkit.features.rfm`) and
  ``shuffled labels`` (the segmentation's labels permuted: same sizes, no
  information).
* ``CLV tiers`` (when the value step ran: as many equal-sized tiers of the
  customer lifetime value estimated at t0, :mod:`segkit.validation.value_baseline`).
* a **paired bootstrap** (customers resampled within each half, the same draws for
  both labellings) gives the interval of the difference ``segmentation -
  baseline``; its sign decides the wording (:func:`wording`). The bootstrap is
  conditional on the fitted segmentations: it resamples the outcome, not the fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit import memo
from segkit.exceptions import DataError
from segkit.validation.value_baseline import CLV_TIERS

__all__ = [
    "RFM_TIERS",
    "RFM_NAMED",
    "SHUFFLED",
    "CLV_TIERS",
    "rfm_tiers",
    "halves",
    "heldout_r2",
    "compare_heldout",
    "heldout_draws",
    "wording",
    "baseline_records",
    "cross_fit_labels",
    "outcome_targets",
    "heldout_comparison",
]

RFM_TIERS = "RFM tiers"
RFM_NAMED = "RFM named segments"
SHUFFLED = "shuffled labels"
_BLOCK = 2_000_000


def rfm_tiers(rfm: pd.DataFrame, k: int) -> pd.Series:
    """``k`` equal-sized tiers of an RFM value score (1 = lowest value).

    The score is the mean of the percentile ranks of ``-recency``, ``frequency``
    and ``monetary`` (ties share their average rank); customers are then ranked on
    it (ties in row order) and cut into ``k`` groups of equal size, so the grid has
    exactly as many groups as the segmentation it is compared with. No outcome is
    used.

    Parameters
    ----------
    rfm : DataFrame
        ``recency``, ``frequency``, ``monetary`` per customer (e.g. the ``rfm`` table
        of the features step).
    k : int
        Number of tiers.

    Returns
    -------
    Series
        Tier ``1..k`` per customer, same index, name ``rfm_tier``.
    """
    missing = [c for c in ("recency", "frequency", "monetary") if c not in rfm]
    if missing:
        raise DataError(
            f"columns {missing} not found in the RFM table (columns: "
            f"{list(rfm.columns)}); pass the rfm table of the features step"
        )
    if k < 1:
        raise DataError(f"rfm_tiers needs k >= 1 tiers, got {k}")
    score = (
        (-rfm["recency"].astype(float)).rank(pct=True)
        + rfm["frequency"].astype(float).rank(pct=True)
        + rfm["monetary"].astype(float).rank(pct=True)
    ) / 3
    order = score.rank(method="first").to_numpy() - 1
    tiers = (order * k // len(score)).astype(int) + 1
    return pd.Series(tiers, index=rfm.index, name="rfm_tier")


def halves(n: int, *, random_state: int = 0) -> np.ndarray:
    """A random split of ``n`` customers in two halves (True: half A)."""
    fold = np.zeros(n, dtype=bool)
    fold[np.random.default_rng(random_state).permutation(n)[: n // 2]] = True
    return fold


def _codes(labels: Any) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(np.asarray(labels, dtype=object)))
    return codes, max(len(uniques), 1)


def _scores(
    y: np.ndarray,
    directions: tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]],
    fold: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Pooled held-out R squared for each row of ``weights`` (resamples x n)."""
    sse = np.zeros(len(weights))
    sst = np.zeros(len(weights))
    for (codes, k), train in zip(directions, (fold, ~fold), strict=True):
        onehot = np.zeros((len(y), k))
        onehot[np.arange(len(y)), codes] = 1.0
        w_train, w_test = weights * train, weights * ~train
        counts = w_train @ onehot
        sums = (w_train * y) @ onehot
        grand = (w_train @ y) / w_train.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, grand[:, None])
        # sum_test w (y - m_g)^2 = sum w y^2 - 2 sum_g m_g S_g + sum_g m_g^2 N_g
        test_n = w_test @ onehot
        test_s = (w_test * y) @ onehot
        y2 = w_test @ (y**2)
        sse += y2 - 2 * (means * test_s).sum(1) + (means**2 * test_n).sum(1)
        sst += y2 - 2 * grand * (w_test @ y) + grand**2 * w_test.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 0, 1 - sse / sst, 0.0)


def _tally(
    codes: np.ndarray, k: int, orders: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per permutation (row of ``orders``) and group: the count of customers and
    the sum of ``values`` (aligned with the columns of ``orders``)."""
    rows = len(orders)
    # each permutation's groups get their own block of k bins
    flat = (codes[orders] + (k * np.arange(rows))[:, None]).ravel()
    counts = np.bincount(flat, minlength=rows * k).reshape(rows, k)
    sums = np.bincount(flat, np.tile(values, rows), minlength=rows * k)
    return counts, sums.reshape(rows, k)


def _permuted_scores(
    y: np.ndarray,
    directions: tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]],
    fold: np.ndarray,
    orders: np.ndarray,
) -> np.ndarray:
    """Pooled held-out R squared of the labels permuted by each row of ``orders``.

    What :func:`_scores` gives, with unit weights, for the labels ``codes[order]``
    of each permutation; the group counts and sums of all the permutations come
    from :func:`numpy.bincount` at once (:func:`_tally`), where a one-hot matrix
    per permutation cost about 1 ms and a permutation null draws a few thousand.
    """
    rows = len(orders)
    sse = np.zeros(rows)
    sst = 0.0
    for (codes, k), train in zip(directions, (fold, ~fold), strict=True):
        y_train, y_test = y[train], y[~train]
        counts, sums = _tally(codes, k, orders[:, train], y_train)
        grand = y_train.mean() if len(y_train) else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), grand)
        test_n, test_s = _tally(codes, k, orders[:, ~train], y_test)
        y2 = float(y_test @ y_test)
        sse += y2 - 2 * (means * test_s).sum(1) + (means**2 * test_n).sum(1)
        sst += y2 - 2 * grand * y_test.sum() + grand**2 * len(y_test)
    return 1 - sse / sst if sst > 0 else np.zeros(rows)


def heldout_r2(y: Any, labels: Any, fold: np.ndarray) -> float:
    """Cross-fitted R squared of ``y`` predicted by segment means.

    Parameters
    ----------
    y : array-like of float
        Outcome per customer.
    labels : array-like or pair of array-likes
        Segment per customer; a pair ``(fitted on A, fitted on B)`` when the
        labelling itself was fitted on one half.
    fold : array of bool
        True for half A (:func:`halves`).
    """
    values = np.asarray(y, dtype=float)
    pair = labels if isinstance(labels, tuple) else (labels, labels)
    directions = (_codes(pair[0]), _codes(pair[1]))
    return float(_scores(values, directions, fold, np.ones((1, len(values))))[0])


def _weights(fold: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap counts per customer, resampling within each half."""
    out = np.zeros((rows, len(fold)))
    for part in (np.flatnonzero(fold), np.flatnonzero(~fold)):
        draws = part[rng.integers(0, len(part), size=(rows, len(part)))]
        for row in range(rows):
            out[row] += np.bincount(draws[row], minlength=len(fold))
    return out


def wording(low: float, high: float) -> str:
    """``better`` when the interval of the difference is above 0, ``worse`` below,
    else ``indistinguishable``; NaN bounds give ``not measured``."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "not measured"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "indistinguishable"


def compare_heldout(
    outcomes: Mapping[str, Any],
    labelings: Mapping[str, Any],
    fold: np.ndarray,
    *,
    reference: str = "model",
    level: float = 0.95,
    n_resamples: int = 1000,
    n_permutations: int = 200,
    random_state: int = 0,
) -> pd.DataFrame:
    """Held-out R squared of every labelling, and of ``reference`` minus each.

    Parameters
    ----------
    outcomes : mapping
        ``{outcome name: values per customer}`` (e.g. ``log revenue``).
    labelings : mapping
        ``{name: labels}`` on the same customers; a labelling fitted per half is
        a pair ``(fitted on A, fitted on B)``. ``reference`` must be one of them.
    fold : array of bool
        The halves (:func:`halves`).
    level : float
        Level of the bootstrap intervals.
    n_resamples : int
        Paired bootstrap resamples (the same draws for every labelling).
    n_permutations : int
        Label permutations of the null.
    random_state : int
        Seed.

    Returns
    -------
    DataFrame
        One row per outcome and labelling: ``outcome``, ``name``, ``groups``,
        ``measure`` (held-out R squared), ``low``, ``high``, ``p_value``
        (permutation), and, for the baselines, ``difference``, ``difference_low``,
        ``difference_high`` (reference minus baseline) and ``wording``.
    """
    if reference not in labelings:
        raise DataError(
            f"reference labelling {reference!r} not among {list(labelings)}"
        )
    n = len(fold)
    for name, labels in labelings.items():
        pair = labels if isinstance(labels, tuple) else (labels, labels)
        if any(len(p) != n for p in pair):
            raise DataError(
                f"labelling {name!r} has {len(pair[0])} customers, the outcome {n}; "
                "pass labels for the same customers"
            )
    # the draws do not depend on the level: a rerun with another
    # validation.ci_level reads them back (segkit.memo)
    draws = memo.call(
        heldout_draws,
        {name: np.asarray(raw, dtype=float) for name, raw in outcomes.items()},
        {
            name: tuple(map(np.asarray, labels))
            if isinstance(labels, tuple)
            else np.asarray(labels)
            for name, labels in labelings.items()
        },
        np.asarray(fold, dtype=bool),
        n_resamples=n_resamples,
        n_permutations=n_permutations,
        random_state=random_state,
    )
    tail = (1 - level) / 2
    rows = []
    for outcome, found in draws.items():
        boot, point, null = found["boot"], found["point"], found["null"]
        for name in labelings:
            row = {
                "outcome": outcome,
                "name": name,
                "groups": found["groups"][name],
                "measure": point[name],
                "low": float(np.quantile(boot[name], tail)),
                "high": float(np.quantile(boot[name], 1 - tail)),
                "p_value": float(
                    (1 + (null[name] >= point[name]).sum()) / (1 + n_permutations)
                ),
            }
            if name != reference:
                diff = boot[reference] - boot[name]
                row |= {
                    "difference": point[reference] - point[name],
                    "difference_low": float(np.quantile(diff, tail)),
                    "difference_high": float(np.quantile(diff, 1 - tail)),
                }
                row["wording"] = wording(row["difference_low"], row["difference_high"])
            rows.append(row)
    return pd.DataFrame(rows)


def heldout_draws(
    outcomes: Mapping[str, np.ndarray],
    labelings: Mapping[str, Any],
    fold: np.ndarray,
    *,
    n_resamples: int = 1000,
    n_permutations: int = 200,
    random_state: int = 0,
) -> dict[str, dict[str, Any]]:
    """The draws :func:`compare_heldout` reads its intervals and p-values off.

    Per outcome: ``boot`` ({labelling: held-out R squared of each paired bootstrap
    resample}), ``point`` ({labelling: R squared on all customers}), ``null``
    ({labelling: R squared of each label permutation}) and ``groups``
    ({labelling: number of segments}). Arguments as for :func:`compare_heldout`.
    """
    rng = np.random.default_rng(random_state)
    n = len(fold)
    directions = {}
    for name, labels in labelings.items():
        pair = labels if isinstance(labels, tuple) else (labels, labels)
        directions[name] = (_codes(pair[0]), _codes(pair[1]))
    found: dict[str, dict[str, Any]] = {}
    for outcome, raw in outcomes.items():
        y = np.asarray(raw, dtype=float)
        boot = {name: [] for name in labelings}
        block = max(1, _BLOCK // max(n, 1))
        for start in range(0, n_resamples, block):
            weights = _weights(fold, min(block, n_resamples - start), rng)
            for name, d in directions.items():
                boot[name].append(_scores(y, d, fold, weights))
        ones = np.ones((1, n))
        point = {
            name: float(_scores(y, d, fold, ones)[0]) for name, d in directions.items()
        }
        null = {}
        for name, d in directions.items():
            parts = []
            for start in range(0, n_permutations, block):
                # drawn one by one, in the order the rng gives them
                rows = min(block, n_permutations - start)
                orders = np.stack([rng.permutation(n) for _ in range(rows)])
                parts.append(_permuted_scores(y, d, fold, orders))
            null[name] = np.concatenate(parts) if parts else np.empty(0)
        found[outcome] = {
            "boot": {name: np.concatenate(parts) for name, parts in boot.items()},
            "point": point,
            "null": null,
            "groups": {
                name: int(max(d[0][1], d[1][1])) for name, d in directions.items()
            },
        }
    return found


def baseline_records(
    table: pd.DataFrame, primary: str, *, reference: str = "model"
) -> list[dict[str, Any]]:
    """The ``baselines`` list of ``validation.json`` from :func:`compare_heldout`.

    One entry per baseline on the ``primary`` outcome: ``name``, ``groups``,
    ``outcome``, ``measure``, ``low``, ``high``, ``p_value``, ``difference``,
    ``difference_low``, ``difference_high``, ``wording``, plus ``reference`` (the
    segmentation's own measure, interval and p-value) and ``by_outcome`` (the same
    fields for every outcome measured).
    """
    keys = ["measure", "low", "high", "p_value"]
    diff = ["difference", "difference_low", "difference_high", "wording"]
    out = []
    for name, part in table.loc[table["name"] != reference].groupby("name", sort=False):
        main = part.loc[part["outcome"] == primary]
        if main.empty:
            continue
        row = main.iloc[0]
        own = table.loc[(table["name"] == reference) & (table["outcome"] == primary)]
        entry = {"name": name, "groups": int(row["groups"]), "outcome": primary}
        entry |= {k: _plain(row[k]) for k in keys + diff}
        entry["reference"] = {k: _plain(own.iloc[0][k]) for k in ["groups", *keys]}
        entry["by_outcome"] = [
            {"outcome": r["outcome"], **{k: _plain(r[k]) for k in keys + diff}}
            for _, r in part.iterrows()
        ]
        out.append(entry)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value
    value = float(value)
    if value.is_integer() and abs(value) > 1:
        return int(value)
    return value if np.isfinite(value) else None


def cross_fit_labels(
    model, frame: pd.DataFrame, fold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of every customer from a clone fitted on half A, and one on half B.

    Parameters
    ----------
    model : estimator
        Unfitted or fitted segmentation model (cloned, same settings and seed);
        must offer ``predict``.
    frame : DataFrame
        What the model is fitted on, one row per customer, in the order of ``fold``.
    fold : array of bool
        True for half A.
    """
    from sklearn.base import clone

    out = []
    for train in (fold, ~fold):
        fitted = clone(model).fit(frame.loc[train])
        out.append(np.asarray(fitted.predict(frame), dtype=int))
    return out[0], out[1]


def outcome_targets(
    outcome: pd.DataFrame,
    *,
    revenue: str = "revenue",
    rate: str | None = "bought_again",
) -> tuple[dict, str]:
    """The outcomes scored held-out, and the primary one (it decides the wording).

    ``log revenue`` (``log1p`` of net revenue clipped at 0) is primary when at
    least 95 % of the revenue is non-negative: it is less dominated by a few very
    large buyers than revenue itself; otherwise ``revenue``. A single-column
    outcome (attribute data) is its own primary.
    """
    values = outcome[revenue].astype(float)
    targets: dict[str, np.ndarray] = {}
    primary = revenue
    if (values >= 0).mean() > 0.95:
        targets["log revenue"] = np.log1p(values.clip(lower=0)).to_numpy()
        primary = "log revenue"
    targets[revenue] = values.to_numpy()
    if rate is not None and rate in outcome.columns:
        targets[rate.replace("_", " ")] = outcome[rate].astype(float).to_numpy()
    return targets, primary


def heldout_comparison(
    model,
    frame: pd.DataFrame,
    outcome: pd.DataFrame,
    labels: pd.Series,
    rfm: pd.DataFrame | None,
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    random_state: int = 0,
    n_permutations: int = 200,
    targets: tuple[dict, str] | None = None,
    value_tiers: pd.Series | None = None,
) -> dict[str, Any]:
    """Cross-fitted held-out R squared of the model vs the baselines.

    Parameters
    ----------
    model : estimator
        The segmentation model (cloned and fitted on each half of ``frame``).
    frame : DataFrame
        What the model is fitted on, rows in the order of ``outcome``.
    outcome : DataFrame
        Outcome per customer (:func:`segkit.validation.outcomes.next_horizon`).
    labels : Series
        The model's labels on all of ``frame`` (for the number of groups).
    rfm : DataFrame or None
        RFM table on the same customers (``recency``, ``frequency``,
        ``monetary``, ``segment``) for the RFM baselines.
    level, n_resamples, random_state, n_permutations
        As in :func:`compare_heldout` (``validation.permutations``).
    targets : tuple, optional
        ``({name: values}, primary)``; default :func:`outcome_targets`.
    value_tiers : Series, optional
        CLV tier per customer known at t0, in the order of ``outcome``
        (:func:`segkit.validation.value_baseline.value_baseline`); scored as the
        ``CLV tiers`` baseline.

    Returns
    -------
    dict
        ``heldout`` (:func:`compare_heldout`), ``primary`` and ``baselines``
        (:func:`baseline_records`).
    """
    fold = halves(len(outcome), random_state=random_state)
    # seeded, and the same for every ci_level: a rerun reads them back
    fitted = memo.call(cross_fit_labels, model, frame, fold)
    rng = np.random.default_rng(random_state + 1)
    labelings: dict[str, Any] = {"model": fitted}
    k = len(set(labels.tolist()))
    if rfm is not None and {"recency", "frequency", "monetary"} <= set(rfm.columns):
        known = rfm[["recency", "frequency", "monetary"]].notna().all(axis=1)
        tiers = rfm_tiers(rfm.loc[known], k).reindex(rfm.index)
        labelings[RFM_TIERS] = tiers.fillna(0).to_numpy()
    if rfm is not None and "segment" in rfm.columns:
        named = rfm["segment"].astype("str").fillna("(no RFM segment)")
        labelings[RFM_NAMED] = named.to_numpy()
    if value_tiers is not None:
        labelings[CLV_TIERS] = np.asarray(value_tiers)
    labelings[SHUFFLED] = tuple(rng.permutation(f) for f in fitted)
    outcomes_, primary = targets or outcome_targets(outcome)
    table = compare_heldout(
        outcomes_,
        labelings,
        fold,
        level=level,
        n_resamples=n_resamples,
        n_permutations=n_permutations,
        random_state=random_state,
    )
    return {
        "heldout": table,
        "primary": primary,
        "baselines": baseline_records(table, primary),
    }

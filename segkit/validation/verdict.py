"""The validation verdict: stability, distinctness and outcomes per segment in one table.

:func:`validate_segmentation` runs every check of notebook 04 on a fitted model
(:mod:`segkit.clustering.stability`, :mod:`segkit.validation.distinct`, :mod:`segkit.validation.outcomes`) and
:func:`verdict_table` turns them into one plain recommendation per segment:

* **merge with <segment>** - the segment is not trustworthy (mean bootstrap Jaccard
  below ``watch_jaccard``, default 0.6) or no feature separates it from another
  segment with an adjusted p below ``alpha`` and a |Cliff's delta| of at least
  ``min_effect``;
* **watch** - a pattern with doubtful membership (Jaccard below ``keep_jaccard``,
  default 0.75), a segment smaller than ``clustering.min_segment_share``, or the
  unassigned (noise) customers;
* **keep** - stable and distinct.

:func:`overall_verdict` writes one honest sentence; it may say "not trustworthy".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone

from segkit import memo
from segkit.clustering import stability
from segkit.exceptions import ConfigError, DataError
from segkit.validation import distinct, outcomes, separation
from segkit.validation.wording import bimodality, overall_verdict

__all__ = [
    "thresholds",
    "match_segments",
    "verdict_table",
    "overall_verdict",
    "bimodality",
    "validate_segmentation",
    "refit_setup",
    "REFIT_MODES",
]

logger = logging.getLogger(__name__)


def thresholds(config: Mapping[str, Any]) -> dict[str, float]:
    """The thresholds of the verdict, taken from the config (shown with the table)."""
    validation = config["validation"]
    return {
        "keep_jaccard": validation["keep_jaccard"],
        "watch_jaccard": validation["watch_jaccard"],
        "alpha": validation["alpha"],
        "min_effect": validation["min_effect"],
        "min_segment_share": config["clustering"]["min_segment_share"],
        "ci_level": validation["ci_level"],
    }


def match_segments(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Match each segment of one segmentation with one of another by overlap.

    Hungarian assignment on the table of shared customers; noise (-1) is matched
    with noise.

    Parameters
    ----------
    before, after : Series
        Segment ids per customer (index customer_id); only shared customers count.

    Returns
    -------
    DataFrame
        ``segment`` (of ``before``), ``matched`` (of ``after``; NaN when there are
        fewer segments after) and ``overlap`` (share of the segment's shared
        customers that are in ``matched``).
    """
    shared = before.index.intersection(after.index)
    table = pd.crosstab(before.loc[shared].astype(int), after.loc[shared].astype(int))
    matched: dict[int, int] = {}
    if -1 in table.index and -1 in table.columns:
        matched[-1] = -1
    core = table.drop(index=[-1], columns=[-1], errors="ignore")
    rows, cols = linear_sum_assignment(-core.to_numpy())
    for r, c in zip(rows, cols, strict=True):
        matched[int(core.index[r])] = int(core.columns[c])
    out = []
    for segment in table.index:
        target = matched.get(int(segment))
        size = table.loc[segment].sum()
        share = float(table.loc[segment, target] / size) if target is not None else 0.0
        out.append({"segment": int(segment), "matched": target, "overlap": share})
    return pd.DataFrame(out)


def verdict_table(
    stable: pd.DataFrame,
    summary: pd.DataFrame,
    sizes: pd.Series,
    *,
    limits: Mapping[str, float],
    names: Mapping[int, str] | None = None,
    lift: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per segment with a plain recommendation: keep, watch or merge.

    Parameters
    ----------
    stable : DataFrame
        ``StabilityResult.segments`` (``segment``, ``jaccard``, ``band``).
    summary : DataFrame
        :func:`segkit.validation.distinct.distinctness_summary`.
    sizes : Series
        Customers per segment (index segment id), all customers.
    limits : mapping
        :func:`thresholds`.
    names : mapping, optional
        Display name per segment id (default ``Segment <id>``, -1 ``Unassigned``).
    lift : Series, optional
        Outcome index per segment id (segment rate / overall rate).

    Returns
    -------
    DataFrame
        ``segment``, ``name``, ``customers``, ``share``, ``jaccard``, ``band``,
        ``distinct``, ``sets_apart`` (top features with Cliff's delta),
        ``outcome_lift``, ``recommendation``, ``reason``.
    """

    def label(segment: Any) -> str:
        if segment is None or pd.isna(segment):
            return "another segment"
        segment = int(segment)
        default = "Unassigned" if segment == -1 else f"Segment {segment}"
        return (names or {}).get(segment, default)

    table = stable.set_index("segment")
    facts = summary.set_index("segment") if len(summary) else pd.DataFrame()
    total = float(sizes.sum())
    rows = []
    for segment in sorted(int(s) for s in sizes.index):
        j = float(table["jaccard"].get(segment, np.nan))
        band = table["band"].get(segment, "not measured")
        share = float(sizes.get(segment, 0)) / total if total else np.nan
        fact = facts.loc[segment] if segment in facts.index else None
        merge_with = fact["merge_with"] if fact is not None else None
        nearest = fact["nearest_segment"] if fact is not None else None
        if segment == -1:
            advice, why = "watch", "customers HDBSCAN leaves unassigned (noise)"
        elif j < limits["watch_jaccard"]:
            advice = f"merge with {label(nearest)}"
            why = f"not trustworthy: Jaccard {j:.2f} < {limits['watch_jaccard']:.2f}"
        elif fact is not None and bool(fact["merge_candidate"]):
            advice = f"merge with {label(merge_with)}"
            why = (
                f"no density gap separates it from {label(merge_with)} on held-out "
                "customers"
            )
        elif j < limits["keep_jaccard"]:
            advice = "watch"
            why = f"doubtful membership: Jaccard {j:.2f} < {limits['keep_jaccard']:.2f}"
        elif share < limits["min_segment_share"]:
            advice = "watch"
            why = f"small: {share:.1%} of customers < {limits['min_segment_share']:.0%}"
        else:
            advice = "keep"
            why = f"{band} (Jaccard {j:.2f}) and distinct"
        rows.append(
            {
                "segment": segment,
                "name": label(segment),
                "customers": int(sizes.get(segment, 0)),
                "share": share,
                "jaccard": j,
                "band": band,
                "distinct": None
                if fact is None
                else ("no" if bool(fact["merge_candidate"]) else "yes"),
                "sets_apart": None if fact is None else fact["top_features"],
                "outcome_lift": float(lift.get(segment, np.nan))
                if lift is not None
                else np.nan,
                "recommendation": advice,
                "reason": why,
            }
        )
    return pd.DataFrame(rows)


def _lift_by_current(
    per_segment: pd.DataFrame, matching: pd.DataFrame | None, metric: str
) -> pd.Series:
    model = per_segment.loc[per_segment["segmentation"] == "model"]
    index = model.set_index("segment")[f"{metric}_index"]
    if matching is None:
        return index
    pairs = matching.dropna(subset=["matched"])
    return pd.Series(
        [index.get(s, np.nan) for s in pairs["segment"]],
        index=pairs["matched"].astype(int).to_numpy(),
    )


def _outcome_column(config: Mapping[str, Any], customers: pd.DataFrame | None):
    """The declared outcome column of attribute-only data, checked early."""
    declared = (config.get("customers") or {}).get("outcomes") or []
    column = config["validation"]["outcome"] or (declared[0] if declared else None)
    if column is not None and customers is None:
        raise DataError(
            f"validation.outcome is {column!r} but there is no customers table; "
            "declare customers in the config or set validation.outcome: null"
        )
    return column


def _pairs(
    descriptive: pd.DataFrame,
    model,
    frame: pd.DataFrame,
    labels: pd.Series,
    *,
    sample: pd.Index,
    alpha: float,
    seed: int,
) -> pd.DataFrame:
    """Descriptive pair table joined with the held-out gap test, which decides."""
    table = descriptive.rename(columns={"distinct": "distinct_descriptive"})
    try:
        # seeded and level-free: a ci_level or horizon rerun reads it back
        held = memo.call(
            separation.heldout_separation,
            model,
            frame.loc[sample],
            alpha=alpha,
            random_state=seed,
            reference=labels.reindex(sample),
        )
    except DataError as error:  # too few customers: the pairs stay untested
        logger.warning("distinctness left descriptive: %s", error)
        held = pd.DataFrame(columns=["segment_a", "segment_b"])
    held = held.assign(
        a=held[["segment_a", "segment_b"]].min(axis=1),
        b=held[["segment_a", "segment_b"]].max(axis=1),
    ).drop(columns=["segment_a", "segment_b"])
    held = held.drop_duplicates(subset=["a", "b"])
    table = table.merge(
        held.rename(columns={"a": "segment_a", "b": "segment_b"}),
        on=["segment_a", "segment_b"],
        how="left",
    )
    table["tested"] = table["tested"].fillna(False).astype(bool)
    table["distinct"] = table["distinct"].fillna(False).astype(bool)
    return table


#: What the resampling refits may re-estimate (``validation.refit``).
REFIT_MODES = ("auto", "model", "representation", "clustering")
_REFIT_TEXT = {
    "model": "the whole model: preprocessing, representation and clustering",
    "representation": "representation and clustering (preprocessing as fitted on all)",
    "clustering": "the clustering only, in the model's fitted representation",
}


def refit_setup(
    model, frame: pd.DataFrame, *, refit: str = "auto"
) -> tuple[Any, pd.DataFrame, str]:
    """What the resampling checks refit, and on which frame.

    ``model`` refits everything each time; ``representation`` keeps the fitted
    preprocessing (its medians and scales move little between resamples and it is
    half the cost of a fit) and refits PCA/UMAP and the clustering; ``clustering``
    also keeps the representation and clusters the model's coordinates. ``auto``
    is ``clustering`` for UMAP models (seconds per fit: numba, single-threaded with
    a seed) and ``representation`` otherwise.

    Returns
    -------
    tuple
        ``(model to clone, frame to resample, description of what is refitted)``.
    """
    if refit not in REFIT_MODES:
        raise ConfigError(
            f"validation.refit is {refit!r}; use one of {list(REFIT_MODES)}"
        )
    umap = getattr(model, "representation", None) == "umap"
    mode = ("clustering" if umap else "representation") if refit == "auto" else refit
    fitted_pre = getattr(model, "preprocessor_", None)
    if mode == "clustering":
        coords = model.transform(frame)
        plain = clone(model).set_params(preprocessor=None, representation="scaled")
        return plain, coords, _REFIT_TEXT[mode]
    if mode == "model" or fitted_pre is None:
        return model, frame, _REFIT_TEXT["model"]
    columns = list(getattr(model, "feature_names_in_", frame.columns))
    matrix = fitted_pre.transform(frame[columns])
    if not isinstance(matrix, pd.DataFrame):
        matrix = pd.DataFrame(np.asarray(matrix, dtype=float), index=frame.index)
    matrix.index = frame.index
    matrix.columns = [str(c) for c in matrix.columns]
    return clone(model).set_params(preprocessor=None), matrix, _REFIT_TEXT[mode]


def validate_segmentation(
    model,
    features: pd.DataFrame,
    labels: pd.Series,
    config: Mapping[str, Any],
    *,
    fit_frame: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
    returns: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    build: Callable[..., dict] | None = None,
    value: Mapping[str, Any] | None = None,
    structure: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every validation check and build the verdict.

    Parameters
    ----------
    model : estimator
        The chosen (fitted) segmentation model.
    features : DataFrame
        ``features.parquet``: interpretable features, used for distinctness.
    labels : Series
        ``labels.parquet`` ``segment`` column (index customer_id).
    config : mapping
        Validated run config (``validation``, ``clustering``, ``seed``).
    fit_frame : DataFrame, optional
        The frame the model is fitted on, when it is not ``features`` (e.g. the
        preprocessed matrix); used for the refits.
    transactions, returns, customers : DataFrame, optional
        Data-step artifacts for outcome validity (transactions) or an outcome
        column of the customers table (``validation.outcome`` or the first of
        ``customers.outcomes``).
    build : callable, optional
        Feature builder for ``t0`` (default ``segkit.features.step.build``).
    value : mapping, optional
        The value step's record (``value.json``) when it produced artifacts: adds
        the ``CLV tiers`` baseline (:mod:`segkit.validation.value_baseline`).
    structure : mapping, optional
        ``recommendation.json`` of the compare step: its ``structure`` opens the
        verdict (:func:`segkit.validation.wording.overall_verdict`).

    Returns
    -------
    dict
        ``stability`` (StabilityResult), ``prediction_strength``,
        ``suggested_k`` ({cutoff: k}), ``kruskal``, ``effects``, ``pairwise``,
        ``distinctness``, ``outcomes`` (dict or None), ``outcome_kind``,
        ``bimodality`` (of the refits' ARI, :func:`bimodality`),
        ``verdict``, ``verdict_text``, ``thresholds`` and ``refitted`` (what the
        resampling refits: see :func:`refit_setup`).
    """
    v, seed = config["validation"], config["seed"]
    column = None if transactions is not None else _outcome_column(config, customers)
    if transactions is not None:  # fail before the resampling on a bad horizon
        outcomes.horizon_start(
            transactions, as_of=config.get("as_of"), horizon_days=v["horizon_days"]
        )
    refit_model, frame, refitted = refit_setup(
        model,
        features if fit_frame is None else fit_frame,
        refit=v["refit"],
    )
    labels = labels.astype(int)
    # neither depends on the outcome nor on the level: a rerun with another
    # validation.horizon_days or ci_level reads them back (segkit.memo)
    stab = memo.call(
        stability.bootstrap_stability,
        refit_model,
        frame,
        labels=labels,
        n_boot=v["bootstrap"],
        sample_size=v["sample_size"],
        random_state=seed,
    )
    k_values = range(config["clustering"]["k_min"], config["clustering"]["k_max"] + 1)
    ps = memo.call(
        stability.prediction_strength,
        refit_model,
        frame,
        k_values=k_values,
        n_splits=v["ps_splits"],
        sample_size=v["sample_size"],
        random_state=seed,
    )
    kw = distinct.kruskal_table(features, labels, alpha=v["alpha"])
    effects = distinct.segment_effects(features, labels)
    pairwise = _pairs(
        distinct.pairwise_distinctness(
            features, labels, alpha=v["alpha"], min_effect=v["min_effect"]
        ),
        refit_model,
        frame,
        labels,
        sample=stability.bounded_sample(
            labels.reindex(frame.index), v["sample_size"], random_state=seed
        ),
        alpha=v["alpha"],
        seed=seed,
    )
    summary = distinct.distinctness_summary(effects, pairwise)
    names = {int(s): model.segment_name(int(s)) for s in labels.unique()}
    result_outcomes, kind, lift = None, None, None
    if transactions is not None:
        result_outcomes = outcomes.outcome_validity(
            model,
            config,
            transactions,
            returns,
            customers,
            build=build,
            use_matrix=fit_frame is not None,
            value=value,
        )
        matching = match_segments(result_outcomes["labels_t0"], labels)
        result_outcomes["matching"] = matching
        lift = _lift_by_current(result_outcomes["per_segment"], matching, "retention")
        kind = "retention"
    elif column is not None:
        result_outcomes = outcomes.outcome_rates(
            labels,
            customers,
            column,
            names=names,
            ci_level=v["ci_level"],
            n_resamples=v["ci_resamples"],
            random_state=seed,
            model=refit_model,
            frame=frame,
            n_permutations=v["permutations"],
        )
        result_outcomes["column"] = column
        lift = _lift_by_current(result_outcomes["per_segment"], None, "rate")
        kind = "rate"
    limits = thresholds(config)
    verdict = verdict_table(
        stab.segments,
        summary,
        labels.value_counts(),
        limits=limits,
        names=names,
        lift=lift,
    )
    shape = bimodality(stab.refits["ari"])
    text = overall_verdict(
        verdict,
        stab.summary(),
        None if result_outcomes is None else result_outcomes.get("baselines"),
        limits=limits,
        bimodal=shape,
        structure=structure,
    )
    logger.info("validation verdict: %s", text)
    return {
        "stability": stab,
        "prediction_strength": ps,
        "suggested_k": {c: stability.suggested_k(ps, c) for c in (0.8, 0.9)},
        "kruskal": kw,
        "effects": effects,
        "pairwise": pairwise,
        "distinctness": summary,
        "outcomes": result_outcomes,
        "outcome_kind": kind,
        "verdict": verdict,
        "verdict_text": text,
        "bimodality": shape,
        "thresholds": limits,
        "refitted": refitted,
    }

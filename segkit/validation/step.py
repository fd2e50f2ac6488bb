"""The ``validate`` step (notebook 04): stability, distinctness, outcomes, verdict.

Reads ``model.joblib``, ``features.parquet``, ``labels.parquet`` (and
``matrix.parquet`` when the model was fitted on it), plus ``transactions.parquet``,
``returns.parquet`` and ``customers.parquet`` when present. Writes:

- ``validation.json`` - everything notebook 04 and the profile step read: per-segment
  stability (Jaccard, band), global ARI and noise share, prediction strength and the
  suggested k, distinctness, outcomes and their comparison, the verdict table and
  sentence, thresholds and sample sizes;
- CSV tables ``stability.csv``, ``stability_refits.csv``, ``prediction_strength.csv``,
  ``distinctness.csv`` (per segment), ``distinctness_features.csv`` (Kruskal-Wallis
  per feature), ``segment_effects.csv`` (Cliff's delta per segment and feature),
  ``outcomes.csv``, ``outcome_comparison.csv``, ``outcome_heldout.csv`` (held-out
  R squared per outcome and labelling) and ``verdict.csv``.

``validation.json`` ``baselines`` is a list with one entry per baseline (``RFM tiers
(k)``, ``RFM named segments``, ``CLV tiers`` when the value step ran, ``shuffled
labels``): ``name``, ``groups``,
``outcome``, ``measure``, ``low``, ``high`` (held-out R squared and its interval),
``p_value``, ``difference``, ``difference_low``, ``difference_high`` (segmentation
minus baseline, paired bootstrap) and ``wording`` (better / indistinguishable /
worse), plus ``reference`` and ``by_outcome`` (see
:func:`segkit.validation.baselines.baseline_records`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from segkit import memo
from segkit.clustering.model import SegmentationModel
from segkit.context import RunContext
from segkit.validation.structure import read_recommendation
from segkit.validation.verdict import validate_segmentation

__all__ = ["run", "records"]

logger = logging.getLogger(__name__)


def records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """A frame as JSON-safe records (NaN -> null, dates as ISO strings)."""
    if frame is None:
        return None
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _fit_frame(
    ctx: RunContext, model: SegmentationModel, features: pd.DataFrame
) -> pd.DataFrame | None:
    """The matrix when the model was fitted on it rather than on the features."""
    found = getattr(model, "feature_names_in_", None)
    used = [] if found is None else [str(c) for c in found]
    if not used or set(used) <= set(map(str, features.columns)):
        return None
    return ctx.load_frame("matrix.parquet")


def _customers(ctx: RunContext) -> pd.DataFrame | None:
    if not ctx.has("customers.parquet"):
        return None
    customers = ctx.load_frame("customers.parquet")
    if "customer_id" in customers.columns:
        customers = customers.set_index("customer_id")
    customers.index = customers.index.astype("str")
    return customers


def _value_record(ctx: RunContext) -> dict[str, Any] | None:
    """``value.json`` when the value step produced artifacts (``values.parquet``).

    With ``values_t0.parquet`` (the value step's holdout fit, on the purchases
    before its ``t0``) the record also carries that frame as ``values_t0``, so the
    CLV tiers baseline and the CLV features at ``t0`` reuse it instead of refitting.
    """
    if not (ctx.has("values.parquet") and ctx.has("value.json")):
        return None
    record = dict(ctx.load_json("value.json"))
    if ctx.has("values_t0.parquet"):
        record["values_t0"] = ctx.load_frame("values_t0.parquet")
    return record


def _t0_build(value: dict[str, Any] | None) -> Callable[..., dict] | None:
    """The feature builder of the rebuild at ``t0`` for ``value.as_features``.

    :func:`segkit.features.step.build` computes the CLV columns from the lines it
    is given (those before ``t0``). When the value step's holdout started at the
    same ``t0``, its fit is that very model (same lines, method and seed; MAP is
    deterministic), so its per-customer values are reused; any other date refits.
    """
    if not value or value.get("values_t0") is None:
        return None
    holdout_t0 = (value.get("holdout") or {}).get("t0")
    at_t0 = value["values_t0"]

    def build(config, transactions, returns, customers, *, as_of):
        from segkit.features.step import build as features_build

        same = holdout_t0 is not None and pd.Timestamp(holdout_t0) == pd.Timestamp(
            as_of
        )
        return features_build(
            config,
            transactions,
            returns,
            customers,
            as_of=as_of,
            values=at_t0 if same else None,
        )

    return build


def t0_key(
    ctx: RunContext, as_of: Any, builder: str, extra: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """What a rebuild of the features as of ``as_of`` depends on, for the memo.

    The rebuild reads the data step's transactions, returns and customers before
    ``as_of`` with the feature settings, and (``value.as_features``) the value
    step's fit: the fingerprints of the features step (data checksums and its
    config, the data step's included) and of the value step that made this run's
    artifacts, read from their markers, plus the date and which builder ran, sum
    that up (:func:`segkit.memo.call_keyed`). None (compute, do not memoise) where
    a marker or its fingerprint is missing.
    """
    key: dict[str, Any] = {"builder": builder, "as_of": str(as_of)}
    for step in ("features", "value", *extra):
        marker = f"steps/{step}.json"
        found = ctx.load_json(marker).get("fingerprint") if ctx.has(marker) else None
        if not found:
            return None
        key[step] = found
    return key


def _memoised_build(
    ctx: RunContext, build: Callable[..., dict] | None
) -> Callable[..., dict]:
    """The builder of the features at ``t0``, read from the memo on a rerun.

    A new ``validation.ci_level`` changes no feature at ``t0``; the rebuild (1.2 s
    on Online Retail) is then read back. A new ``validation.horizon_days`` moves
    ``t0`` and so the key.
    """
    from segkit.validation.outcomes import default_build

    base = build or default_build
    name = "t0 values" if build is not None else "t0"

    def memoised(config, transactions, returns, customers, *, as_of):
        key = t0_key(ctx, as_of, name) if memo.folder() is not None else None
        if key is None:
            return base(config, transactions, returns, customers, as_of=as_of)
        return memo.call_keyed(
            key,
            base,
            config,
            transactions,
            returns,
            customers,
            as_of=as_of,
        )

    return memoised


def run(ctx: RunContext) -> dict[str, Any]:
    """Validate the run's chosen segmentation and write the validation artifacts."""
    start = time.perf_counter()
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    features = ctx.load_frame("features.parquet")
    labels = ctx.load_frame("labels.parquet")["segment"].astype(int)
    transactions = returns = None
    if ctx.has_transactions and ctx.has("transactions.parquet"):
        transactions = ctx.load_frame("transactions.parquet")
        if ctx.has("returns.parquet"):
            returns = ctx.load_frame("returns.parquet")
    recommendation = read_recommendation(ctx)
    value = _value_record(ctx)
    result = validate_segmentation(
        model,
        features,
        labels,
        ctx.config,
        fit_frame=_fit_frame(ctx, model, features),
        transactions=transactions,
        returns=returns,
        customers=_customers(ctx),
        build=_memoised_build(
            ctx, _t0_build(value) if ctx.config["value"]["as_features"] else None
        ),
        value=value,
        structure=recommendation,
    )
    stab = result["stability"]
    ctx.save_frame("stability.csv", stab.segments)
    ctx.save_frame("stability_refits.csv", stab.refits)
    ctx.save_frame("prediction_strength.csv", result["prediction_strength"])
    ctx.save_frame("distinctness.csv", result["distinctness"])
    ctx.save_frame("distinctness_features.csv", result["kruskal"])
    ctx.save_frame("segment_effects.csv", result["effects"])
    ctx.save_frame("verdict.csv", result["verdict"])
    found = result["outcomes"]
    outcome_info: dict[str, Any] | None = None
    if found is not None:
        ctx.save_frame("outcomes.csv", found["per_segment"])
        ctx.save_frame("outcome_comparison.csv", found["comparison"])
        outcome_info = {
            "kind": result["outcome_kind"],
            "per_segment": records(found["per_segment"]),
            "comparison": records(found["comparison"]),
            "primary": found.get("primary"),
            "heldout": records(found.get("heldout")),
            "value_baseline": found.get("value_baseline"),
        }
        if found.get("heldout") is not None:
            ctx.save_frame("outcome_heldout.csv", found["heldout"])
        if result["outcome_kind"] == "retention":
            outcome_info |= {
                "t0": found["t0"].isoformat(),
                "as_of": found["as_of"].isoformat(),
                "horizon_days": found["horizon_days"],
                "customers": found["customers"],
                "matching": records(found["matching"]),
            }
        else:
            outcome_info["column"] = found["column"]
    seconds = round(time.perf_counter() - start, 2)
    v = ctx.config["validation"]
    payload = {
        "sample_sizes": {
            "customers": int(len(labels)),
            "stability_sample": stab.sample_size,
            "bootstrap_refits": stab.n_boot,
            "prediction_strength_sample": int(
                result["prediction_strength"]["sample_size"].iloc[0]
            ),
            "prediction_strength_folds": int(
                result["prediction_strength"]["folds"].iloc[0]
            ),
            "ci_resamples": v["ci_resamples"],
            "outcome_customers": None if found is None else found.get("customers"),
            "refitted": result["refitted"],
        },
        "stability": {
            "segments": records(stab.segments),
            "global": stab.summary(),
            "bimodality": result["bimodality"],
        },
        "prediction_strength": {
            "table": records(result["prediction_strength"]),
            "suggested_k": {str(c): k for c, k in result["suggested_k"].items()},
            "model_k": int(len([s for s in labels.unique() if s != -1])),
        },
        "distinctness": {
            "descriptive": "features, effects and distinct_descriptive use the "
            "features the segments were formed on: differences are guaranteed, "
            "their p-values are no evidence; 'distinct' is the held-out gap test",
            "features": records(result["kruskal"]),
            "segments": records(result["distinctness"]),
            "pairs": records(result["pairwise"]),
        },
        "outcomes": outcome_info,
        "baselines": [] if found is None else found.get("baselines") or [],
        "structure": None
        if recommendation is None
        else {
            k: recommendation.get(k)
            for k in ("structure", "structure_reason", "fallback", "use_rfm_grid")
        },
        "verdict": {
            "table": records(result["verdict"]),
            "text": result["verdict_text"],
            "thresholds": result["thresholds"],
        },
    }
    # seconds go to the step's marker only: validation.json is then a pure
    # function of the inputs (a reused step equals a recomputed one byte for byte)
    ctx.save_json("validation.json", payload)
    logger.info(
        "validate: %d refits on %d customers, %.1f s",
        stab.n_boot,
        stab.sample_size,
        seconds,
    )
    return {
        "verdict": result["verdict_text"],
        "ari_mean": round(stab.summary()["ari_mean"], 3),
        "stability_sample": stab.sample_size,
        "bootstrap_refits": stab.n_boot,
        "seconds": seconds,
    }

"""The ``compare`` step (notebook 03): compare candidates, recommend, fit the model.

Reads ``matrix.parquet``, ``features.parquet``, ``preprocessor.joblib`` and (when
present) ``rfm.parquet``. Writes:

- ``comparison.csv`` - one row per candidate: metrics, score, eligibility, rank;
- ``comparison_sizes.csv`` - segment shares per candidate (long form);
- ``recommendation.json`` - winner, runner-up, chosen, ``structure`` ("clear",
  "weak" or "none"), ``fallback`` (True when there is no structure: the model
  written is then only a stand-in, and the RFM grid is the recommendation),
  ``k_profile`` (each k's best finalist, its stability and why it won or lost),
  ``near_misses``, ``bimodal``, rule text, reasons, paragraph, constraints and the
  sample sizes (see :func:`segkit.clustering.recommend.recommend`);
- ``finalists.csv`` - the refits of the finalists (prediction strength, Jaccard);
- ``null_reference.csv`` - what k-means finds in structureless data of the same
  spread, per k;
- ``model.joblib`` - the chosen :class:`~segkit.clustering.model.SegmentationModel`, fitted on
  the features (on a stratified sample above ``clustering.fit_sample`` customers,
  predicting the rest), with ``config_`` and ``as_of_`` set;
- ``labels.parquet`` - index ``customer_id``, column ``segment`` (int, -1 noise);
- ``embedding.parquet`` - 2-D map (``x``, ``y``) of at most ``clustering.map_sample``
  customers, computed once per run and reused by later notebooks.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import joblib
import pandas as pd

from segkit.clustering.compare import compare_candidates
from segkit.clustering.recommend import select
from segkit.clustering.reduce import map_embedding
from segkit.clustering.selection import candidate_model
from segkit.context import RunContext
from segkit.exceptions import ConfigError

__all__ = ["run", "map_method"]

logger = logging.getLogger(__name__)


def map_method(clustering: dict[str, Any]) -> str:
    """``clustering.map_method`` resolved: "auto" is UMAP when UMAP is in the grid."""
    method = clustering["map_method"]
    if method == "auto":
        return "umap" if "umap" in clustering["representations"] else "pca"
    if method not in ("umap", "pca"):
        raise ConfigError(
            f"clustering.map_method is {method!r}; use 'auto', 'umap' or 'pca'"
        )
    return method


def _as_of(ctx: RunContext) -> dt.date | None:
    as_of = ctx.config["as_of"]
    if as_of is None:
        try:
            from segkit.features.step import resolve_as_of

            as_of = resolve_as_of(ctx)
        except Exception:
            as_of = None
    return as_of


def _refuse_value_features(ctx: RunContext) -> None:
    """``value.as_features`` is not served yet: say so instead of ignoring it.

    CLV and probability alive could be appended to ``matrix.parquet`` here, but the
    validation step rebuilds the features at ``t0`` (``segkit.features.step.build``)
    to test the segments on the next horizon, and that rebuild would need the CLV
    estimated at ``t0`` too; today's CLV would leak the horizon. The join belongs
    in the features step.
    """
    if ctx.config["value"]["as_features"]:
        raise ConfigError(
            "value.as_features is true, but CLV features are not available to the "
            "clustering yet: the validation rebuilds the features as of t0 and has "
            "no CLV known at t0 to rebuild them with; set value.as_features: false "
            "(CLV still appears per segment in 05 and as the CLV tiers baseline)"
        )


def run(ctx: RunContext) -> dict[str, Any]:
    """Compare the grid, write the leaderboard and fit the chosen model."""
    _refuse_value_features(ctx)
    clustering = ctx.config["clustering"]
    seed = ctx.seed
    matrix = ctx.load_frame("matrix.parquet")
    matrix.index = matrix.index.astype("str")
    rfm = ctx.load_frame("rfm.parquet") if ctx.has("rfm.parquet") else None
    if rfm is not None:
        rfm.index = rfm.index.astype("str")
    start = time.perf_counter()
    comparison = compare_candidates(matrix, clustering=clustering, seed=seed, rfm=rfm)
    compare_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scored, rec, extras = select(comparison.table, matrix, clustering, seed=seed)
    select_seconds = time.perf_counter() - start
    rec["samples"] = comparison.samples
    ctx.save_frame("comparison.csv", scored)
    ctx.save_frame("comparison_sizes.csv", comparison.segment_sizes)
    ctx.save_frame("finalists.csv", extras["assessment"])
    if extras["null"] is not None:
        ctx.save_frame("null_reference.csv", extras["null"])

    preprocessor = None
    if ctx.has("preprocessor.joblib") and ctx.has("features.parquet"):
        preprocessor = joblib.load(ctx.artifact("preprocessor.joblib"))
        data = ctx.load_frame("features.parquet")
        data.index = data.index.astype("str")
    else:
        data = matrix
    model = candidate_model(
        rec["chosen"], clustering, seed=seed, preprocessor=preprocessor
    )
    start = time.perf_counter()
    model.fit(data)
    model_seconds = time.perf_counter() - start
    model.config_ = ctx.config
    model.as_of_ = _as_of(ctx)
    model.save(ctx.artifact("model.joblib"))
    labels = model.labels_.to_frame("segment")
    labels.index.name = "customer_id"
    ctx.save_frame("labels.parquet", labels)

    start = time.perf_counter()
    method = map_method(clustering)
    embedding = map_embedding(
        matrix,
        method=method,
        sample=clustering["map_sample"],
        neighbors=clustering["umap_neighbors"],
        seed=seed,
    )
    ctx.save_frame("embedding.parquet", embedding)
    map_seconds = time.perf_counter() - start
    rec["model"] = {
        "candidate": rec["chosen"],
        "fit_customers": int(model.fit_sample_size_),
        "customers": int(len(labels)),
        "segments": [int(s) for s in model.segment_ids_],
        "seconds": round(model_seconds, 2),
    }
    rec["map"] = {"method": method, "customers": int(len(embedding))}
    rec["seconds"] = {
        "comparison": round(compare_seconds, 2),
        "selection": round(select_seconds, 2),
        "model": round(model_seconds, 2),
        "map": round(map_seconds, 2),
    }
    ctx.save_json("recommendation.json", rec)
    summary = {
        "candidates": int(len(scored)),
        "winner": rec["winner"],
        "chosen": rec["chosen"],
        "structure": rec["structure"],
        "fallback": rec["fallback"],
        "segments": int(pd.Series(model.segment_ids_).ge(0).sum()),
        "samples": comparison.samples,
    }
    logger.info(
        "compare: %d candidates in %.0f s; chosen %s",
        len(scored),
        compare_seconds,
        rec["chosen"],
    )
    return summary

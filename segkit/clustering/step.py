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
  the features (on a stratified sample above ``clustering.fit_sample`` customers),
  with ``config_`` and ``as_of_`` set; its ``labels_`` hold the sample only when
  the engine assigns the rest into ``labels.parquet``;
- ``labels.parquet`` - index ``customer_id``, column ``segment`` (int, -1 noise);
- ``embedding.parquet`` - 2-D map (``x``, ``y``) of at most ``clustering.map_sample``
  customers, computed once per run and reused by later notebooks.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from segkit.clustering.algorithms import CLV_TIERS, candidate_id
from segkit.clustering.assign import assign_all
from segkit.clustering.compare import compare_candidates
from segkit.clustering.recommend import select
from segkit.clustering.reduce import map_embedding
from segkit.clustering.selection import candidate_model
from segkit.clustering.tier_model import ClvTierModel, is_tier_choice
from segkit.context import RunContext
from segkit.data.engine import connect_engine, engine_kind
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


def _check_value_features(ctx: RunContext, features: pd.DataFrame, name: str) -> None:
    """``value.as_features``: the features must hold the CLV columns.

    The features step adds them (:mod:`segkit.features.value_features`, estimated
    at ``as_of``; the validation rebuild at ``t0`` estimates them before ``t0``),
    so nothing is joined here; a features table written without them (a run
    folder from before the switch) is refused rather than silently clustered
    without value.
    """
    if not ctx.config["value"]["as_features"]:
        return
    from segkit.features.value_features import VALUE_FEATURES

    missing = [c for c in VALUE_FEATURES if c not in features.columns]
    if missing:
        raise ConfigError(
            f"value.as_features is true, but {name} has no {missing} "
            f"(columns: {list(features.columns)[:12]}...); rerun the features step "
            "with this config (a new run folder) or set value.as_features: false"
        )


def _choose_tiers(rec: dict[str, Any], shares: list[float]) -> dict[str, Any]:
    """The recommendation with the analyst's ``clustering.choice: clv_tiers``.

    ``winner``, ``structure`` and the rest stay the rule's (for comparison);
    ``chosen`` is ``clv_tiers/scaled``, ``overridden`` is true, and
    ``chosen_row`` holds no grid metrics (the tiers were not compared).
    """
    chosen = candidate_id(CLV_TIERS, "scaled", None)
    split = "/".join(f"{share:.0%}" for share in shares)
    reason = (
        f"The analyst chose {chosen} (clustering.choice): CLV tiers of "
        f"{split} of the customers, top value first, a rule rather than a "
        f"clustering, over the rule's {rec['winner']}."
    )
    return {
        **rec,
        "chosen": chosen,
        "overridden": True,
        "tiers": list(shares),
        "reasons": [*rec["reasons"], reason],
        "paragraph": f"{rec['paragraph']} {reason}",
        "chosen_row": {"candidate": chosen, "algorithm": CLV_TIERS},
    }


#: Measured seconds: kept out of comparison.csv (which is then a pure function of
#: the inputs, so a reused step equals a recomputed one byte for byte) and written
#: to ``timings/comparison.csv`` with the step's phases in ``timings/compare.json``.
TIMING_COLUMNS = ["fit_seconds", "reduce_seconds"]


def _save_timings(ctx: RunContext, table: pd.DataFrame, seconds: dict) -> None:
    folder = ctx.artifacts / "timings"
    folder.mkdir(exist_ok=True)
    table[["candidate", *TIMING_COLUMNS]].to_csv(folder / "comparison.csv", index=False)
    ctx.save_json("timings/compare.json", seconds)


def _engine_assigns(ctx: RunContext) -> bool:
    """Whether the customers outside the fit sample are assigned on the engine."""
    return engine_kind(ctx.config) != "pandas" and ctx.has("features.parquet")


def _labels(ctx: RunContext, model: Any, data: pd.DataFrame) -> pd.DataFrame:
    """Every customer's segment; beyond the fit sample, assigned on the engine.

    The model is fitted on a stratified sample of at most ``clustering.fit_sample``
    customers. With more customers than that and ``engine`` DuckDB or Spark, the
    model is fitted with ``assign_rest=False`` and the customers outside the sample
    are assigned where the features are
    (:func:`segkit.clustering.assign.assign_all`: Arrow batches on DuckDB,
    ``mapInPandas`` on Spark); the sample keeps the labels of the fit itself (Ward
    and HDBSCAN label their own rows by the tree). The result equals the labels
    of ``model.fit(data)`` (the test suite checks it).
    """
    fitted = getattr(model, "fit_index_", None)
    if fitted is None or not _engine_assigns(ctx):
        labels = model.labels_.to_frame("segment")
        labels.index.name = "customer_id"
        return labels
    kind = engine_kind(ctx.config)
    con = connect_engine(ctx.config) if kind == "spark" else "duckdb"
    with tempfile.TemporaryDirectory(prefix="segkit-assign-") as folder:
        path = Path(folder) / "assignments.parquet"
        assign_all(model, ctx.artifact("features.parquet"), path, backend=con)
        assigned = pd.read_parquet(path)
    segment = assigned.set_index("customer_id")["segment_id"].rename("segment")
    segment = segment.reindex(data.index)
    segment.loc[fitted] = model.labels_.loc[fitted]
    labels = segment.astype("int64").to_frame()
    labels.index.name = "customer_id"
    return labels


def run(ctx: RunContext) -> dict[str, Any]:
    """Compare the grid, write the leaderboard and fit the chosen model."""
    name = "features.parquet" if ctx.has("features.parquet") else "matrix.parquet"
    _check_value_features(ctx, ctx.load_frame(name), name)
    clustering = ctx.config["clustering"]
    tiers = is_tier_choice(clustering["choice"])
    if tiers:  # refuse before the comparison's minutes are spent
        ClvTierModel.from_settings(clustering, ctx.config["value"], seed=ctx.seed)
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
    # CLV tiers are not in the grid: the rule still recommends from the grid, and
    # the analyst's choice of tiers is recorded over it (_choose_tiers).
    grid = clustering.model_copy(update={"choice": None}) if tiers else clustering
    scored, rec, extras = select(comparison.table, matrix, grid, seed=seed)
    if tiers:
        rec = _choose_tiers(rec, ctx.config["value"]["tiers"])
    select_seconds = time.perf_counter() - start
    rec["samples"] = comparison.samples
    ctx.save_frame("comparison.csv", scored.drop(columns=TIMING_COLUMNS))
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
    if tiers:
        model = ClvTierModel.from_settings(
            clustering, ctx.config["value"], seed=seed, preprocessor=preprocessor
        )
    else:
        model = candidate_model(
            rec["chosen"], clustering, seed=seed, preprocessor=preprocessor
        )
    start = time.perf_counter()
    if tiers:
        model.fit(data)
    else:  # the engine assigns the customers outside the sample (_labels)
        model.fit(data, assign_rest=not _engine_assigns(ctx))
    if tiers:  # shown until the profile step names the segments by their claims
        model.names = dict(model.tier_names_)
    model_seconds = time.perf_counter() - start
    model.config_ = ctx.config
    model.as_of_ = _as_of(ctx)
    model.save(ctx.artifact("model.joblib"))
    labels = _labels(ctx, model, data)
    ctx.save_frame("labels.parquet", labels)
    segments = sorted(int(s) for s in labels["segment"].unique())

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
        "segments": segments,
    }
    rec["map"] = {"method": method, "customers": int(len(embedding))}
    for key in TIMING_COLUMNS:  # measured seconds: timings/ only
        rec.get("chosen_row", {}).pop(key, None)
    ctx.save_json("recommendation.json", rec)
    seconds = {
        "comparison": round(compare_seconds, 2),
        "selection": round(select_seconds, 2),
        "model": round(model_seconds, 2),
        "map": round(map_seconds, 2),
    }
    _save_timings(ctx, comparison.table, seconds)
    summary = {
        "candidates": int(len(scored)),
        "winner": rec["winner"],
        "chosen": rec["chosen"],
        "structure": rec["structure"],
        "fallback": rec["fallback"],
        "segments": int(sum(s >= 0 for s in segments)),
        "samples": comparison.samples,
        "seconds": seconds,
    }
    logger.info(
        "compare: %d candidates in %.0f s; chosen %s",
        len(scored),
        compare_seconds,
        rec["chosen"],
    )
    return summary

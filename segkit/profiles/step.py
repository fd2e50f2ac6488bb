"""The ``profile`` step (notebook 05): profiles, names, personas, rules, export, evolution.

Reads ``features.parquet``, ``labels.parquet``, ``model.joblib`` and, when present,
``validation.json``, ``pii.json``, ``transactions.parquet`` / ``returns.parquet`` /
``customers.parquet`` (for the within-run comparison) and ``values.parquet`` (customer
value, when the value step produced it). Writes to ``artifacts/``:

=================  ===========================================================
file               content
=================  ===========================================================
profiles.csv       :func:`segkit.profiles.profile.segment_profiles` with final names
                   and ``revenue_share_low`` / ``_high`` (joint bootstrap,
                   :func:`segkit.intervals.share_intervals`); with
                   ``values.parquet`` also ``clv_mean``, ``clv_total``,
                   ``p_alive_mean``, ``revenue_at_risk``, ``at_risk_customers``
indices.csv        index ``segment``; one column per numeric feature (100 = avg)
top_indices.csv    :func:`segkit.profiles.profile.top_indices`
snake.csv          :func:`segkit.profiles.profile.snake_frame`
personas.json      list of persona cards (:func:`segkit.profiles.profile.persona_cards`)
rules.json         :meth:`segkit.profiles.rules.SurrogateRules.to_dict`
name_matches.csv   how each name was chosen (:func:`segkit.profiles.naming.resolve_names`)
name_claims.csv    :data:`segkit.profiles.claims.CLAIM_COLUMNS` + ``auto_name``: per
                   segment the claims its automatic name makes (``in_name``) and
                   every behaviour claim, with coverage, Wilson interval, holds
lifecycle_mix.csv  ``segment, name, customers, recent_customers, recent_share,
                   share_new, share_active, share_at_risk, share_lapsed``
assignments.csv    :data:`segkit.profiles.export.ASSIGNMENT_COLUMNS`, one row per customer
segments.json      see :data:`SEGMENT_KEYS` below
segments.yaml      names template (:mod:`segkit.profiles.naming` documents the format)
migration.csv      ``comparison, previous, current, customers, share`` (long form)
evolution.json     ``{"previous_run": ..., "within_run": ..., "notes": [...]}``
model.joblib       re-saved with ``model.names`` set
=================  ===========================================================

``segments.json`` is ``{"format", "config_name", "run_id", "as_of", "customers",
"fidelity", "tree_depth", "segments": [...]}``; each segment has the keys of
:data:`SEGMENT_KEYS`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from segkit import memo
from segkit.context import RunContext
from segkit.exceptions import DataError, SegkitError
from segkit.features.lifecycle import settings_of as lifecycle_settings
from segkit.intervals import share_intervals
from segkit.privacy import pseudonym_salt, pseudonymise
from segkit.profiles import claims, naming, profile, value
from segkit.profiles.export import assignments_frame

__all__ = [
    "run",
    "segment_names",
    "SEGMENT_KEYS",
    "SEGMENTS_FORMAT",
    "within_run_labels",
]

logger = logging.getLogger(__name__)

SEGMENTS_FORMAT = 1

#: Keys of each entry of ``segments.json["segments"]``:
#: id, name, auto_name (segkit's name), size, share (of customers), revenue_share
#: (of the monetary total; null without one), profile (median_<feature> values),
#: over_indexed / under_indexed (``{feature, index}`` lists), traits, plays
#: (``{play, why}``), rule_text, rule_sql (SQL WHERE clause), fidelity (share of the
#: segment the rule finds), precision, stability (``{jaccard, band}`` or null),
#: value (``{clv_mean, clv_total, p_alive_mean, revenue_at_risk,
#: at_risk_customers}``, :mod:`segkit.profiles.value`; null without values.parquet).
SEGMENT_KEYS = [
    "id",
    "name",
    "auto_name",
    "size",
    "share",
    "revenue_share",
    "profile",
    "over_indexed",
    "under_indexed",
    "traits",
    "plays",
    "rule_text",
    "rule_sql",
    "fidelity",
    "precision",
    "stability",
    "value",
]


def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
    if "customer_id" in frame.columns:
        frame = frame.set_index("customer_id")
    frame.index = frame.index.astype("str")
    frame.index.name = "customer_id"
    return frame


def _drop_pii(features: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
    if not ctx.has("pii.json"):
        return features
    flagged = {str(k).split(".", 1)[-1] for k in (ctx.load_json("pii.json") or {})}
    drop = [c for c in features.columns if c in flagged]
    if drop:
        logger.info("profile: leaving out personal-data columns %s", drop)
    return features.drop(columns=drop)


def _as_of(ctx: RunContext, model: Any) -> dt.date | None:
    as_of = getattr(model, "as_of_", None) or ctx.config.get("as_of")
    if as_of is None:
        from segkit.features.step import resolve_as_of

        as_of = resolve_as_of(ctx)
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    return as_of


def within_run_labels(
    ctx: RunContext, model: Any, as_of: dt.date
) -> tuple[pd.Series, dt.date]:
    """Segments as of ``as_of - validation.horizon_days`` with the fitted model.

    Features are rebuilt (:func:`segkit.features.step.build`) from the transactions
    and returns dated before that day.

    Returns
    -------
    labels : Series
        Segment id per customer active before ``t0``.
    t0 : date
    """
    from segkit.features.step import build

    t0 = as_of - dt.timedelta(days=ctx.config["validation"]["horizon_days"])
    if not ctx.has("transactions.parquet"):
        raise DataError(
            "no transactions.parquet in the run: the within-run comparison needs "
            "transactions (attribute-only data has no earlier state)"
        )
    tx = pd.read_parquet(ctx.artifact("transactions.parquet"))
    tx = tx[tx["timestamp"] < pd.Timestamp(t0)]
    if tx["customer_id"].nunique() < 10:
        raise DataError(
            f"fewer than 10 customers bought before {t0} (as_of - "
            f"validation.horizon_days); shorten the horizon to compare within the run"
        )
    returns = None
    if ctx.has("returns.parquet"):
        returns = pd.read_parquet(ctx.artifact("returns.parquet"))
        returns = returns[returns["timestamp"] < pd.Timestamp(t0)]
    customers = None
    if ctx.has("customers.parquet"):
        customers = _indexed(ctx.load_frame("customers.parquet"))
    built = build(ctx.config, tx, returns, customers, as_of=t0)
    labels = model.predict(_indexed(built["features"]))
    return labels.astype("int64"), t0


def _within_run_labels(
    ctx: RunContext, model: Any, as_of: dt.date
) -> tuple[pd.Series, dt.date]:
    """:func:`within_run_labels`, read from the memo when its inputs are unchanged.

    The rebuild at ``t0`` and its prediction (1.4 s of the step's 2.7 s on Online
    Retail) depend on the data and feature settings, the value settings, the
    model and ``t0``: the fingerprints of the features, value and compare steps
    and the date (:func:`segkit.validation.step.t0_key`). So a warm run or a
    ``ci_level`` rerun reads them back; a new horizon moves ``t0``.
    """
    from segkit.validation.step import t0_key

    t0 = as_of - dt.timedelta(days=ctx.config["validation"]["horizon_days"])
    key = None
    if memo.folder() is not None:
        key = t0_key(ctx, t0, "within run", extra=("compare",))
    if key is None:
        return within_run_labels(ctx, model, as_of)
    return memo.call_keyed(key, within_run_labels, ctx, model, as_of)


def _previous_run(ctx: RunContext) -> Path | None:
    from segkit.profiles import evolution

    given = ctx.config["profiles"]["compare_to"]
    if not given:
        return evolution.find_previous_run(ctx.run_dir, ctx.config["name"])
    path = Path(str(given)).expanduser()
    if not path.is_absolute() and not path.exists():
        path = Path(ctx.config["root"]) / path
    if not (path / "artifacts" / "assignments.csv").exists():
        raise DataError(
            f"profiles.compare_to is {str(given)!r} but {str(path)!r} has no "
            "artifacts/assignments.csv; name a finished run folder, e.g. "
            "reports/2026-11-23, or remove the key to find the previous run"
        )
    return path


def _evolution(ctx, model, labels, names, as_of) -> tuple[dict, pd.DataFrame]:
    from segkit.profiles import evolution

    out: dict[str, Any] = {"previous_run": None, "within_run": None, "notes": []}
    frames = []
    previous = _previous_run(ctx)
    if previous is None:
        out["notes"].append("no earlier run of this config with assignments was found")
    else:
        prev = evolution.read_assignments(previous / "artifacts" / "assignments.csv")
        current = labels
        if (previous / "artifacts" / "privacy.json").exists():
            # The earlier run folder holds keyed pseudonyms (segkit.runner.exports):
            # compare under the same key and salt, never by re-identifying.
            current = labels.copy()
            current.index = pd.Index(
                pseudonymise(
                    labels.index.to_series().astype(str),
                    salt=pseudonym_salt(ctx.config),
                ).to_numpy(),
                name=labels.index.name,
            )
        evo = evolution.compare_assignments(
            prev, current, names=names, kind="previous run"
        )
        out["previous_run"] = {
            "run": str(previous),
            "run_id": previous.name,
            **evo.summary(),
        }
        frames.append(evo.long_matrix())
    if as_of is None:
        out["notes"].append("no as_of: the within-run comparison was skipped")
    else:
        try:
            before, t0 = _within_run_labels(ctx, model, as_of)
        except SegkitError as exc:
            out["notes"].append(f"within-run comparison skipped: {exc}")
        else:
            evo = evolution.compare_assignments(
                before, labels, names=names, match=False, kind="within run"
            )
            out["within_run"] = {
                "t0": t0.isoformat(),
                "as_of": as_of.isoformat(),
                **evo.summary(),
            }
            frames.append(evo.long_matrix())
    columns = ["comparison", "previous", "current", "customers", "share"]
    migration = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=columns)
    )
    return out, migration[columns]


def _segments_json(ctx, profiles, top, cards, surrogate, auto, stability, as_of):
    rules_by = surrogate.rules.set_index("segment")
    medians = [c for c in profiles.columns if c.startswith("median_")]
    cards_by = {c["segment"]: c for c in cards}
    segments = []
    for row in profiles.itertuples(index=False):
        s = int(row.segment)
        mine = top[top["segment"] == s]
        rule = rules_by.loc[s] if s in rules_by.index else None
        segments.append(
            {
                "id": s,
                "name": row.name,
                "auto_name": auto.get(s, row.name),
                "size": int(row.size),
                "share": float(row.share),
                "revenue_share": _number(row.revenue_share),
                "profile": {m: _number(getattr(row, m)) for m in medians},
                "over_indexed": _top(mine, "over"),
                "under_indexed": _top(mine, "under"),
                "traits": cards_by[s]["traits"],
                "plays": cards_by[s]["plays"],
                "rule_text": None if rule is None else rule["text"],
                "rule_sql": None if rule is None else rule["sql"],
                "fidelity": None if rule is None else float(rule["fidelity"]),
                "precision": None if rule is None else _number(rule["precision"]),
                "stability": stability.get(s),
                "value": value.value_entry(row),
            }
        )
    return {
        "format": SEGMENTS_FORMAT,
        "config_name": ctx.config["name"],
        "run_id": ctx.run_dir.name,
        "as_of": None if as_of is None else str(as_of),
        "customers": int(profiles["size"].sum()),
        "fidelity": surrogate.fidelity,
        "tree_depth": surrogate.max_depth,
        "segments": segments,
    }


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _top(frame: pd.DataFrame, direction: str) -> list[dict[str, Any]]:
    part = frame[frame["direction"] == direction]
    return [
        {"feature": f, "index": float(i)}
        for f, i in zip(part["feature"], part["index"], strict=True)
    ]


def _resolve(ctx: RunContext, features: pd.DataFrame, labels: pd.Series) -> dict:
    """Profiles, automatic names and the final names (names file applied)."""
    settings = ctx.config["profiles"]
    values = value.read_values(ctx)
    profiles = profile.segment_profiles(
        features, labels, key_features=settings["key_features"]
    )
    profiles = value.with_value(profiles, values, labels)
    indices = profile.segment_indices(features, labels)
    auto, claim_table = claims.claim_names(
        features,
        labels,
        settings=lifecycle_settings(ctx.config),
        coverage=settings["claim_coverage"],
        recent_days=settings["recent_days"],
        values=values,
    )
    centroids = naming.segment_centroids(features, labels)
    scale = profile.numeric_features(features).std(ddof=0)
    path = naming.names_file_path(ctx.config)
    document = (
        naming.read_names_file(path) if path is not None and path.exists() else None
    )
    names, matches = naming.resolve_names(
        auto,
        centroids,
        scale,
        document,
        max_distance=settings["match_max_distance"],
        config_name=ctx.config["name"],
        claims=claim_table,
    )
    # an analyst's name is claim-checked like an automatic one: name_claims.csv
    # shows the claims of the final names (and a failing one is flagged in 05)
    claim_table = claims.mark_name_claims(claim_table, matches)
    return {
        "profiles": profiles,
        "indices": indices,
        "auto": auto,
        "claims": claim_table,
        "centroids": centroids,
        "names": names,
        "matches": matches,
        "path": path,
        "document": document,
    }


def _revenue_intervals(profiles, features, labels, ctx) -> pd.DataFrame:
    """``revenue_share_low`` / ``_high``: joint bootstrap over all customers."""
    out = profiles.copy()
    if "monetary" not in features.columns:
        out["revenue_share_low"] = out["revenue_share_high"] = float("nan")
        return out
    common = features.index.intersection(labels.index)
    table = share_intervals(
        labels.loc[common].to_numpy(),
        features.loc[common, "monetary"].astype("float64").to_numpy(),
        level=ctx.config["validation"]["ci_level"],
        n_resamples=ctx.config["validation"]["ci_resamples"],
        random_state=ctx.seed,
    )
    out["revenue_share_low"] = out["segment"].map(table["low"])
    out["revenue_share_high"] = out["segment"].map(table["high"])
    return out


def _claims_artifact(table: pd.DataFrame, names: dict, auto: dict) -> pd.DataFrame:
    """``name_claims.csv``: behaviour claims and every claim a name makes."""
    keep = table["in_name"] | (table["kind"] == "behaviour")
    out = table.loc[keep].copy()
    out["name"] = out["segment"].map(lambda s: names.get(int(s), auto.get(int(s))))
    out["auto_name"] = out["segment"].map(auto)
    out = out.sort_values(
        ["segment", "in_name", "coverage"], ascending=[True, False, False]
    )
    return out[[*claims.CLAIM_COLUMNS, "base", "auto_name"]].reset_index(drop=True)


def segment_names(ctx: RunContext) -> dict[int, str]:
    """The names the profile step will give this run's segments.

    Earlier notebooks (validation) use it so that every report calls a segment by
    the same name: the automatic name, or the analyst's from the names file.
    """
    features = _drop_pii(_indexed(ctx.load_frame("features.parquet")), ctx)
    labels = _indexed(ctx.load_frame("labels.parquet"))["segment"].astype("int64")
    return _resolve(ctx, features, labels)["names"]


def run(ctx: RunContext) -> dict[str, Any]:
    """Profile, name, explain and export the segments of a run; compare with before."""
    # with scikit-learn, imported when the step runs: notebook 04 imports this
    # module for segment_names only
    from segkit.clustering.model import SegmentationModel
    from segkit.profiles import rules

    settings = ctx.config["profiles"]
    features = _drop_pii(_indexed(ctx.load_frame("features.parquet")), ctx)
    labels = _indexed(ctx.load_frame("labels.parquet"))["segment"].astype("int64")
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    as_of = _as_of(ctx, model)

    named = _resolve(ctx, features, labels)
    profiles, indices, auto = named["profiles"], named["indices"], named["auto"]
    centroids, names, matches = named["centroids"], named["names"], named["matches"]
    path, document = named["path"], named["document"]
    profiles["name"] = [
        names.get(int(s), profile.segment_label(s)) for s in profiles["segment"]
    ]
    profiles = _revenue_intervals(profiles, features, labels, ctx)
    claim_table = _claims_artifact(named["claims"], names, auto)
    facts = claims.segment_facts(
        features,
        labels,
        settings=lifecycle_settings(ctx.config),
        recent_days=settings["recent_days"],
    )

    validation = (
        ctx.load_json("validation.json") if ctx.has("validation.json") else None
    )
    stability = profile.read_stability(validation)
    top = profile.top_indices(indices)
    cards = profile.persona_cards(
        profiles,
        indices,
        stability=stability,
        top=top,
        claims=named["claims"],
        facts=facts,
        recent_days=settings["recent_days"],
    )
    surrogate = rules.surrogate_rules(
        features,
        labels,
        max_depth=settings["tree_depth"],
        min_leaf_share=settings["min_leaf_share"],
        random_state=ctx.seed,
        names=names,
    )

    ctx.save_frame("profiles.csv", profiles)
    ctx.save_frame("indices.csv", indices)
    ctx.save_frame("top_indices.csv", top)
    ctx.save_frame("snake.csv", profile.snake_frame(features, labels))
    if ctx.has("attributes_describe.parquet"):  # a customers table below min_coverage
        described = _indexed(ctx.load_frame("attributes_describe.parquet"))
        ctx.save_frame(
            "attributes_describe.csv", profile.describe_attributes(described, labels)
        )
    ctx.save_frame("name_matches.csv", matches)
    ctx.save_frame("name_claims.csv", claim_table)
    if not facts.empty:
        mix = facts.reset_index()
        mix.insert(1, "name", [profile.segment_label(s, names) for s in mix["segment"]])
        ctx.save_frame("lifecycle_mix.csv", mix)
    ctx.save_json("personas.json", cards)
    ctx.save_json("rules.json", surrogate.to_dict())
    assignments = assignments_frame(
        labels, names=names, run_id=ctx.run_dir.name, as_of=as_of
    )
    assignments.to_csv(ctx.artifact("assignments.csv"), index=False)
    ctx.save_json(
        "segments.json",
        _segments_json(ctx, profiles, top, cards, surrogate, auto, stability, as_of),
    )
    names_doc = naming.names_document(
        names,
        auto,
        centroids,
        labels.value_counts(),
        config_name=ctx.config["name"],
        run_id=ctx.run_dir.name,
        as_of=as_of,
    )
    naming.write_names_file(ctx.artifact("segments.yaml"), names_doc)
    model.names = names
    model.save(ctx.artifact("model.joblib"))

    evo, migration = _evolution(ctx, model, labels, names, as_of)
    ctx.save_frame("migration.csv", migration)
    ctx.save_json("evolution.json", evo)
    summary = {
        "segments": len(profiles),
        "names": {str(k): v for k, v in names.items()},
        "names_file": None if document is None else str(path),
        "name_warnings": [
            w
            for w in matches.get("warning", pd.Series(dtype=str))
            if isinstance(w, str) and w
        ],
        "fidelity": round(surrogate.fidelity, 3),
        "previous_run": None
        if evo["previous_run"] is None
        else evo["previous_run"]["run_id"],
        "within_run_ari": None
        if evo["within_run"] is None
        else evo["within_run"]["ari"],
    }
    logger.info("profile: %s", summary)
    return summary

"""Pick one candidate from the comparison table by a documented rule.

The rule, in the words the notebook prints:

1. **Constraints.** A candidate is eligible when it has 2 to
   ``clustering.max_segments`` segments, its smallest segment holds at least
   ``clustering.min_segment_share`` of the customers and its largest at most
   ``clustering.max_segment_share`` (on Online Retail the best raw silhouette,
   0.84, belongs to a split of 3 % big spenders from 97 % of everyone else: true,
   but not a segmentation anyone can act on), its stability (mean ARI of
   reseeded refits) is at least ``clustering.min_stability`` and its noise share is
   at most ``clustering.max_noise_share``. The RFM rules are a reference baseline,
   never the winner.
2. **Score.** ``quality - segment_penalty x (n_segments - 2)``. For partitioning
   methods quality is the mean of three indices computed in the common space, each
   rescaled so that the best candidate of the comparison scores 1: silhouette,
   Calinski-Harabasz and the inverse of Davies-Bouldin. One index alone misleads:
   silhouette and Davies-Bouldin both prefer 2 segments whenever segments come in
   pairs (measured on planted data: 4 planted segments, silhouette 0.69 at k=2
   vs 0.67 at k=4), Calinski-Harabasz peaks at the planted k there. For HDBSCAN
   quality is its DBCV validity (density clusters are not judged by silhouette).
   Each extra segment costs ``clustering.segment_penalty``: a finer split must
   earn its keep.
3. **Winner.** The highest score; ties (scores within :data:`TIE_TOLERANCE` =
   0.005 of the best) go to fewer segments, then to the more stable candidate. The runner-up is the best eligible candidate with a different
   number of segments.
4. **Override.** ``clustering.choice`` (e.g. ``kmeans/scaled/5``) replaces the
   winner; the recommendation still reports what the rule picked.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.compare import candidate_id, parse_candidate
from segkit.exceptions import ConfigError, DataError

__all__ = ["TIE_TOLERANCE", "recommend", "rule_text", "score_table", "leaderboard"]

logger = logging.getLogger(__name__)

#: Scores closer than this count as a tie (then fewer segments, then stability win).
TIE_TOLERANCE = 0.005


def _limits(clustering: dict[str, Any]) -> dict[str, float]:
    return {
        "max_segments": int(clustering["max_segments"]),
        "min_segment_share": float(clustering["min_segment_share"]),
        "max_segment_share": float(clustering.get("max_segment_share", 0.8)),
        "min_stability": float(clustering["min_stability"]),
        "max_noise_share": float(clustering.get("max_noise_share", 0.25)),
        "segment_penalty": float(clustering.get("segment_penalty", 0.01)),
    }


def rule_text(clustering: dict[str, Any]) -> str:
    """The recommendation rule in plain words, with this config's numbers."""
    lim = _limits(clustering)
    return (
        f"Eligible: 2 to {lim['max_segments']} segments, every segment at least "
        f"{lim['min_segment_share']:.0%} and none more than "
        f"{lim['max_segment_share']:.0%} of customers (splitting off a small "
        "fringe is not a segmentation), stability (agreement of "
        f"reseeded refits, ARI) at least {lim['min_stability']:.2f}, and at most "
        f"{lim['max_noise_share']:.0%} of customers left unassigned. "
        "Score = quality minus "
        f"{lim['segment_penalty']:.3f} per segment beyond two. For partitioning "
        "methods quality is the average of three separation indices (silhouette: "
        "how much closer customers are to their own segment than to the next; "
        "Calinski-Harabasz: spread between segments against spread within; "
        "Davies-Bouldin, inverted: overlap of the most similar segments), each "
        "scaled so the best eligible candidate scores 1; for HDBSCAN it is the density-based "
        "validity (DBCV). The highest score wins; scores within "
        f"{TIE_TOLERANCE} of the best count as a tie, won by fewer segments, then "
        "by the more stable candidate. The runner-up is the best eligible candidate with "
        "a different number of segments. The RFM rules are shown as a baseline only."
    )


def score_table(table: pd.DataFrame, clustering: dict[str, Any]) -> pd.DataFrame:
    """Add the rescaled indices, ``quality``, ``penalty``, ``score``, ``eligible``,
    ``reason`` and ``rank``.

    Parameters
    ----------
    table : DataFrame
        ``comparison.csv`` rows (see :data:`segkit.clustering.compare.COLUMNS`). Not modified.
    clustering : dict
        The config's ``clustering`` section.

    Returns
    -------
    DataFrame
        A new frame sorted by rank (eligible first, best score first); ``reason`` is
        empty for eligible candidates and names every failed constraint otherwise.
    """
    lim = _limits(clustering)
    out = table.copy()
    density = out["algorithm"].eq("hdbscan")
    out["penalty"] = lim["segment_penalty"] * (out["n_segments"].astype(float) - 2)
    reasons = []
    for row in out.itertuples(index=False):
        why = []
        if row.algorithm == "rfm":
            why.append("reference baseline")
        if row.n_segments < 2:
            why.append(f"only {row.n_segments} segment")
        if row.n_segments > lim["max_segments"]:
            why.append(f"{row.n_segments} segments > max {lim['max_segments']}")
        if not row.smallest_share >= lim["min_segment_share"]:
            why.append(
                f"smallest segment {row.smallest_share:.1%} < "
                f"{lim['min_segment_share']:.0%}"
            )
        if row.largest_share > lim["max_segment_share"]:
            why.append(
                f"largest segment {row.largest_share:.0%} > "
                f"{lim['max_segment_share']:.0%}"
            )
        if row.algorithm != "rfm" and not row.stability >= lim["min_stability"]:
            why.append(f"stability {row.stability:.2f} < {lim['min_stability']:.2f}")
        if row.noise_share > lim["max_noise_share"]:
            why.append(
                f"{row.noise_share:.0%} unassigned > {lim['max_noise_share']:.0%}"
            )
        reasons.append("; ".join(why))
    out["reason"] = reasons
    passing = out["reason"].eq("") & ~density
    models = out[~density & out["algorithm"].ne("rfm")]
    base = out[passing] if passing.any() else models
    best_sil = base["silhouette"].max()
    out["silhouette_rel"] = out["silhouette"] / best_sil if best_sil > 0 else np.nan
    out["ch_rel"] = out["calinski_harabasz"] / base["calinski_harabasz"].max()
    out["db_rel"] = base["davies_bouldin"].min() / out["davies_bouldin"]
    consensus = out[["silhouette_rel", "ch_rel", "db_rel"]].mean(axis=1, skipna=False)
    out["quality"] = np.where(density, out["dbcv"], consensus)
    out["score"] = out["quality"] - out["penalty"]
    unscored = ~np.isfinite(out["score"])
    out.loc[unscored, "reason"] = [
        "; ".join(filter(None, [text, "no quality score"]))
        for text in out.loc[unscored, "reason"]
    ]
    out["eligible"] = out["reason"].eq("")
    best = out.loc[out["eligible"], "score"].max()
    if not np.isfinite(best):
        best = out["score"].max()
    # scores within TIE_TOLERANCE of each other (counted down from the best) tie
    out["_tie"] = np.floor((best - out["score"]) / TIE_TOLERANCE + 1e-9)
    out = out.sort_values(
        ["eligible", "_tie", "n_segments", "stability", "score"],
        ascending=[False, True, True, False, False],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    out = out.drop(columns="_tie")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def _describe(row: pd.Series) -> str:
    quality = (
        f"DBCV {row['dbcv']:.3f}"
        if row["algorithm"] == "hdbscan"
        else f"silhouette {row['silhouette']:.3f}, quality {row['quality']:.3f}"
    )
    return (
        f"{row['candidate']} ({int(row['n_segments'])} segments, {quality}"
        f", score {row['score']:.3f}, stability "
        f"{row['stability']:.2f}, smallest segment {row['smallest_share']:.1%})"
    )


def recommend(
    table: pd.DataFrame,
    clustering: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score the comparison and pick the winner, runner-up and the chosen candidate.

    Parameters
    ----------
    table : DataFrame
        The comparison table (:data:`segkit.clustering.compare.COLUMNS`). Not modified.
    clustering : dict
        The config's ``clustering`` section; ``choice`` overrides the winner.

    Returns
    -------
    scored : DataFrame
        :func:`score_table` output.
    recommendation : dict
        ``winner``, ``runner_up``, ``chosen`` (candidate ids), ``overridden``,
        ``rule`` (text), ``reasons`` (list of sentences), ``paragraph`` (the text
        the notebook prints), ``constraints``, ``eligible`` / ``candidates`` counts,
        ``chosen_row`` (the chosen candidate's metrics).

    Raises
    ------
    DataError
        When no candidate has a quality score at all.
    ConfigError
        When ``clustering.choice`` names a candidate not in the table.
    """
    scored = score_table(table, clustering)
    models = scored[scored["algorithm"] != "rfm"]
    usable = models[np.isfinite(models["score"])]
    if usable.empty:
        raise DataError(
            "no clustering candidate produced a quality score; widen the k range "
            "(clustering.k_min/k_max) or add algorithms to clustering.algorithms"
        )
    eligible = usable[usable["eligible"]]
    reasons: list[str] = []
    if eligible.empty:
        fewest = usable.assign(fails=usable["reason"].str.count(";") + 1)
        winner = fewest.sort_values(["fails", "score"], ascending=[True, False]).iloc[0]
        reasons.append(
            f"No candidate met every constraint; {winner['candidate']} fails the "
            f"fewest ({winner['reason']}). Treat it with care or relax the limits."
        )
        pool = usable
    else:
        winner = eligible.iloc[0]
        pool = eligible
    runner = pool[pool["n_segments"] != winner["n_segments"]]
    runner_up = runner.iloc[0] if len(runner) else None
    reasons.append(f"Winner: {_describe(winner)}.")
    twins = pool[
        (pool["candidate"] != winner["candidate"])
        & (pool["n_segments"] == winner["n_segments"])
        & ((pool["score"] - winner["score"]).abs() <= 0.005)
    ]
    if len(twins):
        reasons.append(
            f"{len(twins)} other method(s) with {int(winner['n_segments'])} segments "
            f"score within 0.005 of it ({', '.join(twins['candidate'].head(4))}"
            f"{', ...' if len(twins) > 4 else ''}): the segments do not hinge on one "
            "algorithm."
        )
    if runner_up is not None:
        reasons.append(
            f"Runner-up: {_describe(runner_up)}; the winner scores "
            f"{winner['score'] - runner_up['score']:.3f} higher."
        )
    best_raw = usable.sort_values("quality", ascending=False).iloc[0]
    if best_raw["n_segments"] > winner["n_segments"]:
        reasons.append(
            f"Over-segmentation penalty at work: {best_raw['candidate']} has the "
            f"highest raw quality ({best_raw['quality']:.3f}) but its "
            f"{int(best_raw['n_segments'])} segments cost {best_raw['penalty']:.3f}"
            + (
                f" and it is not eligible ({best_raw['reason']})"
                if best_raw["reason"]
                else ""
            )
            + "."
        )
    rfm = scored[scored["algorithm"] == "rfm"]
    if len(rfm) and np.isfinite(rfm.iloc[0]["silhouette"]):
        base = rfm.iloc[0]
        reasons.append(
            f"Baseline: the {int(base['n_segments'])} RFM named segments have a "
            f"silhouette of {base['silhouette']:.3f} in the same space."
        )
    chosen = winner["candidate"]
    choice = clustering.get("choice")
    overridden = bool(choice)
    if overridden:
        algorithm, representation, k = parse_candidate(choice)
        chosen = candidate_id(algorithm, representation, k)
        if chosen not in set(scored["candidate"]):
            raise ConfigError(
                f"clustering.choice {choice!r} is not in the comparison (candidates: "
                f"{', '.join(scored['candidate'].head(12))}, ...); pick one of them or "
                "add its algorithm, representation and k to the grid"
            )
        reasons.append(
            f"The analyst chose {chosen} (clustering.choice) over the rule's "
            f"{winner['candidate']}."
        )
    chosen_row = scored[scored["candidate"] == chosen].iloc[0]
    rule = rule_text(clustering)
    paragraph = " ".join(
        [
            f"{int(len(eligible))} of {len(usable)} candidates met the constraints.",
            *reasons,
            f"The rule: {rule}",
        ]
    )
    recommendation = {
        "winner": winner["candidate"],
        "runner_up": None if runner_up is None else runner_up["candidate"],
        "chosen": chosen,
        "overridden": overridden,
        "rule": rule,
        "reasons": reasons,
        "paragraph": paragraph,
        "constraints": _limits(clustering),
        "eligible": int(len(eligible)),
        "candidates": int(len(usable)),
        "chosen_row": {
            key: (None if pd.api.types.is_scalar(value) and pd.isna(value) else value)
            for key, value in chosen_row.to_dict().items()
        },
    }
    return scored, recommendation


def leaderboard(scored: pd.DataFrame, *, top: int = 15) -> pd.DataFrame:
    """The first ``top`` rows of a scored comparison, with readable columns.

    Parameters
    ----------
    scored : DataFrame
        :func:`score_table` output (or ``comparison.csv`` written by the step).
    top : int
        Rows kept (the RFM baseline is always appended when present).

    Returns
    -------
    DataFrame
        Index ``rank``; columns candidate, segments, silhouette, CH, DB, DBCV,
        quality, penalty, score, stability, smallest / noise share (percent),
        fit seconds, and why the candidate is not eligible.
    """
    data = scored.sort_values("rank")
    head = data.head(top)
    baseline = data[(data["algorithm"] == "rfm") & ~data["rank"].isin(head["rank"])]
    view = pd.concat([head, baseline])
    out = pd.DataFrame(
        {
            "candidate": view["candidate"],
            "segments": view["n_segments"].astype(int),
            "silhouette": view["silhouette"].round(3),
            "calinski_harabasz": view["calinski_harabasz"].round(0),
            "davies_bouldin": view["davies_bouldin"].round(2),
            "dbcv": view["dbcv"].round(3),
            "quality": view["quality"].round(3),
            "penalty": view["penalty"].round(3),
            "score": view["score"].round(3),
            "stability": view["stability"].round(2),
            "smallest_%": (100 * view["smallest_share"]).round(1),
            "noise_%": (100 * view["noise_share"]).round(1),
            "fit_s": view["fit_seconds"].round(2),
            "not_eligible_because": view["reason"].fillna(""),
        }
    )
    out.index = pd.Index(view["rank"].astype(int), name="rank")
    return out

"""The comparison's seed-refit stability, and the finalists-only default.

Each candidate's ``stability`` in ``comparison.csv`` is the mean adjusted Rand
index between its labels and ``clustering.stability_refits`` refits on reseeded
80 % subsamples of the metric sample (:func:`seed_stability`). With
``clustering.stability_scope: finalists`` (the default) only the finalists of
the screen get these refits (:func:`finalist_stability`); ``all`` refits every
candidate inside its comparison task.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.algorithms import candidate_id, make_clusterer
from segkit.clustering.metrics import ari
from segkit.clustering.selection import screen

__all__ = ["COST_ORDER", "finalist_stability", "seed_stability"]

logger = logging.getLogger(__name__)

#: Algorithms from the dearest task (all k of one representation) to the cheapest.
COST_ORDER = ("gmm", "ward", "kmeans", "minibatch_kmeans", "hdbscan")


def finalist_stability(
    table: pd.DataFrame,
    clustering: Any,
    tasks: list[tuple[str, str, list[int | None], Any]],
    found_labels: dict[str, np.ndarray],
    settings: dict[str, Any],
    *,
    seed: int,
    n_jobs: int,
) -> None:
    """``clustering.stability_scope: finalists``: the refits for the finalists only.

    The seed refits are most of the comparison's work (three fits per candidate,
    GMM and Ward the dearest), yet the recommendation never reads this column: it
    ranks the finalists by prediction strength and bootstrap Jaccard. The screen
    (:func:`segkit.clustering.selection.screen`) picks the finalists from
    silhouette and Calinski-Harabasz alone, so it picks the same ones before the
    refits as after, and each finalist's refits are the very ones ``all`` makes
    (same subsets, same seeds): its ``stability`` is identical. Fills ``table``'s
    ``stability`` in place; every other row keeps NaN.
    """
    from joblib import Parallel, delayed

    screened = screen(table, clustering)
    chosen = set(screened.loc[screened["finalist"], "candidate"])
    jobs = []
    cost = {name: rank for rank, name in enumerate(COST_ORDER)}
    for algorithm, rep, grid, space in sorted(tasks, key=lambda t: cost.get(t[0], 0)):
        ks = [k for k in grid if candidate_id(algorithm, rep, k) in chosen]
        if ks:
            labels = {k: found_labels[candidate_id(algorithm, rep, k)] for k in ks}
            jobs.append(delayed(_task)(algorithm, rep, labels, space, settings, seed))
    found: dict[str, float] = {}
    for part in Parallel(n_jobs=n_jobs)(jobs):
        found.update(part)
    where = table["candidate"].isin(list(found))
    table.loc[where, "stability"] = table.loc[where, "candidate"].map(found)


def _task(
    algorithm: str,
    rep: str,
    labels: dict[int | None, np.ndarray],
    space: Any,
    settings: dict[str, Any],
    seed: int,
) -> dict[str, float]:
    """The seed-refit stability of one algorithm's finalists in one representation,
    with one Ward tree cache for all their k (as the comparison's own task)."""
    settings = {**settings, "tree_cache": {}}
    X = space.coords[space.metric_pos]
    return {
        candidate_id(algorithm, rep, k): seed_stability(
            algorithm, k, X, found[space.metric_pos], space.subsets, settings, seed
        )
        for k, found in labels.items()
    }


def seed_stability(
    algorithm: str,
    k: int | None,
    X: np.ndarray,
    reference: np.ndarray,
    subsets: list[np.ndarray],
    settings: dict[str, Any],
    seed: int,
) -> float:
    """Mean ARI between ``reference`` and refits on reseeded subsamples of ``X``."""
    if not subsets:
        return float("nan")
    scores = []
    for i, rows in enumerate(subsets):
        refit = make_clusterer(algorithm, k, random_state=seed + 1 + i, **settings)
        try:
            refit.fit(X[rows])
            scores.append(ari(reference, refit.predict(X)))
        except ValueError as exc:  # e.g. a refit with fewer points than k
            logger.info("stability refit failed for %s: %s", algorithm, exc)
    return float(np.mean(scores)) if scores else float("nan")

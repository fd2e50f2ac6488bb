"""The finalists' refits spread over worker processes, with the serial run's draws.

:func:`segkit.clustering.selection.assess` refits every finalist: prediction
strength over ``ps_splits`` half-splits, then bootstrap Jaccard over
``jaccard_refits`` draws where it passes. Serially, the finalists of one
representation share their UMAP fits through the in-process memo
(:class:`segkit.clustering.reduce.Reducer`): the first UMAP finalist pays for every
split's UMAP and the others reuse them. Handing out whole finalists (or whole
representations) to workers therefore leaves one worker with all the UMAP work:
on Online Retail one task took 33 of the selection's 42 s on 2 cores.

Here the unit of work is one split (or one chunk of bootstrap draws) for all the
finalists of a representation: each task fits that split's UMAP once and every
finalist of the group reuses it, and the tasks spread evenly. The draws come from
:func:`segkit.clustering.strength.fold_halves` and
:func:`segkit.clustering.stability.bootstrap_plan`, the very draws the serial path
makes, and every fit is seeded, so the table equals the serial one (tested).
The rows are assembled by :func:`ps_row` and :func:`with_bootstrap` on both paths.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.algorithms import parse_candidate
from segkit.clustering.resample import fit_labels
from segkit.clustering.sampling import thread_limit
from segkit.clustering.stability import (
    bimodality,
    bootstrap_plan,
    bootstrap_refits,
    bootstrap_result,
)
from segkit.clustering.strength import fold_halves, fold_pair
from segkit.exceptions import DataError

__all__ = ["assess_parallel", "ps_row", "ps_passed", "with_bootstrap"]

logger = logging.getLogger(__name__)

_FAILED = "failed"


def ps_row(candidate: str, folds: np.ndarray, settings: Any) -> dict[str, Any]:
    """A candidate's assessment row from its prediction-strength folds alone."""
    values = folds[np.isfinite(folds)]
    with warnings.catch_warnings():  # a split with no finite fold: NaN, dropped
        warnings.simplefilter("ignore", RuntimeWarning)
        splits = np.nanmean(np.where(np.isfinite(folds), folds, np.nan), axis=1)
    splits = splits[np.isfinite(splits)]
    mean = float(values.mean()) if len(values) else float("nan")
    se = float(splits.std(ddof=1) / np.sqrt(len(splits))) if len(splits) > 1 else 0
    split = bimodality(values)
    return {
        "candidate": candidate,
        "ps_median": float(np.median(values)) if len(values) else float("nan"),
        "ps_mean": mean,
        "ps_lower": mean - 1.645 * se,
        "ps_folds": int(len(values)),
        "ps_low_folds": float(np.mean(values < settings.ps_cutoff))
        if len(values)
        else float("nan"),
        "jaccard_min": float("nan"),
        "jaccard_segments": "",
        "ari_mean": float("nan"),
        "ari_q10": float("nan"),
        "refits": 0,
        "bimodal": split["sentence"] if split else "",
    }


def ps_passed(row: Mapping[str, Any], settings: Any) -> bool:
    """Whether the bootstrap Jaccard refits are spent on this candidate."""
    return row["ps_median"] >= settings.ps_cutoff


def with_bootstrap(
    row: Mapping[str, Any], result: Any, settings: Any
) -> dict[str, Any]:
    """The row with the bootstrap Jaccard and ARI of ``result`` (a StabilityResult);
    the refits' ARI bimodality, when there is one, replaces the folds'."""
    jaccard = result.segments["jaccard"]
    ari = result.refits["ari"]
    split = bimodality(ari)
    return {
        **row,
        "jaccard_min": float(jaccard.min()),
        "jaccard_segments": " ".join(f"{v:.2f}" for v in jaccard),
        "ari_mean": float(ari.mean()),
        "ari_q10": float(ari.quantile(0.1)),
        "refits": int(settings.jaccard_refits),
        "bimodal": split["sentence"] if split else row["bimodal"],
    }


def _split_task(
    group: Sequence[str],
    make_model: Callable[[str], Any],
    halves: tuple[pd.DataFrame, pd.DataFrame],
    rows: int,
) -> dict[str, Any]:
    """One split's two fold strengths for every finalist of a group."""
    out: dict[str, Any] = {}
    with thread_limit(rows):
        for candidate in group:
            try:
                out[candidate] = fold_pair(make_model(candidate), halves)[0]
            except (ValueError, DataError) as exc:  # as the serial path: no folds
                logger.info("prediction strength failed for %s: %s", candidate, exc)
                out[candidate] = _FAILED
    return out


def _boot_task(
    group: Sequence[str],
    make_model: Callable[[str], Any],
    plans: dict[str, Any],
    refits: Sequence[int],
) -> dict[str, tuple[np.ndarray, list]]:
    """Reference fit and the bootstrap refits ``refits`` for every finalist of a
    group; ``plans`` holds each finalist's bounded sample and draws (a few thousand
    rows, never the whole matrix)."""
    out = {}
    for candidate in group:
        model, plan = make_model(candidate), plans[candidate]
        with thread_limit(len(plan.sample)):
            reference = fit_labels(model, plan.sample)
            out[candidate] = (
                reference,
                bootstrap_refits(model, plan, reference, refits),
            )
    return out


def _plan(model: Any, data: pd.DataFrame, settings: Any, seed: int) -> Any:
    return bootstrap_plan(
        model,
        data,
        n_boot=settings.jaccard_refits,
        sample_size=settings.refit_sample,
        random_state=seed,
    )


def _chunks(n: int, parts: int) -> list[list[int]]:
    parts = max(1, min(n, parts))
    return [list(range(n))[i::parts] for i in range(parts)]


def assess_parallel(
    groups: Sequence[Sequence[str]],
    make_model: Callable[[str], Any],
    data: pd.DataFrame,
    settings: Any,
    seed: int,
    *,
    n_jobs: int,
) -> dict[str, dict[str, Any]]:
    """The assessment rows of every finalist, refitted on ``n_jobs`` workers.

    Parameters are those of :func:`segkit.clustering.selection.assess`, with the
    finalists already grouped by representation. Returns candidate -> row.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    workers = effective_n_jobs(n_jobs)
    runner = Parallel(n_jobs=n_jobs)
    # UMAP's splits first (each fits two UMAPs): no worker is left with one at the end
    groups = sorted(groups, key=lambda group: parse_candidate(group[0])[1] != "umap")
    candidates = [c for group in groups for c in group]
    try:
        halves = fold_halves(data, settings.ps_splits, settings.refit_sample, seed)
    except (ValueError, DataError) as exc:  # as the serial path: no folds at all
        logger.info("prediction strength failed for every finalist: %s", exc)
        halves = []
    rows = min(len(data), settings.refit_sample)
    found = runner(
        delayed(_split_task)(group, make_model, pair, rows)
        for group in groups
        for pair in halves
    )
    folds = {c: np.full((len(halves), 2), np.nan) for c in candidates}
    failed = set(candidates) if not halves else set()
    # found is in task order: group by group, split by split within a group
    for position, part in enumerate(found):
        split = position % len(halves)
        for candidate, value in part.items():
            if isinstance(value, str):
                failed.add(candidate)
            else:
                folds[candidate][split] = value
    for candidate in failed:
        folds[candidate] = np.full((1, 2), np.nan)
    result = {c: ps_row(c, folds[c], settings) for c in candidates}

    passing = [[c for c in group if ps_passed(result[c], settings)] for group in groups]
    passing = [group for group in passing if group]
    plans = {
        c: _plan(make_model(c), data, settings, seed)
        for group in passing
        for c in group
    }
    chunks = _chunks(settings.jaccard_refits, workers)
    boots = runner(
        delayed(_boot_task)(group, make_model, {c: plans[c] for c in group}, chunk)
        for group in passing
        for chunk in chunks
    )
    pieces: dict[str, list] = {}
    references: dict[str, np.ndarray] = {}
    for part in boots:
        for candidate, (reference, refits) in part.items():
            references.setdefault(candidate, reference)
            pieces.setdefault(candidate, []).extend(refits)
    for candidate, refits in pieces.items():
        stability = bootstrap_result(plans[candidate], references[candidate], refits)
        result[candidate] = with_bootstrap(result[candidate], stability, settings)
    return result

"""The settings of the stability-led choice of a segmentation, from the config.

Kept apart from :mod:`segkit.clustering.selection` (which fits candidates, and
imports scikit-learn): the report pages read these settings to word the rule,
and a page whose figures come from the figure cache needs no fitting library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from segkit.config_sections import ClusteringSettings

__all__ = ["SelectionSettings", "selection_settings"]


@dataclass(frozen=True)
class SelectionSettings:
    """Settings of the stability-led choice (config keys ``clustering.<name>``).

    Attributes
    ----------
    finalists_per_k : int
        Candidates per number of segments that get refits (distinct families).
    ps_splits : int
        Random half-splits for prediction strength (two folds each); >= 10, since
        fold values are bimodal (about 0.5 or 1.0) and 4 folds cannot read a 0.8 cut.
    ps_cutoff : float
        Median fold strength a candidate needs (0.8: Tibshirani & Walther).
    jaccard_refits : int
        Bootstrap refits for the per-segment Jaccard (>= 20 where it decides).
    min_jaccard : float
        Every segment's mean Jaccard must reach this (Hennig: below 0.6 a segment
        dissolves).
    stable_jaccard : float
        Below this (but above ``min_jaccard``) the membership is doubtful: "weak".
    refit_sample : int
        Customers the refits are drawn from (bounded; a fixed-seed sample).
    null_refs : int
        Structureless reference data sets per k and kind.
    null_z : float
        The candidate's R-squared must exceed each null's mean by this many of the
        null's standard deviations ...
    null_margin : float
        ... and by at least this much in absolute terms.
    weak_silhouette : float
        Below this silhouette no substantial structure is claimed ("weak"; Kaufman
        & Rousseeuw 1990 read < 0.25 as no substantial structure).
    stability_tolerance : float
        Candidates whose stability is within this of the best count as equally
        stable (then separation decides).
    """

    finalists_per_k: int
    ps_splits: int
    ps_cutoff: float
    jaccard_refits: int
    min_jaccard: float
    stable_jaccard: float
    refit_sample: int
    null_refs: int
    null_z: float
    null_margin: float
    weak_silhouette: float
    stability_tolerance: float


def selection_settings(
    clustering: ClusteringSettings | Mapping[str, Any],
) -> SelectionSettings:
    """:class:`SelectionSettings` from the config's ``clustering`` section.

    A plain mapping gets the :class:`~segkit.config.ClusteringSettings` defaults for
    the keys it lacks.
    """
    section = ClusteringSettings.of(clustering)
    return SelectionSettings(
        **{spec.name: section[spec.name] for spec in fields(SelectionSettings)}
    )

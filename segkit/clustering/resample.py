"""Resampling helpers shared by the stability checks.

:func:`bounded_sample` draws a segment-stratified sample of bounded size (so the
checks cost the same whatever the number of customers); :func:`fit_labels` and
:func:`labels_of` read the training assignments of a refitted model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from segkit.exceptions import DataError

__all__ = ["bounded_sample", "fit_labels", "labels_of"]


def bounded_sample(
    labels: pd.Series, size: int, *, random_state: int = 0, min_per_segment: int = 10
) -> pd.Index:
    """Draw at most ``size`` customers, stratified by segment, keeping small segments.

    Every segment keeps at least ``min(its size, min_per_segment)`` customers, so a
    small segment is never lost from the sample; the rest is proportional.

    Parameters
    ----------
    labels : Series
        Segment id per customer (index customer_id).
    size : int
        Upper bound on the sample (a little more when small segments are topped up).
    random_state : int
        Seed of the draw.
    min_per_segment : int
        Floor per segment.

    Returns
    -------
    Index
        The customers drawn, in the order of ``labels``.
    """
    if size < 2:
        raise DataError(
            f"validation.sample_size is {size}; set it to at least 100 customers"
        )
    if len(labels) <= size:
        return labels.index
    rng = np.random.default_rng(random_state)
    share = size / len(labels)
    keep = np.zeros(len(labels), dtype=bool)
    codes = labels.to_numpy()
    for segment in np.unique(codes):
        where = np.flatnonzero(codes == segment)
        take = max(int(round(len(where) * share)), min(len(where), min_per_segment))
        keep[rng.choice(where, size=min(take, len(where)), replace=False)] = True
    return labels.index[keep]


def fit_labels(model, frame: pd.DataFrame) -> np.ndarray:
    """Training assignments of a fresh (cloned) copy of ``model`` fitted on ``frame``."""
    return labels_of(clone(model).fit(frame), frame)


def labels_of(fitted, frame: pd.DataFrame) -> np.ndarray:
    """Training assignments of a fitted model (``labels_``, else ``predict``)."""
    found = getattr(fitted, "labels_", None)
    if found is None or len(found) != len(frame):
        found = fitted.predict(frame)
    return np.asarray(found, dtype=int)

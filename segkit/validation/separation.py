"""Are two segments separated, judged on customers they were not formed on?

Testing the features that formed the segments on the same customers is double
dipping: k-means cuts pure noise into cells whose feature distributions differ by
construction (every pair "distinct" at adjusted p <= 3e-47). Plain sample
splitting does not cure it either: cells fitted on half A still cut half B along
the same features (Gao, Bien & Witten 2022, section 1). What a held-out half *can*
test is whether there is a gap between two segments:

1. customers are split at random into halves A and B; the segmentation is fitted
   on A and assigns B;
2. for a pair of segments (a, b), the axis through their A-centroids (in the
   model's clustering coordinates) and a cylinder around it (the 90th percentile
   of A's members' distance from the axis, between their 1st and 99th
   percentile positions along it) are set on A alone;
3. B's customers inside that cylinder are projected on the axis, and Silverman's
   (1981) critical-bandwidth test asks whether the projection has one mode.

On structureless data the cylinder is a convex piece of a unimodal cloud, its
projection has one mode, and the test does not reject; two separated groups give
two modes. Silverman's test is conservative (Hall & York 2001), so "distinct" is a
claim made only with a clear gap; segments that are cuts through a continuum are
"not distinct". p-values are Benjamini-Hochberg adjusted over the pairs.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from segkit.exceptions import DataError

__all__ = ["count_modes", "silverman_test", "heldout_separation"]

logger = logging.getLogger(__name__)

_GRID = 256
_MAX_POINTS = 600  # points per test: the KDEs are (points x grid)


def count_modes(x: np.ndarray, bandwidth: float, grid: np.ndarray) -> int:
    """Number of local maxima of a Gaussian kernel density estimate on ``grid``."""
    z = (grid[:, None] - x[None, :]) / bandwidth
    density = np.exp(-0.5 * z**2).sum(axis=1)
    density = density / density.max()
    rise = np.diff(density)
    peaks = (rise[:-1] > 0) & (rise[1:] <= 0) & (density[1:-1] > 1e-6)
    return int(peaks.sum())


def _critical_bandwidth(x: np.ndarray, grid: np.ndarray) -> float:
    """Smallest bandwidth with a unimodal density (bisection on a log scale)."""
    sd = x.std()
    low, high = sd * 1e-3, sd * 2.0
    if count_modes(x, low, grid) <= 1:
        return low
    for _ in range(30):
        middle = np.sqrt(low * high)
        if count_modes(x, middle, grid) <= 1:
            high = middle
        else:
            low = middle
        if high / low < 1.01:
            break
    return high


def silverman_test(x: np.ndarray, *, n_boot: int = 200, random_state: int = 0) -> float:
    """p-value of Silverman's test of unimodality (smoothed bootstrap).

    Parameters
    ----------
    x : array of float
        The values (at least 10; fewer give NaN).
    n_boot : int
        Smoothed bootstrap samples drawn from the density at the critical bandwidth,
        shrunk to keep the sample variance (Silverman 1981; Efron & Tibshirani
        1993, 16.5).
    random_state : int
        Seed.

    Returns
    -------
    float
        Share of bootstrap samples more multimodal than the data's own critical
        bandwidth allows: small when the data have two or more modes.
    """
    values = np.asarray(x, dtype=float)
    if len(values) < 10 or np.ptp(values) == 0:
        return np.nan
    values = (values - values.mean()) / values.std()
    grid = np.linspace(values.min() - 1, values.max() + 1, _GRID)
    h = _critical_bandwidth(values, grid)
    rng = np.random.default_rng(random_state)
    n = len(values)
    shrink = 1 / np.sqrt(1 + h**2)
    multimodal = 0
    for _ in range(n_boot):
        draw = values[rng.integers(0, n, n)] + h * rng.standard_normal(n)
        draw = draw.mean() + (draw - draw.mean()) * shrink
        wide = np.linspace(draw.min() - 1, draw.max() + 1, _GRID)
        multimodal += count_modes(draw, h, wide) > 1
    return (multimodal + 1) / (n_boot + 1)


def _matching(found: np.ndarray, reference: np.ndarray) -> dict[int, int]:
    """Rename found segments after the reference segment they overlap most."""
    from scipy.optimize import linear_sum_assignment

    table = pd.crosstab(pd.Series(found), pd.Series(reference))
    rows, cols = linear_sum_assignment(-table.to_numpy())
    return {
        int(table.index[r]): int(table.columns[c])
        for r, c in zip(rows, cols, strict=True)
    }


def _place(
    points: np.ndarray, start: np.ndarray, axis: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Position along the axis and distance from it."""
    along = (points - start) @ axis
    off = np.linalg.norm(points - start - along[:, None] * axis, axis=1)
    return along, off


def _coordinates(fitted, frame: pd.DataFrame) -> np.ndarray:
    if hasattr(fitted, "transform"):
        return np.asarray(fitted.transform(frame), dtype=float)
    return frame.select_dtypes("number").to_numpy(dtype=float)


def heldout_separation(
    model,
    frame: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_boot: int = 200,
    min_customers: int = 10,
    random_state: int = 0,
    reference: pd.Series | None = None,
) -> pd.DataFrame:
    """Test every pair of segments for a gap, on a held-out half.

    Parameters
    ----------
    model : estimator
        The segmentation model (a clone is fitted on half A); it needs
        ``predict`` and, for its coordinates, ``transform``.
    frame : DataFrame
        What the model is fitted on, one row per customer (a bounded sample).
    alpha : float
        Level on the Benjamini-Hochberg adjusted p-value.
    n_boot : int
        Smoothed bootstrap samples per test.
    min_customers : int
        Fewest members of each segment in each half for a pair to be tested.
    random_state : int
        Seed of the split and the tests.
    reference : Series, optional
        The full-data labels (index as ``frame``): the segments fitted on A are
        renamed after the reference segment they overlap most (Hungarian).

    Returns
    -------
    DataFrame
        One row per pair fitted on A: ``segment_a``, ``segment_b`` (ids of the
        reference when given, else of the model fitted on A), ``customers_tested`` (B customers in the cylinder),
        ``gap_p_value``, ``gap_p_adjusted``, ``tested`` and ``distinct`` (a gap at
        the adjusted level; False for untested pairs, see ``tested``).
    """
    n = len(frame)
    if n < 4 * min_customers:
        raise DataError(
            f"held-out separation needs at least {4 * min_customers} customers, got "
            f"{n}; raise validation.sample_size or leave distinctness descriptive"
        )
    rng = np.random.default_rng(random_state)
    in_a = np.zeros(n, dtype=bool)
    in_a[rng.permutation(n)[: n // 2]] = True
    fitted = clone(model).fit(frame.loc[in_a])
    labels = np.asarray(fitted.predict(frame), dtype=int)
    coords = _coordinates(fitted, frame)
    segments = sorted(s for s in set(labels[in_a].tolist()) if s != -1)
    rows = []
    for a, b in itertools.combinations(segments, 2):
        row = {"segment_a": int(a), "segment_b": int(b), "customers_tested": 0}
        row |= {"gap_p_value": np.nan, "tested": False}
        members = {s: in_a & (labels == s) for s in (a, b)}
        held = {s: ~in_a & (labels == s) for s in (a, b)}
        if min(m.sum() for m in [*members.values(), *held.values()]) < min_customers:
            rows.append(row)
            continue
        start, end = coords[members[a]].mean(0), coords[members[b]].mean(0)
        length = np.linalg.norm(end - start)
        if length == 0:
            rows.append(row)
            continue
        axis = (end - start) / length

        along_a, off_a = _place(coords[members[a] | members[b]], start, axis)
        radius = np.quantile(off_a, 0.9)
        low, high = np.quantile(along_a, [0.01, 0.99])
        along_b, off_b = _place(coords[~in_a], start, axis)
        inside = (off_b <= radius) & (along_b >= low) & (along_b <= high)
        values = along_b[inside]
        if len(values) > _MAX_POINTS:
            values = rng.choice(values, _MAX_POINTS, replace=False)
        row["customers_tested"] = int(inside.sum())
        row["gap_p_value"] = silverman_test(
            values, n_boot=n_boot, random_state=random_state
        )
        row["tested"] = bool(np.isfinite(row["gap_p_value"]))
        rows.append(row)
    table = pd.DataFrame(
        rows,
        columns=[
            "segment_a",
            "segment_b",
            "customers_tested",
            "gap_p_value",
            "tested",
        ],
    )
    tested = table["tested"].to_numpy(dtype=bool)
    adjusted = np.full(len(table), np.nan)
    if tested.any():
        adjusted[tested] = stats.false_discovery_control(
            table.loc[tested, "gap_p_value"].to_numpy()
        )
    table["gap_p_adjusted"] = adjusted
    table["distinct"] = tested & (np.nan_to_num(adjusted, nan=1.0) < alpha)
    if reference is not None:
        rename = _matching(labels, reference.reindex(frame.index).to_numpy())
        for column in ("segment_a", "segment_b"):
            table[column] = [rename.get(s, s) for s in table[column]]
    logger.info(
        "held-out separation: %d of %d pairs distinct",
        int(table["distinct"].sum()),
        len(table),
    )
    return table

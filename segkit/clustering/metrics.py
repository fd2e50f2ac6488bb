"""Quality metrics of one segmentation, each on a bounded sample.

Every metric that is quadratic in customers (silhouette, DBCV) runs on a sample whose
size the caller bounds; Calinski-Harabasz and Davies-Bouldin are computed on the same
sample so all candidates are scored on the same customers in the same space.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)

__all__ = ["distance_matrix", "partition_metrics", "dbcv", "sizes", "elbow", "ari"]

logger = logging.getLogger(__name__)

_NAN = float("nan")


#: Largest metric sample whose distance matrix :func:`distance_matrix` builds
#: (10,000 rows: 800 MB of float64). Above it each silhouette computes its own.
MAX_DISTANCE_ROWS = 10_000


def distance_matrix(X: np.ndarray) -> np.ndarray | None:
    """Euclidean distances between the rows of ``X``, computed once for every
    candidate scored on the same sample; None above :data:`MAX_DISTANCE_ROWS`.

    A silhouette spends most of its time computing these distances (about 70 % of
    the comparison's silhouette time on Online Retail), and every candidate of the
    comparison is scored on the same metric sample in the same space.
    """
    if len(X) > MAX_DISTANCE_ROWS:
        return None
    return pairwise_distances(np.asarray(X, dtype=np.float64))


def partition_metrics(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    noise: str = "group",
    distances: np.ndarray | None = None,
) -> dict[str, float]:
    """Silhouette, Calinski-Harabasz, Davies-Bouldin and within-segment SS.

    Noise rows (label -1, HDBSCAN's "Unassigned") are by default scored as one more
    group: customers receive that segment too, and scattered noise then lowers the
    silhouette instead of vanishing from it (dropping noise flatters a density
    method against partition methods, which must place every customer).
    ``noise="drop"`` leaves them out (the assigned customers' view). Metrics that
    need two groups are NaN when fewer remain.

    Parameters
    ----------
    X : ndarray
        Rows of the common space (a bounded sample).
    labels : ndarray
        Segment ids of those rows.
    noise : {"group", "drop"}
        How noise rows are scored.
    distances : ndarray, optional
        :func:`distance_matrix` of ``X``; the silhouette then reads it instead of
        recomputing the distances (same value up to floating-point rounding).

    Returns
    -------
    dict
        ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``, ``wcss`` (mean
        squared distance to the group centre, per customer).
    """
    if noise not in ("group", "drop"):
        raise ValueError(f"noise is {noise!r}; use 'group' or 'drop'")
    labels = np.asarray(labels)
    if noise == "drop":
        keep = labels != -1
        X, labels = X[keep], labels[keep]
        if distances is not None:
            distances = distances[np.ix_(keep, keep)]
    out = {
        "silhouette": _NAN,
        "calinski_harabasz": _NAN,
        "davies_bouldin": _NAN,
        "wcss": _NAN,
    }
    if len(labels) == 0:
        return out
    uniq, inverse = np.unique(labels, return_inverse=True)
    centres = np.vstack([X[inverse == i].mean(0) for i in range(len(uniq))])
    out["wcss"] = float(((X - centres[inverse]) ** 2).sum(1).mean())
    if 2 <= len(uniq) < len(labels):
        out["silhouette"] = float(
            silhouette_score(X, labels)
            if distances is None
            else silhouette_score(distances, labels, metric="precomputed")
        )
        out["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
        out["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    return out


def dbcv(X: np.ndarray, labels: np.ndarray, *, max_rows: int, seed: int) -> float:
    """DBCV density-based validity (``hdbscan.validity.validity_index``) on a sample.

    Exact DBCV needs memory quadratic in the rows (3.6 GB at 50k), so at most
    ``max_rows`` rows are used (a fixed-seed sample). NaN when fewer than two
    clusters remain or the index cannot be computed.
    """
    from hdbscan.validity import validity_index

    rng = np.random.default_rng(seed)
    rows = np.arange(len(X))
    if len(rows) > max_rows:
        rows = np.sort(rng.choice(len(X), max_rows, replace=False))
    lab = labels[rows]
    present, counts = np.unique(lab[lab != -1], return_counts=True)
    if len(present) < 2 or counts.min() < 3:
        return _NAN
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = validity_index(np.ascontiguousarray(X[rows], np.float64), lab)
        except (ValueError, ZeroDivisionError, IndexError) as exc:
            logger.info("DBCV not computable: %s", exc)
            return _NAN
    return float(value) if np.isfinite(value) else _NAN


def sizes(labels: np.ndarray) -> dict[str, float]:
    """Number of segments, smallest and largest segment share, noise share.

    Shares are of all customers (noise included); ``n_segments`` excludes noise.
    """
    n = len(labels)
    noise = float((labels == -1).sum()) / n if n else _NAN
    _, counts = np.unique(labels[labels != -1], return_counts=True)
    if len(counts) == 0:
        return {
            "n_segments": 0,
            "smallest_share": _NAN,
            "largest_share": _NAN,
            "noise_share": noise,
        }
    return {
        "n_segments": int(len(counts)),
        "smallest_share": float(counts.min() / n),
        "largest_share": float(counts.max() / n),
        "noise_share": noise,
    }


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings of the same rows (noise is a group)."""
    return float(adjusted_rand_score(a, b))


def elbow(ks: np.ndarray, values: np.ndarray) -> float:
    """k at the elbow of a decreasing curve (largest distance to the chord).

    Both axes are scaled to [0, 1] first; NaN values are ignored. Returns NaN when
    fewer than three points are usable.
    """
    ks = np.asarray(ks, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & np.isfinite(ks)
    ks, values = ks[ok], values[ok]
    if len(ks) < 3:
        return _NAN
    order = np.argsort(ks)
    ks, values = ks[order], values[order]
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    span = values.max() - values.min()
    if span == 0:
        return _NAN
    y = (values - values.min()) / span
    # distance of each point to the line from first to last point
    x0, y0, x1, y1 = x[0], y[0], x[-1], y[-1]
    dist = np.abs((y1 - y0) * x - (x1 - x0) * y + x1 * y0 - y1 * x0)
    return float(ks[int(np.argmax(dist))])

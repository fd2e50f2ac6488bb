"""Pair the segments of two assignments one-to-one by shared customers (Hungarian).

:func:`match_segments` is the one matcher of segment ids between two assignments
of the same customers (a refit and the reference, an earlier run and this one). It
maximises the customers shared by the pairs with scipy's Hungarian solver
(:func:`scipy.optimize.linear_sum_assignment`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from segkit.clustering.algorithms import NOISE

__all__ = ["match_segments"]


def match_segments(
    before: pd.Series | np.ndarray | Sequence[int],
    after: pd.Series | np.ndarray | Sequence[int],
    *,
    noise_apart: bool = False,
    drop_empty: bool = False,
) -> dict[int, int]:
    """Segment id of ``before`` -> the segment id of ``after`` it shares most with.

    Parameters
    ----------
    before, after : Series or array of int
        Segment ids. Two Series are aligned on their common index (customers in
        both); arrays are paired by position and must have the same length.
    noise_apart : bool
        Pair the noise segment (-1) only with itself, and leave it out of the
        one-to-one matching of the other segments.
    drop_empty : bool
        Leave out pairs that share no customer.

    Returns
    -------
    dict
        One-to-one: each id of ``before`` at most once, each id of ``after`` at most
        once; with more segments on one side some stay unmatched. Empty when the
        assignments share no customer.
    """
    if isinstance(before, pd.Series) and isinstance(after, pd.Series):
        common = before.index.intersection(after.index)
        left, right = before.loc[common].to_numpy(), after.loc[common].to_numpy()
    else:
        left, right = np.asarray(before), np.asarray(after)
        if len(left) != len(right):
            raise ValueError(
                f"before has {len(left)} ids and after {len(right)}; pass two "
                "Series (aligned on their index) or arrays of the same length"
            )
    if len(left) == 0:
        return {}
    table = pd.crosstab(left.astype(int), right.astype(int))
    matched: dict[int, int] = {}
    if noise_apart:
        if NOISE in table.index and NOISE in table.columns:
            matched[NOISE] = NOISE
        table = table.drop(index=[NOISE], columns=[NOISE], errors="ignore")
    if table.empty:
        return matched
    rows, cols = linear_sum_assignment(-table.to_numpy())
    for r, c in zip(rows, cols, strict=True):
        if drop_empty and table.iat[r, c] == 0:
            continue
        matched[int(table.index[r])] = int(table.columns[c])
    return matched

"""Which columns of a frame hold numbers: the one rule every stage uses.

:func:`is_numeric` and :func:`numeric_columns` treat boolean columns as numbers
(0/1) unless ``bool_counts=False``, the reading for checks where ``True``/``False``
are flags rather than quantities (outlier fences, correlations).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["is_numeric", "numeric_columns"]


def is_numeric(series: pd.Series, *, bool_counts: bool = True) -> bool:
    """True when ``series`` has a numeric dtype (booleans count unless told not)."""
    if pd.api.types.is_bool_dtype(series):
        return bool_counts
    return pd.api.types.is_numeric_dtype(series)


def numeric_columns(frame: pd.DataFrame, *, bool_counts: bool = True) -> list[str]:
    """Names of the numeric columns of ``frame``, in order (see :func:`is_numeric`)."""
    return [c for c in frame.columns if is_numeric(frame[c], bool_counts=bool_counts)]

"""The CRM export: one row per customer with its segment id, name, run and date."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from segkit.profiles.profile import segment_label

__all__ = ["ASSIGNMENT_COLUMNS", "assignments_frame"]

ASSIGNMENT_COLUMNS = ["customer_id", "segment_id", "segment_name", "run_id", "as_of"]


def assignments_frame(
    labels: pd.Series,
    *,
    names: dict[int, str] | None,
    run_id: str,
    as_of: dt.date | str | None,
) -> pd.DataFrame:
    """The CRM export: one row per customer (columns :data:`ASSIGNMENT_COLUMNS`).

    Parameters
    ----------
    labels : Series
        Segment id per customer, index ``customer_id``.
    names : dict or None
        Segment id -> name.
    run_id : str
        Run folder name.
    as_of : date or str or None
        Analysis date.
    """
    ids = labels.astype("int64")
    label_of = {int(s): segment_label(int(s), names) for s in ids.unique()}
    return pd.DataFrame(
        {
            "customer_id": ids.index.astype(str),
            "segment_id": ids.to_numpy(),
            "segment_name": [label_of[int(s)] for s in ids],
            "run_id": str(run_id),
            "as_of": "" if as_of is None else str(as_of),
        },
        columns=ASSIGNMENT_COLUMNS,
    )

"""One parser for analysis dates given as a date, a timestamp or 'YYYY-MM-DD' text."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segkit.exceptions import DataError, SegkitError

__all__ = ["parse_date"]


def parse_date(
    value: Any,
    *,
    where: str = "as_of",
    example: str = "as_of='2011-12-10'",
    error: type[SegkitError] = DataError,
) -> dt.date | None:
    """``value`` as a ``datetime.date``; None (or "") stays None.

    Raises ``error`` (a SegkitError subclass) naming ``where`` and the value,
    with ``example`` as the fix, when the text is not an ISO date.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):  # pandas Timestamps are datetimes
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise error(
            f"{where} is {value!r}, which is not a date; give YYYY-MM-DD, e.g. "
            f"{example}"
        ) from None

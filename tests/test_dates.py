"""The one analysis-date parser: known answers and the error that names the key."""

import datetime as dt

import pandas as pd
import pytest

from segkit.dates import parse_date
from segkit.exceptions import DataError, SchemaError


def test_dates_timestamps_and_iso_text_give_the_same_date():
    day = dt.date(2011, 12, 10)
    assert parse_date("2011-12-10") == day
    assert parse_date(pd.Timestamp("2011-12-10 15:30")) == day
    assert parse_date(dt.datetime(2011, 12, 10, 8)) == day
    assert parse_date(day) == day
    assert parse_date(None) is None and parse_date("") is None


def test_text_that_is_no_date_names_the_key_and_the_fix():
    with pytest.raises(DataError, match=r"as_of is '10/12/2011'.*YYYY-MM-DD"):
        parse_date("10/12/2011")
    with pytest.raises(SchemaError, match=r"start is 'soon'.*--start 2011-01-01"):
        parse_date(
            "soon", where="start", example="--start 2011-01-01", error=SchemaError
        )

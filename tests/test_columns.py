"""Numeric-column detection: one rule, booleans counted only when asked."""

import pandas as pd

from segkit.columns import is_numeric, numeric_columns


def test_numbers_and_flags_are_told_apart():
    frame = pd.DataFrame(
        {
            "amount": [1.5, 2.0],
            "orders": [1, 2],
            "vip": [True, False],
            "country": ["UK", "FR"],
            "band": pd.Categorical(["a", "b"]),
        }
    )
    assert numeric_columns(frame) == ["amount", "orders", "vip"]
    assert numeric_columns(frame, bool_counts=False) == ["amount", "orders"]
    assert not is_numeric(frame["country"])
    assert not is_numeric(frame["band"])
    assert is_numeric(pd.Series([1, None], dtype="Int64"))

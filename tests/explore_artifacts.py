"""Hand-made artifacts of the data step shared by the notebook-01 report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A ledger whose rows add up: 10 raw = 6 kept + 1 + 2 + 1 removed.
LEDGER = pd.DataFrame(
    {
        "rule": ["raw", "missing_customer_id", "cancellations", "duplicates", "kept"],
        "description": ["read", "no id", "cancelled", "copy", "kept"],
        "rows": [10, 1, 2, 1, 6],
        "value": [200.0, 15.0, -30.0, 3.0, 212.0],
        "rows_after": [10, 9, 7, 6, 6],
    }
)
PROFILE = pd.DataFrame(
    {
        "column": ["CustomerID", "Quantity", "Email"],
        "role": ["customer_id", "quantity", ""],
        "dtype": ["str", "int64", "str"],
        "missing": [2, 0, 0],
        "missing_share": [0.25, 0.0, 0.0],
        "distinct": [1234, 12, 8],
        "examples": ["<hidden: customer id>", "1, 2, 3", "<hidden: email>"],
        "outliers": [np.nan, 3.0, np.nan],
        "outlier_share": [np.nan, 0.375, np.nan],
        "pii": ["", "", "email"],
    }
)

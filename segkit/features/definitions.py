"""The definitions of the behavioural features: name, group, unit, definition.

Kept apart from :mod:`segkit.features.behaviour` (which computes the features
with Ibis) so that report pages can read the definitions without importing Ibis;
``segkit.features.behaviour`` re-exports both names.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FEATURE_DEFINITIONS", "feature_definitions"]

# name | group | unit | definition; indented lines continue the definition.
_DEFINITIONS = """
recency_days | rfm | days | Days from the customer's last order date to as_of (an
    order's date is that of its first line; an order the day before as_of is 1 day
    old). Lower is more recent.
frequency | rfm | orders | Distinct orders in the window, the first included (RFM
    convention; CLV models count repeat purchases = distinct purchase periods - 1,
    which we do not because we describe customers rather than forecast them).
    One-time buyers have 1.
monetary | rfm | currency | Net revenue: sales value of the window minus the value
    returned or cancelled in the window, floored at 0 (total, not per order: a
    customer's worth; the per-order convention is avg_order_value).
tenure_days | lifecycle | days | Days from the customer's first order date in the
    window to as_of.
avg_order_value | basket | currency | Sales value (before returns) divided by
    frequency.
items_per_order | basket | items | Units bought (sum of quantity) divided by
    frequency; omitted when the source has only amounts.
distinct_products | basket | products | Distinct product ids bought in the window;
    omitted without a product column.
avg_unit_price | price | currency | Mean unit price over the customer's order lines
    (unweighted, so bulk quantities do not dominate the price level); omitted
    without unit prices.
return_rate | returns | share | Value returned or cancelled in the window divided by
    sales value, capped at 1 (returns of purchases made before the window can
    exceed it). 0 without returns data.
mean_interpurchase_days | timing | days | (last order date - first order date) /
    (frequency - 1). One-order customers: days since their only order (the gap seen
    so far without a repeat, a lower bound), so it is never NaN.
revenue_trend | timing | ratio | (R - E) / (R + E), where R and E are the sales
    value of orders in the recent and earlier half of the customer's own window
    (first to last order date; an order on the midpoint counts as recent). Bounded
    in [-1, 1]: 1 = all revenue late, -1 = all early; 0 when all orders fall on one
    day.
seasonality | timing | share | Share of sales value in the customer's strongest
    calendar quarter (Q1-Q4 pooled over years): 0.25 = spread evenly, 1 = one
    quarter only.
active_months | timing | months | Distinct calendar months (year and month) with at
    least one order.
"""


def _parse_definitions(text: str) -> pd.DataFrame:
    rows: list[list[str]] = []
    for line in text.strip().splitlines():
        if line.startswith(" "):
            rows[-1][3] += " " + line.strip()
        else:
            rows.append([part.strip() for part in line.split("|", 3)])
    return pd.DataFrame(rows, columns=["name", "group", "unit", "definition"])


#: One row per behavioural feature: name, group, unit, definition.
FEATURE_DEFINITIONS = _parse_definitions(_DEFINITIONS)


def feature_definitions(names: list[str] | None = None) -> pd.DataFrame:
    """Return the definitions table, optionally only for the given feature names.

    Parameters
    ----------
    names : list of str, optional
        Features to keep, in this order; names without a definition are skipped.

    Returns
    -------
    DataFrame
        A new frame with columns ``name``, ``group``, ``unit``, ``definition``.
    """
    table = FEATURE_DEFINITIONS.copy()
    if names is None:
        return table
    table = table.set_index("name")
    kept = [n for n in names if n in table.index]
    return table.loc[kept].reset_index()

"""Display names for the columns a reader meets: one glossary for every page.

Tables, axes, segment names and definitions all say ``"Active months"`` where the
code says ``active_months``. :func:`display_name` gives the label,
:func:`high_low` the phrases a segment name uses for "above / at most the median"
(``"Many active months"`` / ``"Few active months"``). Full definitions stay
with the features (``segkit.features.behaviour.FEATURE_DEFINITIONS``). Columns
the glossary does not know (an attribute table's own columns) get their name with underscores as spaces and the
first letter capitalised, so nothing raw reaches a page.

This module is base: it imports nothing from the stages.
"""

from __future__ import annotations

import re

__all__ = ["GLOSSARY", "display_name", "high_low", "register_labels", "set_labels"]

#: column -> (display name, phrase for high values, phrase for low values).
GLOSSARY: dict[str, tuple[str, str, str]] = {
    "recency_days": ("Days since last order", "Long since last order", "Recent"),
    "frequency": ("Orders", "Frequent", "Few orders"),
    "monetary": ("Net revenue", "High spend", "Low spend"),
    "tenure_days": ("Days since first order", "Long-standing", "Newer"),
    "avg_order_value": ("Average order value", "Large baskets", "Small baskets"),
    "items_per_order": ("Items per order", "Many items per order", "Few items"),
    "distinct_products": ("Distinct products", "Broad range", "Narrow range"),
    "avg_unit_price": ("Average unit price", "Premium prices", "Low prices"),
    "return_rate": ("Return rate", "Frequent returns", "Few returns"),
    "mean_interpurchase_days": (
        "Days between orders",
        "Long gaps between orders",
        "Short gaps between orders",
    ),
    "revenue_trend": ("Revenue trend", "Growing spend", "Declining spend"),
    "seasonality": ("Seasonality", "Seasonal", "Spread over the year"),
    "active_months": ("Active months", "Many active months", "Few active months"),
    "clv": ("Lifetime value", "High lifetime value", "Low lifetime value"),
    "p_alive": ("Probability active", "Likely active", "Likely lapsed"),
    "expected_revenue": ("Expected revenue", "High expected revenue", "Low expected"),
    "expected_purchases": ("Expected orders", "Many expected orders", "Few expected"),
    "r_score": ("Recency score", "Recent (R score)", "Not recent (R score)"),
    "f_score": ("Frequency score", "Frequent (F score)", "Infrequent (F score)"),
    "m_score": ("Monetary score", "High spend (M score)", "Low spend (M score)"),
    "segment": ("Segment", "", ""),
    "segment_name": ("Segment", "", ""),
    "customers": ("Customers", "", ""),
    # report columns (tables of pages 02-05): labels only
    "segment_id": ("Segment id", "", ""),
    "customer_id": ("Customer id", "", ""),
    "run_id": ("Run", "", ""),
    "as_of": ("Analysis date", "", ""),
    "revenue_share": ("Share of revenue", "", ""),
    "mean_recency": ("Mean days since last order", "", ""),
    "mean_frequency": ("Mean orders", "", ""),
    "mean_monetary": ("Mean net revenue", "", ""),
    "worst_jaccard": ("Lowest segment Jaccard", "", ""),
    "calinski_harabasz": ("Calinski-Harabasz", "", ""),
    "davies_bouldin": ("Davies-Bouldin", "", ""),
    "r2_null": ("R² of a structureless reference", "", ""),
    "bought_again": ("Bought again", "", ""),
    "log_revenue": ("Log revenue", "", ""),
    "lift_bought_again": ("Lift in buying again", "", ""),
    "lift_revenue": ("Lift in revenue", "", ""),
    "best_bought_again": ("Best segment: bought again", "", ""),
    "worst_bought_again": ("Worst segment: bought again", "", ""),
    "best_revenue": ("Best segment: revenue", "", ""),
    "worst_revenue": ("Worst segment: revenue", "", ""),
    "min_segment_share": ("Smallest segment share", "", ""),
}


#: Display names a config gives its own columns (``report.labels``), set for the
#: process by :func:`set_labels` (``segkit.context.open_run`` does it).
_LABELS: dict[str, str] = {}

#: Display names of config-declared features (``features.extra`` ``display``, the
#: spend-mix levels), added by :func:`register_labels` when the features are built;
#: ``report.labels`` still wins.
_REGISTERED: dict[str, str] = {}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def set_labels(labels: dict[str, str] | None) -> None:
    """Use ``labels`` (column -> display name) before the glossary and the fallback."""
    _LABELS.clear()
    _LABELS.update({str(k): str(v) for k, v in (labels or {}).items()})


def register_labels(labels: dict[str, str] | None) -> None:
    """Add display names of config-declared features (kept by :func:`set_labels`)."""
    _REGISTERED.update({str(k): str(v) for k, v in (labels or {}).items()})


def _humanise(column: str) -> str:
    """``annual_income`` / ``NumWebPurchases`` -> "Annual income" / "Num web purchases"."""
    words = _CAMEL.sub(" ", str(column).replace("_", " ")).split()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:] if text else text


def display_name(column: str) -> str:
    """The label a page shows for ``column`` (its own name made readable if unknown).

    >>> display_name("active_months"), display_name("annual_income")
    ('Active months', 'Annual income')
    """
    if str(column) in _LABELS:
        label = _LABELS[str(column)]
        return label[:1].upper() + label[1:]
    if str(column) in _REGISTERED:
        return _REGISTERED[str(column)]
    entry = GLOSSARY.get(str(column))
    return entry[0] if entry else _humanise(column)


def high_low(column: str) -> tuple[str, str]:
    """Phrases for members above / at most the median of ``column``.

    >>> high_low("active_months")
    ('Many active months', 'Few active months')
    >>> high_low("annual_income")
    ('High annual income', 'Low annual income')
    """
    own = str(column) in _LABELS or str(column) in _REGISTERED
    entry = None if own else GLOSSARY.get(str(column))
    if entry and entry[1]:
        return entry[1], entry[2]
    label = display_name(column)
    lower = label[:1].lower() + label[1:]
    return f"High {lower}", f"Low {lower}"

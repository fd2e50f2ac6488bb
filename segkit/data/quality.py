"""Data quality: column profile, personal-data detection, duplicates, sufficiency.

The ``data`` step calls these functions on the raw tables (before cleaning) and on
the clean canonical transactions, and notebook 01-explore shows what they found:

* :func:`quality_profile` -- one row per raw column: role, type, missingness,
  distinct values, a few examples (masked for personal data and customer ids) and
  outliers outside ``[Q1 - k*IQR, Q3 + k*IQR]``;
* :func:`detect_pii` -- columns that look like personal data, by name and by value;
* :func:`duplicate_summary` -- exact duplicate rows;
* :func:`sufficiency` and :func:`sufficiency_verdict` -- the data-sufficiency gate
  (enough customers, enough history, enough repeat buyers).

The tables and figures notebook 01-explore makes of these results live in
:mod:`segkit.data.report`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit.columns import is_numeric
from segkit.config_base import field_default
from segkit.config_sections import QualitySettings
from segkit.exceptions import DataError, SchemaError

__all__ = [
    "quality_profile",
    "detect_pii",
    "duplicate_summary",
    "sufficiency",
    "sufficiency_verdict",
    "example_values",
    "PROFILE_COLUMNS",
    "passed_flag",
]

logger = logging.getLogger(__name__)

PROFILE_COLUMNS = [
    "column",
    "role",
    "dtype",
    "missing",
    "missing_share",
    "distinct",
    "examples",
    "outliers",
    "outlier_share",
    "pii",
]
SUFFICIENCY_COLUMNS = ["check", "value", "threshold", "passed", "message"]
_TRANSACTION_COLUMNS = ("customer_id", "order_id", "timestamp")
_EXAMPLE_CHARS = 30
_PII_SAMPLE = 1000
_PII_MIN_SHARE = 0.5

# Column-name patterns, matched against the lower-cased name with every run of
# non-alphanumerics turned into "_" (so "E-Mail Address" -> "e_mail_address").
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("email", r"(^|_)e_?mail(_|$)|^email"),
    ("phone", r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_?(no|number|nr))?(_|$)"),
    (
        "name",
        r"^((first|last|given|family|middle|full|customer|contact|person|user)_?)?name$",
    ),
    ("name", r"(^|_)(surname|forename|firstname|lastname|fullname)(_|$)"),
    ("ip_address", r"(^|_)ip(_?address|_?addr)?$"),
    (
        "address",
        r"(^|_)(address|addr|street|postcode|post_code|zip|zipcode|postal_code)(_|$)",
    ),
    ("birth_date", r"(^|_)(dob|date_of_birth|birth_?date|birthday)(_|$)"),
    (
        "national_id",
        r"(^|_)(ssn|social_security|passport|national_id|tax_id|nino)(_|$)",
    ),
    ("payment", r"(^|_)(iban|card_?number|credit_?card|account_?number)(_|$)"),
)
_EMAIL_VALUE = re.compile(r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+$")
_PHONE_VALUE = re.compile(r"^\+?\(?\d{1,4}\)?(?:[\s.-]?\(?\d{2,5}\)?){1,5}$")
_DATE_VALUE = re.compile(r"^(19|20)\d{2}[-/.]?[01]\d[-/.]?[0-3]\d\b")


def _is_text(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) or series.dtype == object


def _name_kind(column: str) -> str:
    key = re.sub(r"[^0-9a-z]+", "_", str(column).lower()).strip("_")
    for kind, pattern in _NAME_PATTERNS:
        if re.search(pattern, key):
            return kind
    return ""


def _looks_like_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if not 9 <= digits <= 15 or not _PHONE_VALUE.match(text):
        return False
    if _DATE_VALUE.match(text):  # "2010-12-01 08", "20101201 082600"
        return False
    # a bare run of digits is an id unless written like a number to dial
    return not text.isdigit() or text.startswith(("0", "+"))


def _value_kind(series: pd.Series) -> str:
    values = series.dropna().astype("str").str.strip()
    values = values[values != ""].drop_duplicates().head(_PII_SAMPLE)
    if values.empty:
        return ""
    if values.map(lambda v: bool(_EMAIL_VALUE.match(v))).mean() >= _PII_MIN_SHARE:
        return "email"
    if values.map(_looks_like_phone).mean() >= _PII_MIN_SHARE:
        return "phone"
    return ""


def detect_pii(frame: pd.DataFrame, *, declared: Iterable[str] = ()) -> dict[str, str]:
    """Find columns that look like personal data.

    A column is flagged when its name says so (``email``, ``phone``, ``first_name``,
    ``address``, ``postcode``, ``date_of_birth``...) or when at least half of up to
    1,000 distinct text values look like e-mail addresses or phone numbers. Numeric
    columns are only flagged by name, so numeric ids never are; product codes,
    descriptions and countries are not personal data.

    Parameters
    ----------
    frame : DataFrame
        A raw table; it is not modified.
    declared : sequence of str
        Columns the config declares as personal (``quality.pii_columns``); always
        flagged, with kind ``"declared"`` unless a pattern names the kind. Declared
        names absent from ``frame`` are ignored (they may belong to another table).

    Returns
    -------
    dict
        Column -> kind (``"email"``, ``"phone"``, ``"name"``, ``"address"``,
        ``"ip_address"``, ``"birth_date"``, ``"national_id"``, ``"payment"``,
        ``"declared"``), in the frame's column order.
    """
    declared = {str(col) for col in declared}
    found: dict[str, str] = {}
    for column in frame.columns:
        series = frame[column]
        kind = _name_kind(column)
        if not kind and _is_text(series):
            kind = _value_kind(series)
        if not kind and str(column) in declared:
            kind = "declared"
        if kind:
            found[str(column)] = kind
    if found:
        logger.info("columns that look like personal data: %s", found)
    return found


def example_values(series: pd.Series, n: int) -> str:
    """The first ``n`` distinct values of a column as text (long ones cut), for the profile."""
    shown = []
    for value in series.dropna().unique()[: max(n, 0)]:
        text = str(value)
        if len(text) > _EXAMPLE_CHARS:
            text = text[: _EXAMPLE_CHARS - 1] + "…"
        shown.append(text)
    return ", ".join(shown)


def _outliers(series: pd.Series, k: float) -> float:
    values = series.dropna().astype("float64")
    if values.empty:
        return 0.0
    q1, q3 = np.quantile(values, [0.25, 0.75])
    spread = k * (q3 - q1)
    return float(((values < q1 - spread) | (values > q3 + spread)).sum())


def quality_profile(
    frame: pd.DataFrame,
    *,
    roles: Mapping[str, str] | None = None,
    pii: Mapping[str, str] | None = None,
    outlier_iqr: float = field_default(QualitySettings, "outlier_iqr"),
    n_examples: int = 3,
) -> pd.DataFrame:
    """Profile every column of a raw table.

    Parameters
    ----------
    frame : DataFrame
        The table as read, before cleaning; it is not modified.
    roles : mapping, optional
        Role -> column, as in the config's ``columns`` section.
    pii : mapping, optional
        Column -> personal-data kind; None runs :func:`detect_pii` so that personal
        data is masked even when the caller forgot to look for it.
    outlier_iqr : float
        ``k`` of the outlier fences ``[Q1 - k*IQR, Q3 + k*IQR]`` (config
        ``quality.outlier_iqr``).
    n_examples : int
        Distinct example values shown per column.

    Returns
    -------
    DataFrame
        One row per column, in the frame's order, with columns ``column`` (str),
        ``role`` (str, "" if none), ``dtype`` (str), ``missing`` (int),
        ``missing_share`` (float), ``distinct`` (int, missing excluded),
        ``examples`` (str; ``"<hidden: email>"`` for personal data and
        ``"<hidden: customer id>"`` for the customer id), ``outliers`` and
        ``outlier_share`` (float; NaN for non-numeric columns; the share is of
        non-missing values) and ``pii`` (str kind, "" if none).
    """
    if outlier_iqr <= 0:
        raise DataError(
            f"quality.outlier_iqr is {outlier_iqr!r}; it must be a positive number of "
            "inter-quartile ranges, e.g. 3.0"
        )
    pii = detect_pii(frame) if pii is None else dict(pii)
    role_of: dict[str, list[str]] = {}
    for role, column in (roles or {}).items():
        role_of.setdefault(str(column), []).append(str(role))
    rows = []
    n_rows = len(frame)
    for column in frame.columns:
        series = frame[column]
        name = str(column)
        kind = pii.get(name, "")
        role = ", ".join(role_of.get(name, []))
        missing = int(series.isna().sum())
        if kind:
            examples = f"<hidden: {kind}>"
        elif "customer_id" in role_of.get(name, []):
            examples = "<hidden: customer id>"
        else:
            examples = example_values(series, n_examples)
        outliers = np.nan
        share = np.nan
        if is_numeric(series, bool_counts=False):
            outliers = _outliers(series, outlier_iqr)
            present = n_rows - missing
            share = outliers / present if present else 0.0
        rows.append(
            {
                "column": name,
                "role": role,
                "dtype": str(series.dtype),
                "missing": missing,
                "missing_share": missing / n_rows if n_rows else 0.0,
                "distinct": int(series.nunique(dropna=True)),
                "examples": examples,
                "outliers": outliers,
                "outlier_share": share,
                "pii": kind,
            }
        )
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    return out.astype({"missing": "int64", "distinct": "int64"})


def duplicate_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Count exact duplicate rows (every column equal to an earlier row's).

    Parameters
    ----------
    frame : DataFrame
        A raw table; it is not modified. Missing values compare equal.

    Returns
    -------
    dict
        ``rows`` (table rows), ``duplicate_rows`` (rows that repeat an earlier row:
        the number an exact-duplicate rule removes), ``duplicate_share``
        (``duplicate_rows / rows``) and ``rows_in_duplicate_groups`` (every copy,
        the first included).
    """
    rows = len(frame)
    duplicated = frame.duplicated(keep="first")
    n_dup = int(duplicated.sum())
    in_groups = int(frame.duplicated(keep=False).sum())
    return {
        "rows": rows,
        "duplicate_rows": n_dup,
        "duplicate_share": n_dup / rows if rows else 0.0,
        "rows_in_duplicate_groups": in_groups,
    }


def _check_row(check, value, threshold, passed, message) -> dict[str, Any]:
    return {
        "check": check,
        "value": value,
        "threshold": threshold,
        "passed": passed,
        "message": message,
    }


def _customers_row(n: int, minimum: int) -> dict[str, Any]:
    if n >= minimum:
        message = (
            f"{n:,} customers; at least {minimum:,} are needed for stable segments."
        )
    else:
        message = (
            f"Only {n:,} customers; at least {minimum:,} are needed for stable "
            "segments. Add data or lower quality.min_customers."
        )
    return _check_row("customers", float(n), float(minimum), n >= minimum, message)


def sufficiency(
    transactions: pd.DataFrame | None,
    *,
    customers: pd.DataFrame | None = None,
    min_customers: int,
    min_history_days: int,
    min_repeat_share: float,
    stats: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Check that the data can support a segmentation.

    Parameters
    ----------
    transactions : DataFrame or None
        Clean canonical transactions; needs ``customer_id``, ``order_id`` and
        ``timestamp``. None for attribute-only data.
    customers : DataFrame, optional
        The customers table (one row per customer, indexed by ``customer_id``);
        used only when ``transactions`` is None.
    min_customers, min_history_days, min_repeat_share
        The thresholds (config ``quality.*``).
    stats : mapping, optional
        ``customers``, ``first``, ``last`` and ``repeat_share`` already counted
        where the lines live (:func:`segkit.data.quality_sql.gate_stats`); then
        ``transactions`` only has to name the canonical columns (an Ibis table).

    Returns
    -------
    DataFrame
        Rows ``customers``, ``history days`` and ``repeat-buyer share`` with
        columns ``check`` (str), ``value`` (float), ``threshold`` (float),
        ``passed`` (bool, or NA when a check does not apply to attribute-only data)
        and ``message`` (a plain sentence, with the config key to change on
        failure). Repeat buyers are customers with at least two distinct orders.
    """
    if transactions is None:
        if customers is None:
            raise DataError(
                "sufficiency needs transactions or a customers table, got neither; "
                "declare transactions or customers in the config"
            )
        na = "Does not apply: attribute-only data has no transaction history."
        rows = [
            _customers_row(len(customers), min_customers),
            _check_row("history days", np.nan, float(min_history_days), pd.NA, na),
            _check_row("repeat-buyer share", np.nan, min_repeat_share, pd.NA, na),
        ]
        return _sufficiency_frame(rows)
    missing = [col for col in _TRANSACTION_COLUMNS if col not in transactions.columns]
    if missing and stats is None:
        raise SchemaError(
            f"sufficiency needs the clean canonical transactions; columns {missing} "
            f"are missing (columns: {list(transactions.columns)}); pass the frame of "
            "artifacts/transactions.parquet"
        )
    if stats is None:
        stats = _gate_stats(transactions)
    n_customers = stats["customers"]
    rows = [_customers_row(n_customers, min_customers)]
    first, last = stats["first"], stats["last"]
    days = float((last - first).days) if first is not None else 0.0
    if days >= min_history_days:
        first, last = first.date(), last.date()
        message = (
            f"{days:,.0f} days of history ({first} to {last}); at least "
            f"{min_history_days:,} are needed to see repeat behaviour."
        )
    else:
        message = (
            f"Only {days:,.0f} days of history; at least {min_history_days:,} are "
            "needed to see repeat behaviour and seasonality. Add older data or lower "
            "quality.min_history_days."
        )
    rows.append(
        _check_row(
            "history days",
            days,
            float(min_history_days),
            days >= min_history_days,
            message,
        )
    )

    share = stats["repeat_share"]
    if share >= min_repeat_share:
        message = (
            f"{share:.1%} of customers ordered more than once; at least "
            f"{min_repeat_share:.0%} are needed."
        )
    else:
        message = (
            f"Only {share:.1%} of customers ordered more than once; at least "
            f"{min_repeat_share:.0%} are needed for frequency and recency to tell "
            "customers apart. Extend the history or lower quality.min_repeat_share."
        )
    rows.append(
        _check_row(
            "repeat-buyer share",
            share,
            float(min_repeat_share),
            share >= min_repeat_share,
            message,
        )
    )
    return _sufficiency_frame(rows)


def _gate_stats(transactions: pd.DataFrame) -> dict[str, Any]:
    known = transactions.dropna(subset=["customer_id"])
    stamps = pd.to_datetime(known["timestamp"])
    orders = known.groupby("customer_id")["order_id"].nunique()
    return {
        "customers": int(known["customer_id"].nunique()),
        "first": stamps.min() if len(known) else None,
        "last": stamps.max() if len(known) else None,
        "repeat_share": float((orders >= 2).mean()) if len(orders) else 0.0,
    }


def _sufficiency_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=SUFFICIENCY_COLUMNS)
    return out.astype({"value": "float64", "threshold": "float64", "passed": "boolean"})


def passed_flag(value: Any) -> bool | None:
    """Read a ``passed`` cell of a sufficiency table as True, False or None.

    Accepts booleans, the text ``"True"``/``"False"`` of a table read back from
    CSV, and missing values (a check that does not apply), which give None.
    """
    if (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and np.isnan(value))
    ):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def sufficiency_verdict(table: pd.DataFrame) -> str:
    """One paragraph saying whether the data passes the sufficiency gate.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`sufficiency` (or ``sufficiency.csv`` read back).

    Returns
    -------
    str
        "The data is sufficient ..." listing the checks, or "Warning: ..." with the
        message of every failed check and what to do.
    """
    missing = [
        col for col in ("check", "passed", "message") if col not in table.columns
    ]
    if missing:
        raise SchemaError(
            f"sufficiency table lacks columns {missing} (columns: "
            f"{list(table.columns)}); pass the output of segkit.data.quality.sufficiency"
        )
    status = [passed_flag(value) for value in table["passed"]]
    failed = [
        msg for msg, ok in zip(table["message"], status, strict=True) if ok is False
    ]
    passed = [msg for msg, ok in zip(table["message"], status, strict=True) if ok]
    skipped = [
        chk for chk, ok in zip(table["check"], status, strict=True) if ok is None
    ]
    note = (
        f" The {' and '.join(skipped)} checks do not apply to attribute-only data."
        if skipped
        else ""
    )
    if failed:
        return (
            f"Warning: the data may be too thin for a stable segmentation "
            f"({len(failed)} of {len(status) - len(skipped)} checks failed). "
            + " ".join(failed)
            + " Treat the segments found on this data as exploratory."
            + note
        )
    details = " ".join(msg.rstrip(".") + "." for msg in passed)
    return f"The data is sufficient for segmentation. {details}{note}"

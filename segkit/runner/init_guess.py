"""Guess the role of each column of a sample table (``segkit init``).

A column's role (``segkit.config_sources.ROLES``) is guessed from its name
(case-, space- and underscore-insensitive synonyms such as ``CustomerID``,
``cust_id``, ``household_key``; ``InvoiceNo``, ``basket_id``; ``InvoiceDate``,
``date``) and checked against its values: ids are many distinct integers or
short strings, timestamps parse as dates (ISO, a day-month format or integer
dates like ``19970101``), money is non-negative numbers with at most a few
decimals, quantities are small integers, countries, categories and channels are
few distinct strings. Each guess has a confidence in [0, 1]; below
:data:`SURE` it is written to the config with an ``# UNCERTAIN`` comment.

A role is never given on its values alone, except the timestamp (a column of
dates is rarely anything else): a column named ``a`` holding decimals stays
unmapped, and :func:`guess_transactions` says which roles it could not place.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import pandas as pd

from segkit.exceptions import ConfigError

__all__ = [
    "SURE",
    "ColumnProfile",
    "Guess",
    "profile_column",
    "guess_transactions",
    "guess_customers",
    "CustomerGuess",
    "normalise_name",
    "missing_roles",
]

#: Confidence at or above which a guess is written without an UNCERTAIN comment.
SURE = 0.75

# Whole-name synonyms (after normalise_name) and name parts, per role.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid", "custid", "customer", "customerno", "customernumber",
        "customerkey", "clientid", "client", "userid", "user", "householdkey",
        "household", "hhkey", "memberid", "member", "accountid", "buyerid",
        "shopperid", "cardid",
    ),
    "order_id": (
        "invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "order",
        "orderno", "ordernumber", "basketid", "basket", "transactionid", "txnid",
        "transid", "receiptid", "receipt", "ticketid",
    ),
    "timestamp": (
        "invoicedate", "date", "day", "datetime", "timestamp", "time", "orderdate",
        "transactiondate", "purchasedate", "txndate", "saledate", "createdat",
        "eventtime", "ts",
    ),
    "quantity": ("quantity", "qty", "units", "unitssold", "items", "nitems"),
    "unit_price": ("unitprice", "price", "itemprice", "priceeach", "priceperunit"),
    "amount": (
        "amount", "salesvalue", "revenue", "sales", "total", "totalprice",
        "totalamount", "value", "spend", "linetotal", "lineamount", "ordervalue",
        "amt", "netsales",
    ),
    "product_id": (
        "stockcode", "sku", "productid", "product", "itemid", "item", "articleid",
        "productcode", "itemcode", "productno",
    ),
    "description": (
        "description", "productname", "itemname", "desc", "productdescription",
        "itemdescription",
    ),
    "country": ("country", "countrycode", "nation"),
    "category": (
        "category", "department", "productcategory", "categoryname", "commodity",
        "commoditydesc", "dept", "subcategory",
    ),
    "channel": ("channel", "saleschannel", "platform"),
}  # fmt: skip
_PARTS: dict[str, tuple[str, ...]] = {
    "customer_id": ("cust", "client", "household", "member", "user"),
    "order_id": ("invoice", "order", "basket", "receipt", "txn"),
    "timestamp": ("date", "time", "day"),
    "quantity": ("qty", "quant", "units"),
    "unit_price": ("price",),
    "amount": ("amount", "revenue", "sales", "value", "spend", "total"),
    "product_id": ("sku", "product", "stock", "item", "article"),
    "description": ("desc", "name"),
    "country": ("country",),
    "category": ("categ", "dept", "department", "commodity"),
    "channel": ("channel",),
}
_NAME_EXACT, _NAME_PART, _VALUES_ONLY = 0.6, 0.35, 0.3
_FEW = 50  # at most this many distinct strings: a country, category or channel

# Day-month formats first: a file that parses both ways is marked uncertain.
_DATE_FORMATS = (
    "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d-%m-%Y %H:%M", "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d-%b-%Y", "%d %b %Y", "%b %d %Y",
)  # fmt: skip
_DATEISH = re.compile(r"^\s*(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[- ][A-Za-z]{3})")


def normalise_name(name: object) -> str:
    """A column name without case, spaces, underscores or punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def name_tokens(name: object) -> list[str]:
    """The words of a column name: ``Marital_Status`` -> ``['marital', 'status']``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


@dataclass(frozen=True)
class ColumnProfile:
    """What the sample says about one column's values.

    ``kind`` is one of ``empty``, ``integer``, ``decimal``, ``text``, ``date``;
    ``date_format`` is the format of a ``date`` column (None: ISO or native).
    """

    kind: str
    rows: int
    distinct: int
    examples: tuple[str, ...]
    date_format: str | None = None
    date_formats: tuple[str, ...] = ()
    decimals: int = 0
    negative_share: float = 0.0
    median: float = 0.0
    mean_length: float = 0.0
    spaced_share: float = 0.0

    def describe(self) -> str:
        """The values in a few words, e.g. ``integers like 536365, 536366``."""
        if self.kind == "empty":
            return "no values"
        plural = {"integer": "integers", "decimal": "decimals", "date": "dates"}
        return f"{plural.get(self.kind, 'text')} like {', '.join(self.examples[:2])}"


def _integer_dates(values: pd.Series) -> str | None:
    if not ((values >= 19000101) & (values <= 21001231)).all():
        return None
    text = values.astype("int64").astype("str")
    parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    return "%Y%m%d" if parsed.notna().all() else None


def _text_dates(text: pd.Series) -> tuple[str, ...] | None:
    """Formats that parse every value; ``()`` for ISO 8601; None: not dates."""
    head = text.head(200)
    if not head.str.match(_DATEISH).all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if pd.to_datetime(text, format="ISO8601", errors="coerce").notna().all():
            return ()
        parsed = {
            f: pd.to_datetime(text, format=f, errors="coerce") for f in _DATE_FORMATS
        }
    spans = {f: d.max() - d.min() for f, d in parsed.items() if d.notna().all()}
    # Day-month or month-day? Order lines cover a short stretch of time: the
    # reading with the shortest span comes first (12/1/2010 .. 12/9/2010 is nine
    # days month-first, nine months day-first); the guess stays UNCERTAIN.
    return tuple(sorted(spans, key=spans.get)) or None


def profile_column(values: pd.Series) -> ColumnProfile:
    """Profile one column of a sample (kind, distinct values, decimals, dates)."""
    present = values.dropna()
    if pd.api.types.is_object_dtype(present) or pd.api.types.is_string_dtype(present):
        present = present.astype("str").str.strip()
        present = present[present != ""]
    rows, distinct = len(present), int(present.nunique())
    examples = tuple(str(v)[:30] for v in pd.unique(present)[:3])
    base = {"rows": rows, "distinct": distinct, "examples": examples}
    if rows == 0:
        return ColumnProfile(kind="empty", **base)
    if pd.api.types.is_datetime64_any_dtype(present):
        return ColumnProfile(kind="date", **base)
    if pd.api.types.is_bool_dtype(present):
        return ColumnProfile(kind="text", **base)
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        numbers = numbers.astype("float64")
        negative = float((numbers < 0).mean())
        median = float(numbers.abs().median())
        if (numbers == numbers.round()).all():
            fmt = _integer_dates(numbers)
            if fmt:
                return ColumnProfile(
                    kind="date", date_format=fmt, date_formats=(fmt,), **base
                )
            return ColumnProfile(
                kind="integer", negative_share=negative, median=median, **base
            )
        decimals = next(
            (d for d in range(1, 7) if (numbers.round(d) == numbers).all()), 7
        )
        return ColumnProfile(
            kind="decimal",
            decimals=decimals,
            negative_share=negative,
            median=median,
            **base,
        )
    text = present.astype("str")
    formats = _text_dates(text)
    if formats is not None:
        return ColumnProfile(
            kind="date",
            date_format=formats[0] if formats else None,
            date_formats=formats,
            **base,
        )
    return ColumnProfile(
        kind="text",
        mean_length=float(text.str.len().mean()),
        spaced_share=float(text.str.contains(" ").mean()),
        **base,
    )


def _value_fit(role: str, p: ColumnProfile) -> tuple[float, str] | None:
    """How well the values fit a role: (score, why), or None when they cannot."""
    idlike = p.kind == "integer" or (
        p.kind == "text" and p.mean_length <= 40 and p.spaced_share < 0.2
    )
    if role in ("customer_id", "order_id", "product_id"):
        return (0.3, "many distinct ids") if idlike and p.distinct >= 2 else None
    if role == "timestamp":
        return (0.4, "values parse as dates") if p.kind == "date" else None
    if role == "quantity":
        if p.kind == "integer" and p.median <= 1_000:
            return 0.3, "small whole numbers"
        return (0.1, "numbers, not all whole") if p.kind == "decimal" else None
    if role in ("unit_price", "amount"):
        limit = 0.01 if role == "unit_price" else 0.2
        if p.kind not in ("integer", "decimal") or p.negative_share > limit:
            return None
        if p.kind == "integer":
            return 0.1, "whole numbers (money is usually in cents)"
        if p.decimals <= 2:
            return 0.3, "non-negative amounts with 2 decimals"
        return (0.1, f"numbers with {p.decimals} decimals") if p.decimals <= 4 else None
    if role == "description":
        if p.kind != "text":
            return None
        wordy = p.mean_length >= 8 or p.spaced_share >= 0.3
        return (0.3, "free text") if wordy else (0.1, "short text")
    if p.kind != "text":  # country, category, channel
        return None
    few = p.distinct <= max(_FEW, 0.05 * p.rows)
    return (0.3, f"{p.distinct} distinct values") if few else (0.05, "many values")


def _name_fit(role: str, column: object) -> tuple[float, str] | None:
    norm = normalise_name(column)
    if norm in _SYNONYMS[role]:
        return _NAME_EXACT, f"name {str(column)!r}"
    if any(part in norm for part in _PARTS[role]):
        return _NAME_PART, f"name {str(column)!r} (partly)"
    return None


@dataclass(frozen=True)
class Guess:
    """One column -> role guess with its confidence and the reasons."""

    column: str
    role: str
    confidence: float
    reason: str
    profile: ColumnProfile
    alternatives: tuple[str, ...] = ()
    doubt: str = ""

    @property
    def uncertain(self) -> bool:
        """True when the config marks this guess ``# UNCERTAIN``."""
        return self.confidence < SURE or bool(self.doubt)


def _candidates(frame: pd.DataFrame, profiles: dict[str, ColumnProfile]):
    found = []
    for column in frame.columns:
        p = profiles[column]
        for role in _SYNONYMS:
            values = _value_fit(role, p)
            if values is None:
                continue
            name = _name_fit(role, column)
            if name is None and not (role == "timestamp" and p.kind == "date"):
                continue  # never a role on values alone, dates apart
            score = (name[0] if name else _VALUES_ONLY) + values[0]
            why = (
                name[1] + " and " if name else ""
            ) + f"values like {', '.join(p.examples[:2])}"
            hint = (
                "none"
                if name is None
                else "exact"
                if name[0] == _NAME_EXACT
                else "part"
            )
            found.append((min(score, 1.0), column, role, why, values[1], hint))
    return sorted(found, key=lambda c: -c[0])


def _doubt(column, role, score, values_why, hint, close, p: ColumnProfile) -> str:
    """Why a guess is uncertain (empty when it is not)."""
    if role == "timestamp" and len(p.date_formats) > 1:
        return (
            f"the dates parse as {p.date_formats[0]!r} and as {p.date_formats[1]!r}; "
            "check read.date_format"
        )
    if close:
        return f"{column!r} fits {', '.join(close)} about as well"
    if score >= SURE:
        return ""
    if hint == "part":
        return f"{column!r} only partly matches a {role} name; values: {values_why}"
    if hint == "none":
        return f"no {role} name; only the values suggest it ({values_why})"
    return f"the name fits, the values only loosely ({values_why})"


def guess_transactions(
    frame: pd.DataFrame,
) -> tuple[list[Guess], dict[str, ColumnProfile]]:
    """Guess the role of each column of a transactions sample.

    Parameters
    ----------
    frame : DataFrame
        The first rows of the file as read (``segkit.data.io.read_table``).

    Returns
    -------
    (list of Guess, dict of column -> ColumnProfile)
        One guess per placed role, in the order of ``ROLES``, and every column's
        profile (the unplaced ones are listed in the config).

    Raises
    ------
    ConfigError
        When no column fits ``customer_id`` or ``timestamp``, or neither
        ``amount`` nor ``quantity`` + ``unit_price``; the message names the
        columns it could not place and shows a mapping to write by hand.
    """
    frame = frame.rename(columns=str)
    profiles = {col: profile_column(frame[col]) for col in frame.columns}
    candidates = _candidates(frame, profiles)
    chosen: dict[str, Guess] = {}
    used: set[str] = set()
    for score, column, role, why, values_why, hint in candidates:
        if role in chosen or column in used:
            continue
        rivals = [
            c
            for c in candidates
            if c[1] == column and c[2] != role and c[2] not in chosen and c[0] > 0.4
        ]
        close = [c[2] for c in rivals if c[0] >= score - 0.1]
        p = profiles[column]
        doubt = _doubt(column, role, score, values_why, hint, close, p)
        chosen[role] = Guess(
            column=column,
            role=role,
            confidence=round(score, 2),
            reason=why,
            profile=p,
            alternatives=tuple(c[2] for c in rivals),
            doubt=doubt,
        )
        used.add(column)
    guesses = [chosen[r] for r in _SYNONYMS if r in chosen]
    missing = missing_roles(set(chosen))
    if missing:
        raise ConfigError(_failure_message(frame, profiles, used, missing))
    return guesses, profiles


def missing_roles(placed: set[str]) -> list[str]:
    """The roles a transactions mapping still needs (``REQUIRED_ROLES`` and money)."""
    missing = [r for r in ("customer_id", "timestamp") if r not in placed]
    if "amount" not in placed and not {"quantity", "unit_price"} <= placed:
        missing.append("amount (or quantity + unit_price)")
    return missing


def _failure_message(frame, profiles, used, missing) -> str:
    left = [c for c in frame.columns if c not in used]
    described = (
        "; ".join(
            f"{c!r}: {profiles[c].describe()} ({profiles[c].distinct:,} distinct)"
            for c in left
        )
        or "none, every column took another role"
    )
    spare = iter(left + ["<column>"] * len(missing))  # a template to edit, in order
    template = ", ".join(f"{role.split()[0]}: {next(spare)}" for role in missing)
    return (
        f"segkit init could not place the roles {', '.join(missing)}: no column's "
        f"name and values fit them. Columns it could not place: {described}. Write "
        "the mapping by hand in a config (see configs/online_retail.yaml), e.g. "
        f"'transactions: columns: {{{template}}}' with the right column for each role, "
        "or rename the columns (e.g. CustomerID, InvoiceDate, Amount) and rerun "
        "segkit init"
    )


#: Attribute groups of a customers table by words of the column name: exact words,
#: then word prefixes (``Kidhome`` -> kid). Checked in this order.
_GROUP_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "demographic": (
        ("age", "sex", "gender", "income", "education", "marital", "kids"),
        ("educat", "marital", "kid", "child", "teen", "household", "homeowner",
         "income", "gender"),
    ),
    "geographic": (
        ("city", "state", "zip", "region", "country", "province", "county"),
        ("country", "region", "postcode", "postal", "zipcode"),
    ),
    "firmographic": (
        ("industry", "employees", "revenue", "size", "sector", "turnover"),
        ("industr", "employee", "revenue", "sector", "company", "turnover"),
    ),
}  # fmt: skip
_BIRTH_NAMES = ("yearbirth", "birthyear", "yearofbirth", "yob", "birthyr")
_SIGNUP_WORDS = ("signup", "join", "since", "regist", "created", "dtcustomer", "enrol")
_OUTCOME_WORDS = ("response", "accepted", "churn", "convert", "complain", "respond")


@dataclass
class CustomerGuess:
    """The guessed layout of a customers table (``customers:`` of a config)."""

    customer_id: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    birth_year: str | None = None
    signup_date: str | None = None
    date_format: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # column -> why
    unmapped: dict[str, str] = field(default_factory=dict)  # column -> why not


def _group_of(column: str) -> str | None:
    tokens = name_tokens(column)
    for group, (exact, prefixes) in _GROUP_WORDS.items():
        if any(t in exact or t.startswith(prefixes) for t in tokens):
            return group
    return None


def guess_customers(frame: pd.DataFrame) -> CustomerGuess:
    """Guess the customer id, birth year, signup date and attribute groups.

    Parameters
    ----------
    frame : DataFrame
        The first rows of the customers file as read.

    Returns
    -------
    CustomerGuess
        Columns that fit no group stay in ``unmapped`` with the reason.

    Raises
    ------
    ConfigError
        When no column is a unique customer id.
    """
    frame = frame.rename(columns=str)
    profiles = {col: profile_column(frame[col]) for col in frame.columns}
    ids = [
        c
        for c in frame.columns
        if (_name_fit("customer_id", c) or normalise_name(c) == "id")
        and profiles[c].kind in ("integer", "text")
        and profiles[c].distinct == profiles[c].rows == len(frame)
    ]
    if not ids:
        raise ConfigError(
            "segkit init found no customer id in the customers file: no column is "
            f"named like one (CustomerID, cust_id, ID) with a unique value per row "
            f"(columns: {list(frame.columns)}); write customers.columns.customer_id "
            "by hand or rename the id column"
        )
    guess = CustomerGuess(customer_id=ids[0])
    guess.notes[ids[0]] = f"name {ids[0]!r}, {profiles[ids[0]].distinct:,} unique ids"
    for column in frame.columns:
        p, norm = profiles[column], normalise_name(column)
        if column == guess.customer_id:
            continue
        if p.distinct <= 1:
            guess.unmapped[column] = "constant in the sample"
        elif guess.birth_year is None and norm in _BIRTH_NAMES and p.kind == "integer":
            guess.birth_year = column
            guess.notes[column] = f"birth years like {p.examples[0]} -> age"
        elif p.kind == "date":
            if guess.signup_date is None and any(w in norm for w in _SIGNUP_WORDS):
                guess.signup_date, guess.date_format = column, p.date_format
                guess.notes[column] = f"dates like {p.examples[0]} -> signup tenure"
            else:
                guess.unmapped[column] = f"{p.describe()}; could be signup_date"
        elif any(w in norm for w in _OUTCOME_WORDS):
            guess.unmapped[column] = "could be an outcome (customers.outcomes)"
        elif (group := _group_of(column)) is not None:
            guess.attributes.setdefault(group, []).append(column)
            guess.notes[column] = f"{group} by its name; {p.describe()}"
        else:
            kind = "behavioural" if p.kind in ("integer", "decimal") else "psycho"
            guess.unmapped[column] = (
                f"{p.describe()}; no group by its name (maybe "
                f"customers.attributes.{kind}{'graphic' if kind == 'psycho' else ''})"
            )
    return guess

"""The data sources of a config: ``transactions`` and ``customers``.

Each is a file (``path``), how to read it (``read``) and which column holds which
role (``columns``); the customers table also declares attribute groups and outcomes.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from segkit.config_base import Int, Names, Section, Share, Text, segkit_error

__all__ = [
    "ROLES",
    "REQUIRED_ROLES",
    "ATTRIBUTE_GROUPS",
    "ReadOptions",
    "TransactionColumns",
    "CustomerColumns",
    "AttributeGroups",
    "TableSource",
    "LookupSource",
    "TransactionsSource",
    "CustomersSource",
]

#: Column roles a transactions table can map. ``customer_id`` and ``timestamp`` are
#: required, and either ``amount`` or ``quantity`` + ``unit_price``. ``order_id`` is
#: optional: without it each customer's lines on one timestamp form one order
#: (see ``segkit.data.io.order_ids``).
ROLES = (
    "customer_id",
    "order_id",
    "timestamp",
    "quantity",
    "unit_price",
    "amount",
    "product_id",
    "description",
    "country",
    "category",
    "channel",
)
REQUIRED_ROLES = ("customer_id", "timestamp")

#: Attribute groups a customers table can declare, one per segmentation type.
ATTRIBUTE_GROUPS = (
    "demographic",
    "geographic",
    "psychographic",
    "firmographic",
    "behavioural",
)


class ReadOptions(Section):
    """How a data file is read (``<table>.read``)."""

    sep: str | None = Field(
        None,
        description="field separator; null: sniffed (comma, tab, semicolon, pipe)",
    )
    encoding: str = Field("utf-8", description="text encoding of the file")
    date_format: str | None = Field(
        None, description="e.g. '%d-%m-%Y'; null: ISO and common formats"
    )
    dayfirst: bool = Field(False, description="read 01/02/2021 as 1 February")
    sheet: str | Int | None = Field(None, description="Excel sheet name or index")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of numbers")


class TransactionColumns(TypedDict, total=False):
    """Column roles of a transactions table -> column names in the file."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    customer_id: Text
    order_id: Text
    timestamp: Text
    quantity: Text
    unit_price: Text
    amount: Text
    product_id: Text
    description: Text
    country: Text
    category: Text
    channel: Text


class CustomerColumns(TypedDict, total=False):
    """Column roles of a customers table -> column names in the file."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    customer_id: Text


class AttributeGroups(Section):
    """Attribute columns of a customers table, one list per segmentation type."""

    demographic: Names = Field([], description="e.g. age, income, education")
    geographic: Names = Field([], description="e.g. country, region")
    psychographic: Names = Field([], description="e.g. interests, attitudes")
    firmographic: Names = Field([], description="e.g. industry, company size")
    behavioural: Names = Field([], description="e.g. channel preference")


class TableSource(Section):
    """A data file and how to read it."""

    path: Text = Field(
        description="the data file: absolute, or relative to the config's folder or "
        "the project root"
    )
    read: ReadOptions = Field(default_factory=ReadOptions)
    _tried: list[str] = PrivateAttr(default_factory=list)  # places the path was tried
    _given: str = PrivateAttr("")  # the path as the file wrote it


#: Canonical columns a lookup table cannot provide (read from the transactions).
_CORE_COLUMNS = (
    "customer_id",
    "order_id",
    "timestamp",
    "quantity",
    "unit_price",
    "amount",
)


class LookupSource(TableSource):
    """One of ``transactions.lookups``: a table joined to the lines by a key."""

    key: Text = Field(
        description="transactions role (e.g. product_id) or raw column the lines "
        "are joined on"
    )
    on: Text | None = Field(
        None,
        description="the lookup table's key column; null: the transactions column "
        "of key (its mapped name)",
    )
    columns: dict[Text, Text] = Field(
        min_length=1,
        description="role or new name -> lookup column, e.g. {category: "
        "COMMODITY_DESC, department: DEPARTMENT}",
    )

    @model_validator(mode="after")
    def _names(self) -> LookupSource:
        core = sorted(set(self.columns) & set(_CORE_COLUMNS))
        if core:
            raise segkit_error(
                f"lookup {self.path!r}: columns {core} come from the transactions "
                "file and cannot be looked up; give the lookup column another name"
            )
        return self


class TransactionsSource(TableSource):
    """``transactions``: one row per order line (or purchase)."""

    columns: TransactionColumns = Field(
        default_factory=dict, description="role -> column name in the file"
    )
    lookups: list[LookupSource] = Field(
        [], description="tables joined to the lines by key (products -> category)"
    )
    extra: Names = Field(
        [],
        description="numeric columns carried into the clean lines as x_<column> "
        "(per-customer features: features.extra)",
    )

    @model_validator(mode="after")
    def _roles(self) -> TransactionsSource:
        missing = [r for r in REQUIRED_ROLES if r not in self.columns]
        if missing:
            raise segkit_error(
                f"config key 'transactions.columns' lacks the roles {missing}; map "
                "each to the column of the file that holds it"
            )
        if "amount" not in self.columns and not {"quantity", "unit_price"} <= set(
            self.columns
        ):
            raise segkit_error(
                "config key 'transactions.columns' needs either 'amount' (the "
                "order-line value) or both 'quantity' and 'unit_price'"
            )
        for i, lookup in enumerate(self.lookups):
            twice = sorted(set(lookup.columns) & set(self.columns))
            if twice:
                raise segkit_error(
                    f"transactions.lookups[{i}] gives {twice}, also mapped in "
                    "transactions.columns; take each from one place"
                )
        return self


class CustomersSource(TableSource):
    """``customers``: one row per customer with attributes and outcomes."""

    columns: CustomerColumns = Field(
        default_factory=dict, description="role -> column name (customer_id)"
    )
    attributes: AttributeGroups = Field(default_factory=AttributeGroups)
    outcomes: Names = Field(
        [], description="columns that validate segments, never cluster them"
    )
    birth_year: Text | None = Field(None, description="column -> age (demographic)")
    signup_date: Text | None = Field(None, description="column -> signup_tenure_days")
    min_coverage: Share = Field(
        0.8,
        description="share of transacting customers with a row needed to cluster on "
        "the attributes; below: they only describe segments",
    )

    @model_validator(mode="after")
    def _customer_id(self) -> CustomersSource:
        if "customer_id" not in self.columns:
            raise segkit_error(
                "config key 'customers.columns.customer_id' is missing; set it to "
                "the column holding the customer id"
            )
        return self

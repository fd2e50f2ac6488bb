"""Tables and figures of customer lifetime value for notebooks 02, 04 and 05.

Every function takes a run's artifacts (written by the ``value`` step) and returns
a :class:`~segkit.display.ReportFigure`, a :class:`~segkit.display.Table` or a
:class:`~segkit.display.Note`. When the run has no value artifacts, the functions
return one sentence saying why (from ``value.json``), never a placeholder image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segkit.display import Note, ReportFigure, Table
from segkit.display import segment_name as _name
from segkit.features import clv
from segkit.figure_cache import cached

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "run_segment_value",
    "calibration_chart",
    "holdout_note",
    "holdout_table",
    "parameters_table",
    "segment_value_table",
    "value_artifacts",
    "value_distribution",
    "value_note",
]

_PARAMETER_MEANING = {
    "r": "purchase rate: shape of its gamma distribution",
    "alpha": "purchase rate: scale (days) of its gamma distribution",
    "a": "dropout after a purchase: beta parameter a",
    "b": "dropout after a purchase: beta parameter b",
    "p": "spend per purchase: gamma shape",
    "q": "customers' mean spend: gamma shape",
    "v": "customers' mean spend: gamma scale",
}


def value_artifacts(ctx: RunContext) -> dict[str, Any]:
    """``json`` (value.json) and, when available, the value frames."""
    out: dict[str, Any] = {"json": ctx.load_json("value.json")}
    if out["json"].get("available"):
        values = ctx.load_frame("values.parquet")
        if "customer_id" in values.columns:
            values = values.set_index("customer_id")
        out["values"] = values
        out["parameters"] = ctx.load_frame("clv_parameters.csv")
        out["holdout"] = ctx.load_frame("clv_holdout.csv")
        out["calibration"] = ctx.load_frame("clv_calibration.csv")
    return out


def value_note(art: Mapping[str, Any], currency: str = "") -> Note:
    """One paragraph: what was estimated, on how many customers, or why not."""
    info = art["json"]
    if not info.get("available"):
        return Note(f"**No customer lifetime value for this run.** {info['reason']}.")
    totals = info["totals"]
    text = (
        f"Customer lifetime value over the next {info['clv_months']} months "
        f"(monthly discount rate {info['discount_rate']:.1%}) was estimated for "
        f"{info['customers']:,} customers with BG/NBD (purchases) and Gamma-Gamma "
        f"(spend, fitted on {info['repeat_buyers']:,} repeat buyers), by "
        f"{'MAP' if info['method'] == 'map' else 'NUTS'}. "
        f"Total: {currency}{totals['clv']:,.0f}; "
        f"expected revenue in the next {info['horizon_days']} days "
        f"{currency}{totals['expected_revenue']:,.0f}."
    )
    dropout = totals.get("dropout_per_purchase")
    if dropout is not None and dropout < 0.01:
        text = (
            f"**The purchase model finds almost no dropout in this history** (mean "
            f"dropout chance after a purchase {dropout:.2%}; mean probability alive "
            f"{totals['mean_p_alive']:.1%}), so it cannot tell who has left: its "
            "lifetime values assume everyone keeps buying at their own rate. " + text
        )
    by_model = totals.get("at_risk_by_model", totals["at_risk_customers"])
    silent = totals.get("at_risk_silent_only", 0)
    text += (
        f" **Revenue at risk:** {totals['at_risk_customers']:,} customers are at "
        f"risk ({by_model:,} with a probability alive below "
        f"{info['risk_threshold']:.0%}, {silent:,} more because they have been "
        "silent beyond the lifecycle at-risk or lapse threshold); their run-rate "
        f"revenue per {info['horizon_days']} days is "
        f"{currency}{totals['revenue_at_risk']:,.0f}."
    )
    return Note(text)


def parameters_table(art: Mapping[str, Any]) -> Table | Note:
    """Fitted parameters with what each means (and intervals after NUTS)."""
    if not art["json"].get("available"):
        return value_note(art)
    table = art["parameters"].copy()
    table["meaning"] = table["parameter"].map(_PARAMETER_MEANING).fillna("")
    cols = ["model", "parameter", "meaning", "estimate"]
    if table["low"].notna().any():
        table["95% interval"] = [
            f"{lo:.3g} to {hi:.3g}"
            for lo, hi in zip(table["low"], table["high"], strict=True)
        ]
        cols.append("95% interval")
    table["estimate"] = table["estimate"].map(lambda v: f"{v:.3g}")
    return Table(table[cols].reset_index(drop=True))


@cached
def value_distribution(
    art: Mapping[str, Any], currency: str = ""
) -> ReportFigure | Note:
    """Histogram of CLV (log scale) and of probability alive."""
    if not art["json"].get("available"):
        return value_note(art)
    values = art["values"]
    fig = ReportFigure(figsize=(10, 3.4))
    left, right = fig.subplots(1, 2)
    positive = values["clv"].clip(lower=0.01)
    left.hist(np.log10(positive), bins=40, color="#4c72b0")
    left.set_xlabel(
        f"CLV, {art['json']['clv_months']} months ({currency or 'currency'}; log10)"
    )
    left.set_ylabel("customers")
    left.set_title("Customer lifetime value")
    right.hist(values["p_alive"], bins=np.linspace(0, 1, 21), color="#55a868")
    right.axvline(art["json"]["risk_threshold"], color="#c44e52", linestyle="--")
    right.set_xlabel("probability still active")
    right.set_title("Probability alive (dashed: at-risk threshold)")
    fig.tight_layout()
    return fig


def holdout_table(art: Mapping[str, Any], currency: str = "") -> Table | Note:
    """Predicted vs actual purchases and revenue on the holdout, model vs naive."""
    if not art["json"].get("available"):
        return value_note(art)
    table = art["holdout"].copy()
    money = table["measure"] == "revenue"
    fmt = lambda v, m: f"{currency if m else ''}{v:,.0f}"  # noqa: E731
    out = pd.DataFrame(
        {
            "measure": table["measure"].map(
                {"purchases": "purchase days", "revenue": "revenue"}
            ),
            "predictor": table["predictor"],
            "predicted": [
                fmt(v, m) for v, m in zip(table["predicted_total"], money, strict=True)
            ],
            "actual": [
                fmt(v, m) for v, m in zip(table["actual_total"], money, strict=True)
            ],
            "predicted / actual": table["ratio"].map(lambda v: f"{v:.2f}"),
            "mean abs. error per customer": table["mae_per_customer"].map(
                lambda v: f"{v:,.2f}"
            ),
            "rank correlation (Spearman)": table["spearman"].map(lambda v: f"{v:.2f}"),
        }
    )
    return Table(out)


def holdout_note(art: Mapping[str, Any]) -> Note:
    """The holdout result in words, the weaker reading first when it is weak."""
    info = art["json"]
    if not info.get("available"):
        return value_note(art)
    table = art["holdout"].set_index(["measure", "predictor"])
    model = table.xs("BG/NBD + Gamma-Gamma", level="predictor")
    naive = table.xs("naive (last period repeats)", level="predictor")
    parts = []
    for measure, label in (("purchases", "purchases were"), ("revenue", "revenue was")):
        ratio = model.loc[measure, "ratio"]
        direction = (
            "under-predicted"
            if ratio < 0.9
            else "over-predicted"
            if ratio > 1.1
            else "matched"
        )
        better = (
            model.loc[measure, "mae_per_customer"]
            < naive.loc[measure, "mae_per_customer"]
        )
        parts.append(
            f"{label} {direction} in total ({ratio:.2f} of actual; naive "
            f"{naive.loc[measure, 'ratio']:.2f}) and the per-customer error is "
            f"{'lower' if better else 'not lower'} than the naive rule's"
        )
    return Note(
        f"Fitted on the history before {info['holdout']['t0']} and scored on the "
        f"{info['horizon_days']} days after ({info['holdout']['customers']:,} "
        f"customers): " + "; ".join(parts) + ". A seasonal peak inside the holdout "
        "is not in these models, which assume a steady purchase rate: expect "
        "under-prediction then."
    )


@cached
def calibration_chart(art: Mapping[str, Any]) -> ReportFigure | Note:
    """Mean predicted vs mean actual purchases per decile of the prediction."""
    if not art["json"].get("available"):
        return value_note(art)
    cal = art["calibration"]
    fig = ReportFigure(figsize=(6, 4))
    ax = fig.subplots()
    top = float(max(cal["predicted"].max(), cal["actual"].max())) * 1.05
    ax.plot([0, top], [0, top], color="#999999", linestyle="--", label="perfect")
    ax.plot(
        cal["predicted"], cal["actual"], marker="o", color="#4c72b0", label="deciles"
    )
    ax.set_xlabel("predicted purchase days per customer (holdout)")
    ax.set_ylabel("actual purchase days per customer")
    ax.set_title("Calibration of the purchase model on the holdout")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def segment_value_table(
    art: Mapping[str, Any],
    labels: pd.Series,
    *,
    names: Mapping[int, str] | None = None,
    currency: str = "",
) -> Table | Note:
    """CLV, expected revenue and revenue at risk per segment."""
    if not art["json"].get("available"):
        return value_note(art)
    per = clv.segment_value(art["values"], labels)
    horizon = art["json"]["horizon_days"]
    out = pd.DataFrame(
        {
            "segment": [_name(names, s) for s in per["segment"]],
            "customers": per["customers"].map(lambda v: f"{v:,}"),
            "CLV, total": per["clv_total"].map(lambda v: f"{currency}{v:,.0f}"),
            "CLV share": per["clv_share"].map(lambda v: f"{v:.1%}"),
            "CLV per customer": per["clv_mean"].map(lambda v: f"{currency}{v:,.0f}"),
            f"expected revenue, next {horizon} days": per["expected_revenue"].map(
                lambda v: f"{currency}{v:,.0f}"
            ),
            "mean probability alive": per["mean_p_alive"].map(lambda v: f"{v:.0%}"),
            "customers at risk": per["at_risk_customers"].map(lambda v: f"{v:,}"),
            f"revenue at risk per {horizon} days": per["revenue_at_risk"].map(
                lambda v: f"{currency}{v:,.0f}"
            ),
        }
    )
    return Table(out)


def run_segment_value(
    ctx: RunContext, *, names: Mapping[int, str] | None = None
) -> Table | Note:
    """:func:`segment_value_table` for a run's segments (``labels.parquet``)."""
    art = value_artifacts(ctx)
    labels = ctx.load_frame("labels.parquet")
    if "customer_id" in labels.columns:
        labels = labels.set_index("customer_id")
    labels.index = labels.index.astype(str)
    return segment_value_table(
        art,
        labels["segment"].astype("int64"),
        names=names,
        currency=ctx.config["report"]["currency"],
    )

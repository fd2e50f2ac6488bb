"""Score new customers with a saved model: compute their features, never train.

``segkit score --model reports/<run>/artifacts/model.joblib --input new.csv --out
scored.csv [--as-of YYYY-MM-DD]`` calls :func:`score_file`. The model carries the
config of the run that fitted it (``model.config_``: column roles, read options,
cleaning rules); a ``config_path`` replaces it, e.g. when the new file has other
column names.

Scoring reads and cleans the file with the run's rules, computes each customer's
features with :func:`segkit.features.build.customer_features` (which fits nothing)
and hands them to the saved model, whose *fitted* preprocessor and clusterer assign
the segments. No training-time gate runs (no sufficiency check, no minimum number
of customers, no preprocessor fitting), so one customer scores, and a customer's
segment does not depend on the other customers of the file:

- behavioural features are aggregates of the customer's own lines;
- attribute levels are not regrouped by their share in the new file
  (``features.top_countries`` / ``features.rare_share`` apply to the training
  population only): a level the fitted preprocessor does not know becomes
  ``"Other"`` when training had that level, as the training grouping did;
- missing numeric attributes are imputed by the preprocessor with the medians it
  learned at fit;
- a model formed with ``value.as_features`` needs each customer's CLV columns
  (``clv``, ``p_alive``, ``expected_purchases``): they are predicted from the
  customer's own purchases with the run's *fitted* BG/NBD and Gamma-Gamma models,
  saved by the value step next to ``model.joblib`` (``clv_purchases.nc``,
  ``clv_spend.nc``); without those files scoring refuses with a
  :class:`~segkit.exceptions.ModelError` saying which files to keep with the model.

The analysis date (recency, tenure, ...) is, in this order: ``as_of`` (``--as-of``),
the ``as_of`` of a config passed with ``config_path``, the day after the newest
transaction of the file, the model's ``as_of_`` (attribute-only models). The third
is a property of the whole file: pass ``as_of`` for results that do not depend on
which customers the file holds (e.g. the run's ``as_of`` to reproduce its segments).

The output has the columns of ``artifacts/assignments.csv`` (:data:`ASSIGNMENT_COLUMNS`):

=============  ==========================================================
column         meaning
=============  ==========================================================
customer_id    the customer id as in the data (string)
segment_id     integer segment id (-1 = Unassigned, HDBSCAN noise)
segment_name   the segment's name (model.names, or "Segment <id>")
run_id         the run folder name of the run that fitted the model
as_of          the analysis date the features were computed at (YYYY-MM-DD)
=============  ==========================================================
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.dates import parse_date
from segkit.exceptions import InputFileError, ModelError, SchemaError
from segkit.profiles.export import ASSIGNMENT_COLUMNS, assignments_frame

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "assignments_frame",
    "score_features",
    "score_file",
    "score_frames",
]

logger = logging.getLogger(__name__)

#: Behavioural features and the transactions role each one needs.
_FEATURE_ROLES = {
    "distinct_products": "product_id",
    "items_per_order": "quantity",
    "avg_unit_price": "unit_price",
}
#: Level the attribute grouping gives rare or beyond-top levels.
_OTHER = "Other"
#: Settings of per-customer attribute features: no level is regrouped by its share.
_NO_GROUPING = {"top_countries": 1_000_000, "rare_share": 0.0}


def _load_model(model_path: Path) -> Any:
    if not model_path.exists():
        raise InputFileError(
            f"model file {str(model_path)!r} not found; pass the model.joblib of a run, "
            "e.g. --model reports/<run>/artifacts/model.joblib"
        )
    from segkit.clustering.model import SegmentationModel

    try:
        model = SegmentationModel.load(model_path)
    except ModelError:
        raise
    except Exception as exc:  # joblib/pickle errors of a file that is not a model
        raise ModelError(
            f"model file {str(model_path)!r} could not be read as a segkit model "
            f"({type(exc).__name__}: {exc}); pass artifacts/model.joblib written by "
            "segkit, or rerun the report to write a fresh one"
        ) from None
    if not isinstance(model, SegmentationModel):
        raise ModelError(
            f"model file {str(model_path)!r} holds a {type(model).__name__}, not a "
            "segkit SegmentationModel; pass artifacts/model.joblib of a segkit run"
        )
    return model


def _config(model: Any, model_path: Path, config_path: str | Path | None) -> Any:
    if config_path is not None:
        from segkit.config import load_config

        return load_config(config_path)
    config = getattr(model, "config_", None)
    if not config:
        raise ModelError(
            f"model {str(model_path)!r} carries no config (model.config_ is empty), so "
            "the column roles of the input are unknown; pass config_path (--config) "
            "with the YAML config of the run"
        )
    return copy.deepcopy(config)


def _as_date(value: Any) -> dt.date | None:
    return parse_date(value, example="--as-of 2011-12-10", error=SchemaError)


def _per_customer(config: Any) -> Any:
    """A copy of the config whose attribute levels are not regrouped by share."""
    out = copy.deepcopy(config)
    for key, value in _NO_GROUPING.items():
        out["features"][key] = value
    return out


def _known_levels(model: Any) -> dict[str, set[str]]:
    """Categorical column -> the levels the model's fitted preprocessor encodes."""
    pre = getattr(model, "preprocessor_", None)
    plan = getattr(pre, "plan_", None)
    names = getattr(pre, "feature_names_out_", None)
    if plan is None or names is None:
        return {}
    kept = plan[(plan["kind"] == "categorical") & (plan["action"] != "dropped")]
    out: dict[str, set[str]] = {}
    for column in kept["column"].astype("str"):
        prefix = f"{column}_"
        out[column] = {
            str(n)[len(prefix) :] for n in names if str(n).startswith(prefix)
        }
    return out


def _align_levels(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Unknown levels -> "Other" where training grouped levels into "Other"."""
    out = features
    for column, levels in _known_levels(model).items():
        if column not in out.columns or _OTHER not in levels:
            continue
        values = out[column].astype("str")
        unknown = ~values.isin(levels)
        if unknown.any():
            out = out.assign(**{column: values.where(~unknown, _OTHER)})
    return out


def _value_columns(model: Any) -> list[str]:
    """The CLV columns (``value.as_features``) among the model's inputs."""
    from segkit.features.value_features import VALUE_FEATURES

    wanted = {str(c) for c in getattr(model, "feature_names_in_", [])}
    return [c for c in VALUE_FEATURES if c in wanted]


def _value_fit(model: Any, model_path: Path) -> Any:
    """The run's fitted CLV models next to ``model_path``, when the model needs them.

    Raises
    ------
    ModelError
        The model was formed on CLV columns and the saved CLV models are missing.
    """
    needed = _value_columns(model)
    if not needed:
        return None
    from segkit.features import value_features

    folder = model_path.resolve().parent
    if not value_features.fit_available(folder):
        files = sorted(value_features.FIT_FILES.values())
        raise ModelError(
            f"model {str(model_path)!r} was formed with value.as_features and needs "
            f"the CLV features {needed}, predicted with the run's fitted CLV models "
            f"{files}, which are not in {str(folder)!r}; copy them from the run's "
            "artifacts folder next to the model, or score with a model fitted with "
            "value.as_features: false"
        )
    return value_features.load_fit(folder)


def _customer_values(
    model: Any, config: Any, transactions: Any, as_of: Any, value_fit: Any, source: str
) -> pd.DataFrame | None:
    """CLV columns of the customers, predicted with ``value_fit`` (never refitted)."""
    needed = _value_columns(model)
    if not needed:
        return None
    if value_fit is None or transactions is None:
        what = (
            "no fitted CLV models were given"
            if transactions is not None
            else (f"{source} holds no transactions")
        )
        raise ModelError(
            f"the model was formed with value.as_features and needs the CLV features "
            f"{needed}, but {what}; pass value_fit= (segkit.features.value_features."
            "load_fit of the run's artifacts folder) with the transactions, or use a "
            "model fitted with value.as_features: false"
        )
    from segkit.features.value_features import value_features

    return value_features(config, transactions, as_of=as_of, fit=value_fit)


def _check_fits(features: pd.DataFrame, model: Any, config: Any, source: str) -> None:
    wanted = [str(c) for c in getattr(model, "feature_names_in_", [])]
    missing = [c for c in wanted if c not in features.columns]
    if not missing:
        return
    fixes = []
    for column in missing:
        role = _FEATURE_ROLES.get(column)
        if role is not None:
            fixes.append(
                f"{column!r} needs the role {role} (map transactions.columns.{role} "
                "to a non-empty column of the file)"
            )
        else:
            fixes.append(f"{column!r} comes from customers.attributes")
    table = "transactions" if config.get("transactions") else "customers"
    raise SchemaError(
        f"{source} does not give the features {missing} the model was fitted on: "
        f"{'; '.join(fixes)}; fix the file, or pass --config with a config whose "
        f"{table} section maps them"
    )


def score_features(model: Any, features: pd.DataFrame) -> pd.Series:
    """Segment of each customer of a features frame (index ``customer_id``).

    Uses the model's fitted preprocessor and clusterer only: nothing is fitted, and
    each row is scored on its own values. Categorical levels the fitted
    preprocessor does not know become ``"Other"`` when training had that level.
    """
    labels = model.predict(_align_levels(features, model))
    return pd.Series(labels, index=features.index, name="segment").astype("int64")


def score_frames(
    model: Any,
    config: Any,
    *,
    transactions: pd.DataFrame | None = None,
    returns: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    as_of: dt.date | None = None,
    source: str = "the input",
    value_fit: Any = None,
) -> pd.Series:
    """Segments of clean frames: features per customer, then the fitted model.

    Parameters
    ----------
    model : SegmentationModel
        Fitted model (its ``preprocessor_`` and clusterer are used, never refitted).
    config : mapping
        The run's config (``features``, ``customers`` sections).
    transactions, returns : DataFrame, optional
        Clean canonical transactions and returns (see
        :func:`segkit.data.clean.clean_transactions`).
    customers : DataFrame, optional
        Customers table indexed by ``customer_id``.
    as_of : date, optional
        Analysis date; None with transactions: the day after the newest line.
    source : str
        What the frames came from, for error messages.
    value_fit : ClvFit, optional
        The run's fitted CLV models (:func:`segkit.features.value_features.load_fit`),
        needed when the model was formed with ``value.as_features``.

    Returns
    -------
    Series
        Segment id per customer (index ``customer_id``, name ``segment``).

    Raises
    ------
    SchemaError
        A feature the model was fitted on cannot be computed from the frames.
    ModelError
        The model needs CLV features and ``value_fit`` or the transactions are
        missing.
    """
    from segkit.data.clean import default_as_of
    from segkit.features.build import customer_features

    if transactions is not None and as_of is None:
        as_of = default_as_of(transactions)
    value = _customer_values(model, config, transactions, as_of, value_fit, source)
    features, _ = customer_features(
        _per_customer(config),
        transactions,
        returns,
        customers,
        as_of=as_of,
        value=value,
    )
    _check_fits(features, model, config, source)
    return score_features(model, features)


def _read(
    config: Any, input_path: Path, as_of: dt.date | None, model: Any
) -> dict[str, Any]:
    from segkit.data import clean, io

    table = "transactions" if config.get("transactions") else "customers"
    config[table]["path"] = str(input_path.resolve())
    frames: dict[str, Any] = {"transactions": None, "returns": None, "customers": None}
    try:
        if table == "transactions":
            read = io.load_transactions(config)
            if as_of is None:
                as_of = clean.default_as_of(read.frame)
            cleaned = clean.clean_transactions(
                read.frame, rules=config["cleaning"], as_of=as_of, min_customers=1
            )
            frames["transactions"] = cleaned.transactions
            frames["returns"] = cleaned.returns
            if config.get("customers"):
                frames["customers"] = io.load_customers(config).frame
        else:
            frames["customers"] = io.load_customers(config).frame
            as_of = as_of or _as_date(getattr(model, "as_of_", None))
    except SchemaError as exc:
        raise SchemaError(
            f"input file {str(input_path)!r} does not fit the model's config: {exc}; "
            "or pass --config with a config that maps this file's columns"
        ) from None
    frames["as_of"] = as_of
    return frames


def score_file(
    model_path: str | Path,
    input_path: str | Path,
    out_path: str | Path,
    *,
    config_path: str | Path | None = None,
    as_of: dt.date | str | None = None,
) -> pd.DataFrame:
    """Clean, featurise and segment the customers of a new file; write the result.

    Parameters
    ----------
    model_path : str or Path
        A ``model.joblib`` written by a run (:class:`segkit.clustering.model.SegmentationModel`).
    input_path : str or Path
        New transactions with the columns the config maps (``transactions.columns``)
        or, for attribute-only models, a customers table (``customers.columns`` and
        the declared attributes). A config with both reads the transactions from
        ``input_path`` and the attributes from its own ``customers.path``.
    out_path : str or Path
        CSV to write (folders are created).
    config_path : str or Path, optional
        YAML config replacing ``model.config_``; its ``as_of`` is used when set and
        ``as_of`` is not given.
    as_of : date or "YYYY-MM-DD", optional
        Analysis date of the features (``--as-of``): lines on or after it are left
        out. Default: the config's (with ``config_path``), else the day after the
        newest transaction of the file, else the model's ``as_of_``.

    Returns
    -------
    DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`, one row per scored customer.

    Raises
    ------
    InputFileError
        The model or the input file does not exist.
    ModelError
        The model file is not a segkit model, or it carries no config, or it was
        formed with ``value.as_features`` and the saved CLV models are not next to
        it.
    SchemaError
        The input's columns do not fit the config (a mapped column is missing, a
        value cannot be parsed, a feature the model needs cannot be computed).
    """
    model_path, input_path, out_path = (
        Path(model_path),
        Path(input_path),
        Path(out_path),
    )
    model = _load_model(model_path)
    config = _config(model, model_path, config_path)
    value_fit = _value_fit(model, model_path)
    if not input_path.exists():
        raise InputFileError(
            f"input file {str(input_path)!r} not found; pass the new transactions "
            "(or customers table) to score with --input"
        )
    when = _as_date(as_of)
    if when is None and config_path is not None:
        when = _as_date(config.get("as_of"))
    frames = _read(config, input_path, when, model)
    as_of_used = frames.pop("as_of")
    labels = score_frames(
        model,
        config,
        **frames,
        as_of=as_of_used,
        source=f"input file {str(input_path)!r}",
        value_fit=value_fit,
    )
    out = assignments_frame(
        labels,
        names=getattr(model, "names", {}),
        run_id=_run_id(model, model_path),
        as_of=as_of_used,
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_path, index=False)
    logger.info("scored %d customers into %s", len(out), out_path)
    return out


def _run_id(model: Any, model_path: Path) -> str:
    run_id = getattr(model, "run_id_", None)
    if run_id:
        return str(run_id)
    parent = model_path.resolve().parent
    return parent.parent.name if parent.name == "artifacts" else parent.name

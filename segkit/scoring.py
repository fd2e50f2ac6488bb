"""Score new customers with a saved model: same cleaning, same features, same segments.

``segkit score --model reports/<run>/artifacts/model.joblib --input new.csv --out
scored.csv`` calls :func:`score_file`. The model carries the config of the run that
fitted it (``model.config_``: column roles, read options, cleaning rules); a
``config_path`` replaces it, e.g. when the new file has other column names.

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
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.exceptions import InputFileError, ModelError, SchemaError
from segkit.profiles.export import ASSIGNMENT_COLUMNS, assignments_frame

__all__ = ["ASSIGNMENT_COLUMNS", "assignments_frame", "score_file", "score_features"]

logger = logging.getLogger(__name__)


#: Columns of assignments.csv and of score_file's output, in order.
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


def _config(model: Any, model_path: Path, config_path: str | Path | None) -> dict:
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


def score_features(model: Any, features: pd.DataFrame) -> pd.Series:
    """Predict segments for a features frame (index ``customer_id``)."""
    return model.predict(features).astype("int64")


def score_file(
    model_path: str | Path,
    input_path: str | Path,
    out_path: str | Path,
    *,
    config_path: str | Path | None = None,
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
        YAML config replacing ``model.config_``; its ``as_of`` is used when set.

    Returns
    -------
    DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`, one row per scored customer. Features are
        computed as of ``config.as_of`` when a config is passed and sets it, else as
        of the day after the newest transaction of the input (attribute-only: the
        model's ``as_of_``).
    """
    from segkit.data import clean, io
    from segkit.features import step as feature_step

    model_path, input_path, out_path = (
        Path(model_path),
        Path(input_path),
        Path(out_path),
    )
    model = _load_model(model_path)
    config = _config(model, model_path, config_path)
    if not input_path.exists():
        raise InputFileError(
            f"input file {str(input_path)!r} not found; pass the new transactions "
            "(or customers table) to score with --input"
        )
    as_of = config.get("as_of") if config_path is not None else None
    transactions = returns = customers = None
    table = "transactions" if config.get("transactions") else "customers"
    config[table]["path"] = str(input_path.resolve())
    try:
        if table == "transactions":
            read = io.load_transactions(config)
            cleaned = clean.clean_transactions(
                read.frame, rules=config["cleaning"], as_of=as_of
            )
            transactions, returns, as_of = (
                cleaned.transactions,
                cleaned.returns,
                cleaned.as_of,
            )
            if config.get("customers"):
                customers = io.load_customers(config).frame
        else:
            customers = io.load_customers(config).frame
            as_of = as_of or getattr(model, "as_of_", None)
    except SchemaError as exc:
        raise SchemaError(
            f"input file {str(input_path)!r} does not fit the model's config: {exc}"
        ) from None
    built = feature_step.build(config, transactions, returns, customers, as_of=as_of)
    labels = score_features(model, built["features"])
    run_id = _run_id(model, model_path)
    out = assignments_frame(
        labels, names=getattr(model, "names", {}), run_id=run_id, as_of=as_of
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

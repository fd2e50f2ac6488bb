"""Tests of segkit.features.preprocess.Preprocessor: sklearn contract, column plan, errors."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from segkit.exceptions import ConfigError, DataError, NotFittedError, SchemaError
from segkit.features.preprocess import Preprocessor


@pytest.fixture
def features() -> pd.DataFrame:
    """200 customers: skewed, signed, zero-inflated, constant, twin and text columns."""
    rng = np.random.default_rng(0)
    n = 200
    monetary = rng.lognormal(5, 1, n)
    frame = pd.DataFrame(
        {
            "monetary": monetary,
            "trend": rng.normal(size=n) ** 3,  # heavy tails on both sides
            "returns": np.where(rng.random(n) < 0.8, 0.0, rng.random(n)),  # IQR 0
            "tenure": rng.uniform(0, 700, n),  # not skewed
            "segment_flag": 1.0,  # constant
            "one_off": np.r_[np.zeros(n - 1), 1.0],  # 99.5 % zeros
            "monetary_copy": monetary * 2 + 1,
            "country": rng.choice(["UK", "DE", "FR"], p=[0.8, 0.15, 0.05], size=n),
            "channel": np.r_[["web"] * 120, ["store"] * 79, ["fax"]],  # fax is rare
            "email": [f"user{i}@example.com" for i in range(n)],  # id-like
        },
        index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_id"),
    )
    frame.loc["c003", "monetary"] = np.nan
    return frame


# The array-API check only runs with SCIPY_ARRAY_API=1 set before scipy is imported
# (it skips otherwise); the Preprocessor is pandas-first and makes no array-API
# claim, so that one check is left out rather than reported as skipped.
def _contract_checks():
    marks = []
    for param in parametrize_with_checks([Preprocessor()]).args[1]:
        estimator, check = param
        name = getattr(check, "func", check).__name__
        if name != "check_array_api_input":
            marks.append(pytest.param(estimator, check, id=name))
    return marks


@pytest.mark.parametrize(("estimator", "check"), _contract_checks())
def test_preprocessor_meets_the_sklearn_estimator_contract(estimator, check):
    check(estimator)


def test_pandas_output_is_float64_and_keeps_the_customer_index(features):
    out = Preprocessor().set_output(transform="pandas").fit_transform(features)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(features.index)
    assert set(out.dtypes) == {np.dtype("float64")}
    assert not out.isna().any().any()  # the missing monetary value was imputed


def test_default_output_is_a_float_array(features):
    out = Preprocessor().fit_transform(features)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64


def test_fit_and_transform_do_not_mutate_the_features(features):
    before = features.copy()
    pre = Preprocessor().set_output(transform="pandas").fit(features)
    pre.transform(features)
    assert_frame_equal(features, before)


def test_constant_near_constant_and_id_like_columns_are_dropped_with_a_reason(features):
    pre = Preprocessor().fit(features)
    reasons = dict(zip(pre.dropped_["column"], pre.dropped_["reason"], strict=True))
    assert reasons["segment_flag"] == "constant"
    assert reasons["one_off"].startswith("near-constant: 0.0 in 99.5% of rows")
    assert reasons["email"].startswith("id-like: all 200 levels rarer than 1.0%")
    assert reasons["monetary_copy"] == "near-duplicate of monetary (Spearman r = +1.00)"
    assert len(reasons) == 4
    names = list(pre.get_feature_names_out())
    assert not {"segment_flag", "one_off", "email"} & set(names)


def test_skewed_columns_get_log1p_or_yeo_johnson_and_zero_iqr_is_standardised(
    features,
):
    plan = Preprocessor().fit(features).plan_.set_index("column")
    assert plan.loc["monetary", "transform"] == "log1p"
    assert plan.loc["trend", "transform"] == "yeo-johnson"  # negative values
    assert plan.loc["tenure", "transform"] == "none"
    assert plan.loc["returns", "scaler"] == "standard (zero IQR)"
    assert plan.loc["tenure", "scaler"] == "robust"


def test_log1p_then_robust_scaling_gives_the_known_values():
    # log1p(e^k - 1) = k, so x becomes [0, 1, 2, 3, 8]: median 2, IQR 3 - 1 = 2
    frame = pd.DataFrame({"x": np.expm1([0.0, 1, 2, 3, 8])})
    pre = Preprocessor().set_output(transform="pandas").fit(frame)
    assert pre.plan_.loc[0, "transform"] == "log1p"
    assert pre.transform(frame)["x"].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 3])


def test_skew_none_leaves_values_unlogged():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 100]})
    pre = Preprocessor(skew="none", clip=None).set_output(transform="pandas").fit(frame)
    # robust scale only: median 3, IQR 2
    assert pre.transform(frame)["x"].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 48.5])


def test_scaled_values_are_clipped_to_the_clip_limit():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 100]})
    pre = Preprocessor(skew="none", clip=5.0).set_output(transform="pandas").fit(frame)
    # robust scale (median 3, IQR 2) gives 48.5 for the outlier: clipped to 5
    assert pre.transform(frame)["x"].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 5])


def test_zero_inflated_columns_are_standardised_not_robust_scaled():
    # 7 of 10 customers returned nothing: IQR (0 to 0.02) is no scale for this column.
    rate = [0.0] * 7 + [0.02, 0.5, 1.0]
    frame = pd.DataFrame({"return_rate": rate, "x": range(10)}, dtype="float64")
    pre = Preprocessor(skew="none", clip=None).set_output(transform="pandas").fit(frame)
    plan = pre.plan_.set_index("column")
    assert plan.loc["return_rate", "scaler"] == "standard (70% tied at 0.0)"
    out = pre.transform(frame)["return_rate"]
    assert out.mean() == pytest.approx(0.0, abs=1e-12)
    assert out.std(ddof=0) == pytest.approx(1.0)
    assert out.max() < 3  # robust scaling would give (1.0 - 0) / 0.015 = 66.7


def test_a_non_positive_clip_is_refused():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4]})
    with pytest.raises(
        ConfigError, match=r"preprocess.clip is 0; use a positive number"
    ):
        Preprocessor(clip=0).fit(frame)


def test_rare_levels_are_grouped_and_unseen_levels_map_to_the_rare_column(features):
    pre = Preprocessor().set_output(transform="pandas").fit(features)
    names = list(pre.get_feature_names_out())
    assert "channel_web" in names and "channel_store" in names
    assert "channel_infrequent_sklearn" in names and "channel_fax" not in names
    new = features.iloc[:2].assign(channel=["carrier pigeon", "web"])
    out = pre.transform(new)
    assert out.loc["c000", "channel_infrequent_sklearn"] == 1.0
    assert out.loc["c001", "channel_web"] == 1.0


def test_without_deduplication_correlated_pairs_are_flagged_not_dropped(features):
    pre = Preprocessor(duplicate_threshold=None).fit(features)
    pairs = pre.correlated_pairs_
    assert list(pairs.columns) == ["a", "b", "r"]
    assert pairs[["a", "b"]].values.tolist() == [["monetary", "monetary_copy"]]
    assert pairs["r"].iloc[0] > 0.99
    assert {"monetary", "monetary_copy"} <= set(pre.get_feature_names_out())


def test_describe_says_what_happens_to_every_input_column(features):
    pre = Preprocessor(duplicate_threshold=None)
    table = pre.fit(features).describe().set_index("column")
    assert list(table.index) == list(features.columns)
    assert table.loc["monetary", "treatment"] == "log1p + robust scale"
    assert table.loc["monetary", "missing"] == 1
    assert table.loc["monetary", "correlated_with"].startswith("monetary_copy (+")
    assert table.loc["country", "outputs"] == 3
    assert table.loc["segment_flag", "action"] == "dropped"


def test_numbers_stored_as_text_are_numeric_and_text_is_categorical():
    frame = pd.DataFrame(
        {
            "spend": pd.array(["10", "20", "30", "45"], dtype="str"),
            "plan": pd.array(["gold", "silver", "gold", "basic"], dtype="object"),
        }
    )
    plan = Preprocessor(rare_share=0.1).fit(frame).plan_.set_index("column")
    assert plan.loc["spend", "kind"] == "numeric"
    assert plan.loc["plan", "kind"] == "categorical"


def test_integer_column_names_are_selected_by_name_not_position():
    frame = pd.DataFrame({2: [5.0, 5, 5, 5], 0: [1.0, 2, 3, 4]})
    out = Preprocessor().set_output(transform="pandas").fit_transform(frame)
    # column 2 is constant and dropped; column 0 is robust-scaled (median 2.5, IQR 1.5)
    assert list(out.columns) == ["0"]
    assert out["0"].tolist() == pytest.approx([-1, -1 / 3, 1 / 3, 1])


def test_a_fitted_preprocessor_survives_joblib(features, tmp_path):
    pre = Preprocessor().set_output(transform="pandas").fit(features)
    joblib.dump(pre, tmp_path / "preprocessor.joblib")
    loaded = joblib.load(tmp_path / "preprocessor.joblib")
    assert_frame_equal(loaded.transform(features), pre.transform(features))


def test_clone_keeps_the_settings_and_forgets_the_fit(features):
    pre = Preprocessor(scaler="standard", rare_share=0.05).fit(features)
    copy = clone(pre)
    assert copy.get_params() == pre.get_params()
    assert not hasattr(copy, "plan_")


def test_all_constant_features_raise_a_data_error_naming_the_fix():
    frame = pd.DataFrame({"a": [1.0] * 5, "b": ["x"] * 5})
    with pytest.raises(DataError, match=r"all 2 features are constant.*near_constant"):
        Preprocessor().fit(frame)


def test_infinite_values_raise_a_data_error_naming_the_column():
    frame = pd.DataFrame({"ratio": [1.0, np.inf, 2.0], "n": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"\['ratio'\] hold infinite values"):
        Preprocessor().fit(frame)


def test_transform_before_fit_is_a_not_fitted_error(features):
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        Preprocessor().transform(features)


def test_missing_columns_at_transform_time_are_a_schema_error(features):
    pre = Preprocessor().fit(features)
    with pytest.raises(
        SchemaError, match=r"(?s)do not match.*missing:\n- trend.*same config"
    ):
        pre.transform(features.drop(columns="trend"))


def test_bad_settings_are_config_errors(features):
    with pytest.raises(ConfigError, match=r"preprocess.skew is 'box-cox'"):
        Preprocessor(skew="box-cox").fit(features)
    with pytest.raises(ConfigError, match=r"preprocess.rare_share is 2"):
        Preprocessor(rare_share=2).fit(features)


def _behaviour_like(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """frequency with two near-copies (active months, a noisy rank copy) + others."""
    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n).astype("float64")
    return pd.DataFrame(
        {
            "active_months": np.minimum(frequency, 12) + 0.0,
            "monetary": frequency * rng.gamma(3.0, 40.0, n),
            "seasonality": rng.uniform(0.25, 1.0, n),
            "frequency": frequency,
            "frequency_rank_copy": np.log1p(frequency) + rng.normal(0, 0.01, n),
            "age": rng.uniform(18, 80, n),
        }
    )


def test_near_duplicates_keep_the_more_interpretable_column():
    pre = Preprocessor().fit(_behaviour_like())
    reasons = dict(zip(pre.dropped_["column"], pre.dropped_["reason"], strict=True))
    # frequency is an RFM column: kept although it comes after active_months
    assert set(reasons) == {"active_months", "frequency_rank_copy"}
    assert reasons["active_months"].startswith("near-duplicate of frequency (")
    assert reasons["frequency_rank_copy"].startswith("near-duplicate of frequency")
    names = set(pre.get_feature_names_out())
    assert {"frequency", "monetary", "seasonality", "age"} <= names


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_a_duplicate_threshold_outside_0_1_is_a_config_error(threshold):
    with pytest.raises(ConfigError, match="preprocess.duplicate_threshold is"):
        Preprocessor(duplicate_threshold=threshold).fit(_behaviour_like())

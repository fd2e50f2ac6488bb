"""SegmentationModel: recovery, determinism, noise, persistence, clone, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from segkit.clustering.model import SegmentationModel
from segkit.datasets import make_customer_features
from segkit.exceptions import DataError, ModelError, NotFittedError
from segkit.features.preprocess import Preprocessor


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    return make_customer_features(800, n_segments=4, seed=7, n_features=5)


def _frame(values: np.ndarray) -> pd.DataFrame:
    index = pd.Index([f"c{i}" for i in range(len(values))], name="customer_id")
    columns = [f"f{j}" for j in range(values.shape[1])]
    return pd.DataFrame(values, index=index, columns=columns)


@pytest.mark.parametrize(
    ("algorithm", "representation"),
    [
        ("kmeans", "scaled"),
        ("minibatch_kmeans", "scaled"),
        ("gmm", "pca"),
        ("ward", "scaled"),
        ("hdbscan", "pca"),
    ],
)
def test_each_algorithm_recovers_planted_segments(planted, algorithm, representation):
    features, truth = planted
    model = SegmentationModel(
        algorithm=algorithm, representation=representation, n_segments=4
    ).fit(features)
    assert adjusted_rand_score(truth, model.labels_) >= 0.95
    assert adjusted_rand_score(truth, model.predict(features)) >= 0.95


def test_labels_and_predict_follow_the_contract(planted):
    features, _ = planted
    model = SegmentationModel(n_segments=4).fit(features)
    predicted = model.predict(features)
    assert predicted.name == "segment"
    assert predicted.dtype == np.int64
    assert predicted.index.equals(features.index)
    assert model.labels_.index.equals(features.index)
    assert model.segment_ids_ == [0, 1, 2, 3]
    # segment 0 is the largest, then 1, ...
    assert model.labels_.value_counts().sort_index().is_monotonic_decreasing
    assert list(model.centers_.index) == [0, 1, 2, 3]
    coords = model.transform(features)
    assert coords.index.equals(features.index)
    assert coords.shape == (800, 5)


def test_same_seed_gives_identical_labels(planted):
    features, _ = planted
    settings = {"algorithm": "gmm", "representation": "pca", "n_segments": 3}
    first = SegmentationModel(**settings, random_state=3).fit(features).labels_
    second = SegmentationModel(**settings, random_state=3).fit(features).labels_
    assert_series_equal(first, second)


def test_fit_does_not_mutate_features(planted):
    features, _ = planted
    before = features.copy()
    SegmentationModel(n_segments=4, fit_sample=300).fit(features)
    assert_frame_equal(features, before)


def test_fit_on_stratified_sample_predicts_the_rest(planted):
    features, truth = planted
    model = SegmentationModel(n_segments=4, fit_sample=300).fit(features)
    assert model.fit_sample_size_ == 300
    assert len(model.labels_) == 800
    assert adjusted_rand_score(truth, model.labels_) >= 0.95


def test_fit_leaving_the_rest_to_the_engine_labels_the_sample_alone(planted):
    features, _ = planted
    whole = SegmentationModel(n_segments=4, fit_sample=300).fit(features)
    sample = SegmentationModel(n_segments=4, fit_sample=300)
    sample.fit(features, assign_rest=False)
    assert sample.fit_index_.equals(whole.fit_index_) and len(sample.labels_) == 300
    assert_series_equal(sample.labels_, whole.labels_.loc[sample.fit_index_])
    rest = features.index.difference(sample.fit_index_)
    assert (sample.predict(features.loc[rest]) == whole.labels_.loc[rest]).all()


def test_ward_fits_a_bounded_sample_and_assigns_the_rest(planted):
    features, truth = planted
    model = SegmentationModel(algorithm="ward", n_segments=4, ward_sample=200)
    model.fit(features)
    assert len(model.clusterer_.sample_rows_) == 200
    assert adjusted_rand_score(truth, model.labels_) >= 0.95


def test_hdbscan_noise_is_unassigned_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    blobs = np.vstack(
        [rng.normal(c, 0.3, size=(150, 2)) for c in ([0, 0], [6, 0], [0, 6])]
    )
    noise = rng.uniform(-20, 26, size=(40, 2))
    features = _frame(np.vstack([blobs, noise]))
    model = SegmentationModel(algorithm="hdbscan").fit(features)
    assert -1 in model.segment_ids_
    assert model.segment_ids_ == [-1, 0, 1, 2]
    assert model.segment_name(-1) == "Unassigned"
    far = _frame(np.array([[500.0, -500.0], [0.0, 0.0]]))
    predicted = SegmentationModel.load(model.save(tmp_path / "m.joblib")).predict(far)
    assert predicted.iloc[0] == -1
    assert predicted.iloc[1] >= 0


def test_save_load_round_trip_predicts_identically(planted, tmp_path):
    features, _ = planted
    model = SegmentationModel(algorithm="ward", representation="pca", n_segments=4)
    model.fit(features)
    model.names = {0: "Loyal"}
    loaded = SegmentationModel.load(model.save(tmp_path / "model.joblib"))
    assert_series_equal(loaded.predict(features), model.predict(features))
    assert loaded.segment_name(0) == "Loyal"


def test_load_refuses_other_library_versions(planted, tmp_path):
    features, _ = planted
    path = SegmentationModel(n_segments=2).fit(features).save(tmp_path / "m.joblib")
    with path.open("rb") as handle:
        header = pickle.load(handle)
        rest = handle.read()
    header["versions"]["sklearn"] = "0.1.0"
    with path.open("wb") as handle:
        pickle.dump(header, handle)
        handle.write(rest)
    with pytest.raises(ModelError, match=r"saved with sklearn 0\.1\.0 .* refit"):
        SegmentationModel.load(path)


def test_load_refuses_a_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "other.joblib"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ModelError, match="not a segkit model file"):
        SegmentationModel.load(path)
    with pytest.raises(ModelError, match="not found; run the compare step"):
        SegmentationModel.load(tmp_path / "missing.joblib")


def test_clone_gives_unfitted_copy_with_same_settings(planted):
    features, _ = planted
    model = SegmentationModel(
        preprocessor=Preprocessor(),
        algorithm="gmm",
        n_segments=3,
        gmm_n_init=2,
        names={0: "Loyal", 1: "Bargain hunters"},
    ).fit(features)
    copy = clone(model)
    assert copy.get_params()["algorithm"] == "gmm"
    assert copy.get_params()["gmm_n_init"] == 2
    assert copy.names == {0: "Loyal", 1: "Bargain hunters"}
    assert copy.segment_name(1) == "Bargain hunters"
    assert "labels_" not in vars(copy)
    assert_series_equal(copy.fit(features).labels_, model.labels_)


def test_with_preprocessor_predict_needs_every_fitted_column(planted):
    features, truth = planted
    model = SegmentationModel(preprocessor=Preprocessor(), n_segments=4).fit(features)
    assert adjusted_rand_score(truth, model.labels_) >= 0.95
    with pytest.raises(ModelError, match=r"lack the columns \['f2'\]"):
        model.predict(features.drop(columns="f2"))


def test_predict_before_fit_is_an_error(planted):
    with pytest.raises(NotFittedError, match="not fitted; call fit"):
        SegmentationModel().predict(planted[0])


def test_fewer_customers_than_segments_is_a_data_error():
    features = _frame(np.arange(6, dtype=float).reshape(3, 2))
    with pytest.raises(
        DataError, match=r"only 3 customers \(n_samples=3\) .* lower clustering\.k_min"
    ):
        SegmentationModel(n_segments=4).fit(features)


def test_single_usable_feature_is_a_data_error():
    values = np.column_stack([np.arange(20.0), np.ones(20)])
    with pytest.raises(DataError, match=r"only one usable feature \('f0'\)"):
        SegmentationModel(n_segments=2).fit(_frame(values))


def test_identical_rows_are_a_data_error():
    with pytest.raises(DataError, match="all 20 customers have identical values"):
        SegmentationModel(n_segments=2).fit(_frame(np.ones((20, 3))))


def test_missing_values_without_preprocessor_are_a_data_error():
    values = np.arange(40, dtype=float).reshape(20, 2)
    values[3, 1] = np.nan
    with pytest.raises(DataError, match=r"\['f1'\] hold missing .* preprocessor"):
        SegmentationModel(n_segments=2).fit(_frame(values))


def test_unknown_algorithm_and_settings_are_errors(planted):
    with pytest.raises(ModelError, match="algorithm 'dbscan' is unknown"):
        SegmentationModel(algorithm="dbscan").fit(planted[0])
    with pytest.raises(TypeError, match="ninit"):
        SegmentationModel(ninit=3)


def test_segment_names_default_and_settable():
    model = SegmentationModel()
    assert model.segment_name(2) == "Segment 2"
    assert model.segment_name(-1) == "Unassigned"
    model.names = {"2": "Bargain hunters"}
    assert model.segment_name(2) == "Bargain hunters"


def test_segment_ids_are_numbered_by_size_largest_first():
    rng = np.random.default_rng(1)
    sizes = {(8.0, 0.0): 50, (0.0, 0.0): 300, (0.0, 8.0): 100}
    blobs = [rng.normal(c, 0.5, size=(n, 2)) for c, n in sizes.items()]
    model = SegmentationModel(n_segments=3).fit(_frame(np.vstack(blobs)))
    assert model.labels_.value_counts().to_dict() == {0: 300, 1: 100, 2: 50}
    assert model.labels_.iloc[0] == 2  # the first 50 rows are the smallest blob


@pytest.mark.slow
def test_umap_model_recovers_segments_and_is_reproducible(planted):
    features, truth = planted
    settings = {"representation": "umap", "n_segments": 4, "random_state": 1}
    first = SegmentationModel(**settings).fit(features)
    second = SegmentationModel(**settings).fit(features)
    assert adjusted_rand_score(truth, first.labels_) >= 0.95
    assert_series_equal(first.labels_, second.labels_)
    assert (
        adjusted_rand_score(truth.head(100), first.predict(features.head(100))) >= 0.95
    )


def _expected_failures(estimator) -> dict[str, str]:
    return {
        # segkit.exceptions.NotFittedError is an AttributeError but not scikit-learn's
        # NotFittedError: segkit.exceptions imports nothing heavy, so that
        # `import segkit` stays cheap. The model does refuse to predict unfitted
        # (test_predict_before_fit_is_an_error).
        "check_estimators_unfitted": "segkit's own NotFittedError (AttributeError)",
    }


@parametrize_with_checks(
    [SegmentationModel()], expected_failed_checks=_expected_failures
)
def test_segmentation_model_keeps_the_scikit_learn_contract(estimator, check):
    check(estimator)


def test_every_setting_is_a_parameter_that_clone_and_set_params_reach(planted):
    features, _ = planted
    model = SegmentationModel(n_segments=3, ward_sample=123, names={0: "Loyal"})
    params = model.get_params()
    for key in ("ward_sample", "n_init", "gmm_n_init", "fit_sample", "names"):
        assert key in params
    copy = clone(model.set_params(algorithm="ward"))
    assert copy.get_params()["algorithm"] == "ward"
    assert copy.get_params()["ward_sample"] == 123
    assert copy.segment_name(0) == "Loyal"
    assert copy.fit(features) is copy


def test_arrays_are_accepted_like_frames(planted):
    features, _ = planted
    from_frame = SegmentationModel(n_segments=4).fit(features)
    from_array = SegmentationModel(n_segments=4).fit(features.to_numpy())
    assert np.array_equal(from_frame.labels_.to_numpy(), from_array.labels_.to_numpy())
    assert not hasattr(from_array, "feature_names_in_")
    assert list(from_frame.feature_names_in_) == list(features.columns)
    with pytest.raises(ModelError, match="X has 4 features, but SegmentationModel"):
        from_array.predict(features.to_numpy()[:, :4])


def test_from_config_builds_the_candidate_with_the_config_settings():
    clustering = {"n_init": 4, "ward_sample": 500, "hdbscan_min_cluster_share": 0.05}
    model = SegmentationModel.from_config("ward/pca/5", clustering, seed=9)
    assert (model.algorithm, model.representation, model.n_segments) == (
        "ward",
        "pca",
        5,
    )
    assert (model.n_init, model.ward_sample, model.min_cluster_share) == (4, 500, 0.05)
    assert model.random_state == 9
    assert SegmentationModel.from_config("hdbscan/umap", {}, seed=0).algorithm == (
        "hdbscan"
    )

"""The stability-led recommendation rule on hand-made comparison tables."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.clustering.recommend import recommend, rule_text, silhouette_words
from segkit.config import DEFAULTS
from segkit.exceptions import ConfigError, DataError


def _clustering(**changes) -> dict:
    clustering = copy.deepcopy(dict(DEFAULTS["clustering"]))
    clustering.update(changes)
    return clustering


def _row(candidate, n, sil, ch, smallest=0.1):
    algorithm, representation, *rest = candidate.split("/")
    return {
        "candidate": candidate,
        "algorithm": algorithm,
        "representation": representation,
        "k": int(rest[0]) if rest else None,
        "n_segments": n,
        "silhouette": sil,
        "calinski_harabasz": ch,
        "davies_bouldin": 1.0,
        "smallest_share": smallest,
        "largest_share": 0.5,
        "noise_share": 0.0,
        "stability": 0.9,
        "n_metric": 1000,
    }


def _fit(candidate, ps, jaccard, bimodal="", lower=None):
    return {
        "candidate": candidate,
        "ps_median": ps,
        "ps_mean": ps,
        "ps_lower": ps if lower is None else lower,
        "ps_folds": 20,
        "ps_low_folds": 0.0,
        "jaccard_min": jaccard,
        "jaccard_segments": "",
        "ari_mean": 0.9,
        "ari_q10": 0.8,
        "refits": 20 if np.isfinite(jaccard) else 0,
        "bimodal": bimodal,
    }


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _row("kmeans/scaled/2", 2, 0.50, 900),
            _row("kmeans/scaled/3", 3, 0.55, 1200),  # best silhouette among stable
            _row("kmeans/scaled/4", 4, 0.60, 1300),  # higher, but unstable
            _row("gmm/scaled/3", 3, 0.45, 1000),
            _row("kmeans/scaled/5", 5, 0.62, 1100, smallest=0.01),  # too small
            _row("rfm/rules", 6, 0.30, 200),
        ]
    )


@pytest.fixture
def assessment() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _fit("kmeans/scaled/2", 0.98, 0.95),
            _fit("kmeans/scaled/3", 0.95, 0.90),
            _fit("gmm/scaled/3", 0.93, 0.85),
            _fit("kmeans/scaled/4", 0.55, np.nan),
        ]
    )


def _null(r2=0.2):
    return pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "r2_gaussian": [r2] * 4,
            "r2_gaussian_sd": [0.01] * 4,
            "r2_uniform": [r2] * 4,
            "r2_uniform_sd": [0.01] * 4,
        }
    )


def test_the_stable_candidate_with_the_highest_silhouette_wins(table, assessment):
    scored, rec = recommend(table, _clustering(), assessment=assessment, null=_null())
    assert rec["winner"] == "kmeans/scaled/3"
    assert rec["structure"] == "clear" and rec["fallback"] is False
    rows = scored.set_index("candidate")
    assert rows.loc["kmeans/scaled/4", "reason"] == "prediction strength 0.55 < 0.80"
    assert rows.loc["kmeans/scaled/5", "reason"] == "smallest segment 1.0% < 3%"
    assert rows.loc["rfm/rules", "reason"] == "reference baseline"
    assert rec["runner_up"] == "kmeans/scaled/2"


def test_k_profile_has_one_entry_per_k_saying_why(table, assessment):
    _, rec = recommend(table, _clustering(), assessment=assessment, null=_null())
    profile = {e["k"]: e for e in rec["k_profile"]}
    assert sorted(profile) == [2, 3, 4]  # k=5 has no substantial candidate
    assert profile[3]["verdict"] == "chosen"
    assert profile[2]["verdict"] == "qualified; lower silhouette than the winner"
    assert profile[4]["verdict"] == "not qualified: prediction strength 0.55 < 0.80"


def test_a_segment_that_dissolves_disqualifies(table, assessment):
    shaky = assessment.copy()
    shaky.loc[shaky["candidate"] == "kmeans/scaled/3", "jaccard_min"] = 0.5
    scored, rec = recommend(table, _clustering(), assessment=shaky, null=_null())
    assert rec["winner"] == "kmeans/scaled/2"  # the next best stable candidate
    reason = scored.set_index("candidate").loc["kmeans/scaled/3", "reason"]
    assert reason == "a segment's Jaccard 0.50 < 0.60"


def test_nothing_stable_means_no_structure_and_a_flagged_fallback(table):
    unstable = pd.DataFrame(
        [_fit(c, 0.6, np.nan) for c in ("kmeans/scaled/2", "kmeans/scaled/3")]
    )
    _, rec = recommend(table, _clustering(), assessment=unstable, null=_null())
    assert rec["structure"] == "none"
    assert rec["fallback"] is True and rec["use_rfm_grid"] is True
    assert rec["chosen"] in {"kmeans/scaled/2", "kmeans/scaled/3"}
    assert "no candidate is both stable and substantial" in rec["structure_reason"]


def test_separation_no_better_than_structureless_data_means_none(table, assessment):
    # the winner's R2 (CH 1200, k 3, n 1000: 0.707) equals the null's
    r2 = 1200 * 2 / (1200 * 2 + 997)
    _, rec = recommend(table, _clustering(), assessment=assessment, null=_null(r2))
    assert rec["structure"] == "none" and rec["fallback"] is True
    assert "no better than k-means reaches on structureless" in rec["structure_reason"]


def test_low_silhouette_or_competing_solutions_make_it_weak(table, assessment):
    bimodal = assessment.copy()
    bimodal.loc[bimodal["candidate"] == "kmeans/scaled/3", "bimodal"] = (
        "competing solutions: 5 of 20 refits agree only 0.30-0.35"
    )
    _, rec = recommend(table, _clustering(), assessment=bimodal, null=_null())
    assert rec["structure"] == "weak"
    assert "competing solutions" in rec["bimodal"]
    low = table.copy()
    low["silhouette"] = 0.2
    _, rec = recommend(low, _clustering(), assessment=assessment, null=_null())
    assert rec["structure"] == "weak"
    assert "no substantial structure" in rec["structure_reason"]


def test_choice_in_the_config_overrides_and_is_reported(table, assessment):
    _, rec = recommend(
        table, _clustering(choice="kmeans/scaled/2"), assessment=assessment
    )
    assert rec["chosen"] == "kmeans/scaled/2" and rec["winner"] == "kmeans/scaled/3"
    assert rec["overridden"] is True


def test_a_choice_not_in_the_table_names_the_key(table, assessment):
    with pytest.raises(ConfigError, match="clustering.choice 'gmm/scaled/7'"):
        recommend(table, _clustering(choice="gmm/scaled/7"), assessment=assessment)


def test_no_separation_score_at_all_is_an_error(table):
    empty = table.assign(silhouette=np.nan)
    with pytest.raises(DataError, match="no clustering candidate produced"):
        recommend(empty, _clustering())


def test_unknown_ranking_is_refused(table):
    with pytest.raises(ConfigError, match="rank_by is 'median'"):
        recommend(table, _clustering(), rank_by="median")


def test_recommend_does_not_mutate_its_inputs(table, assessment):
    before, fits = table.copy(), assessment.copy()
    recommend(table, _clustering(), assessment=assessment, null=_null())
    assert_frame_equal(table, before)
    assert_frame_equal(assessment, fits)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0.8, "strong structure"),
        (0.6, "reasonable structure"),
        (0.3, "weak structure that could be artificial"),
        (0.1, "no substantial structure"),
        (float("nan"), "not computed"),
    ],
)
def test_silhouette_is_read_on_kaufman_and_rousseeuw_scale(value, words):
    assert silhouette_words(value) == words


def test_rule_text_states_this_configs_numbers():
    text = rule_text(_clustering(ps_cutoff=0.85, jaccard_refits=30))
    assert "at least 0.85" in text and "30 refits" in text


def test_space_ch_lets_silhouette_pick_the_space_and_ch_the_k():
    # two overlapping segments merged (k = 3) read better by silhouette; CH, within
    # the same space, prefers the split; UMAP's CH is on another scale entirely
    table = pd.DataFrame(
        [
            _row("kmeans/scaled/3", 3, 0.47, 2780),
            _row("kmeans/scaled/4", 4, 0.43, 2810),
            _row("kmeans/umap/2", 2, 0.40, 50000),
        ]
    )
    assessment = pd.DataFrame(
        [
            _fit("kmeans/scaled/3", 0.99, 0.99),
            _fit("kmeans/scaled/4", 0.95, 0.98),
            _fit("kmeans/umap/2", 0.99, 0.99),
        ]
    )
    clustering = _clustering()
    args = {"assessment": assessment, "null": _null()}
    _, by_silhouette = recommend(table, clustering, rank_by="silhouette", **args)
    _, by_ch = recommend(table, clustering, rank_by="ch", **args)
    _, hybrid = recommend(table, clustering, rank_by="space_ch", **args)
    assert by_silhouette["winner"] == "kmeans/scaled/3"
    assert by_ch["winner"] == "kmeans/umap/2"
    assert hybrid["winner"] == "kmeans/scaled/4"


@pytest.mark.parametrize(
    ("bic4", "ps4", "winner"),
    [
        (900.0, 0.92, "kmeans/scaled/4"),  # decisively likelier and stable: split
        (995.0, 0.92, "kmeans/scaled/3"),  # 5 BIC points: not decisive
        (900.0, 0.55, "kmeans/scaled/3"),  # likelier but unstable: not qualified
    ],
)
def test_silhouette_gives_way_to_a_stable_decisively_likelier_mixture(
    bic4, ps4, winner
):
    rows = [
        _row("kmeans/scaled/3", 3, 0.47, 2780),
        _row("gmm/scaled/3", 3, 0.46, 2770),
        _row("kmeans/scaled/4", 4, 0.43, 2810),
        _row("gmm/scaled/4", 4, 0.42, 2800),
        _row("gmm/pca/5", 5, 0.30, 900),  # BIC of another space is never compared
    ]
    table = pd.DataFrame(rows).assign(bic=[np.nan, 1000.0, np.nan, bic4, 10.0])
    assessment = pd.DataFrame(
        [
            _fit("kmeans/scaled/3", 0.99, 0.99),
            _fit("gmm/scaled/3", 0.99, 0.99),
            _fit("kmeans/scaled/4", 0.95, 0.98),
            _fit("gmm/scaled/4", ps4, 0.98 if ps4 > 0.8 else np.nan),
            _fit("gmm/pca/5", 0.95, 0.95),
        ]
    )
    _, rec = recommend(table, _clustering(), assessment=assessment, null=_null())
    assert rec["winner"] == winner

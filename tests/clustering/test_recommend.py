"""The recommendation rule on hand-made comparison tables."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.clustering.recommend import recommend, rule_text, score_table
from segkit.config import DEFAULTS
from segkit.exceptions import ConfigError, DataError


def _clustering(**changes) -> dict:
    clustering = copy.deepcopy(DEFAULTS["clustering"])
    clustering.update(changes)
    return clustering


def _row(
    candidate, n, sil, ch=100.0, db=1.0, smallest=0.1, stab=0.9, noise=0.0, dbcv=np.nan
):
    algorithm, representation, *rest = candidate.split("/")
    return {
        "candidate": candidate,
        "algorithm": algorithm,
        "representation": representation,
        "k": int(rest[0]) if rest else None,
        "n_segments": n,
        "silhouette": sil,
        "calinski_harabasz": ch,
        "davies_bouldin": db,
        "dbcv": dbcv,
        "smallest_share": smallest,
        "largest_share": 0.5,
        "noise_share": noise,
        "stability": stab,
    }


@pytest.fixture
def table() -> pd.DataFrame:
    # equal CH and DB everywhere: quality is then (silhouette / best eligible + 2) / 3
    return pd.DataFrame(
        [
            _row("kmeans/scaled/3", 3, 0.45),
            _row("kmeans/scaled/8", 8, 0.48),  # best raw quality, 6 segments of penalty
            _row("gmm/pca/4", 4, 0.60, smallest=0.01),  # too small a segment
            _row("ward/scaled/5", 5, 0.55, stab=0.4),  # unstable
            _row("kmeans/scaled/9", 9, 0.70),  # over max_segments
            _row("hdbscan/umap", 3, 0.99, noise=0.4, dbcv=0.9),  # too much noise
            _row("rfm/rules", 6, 0.90, stab=np.nan),  # baseline, never wins
        ]
    )


def test_over_segmentation_is_penalised_visibly(table):
    scored, rec = recommend(table, _clustering())
    assert rec["winner"] == "kmeans/scaled/3"
    rows = scored.set_index("candidate")
    # eligible: k=3 and k=8; quality (0.45/0.48 + 2)/3 = 0.9792 vs (0.48/0.48 + 2)/3 = 1
    assert rows.loc["kmeans/scaled/8", "quality"] == pytest.approx(1.0)
    assert rows.loc["kmeans/scaled/3", "quality"] == pytest.approx(0.9792, abs=1e-4)
    # ... but k=8 pays 6 x 0.01 and k=3 only 0.01: 0.94 < 0.9692
    assert rows.loc["kmeans/scaled/8", "score"] == pytest.approx(0.94)
    assert rows.loc["kmeans/scaled/3", "score"] == pytest.approx(0.9692, abs=1e-4)
    assert rec["runner_up"] == "kmeans/scaled/8"
    assert any("Over-segmentation penalty" in r for r in rec["reasons"])


def test_each_failed_constraint_is_named(table):
    rows = score_table(table, _clustering()).set_index("candidate")
    assert rows.loc["gmm/pca/4", "reason"] == "smallest segment 1.0% < 3%"
    assert rows.loc["ward/scaled/5", "reason"] == "stability 0.40 < 0.60"
    assert rows.loc["kmeans/scaled/9", "reason"] == "9 segments > max 8"
    assert rows.loc["hdbscan/umap", "reason"] == "40% unassigned > 25%"
    assert rows.loc["rfm/rules", "reason"] == "reference baseline"
    assert rows["eligible"].sum() == 2
    assert list(rows["rank"]) == list(range(1, 8))


def test_a_fringe_split_is_not_eligible(table):
    fringe = pd.DataFrame(
        [{**_row("ward/pca/2", 2, 0.84, smallest=0.03), "largest_share": 0.97}]
    )
    rows = score_table(pd.concat([table, fringe]), _clustering()).set_index("candidate")
    assert rows.loc["ward/pca/2", "reason"] == "largest segment 97% > 80%"


def test_hdbscan_is_judged_by_dbcv_not_silhouette(table):
    rows = score_table(table, _clustering()).set_index("candidate")
    assert rows.loc["hdbscan/umap", "quality"] == pytest.approx(0.9)


def test_the_rule_is_in_the_paragraph_with_the_config_numbers(table):
    _, rec = recommend(table, _clustering(max_segments=6, min_segment_share=0.05))
    assert rec["rule"] == rule_text(_clustering(max_segments=6, min_segment_share=0.05))
    assert "2 to 6 segments" in rec["paragraph"]
    assert "at least 5% and none more than 80% of customers" in rec["paragraph"]
    assert rec["paragraph"].startswith(
        "1 of 6 candidates met the constraints."
    )  # k=8 > 6


def test_choice_overrides_the_winner_but_keeps_it_on_record(table):
    _, rec = recommend(table, _clustering(choice="ward/scaled/5"))
    assert rec["chosen"] == "ward/scaled/5"
    assert rec["winner"] == "kmeans/scaled/3"
    assert rec["overridden"] is True
    assert rec["chosen_row"]["n_segments"] == 5


def test_choice_not_in_the_table_is_a_config_error(table):
    with pytest.raises(
        ConfigError, match=r"choice 'kmeans/pca/3' is not in the comparison"
    ):
        recommend(table, _clustering(choice="kmeans/pca/3"))


def test_without_any_eligible_candidate_the_closest_one_is_flagged(table):
    _, rec = recommend(table, _clustering(min_stability=0.95))
    assert rec["eligible"] == 0
    assert rec["paragraph"].startswith("0 of 6 candidates")
    assert "No candidate met every constraint" in rec["reasons"][0]


def test_no_quality_score_at_all_is_a_data_error():
    table = pd.DataFrame([_row("kmeans/scaled/3", 3, np.nan, ch=np.nan, db=np.nan)])
    with pytest.raises(DataError, match="no clustering candidate produced a quality"):
        recommend(table, _clustering())


def test_recommend_does_not_mutate_the_table(table):
    before = table.copy()
    recommend(table, _clustering())
    assert_frame_equal(table, before)


def test_near_ties_go_to_the_more_stable_candidate():
    table = pd.DataFrame(
        [
            _row("minibatch_kmeans/scaled/2", 2, 0.271, stab=0.91),
            _row("kmeans/scaled/2", 2, 0.270, stab=0.98),  # 0.001 lower: a tie
            _row("kmeans/scaled/3", 3, 0.200, stab=0.99),
        ]
    )
    _, rec = recommend(table, _clustering())
    assert rec["winner"] == "kmeans/scaled/2"
    assert rec["runner_up"] == "kmeans/scaled/3"

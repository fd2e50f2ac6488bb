"""Small versions of benchmarks/recovery.py: the reports' rule on planted data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from segkit.clustering.compare import compare_candidates
from segkit.clustering.recommend import select
from segkit.clustering.selection import candidate_model

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "recovery.py"
_spec = importlib.util.spec_from_file_location("recovery_benchmark", _PATH)
recovery = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("recovery_benchmark", recovery)
_spec.loader.exec_module(recovery)
SCENARIOS = {s.name: s for s in recovery.SCENARIOS}


def _choose(name: str, n: int = 600, seed: int = 0):
    frame, truth = recovery.make_scenario(SCENARIOS[name], n, seed)
    clustering = recovery.clustering_settings(k_max=6)
    table = compare_candidates(frame, clustering=clustering, seed=seed).table
    scored, rec, _ = select(table, frame, clustering, seed=seed)
    model = candidate_model(rec["winner"], clustering, seed=seed).fit(frame)
    k = int(scored.set_index("candidate").at[rec["winner"], "n_segments"])
    return rec, k, adjusted_rand_score(truth, model.labels_.to_numpy())


@pytest.mark.parametrize("name", ["sep3", "unequal4"])
def test_planted_segments_are_found_with_their_k(name):
    rec, k, ari = _choose(name)
    assert k == SCENARIOS[name].k
    assert rec["structure"] in {"clear", "weak"} and rec["fallback"] is False
    assert ari >= 0.95


def test_one_gaussian_has_no_segment_structure():
    rec, _, _ = _choose("gauss")
    assert rec["structure"] == "none"
    assert rec["fallback"] is True and rec["use_rfm_grid"] is True


def test_scenarios_cover_the_brief():
    planted = [s for s in recovery.SCENARIOS if s.k > 0]
    assert len(planted) >= 12
    assert {s.k for s in planted} >= set(range(2, 9))
    hard = [s for s in planted if s.separation <= 3.5]
    assert {s.k for s in hard} >= {4, 6}  # the weak tier: 3-3.5 within-SDs apart
    assert any(s.weights for s in hard) and any(s.noise_features for s in hard)
    assert any(s.categorical for s in planted) and any(
        s.noise_features for s in planted
    )
    assert any(s.k == 0 for s in recovery.SCENARIOS)

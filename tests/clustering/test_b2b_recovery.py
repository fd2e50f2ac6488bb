"""End-to-end check that the default pipeline recovers the planted B2B segments.

Runs data -> features -> compare on ``configs/b2b_synthetic.yaml`` (the committed
SYNTHETIC files in ``data/synthetic/``) and compares the recommended segmentation
with the planted truth in ``data/synthetic/b2b_truth.csv.gz``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segkit.context import open_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_default_pipeline_recommends_the_four_planted_b2b_segments(tmp_path):
    ctx = open_run(ROOT / "configs/b2b_synthetic.yaml", tmp_path / "run")
    ctx.run_step("compare")
    labels = ctx.load_frame("labels.parquet")["segment"]
    truth = pd.read_csv(
        ROOT / "data/synthetic/b2b_truth.csv.gz", dtype={"account_id": str}
    ).set_index("account_id")["segment"]
    assert labels.index.astype(str).sort_values().equals(truth.index.sort_values())
    assert labels.nunique() == 4, f"recommended {labels.nunique()} segments"
    ari = adjusted_rand_score(truth.reindex(labels.index.astype(str)), labels)
    assert ari >= 0.9, f"ARI with the planted segments {ari:.3f}"

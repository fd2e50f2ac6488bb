"""segkit warmup: the compile caches filled once, on synthetic data (segkit.warmup)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from segkit import warmup
from segkit.config import load_config
from segkit.runner.cli import main

#: UMAP.fit computes exact neighbours below this many rows, pynndescent's from it.
UMAP_SMALL_DATA = 4096


def test_the_warm_up_config_takes_both_of_umaps_neighbour_paths(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("customer_id,order_id,timestamp,amount\n", encoding="utf-8")
    path = tmp_path / "warmup.yaml"
    path.write_text(warmup._config_text(data), encoding="utf-8")
    config = load_config(path)
    clustering = config.clustering
    assert "umap" in clustering.representations
    assert min(clustering.fit_sample, warmup.CUSTOMERS) >= UMAP_SMALL_DATA
    for sample in ("refit_sample", "metric_sample", "map_sample"):
        assert getattr(clustering, sample) < UMAP_SMALL_DATA, sample
    assert config.value.enabled and config.transactions.path == str(data)


@pytest.mark.slow
def test_warm_up_runs_every_compiling_step_and_leaves_no_folder():
    before = set(Path(tempfile.gettempdir()).glob("segkit-warmup-*"))
    done = warmup.warm_up(customers=600)
    assert list(done["steps"]) == list(warmup.STEPS)
    assert all(seconds > 0 for seconds in done["steps"].values())
    assert done["seconds"] >= sum(done["steps"].values())
    assert set(Path(tempfile.gettempdir()).glob("segkit-warmup-*")) == before


def test_segkit_warmup_prints_the_seconds_per_step(monkeypatch, capsys):
    steps = {"data": 1.0, "value": 3.5}
    monkeypatch.setattr(warmup, "warm_up", lambda: {"seconds": 5.0, "steps": steps})
    assert main(["warmup"]) == 0
    line = capsys.readouterr().out.strip()
    assert line == (
        "segkit warmup: compiled caches filled in 5.0 s (data 1.0 s, value 3.5 s)"
    )

"""Tests for segkit.validation.report: figures have titles, tables hide customer ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.datasets import make_blobs

import segkit.validation.report as pv
from segkit.clustering.model import SegmentationModel
from segkit.config import validate_config
from segkit.context import RunContext
from segkit.display import Note
from segkit.validation import step


@pytest.fixture(scope="module")
def art(tmp_path_factory) -> dict:
    """Artifacts of the validate step on 3 planted segments with a response column."""
    folder = tmp_path_factory.mktemp("plots_validate")
    values, truth = make_blobs(
        n_samples=150, centers=3, n_features=2, cluster_std=0.4, random_state=0
    )
    index = pd.Index([f"cust{i:03d}" for i in range(150)], name="customer_id")
    features = pd.DataFrame(values, index=index, columns=["spend", "visits"])
    customers = pd.DataFrame({"Response": np.where(truth == 0, 1.0, 0.0)}, index=index)
    config = validate_config(
        {
            "name": "plots",
            "customers": {
                "path": "c.csv",
                "columns": {"customer_id": "id"},
                "outcomes": ["Response"],
            },
            "clustering": {"k_min": 2, "k_max": 4},
            "validation": {"bootstrap": 3, "ci_resamples": 100},
        },
        root=folder,
    )
    ctx = RunContext(config=config, run_dir=folder / "run")
    model = SegmentationModel(n_segments=3, random_state=0).fit(features)
    model.save(ctx.artifact("model.joblib"))
    ctx.save_frame("features.parquet", features)
    ctx.save_frame("labels.parquet", model.labels_.to_frame())
    ctx.save_frame("customers.parquet", customers)
    step.run(ctx)
    return pv.validate_artifacts(ctx)


def _title(fig: Figure) -> str:
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return suptitle or fig.axes[0].get_title()


def test_every_chart_is_a_titled_figure_that_renders(art):
    names = art["names"]
    figures = [
        pv.stability_chart(art["stability"], names=names),
        pv.prediction_strength_chart(art["prediction_strength"], model_k=3),
        pv.distinctness_heatmap(art["effects"], art["kruskal"], names=names),
        pv.outcome_chart(art["outcomes"], names=names),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert _title(fig)
        assert fig._repr_png_()[:4] == b"\x89PNG"


def test_outcome_chart_uses_the_rate_for_attribute_data(art):
    fig = pv.outcome_chart(art["outcomes"])
    assert _title(fig).startswith("Outcome rate per segment")


def test_missing_outcomes_say_so_in_a_sentence_not_an_image():
    note = pv.outcome_chart(None, metric="retention")
    assert isinstance(note, Note) and "Not measured" in note
    assert "no outcome" in pv.outcome_comparison_table(None)["note"].iloc[0]


def test_tables_show_segments_and_never_customer_ids(art):
    tables = [
        pv.sample_sizes_table(art["json"]),
        pv.stability_summary_table(art["json"]),
        pv.distinctness_table(art["distinctness"], names=art["names"]),
        pv.outcome_comparison_table(art["comparison"]),
        pv.verdict_table(art["verdict"]),
        pv.thresholds_table(art["json"]["verdict"]["thresholds"]),
        pv.baseline_table(art["json"]),
        pv.separation_table(art["json"], names=art["names"]),
    ]
    for table in tables:
        text = table.to_string()
        assert "cust0" not in text
    verdict = pv.verdict_table(art["verdict"])
    # Rows are the segments' names (the profile step's names), one row each.
    assert list(verdict.index) == list(art["verdict"]["name"])
    assert verdict.index.is_unique and len(verdict) == 3
    assert set(verdict["recommendation"]) == {"keep"}
    sizes = pv.sample_sizes_table(art["json"])
    assert sizes.loc["bootstrap refits", "number"] == "3"


def test_verdict_note_renders_as_markdown(art):
    note = pv.verdict_note(art["json"])
    assert note._repr_markdown_().startswith("**Verdict.** On held-out customers the")


def test_baseline_table_puts_the_wording_beside_the_intervals(art):
    table = pv.baseline_table(art["json"])
    assert list(table.index) == ["shuffled labels"]
    assert table.loc["shuffled labels", "segments are"] == "better"
    assert table.loc["shuffled labels", "groups"] == 3
    cell = table.loc["shuffled labels", "difference, points [95%]"]
    assert cell.startswith("+") and "[" in cell
    assert "no outcome" in pv.baseline_table({"baselines": []})["note"].iloc[0]


def test_separation_table_labels_held_out_and_descriptive_columns(art):
    table = pv.separation_table(art["json"], names=art["names"])
    assert len(table) == 3
    assert set(table["distinct (held-out gap)"]) <= {"yes", "no", "not tested"}
    assert "largest |Cliff's delta| (descriptive)" in table.columns


def test_stability_summary_states_the_shape_of_the_refits(art):
    table = pv.stability_summary_table(art["json"])
    assert table.loc["shape of the refits' ARI", "value"] in {
        "not measured",
        "one mode (no competing solution)",
    }

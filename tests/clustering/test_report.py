"""Notebook 03 figures and tables, and the notebook's static rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from segkit.clustering import report as plots
from segkit.exceptions import SchemaError

NOTEBOOK = (
    Path(__file__).resolve().parents[2] / "notebooks" / "03-cluster-compare.ipynb"
)


@pytest.fixture
def scored() -> pd.DataFrame:
    rows = []
    for algorithm in ("kmeans", "gmm"):
        for k in (2, 3, 4, 5):
            rows.append(
                {
                    "candidate": f"{algorithm}/scaled/{k}",
                    "algorithm": algorithm,
                    "representation": "scaled",
                    "k": k,
                    "n_segments": k,
                    "silhouette": 0.5 - 0.05 * abs(k - 3),
                    "calinski_harabasz": 100.0 * k,
                    "davies_bouldin": 1.0,
                    "wcss": 100.0 / k**2,
                    "stability": 0.9,
                    "bic": 1000.0 - k if algorithm == "gmm" else np.nan,
                    "quality": 0.9,
                    "score": 0.9 - 0.01 * k,
                    "eligible": True,
                    "rank": 0,
                }
            )
    frame = pd.DataFrame(rows)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


@pytest.fixture
def sizes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate": ["kmeans/scaled/2"] * 2 + ["kmeans/scaled/3"] * 3,
            "segment": [0, 1, -1, 0, 1],
            "share": [0.7, 0.3, 0.1, 0.6, 0.3],
        }
    )


def test_metric_curves_facet_one_row_per_metric_and_one_column_per_view(scored):
    fig = plots.metric_curves(scored)
    assert isinstance(fig, Figure)
    views = scored.loc[scored["k"].notna(), "representation"].unique()
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(rows) == 6  # silhouette, CH, DB, spread, stability, BIC
    assert len(fig.axes) == 6 * len(views)
    assert [ax.get_title() for ax in fig.axes[: len(views)]] == [
        f"view: {v}"
        for v in dict.fromkeys(scored.loc[scored["k"].notna(), "representation"])
    ]
    # one line per algorithm at most in any panel (elbow rings are single points)
    algorithms = scored["algorithm"].nunique()
    assert (
        max(sum(len(line.get_xdata()) > 1 for line in ax.lines) for ax in fig.axes)
        <= algorithms
    )
    assert fig._suptitle.get_text()


def test_metric_curves_share_a_rows_axis_except_bic(scored):
    # a second view whose every measure sits far from the first view's
    other = scored.copy()
    other["representation"] = "umap"
    other["candidate"] = other["candidate"].str.replace("scaled", "umap")
    for column in ("silhouette", "calinski_harabasz", "wcss", "bic"):
        other[column] = other[column] * 3 + 1
    other["stability"] = [0.5, 0.6, 0.7, 0.8] * 2
    fig = plots.metric_curves(pd.concat([scored, other], ignore_index=True))
    views = 2
    rows = [fig.axes[i : i + views] for i in range(0, len(fig.axes), views)]
    labels = [row[0].get_ylabel() for row in rows]
    for label, row in zip(labels, rows, strict=True):
        limits = {ax.get_ylim() for ax in row}
        if "BIC" in label:
            assert len(limits) > 1  # each view's own scale
        else:
            assert len(limits) == 1, label
            # and every point of the row is inside the shared range
            low, high = limits.pop()
            for ax in row:
                for line in ax.lines:
                    y = np.asarray(line.get_ydata(), dtype=float)
                    y = y[np.isfinite(y)]
                    assert ((y >= low) & (y <= high)).all()


def test_metric_curves_name_missing_columns(scored):
    with pytest.raises(SchemaError, match=r"lacks the columns \['wcss'\]"):
        plots.metric_curves(scored.drop(columns="wcss"))


def _rec(structure="clear", fallback=False, bimodal=""):
    entry = {
        "candidate": "kmeans/scaled/3",
        "qualified": True,
        "ps_median": 0.95,
        "ps_lower": 0.9,
        "jaccard_min": 0.88,
        "ari_mean": 0.9,
        "silhouette": 0.52,
        "calinski_harabasz": 1200.0,
        "r2": 0.7,
        "r2_null": 0.4,
        "smallest_share": 0.2,
        "bimodal": bimodal,
        "borderline": "",
        "verdict": "chosen",
    }
    other = entry | {
        "k": 4,
        "candidate": "kmeans/scaled/4",
        "qualified": False,
        "ps_median": 0.6,
        "jaccard_min": None,
        "verdict": "not qualified: prediction strength 0.60 < 0.80",
    }
    return {
        "chosen": "kmeans/scaled/3",
        "winner": "kmeans/scaled/3",
        "structure": structure,
        "structure_reason": "stable, substantial",
        "fallback": fallback,
        "bimodal": bimodal,
        "near_misses": ["kmeans/scaled/4"],
        "k_profile": [entry | {"k": 3}, other],
        "constraints": {"ps_cutoff": 0.8, "min_jaccard": 0.6},
        "chosen_row": {"silhouette": 0.52},
    }


def test_k_profile_table_and_chart_show_every_k():
    table = plots.k_profile_table(_rec())
    frame = table
    assert list(frame.index) == [3, 4]
    assert frame.loc[4, "verdict"].startswith("not qualified")
    fig = plots.k_profile_chart(_rec())
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2


def test_structure_note_leads_with_the_verdict_and_reads_silhouette():
    text = plots.structure_note(_rec())._repr_markdown_()
    assert text.startswith("**Clear segment structure.**")
    assert "reasonable structure on Kaufman & Rousseeuw" in text
    none = plots.structure_note(_rec("none", fallback=True))._repr_markdown_()
    assert none.startswith("**No clear segment structure.** Use the rule-based RFM")
    assert "is a fallback" in none
    # the reason is a clause ("its share ..."); on the page it is a sentence
    rec = _rec("none", fallback=True) | {"structure_reason": "its R-squared is low"}
    lines = plots.structure_note(rec)._repr_markdown_().splitlines()
    assert lines[2] == "The chosen segmentation's R-squared is low."
    assert plots.structure_note(_rec())._repr_markdown_().splitlines()[2] == (
        "Stable, substantial."
    )
    split = plots.structure_note(_rec(bimodal="competing solutions: 5 of 20"))
    assert "competing solutions: 5 of 20" in split._repr_markdown_()


def test_near_misses_say_why_they_lost(scored):
    data = scored.assign(
        ps_median=0.6, jaccard_min=np.nan, reason="prediction strength 0.60 < 0.80"
    )
    table = plots.near_miss_table(data, _rec())
    frame = table
    assert list(frame.index) == ["kmeans/scaled/4"]
    assert frame.iloc[0]["why not chosen"] == "prediction strength 0.60 < 0.80"


def test_sizes_have_titles(sizes):
    fig = plots.segment_sizes(sizes, candidates=["kmeans/scaled/2", "kmeans/scaled/3"])
    assert len(fig.axes) == 2 and fig._suptitle.get_text()
    with pytest.raises(SchemaError, match="needs candidates"):
        plots.segment_sizes(sizes)


def test_segment_map_samples_points_and_names_noise():
    index = pd.Index([f"c{i}" for i in range(50)], name="customer_id")
    embedding = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0)}, index=index)
    labels = pd.Series([-1] * 10 + [0] * 40, index=index)
    fig = plots.segment_map(embedding, labels, max_points=20)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Unassigned" in legend
    assert "a sample of 20 of the 50 customers" in fig.axes[0].get_title()


def test_recommendation_note_states_the_rule():
    rec = {
        "chosen": "kmeans/scaled/3",
        "structure": "clear",
        "eligible": 4,
        "candidates": 9,
        "reasons": ["Winner: kmeans/scaled/3."],
        "rule": "Eligible: 2 to 8 segments.",
    }
    note = plots.recommendation_note(rec)
    assert "**The rule.** Eligible: 2 to 8 segments." in note._repr_markdown_()
    assert "4 of 9 candidates" in note._repr_markdown_()


def test_notebook_follows_the_house_rules():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "segkit"
    cells = nb["cells"]
    assert cells[1]["metadata"]["tags"] == ["parameters"]
    assert "".join(cells[1]["source"]).splitlines() == [
        'config_path = "../configs/online_retail.yaml"',
        'run_dir = ""',
        "overrides = {}",
    ]
    assert "".join(cells[2]["source"]) == (
        "import segkit\nctx = segkit.context.open_run(config_path, run_dir or None, overrides)"
    )
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            assert len(source.splitlines()) <= 10
            assert "def " not in source and "class " not in source
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.slow
def test_notebook_runs_on_the_fixture_and_prints_the_recommendation(tmp_path):
    import papermill

    fixture = NOTEBOOK.parents[1] / "tests" / "fixtures" / "retail_small.yaml"
    out = tmp_path / "03.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"config_path": str(fixture), "run_dir": str(tmp_path / "run")},
        kernel_name="segkit",
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
    )
    text = out.read_text(encoding="utf-8")
    assert "Chosen segmentation" in text and "The rule." in text
    assert "segment structure" in text and "k-profile" in text
    import nbformat

    figures = [
        output
        for cell in nbformat.reads(text, as_version=4).cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(figures) == 4

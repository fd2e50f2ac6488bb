"""The structure sentence that opens 04 and 05 (segkit.validation.structure)."""

from __future__ import annotations

from segkit.validation.structure import structure_sentence


def test_no_structure_recommends_the_rfm_grid_and_calls_the_segments_fallback():
    text = structure_sentence({"structure": "none", "fallback": True})
    assert text.startswith("There is no clear segment structure")
    assert "fallback segments" in text


def test_an_analysts_choice_is_said_first_and_never_called_a_fallback():
    tiers = structure_sentence(
        {
            "structure": "none",
            "fallback": True,
            "overridden": True,
            "chosen": "clv_tiers/scaled",
            "structure_reason": "R-squared 0.24 is no better than the null",
        }
    )
    assert tiers.startswith("These segments are CLV tiers chosen by the analyst")
    assert "no clear segment structure (r-squared 0.24" in tiers
    assert "fallback" not in tiers
    picked = structure_sentence(
        {"structure": "weak", "overridden": True, "chosen": "kmeans/scaled/4"}
    )
    assert picked.startswith("These segments are kmeans/scaled/4, chosen by the")
    assert "only weak structure" in picked and "RFM grid" not in picked

"""The one Hungarian matcher: known pairs on hand-made assignments."""

import numpy as np
import pandas as pd
import pytest

from segkit.clustering.matching import match_segments


def test_renamed_segments_are_paired_back():
    before = pd.Series([0, 0, 0, 1, 1, 2], index=list("abcdef"))
    after = pd.Series([5, 5, 5, 7, 7, 9], index=list("abcdef"))
    assert match_segments(before, after) == {0: 5, 1: 7, 2: 9}


def test_series_are_aligned_on_their_common_customers():
    before = pd.Series([0, 0, 1, 1], index=list("abcd"))
    after = pd.Series([1, 1, 0, 0, 3], index=list("dcbaz"))
    assert match_segments(before, after) == {0: 0, 1: 1}


def test_one_to_one_even_when_one_segment_overlaps_two():
    # 0 shares 3 customers with 10 and 2 with 11; 1 shares 2 with 10 only.
    before = np.array([0, 0, 0, 0, 0, 1, 1])
    after = np.array([10, 10, 10, 11, 11, 10, 10])
    assert match_segments(before, after) == {0: 11, 1: 10} or match_segments(
        before, after
    ) == {0: 10, 1: 11}
    pairs = match_segments(before, after)
    assert len(set(pairs.values())) == 2


def test_noise_pairs_only_with_noise_and_empty_pairs_can_be_dropped():
    before = np.array([-1, -1, 0, 0, 1])
    after = np.array([-1, 0, 0, 0, 2])
    assert match_segments(before, after, noise_apart=True) == {-1: -1, 0: 0, 1: 2}
    loose = np.array([0, 0, 1])
    assert match_segments(loose, np.array([4, 4, 4]), drop_empty=True) == {0: 4}
    assert match_segments(loose, np.array([4, 4, 4])) == {0: 4}


def test_arrays_of_different_length_are_refused():
    with pytest.raises(ValueError, match="before has 2 ids and after 3"):
        match_segments(np.array([0, 1]), np.array([0, 1, 1]))

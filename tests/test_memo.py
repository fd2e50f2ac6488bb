"""The memo of the validation's costly parts (segkit.memo): same inputs, same result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segkit import memo
from segkit.validation import baselines
from tests.conftest import python_under_hash_seeds

ROOT = Path(__file__).resolve().parents[1]

CALLS: list[int] = []


def slow_sum(values: np.ndarray, *, scale: float = 1.0) -> float:
    """A computation that counts its calls."""
    CALLS.append(len(values))
    return float(values.sum() * scale)


@pytest.fixture
def memo_dir(tmp_path):
    CALLS.clear()
    memo.configure(tmp_path / "memo")
    yield tmp_path / "memo"
    memo.configure(None)


def test_off_by_default_every_call_computes():
    CALLS.clear()
    assert memo.folder() is None
    memo.call(slow_sum, np.arange(4.0))
    memo.call(slow_sum, np.arange(4.0))
    assert CALLS == [4, 4]


def test_the_same_call_is_read_back_and_a_changed_argument_computes(memo_dir):
    values = np.arange(5.0)
    assert memo.call(slow_sum, values, scale=2.0) == 20.0
    assert memo.call(slow_sum, values.copy(), scale=2.0) == 20.0
    assert CALLS == [5]
    assert memo.call(slow_sum, values, scale=3.0) == 30.0
    changed = values.copy()
    changed[0] = 1.0
    assert memo.call(slow_sum, changed, scale=2.0) == 22.0
    assert CALLS == [5, 5, 5]


def test_fresh_computes_and_refreshes_the_stored_result(memo_dir):
    values = np.arange(3.0)
    memo.call(slow_sum, values)
    memo.configure(memo_dir, read=False)
    memo.call(slow_sum, values)
    assert CALLS == [3, 3]
    memo.configure(memo_dir)
    memo.call(slow_sum, values)
    assert CALLS == [3, 3]


def test_a_new_code_fingerprint_computes_again(memo_dir, monkeypatch):
    from segkit import reuse

    memo.call(slow_sum, np.ones(2))
    monkeypatch.setattr(reuse, "code_fingerprint", lambda: "another segkit")
    memo.call(slow_sum, np.ones(2))
    assert CALLS == [2, 2]


def test_an_unhashable_argument_computes_as_usual(memo_dir):
    def local(x):
        CALLS.append(x)
        return x + 1

    assert memo.call(local, 1) == 2
    assert memo.call(local, 1) == 2
    assert CALLS == [1, 1]


def test_prune_keeps_the_newest_results(memo_dir):
    for i in range(6):
        memo.call(slow_sum, np.arange(float(i + 1)))
    memo.prune(memo_dir, keep=2)
    CALLS.clear()
    memo.call(slow_sum, np.arange(6.0))
    memo.call(slow_sum, np.arange(1.0))
    assert CALLS == [1]


def _heldout_case():
    rng = np.random.default_rng(3)
    n = 300
    labels = rng.integers(0, 3, size=n)
    y = labels * 1.5 + rng.normal(size=n)
    fold = baselines.halves(n, random_state=1)
    outcomes = {"y": y}
    labelings = {"model": labels, "shuffled": rng.permutation(labels)}
    return outcomes, labelings, fold


def test_heldout_intervals_at_a_new_level_come_from_the_stored_draws(
    memo_dir, monkeypatch
):
    outcomes, labelings, fold = _heldout_case()
    options = {"n_resamples": 200, "n_permutations": 50, "random_state": 0}
    memo.configure(None)
    plain = {
        level: baselines.compare_heldout(
            outcomes, labelings, fold, level=level, **options
        )
        for level in (0.95, 0.8)
    }
    memo.configure(memo_dir)
    first = baselines.compare_heldout(outcomes, labelings, fold, level=0.95, **options)
    pd.testing.assert_frame_equal(first, plain[0.95], check_exact=True)

    def no_more_resampling(*args, **kwargs):
        raise AssertionError("the draws were computed again")

    monkeypatch.setattr(baselines, "_weights", no_more_resampling)
    again = baselines.compare_heldout(outcomes, labelings, fold, level=0.8, **options)
    pd.testing.assert_frame_equal(again, plain[0.8], check_exact=True)
    # the 80% intervals lie inside the 95% ones: the level was applied
    wide, narrow = plain[0.95].iloc[0], plain[0.8].iloc[0]
    assert wide["low"] < narrow["low"] < narrow["high"] < wide["high"]
    assert len(list(memo_dir.rglob("output.pkl"))) == 1


def test_a_result_stored_by_one_process_is_read_by_another(tmp_path):
    script = (
        "import sys, numpy as np\n"
        "from segkit import memo\n"
        "from segkit.validation import baselines\n"
        "memo.configure(sys.argv[1])\n"
        "fold = baselines.halves(40, random_state=0)\n"
        "labels = np.arange(40) % 2\n"
        "y = labels + np.linspace(0, 1, 40)\n"
        "t = baselines.compare_heldout({'y': y}, {'model': labels}, fold,\n"
        "    n_resamples=20, n_permutations=5)\n"
        "print(t['low'].iloc[0])\n"
    )
    outs = python_under_hash_seeds(script, str(tmp_path / "memo"))
    assert outs[0] == outs[1]
    # one entry: the second process found the first one's result
    assert len(list((tmp_path / "memo").rglob("output.pkl"))) == 1


def test_a_keyed_call_is_read_back_by_its_key_alone(memo_dir):
    values = np.arange(6.0)
    assert memo.call_keyed({"data": "a"}, slow_sum, values) == 15.0
    # same key: read back, whatever the (large) arguments
    assert memo.call_keyed({"data": "a"}, slow_sum, values.copy()) == 15.0
    assert CALLS == [6]
    # another key, or another function under the same key, computes
    assert memo.call_keyed({"data": "b"}, slow_sum, values, scale=2.0) == 30.0
    assert memo.call_keyed({"data": "a"}, other_sum, values) == 16.0
    assert CALLS == [6, 6, 6]


def test_a_keyed_call_computes_when_off_or_fresh(memo_dir):
    values = np.arange(2.0)
    memo.call_keyed("k", slow_sum, values)
    memo.configure(memo_dir, read=False)
    memo.call_keyed("k", slow_sum, values)
    memo.configure(None)
    memo.call_keyed("k", slow_sum, values)
    assert CALLS == [2, 2, 2]


def other_sum(values: np.ndarray) -> float:
    CALLS.append(len(values))
    return float(values.sum() + 1)

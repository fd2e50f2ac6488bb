"""Tests of segkit.datasets: determinism, canonical columns, planted segments."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segkit.datasets import (
    B2B_FILES,
    main,
    make_b2b_accounts,
    make_b2c_transactions,
    make_customer_features,
    write_b2b,
)
from segkit.exceptions import ConfigError

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"


@pytest.fixture(scope="module")
def b2c():
    return make_b2c_transactions(400, n_segments=4, seed=1)


@pytest.fixture(scope="module")
def b2b():
    return make_b2b_accounts(300, seed=2)


def test_same_seed_gives_identical_b2c_output_and_another_seed_differs(b2c):
    again = make_b2c_transactions(400, n_segments=4, seed=1)
    assert_frame_equal(again[0], b2c[0])
    assert_series_equal(again[1], b2c[1])
    other, _ = make_b2c_transactions(400, n_segments=4, seed=2)
    assert not other["amount"].equals(b2c[0]["amount"])


def test_same_seed_gives_identical_b2b_and_blob_output(b2b):
    again = make_b2b_accounts(300, seed=2)
    for left, right in zip(again, b2b, strict=True):
        if isinstance(left, pd.DataFrame):
            assert_frame_equal(left, right)
        else:
            assert_series_equal(left, right)
    first, second = (
        make_customer_features(50, seed=3),
        make_customer_features(50, seed=3),
    )
    assert_frame_equal(first[0], second[0])


def test_b2c_transactions_have_the_canonical_columns_and_dtypes(b2c):
    tx, truth = b2c
    assert list(tx.columns) == [
        "customer_id", "order_id", "timestamp", "quantity", "unit_price", "amount",
        "product_id", "country",
    ]  # fmt: skip
    assert tx["customer_id"].dtype == "str" and tx["order_id"].dtype == "str"
    assert tx["timestamp"].dtype == "datetime64[ns]"
    assert tx["amount"].to_numpy() == pytest.approx(
        tx["quantity"] * tx["unit_price"], abs=0.006
    )
    assert (tx["quantity"] > 0).all() and (tx["unit_price"] > 0).all()
    assert tx["timestamp"].is_monotonic_increasing
    assert tx["timestamp"].min() >= pd.Timestamp("2023-01-01")
    assert tx["timestamp"].max() < pd.Timestamp("2024-01-01")
    assert set(tx["customer_id"]) == set(truth.index)
    assert truth.index.name == "customer_id" and truth.name == "segment"
    # each order belongs to exactly one customer
    assert tx.groupby("order_id")["customer_id"].nunique().eq(1).all()


def test_b2c_planted_segments_differ_in_recency_frequency_and_basket(b2c):
    tx, truth = b2c
    end = pd.Timestamp("2024-01-01")
    per = tx.groupby("customer_id").agg(
        orders=("order_id", "nunique"),
        last=("timestamp", "max"),
        revenue=("amount", "sum"),
    )
    per["recency"] = (end - per["last"]).dt.days
    per["basket"] = per["revenue"] / per["orders"]
    by = per.groupby(truth).median()
    assert truth.value_counts().to_dict() == {
        "one_timers": 140, "regular": 120, "lapsed": 92, "champions": 48,
    }  # fmt: skip
    assert per.loc[truth[truth == "one_timers"].index, "orders"].eq(1).all()
    assert by.loc["champions", "orders"] > 2 * by.loc["regular", "orders"]
    assert by.loc["lapsed", "recency"] > 365 * 0.5  # nothing in the last 55 %
    assert by.loc["champions", "recency"] < 30
    assert by.loc["champions", "basket"] > 2 * by.loc["one_timers", "basket"]


def test_b2b_accounts_carry_firmographics_and_planted_segments(b2b):
    accounts, tx, truth = b2b
    assert list(accounts.columns) == [
        "account_id", "industry", "company_size", "annual_revenue", "contract_value",
        "region", "signup_date",
    ]  # fmt: skip
    assert set(accounts["company_size"]) <= {
        "1-10",
        "11-50",
        "51-200",
        "201-1000",
        "1000+",
    }
    assert accounts["signup_date"].dtype == "datetime64[ns]"
    seg = truth.reindex(accounts["account_id"]).to_numpy()
    contract = accounts.groupby(seg)["contract_value"].mean()
    assert contract["strategic"] > contract["growth"] > contract["transactional"] == 0
    assert contract["dormant"] == 0
    big = accounts["company_size"].isin(["201-1000", "1000+"]).groupby(seg).mean()
    assert big["strategic"] > 0.8 and big["transactional"] == 0
    signup = accounts.groupby(seg)["signup_date"].median()
    assert signup.idxmax() == "growth"  # growth accounts are the newest


def test_b2b_transactions_are_raw_style_with_credit_notes_and_dormant_accounts(b2b):
    _, tx, truth = b2b
    credit = tx["invoice_id"].str.startswith("C")
    assert 0.01 < credit.mean() < 0.03
    assert (tx.loc[credit, "quantity"] < 0).all() and (
        tx.loc[~credit, "quantity"] > 0
    ).all()
    last = tx.groupby("account_id")["invoice_date"].max()
    dormant = last[truth[truth == "dormant"].index]
    assert dormant.max() < pd.Timestamp("2023-01-01") + pd.Timedelta(days=0.4 * 731 + 1)


def test_b2b_segments_have_distinct_order_patterns(b2b):
    _, tx, truth = b2b
    lines = tx[~tx["invoice_id"].str.startswith("C")].assign(
        value=lambda d: d["quantity"] * d["unit_price"]
    )
    mid = pd.Timestamp("2023-01-01") + pd.Timedelta(days=365)
    per = lines.groupby("account_id").agg(
        orders=("invoice_id", "nunique"),
        value=("value", "sum"),
        skus=("sku", "nunique"),
        late=("invoice_date", lambda d: (d >= mid).mean()),
    )
    per["basket"] = per["value"] / per["orders"]
    by = per.groupby(truth.reindex(per.index)).median()
    # transactional: most orders, smallest baskets, narrowest range of products
    assert by["orders"].idxmax() == "transactional"
    assert by["basket"].idxmin() == "transactional"
    assert by["skus"].idxmin() == "transactional"
    # strategic: biggest baskets and widest range; growth: orders pile up late
    assert by["basket"].idxmax() == "strategic" and by["skus"].idxmax() == "strategic"
    assert by.loc["growth", "late"] > 0.7 > by.loc["strategic", "late"] > 0.3
    assert by["orders"].idxmin() == "dormant" and by.loc["dormant", "late"] == 0


def test_planted_blobs_are_recovered_by_kmeans():
    features, truth = make_customer_features(600, n_segments=4, seed=0)
    assert features.shape == (600, 6) and truth.nunique() == 4
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(features)
    assert adjusted_rand_score(truth, labels) > 0.95


def test_committed_b2b_files_match_a_fresh_regeneration(tmp_path):
    written = write_b2b(tmp_path)
    assert [p.name for p in written] == list(B2B_FILES.values())
    total = 0
    for name in B2B_FILES.values():
        committed = SYNTHETIC / name
        assert committed.exists(), (
            f"run: python -m segkit.datasets b2b --out {SYNTHETIC}"
        )
        # compare the content: gzip bytes may differ between zlib builds
        fresh = gzip.decompress((tmp_path / name).read_bytes())
        assert fresh == gzip.decompress(committed.read_bytes()), name
        total += committed.stat().st_size
    assert total < 3_000_000


def test_regeneration_is_byte_identical(tmp_path):
    first = write_b2b(tmp_path / "a", n_accounts=50)
    second = write_b2b(tmp_path / "b", n_accounts=50)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_command_line_writes_the_b2b_files(tmp_path, capsys):
    assert main(["b2b", "--out", str(tmp_path), "--n", "30"]) == 0
    accounts = pd.read_csv(tmp_path / B2B_FILES["accounts"])
    assert len(accounts) == 30
    assert "b2b_transactions.csv.gz" in capsys.readouterr().out


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError, match=r"n_segments must be between 1 and 6, got 9"):
        make_b2c_transactions(10, n_segments=9)
    with pytest.raises(ConfigError, match=r"n_accounts must be an integer >= 1, got 0"):
        make_b2b_accounts(0)
    with pytest.raises(ConfigError, match=r"n_customers must be an integer >= 1"):
        make_customer_features(np.float64(3.0))

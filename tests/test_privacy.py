"""Keyed pseudonyms: stable with the key, different without it, irreversible from
the config name and seed."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pandas as pd
import pytest

from segkit import privacy

IDS = pd.Series(["17850", "13047", "12583"], name="customer_id")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_the_key_is_created_once_outside_the_project_with_private_permissions(home):
    first = privacy.pseudonymise(IDS, salt="online-retail")
    path = home / "config" / "segkit" / "pseudonym.key"
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) == 64
    again = privacy.pseudonymise(IDS, salt="online-retail")
    pd.testing.assert_series_equal(first, again)
    assert first.str.match(r"^c-[0-9a-f]{10}$").all()


def test_the_environment_variable_overrides_the_key_file(home, monkeypatch):
    from_file = privacy.pseudonymise(IDS, salt="x")
    monkeypatch.setenv(privacy.KEY_ENV, "shared-secret")
    from_env = privacy.pseudonymise(IDS, salt="x")
    assert not (from_file == from_env).any()
    assert (
        from_env.tolist()
        == privacy.pseudonymise(IDS, salt="x", key=b"shared-secret").tolist()
    )


def test_a_pseudonym_cannot_be_reversed_from_the_config_name_and_seed(home):
    config = {"name": "online-retail", "seed": 0}
    shown = privacy.pseudonymise(IDS, salt=privacy.pseudonym_salt(config))
    # The attack that worked on round 1: hash every candidate id with what the
    # index prints (config name and seed) and look the pseudonym up.
    candidates = [str(i) for i in range(12000, 18500)]
    for salt in ("online-retail:0", "online-retail", ""):
        table = {
            "c-" + hashlib.sha256(f"{salt}|{c}".encode()).hexdigest()[:10]: c
            for c in candidates
        }
        assert not set(shown) & set(table)


def test_projects_get_different_pseudonyms_for_the_same_customer(home):
    a = privacy.pseudonymise(IDS, salt="shop-a")
    b = privacy.pseudonymise(IDS, salt="shop-b")
    assert not (a == b).any()


def test_repeated_ids_get_the_digest_of_each_id_computed_alone():
    key = b"known-key"
    lines = pd.Series(
        ["17850", "13047", "17850", None, "12583", "17850"],
        index=[10, 11, 12, 13, 14, 15],
        name="customer_id",
    )
    got = privacy.pseudonymise(lines, salt="shop", key=key)
    by_hand = [
        "c-" + hmac.new(key, f"shop|{v}".encode(), hashlib.sha256).hexdigest()[:10]
        for v in lines.astype(str)
    ]
    assert got.tolist() == by_hand
    assert got.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert got.iloc[0] == got.iloc[2] == got.iloc[5] != got.iloc[1]

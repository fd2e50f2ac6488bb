"""Tests of segkit.runner.exports: the CRM export apart, no raw ids in the run folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from segkit.exceptions import RunError
from segkit.runner.exports import files_with_ids, id_artifacts, write_exports

RAW_IDS = ["17850", "13047", "12583"]
ROOT = Path(__file__).resolve().parents[2]


def make_run(root: Path) -> Path:
    """reports/<run> with a manifest and id-bearing artifacts (raw ids 5 digits)."""
    run = root / "reports" / "2024-01-31"
    art = run / "artifacts"
    art.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"config": {"name": "shop"}}))
    ids = pd.Index(RAW_IDS, name="customer_id")
    pd.DataFrame({"segment": [0, 1, 1]}, index=ids).to_parquet(art / "labels.parquet")
    pd.DataFrame(
        {"customer_id": [17850, 17850, 13047, None], "amount": [1.0, 2.0, 3.0, 4.0]}
    ).to_parquet(art / "transactions.parquet")
    pd.DataFrame(
        {
            "customer_id": RAW_IDS,
            "segment_id": [0, 1, 1],
            "segment_name": ["Big spenders", "New & small", "New & small"],
            "run_id": "2024-01-31",
            "as_of": "2024-01-31",
        }
    ).to_csv(art / "assignments.csv", index=False)
    pd.DataFrame({"rule": ["raw"], "rows": [4]}).to_csv(art / "ledger.csv", index=False)
    return run


def test_export_folder_holds_assignments_and_one_file_per_segment(tmp_path):
    run = make_run(tmp_path)
    dest = write_exports(run)
    assert dest == (tmp_path / "exports" / "2024-01-31").resolve()
    names = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.csv"))
    assert names == [
        "assignments.csv",
        "segments/0-big-spenders.csv",
        "segments/1-new-small.csv",
    ]
    small = pd.read_csv(dest / "segments" / "1-new-small.csv", dtype=str)
    assert small["customer_id"].tolist() == ["13047", "12583"]
    assert list(small.columns) == ["customer_id", "segment_id", "segment_name"]
    assert "REAL customer ids" in (dest / "README.txt").read_text()


def test_run_folder_is_pseudonymised_consistently_and_keeps_joining(tmp_path):
    run = make_run(tmp_path)
    assert {p.name for p in id_artifacts(run)} == {
        "assignments.csv",
        "labels.parquet",
        "transactions.parquet",
    }
    assert set(files_with_ids(run, RAW_IDS)) == {
        "artifacts/assignments.csv",
        "artifacts/labels.parquet",
        "artifacts/transactions.parquet",
    }
    write_exports(run)
    assert files_with_ids(run, RAW_IDS) == {}
    labels = pd.read_parquet(run / "artifacts" / "labels.parquet")
    tx = pd.read_parquet(run / "artifacts" / "transactions.parquet")
    assigned = pd.read_csv(run / "artifacts" / "assignments.csv", dtype=str)
    assert labels.index.str.startswith("c-").all()
    assert tx["customer_id"].iloc[0] == labels.index[0] == assigned["customer_id"][0]
    assert tx["customer_id"].isna().sum() == 1  # a missing id stays missing
    record = json.loads((run / "artifacts" / "privacy.json").read_text())
    assert "artifacts/labels.parquet" in record["pseudonymised"]
    # a second call changes nothing (no hash of a hash)
    write_exports(run)
    again = pd.read_parquet(run / "artifacts" / "labels.parquet")
    pd.testing.assert_frame_equal(again, labels)


def test_exports_inside_the_run_folder_are_refused(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(RunError, match="inside the run folder"):
        write_exports(run, run / "exports")


def test_run_without_manifest_is_an_error_naming_the_file(tmp_path):
    run = make_run(tmp_path)
    (run / "manifest.json").unlink()
    with pytest.raises(RunError, match="manifest.json"):
        write_exports(run)


def test_files_with_ids_ignores_longer_numbers_and_base64(tmp_path):
    (tmp_path / "a.html").write_text("order 178501 img data:image/png;base64,A17850/")
    (tmp_path / "b.html").write_text("<td>17850.0</td>")
    assert files_with_ids(tmp_path, RAW_IDS) == {"b.html": ["17850"]}


@pytest.mark.slow
def test_fixture_run_folder_holds_no_raw_customer_id(tmp_path):
    from segkit.runner.notebooks import run_report

    result = run_report(
        ROOT / "tests" / "fixtures" / "retail_small.yaml",
        output_dir=tmp_path / "reports",
    )
    # run_report writes the CRM export and pseudonymises the run folder itself
    assert (result.run_dir / "artifacts" / "privacy.json").exists()
    exported = pd.read_csv(
        tmp_path / "exports" / result.run_dir.name / "assignments.csv", dtype=str
    )
    raw = exported["customer_id"]
    assert len(raw) > 100 and not raw.str.startswith("c-").any()
    found = files_with_ids(result.run_dir, raw.tolist())
    assert found == {}, f"raw customer ids in: {sorted(found)}"
    shared = pd.read_csv(result.run_dir / "artifacts" / "assignments.csv", dtype=str)
    assert shared["customer_id"].str.match(r"^c-[0-9a-f]{10}$").all()
    assert len(shared) == len(raw)


def _artifact_bytes(run: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted((run / "artifacts").iterdir())
        if p.suffix in (".parquet", ".csv")
    }


def test_pseudonymised_copies_are_read_back_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGKIT_PSEUDONYM_KEY", "a test key")
    plain = make_run(tmp_path / "plain")
    write_exports(plain)  # no cache: every file rewritten
    cache = tmp_path / "cache"
    first = make_run(tmp_path / "first")
    write_exports(first, cache_folder=cache)
    assert len(list(cache.iterdir())) == 3  # the three id-bearing files
    again = make_run(tmp_path / "again")
    mtimes = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    write_exports(again, cache_folder=cache)
    # read back: same bytes as rewriting them, nothing new stored
    assert _artifact_bytes(again) == _artifact_bytes(first) == _artifact_bytes(plain)
    assert set(cache.iterdir()) == set(mtimes)
    assert files_with_ids(again, RAW_IDS) == {}


def test_another_key_salt_or_file_is_not_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGKIT_PSEUDONYM_KEY", "a test key")
    cache = tmp_path / "cache"
    write_exports(make_run(tmp_path / "a"), cache_folder=cache)
    monkeypatch.setenv("SEGKIT_PSEUDONYM_KEY", "another key")
    other_key = make_run(tmp_path / "b")
    write_exports(other_key, cache_folder=cache)
    assert len(list(cache.iterdir())) == 6
    plain = make_run(tmp_path / "c")
    write_exports(plain)
    assert _artifact_bytes(other_key) == _artifact_bytes(plain)
    # a changed file: its own copy; --fresh rewrites and refreshes
    changed = make_run(tmp_path / "d")
    pd.DataFrame(
        {"segment": [1, 1, 0]}, index=pd.Index(RAW_IDS, name="customer_id")
    ).to_parquet(changed / "artifacts" / "labels.parquet")
    write_exports(changed, cache_folder=cache)
    assert len(list(cache.iterdir())) == 7
    assert pd.read_parquet(changed / "artifacts" / "labels.parquet")[
        "segment"
    ].tolist() == [1, 1, 0]
    fresh = make_run(tmp_path / "e")
    write_exports(fresh, cache_folder=cache, fresh=True)
    assert _artifact_bytes(fresh) == _artifact_bytes(plain)
    assert len(list(cache.iterdir())) == 7


def test_prune_keeps_the_newest_copies(tmp_path):
    from segkit.runner.exports import prune

    for i in range(5):
        path = tmp_path / f"{i}.parquet"
        path.write_bytes(b"x")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    assert prune(tmp_path, keep=2) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.parquet", "4.parquet"]

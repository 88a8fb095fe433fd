"""pipeline.prepare_data / load_prepared / input_fingerprints in a temporary project home."""

from __future__ import annotations

import functools
import importlib
import json
import shutil

import pandas as pd
import pytest

from conftest import FIXTURES
from contentlab import config, pipeline
from contentlab.contract import ContractError
from contentlab.data.io import file_fingerprint
from contentlab.data.validate import DataValidationError

MAPPING = {
    "users": {"customer": "user_id", "joined": "signup_date", "country": "region", "source": "channel"},
    "products": {"sku": "product_id", "name": "title", "cat": "category", "list_price": "price"},
    "events": {"ts": "timestamp", "customer": "user_id", "visit": "session_id", "sku": "product_id",
               "action": "event_type", "unit_price": "price", "qty": "quantity"},
}
TINY_DEMO = {"kind": "demo", "n_users": 40, "n_products": 24, "n_days": 8, "locale": "en", "seed": 3}


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    raw = tmp_path / "data" / "raw"
    shutil.copytree(FIXTURES / "files", raw / "shop")
    shutil.copytree(FIXTURES / "movielens" / "ml-100k", raw / "ml-100k")
    shutil.copytree(FIXTURES / "cdnow", raw / "cdnow")
    return tmp_path


def files_spec():
    return {"kind": "files", "locale": "en", "name": "shop",
            "paths": {"users": "data/raw/shop/customers.csv", "products": "data/raw/shop/catalogue.csv",
                      "events": "data/raw/shop/clicks.csv"},
            "mapping": MAPPING}


def hashes(folder):
    return {str(p.relative_to(folder)): file_fingerprint(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_prepare_files_writes_clean_tables_and_reports(home):
    raw_before = hashes(home / "data" / "raw")
    run_dir = home / "data" / "processed" / "r1"
    ds = pipeline.prepare_data(files_spec(), run_dir)
    assert hashes(home / "data" / "raw") == raw_before  # inputs are only read

    assert sorted(p.name for p in (run_dir / "clean").glob("*.parquet")) == [
        "events.parquet", "products.parquet", "users.parquet"]
    assert len(ds.events) == 5 and ds.name == "shop" and ds.truth is None
    validation = json.loads((run_dir / "validation.json").read_text())
    ev = validation["tables"]["events"]
    assert (ev["rows_in"], ev["rows_kept"], ev["rows_rejected"]) == (8, 5, 3)
    assert validation["adapter"]["adapter"] == "files" and validation["adapter"]["tables"]["events"] == 8
    meta = json.loads((run_dir / "dataset.json").read_text())
    assert meta["name"] == "shop" and meta["locale"] == "en" and meta["truth_dir"] is None
    assert meta["source"] == files_spec()
    assert meta["inputs"] == {
        "data/raw/shop/customers.csv": file_fingerprint(home / "data/raw/shop/customers.csv"),
        "data/raw/shop/catalogue.csv": file_fingerprint(home / "data/raw/shop/catalogue.csv"),
        "data/raw/shop/clicks.csv": file_fingerprint(home / "data/raw/shop/clicks.csv"),
    }
    assert pipeline.input_fingerprints(run_dir) == meta["inputs"]

    back = pipeline.load_prepared(run_dir)
    assert back.name == "shop" and back.locale == "en" and back.truth is None
    for t in ("users", "products", "events"):
        pd.testing.assert_frame_equal(back.tables[t], ds.tables[t])
    assert str(back.events["timestamp"].dtype) == "datetime64[ns]"


def test_prepare_again_replaces_the_clean_tables(home):
    run_dir = home / "data" / "processed" / "r1"
    pipeline.prepare_data(files_spec(), run_dir)
    (home / "data/raw/shop/clicks.csv").write_text(
        "ts,customer,visit,sku,action,unit_price,qty\n2024-03-01 09:00:00,c1,v1,k1,view,39.9,1\n")
    ds = pipeline.prepare_data(files_spec(), run_dir)
    assert len(ds.events) == 1 and len(pipeline.load_prepared(run_dir).events) == 1
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


def test_prepare_movielens_with_relative_path(home):
    run_dir = home / "data" / "processed" / "ml"
    ds = pipeline.prepare_data({"kind": "movielens", "path": "data/raw/ml-100k/u.data"}, run_dir)
    assert len(ds.ratings) == 15 and len(ds.events) == 0
    validation = json.loads((run_dir / "validation.json").read_text())
    assert validation["adapter"]["excluded"] == {"malformed_line": 1, "missing_item_id": 1}
    assert validation["tables"]["ratings"]["rows_rejected"] == 2
    assert set(pipeline.input_fingerprints(run_dir)) == {
        "data/raw/ml-100k/u.data", "data/raw/ml-100k/u.item", "data/raw/ml-100k/u.user"}
    assert len(pipeline.load_prepared(run_dir).events) == 0


def test_prepare_cdnow_fixture(home):
    run_dir = home / "data" / "processed" / "cd"
    ds = pipeline.prepare_data({"kind": "cdnow", "path": "data/raw/cdnow/CDNOW_master.txt"}, run_dir)
    assert len(ds.events) == 10 and set(ds.products["product_id"]) == {"CD"}
    assert ds.meta["currency"] == "USD" and pipeline.load_prepared(run_dir).meta["currency"] == "USD"
    validation = json.loads((run_dir / "validation.json").read_text())
    assert validation["adapter"]["flagged"] == {"zero_value_order": 1}
    assert validation["tables"]["events"]["rules"][0]["message"] == (
        "CDNOW_master.txt (events): column 'price': 1 row violates 'price > 0' (examples: 0.0)")


def test_bad_input_raises_and_writes_no_clean_tables(home):
    (home / "data/raw/shop/clicks.csv").write_text("ts,customer,visit,sku,action,unit_price,qty\n")
    run_dir = home / "data" / "processed" / "bad"
    with pytest.raises(DataValidationError, match="clicks.csv: table 'events' is empty"):
        pipeline.prepare_data(files_spec(), run_dir)
    assert not (run_dir / "clean").exists()
    with pytest.raises(ContractError, match="Stage 01_eda writes it"):
        pipeline.load_prepared(run_dir)


def test_unknown_kind_lists_the_valid_kinds(home):
    with pytest.raises(ValueError) as exc:
        pipeline.prepare_data({"kind": "kaggle"}, home / "r")
    assert "unknown dataset kind 'kaggle'" in str(exc.value)
    for kind in ("demo", "cdnow", "online_retail", "movielens", "files"):
        assert kind in str(exc.value)
    with pytest.raises(ValueError, match="needs a 'path'"):
        pipeline.prepare_data({"kind": "online_retail"}, home / "r")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pipeline.prepare_data({"kind": "movielens", "path": "data/raw/nope/u.data"}, home / "r")


def test_load_prepared_without_clean_tables(home):
    run_dir = home / "data" / "processed" / "empty"
    run_dir.mkdir(parents=True)
    for dataset in (None, files_spec()):  # given the spec or not: only stage 01 prepares data
        with pytest.raises(ContractError) as exc:
            pipeline.load_prepared(run_dir, dataset)
        message = str(exc.value)
        assert "clean/ (the validated canonical tables" in message and "is missing" in message
        assert "Stage 01_eda writes it" in message and "--only 01_eda,STAGE" in message and "--from-run" in message
    assert not (run_dir / "clean").exists() and list(run_dir.iterdir()) == []
    assert pipeline.input_fingerprints(run_dir) == {}
    pipeline.prepare_data(files_spec(), run_dir)
    ds = pipeline.load_prepared(run_dir, files_spec())
    assert len(ds.events) == 5 and (run_dir / "clean" / "events.parquet").exists()


def test_demo_is_simulated_once_and_reused(home, monkeypatch):
    sim_module = importlib.import_module("contentlab.data.simulate")

    calls = []
    real = sim_module.simulate

    @functools.wraps(real)
    def counting(**kw):
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(sim_module, "simulate", counting)
    r1, r2 = home / "data/processed/d1", home / "data/processed/d2"
    ds1 = pipeline.prepare_data(TINY_DEMO, r1)
    sim_dirs = list((config.raw_dir() / "simulated").iterdir())
    assert len(sim_dirs) == 1 and sim_dirs[0].name.startswith("demo-")
    raw_before = hashes(sim_dirs[0])
    ds2 = pipeline.prepare_data(dict(reversed(list(TINY_DEMO.items()))), r2)  # same spec, other key order
    assert len(calls) == 1 and calls[0] == {k: v for k, v in TINY_DEMO.items() if k != "kind"}
    assert hashes(sim_dirs[0]) == raw_before
    assert ds1.has_truth and set(ds1.truth["users"]["segment"]) <= {
        "bargain_hunter", "trend_seeker", "loyal_premium", "casual_browser", "new_visitor"}
    pd.testing.assert_frame_equal(ds1.events, ds2.events)
    meta = json.loads((r2 / "dataset.json").read_text())
    assert meta["truth_dir"] == str(sim_dirs[0] / "truth") and meta["has_truth"] is True
    assert all(k.startswith(f"data/raw/simulated/{sim_dirs[0].name}/") for k in meta["inputs"])
    back = pipeline.load_prepared(r2)
    assert back.has_truth and len(back.truth["users"]) == TINY_DEMO["n_users"]
    assert len(back.exposures) == len(ds1.exposures) > 0
    validation = json.loads((r1 / "validation.json").read_text())
    assert validation["rows_in"] == validation["rows_kept"] + validation["rows_rejected"]
    assert validation["adapter"]["adapter"] == "demo"
    assert validation["adapter"]["rows_read"] == validation["rows_in"] == validation["adapter"]["rows_mapped"]
    # another spec is another simulated dataset
    pipeline.prepare_data({**TINY_DEMO, "seed": 4}, home / "data/processed/d3")
    assert len(list((config.raw_dir() / "simulated").iterdir())) == 2 and len(calls) == 2


def test_demo_rejects_unknown_parameters(home):
    with pytest.raises(ValueError, match=r"\(kind 'demo'\): unknown key 'n_shops' \(known keys: kind, n_users, "):
        pipeline.prepare_data({**TINY_DEMO, "n_shops": 3}, home / "r")
    with pytest.raises(ValueError, match=r"unknown key 'n_user'; did you mean 'n_users'\?"):
        pipeline.prepare_data({**TINY_DEMO, "n_user": 3}, home / "r")
    assert not (config.raw_dir() / "simulated").exists()  # failed before simulating anything


def test_profiles_dataset_specs_resolve():
    import yaml

    for profile in sorted(config.PROFILES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(profile.read_text())["dataset"]
        assert spec["kind"] in pipeline.DATASET_KINDS, profile.name


def test_every_packaged_profile_has_a_valid_dataset_spec():
    import yaml

    from contentlab import config
    from contentlab.pipeline import check_dataset_spec

    profiles = sorted(config.PROFILES_DIR.glob("*.yaml"))
    assert {p.stem for p in profiles} >= {"demo", "tiny", "cdnow"}
    for path in profiles:
        check_dataset_spec(yaml.safe_load(path.read_text(encoding="utf-8"))["dataset"])

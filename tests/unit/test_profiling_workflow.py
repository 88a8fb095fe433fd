"""run_profiling end to end on a small prepared run (without the notebook): the config checks every parameter, the
inputs come through the contract, the products are written through it, and the metrics and the planted-truth
checks equal what the written files and the planted truth give."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from contentlab import contract, pipeline
from contentlab.profiling import ProfilingConfig, ProfilingResult, run_profiling
from contentlab.profiling.rules import planted_pairs_found

SPEC = {"kind": "demo", "n_users": 300, "n_products": 60, "n_days": 30, "locale": "en", "seed": 11}
CONFIG = dict(k_max=5, holdout_days=7, clv_horizon_days=30, random_state=11)
RECORDED = ["n_segments", "silhouette", "n_rules", "risk_precision", "risk_recall", "segment_ari", "bgnbd_r",
            "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_calibration_r", "bgnbd_calibration_alpha",
            "bgnbd_calibration_a", "bgnbd_calibration_b", "bgnbd_dropout_identified", "clv_total", "users_profiled"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(home))
        run_dir = home / "data" / "processed" / "20260101T000000-test"
        pipeline.prepare_data(SPEC, run_dir)
        yield run_dir


@pytest.fixture(scope="module")
def result(prepared) -> ProfilingResult:
    return run_profiling(ProfilingConfig(**CONFIG), {}, run_dir=prepared)


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("name, value", [
    ("k_min", 1), ("k_max", 1), ("k_min", 2.5), ("k", 1), ("random_state", -1), ("silhouette_sample", 0),
    ("kmeans_n_init", 0), ("min_events_to_cluster", 0), ("holdout_days", -7), ("holdout_days", True),
    ("calibration_end", "30/09/1997"), ("calibration_end", "1997-09-30 12:00"), ("calibration_end", "soon"),
    ("clv_horizon_days", 0), ("annual_discount_rate", -0.1), ("annual_discount_rate", 1.0),
    ("annual_discount_rate", "10%"), ("clv_period_days", 0), ("risk_z", 0), ("risk_min_score", -1),
    ("risk_contamination", 0.6), ("risk_method", "guesswork"), ("rule_min_support", 0), ("rule_min_support", 1.5),
    ("rule_min_confidence", 1.2), ("rule_min_lift", -1), ("rule_min_count", 0), ("rule_min_segment_baskets", 0),
    ("min_cell", 0), ("top_customers_n", 0), ("risk_z", float("nan")),
])
def test_config_rejects_a_wrong_value_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=name) as err:
        ProfilingConfig(**{name: value})
    assert repr(value) in str(err.value)


def test_config_k_range_and_days():
    with pytest.raises(ValueError, match="k_max must be at least k_min"):
        ProfilingConfig(k_min=4, k_max=3)
    assert ProfilingConfig(k_min=3, k_max=5).k_range == range(3, 6)
    assert ProfilingConfig(calibration_end=dt.date(1997, 9, 30)).calibration_end == "1997-09-30"  # YAML's date
    assert ProfilingConfig(calibration_end="1997-09-30").calibration_end == "1997-09-30"
    assert ProfilingConfig().as_dict()["risk_method"] == "robust"
    ProfilingConfig(holdout_days=0, annual_discount_rate=0, risk_method="both", rule_min_confidence=0)  # edges allowed


# ------------------------------------------------------------------------------------------------ inputs
def test_run_profiling_needs_the_prepared_data(tmp_path):
    with pytest.raises(contract.ContractError, match="01_eda"):
        run_profiling(ProfilingConfig(), {}, run_dir=tmp_path)
    with pytest.raises(ValueError, match="run_dir is empty"):
        run_profiling(ProfilingConfig(), {}, run_dir="")
    assert not list(tmp_path.iterdir())  # nothing written


def test_handed_inputs_give_the_same_result(prepared, result):
    handed = contract.resolve_inputs("02_profiling", prepared)
    assert set(handed) == {"clean", "dataset"}
    again = run_profiling(ProfilingConfig(**CONFIG), handed, run_dir=prepared)
    assert again.metrics() == result.metrics()


# ------------------------------------------------------------------------------------------------ result
def test_products_are_written_through_the_contract(prepared, result):
    products = contract.stage("02_profiling").products
    assert set(result.paths) == set(products)
    for name in products:
        assert result.paths[name] == contract.product(name).at(prepared)
        contract.product(name).read(prepared)  # readable with every column/key the contract promises
    prof = contract.product("user_profiles").read(prepared)
    assert prof["persona_id"].dropna().isin({p["persona_id"] for p in result.personas}).all()
    assert len(prof) == len(result.profiles) and prof["persona_id"].equals(result.profiles["persona_id"])
    personas = json.loads(result.paths["personas"].read_text(encoding="utf-8"))
    assert personas == json.loads(json.dumps(result.personas, default=str))


def test_metrics_are_the_recorded_ones_and_match_the_files_and_the_truth(prepared, result):
    m = result.metrics()
    assert list(m) == RECORDED
    prof = pd.read_parquet(contract.product("user_profiles").at(prepared))
    rules = pd.read_parquet(contract.product("association_rules").at(prepared))
    ds = pipeline.load_prepared(prepared)
    truth = ds.truth["users"].assign(user_id=lambda d: d["user_id"].astype(str)).set_index("user_id")

    assert m["users_profiled"] == len(prof) == len(ds.users)
    assert m["n_segments"] == prof.loc[prof["cluster"] >= 0, "cluster"].nunique() == result.clustering.k
    assert m["n_rules"] == len(rules)
    assert m["clv_total"] == pytest.approx(float(prof["clv"].sum()), rel=1e-12)
    p = prof.set_index("user_id")
    clustered = p[p["cluster"] >= 0]
    assert m["segment_ari"] == pytest.approx(adjusted_rand_score(truth.loc[clustered.index, "segment"],
                                                                 clustered["segment"]), abs=1e-12)
    flagged, fraud = p["is_flagged"].astype(bool), truth["is_fraud"].reindex(p.index).astype(bool)
    tp = int((flagged & fraud).sum())
    assert m["risk_precision"] == pytest.approx(tp / flagged.sum())
    assert m["risk_recall"] == pytest.approx(tp / fraud.sum())
    assert result.planted_fraud_accounts == int(truth["is_fraud"].sum())
    bg, cal = result.clv.bgnbd, result.clv.calibration_bgnbd
    assert [m[f"bgnbd_{k}"] for k in ("r", "alpha", "a", "b")] == [bg.params[k] for k in ("r", "alpha", "a", "b")]
    assert [m[f"bgnbd_calibration_{k}"] for k in ("r", "alpha", "a", "b")] == [
        cal.params[k] for k in ("r", "alpha", "a", "b")]
    assert m["bgnbd_dropout_identified"] is bool(bg.dropout_identified)
    # the co-purchase truth check counts the planted pairs among the rules over all baskets
    assert result.copurchase == planted_pairs_found(rules, ds.truth["bought_together"])
    assert result.copurchase[1] == len(ds.truth["bought_together"])


def test_report_tables_and_summary(result):
    seg = result.segment_table
    assert seg["users"].sum() + result.segment_suppressed == len(result.profiles)
    assert (seg["users"] >= result.config.min_cell).all()
    assert len(result.top_customers) == min(result.config.top_customers_n, int(result.profiles["clv"].notna().sum()))
    assert result.top_customers["clv"].is_monotonic_decreasing
    assert (result.profile_table["size"] >= result.config.min_cell).all()
    shares = result.category_shares
    assert np.allclose(shares.sum(axis=1), 1.0)  # every event of a segment falls in one category
    coords, names, explained = result.pca_projection()
    assert len(coords) == len(names) == len(result.clustering.labels) and 0 < explained.sum() <= 1
    if result.clv.calibration is not None:
        assert list(result.calibration_parameters["parameter"]) == ["r", "alpha", "a", "b", "log-likelihood"]
    summary = result.summary_markdown()
    assert summary.startswith("## Summary")
    assert f"**{len(result.profiles):,} users profiled**" in summary
    assert f"adjusted Rand index of {result.segment_ari:.2f}" in summary
    assert not re.search(r"\bnan\b", summary, flags=re.I)

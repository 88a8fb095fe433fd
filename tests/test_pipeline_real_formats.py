"""The whole pipeline on real-data formats: purchase-only UCI Online Retail data and CDNOW.

The Online Retail file is written in that exact format from a small simulated shop (invoices, stock codes, upper-case
descriptions, cancellations, missing customer ids). Stages adapt instead of failing: 03 skips rating-mode
models (every interaction is a purchase: one rating level) and 05, with no exposure log yet, reports itself
not applicable; the run succeeds.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_cli
from contentlab.data.simulate import simulate
from contentlab.notebook import StageNotApplicable, skip_stage
from contentlab.report import CellFailure

pytestmark = pytest.mark.slow


def _online_retail_csv(path):
    ds = simulate(n_users=300, n_products=80, n_days=45, seed=3)
    ev = ds.events[ds.events["event_type"] == "purchase"].merge(ds.products[["product_id", "title"]], on="product_id")
    out = pd.DataFrame({
        "InvoiceNo": ev["order_id"].str.replace("O", "5", regex=False),
        "StockCode": ev["product_id"].str.replace("P", "8", regex=False),
        "Description": ev["title"].str.upper(),
        "Quantity": ev["quantity"],
        "InvoiceDate": ev["timestamp"].dt.strftime("%m/%d/%Y %H:%M"),
        "UnitPrice": ev["price"].round(2),
        "CustomerID": ev["user_id"].str.replace("U", "1", regex=False).astype(float),
        "Country": "United Kingdom",
    })
    cancelled = out.sample(frac=0.02, random_state=1).assign(
        InvoiceNo=lambda d: "C" + d["InvoiceNo"], Quantity=lambda d: -d["Quantity"])
    out.loc[out.sample(frac=0.05, random_state=2).index, "CustomerID"] = np.nan
    pd.concat([out, cancelled]).to_csv(path, index=False)
    return len(out), len(cancelled)


def test_skip_stage_is_a_distinct_outcome():
    with pytest.raises(StageNotApplicable, match="nothing to do"):
        skip_stage("nothing   to do")
    assert CellFailure("StageNotApplicable", "why").skipped
    assert not CellFailure("ValueError", "why").skipped


def test_pipeline_runs_on_online_retail_data(tmp_path):
    csv = tmp_path / "online_retail.csv"
    n_lines, n_cancelled = _online_retail_csv(csv)
    profile = tmp_path / "retail.yaml"
    profile.write_text(yaml.safe_dump({
        "name": "retail", "seed": 1, "dataset": {"kind": "online_retail", "path": str(csv)},
        "notebooks": {"04_generate": {"model_size": "tiny", "train_steps": 40, "n_slots": 12, "n_candidates": 2,
                                      "n_guide_users": 2}},
    }))
    proc = run_cli(["run", "--profile", str(profile)], tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = (tmp_path / "reports" / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    status = {nb["name"]: nb["status"] for nb in manifest["notebooks"]}
    assert status == {"01_eda": "ok", "02_profiling": "ok", "03_recommend": "ok", "04_generate": "ok",
                      "05_feedback": "skipped"}
    m = {nb["name"]: nb["metrics"] for nb in manifest["notebooks"]}
    assert m["01_eda"]["conversion_view_to_purchase"] is None  # no views in a sales ledger
    assert m["01_eda"]["rows_excluded_by_adapter"] >= n_cancelled  # cancellations counted, not silently dropped
    assert m["02_profiling"]["users_profiled"] > 200 and m["02_profiling"]["n_segments"] >= 2
    assert "segment_ari" not in m["02_profiling"]  # no planted truth for real-format data
    assert m["03_recommend"]["svd_rating_ndcg_at_10"] is None and m["03_recommend"]["rmse"] is None
    rec_html = (run / "03_recommend.html").read_text(encoding="utf-8")
    assert "every training interaction has the same rating" in rec_html
    fb_html = (run / "05_feedback.html").read_text(encoding="utf-8")
    assert 'class="cl-banner cl-banner-info"' in fb_html and "no exposure log yet" in fb_html
    assert "Not applicable" in (run / "index.html").read_text(encoding="utf-8")


def test_pipeline_runs_on_cdnow(tmp_path):
    # CDNOW (shipped with the `lifetimes` package) records orders of one synthetic "CD" product: profiling and CLV
    # apply, product recommendations do not, and there is no exposure log
    profile = tmp_path / "cdnow.yaml"
    profile.write_text(yaml.safe_dump({
        "name": "cdnow", "seed": 1, "dataset": {"kind": "cdnow"},
        "notebooks": {"02_profiling": {"holdout_days": 90, "clv_horizon_days": 180},
                      "04_generate": {"model_size": "tiny", "train_steps": 20, "n_slots": 6, "n_candidates": 2,
                                      "n_guide_users": 2}},
    }))
    proc = run_cli(["run", "--profile", str(profile)], tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = (tmp_path / "reports" / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [(nb["name"], nb["status"]) for nb in manifest["notebooks"]] == [
        ("01_eda", "ok"), ("02_profiling", "ok"), ("03_recommend", "skipped"), ("04_generate", "ok"),
        ("05_feedback", "skipped")]
    m = {nb["name"]: nb["metrics"] for nb in manifest["notebooks"]}
    assert m["01_eda"]["users"] == 23570
    assert m["02_profiling"]["users_profiled"] == 23570
    assert all(m["02_profiling"][k] > 0 for k in ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "clv_total"))
    assert "nothing to rank" in (run / "03_recommend.html").read_text(encoding="utf-8")

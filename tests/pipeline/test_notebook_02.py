"""02 profiling on the tiny profile (through `contentlab run`): the report has its sections with the summary
first, the stage's files follow the contract, every recorded metric equals the tiny profile's expected value
(within tolerances) and a value recomputed from those files, the clean tables and the planted truth; the notebook
only shows what `contentlab.profiling` computed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from conftest import assert_sections_in_order
from contentlab.profiling.clv import LOG_BOUND, BetaGeoNBD
from contentlab.report import lint_html

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "02_profiling.ipynb"

SECTIONS = ["Summary", "Segments", "RFM", "Segment profiles", "Personas", "Customer lifetime value",
            "Frequently bought together", "Risk flags"]
METRICS = ["n_segments", "silhouette", "n_rules", "risk_precision", "risk_recall", "segment_ari", "bgnbd_r",
           "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_dropout_identified", "clv_total", "users_profiled"]

# Every metric 02 records on the tiny profile (seed 7: 300 users, 80 products, 30 days; k_max 6, 7-day holdout,
# 30-day CLV horizon), in recording order, as recorded before the stage became one run_profiling call. Counts and
# flags exactly; silhouette and ARI within ABS_TOL; the whole-log BG/NBD fit and the CLV within REL_TOL; the
# calibration fit, which sees little drop-out in a 3-week window (its parameters lie on a flat ridge), within
# RIDGE_TOL.
ABS_TOL = 0.005
REL_TOL = 0.01
RIDGE_TOL = 0.05
TINY_EXPECTED = {
    "n_segments": 5, "silhouette": 0.22374, "n_rules": 22, "risk_precision": 1.0, "risk_recall": 0.66667,
    "segment_ari": 0.72170, "bgnbd_r": 2.7624, "bgnbd_alpha": 4.1083, "bgnbd_a": 0.40653, "bgnbd_b": 2.8173,
    "bgnbd_calibration_r": 4.1313, "bgnbd_calibration_alpha": 5.9206, "bgnbd_calibration_a": 0.17729,
    "bgnbd_calibration_b": 0.92909, "bgnbd_dropout_identified": True, "clv_total": 47318.8, "users_profiled": 300,
}


def _page(run) -> str:
    return (run.report_dir / run.notebook("02_profiling")["report"]).read_text(encoding="utf-8")


def _truth_users(run) -> pd.DataFrame:
    meta = json.loads((run.run_dir / "dataset.json").read_text(encoding="utf-8"))
    return pd.read_parquet(Path(meta["truth_dir"]) / "users.parquet").set_index("user_id")


@pytest.mark.slow
def test_02_report_sections(tiny_run):
    assert tiny_run.notebook("02_profiling")["status"] == "ok"
    page = _page(tiny_run)
    assert "02 · Customer profiling" in page
    assert_sections_in_order(page, SECTIONS, "02", heading=r"<h2[^>]*>\s*{}\s*<")
    assert "Champions" in page and "Hibernating" in page  # the RFM grid definitions are shown
    assert "fewer than 5 users" in page  # the small-cell rule is stated
    assert "adjusted Rand index" in page
    assert page.count("<img") >= 8
    assert "Traceback" not in page
    assert lint_html(page) == [], lint_html(page)


@pytest.mark.slow
def test_02_report_shows_no_raw_user_ids(tiny_run):
    page = _page(tiny_run)
    users = pd.read_parquet(tiny_run.run_dir / "clean" / "users.parquet")["user_id"].astype(str)
    leaked = [u for u in users if re.search(r"(?<![A-Za-z0-9])" + re.escape(u) + r"(?![A-Za-z0-9])", page)]
    assert not leaked, leaked[:5]
    assert re.search(r"u_[0-9a-f]{12}", page), "top customers are listed under pseudonyms"


@pytest.mark.slow
def test_02_recorded_metrics_equal_the_tiny_profile_expected_values(tiny_run):
    m = tiny_run.metrics("02_profiling")
    assert list(m) == list(TINY_EXPECTED), "the recorded metric names (or their order) changed"
    for name, expected in TINY_EXPECTED.items():
        if isinstance(expected, (bool, int)):
            assert m[name] == expected and type(m[name]) is type(expected), (name, m[name])
        elif name in ("silhouette", "segment_ari"):
            assert m[name] == pytest.approx(expected, abs=ABS_TOL), name
        elif name.startswith("bgnbd_calibration_"):
            assert m[name] == pytest.approx(expected, rel=RIDGE_TOL), name
        else:
            assert m[name] == pytest.approx(expected, rel=REL_TOL), name


@pytest.mark.slow
def test_02_outputs_and_recorded_metrics(tiny_run):
    m = tiny_run.metrics("02_profiling")
    assert set(METRICS) <= set(m), sorted(set(METRICS) - set(m))
    run_dir = tiny_run.run_dir
    prof = pd.read_parquet(run_dir / "user_profiles.parquet")
    users = pd.read_parquet(run_dir / "clean" / "users.parquet")
    rules = pd.read_parquet(run_dir / "association_rules.parquet")
    risk = pd.read_parquet(run_dir / "risk_flags.parquet")
    personas = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))

    assert m["users_profiled"] == len(prof) == users["user_id"].nunique()
    assert m["n_segments"] == prof.loc[prof["cluster"] >= 0, "cluster"].nunique()
    assert m["n_rules"] == len(rules)
    assert m["clv_total"] == pytest.approx(float(prof["clv"].sum()), rel=1e-9)
    assert -1 <= m["silhouette"] <= 1

    truth = _truth_users(tiny_run)
    p = prof.set_index("user_id")
    clustered = p[p["cluster"] >= 0]
    ari = adjusted_rand_score(truth.loc[clustered.index, "segment"], clustered["segment"])
    assert m["segment_ari"] == pytest.approx(ari, abs=1e-9)
    flagged = p["is_flagged"].astype(bool)
    fraud = truth["is_fraud"].reindex(p.index).astype(bool)
    tp = int((flagged & fraud).sum())
    assert m["risk_precision"] == pytest.approx(tp / flagged.sum())
    assert m["risk_recall"] == pytest.approx(tp / fraud.sum())
    assert set(risk.loc[risk["is_flagged"], "user_id"]) == set(p.index[flagged])

    # BG/NBD parameters are the maximum-likelihood fit on the genuine customers' summary saved with the profiles
    s = prof[prof["bgnbd_frequency"].notna()]
    assert not s["is_flagged"].any()
    ll = BetaGeoNBD.loglik_terms
    fitted = (m["bgnbd_r"], m["bgnbd_alpha"], m["bgnbd_a"], m["bgnbd_b"])
    best = ll(fitted, s["bgnbd_frequency"], s["bgnbd_recency"], s["bgnbd_T"]).sum()
    for factor in (0.9, 1.1):  # moving any parameter away lowers the likelihood
        for i in range(4):
            moved = list(fitted)
            moved[i] *= factor
            if moved[i] > np.exp(LOG_BOUND):  # a parameter at the search bound (the model's limit)
                continue
            assert ll(moved, s["bgnbd_frequency"], s["bgnbd_recency"], s["bgnbd_T"]).sum() <= best + 1e-6
    # whether the fit sees drop-out is recorded, and a fit that does not is said to in the report
    assert isinstance(m["bgnbd_dropout_identified"], bool)
    assert ("P(alive) is not a finding" in _page(tiny_run)) == (not m["bgnbd_dropout_identified"])

    # personas: one per clustered segment with at least 5 users, ids used in the profiles
    sizes = clustered["segment"].value_counts()
    assert sorted(pp["segment"] for pp in personas) == sorted(sizes[sizes >= 5].index)
    assert set(prof["persona_id"].dropna()) == {pp["persona_id"] for pp in personas}
    for pp in personas:
        assert pp["size"] == int(sizes[pp["segment"]])
        assert pp["traits"] and pp["text_en"]
    # profile columns the later stages rely on
    for col in ("user_id", "R", "F", "M", "rfm_segment", "cluster", "segment", "persona_id", "is_flagged",
                "p_alive", "clv"):
        assert col in prof.columns
    assert np.isfinite(prof.loc[~prof["is_flagged"] & (prof["frequency"] > 0), "clv"]).all()


def _run_01_02(tmp_path, dataset: dict) -> tuple[dict, str]:
    import yaml

    from conftest import run_cli

    profile = tmp_path / "shape.yaml"
    profile.write_text(yaml.safe_dump({"name": "shape", "seed": 1, "dataset": dataset}))
    proc = run_cli(["run", "--profile", str(profile), "--only", "01_eda,02_profiling"], tmp_path / "home")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = (tmp_path / "home" / "reports" / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    nb = next(n for n in manifest["notebooks"] if n["name"] == "02_profiling")
    return nb, (run / "02_profiling.html").read_text(encoding="utf-8")


def _visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


@pytest.mark.slow
def test_02_runs_on_a_ratings_only_dataset(tmp_path):
    """MovieLens u.data (ratings, no events): 02 profiles users on their ratings and skips RFM, CLV and basket
    rules with the reason instead of crashing on a missing reference time."""
    from test_profiling_real_shapes import _movielens_files

    (tmp_path / "ml").mkdir()
    _movielens_files(tmp_path / "ml")
    nb, page = _run_01_02(tmp_path, {"kind": "movielens", "path": str(tmp_path / "ml" / "u.data")})
    assert nb["status"] == "ok"
    m = nb["metrics"]
    assert m["users_profiled"] == 240 and m["n_segments"] >= 2
    assert m["clv_total"] is None and m["bgnbd_r"] is None and m["n_rules"] == 0
    text = _visible_text(page)
    assert "RFM is skipped: no user has a purchase" in text
    assert "Customer lifetime value is skipped: there are no purchases" in text
    assert "ratings (at their timestamps) stand for activity" in text
    assert not re.search(r"\bnan\b", text, flags=re.I) and "Traceback" not in text
    assert "Raters" in text and not re.search(r"(Mainstream|New|Lapsing) (Customers|Visitors)", text)


@pytest.mark.slow
def test_02_on_a_purchase_only_shop_names_no_visitors(tmp_path):
    from test_profiling_real_shapes import _online_retail_csv

    _online_retail_csv(tmp_path / "online_retail.csv")
    nb, page = _run_01_02(tmp_path, {"kind": "online_retail", "path": str(tmp_path / "online_retail.csv")})
    assert nb["status"] == "ok"
    text = _visible_text(page)
    assert "New Visitors" not in text and "Casual Browsers" not in text
    assert "a session is an order" in text  # the browsing signals that are not used, and why
    assert not re.search(r"\bnan\b", text, flags=re.I) and "Traceback" not in text


def test_02_notebook_only_shows():
    """Parameters, one run_profiling call, tables, plots and prose: no logic of its own."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code = [[line for line in "".join(c["source"]).splitlines() if line.strip() and not line.strip().startswith("#")]
            for c in cells]
    assert sum(map(len, code)) <= 150 and max(map(len, code)) <= 25
    lines = [line.strip() for cell in code for line in cell]
    assert not [line for line in lines if line.startswith(("def ", "class ", "async def "))]
    imports = {line for line in lines if line.startswith(("import ", "from "))}
    allowed = re.compile(r"^(import contentlab|import matplotlib\.pyplot as plt"
                         r"|from IPython\.display import Markdown, display|from contentlab import plotting"
                         r"|from contentlab\.profiling import [A-Za-z_, ]+)$")
    assert imports and all(allowed.match(line) for line in imports), sorted(imports)
    assert sum("run_profiling(" in line for line in lines) == 1
    # every figure is shown by the cell that draws it; nothing is left for the kernel to print as a repr
    for src in code:
        if any("plots." in line and "renderable" not in line and "risk_plot_axes" not in line for line in src):
            assert src[-1] == "plt.show()", src
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert "inputs = {}" in "".join(params["source"])
    assert all(not c.get("outputs") for c in cells), "the notebook is committed without outputs"

"""The recommendation benchmarks run without arguments (``make benchmarks``) and judge themselves honestly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from test_recommend_data import write_movielens_u_data

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_movielens_on_a_file_prints_its_goal(tmp_path, capsys):
    raw = tmp_path / "u.data"
    write_movielens_u_data(raw, n_users=200, n_items=300, seed=5)
    bench = _load("bench_movielens")
    rc = bench.main([str(raw), "--split", "user", "--peers", "none", "--ranking", '{"n_factors": 16, "resample": 1}'])
    out = capsys.readouterr().out
    assert f"data: MovieLens file {raw}" in out
    assert "protocol: recommenders: microsoft/recommenders' python_stratified_split per customer" in out
    assert "goal: ranking mode beats popularity on NDCG@10: svd_ranking" in out
    assert "published (microsoft/recommenders" in out  # a real-format file: the published table for comparison
    assert "machine: load average" in out and "apply to MovieLens-100k only" in out  # 200 users: not ML-100k
    met = "NOT MET" not in out
    assert (rc == 0) == met and out.rstrip().endswith("OK" if met else "FAILED")
    assert "goal: ranking mode beats popularity on NDCG@10" in out and "-> met" in out  # planted taste


def test_bench_movielens_puts_the_peers_in_the_same_table(tmp_path, capsys):
    pytest.importorskip("cornac")
    pytest.importorskip("implicit")
    raw = tmp_path / "u.data"
    write_movielens_u_data(raw, n_users=150, n_items=120, seed=7)
    bench = _load("bench_movielens")
    rc = bench.main(["--path", str(raw), "--peers", "cornac.EASE,implicit.ALS", "--ranking",
                     '{"n_factors": 8, "resample": 1, "n_epochs": 10}'])
    out = capsys.readouterr().out
    table = out[out.index("every model on the same split and metric code"):]
    for name in ("popularity", "svd_rating", "svd_ranking", "ease", "ensemble", "cornac.EASE", "implicit.ALS"):
        assert f"\n{name} " in table or f" {name} " in table, name
    assert "ndcg_at_10  precision_at_10  recall_at_10  map_at_10" in table and "fit_s" in table
    assert "cornac.EASE: searched 8 candidates on validation" in out
    assert "goal: best product model" in out and ">= every peer (best peer" in out
    assert (rc == 0) == ("NOT MET" not in out)
    with pytest.raises(SystemExit):
        bench.main(["--path", str(raw), "--peers", "cornac.LightGCN"])


def test_bench_movielens_file_from_the_environment(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "u.data"
    write_movielens_u_data(raw, n_users=150, n_items=200, seed=6)
    monkeypatch.setenv("CONTENTLAB_MOVIELENS", str(raw))
    bench = _load("bench_movielens")
    bench.main(["--protocol", "contentlab", "--split", "user", "--peers", "none", "--ranking",
                '{"n_factors": 8, "resample": 1}'])
    out = capsys.readouterr().out
    assert f"data: MovieLens file {raw}" in out and "protocol: contentlab: split stratified_user" in out


@pytest.mark.slow
def test_bench_movielens_runs_without_a_file(capsys, monkeypatch):
    """The generated stand-in (the peers left out here: `make benchmarks` runs all five, BiVAE for minutes)."""
    monkeypatch.delenv("CONTENTLAB_MOVIELENS", raising=False)
    rc = _load("bench_movielens").main(["--peers", "none"])
    out = capsys.readouterr().out
    assert "data: GENERATED stand-in, not MovieLens: 943 users x 1,682 items, 100,000" in out
    assert "100,000 ratings, 943 users, 1,682 items" in out
    assert "not comparable with the generated stand-in" in out and "published (" not in out
    assert rc == 0 and "goal: ranking mode beats popularity" in out and "-> met" in out

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
    rc = bench.main([str(raw), "--split", "user", "--ranking", '{"n_factors": 16, "resample": 1}'])
    out = capsys.readouterr().out
    assert f"data: MovieLens file {raw}" in out
    assert "protocol: recommenders: microsoft/recommenders' python_stratified_split per customer" in out
    assert "goal: ranking mode beats popularity on NDCG@10: svd_ranking" in out
    assert "published (microsoft/recommenders" in out  # a real-format file: the published table for comparison
    met = "-> met" in out
    assert (rc == 0) == met and out.rstrip().endswith("OK" if met else "FAILED")
    assert met  # planted taste: the ranking mode must beat popularity here


def test_bench_movielens_file_from_the_environment(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "u.data"
    write_movielens_u_data(raw, n_users=150, n_items=200, seed=6)
    monkeypatch.setenv("CONTENTLAB_MOVIELENS", str(raw))
    bench = _load("bench_movielens")
    bench.main(["--protocol", "contentlab", "--split", "user", "--ranking", '{"n_factors": 8, "resample": 1}'])
    out = capsys.readouterr().out
    assert f"data: MovieLens file {raw}" in out and "protocol: contentlab: split stratified_user" in out


@pytest.mark.slow
def test_bench_movielens_runs_without_arguments(capsys, monkeypatch):
    monkeypatch.delenv("CONTENTLAB_MOVIELENS", raising=False)
    rc = _load("bench_movielens").main([])
    out = capsys.readouterr().out
    assert "data: GENERATED stand-in, not MovieLens: 943 users x 1,682 items, 100,000" in out
    assert "100,000 ratings, 943 users, 1,682 items" in out
    assert "not comparable with the generated stand-in" in out and "published (" not in out
    assert rc == 0 and "goal: ranking mode beats popularity" in out and "-> met" in out

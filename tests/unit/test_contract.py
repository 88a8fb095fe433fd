"""The contract between stages: products are declared once, checked on read and write, and inputs resolved."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from contentlab import contract, fmt, serial
from contentlab.contract import ContractError


def test_every_stage_reads_only_products_of_earlier_stages():
    order = list(contract.STAGE_NAMES)
    for st in contract.STAGES.values():
        for name in st.products:
            assert contract.product(name).stage == st.name
        for name in st.reads:
            assert order.index(contract.product(name).stage) < order.index(st.name), (st.name, name)
    paths = [p.path for p in contract.PRODUCTS.values()]
    assert len(paths) == len(set(paths))


def test_products_are_checked_on_write_and_read(tmp_path):
    prof = contract.product("user_profiles")
    with pytest.raises(ContractError, match=r"lacks column\(s\) \['persona_id', 'is_flagged'\]"):
        prof.write(tmp_path, pd.DataFrame({"user_id": ["u1"], "segment": ["a"]}))
    df = pd.DataFrame({"user_id": ["u1"], "segment": ["a"], "persona_id": ["P1"], "is_flagged": [False]})
    path = prof.write(tmp_path, df)
    assert path == tmp_path / "user_profiles.parquet" and not list(tmp_path.glob(".*tmp"))
    pd.testing.assert_frame_equal(prof.read(tmp_path), df)
    personas = contract.product("personas")
    assert personas.read_optional(tmp_path) is None
    (tmp_path / "personas.json").write_text(json.dumps([{"persona_id": "P1", "name": "x", "segment": "a"}]))
    with pytest.raises(ContractError, match=r"record 0 lacks key\(s\) \['size'\]"):
        personas.read(tmp_path)


def test_inputs_are_resolved_with_the_previous_cycle(tmp_path):
    run, prev = tmp_path / "run", tmp_path / "prev"
    with pytest.raises(ContractError, match="04_generate needs clean .*which stage 01_eda writes"):
        contract.resolve_inputs("04_generate", run)
    (run / "clean").mkdir(parents=True)
    (run / "dataset.json").write_text(json.dumps({"name": "demo", "locale": "en"}))
    inputs = contract.resolve_inputs("04_generate", run, previous_run_dir=prev)
    assert inputs["clean"] == str(run / "clean") and inputs["recommendations"] is None
    assert inputs["previous_feedback_priors"] is None
    prev.mkdir()
    priors = {"schema_version": 1, "run_id": "x", "profile": "demo", "cells": []}
    (prev / "feedback_priors.json").write_text(json.dumps(priors))
    inputs = contract.resolve_inputs("04_generate", run, previous_run_dir=prev)
    got = contract.Inputs.of(inputs)
    assert got.optional("previous_feedback_priors") == priors and got.optional("recommendations") is None
    assert got.read("dataset") == {"name": "demo", "locale": "en"}


def test_jsonable_makes_numpy_and_pandas_values_plain():
    value = {"a": np.int64(3), "b": np.float32(0.5), "c": float("nan"), "d": pd.NA, "e": pd.NaT,
             "f": np.array([1, 2]), "g": (np.bool_(True),), "h": pd.Timestamp("2026-01-02"), 1: math.inf}
    assert serial.jsonable(value) == {"a": 3, "b": 0.5, "c": None, "d": None, "e": None, "f": [1, 2], "g": [True],
                                      "h": "2026-01-02T00:00:00", "1": None}
    json.loads(serial.dumps(value))  # strict JSON: no NaN token


def test_formatting_never_prints_nan():
    assert fmt.pct(float("nan")) == fmt.num(None) == fmt.money(pd.NA, "GBP") == fmt.NA == "n/a"
    assert (fmt.pct(0.1234), fmt.num(1234.5), fmt.num(3.14159), fmt.money(12.5, "GBP")) == (
        "12.3%", "1,234", "3.14", "12.50 GBP")
    assert fmt.esc_md("*x* [a](javascript:b) <s>") == r"\*x\* \[a\]\(javascript:b\) &lt;s&gt;"
    assert fmt.esc_html("<b>&") == "&lt;b&gt;&amp;"

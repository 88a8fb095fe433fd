"""Validation layer: one test per bad-input case, each asserting the message (file, column, rule, count, examples)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from contentlab.data.schema import TABLES
from contentlab.data.validate import DataValidationError, ValidationReport, validate_table, validate_tables


def users(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(1, n + 1)],
        "signup_date": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
        "region": ["north"] * n,
    })


def products(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": [f"p{i}" for i in range(1, n + 1)],
        "title": [f"Wool coat {i}" for i in range(1, n + 1)],
        "category": ["coats"] * n,
        "price": [float(10 * i) for i in range(1, n + 1)],
    })


def events(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": [f"2024-02-01 10:{i:02d}:00" for i in range(n)],
        "user_id": [f"u{1 + i % 3}" for i in range(n)],
        "session_id": [f"s{i}" for i in range(n)],
        "product_id": [f"p{1 + i % 3}" for i in range(n)],
        "event_type": ["view", "cart", "purchase"] * (n // 3) + ["view"] * (n % 3),
        "price": ["10.0"] * n,
        "quantity": ["1"] * n,
    })


def ratings(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{1 + i % 3}" for i in range(n)],
        "product_id": [f"p{1 + i % 3}" for i in range(n)],
        "rating": [4.0] * n,
        "timestamp": [f"2024-02-0{1 + i} 12:00:00" for i in range(n)],
    })


def check_accounting(report) -> None:
    for t in report.tables.values() if isinstance(report, ValidationReport) else [report]:
        assert t.rows_in == t.rows_kept + t.rows_rejected
        assert sum(r.count for r in t.rejected) == t.rows_rejected


def test_clean_tables_pass_with_canonical_dtypes():
    clean, rep = validate_tables({"users": users(), "products": products(), "events": events(), "ratings": ratings()})
    assert rep.rows_rejected == 0
    assert rep.tables["events"].rows_kept == 6
    ev = clean["events"]
    assert str(ev["timestamp"].dtype) == "datetime64[ns]"
    assert ev["price"].dtype == np.float64 and ev["quantity"].dtype == np.int64
    assert pd.api.types.is_string_dtype(ev["user_id"].dtype)
    assert list(ev.columns) == [c for c in TABLES["events"].names if c in ev.columns]
    check_accounting(rep)


def test_empty_file_is_fatal():
    with pytest.raises(DataValidationError) as exc:
        validate_table(pd.DataFrame(), TABLES["events"], "events.csv")
    msg = str(exc.value)
    assert "events.csv" in msg and "empty" in msg and "'non-empty file'" in msg


def test_header_only_file_is_fatal():
    with pytest.raises(DataValidationError) as exc:
        validate_table(events().iloc[:0], TABLES["events"], "data/events.csv")
    msg = str(exc.value)
    assert "data/events.csv" in msg and "0 rows" in msg and "header only" in msg and "timestamp" in msg


def test_missing_required_column_is_fatal():
    df = events().drop(columns=["price"])
    with pytest.raises(DataValidationError) as exc:
        validate_table(df, TABLES["events"], "events.csv")
    msg = str(exc.value)
    assert "events.csv: column 'price': all 6 rows violate 'required column present'" in msg
    assert "'timestamp'" in msg  # examples of the columns that were found


def test_unparseable_numbers_are_rejected_and_counted():
    df = events()
    df.loc[[1, 4], "price"] = ["ten", "12,5"]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rows_rejected == 2 and len(clean) == 4
    (r,) = rep.rejected
    assert r.message == "events.csv: column 'price': 2 rows violate 'price is numeric' (examples: 'ten', '12,5')"
    check_accounting(rep)


def test_non_integer_quantity_is_rejected():
    df = events()
    df.loc[2, "quantity"] = "2.5"
    _, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rejected[0].message == "events.csv: column 'quantity': 1 row violates 'quantity is an integer' (examples: '2.5')"


def test_wholly_unusable_column_is_fatal():
    df = events()
    df["price"] = ["n/a", "abc", "-", "?", "x", "y"]
    with pytest.raises(DataValidationError) as exc:
        validate_table(df, TABLES["events"], "events.csv")
    msg = str(exc.value)
    assert "events.csv: column 'price': all 6 non-empty rows violate 'price is numeric'" in msg
    assert "(examples: 'n/a', 'abc', '-', '?', 'x')" in msg and "unusable" in msg


def test_negative_or_zero_price_is_rejected():
    df = events()
    df.loc[[0, 2, 5], "price"] = ["-1", "0", "-5.5"]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert [r.message for r in rep.rejected] == [
        "events.csv: column 'price': 3 rows violate 'price > 0' (examples: -1.0, 0.0, -5.5)"]
    assert rep.rows_in == 6 and rep.rows_kept == 3 and rep.rows_rejected == 3
    assert (clean["price"] > 0).all()


def test_all_prices_invalid_is_fatal():
    df = products()
    df["price"] = [0.0, -2.0, 0.0]
    with pytest.raises(DataValidationError) as exc:
        validate_table(df, TABLES["products"], "products.parquet")
    assert "products.parquet: column 'price': all 3 rows violate 'price > 0' (examples: 0.0, -2.0)" in str(exc.value)


def test_rating_outside_1_to_5_is_rejected():
    df = ratings(6)
    df["user_id"] = [f"u{i}" for i in range(6)]
    df["rating"] = [0.0, 5.0, 6.5, 1.0, -3.0, 3.5]
    clean, rep = validate_table(df, TABLES["ratings"], "ratings.csv")
    assert rep.rejected[0].message == "ratings.csv: column 'rating': 3 rows violate '1 <= rating <= 5' (examples: 0.0, 6.5, -3.0)"
    assert sorted(clean["rating"]) == [1.0, 3.5, 5.0]


def test_duplicate_events_are_dropped_and_counted():
    df = pd.concat([events(), events().iloc[[1, 1, 3]]], ignore_index=True)
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert len(clean) == 6 and rep.rows_rejected == 3
    (r,) = rep.rejected
    assert r.rule == "unique key (timestamp, user_id, session_id, product_id, event_type)"
    assert r.message.startswith("events.csv: columns (timestamp, user_id, session_id, product_id, event_type): 3 rows violate")
    assert "(2024-02-01 10:01:00, 'u2', 's1', 'p2', 'cart')" in r.message
    check_accounting(rep)


def test_events_with_unknown_users_and_products_are_rejected():
    ev = events()
    ev.loc[1, "user_id"] = "ghost"
    ev.loc[3, "user_id"] = "nobody"
    ev.loc[4, "product_id"] = "p999"
    clean, rep = validate_tables({"users": users(), "products": products(), "events": ev},
                                 {"events": "raw/events.csv", "users": "raw/users.csv"})
    msgs = [r.message for r in rep.tables["events"].rejected]
    assert msgs == [
        "raw/events.csv: column 'user_id': 2 rows violate 'user_id exists in users.user_id' (examples: 'ghost', 'nobody')",
        "raw/events.csv: column 'product_id': 1 row violates 'product_id exists in products.product_id' (examples: 'p999')",
    ]
    assert len(clean["events"]) == 3 and len(clean["users"]) == 3  # unknown users are not invented
    check_accounting(rep)


def test_unparseable_timestamps_are_rejected():
    df = events()
    df.loc[[0, 3], "timestamp"] = ["yesterday", "2024-13-45 99:00"]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rejected[0].message == (
        "events.csv: column 'timestamp': 2 rows violate 'timestamp is a parseable date/time' "
        "(examples: 'yesterday', '2024-13-45 99:00')")
    assert clean["timestamp"].notna().all() and len(clean) == 4


def test_mixed_time_zones_are_fatal():
    df = events()
    df.loc[[1, 2], "timestamp"] = ["2024-02-01T10:01:00+01:00", "2024-02-01 10:02:00Z"]
    with pytest.raises(DataValidationError) as exc:
        validate_table(df, TABLES["events"], "events.csv")
    msg = str(exc.value)
    assert "events.csv: column 'timestamp': 2 rows violate 'one time-zone convention per column'" in msg
    assert "'2024-02-01T10:01:00+01:00'" in msg and "'2024-02-01 10:00:00'" in msg
    assert "mixed time zones" in msg


def test_consistently_tz_aware_timestamps_become_naive_utc():
    df = events(3)
    df["timestamp"] = ["2024-02-01T10:00:00+01:00", "2024-07-01T10:00:00+02:00", "2024-02-01T10:00:00Z"]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert clean["timestamp"].dt.tz is None
    assert clean["timestamp"].tolist() == [pd.Timestamp("2024-02-01 09:00"), pd.Timestamp("2024-07-01 08:00"),
                                           pd.Timestamp("2024-02-01 10:00")]
    assert rep.rows_repaired == 3 and rep.rows_rejected == 0
    # an aware datetime dtype (e.g. from Parquet) is converted too
    df2 = events(2)
    df2["timestamp"] = pd.to_datetime(["2024-02-01 10:00", "2024-02-01 11:00"]).tz_localize("Asia/Shanghai")
    clean2, _ = validate_table(df2, TABLES["events"], "events.parquet")
    assert clean2["timestamp"].tolist() == [pd.Timestamp("2024-02-01 02:00"), pd.Timestamp("2024-02-01 03:00")]


def test_bad_event_type_is_rejected_and_case_is_repaired():
    df = events()
    df["event_type"] = ["view", "click", " Purchase", "CART", "refund", "click"]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rejected[0].message == (
        "events.csv: column 'event_type': 3 rows violate 'event_type in (view, cart, purchase)' "
        "(examples: 'click', 'refund')")
    assert sorted(clean["event_type"]) == ["cart", "purchase", "view"]
    assert rep.rows_repaired == 2
    assert "2 rows repaired by 'event_type: case and whitespace normalised'" in rep.repaired[0].message


def test_null_in_required_column_is_rejected():
    df = events()
    df.loc[[2, 5], "session_id"] = [None, "  "]
    _, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rejected[0].message == "events.csv: column 'session_id': 2 rows violate 'session_id is not null' (examples: null, '  ')"


def test_report_is_json_safe_and_summarises():
    ev = pd.concat([events(), events().iloc[[0]]], ignore_index=True)
    ev.loc[2, "price"] = "-3"
    _, rep = validate_tables({"users": users(), "products": products(), "events": ev}, {"events": "events.csv"})
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["tables"]["events"]["rows_in"] == 7 and d["tables"]["events"]["rows_rejected"] == 2
    assert d["rows_in"] == 3 + 3 + 7 and d["rows_rejected"] == 2
    assert [r["rule"] for r in d["tables"]["events"]["rules"]][0] == "price > 0"
    assert d["foreign_key_policy"] == "reject"
    frame = rep.summary_frame()
    row = frame.set_index("table").loc["events"]
    assert (row.rows_in, row.rows_kept, row.rows_rejected) == (7, 5, 2)
    assert "price > 0: 1" in row.rejected_by_rule
    assert len(rep.issues_frame()) == 2
    again = ValidationReport.from_dict(d)
    assert json.loads(json.dumps(again.to_dict())) == d


def test_fatal_problems_of_several_tables_are_reported_together():
    with pytest.raises(DataValidationError) as exc:
        validate_tables({"users": users().drop(columns=["signup_date"]), "products": products().iloc[:0]},
                        {"users": "u.csv", "products": "p.csv"})
    assert len(exc.value.problems) == 2
    assert "u.csv: column 'signup_date'" in str(exc.value) and "p.csv: table 'products' is empty" in str(exc.value)


def test_input_frames_are_not_modified():
    ev = events()
    ev.loc[0, "price"] = "-1"
    before = ev.copy()
    validate_table(ev, TABLES["events"], "events.csv")
    pd.testing.assert_frame_equal(ev, before)


def test_float_ids_and_numeric_timestamps():
    df = pd.DataFrame({"user_id": [17850.0, 13047.0, np.nan], "signup_date": [1.7e9, 1.7e9 + 60, 1.7e9]})
    clean, rep = validate_table(df, TABLES["users"], "users.csv")
    assert clean["user_id"].tolist() == ["17850", "13047"]
    assert clean["signup_date"].iloc[0] == pd.Timestamp(1.7e9, unit="s")
    assert rep.rejected[0].message == "users.csv: column 'user_id': 1 row violates 'user_id is not null' (examples: null)"


def test_data_readme_documents_every_canonical_column():
    from conftest import REPO

    text = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    for spec in TABLES.values():
        start = text.index(f"### `{spec.name}`")
        section = text[start:text.find("\n### ", start + 1)]
        for col in spec.columns:
            row = next((ln for ln in section.splitlines() if ln.startswith(f"| `{col.name}` |")), None)
            assert row is not None, f"data/README.md: {spec.name}.{col.name} is not documented"
            assert ("| yes |" in row) == col.required, f"data/README.md: {spec.name}.{col.name} required flag"


def test_one_bad_value_in_a_sparse_optional_column_is_a_rejection_not_fatal():
    df = events()
    df["discount"] = [None, None, "lots", None, "0.1", None]
    clean, rep = validate_table(df, TABLES["events"], "events.csv")
    assert rep.rejected[0].message == "events.csv: column 'discount': 1 row violates 'discount is numeric' (examples: 'lots')"
    assert clean["discount"].isna().sum() == 4 and clean["discount"].max() == 0.1


def test_booleans_are_coerced_and_bad_ones_rejected():
    n = 5
    df = pd.DataFrame({
        "timestamp": [f"2024-02-01 10:0{i}" for i in range(n)], "user_id": ["u1"] * n,
        "content_id": [f"c{i}" for i in range(n)], "product_id": ["p1"] * n, "variant": ["gpt2"] * n,
        "channel": ["email"] * n, "clicked": ["yes", "0", "TRUE", "f", "maybe"], "converted": [0, 0, 1, 0, 0],
        "revenue": [0.0, 0.0, 12.5, 0.0, 0.0],
    })
    clean, rep = validate_table(df, TABLES["exposures"], "exposures.csv")
    assert clean["clicked"].tolist() == [True, False, True, False] and clean["clicked"].dtype == bool
    assert clean["converted"].tolist() == [False, False, True, False]
    assert rep.rejected[0].message == "exposures.csv: column 'clicked': 1 row violates 'clicked is true/false' (examples: 'maybe')"

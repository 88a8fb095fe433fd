"""Broken inputs through the real loading path (``pipeline.prepare_data`` on files written to a temporary
project): each gets a message naming the file, the column, the rule, the count and example values; every table
keeps ``rows in = kept + rejected``; the raw files are never modified."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from contentlab import eda, pipeline, run
from contentlab.data.adapters import read_table_file, sniff_delimiter
from contentlab.data.io import file_fingerprint
from contentlab.data.schema import EARLIEST_TIMESTAMP
from contentlab.data.validate import DataValidationError, time_range, validate_tables

NOW = pd.Timestamp("2026-11-29 12:00:00")  # the validation clock in tests that pin it


@pytest.fixture()
def raw(tmp_path, monkeypatch):
    """An empty project home; returns its data/raw/shop folder."""
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    folder = tmp_path / "data" / "raw" / "shop"
    folder.mkdir(parents=True)
    return folder


def hashes(folder):
    return {p.name: file_fingerprint(p) for p in sorted(folder.iterdir()) if p.is_file()}


def write_csv(path, df, **kw):
    df.to_csv(path, index=False, **kw)
    return path


def shop_users(n=10):
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)],
                         "signup_date": [f"2024-01-{1 + i:02d}" for i in range(n)]})


def shop_products(n=5):
    return pd.DataFrame({"product_id": [f"p{i}" for i in range(n)], "title": [f"Wool coat {i}" for i in range(n)],
                         "price": [10.0 + i for i in range(n)]})


def shop_events(n=60, start="2024-02-01"):
    times = pd.date_range(start, periods=n, freq="37min")
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "user_id": [f"u{i % 10}" for i in range(n)],
                         "session_id": [f"s{i}" for i in range(n)], "product_id": [f"p{i % 5}" for i in range(n)],
                         "event_type": "view", "price": "10.0", "quantity": "1"})


def files_spec(folder, tables, **extra):
    return {"kind": "files", "name": "shop", "paths": {t: str(folder / f"{t}.csv") for t in tables}, **extra}


def prepare(folder, spec, tmp_path):
    """prepare_data; returns (validation.json, clean dataset) and checks the raw files were only read."""
    before = hashes(folder)
    run_dir = tmp_path / "data" / "processed" / "run"
    ds = pipeline.prepare_data(spec, run_dir)
    assert hashes(folder) == before  # raw data never modified
    return json.loads((run_dir / "validation.json").read_text()), ds


def assert_accounting(validation):
    """rows in = kept + rejected for every table, and the per-rule counts add up to the rejected rows."""
    for name, t in validation["tables"].items():
        assert t["rows_in"] == t["rows_kept"] + t["rows_rejected"], name
        assert sum(t["rejected_by_rule"].values()) == t["rows_rejected"], name
    assert validation["rows_in"] == validation["rows_kept"] + validation["rows_rejected"]


def rule(validation, table, name):
    """The one rule entry of ``table`` called ``name``."""
    found = [r for r in validation["tables"][table]["rules"] if r["rule"] == name]
    assert len(found) == 1, (name, [r["rule"] for r in validation["tables"][table]["rules"]])
    return found[0]


# ------------------------------------------------------------------------- 1. out-of-range timestamps


def test_timestamps_in_2099_and_1970_are_rejected_in_every_table_with_the_bounds_stated(raw, tmp_path):
    users = shop_users()
    users.loc[3, "signup_date"] = "2099-01-01"  # user u3 and everything of u3 goes
    events = shop_events()
    events.loc[[7, 8], "timestamp"] = ["2099-12-31 23:59:00", "1970-01-01 00:00:00"]
    ratings = pd.DataFrame({"user_id": ["u1", "u2", "u4", "u5"], "product_id": ["p1", "p2", "p3", "p4"],
                            "rating": [4, 5, 3, 2],
                            "timestamp": ["2024-02-03 10:00", "2099-06-01 10:00", "1970-01-01 00:00", "2024-02-04"]})
    exposures = pd.DataFrame({"timestamp": ["2024-02-02 09:00", "1970-01-01 00:00", "2024-02-02 09:05"],
                              "user_id": ["u1", "u2", "u4"], "content_id": ["c1", "c1", "c2"],
                              "product_id": ["p1", "p1", "p2"], "variant": "template", "channel": "email",
                              "clicked": ["true", "false", "true"], "converted": "false", "revenue": "0"})
    for name, df in {"users": users, "products": shop_products(), "events": events, "ratings": ratings,
                     "exposures": exposures}.items():
        write_csv(raw / f"{name}.csv", df)
    validation, ds = prepare(raw, files_spec(raw, ["users", "products", "events", "ratings", "exposures"]), tmp_path)
    assert_accounting(validation)

    latest = pd.Timestamp(validation["time_range"]["latest"])
    assert validation["time_range"]["earliest"] == f"{EARLIEST_TIMESTAMP} 00:00:00"
    assert pd.Timedelta(0) < latest - pd.Timestamp.now(tz="UTC").tz_localize(None) <= pd.Timedelta(days=1)
    bounds = f"accepted: {EARLIEST_TIMESTAMP} to {latest:%Y-%m-%d %H:%M} UTC"

    ev = rule(validation, "events", "timestamp between 1990-01-01 and run date + 1 day")
    assert ev["count"] == 2 and ev["examples"] == ["2099-12-31 23:59:00", "1970-01-01 00:00:00"]
    assert ev["message"] == (f"events.csv: column 'timestamp': 2 rows violate 'timestamp between 1990-01-01 and "
                             f"run date + 1 day' ({bounds}; examples: 2099-12-31 23:59:00, 1970-01-01 00:00:00)")
    us = rule(validation, "users", "signup_date between 1990-01-01 and run date + 1 day")
    assert us["count"] == 1 and us["message"].startswith("users.csv: column 'signup_date': 1 row violates")
    assert bounds in us["message"] and "2099-01-01" in us["message"]
    ra = rule(validation, "ratings", "timestamp between 1990-01-01 and run date + 1 day")
    assert ra["count"] == 2 and ra["message"].startswith("ratings.csv: column 'timestamp': 2 rows violate")
    ex = rule(validation, "exposures", "timestamp between 1990-01-01 and run date + 1 day")
    assert ex["count"] == 1 and ex["message"].startswith("exposures.csv: column 'timestamp': 1 row violates")
    # the events of the rejected user go with it, under their own reason
    cascade = rule(validation, "events", "user rejected (signup_date between 1990-01-01 and run date + 1 day)")
    assert cascade["count"] == (events["user_id"] == "u3").sum() - events.loc[[7, 8], "user_id"].eq("u3").sum()
    assert "the user was rejected in users.csv" in cascade["message"]

    for t in ("events", "ratings", "exposures"):
        span = ds.tables[t]["timestamp"]
        assert span.min() >= pd.Timestamp("2024-01-01") and span.max() < pd.Timestamp("2024-03-01"), t
    assert ds.users["signup_date"].max() < pd.Timestamp("2025-01-01")


def test_the_upper_bound_is_the_run_time_plus_one_day():
    earliest, latest = time_range(NOW)
    assert (earliest, latest) == (pd.Timestamp("1990-01-01"), pd.Timestamp("2026-11-30 12:00:00"))
    ev = shop_events(4)
    ev["timestamp"] = ["2026-11-30 11:59:00", "2026-11-30 12:01:00", "1990-01-01 00:00:00", "1989-12-31 23:59:59"]
    clean, rep = validate_tables({"users": shop_users(), "products": shop_products(), "events": ev}, now=NOW)
    t = rep.tables["events"]
    assert (t.rows_in, t.rows_kept, t.rows_rejected) == (4, 2, 2)
    assert t.rejected[0].examples == [pd.Timestamp("2026-11-30 12:01:00"), pd.Timestamp("1989-12-31 23:59:59")]
    assert "accepted: 1990-01-01 to 2026-11-30 12:00 UTC" in t.rejected[0].message


def test_timestamps_all_out_of_range_make_the_column_unusable(raw, tmp_path):
    events = shop_events(5)
    events["timestamp"] = "1970-01-01 00:00:00"  # e.g. a missing date written as Unix time 0
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "products.csv", shop_products())
    write_csv(raw / "events.csv", events)
    with pytest.raises(DataValidationError) as exc:
        prepare(raw, files_spec(raw, ["users", "products", "events"]), tmp_path)
    assert re.search(r"events.csv: column 'timestamp': all 5 rows violate 'timestamp between 1990-01-01 and run "
                     r"date \+ 1 day' \(accepted: 1990-01-01 to .* UTC; examples: 1970-01-01 00:00:00\); "
                     r"the column is unusable", str(exc.value))
    assert not (tmp_path / "data" / "processed" / "run" / "clean").exists()


def test_a_few_timestamps_cut_off_from_the_bulk_are_rejected(raw, tmp_path):
    events = shop_events(400)  # 2024-02-01 .. 2024-02-11
    stray = shop_events(3, start="2015-06-01")
    stray["session_id"] = ["x1", "x2", "x3"]
    late = shop_events(1, start="2026-01-01")
    late["session_id"] = ["x4"]
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "products.csv", shop_products())
    write_csv(raw / "events.csv", pd.concat([events, stray, late]))
    validation, ds = prepare(raw, files_spec(raw, ["users", "products", "events"]), tmp_path)
    assert_accounting(validation)
    iso = rule(validation, "events", "timestamp not isolated from the bulk of the data")
    assert iso["count"] == 4
    assert re.fullmatch(r"events.csv: column 'timestamp': 4 rows violate 'timestamp not isolated from the bulk of the "
                        r"data' \(the central 98% of rows lie between 2024-02-01 and 2024-02-1\d \(\d+ days\); these "
                        r"rows lie beyond an empty gap of more than 30 days \(the longer of that span and 30 days\); "
                        r"examples: 2015-06-01 00:00:00, 2015-06-01 00:37:00, 2015-06-01 01:14:00, "
                        r"2026-01-01 00:00:00\)", iso["message"])
    assert ds.events["timestamp"].min() >= pd.Timestamp("2024-02-01") and len(ds.events) == 400


def test_a_long_continuous_history_is_not_cut(raw, tmp_path):
    # a sparse but continuous first year (like MovieLens-20M's 1995) is kept: the gaps are shorter than the span
    early = shop_events(3, start="1995-01-09")
    early["timestamp"] = ["1995-01-09 10:00:00", "1995-06-01 10:00:00", "1996-01-29 10:00:00"]
    early["session_id"] = ["e1", "e2", "e3"]
    bulk = shop_events(300)
    bulk["timestamp"] = pd.date_range("1996-02-01", "2015-03-31", periods=300).strftime("%Y-%m-%d %H:%M:%S")
    users = shop_users()
    users["signup_date"] = "1995-01-01"
    write_csv(raw / "users.csv", users)
    write_csv(raw / "products.csv", shop_products())
    write_csv(raw / "events.csv", pd.concat([early, bulk]))
    validation, ds = prepare(raw, files_spec(raw, ["users", "products", "events"]), tmp_path)
    assert_accounting(validation)
    assert validation["tables"]["events"]["rows_rejected"] == 0 and len(ds.events) == 303


# ---------------------------------------------------------------------- 2. delimiter and encoding


def test_semicolon_delimited_latin1_csv_is_read(raw, tmp_path):
    products = shop_products()
    products.loc[1, "title"] = "Veste, laine mérinos"  # a comma inside a field: comma splitting breaks line 3
    products.loc[2, "title"] = "Écharpe grand froid"
    write_csv(raw / "products.csv", products, sep=";", encoding="latin-1")
    users = shop_users()
    users["region"] = ["Zürich"] * 10
    write_csv(raw / "users.csv", users, sep=";", encoding="latin-1")
    events = shop_events()
    events.loc[6, "event_type"] = "Purchase; bulk"  # line 7 would have 3 fields if ',' were the delimiter
    events["price"] = ["10,50", "8", "12,5"] * 20  # European decimal commas
    write_csv(raw / "events.csv", events, sep=";", encoding="latin-1")
    validation, ds = prepare(raw, files_spec(raw, ["users", "products", "events"]), tmp_path)
    assert_accounting(validation)
    assert ds.products.set_index("product_id").loc["p1", "title"] == "Veste, laine mérinos"
    assert ds.products.set_index("product_id").loc["p2", "title"] == "Écharpe grand froid"
    assert set(ds.users["region"]) == {"Zürich"}
    assert sorted(set(ds.events["price"])) == [8.0, 10.5, 12.5]
    notes = validation["adapter"]["notes"]
    assert "products.csv: read as semicolon-separated text, cp1252 (delimiter and encoding detected)" in notes
    assert ("events.csv: read as semicolon-separated text, UTF-8 (delimiter and encoding detected); decimal commas "
            "read in column(s) price") in notes
    bad = rule(validation, "events", "event_type in (view, cart, purchase)")
    assert bad["count"] == 1 and bad["message"] == ("events.csv: column 'event_type': 1 row violates 'event_type in "
                                                    "(view, cart, purchase)' (examples: 'Purchase; bulk')")


def test_sniffing_picks_the_delimiter_that_splits_the_header_consistently():
    assert sniff_delimiter("a;b;c\n1,5;2;x\n3;4,25;y\n") == ";"  # decimal commas do not fool it
    assert sniff_delimiter("a,b,c\n1,\"x;y\",2\n3,z;w,4\n") == ","  # semicolons inside text neither
    assert sniff_delimiter("a\tb\n1,2\t3\n") == "\t"
    assert sniff_delimiter("a|b|c\n1|2|3\n") == "|"
    assert sniff_delimiter("only_one_column\n1\n2\n") == ","


def test_a_file_that_cannot_be_split_names_the_file_line_and_read_options(raw, tmp_path):
    lines = ["product_id,title,price", "p0,Coat,10", "p1,Scarf,11", "p2,Hat,12,extra"]
    (raw / "products.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "events.csv", shop_events())
    with pytest.raises(DataValidationError) as exc:
        prepare(raw, files_spec(raw, ["users", "products", "events"]), tmp_path)
    msg = str(exc.value)
    assert msg.startswith("products.csv: 1 line violates 'same number of fields on every line' (Expected 3 fields in "
                          "line 4, saw 4; read as comma-separated utf-8-sig, delimiter detected)")
    assert "read_options: {products: {sep: ..., encoding: ...}}" in msg


def test_read_options_set_the_delimiter_and_encoding_and_unknown_options_fail(raw, tmp_path):
    products = shop_products()
    products.loc[0, "title"] = "Manteau d’hiver"  # cp1252 right quote
    write_csv(raw / "products.csv", products, sep="|", encoding="cp1252")
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "events.csv", shop_events())
    spec = files_spec(raw, ["users", "products", "events"], read_options={"products": {"sep": "|", "encoding": "cp1252"}})
    validation, ds = prepare(raw, spec, tmp_path)
    assert_accounting(validation)
    assert ds.products.loc[0, "title"] == "Manteau d’hiver"
    assert "products.csv: read as pipe-separated text, cp1252" in validation["adapter"]["notes"]
    df = read_table_file(raw / "products.csv", sep="|", encoding="cp1252")
    assert df.attrs["read_as"] == {"sep": "|", "encoding": "cp1252", "sep_detected": False, "encoding_detected": False,
                                   "decimal_columns": [], "decimal": ","}
    (raw / "prices.txt").write_text("sku|price|code\nk1|1.234,5|A.1\nk2|7|12\n")  # decimal and thousands marks as asked
    df = read_table_file(raw / "prices.txt", decimal=",", thousands=".")
    assert df["price"].tolist() == ["1234.5", "7"] and df["code"].tolist() == ["A.1", "12"]
    (raw / "prices.txt").unlink()

    spec["read_options"] = {"products": {"encodng": "cp1252"}}
    with pytest.raises(DataValidationError, match=r"products.csv: read_options.products: unknown option 'encodng' "
                                                  r"\(rule 'known read option'.*did you mean 'encoding'\?"):
        prepare(raw, spec, tmp_path)
    spec["read_options"] = {"products": {"encoding": "utf-8"}}  # wrong for this file: say which option to change
    with pytest.raises(DataValidationError, match=r"products.csv: cannot be decoded as utf-8 \(rule 'readable text "
                                                  r"encoding'\); set the file's encoding in the dataset spec"):
        prepare(raw, spec, tmp_path)


# ------------------------------------------------------------------ 3. rows of a rejected product


def test_events_and_ratings_of_a_rejected_product_say_why(raw, tmp_path):
    products = shop_products()
    products.loc[2, "price"] = 0.0  # p2 is rejected: price > 0
    events = shop_events(120)  # 24 events of p2
    ratings = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
                            "product_id": ["p2", "p2", "p2", "p2", "p1", "p9"], "rating": [4, 5, 3, 2, 4, 4],
                            "timestamp": [f"2024-02-0{d} 10:00" for d in range(1, 7)]})
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "products.csv", products)
    write_csv(raw / "events.csv", events)
    write_csv(raw / "ratings.csv", ratings)
    validation, ds = prepare(raw, files_spec(raw, ["users", "products", "events", "ratings"]), tmp_path)
    assert_accounting(validation)
    assert validation["tables"]["products"]["rejected_by_rule"] == {"price > 0": 1}
    assert validation["tables"]["events"]["rejected_by_rule"] == {"product rejected (price > 0)": 24}
    assert validation["tables"]["ratings"]["rejected_by_rule"] == {
        "product rejected (price > 0)": 4, "product_id exists in products.product_id": 1}
    ev = rule(validation, "events", "product rejected (price > 0)")
    assert ev["message"] == ("events.csv: column 'product_id': 24 rows violate 'product rejected (price > 0)' (the "
                             "product was rejected in products.csv under 'price > 0'; examples: 'p2')")
    assert rule(validation, "ratings", "product_id exists in products.product_id")["examples"] == ["p9"]
    assert "p2" not in set(ds.events["product_id"]) and len(ds.events) == 96
    # 01's row accounting lists the reason with its count
    shown = eda.validation_rules(validation)
    row = shown[(shown["table"] == "events") & (shown["rule"] == "product rejected (price > 0)")]
    assert row["rows"].tolist() == [24] and row["action"].tolist() == ["rejected"]


# ------------------------------------------------------------------------------- 4. empty files


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["0 bytes", "blank lines"])
def test_an_empty_events_file_violates_non_empty_file(raw, tmp_path, content):
    write_csv(raw / "users.csv", shop_users())
    write_csv(raw / "products.csv", shop_products())
    (raw / "events.csv").write_bytes(content)
    spec = files_spec(raw, ["users", "products", "events"], mapping={"events": {"event_time": "timestamp"}})
    with pytest.raises(DataValidationError) as exc:
        prepare(raw, spec, tmp_path)
    what = "0 bytes" if not content else "no header and no rows"
    assert exc.value.problems == [f"events.csv: table 'events' is empty: 0 rows violate 'non-empty file' ({what})"]
    assert "mapped column present" not in str(exc.value)
    assert not (tmp_path / "data" / "processed" / "run" / "clean").exists()


# ------------------------------------------------------------------------ 5. misspelt dataset keys


def test_a_misspelt_dataset_key_fails_at_once(raw, tmp_path):
    spec = {"kind": "files", "paths": {"events": "data/raw/shop/missing.csv"}, "mappings": {"events": {}}}
    with pytest.raises(pipeline.DatasetSpecError) as exc:  # before any file is looked at (it does not exist)
        pipeline.prepare_data(spec, tmp_path / "data" / "processed" / "run")
    assert str(exc.value) == ("dataset spec (kind 'files'): unknown key 'mappings'; did you mean 'mapping'? "
                              "(known keys: kind, name, locale, partition_events, paths, mapping, read_options)")
    with pytest.raises(pipeline.DatasetSpecError, match=r"mapping: unknown table 'event'; did you mean 'events'\?"):
        pipeline.check_dataset_spec({"kind": "files", "paths": {"events": "x.csv"}, "mapping": {"event": {}}})
    with pytest.raises(pipeline.DatasetSpecError, match=r"unknown key 'low_rating'; did you mean 'low_ratings'\?"):
        pipeline.check_dataset_spec({"kind": "movielens", "path": "u.data", "low_rating": "clip"})
    with pytest.raises(pipeline.DatasetSpecError, match=r"unknown dataset kind 'movielen'; did you mean 'movielens'\?"):
        pipeline.check_dataset_spec({"kind": "movielen"})
    for kind in pipeline.DATASET_KINDS:  # every key the loaders read is known
        assert {"kind", "name", "locale", "partition_events"} <= set(pipeline.dataset_keys(kind))


def test_a_misspelt_dataset_key_stops_the_run_before_it_starts(raw, tmp_path):
    profile = {"name": "shop", "seed": 1, "notebooks": {},
               "dataset": {"kind": "files", "paths": {"events": "data/raw/shop/events.csv"}, "mappings": {}}}
    with pytest.raises(run.RunError, match=r"profile shop: dataset spec \(kind 'files'\): unknown key 'mappings'; "
                                              r"did you mean 'mapping'\?"):
        run.run_pipeline(profile)
    processed = tmp_path / "data" / "processed"
    assert not processed.exists() or not any(processed.iterdir())

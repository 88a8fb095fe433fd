"""Adapters against hand-written fixtures in each source's exact format (and CDNOW's shipped file)."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pandas as pd
import pytest

from conftest import FIXTURES
from contentlab.data import adapters
from contentlab.data.adapters import (
    CD_PRODUCT_ID,
    cdnow_default_path,
    load_cdnow,
    load_files,
    load_movielens,
    load_online_retail,
)
from contentlab.data.validate import DataValidationError, validate_tables

T = pd.Timestamp


def validated(ds, rep):
    return validate_tables(ds.tables, rep.sources, allow_empty=ds.meta.get("allow_empty", []))


def assert_rows_accounted(rep):
    assert rep.rows_read == rep.rows_mapped + rep.rows_excluded
    json.dumps(rep.to_dict())  # JSON-safe


# ------------------------------------------------------------------------------------------- CDNOW


def test_cdnow_fixture_maps_orders_to_a_synthetic_cd_product():
    ds, rep = load_cdnow(FIXTURES / "cdnow" / "CDNOW_master.txt")
    assert rep.rows_read == 14
    assert rep.excluded == {"malformed_line": 1, "unparseable_date": 1, "non_positive_number_of_cds": 1}
    assert rep.flagged == {"zero_value_order": 1}
    assert rep.examples["unparseable_date"] == ["00006 19971345 1 13.97"]
    assert_rows_accounted(rep)
    ev = ds.events
    assert len(ev) == 11 and set(ev["product_id"]) == {CD_PRODUCT_ID} and set(ev["event_type"]) == {"purchase"}
    assert ds.products.to_dict("records")[0]["category"] == "CD"
    # two orders of customer 00002 on the same day stay two orders; price = dollars / CDs
    same_day = ev[ev["user_id"] == "00002"].sort_values("order_id")
    assert same_day["order_id"].tolist() == ["00002-19970112-1", "00002-19970112-2"]
    assert same_day["quantity"].tolist() == [1, 5] and same_day["price"].tolist() == [12.0, 15.4]
    users = ds.users.set_index("user_id")["signup_date"]
    assert sorted(users.index) == ["00001", "00002", "00003", "00004", "00005", "00007"]
    assert users["00003"] == T("1997-01-02") and users["00007"] == T("1998-06-30")
    clean, vrep = validated(ds, rep)
    ev_rep = vrep.tables["events"]
    assert (ev_rep.rows_in, ev_rep.rows_kept, ev_rep.rows_rejected) == (11, 10, 1)
    assert ev_rep.rejected[0].message == "CDNOW_master.txt (events): column 'price': 1 row violates 'price > 0' (examples: 0.0)"


def test_cdnow_default_path_is_found_without_importing_lifetimes():
    was_loaded = "lifetimes" in sys.modules
    path = cdnow_default_path()
    assert path.name == "CDNOW_master.txt" and path.parent.name == "datasets"
    assert ("lifetimes" in sys.modules) == was_loaded


def test_cdnow_shipped_file():
    ds, rep = load_cdnow()
    assert rep.rows_read == 69_659 and rep.rows_excluded == 0
    assert ds.users["user_id"].nunique() == 23_570 and len(ds.users) == 23_570
    assert len(ds.events) == 69_659 and (ds.events["event_type"] == "purchase").all()
    assert ds.events["timestamp"].min() == T("1997-01-01") and ds.events["timestamp"].max() == T("1998-06-30")
    assert rep.flagged == {"zero_value_order": 80}
    # price x quantity gives back each order's dollar value: the file's total revenue
    assert (ds.events["price"] * ds.events["quantity"]).sum() == pytest.approx(2_500_315.63, abs=0.005)
    clean, vrep = validated(ds, rep)
    assert len(clean["events"]) == 69_659 - 80 and vrep.tables["events"].rejected_by_rule == {"price > 0": 80}
    assert len(clean["users"]) == 23_570


def test_cdnow_empty_file_is_an_error(tmp_path):
    f = tmp_path / "CDNOW_master.txt"
    f.write_text(" customer_id  date number_of_cds dollar_value\r\n")
    with pytest.raises(DataValidationError, match="CDNOW_master.txt: table 'events' is empty"):
        load_cdnow(f)


# ------------------------------------------------------------------------------------ Online Retail

RETAIL_I_EXCLUDED = {"cancellation": 2, "non_product_stock_code": 2, "missing_customer_id": 3,
                     "non_positive_quantity": 1, "non_positive_price": 1, "unparseable_invoice_date": 1,
                     "merged_into_first_line": 1}


def test_online_retail_csv_counts_messy_rows():
    ds, rep = load_online_retail(FIXTURES / "online_retail" / "Online_Retail.csv")
    assert rep.rows_read == 22 and rep.excluded == RETAIL_I_EXCLUDED and rep.rows_mapped == 11
    assert_rows_accounted(rep)
    # every reason's total regardless of precedence (cancellations also have negative quantities, ...)
    assert rep.overlaps["non_positive_quantity"] == 4 and rep.overlaps["non_product_stock_code"] == 3
    assert rep.examples["cancellation"][0][0] == "C536379"
    ev = ds.events
    assert not ev["order_id"].str.startswith("C").any() and (ev["quantity"] > 0).all() and (ev["price"] > 0).all()
    # US dates: 12/9/2011 is the 9th of December
    assert ev.loc[ev["order_id"] == "536601", "timestamp"].iloc[0] == T("2011-12-09 12:50")
    # two lines of one invoice and stock code merge (quantities summed)
    assert ev.loc[(ev["order_id"] == "536409") & (ev["product_id"] == "22111"), "quantity"].tolist() == [3]
    prods = ds.products.set_index("product_id")
    assert "POST" not in prods.index and "22139" not in prods.index  # postage; product only seen at price 0
    assert prods.loc["22745", "title"] == "POPPY'S PLAYHOUSE BEDROOM" and prods.loc["22086", "price"] == 2.55
    users = ds.users.set_index("user_id")
    assert len(users) == 7 and users.loc["12583", "region"] == "France"
    assert users.loc["17850", "signup_date"] == T("2010-12-01 08:26")
    clean, vrep = validated(ds, rep)
    ev_rep = vrep.tables["events"]
    assert (ev_rep.rows_in, ev_rep.rows_kept, ev_rep.rows_rejected) == (11, 10, 1)  # the exact duplicate line
    assert ev_rep.rejected[0].rule.startswith("unique key")
    assert "'17908', '536409', '85116'" in ev_rep.rejected[0].message


RETAIL_II_EXPECTED = {"cancellation": 1, "non_product_stock_code": 5, "missing_customer_id": 2}


def _check_retail_ii(ds, rep):
    assert rep.rows_read == 15 and rep.excluded == RETAIL_II_EXPECTED and rep.rows_mapped == 7
    assert_rows_accounted(rep)
    assert sorted(ds.users["user_id"]) == ["12346", "12682", "13078", "13085", "14911", "16321"]  # no ".0"
    prods = ds.products.set_index("product_id")
    assert len(prods) == 8 and prods.loc["85048", "price"] == pytest.approx(7.45)
    assert prods.loc["79323W", "title"] == "WHITE CHERRY LIGHTS"
    ev = ds.events.sort_values(["timestamp", "product_id"]).reset_index(drop=True)
    assert ev.loc[0, "timestamp"] == T("2009-12-01 07:45") and ev.iloc[-1]["timestamp"] == T("2010-12-09 20:01")
    assert ev["product_id"].tolist()[:3] == ["79323P", "79323W", "85048"]
    clean, vrep = validated(ds, rep)
    assert vrep.rows_rejected == 0 and len(clean["events"]) == 7


def test_online_retail_ii_csv():
    ds, rep = load_online_retail(FIXTURES / "online_retail" / "online_retail_II.csv")
    assert "Online Retail II" in rep.notes[0]
    _check_retail_ii(ds, rep)


def write_retail_ii_xlsx(path):
    """The Online Retail II fixture as the real workbook stores it: one sheet per year, typed cells."""
    from openpyxl import Workbook

    src = pd.read_csv(FIXTURES / "online_retail" / "online_retail_II.csv", dtype=str, keep_default_na=False)
    wb = Workbook()
    sheets = {"Year 2009-2010": wb.active, "Year 2010-2011": wb.create_sheet("Year 2010-2011")}
    sheets["Year 2009-2010"].title = "Year 2009-2010"
    for ws in sheets.values():
        ws.append(list(src.columns))
    for _, r in src.iterrows():
        when = dt.datetime.strptime(r["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
        ws = sheets["Year 2010-2011" if when >= dt.datetime(2010, 12, 1) else "Year 2009-2010"]
        ws.append([
            int(r["Invoice"]) if r["Invoice"].isdigit() else r["Invoice"],
            int(r["StockCode"]) if r["StockCode"].isdigit() else r["StockCode"],
            r["Description"], int(r["Quantity"]), when, float(r["Price"]),
            float(r["Customer ID"]) if r["Customer ID"] else None, r["Country"],
        ])
    wb.save(path)
    return path


def test_online_retail_ii_xlsx_reads_every_sheet(tmp_path):
    path = write_retail_ii_xlsx(tmp_path / "online_retail_II.xlsx")
    ds, rep = load_online_retail(path)
    assert "(xlsx)" in rep.notes[0]
    _check_retail_ii(ds, rep)
    ds_one, rep_one = load_online_retail(path, sheet="Year 2010-2011")
    assert rep_one.rows_read == 1 and len(ds_one.events) == 1


def test_online_retail_wrong_file_names_missing_columns(tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("order,sku,qty\n1,a,2\n")
    with pytest.raises(DataValidationError) as exc:
        load_online_retail(f)
    msg = str(exc.value)
    assert "orders.csv: column 'InvoiceNo/Invoice': all 1 rows violate 'required column present'" in msg
    assert "'order', 'sku', 'qty'" in msg


def test_non_product_codes():
    codes = pd.Series(["POST", "M", "BANK CHARGES", "gift_0001_20", "AMAZONFEE", "85123A", "22423", "DCGS0003",
                       "C2", None], dtype="str")
    assert adapters._is_non_product(codes.str.upper()).tolist() == [True] * 5 + [False] * 3 + [True, False]


# --------------------------------------------------------------------------------------- MovieLens


def test_movielens_u_data():
    ds, rep = load_movielens(FIXTURES / "movielens" / "ml-100k")  # the directory: u.data is found
    assert rep.rows_read == 19 and rep.excluded == {"malformed_line": 1, "missing_item_id": 1}
    assert rep.flagged == {"rating_above_5": 1}
    assert_rows_accounted(rep)
    r = ds.ratings
    assert len(r) == 17 and r.loc[0].to_dict() == {"user_id": "196", "product_id": "242", "rating": 3.0,
                                                    "timestamp": T(881250949, unit="s")}
    prods = ds.products.set_index("product_id")
    assert prods.loc["242", "title"] == "Kolya (1996)" and prods.loc["242", "category"] == "Comedy"
    assert prods.loc["302", "category"] == "Crime" and prods.loc["86", "title"] == "Movie 86"
    assert (prods["price"] == 1.0).all() and ds.meta["nominal_price"] is True
    users = ds.users.set_index("user_id")
    assert users.loc["196", "age_band"] == "45-54" and users.loc["196", "gender"] == "M"
    assert len(ds.events) == 0 and list(ds.events.columns)[:3] == ["timestamp", "user_id", "session_id"]
    clean, vrep = validated(ds, rep)
    assert vrep.tables["ratings"].rejected_by_rule == {
        "1 <= rating <= 5": 1, "unique key (user_id, product_id, timestamp)": 1}
    assert vrep.tables["events"].rows_in == 0 and len(clean["ratings"]) == 15


def test_movielens_ratings_csv_half_stars():
    path = FIXTURES / "movielens" / "ml-latest-small" / "ratings.csv"
    ds, rep = load_movielens(path)
    assert rep.rows_read == 13 and rep.excluded == {"unparseable_rating": 1} and rep.flagged == {"rating_below_1": 2}
    assert rep.examples["unparseable_rating"] == [("4", "45", "four", "986935199")]
    prods = ds.products.set_index("product_id")
    assert prods.loc["318", "title"] == "Shawshank Redemption, The (1994)" and prods.loc["1", "category"] == "Adventure"
    _, vrep = validated(ds, rep)
    assert vrep.tables["ratings"].rejected[0].message == (
        "ratings.csv: column 'rating': 2 rows violate '1 <= rating <= 5' (examples: 0.5)")
    ds_clip, rep_clip = load_movielens(path, low_ratings="clip")
    assert rep_clip.flagged == {"rating_clipped_to_1": 2} and ds_clip.ratings["rating"].min() == 1.0
    _, vrep_clip = validated(ds_clip, rep_clip)
    assert vrep_clip.rows_rejected == 0


def test_movielens_missing_columns(tmp_path):
    f = tmp_path / "ratings.csv"
    f.write_text("user,movie,stars\n1,2,3\n")
    with pytest.raises(DataValidationError, match="ratings.csv: column 'userid': all 1 rows violate"):
        load_movielens(f)


# ------------------------------------------------------------------------------------- generic files

MAPPING = {
    "users": {"customer": "user_id", "joined": "signup_date", "country": "region", "source": "channel"},
    "products": {"sku": "product_id", "name": "title", "cat": "category", "list_price": "price"},
    "events": {"ts": "timestamp", "customer": "user_id", "visit": "session_id", "sku": "product_id",
               "action": "event_type", "unit_price": "price", "qty": "quantity"},
}
PATHS = {"users": FIXTURES / "files" / "customers.csv", "products": FIXTURES / "files" / "catalogue.csv",
         "events": FIXTURES / "files" / "clicks.csv"}


def test_load_files_with_a_column_mapping():
    ds, rep = load_files(PATHS, MAPPING, name="shop", locale="en")
    assert ds.name == "shop" and rep.tables == {"users": 3, "products": 3, "events": 8}
    assert list(ds.events.columns) == ["timestamp", "user_id", "session_id", "product_id", "event_type", "price",
                                       "quantity"]
    clean, vrep = validated(ds, rep)
    ev = vrep.tables["events"]
    assert (ev.rows_in, ev.rows_kept, ev.rows_rejected) == (8, 5, 3)
    assert [r.message for r in ev.rejected] == [
        "clicks.csv: column 'price': 1 row violates 'price > 0' (examples: -129.0)",
        "clicks.csv: columns (timestamp, user_id, session_id, product_id, event_type): 1 row violates 'unique key "
        "(timestamp, user_id, session_id, product_id, event_type)' (examples: (2024-03-02 18:00:00, 'c2', 'v2', "
        "'k2', 'view'))",
        "clicks.csv: column 'user_id': 1 row violates 'user_id exists in users.user_id' (examples: 'c9')",
    ]
    assert clean["products"]["colour"].tolist() == ["white", "grey", "black"]  # canonical optional column kept
    assert clean["events"]["quantity"].dtype == "int64"


def test_load_files_parquet_and_missing_events(tmp_path):
    users = pd.DataFrame({"uid": [1, 2], "first_seen": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    users.to_parquet(tmp_path / "u.parquet")
    prods = pd.read_csv(PATHS["products"]).rename(columns=MAPPING["products"])
    prods.to_parquet(tmp_path / "p.parquet")
    ds, rep = load_files({"users": tmp_path / "u.parquet", "products": tmp_path / "p.parquet"},
                         {"users": {"uid": "user_id", "first_seen": "signup_date"}})
    assert ds.meta["allow_empty"] == ["events"] and len(ds.events) == 0
    clean, _ = validated(ds, rep)
    assert clean["users"]["user_id"].tolist() == ["1", "2"]


def test_load_files_mapping_errors():
    with pytest.raises(DataValidationError) as exc:
        load_files(PATHS, {"users": {"client": "user_id", "joined": "signup_day"}})
    msg = str(exc.value)
    assert "customers.csv: column 'client': all 3 rows violate 'mapped column present'" in msg
    assert "'customer', 'joined', 'country', 'source'" in msg
    assert "mapping target 'signup_day' is not a column of 'users'" in msg
    with pytest.raises(ValueError, match="unknown table"):
        load_files({"orders": PATHS["events"]})


def test_load_files_empty_file_is_reported_as_empty(tmp_path):
    (tmp_path / "users.csv").write_text("")
    with pytest.raises(DataValidationError,
                       match=r"users.csv: table 'users' is empty: 0 rows violate 'non-empty file' \(0 bytes\)"):
        load_files({"users": tmp_path / "users.csv", "products": PATHS["products"], "events": PATHS["events"]},
                   {k: MAPPING[k] for k in ("products", "events")})

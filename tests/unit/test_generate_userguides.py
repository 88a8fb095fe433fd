"""Per-user shopping guides at scale (:mod:`contentlab.generate.userguides`): the Spark path (``mapInPandas`` on a
``local[1]`` session) writes, character for character, the guides the pandas path writes for the same customers;
each Python worker loads the guide kit once however many partitions it runs; the partitioned Parquet output reads
back with every customer, in its bucket, and with no markup, even from a hostile catalogue (a hostile persona name
never reaches a guide: guides greet nobody by persona or segment)."""

from __future__ import annotations

import os
import random
import zlib

import numpy as np
import pandas as pd
import pytest

from contentlab.data.simulate import simulate
from contentlab.generate import load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.guides import check_guides, shopping_guides
from contentlab.generate.publish import USER_GUIDE_BUCKETS, USER_GUIDE_COLUMNS, guide_bucket, user_guide_table
from contentlab.generate.reviews import digest_for, digest_index, review_digests
from contentlab.generate.sanitise import markup_problems
from contentlab.generate.userguides import GuideKit, guide_rows, save_kit, whole_users, write_user_guides
from test_generate_sanitise import PAYLOADS, assert_no_markup, hostile

PERSONAS = [{"persona_id": "P01", "segment": "Bargain Hunters", "name": "bargain_hunter"},
            {"persona_id": "P02", "segment": "Trend Seekers", "name": "<b>trend</b> seekers"}]  # not sanitised


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A tiny simulated shop with markup planted in its catalogue, its recommendations and profiles as Parquet, and
    the guide kit stage 04 would build. A persona name keeps its markup (it must not reach any guide)."""
    rng = random.Random(5)
    ds = simulate(150, 40, 15, "en", 11)
    raw = ds.products.copy()
    for i in range(0, len(raw), 5):
        raw.loc[raw.index[i], "title"] = f"{raw.loc[raw.index[i], 'title']} {hostile(rng, 2)}"
    for i in range(2, len(raw), 9):  # a banned claim in the catalogue: the guides naming these are rejected
        raw.loc[raw.index[i], "title"] = f"{raw.loc[raw.index[i], 'title']}, guaranteed bestseller"
    catalogue = wf.prepare_catalogue(raw, ds.meta, "en", ds.ratings)
    products = catalogue.products
    tpl, gr = load_templates("en", prices=catalogue.prices), load_guardrails()
    lexicon = wf.catalogue_lexicon(catalogue, "en", tpl, None, PERSONAS)
    digests = review_digests(catalogue.ratings, "en", guardrails=gr)
    users = sorted(ds.users["user_id"].astype(str))
    prng = np.random.default_rng(3)
    pids = products["product_id"].tolist()
    rows = []
    for k, u in enumerate(users[:120]):
        picks = list(prng.choice(pids, size=5, replace=False))
        if k % 17 == 0:
            picks[0] = "NOT-IN-CATALOGUE"  # skipped: the guide takes the next ones
        if k == 3:
            picks = ["GONE-1", "GONE-2"]  # nothing left: no guide
        rows += [{"user_id": u, "rank": r, "product_id": p, "score": 1.0 / r, "model": "hybrid"}
                 for r, p in enumerate(picks, start=1)]
    recs = pd.DataFrame(rows).sample(frac=1.0, random_state=1).reset_index(drop=True)  # any order on disk
    profiles = pd.DataFrame({"user_id": users[:110], "segment": ["Bargain Hunters", "Trend Seekers"] * 55,
                             "persona_id": ["P01", "P02"] * 55, "is_flagged": False})  # 10 users without a profile
    folder = tmp_path_factory.mktemp("shop")
    recs.to_parquet(folder / "recommendations.parquet", index=False)
    profiles.to_parquet(folder / "user_profiles.parquet", index=False)
    kit = GuideKit(products=products, templates=tpl, guardrails=gr, lexicon=lexicon, locale="en", personas=PERSONAS,
                   digests=digests, user_ids=frozenset(ds.users["user_id"].astype(str)))
    return {"folder": folder, "recs": recs, "profiles": profiles, "kit": kit, "users": users[:120]}


def _pandas_path(shop) -> pd.DataFrame:
    """The stage's pandas path for every customer: shopping_guides (all users sampled), check_guides, the table."""
    kit = shop["kit"]
    guides = shopping_guides(kit.products, kit.templates, kit.personas, {}, shop["recs"], shop["profiles"],
                             n_users=len(shop["users"]), digests=kit.digests)
    checks = check_guides(guides, kit.products, kit.guardrails, kit.lexicon, "en", kit.user_ids)
    return user_guide_table(guides, checks, kit.guardrails.version, kit.templates.version)


def test_the_pandas_path_guides_every_customer_with_a_known_product_and_gates_markup(shop):
    table = _pandas_path(shop)
    assert list(table.columns) == USER_GUIDE_COLUMNS
    expected = set(shop["users"]) - {shop["users"][3]}  # the customer whose products are all gone gets none
    assert set(table["user_id"]) == expected and table["user_id"].is_unique
    assert (table["bucket"] == table["user_id"].map(lambda u: zlib.crc32(u.encode()) % 16)).all()
    # the unsanitised persona name (an internal label) never reaches a guide: its customers' guides are like others
    p2 = table["persona_id"] == "P02"
    assert p2.any() and not table["subject"].str.contains("trend|bargain", case=False).any()
    assert not table["text"].str.contains("<b>trend", case=False, regex=False).any()
    assert (table["published"] == ~table["rejected"]).all() and table.loc[p2, "published"].any()
    assert table["rejected"].any() and table.loc[table["rejected"], "reject_reason"].str.contains("banned").all()
    for col in ("subject", "text", "segment", "persona_id", "product_ids"):
        for v in table[col].dropna():
            assert_no_markup(v, f"{col}: {v!r}")
    # customers without a profile: no segment, no persona, the fallback name
    no_profile = table[~table["user_id"].isin(shop["profiles"]["user_id"])]
    assert len(no_profile) == 10 and no_profile["segment"].isna().all() and no_profile["persona_id"].isna().all()


def test_pandas_writer_partitions_by_bucket_and_reads_back(shop, tmp_path):
    table = _pandas_path(shop)
    run = write_user_guides(table, tmp_path / "user_guides")
    assert run.written == len(table) and run.rejected == int(table["rejected"].sum()) and run.engine == "duckdb"
    back = pd.read_parquet(tmp_path / "user_guides")
    assert len(back) == len(table) and set(back["user_id"]) == set(table["user_id"])
    dirs = sorted(p.name for p in (tmp_path / "user_guides").iterdir())
    assert dirs == sorted({f"bucket={b}" for b in table["bucket"]}) and len(dirs) > 1
    assert not (tmp_path / "user_guides.writing").exists()
    assert write_user_guides(table.head(0), tmp_path / "none").path is None and not (tmp_path / "none").exists()


def test_buckets_spread_users_evenly():
    buckets = pd.Series([guide_bucket(f"U{i:05d}") for i in range(16000)])
    counts = buckets.value_counts()
    assert set(counts.index) == set(range(USER_GUIDE_BUCKETS)) and counts.max() < 1.15 * counts.min()


def test_whole_users_never_splits_a_customer():
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice([f"U{i:03d}" for i in range(60)], size=400))
    df = pd.DataFrame({"user_id": users, "rank": np.arange(400)})
    cuts = sorted(rng.choice(np.arange(1, 400), size=25, replace=False))
    batches = [df.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, 400])] + [df.iloc[0:0]]
    parts = list(whole_users(iter(batches)))
    assert pd.concat(parts).reset_index(drop=True).equals(df)
    seen: set[str] = set()
    for part in parts:
        assert not (set(part["user_id"]) & seen)
        seen |= set(part["user_id"])


def test_digest_index_finds_what_the_table_lookup_finds(shop):
    d = shop["kit"].digests
    assert len(d)
    index = digest_index(d)
    for pid in [*d["product_id"].head(10), "NOT-A-PRODUCT"]:
        assert digest_for(index, pid) == digest_for(d, pid)
    assert digest_index(None) == {} and digest_for(None, "x") is None


def test_guide_rows_are_the_pandas_paths_rows(shop):
    recs = shop["recs"][["user_id", "rank", "product_id"]].copy()
    prof = shop["profiles"].set_index("user_id")
    recs["segment"], recs["persona_id"] = recs["user_id"].map(prof["segment"]), recs["user_id"].map(prof["persona_id"])
    a = guide_rows(recs, shop["kit"]).set_index("user_id").sort_index()
    b = _pandas_path(shop).set_index("user_id").sort_index()
    pd.testing.assert_frame_equal(a, b)


# ---- Spark --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")
    from contentlab.engine import spark_session, stop_spark

    yield spark_session({"kind": "spark", "master": "local[1]", "conf": {"spark.sql.shuffle.partitions": "2"}})
    stop_spark()


@pytest.mark.slow
def test_spark_writes_the_pandas_guides_loading_the_kit_once_per_worker(shop, spark, tmp_path):
    from contentlab.generate import userguides
    from contentlab.generate.userguides import guide_partitions, spark_user_guides

    kit_path = save_kit(shop["kit"], tmp_path / "kits")
    assert save_kit(shop["kit"], tmp_path / "kits").parent == kit_path.parent
    out = tmp_path / "run" / "user_guides"
    run = spark_user_guides(spark, kit_path, shop["folder"] / "recommendations.parquet",
                            shop["folder"] / "user_profiles.parquet", out, master="local[1]")
    local = _pandas_path(shop)
    assert (run.engine, run.written, run.users) == ("spark", len(local), 120)
    assert run.rejected == int(local["rejected"].sum()) > 0

    # the partitioned Parquet reads back with every customer, each in its bucket, one file per bucket, no markup
    back = pd.read_parquet(out)
    assert len(back) == len(local) and back["user_id"].is_unique and set(back["user_id"]) == set(local["user_id"])
    assert (back["bucket"].astype(int) == back["user_id"].map(guide_bucket)).all()
    for bucket_dir in out.glob("bucket=*"):
        assert len(list(bucket_dir.glob("*.parquet"))) == 1, bucket_dir
    for col in ("subject", "text", "segment", "persona_id", "product_ids", "reject_detail"):
        for v in back.loc[back["published"], col].dropna():
            assert_no_markup(v, f"{col}: {v!r}")
            assert markup_problems(v) == []
    for v in back["text"]:
        assert "<" not in v and ">" not in v  # rejected guides are stored cleaned too
    assert not any(p.lower() in " ".join(back["text"]).lower() for p in PAYLOADS if "<" in p)

    # the same guides as the pandas path, to the character
    cols = [c for c in USER_GUIDE_COLUMNS if c != "bucket"]
    a = back[cols].set_index("user_id").sort_index()
    b = local[cols].set_index("user_id").sort_index()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)

    # one kit load per Python worker process, however many partitions it runs (and across jobs)
    fn = guide_partitions(kit_path)

    def probe(batches):
        for rows in fn(batches):
            yield rows[["user_id"]].assign(pid=os.getpid(), loads=userguides.KIT_LOADS[str(kit_path)])

    recs = (spark.read.parquet(str(shop["folder"] / "recommendations.parquet"))
            .selectExpr("CAST(user_id AS STRING) AS user_id", "CAST(rank AS BIGINT) AS rank",
                        "CAST(product_id AS STRING) AS product_id", "CAST(NULL AS STRING) AS segment",
                        "CAST(NULL AS STRING) AS persona_id")
            .repartition(6, "user_id").sortWithinPartitions("user_id", "rank"))
    seen = recs.mapInPandas(probe, "user_id string, pid long, loads long").toPandas()
    assert len(seen) == len(local) and recs.rdd.getNumPartitions() == 6
    assert seen["pid"].nunique() == 1 and set(seen["loads"]) == {1}
    assert userguides.KIT_LOADS[str(kit_path)] == 0  # the driver never loaded it: only the workers did


def test_replacing_the_guides_never_leaves_the_directory_missing(tmp_path, monkeypatch):
    """The old guides are moved aside, not deleted, until the new ones are in place; a failed rename puts them back
    (serial.replace_dir, which the guides and 01's clean tables are written through)."""
    from contentlab import serial

    target, new = tmp_path / "user_guides", tmp_path / "user_guides.writing"
    for folder, text in ((target, "old"), (new, "new")):
        folder.mkdir()
        (folder / "part.parquet").write_text(text)
    serial.replace_dir(new, target)
    assert (target / "part.parquet").read_text() == "new" and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_guides"]

    new.mkdir()
    (new / "part.parquet").write_text("newer")
    real = os.replace

    def failing(src, dst):
        if str(src).endswith(".writing"):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(serial.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        serial.replace_dir(new, target)
    assert (target / "part.parquet").read_text() == "new"  # the complete old guides are back

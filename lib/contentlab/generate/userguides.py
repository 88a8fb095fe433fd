"""Per-user shopping guides for every customer with recommendations: on Spark with ``mapInPandas``; on the
embedded engine, the sample of customers the stage writes guides for in pandas.

A customer's guide is defined once (:func:`contentlab.generate.guides.user_rows`), checked once
(:func:`~contentlab.generate.guides.check_guides`: guardrails, per-item faithfulness, broken sentences, markup) and
shaped for publishing once (:func:`contentlab.generate.publish.user_guide_table`, with the content catalogue's
markup gate). :func:`guide_rows` chains the three on a batch of recommendation rows; the pandas path and every
Spark task call it, so both engines write the same guide for the same customer, character for character.

**The kit.** What a guide needs besides the customer's recommendations (the cleaned catalogue, the prompt
templates, the guardrail lists, the faithfulness lexicon, the review digests, the personas and the known user ids
the PII check looks for) is a :class:`GuideKit`. The driver pickles it once (:func:`save_kit`, under
``data/interim/guide-kits/``, named by its SHA-256) and a Spark task is given only that path: :func:`load_kit` keeps
what it loads in a module-level cache keyed by the path, so each Python worker process loads the kit once however
many partitions it runs (PySpark reuses its Python workers, ``spark.python.worker.reuse``, on by default);
:data:`KIT_LOADS` counts the loads per path in the process. Guides are written from the templates and the product
records, not by the GPT-2 copy model, so the model's checkpoint is not part of the kit and no worker loads it.

**On Spark** (:func:`spark_user_guides`): 03's ``recommendations`` joined with 02's ``user_profiles`` (segment and
persona), each row given its user's bucket (:func:`~contentlab.generate.publish.guide_bucket`), repartitioned by
bucket and sorted by user within each partition; ``mapInPandas`` runs :func:`guide_rows` on whole users
(:func:`whole_users`: a customer's rows never straddle two Arrow batches) and the result is written as Parquet
partitioned by bucket (``user_guides/bucket=N/``, one file per bucket). On a cluster of several machines the run
directory and ``data/interim`` must be on storage every executor reads, as for the tables 01 and 02 read on Spark.

**In pandas** (:func:`write_user_guides`): the sampled customers' guides the stage made anyway, in the same layout.
Either way the directory is written beside its place and renamed into it, so a reader never sees half of it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import threading
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import config
from contentlab.generate.guardrails import Guardrails
from contentlab.generate.guides import check_guides, products_by_id, user_guides
from contentlab.generate.prompts import PromptTemplates
from contentlab.generate.publish import (
    USER_GUIDE_BUCKETS,
    USER_GUIDE_COLUMNS,
    USER_GUIDE_SCHEMA,
    user_guide_arrow_schema,
    user_guide_table,
)
from contentlab.generate.reviews import digest_index
from contentlab.serial import replace_dir

__all__ = ["GuideKit", "GuideRun", "KIT_LOADS", "guide_partitions", "guide_rows", "load_kit", "publish_user_guides",
           "save_kit", "spark_user_guides", "whole_users", "write_user_guides"]

KIT_DIR = "guide-kits"
_KEEP_KITS = 2  # kits a worker process keeps loaded (a long-lived worker may serve several runs)


@dataclass
class GuideKit:
    """Everything a customer's guide is made and checked with, besides the customer's recommendations."""

    products: pd.DataFrame  # the cleaned catalogue (workflow.prepare_catalogue)
    templates: PromptTemplates
    guardrails: Guardrails
    lexicon: Any  # scoring.AttributeLexicon (the faithfulness lexicon)
    locale: str
    personas: Sequence[Mapping[str, Any]] = ()
    digests: pd.DataFrame | None = None
    user_ids: frozenset[str] = field(default_factory=frozenset)  # the PII check's known user ids

    @cached_property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return products_by_id(self.products)

    @cached_property
    def digest_lookup(self) -> dict[str, dict]:
        return digest_index(self.digests)


def guide_rows(recommendations: pd.DataFrame, kit: GuideKit) -> pd.DataFrame:
    """The published guide rows (:data:`~contentlab.generate.publish.USER_GUIDE_COLUMNS`) of every customer in
    ``recommendations`` (``user_id, rank, product_id`` and the customer's ``segment`` and ``persona_id``)."""
    guides = user_guides(recommendations, kit.products, kit.templates, kit.personas, kit.digest_lookup,
                         by_id=kit.by_id)
    checks = check_guides(guides, kit.products, kit.guardrails, kit.lexicon, kit.locale, kit.user_ids)
    return user_guide_table(guides, checks, kit.guardrails.version, kit.templates.version)


# ---- the kit, once per worker process ------------------------------------------------------------------------

_KITS: OrderedDict[str, GuideKit] = OrderedDict()
_KITS_LOCK = threading.Lock()
KIT_LOADS: Counter[str] = Counter()
"""How many times this process read each kit file (by path): 1 per worker process is the design."""


def save_kit(kit: GuideKit, directory: str | Path | None = None) -> Path:
    """Pickle ``kit`` to ``directory`` (default ``data/interim/guide-kits``) under its SHA-256; returns the path."""
    blob = pickle.dumps(kit, protocol=pickle.HIGHEST_PROTOCOL)
    folder = Path(directory) if directory is not None else config.interim_dir() / KIT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(blob).hexdigest()[:20]}.pkl"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    return path


def load_kit(path: str | Path) -> GuideKit:
    """The kit saved at ``path``, read from disk only the first time this process asks for it."""
    key = str(path)
    with _KITS_LOCK:
        kit = _KITS.get(key)
        if kit is None:
            with open(key, "rb") as fh:
                kit = pickle.load(fh)  # a file this package wrote, named by its own hash
            KIT_LOADS[key] += 1
            _KITS[key] = kit
            while len(_KITS) > _KEEP_KITS:
                _KITS.popitem(last=False)
        else:
            _KITS.move_to_end(key)
        return kit


# ---- Spark ---------------------------------------------------------------------------------------------------

def whole_users(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Re-cut a partition's Arrow batches (rows sorted by ``user_id``) so that no customer's rows are split: each
    yielded frame holds every row of the customers in it."""
    carry: pd.DataFrame | None = None
    for batch in batches:
        if carry is not None and len(carry):
            batch = pd.concat([carry, batch], ignore_index=True)
        if not len(batch):
            continue
        last = batch["user_id"].iloc[-1]
        tail = (batch["user_id"] == last).to_numpy()
        carry = batch[tail]
        if not tail.all():
            yield batch[~tail]
    if carry is not None and len(carry):
        yield carry


def guide_partitions(kit_path: str | Path) -> Callable[[Iterable[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: per partition, the kit (from the worker's cache) and :func:`guide_rows` on whole
    customers. Only the kit's path travels with the function."""
    path = str(kit_path)

    def guides_of_partition(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        kit = load_kit(path)
        for recs in whole_users(batches):
            rows = guide_rows(recs, kit)
            if len(rows):
                yield rows

    return guides_of_partition


def _spark_schema() -> str:
    return ", ".join(f"{name} {kind}" for name, kind in USER_GUIDE_SCHEMA)


@dataclass
class GuideRun:
    """What the per-user guide sink holds and how it was made."""

    engine: str  # "spark" | "duckdb" (pandas)
    path: Path | None  # the user_guides directory (None: nothing written)
    written: int  # guides written (one per customer with at least one recommended product in the catalogue)
    rejected: int
    users: int  # customers the guides were made for (Spark: every customer with recommendations; pandas: the sample)
    seconds: float
    master: str | None = None

    @property
    def published(self) -> int:
        return self.written - self.rejected

    @property
    def per_second(self) -> float | None:
        return self.written / self.seconds if self.seconds > 0 and self.written else None


def _quiet_pyspark_pandas_warning() -> None:
    # PySpark 4.3 warns that it "does not yet fully support pandas >= 3.0.0" whenever it converts; the guides
    # pass exact-text tests against the pandas path, so the warning says nothing about them
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def spark_user_guides(spark: Any, kit_path: str | Path, recommendations: str | Path, profiles: str | Path | None,
                      out_dir: str | Path, master: str | None = None) -> GuideRun:
    """Write every customer's guide (03's ``recommendations`` Parquet, joined with 02's ``user_profiles`` when
    given) to ``out_dir`` as Parquet partitioned by bucket, on the Spark session ``spark`` (see the module
    docstring)."""
    from pyspark.sql import functions as F

    _quiet_pyspark_pandas_warning()
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    text = "string"
    recs = spark.read.parquet(str(recommendations)).select(
        F.col("user_id").cast(text).alias("user_id"), F.col("rank").cast("long").alias("rank"),
        F.col("product_id").cast(text).alias("product_id"))
    if profiles is not None:
        prof = spark.read.parquet(str(profiles))
        cols = set(prof.columns)
        prof = prof.select(F.col("user_id").cast(text).alias("user_id"),
                           *[(F.col(c).cast(text) if c in cols else F.lit(None).cast(text)).alias(c)
                             for c in ("segment", "persona_id")]).dropDuplicates(["user_id"])
        recs = recs.join(prof, "user_id", "left")
    else:
        recs = recs.withColumn("segment", F.lit(None).cast(text)).withColumn("persona_id", F.lit(None).cast(text))
    recs = recs.withColumn("bucket", F.pmod(F.crc32(F.col("user_id").cast("binary")),
                                            F.lit(USER_GUIDE_BUCKETS)).cast("int"))
    guides = (recs.repartition(USER_GUIDE_BUCKETS, "bucket").sortWithinPartitions("user_id", "rank")
              .mapInPandas(guide_partitions(kit_path), schema=_spark_schema()))
    tmp = out_dir.with_name(f"{out_dir.name}.writing")
    shutil.rmtree(tmp, ignore_errors=True)
    guides.write.mode("overwrite").partitionBy("bucket").parquet(str(tmp))
    written = spark.read.parquet(str(tmp)).agg(F.count(F.lit(1)).alias("n"),
                                               F.sum(F.col("rejected").cast("long")).alias("rejected")).first()
    users = recs.select("user_id").distinct().count()
    replace_dir(tmp, out_dir)
    return GuideRun(engine="spark", path=out_dir, written=int(written["n"]), rejected=int(written["rejected"] or 0),
                    users=int(users), seconds=time.perf_counter() - t0, master=master)


# ---- pandas ----------------------------------------------------------------------------------------------------

def write_user_guides(table: pd.DataFrame, out_dir: str | Path, users: int | None = None,
                      seconds: float = 0.0) -> GuideRun:
    """Write published guide rows (:func:`~contentlab.generate.publish.user_guide_table`) to ``out_dir`` in the
    Spark path's layout (Parquet partitioned by bucket). Nothing is written when there are none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    if not len(table):
        return GuideRun(engine="duckdb", path=None, written=0, rejected=0, users=users or 0, seconds=seconds)
    tmp = out_dir.with_name(f"{out_dir.name}.writing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrow = pa.Table.from_pandas(table[USER_GUIDE_COLUMNS], schema=user_guide_arrow_schema(), preserve_index=False)
    pq.write_to_dataset(arrow, tmp, partition_cols=["bucket"])
    replace_dir(tmp, out_dir)
    return GuideRun(engine="duckdb", path=out_dir, written=len(table), rejected=int(table["rejected"].sum()),
                    users=users if users is not None else int(table["user_id"].nunique()),
                    seconds=seconds + time.perf_counter() - t0)


# ---- the stage's call ------------------------------------------------------------------------------------------

def publish_user_guides(engine: Mapping[str, Any] | None, kit: GuideKit, guides: pd.DataFrame,
                        guide_checks: pd.DataFrame, run_dir: str | Path, recommendations: str | Path | None,
                        profiles: str | Path | None) -> GuideRun:
    """Stage 04's per-user guide sink (the contract's ``user_guides``): on a Spark engine every customer of the
    ``recommendations`` Parquet (03's), through :func:`spark_user_guides` with ``kit`` saved for the workers; on
    DuckDB the customers' guides among ``guides`` (the stage's sample) with their ``guide_checks``."""
    from contentlab import contract
    from contentlab.engine import check_engine_spec, is_spark, spark_session

    spec = check_engine_spec(engine)
    out_dir = contract.product("user_guides").at(run_dir)
    if not is_spark(spec):
        table = user_guide_table(guides, guide_checks, kit.guardrails.version, kit.templates.version)
        return write_user_guides(table, out_dir)
    if recommendations is None:
        return GuideRun(engine="spark", path=None, written=0, rejected=0, users=0, seconds=0.0,
                        master=spec["master"])
    session = spark_session(spec)
    kit_path = save_kit(kit)
    try:
        return spark_user_guides(session, kit_path, recommendations, profiles, out_dir, master=spec["master"])
    finally:
        kit_path.unlink(missing_ok=True)

"""Benchmark: the event aggregations of 01 and 02 on DuckDB and on Spark, side by side, at several log sizes.

For each size the demo simulator writes a shop of about that many events (scaled in users after a small pilot) to a
temporary directory, in a process of its own. Then, for each engine, a fresh process opens the
:class:`contentlab.store.EventStore` on those tables and runs what 01 and 02 ask of it: 01's analysis queries (volumes,
funnels, cohorts, long tails, prices, baskets, repeat purchase, best sellers, key metrics) and 02's per-user features
(``profiling.user_features``). It reports the wall time (Spark: the session's start included, printed apart), the
peak resident memory of the driver (the Python process and, on Spark, its JVM, sampled every 0.2 s) and a check
value (events, users, GMV and the features' sums), which must agree between the engines.

Printed per size: seconds and seconds per million events for each engine, their ratio, and each engine's peak memory;
at the end the per-million cost at every size, which stays flat when an engine scales linearly. The script exits
non-zero only when the engines disagree (no timing goal: the figures are for capacity planning).

    python benchmarks/bench_engines.py [--events 1000000,2000000] [--engines duckdb,spark] [--master local[2]]
                                       [--days 90] [--seed 11]

``--engines duckdb`` measures DuckDB alone (e.g. its linearity at 5M and 10M events, where Spark ``local[2]`` on two
cores takes many minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PILOT_USERS = 500


def _tree_rss() -> int:
    import psutil

    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


class PeakRss:
    """Peak resident memory of this process and its children (Spark's JVM), sampled in a thread."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss())


def stage_simulate(args: argparse.Namespace) -> dict:
    from contentlab.data.io import write_dataset
    from contentlab.data.simulate import simulate

    t0 = time.perf_counter()
    pilot = simulate(n_users=PILOT_USERS, n_products=args.products, n_days=args.days, seed=args.seed)
    users = max(1, round(args.target / (len(pilot.events) / PILOT_USERS)))
    del pilot
    ds = simulate(n_users=users, n_products=args.products, n_days=args.days, seed=args.seed)
    ds.truth = None
    write_dataset(ds, Path(args.dir) / "clean")
    return {"events": len(ds.events), "users": users, "seconds": time.perf_counter() - t0}


def aggregations(store) -> dict:
    """What 01 and 02 ask of the store; returns check values."""
    from contentlab import eda
    from contentlab.profiling.features import user_features

    caps = eda.capabilities(store)
    headline = eda.key_metrics(store, None)
    eda.daily_volumes(store)
    eda.funnel(store)
    eda.funnel(store, unit="user")
    if caps.has_categories:
        eda.funnel(store, by="category")
    if caps.has_channel:
        eda.funnel(store, by="channel")
    eda.cohort_retention(store)
    eda.user_activity(store)
    eda.item_popularity(store)
    eda.price_by_category(store)
    eda.basket_sizes(store)
    eda.basket_summary(store)
    eda.repeat_purchase(store)
    eda.orders_per_user(store)
    eda.top_categories(store)
    eda.top_products(store)
    feats = user_features(store).frame
    numeric = feats.select_dtypes("number")
    return {"events": int(headline["events_rows"]), "users": int(headline["users"]), "gmv": float(headline["gmv"]),
            "feature_sum": float(numeric.sum(skipna=True).sum()), "feature_rows": len(feats)}


def stage_engine(args: argparse.Namespace) -> dict:
    from contentlab.store import EventStore

    spec = {"kind": "duckdb"} if args.engine == "duckdb" else {
        "kind": "spark", "master": args.master,
        "conf": {"spark.driver.memory": args.driver_memory, "spark.sql.shuffle.partitions": str(args.partitions)}}
    with PeakRss() as rss:
        t0 = time.perf_counter()
        if args.engine == "spark":
            from contentlab.engine import spark_session

            spark_session(spec)
        start_s = time.perf_counter() - t0
        with EventStore(Path(args.dir) / "clean", engine=spec) as store:
            check = aggregations(store)
        seconds = time.perf_counter() - t0
    if args.engine == "spark":
        from contentlab.engine import stop_spark

        stop_spark()
    return {"seconds": seconds, "start_seconds": start_s, "peak_rss": rss.peak, "check": check}


def _child(stage: str, args: argparse.Namespace, directory: str, **extra) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--dir", directory, "--days",
           str(args.days), "--products", str(args.products), "--seed", str(args.seed), "--master", args.master,
           "--driver-memory", args.driver_memory, "--partitions", str(args.partitions)]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench_engines: the {stage} step failed (exit status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


def agree(a: dict, b: dict) -> bool:
    return all(math.isclose(a[k], b[k], rel_tol=1e-9) if isinstance(a[k], float) else a[k] == b[k] for k in a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="1000000,2000000", help="comma-separated log sizes (about; default 1M,2M)")
    ap.add_argument("--engines", default="duckdb,spark", help="engines to measure (default duckdb,spark)")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument("--partitions", type=int, default=4, help="spark.sql.shuffle.partitions")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--products", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--stage", choices=("simulate", "duckdb", "spark"), help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--target", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        if args.stage == "simulate":
            out = stage_simulate(args)
        else:
            args.engine = args.stage
            out = stage_engine(args)
        print(json.dumps(out))
        return 0

    sizes = [int(float(s)) for s in args.events.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"duckdb", "spark"}:
        ap.error(f"--engines: duckdb and/or spark, got {args.engines!r}")
    rows, ok = [], True
    spark = (f"Spark {args.master} (driver memory {args.driver_memory}, {args.partitions} shuffle partitions)"
             if "spark" in engines else "")
    names = " vs ".join(["DuckDB"] * ("duckdb" in engines) + [spark] * ("spark" in engines))
    print(f"01 + 02 aggregations on {names}; each step in its own process")
    for target in sizes:
        with tempfile.TemporaryDirectory(prefix="bench_engines_") as directory:
            sim = _child("simulate", args, directory, target=target)
            n = sim["events"]
            print(f"\n{n:,} events, {sim['users']:,} users (simulated in {sim['seconds']:.0f} s, not part of any figure)")
            res = {engine: _child(engine, args, directory) for engine in engines}
        per_m = {e: r["seconds"] / (n / 1e6) for e, r in res.items()}
        if "duckdb" in res:
            d = res["duckdb"]
            print(f"  DuckDB: {d['seconds']:7.1f} s  ({per_m['duckdb']:6.1f} s per million events), "
                  f"peak {_gib(d['peak_rss'])}")
        if "spark" in res:
            s = res["spark"]
            print(f"  Spark : {s['seconds']:7.1f} s  ({per_m['spark']:6.1f} s per million events; session start "
                  f"{s['start_seconds']:.1f} s), peak {_gib(s['peak_rss'])} (driver: Python + JVM)")
        if len(res) == 2:
            same = agree(d["check"], s["check"])
            ok &= same
            print(f"  Spark / DuckDB: {s['seconds'] / d['seconds']:.1f}x time, {s['peak_rss'] / d['peak_rss']:.1f}x "
                  f"memory; results {'agree' if same else 'DISAGREE: ' + json.dumps([d['check'], s['check']])}")
        rows.append((n, per_m.get("duckdb"), per_m.get("spark"), res.get("duckdb", {}).get("peak_rss"),
                     res.get("spark", {}).get("peak_rss")))
    print("\nper-million cost by size (flat = linear):")
    print(f"  {'events':>12}  {'DuckDB s/M':>10}  {'Spark s/M':>10}  {'DuckDB peak':>11}  {'Spark peak':>11}")
    for n, dm, sm, dr, sr in rows:
        cells = [f"{v:>10.1f}" if v is not None else f"{'-':>10}" for v in (dm, sm)]
        mem = [f"{_gib(v):>11}" if v is not None else f"{'-':>11}" for v in (dr, sr)]
        print(f"  {n:>12,}  {cells[0]}  {cells[1]}  {mem[0]}  {mem[1]}")
    if not ok:
        print("the engines DISAGREE on at least one size")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

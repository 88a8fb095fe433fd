"""Benchmark: the event aggregations of 01 and 02 on DuckDB and on Spark, side by side, at several log sizes.

For each size the demo simulator writes a shop of about that many events (scaled in users after a small pilot) to a
temporary directory, in a process of its own, with ``simulate_to_parquet`` (batches of ``--chunk-users`` users, each
written straight to Parquet: the simulator's memory stays that of one batch whatever the size; ``--layout day`` or
``month`` writes the events table date-partitioned). Then, for each engine, a fresh process opens the
:class:`contentlab.store.EventStore` on those tables and runs what 01 and 02 ask of it: 01's analysis queries (volumes,
funnels, cohorts, long tails, prices, baskets, repeat purchase, best sellers, key metrics) and 02's per-user features
(``profiling.user_features``). It reports the wall time (Spark: the session's start included, printed apart), the
peak resident memory of the driver (the Python process and, on Spark, its JVM, sampled every 0.2 s) and a check
value (events, users, GMV and the features' sums), which must agree between the engines.

Printed per size: seconds and seconds per million events for each engine, their ratio, and each engine's peak memory,
with the machine's load average (1 min) before and after each step (other jobs share the cores); at the end the
per-million cost at every size, which stays flat when an engine scales linearly. The script exits non-zero only when
the engines disagree (no timing goal: the figures are for capacity planning).

    python benchmarks/bench_engines.py [--events 1000000,2000000] [--engines duckdb,spark] [--master local[2]]
                                       [--days 90] [--seed 11] [--layout flat|day|month] [--chunk-users 25000]

Spark settings (``--driver-memory``, ``--partitions``; both ``auto`` by default): in ``local[N]`` the executors run
inside the driver's JVM, so the driver memory is the engine's whole heap. ``auto`` gives 2g up to 20M events and 6g
above (50M events need the room: the per-user window and the exact medians sort and buffer more per task), and one
shuffle partition per 2.5M events, at least 4 (so each shuffle task handles about 2.5M rows, some 100-200 MB).

``--spark-metrics`` has Spark write its event log and prints the totals over its tasks: shuffle bytes written and
read, bytes spilled, the input read and the largest peak execution memory of one task (what a cluster's partitions
and executor memory are sized from, ``docs/capacity.md``). ``--shops DIR`` keeps the simulated shops and reuses them.

``--engines duckdb`` measures DuckDB alone (e.g. its linearity at 5M and 10M events, where Spark ``local[2]`` on two
cores takes many minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
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
    from contentlab.data.simulate import simulate, simulate_to_parquet

    t0 = time.perf_counter()
    pilot = simulate(n_users=PILOT_USERS, n_products=args.products, n_days=args.days, seed=args.seed)
    users = max(20, round(args.target / (len(pilot.events) / PILOT_USERS)))
    del pilot
    with PeakRss() as rss:
        meta = simulate_to_parquet(Path(args.dir) / "clean", n_users=users, n_products=args.products,
                                   n_days=args.days, seed=args.seed, chunk_users=args.chunk_users,
                                   partition_events=None if args.layout == "flat" else args.layout)
    return {"events": meta["rows"]["events"], "users": users, "batches": meta["batches"],
            "seconds": time.perf_counter() - t0, "peak_rss": rss.peak}


def spark_settings(args: argparse.Namespace, events: int) -> tuple[str, int]:
    """Driver memory and shuffle partitions for a log of ``events`` (``auto``: see the module docstring)."""
    memory = args.driver_memory if args.driver_memory != "auto" else ("2g" if events <= 20_000_000 else "6g")
    partitions = (int(args.partitions) if args.partitions != "auto"
                  else max(4, math.ceil(events / 2_500_000)))
    return memory, partitions


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
    events_dir = None
    if args.engine == "spark" and args.spark_metrics:
        events_dir = Path(tempfile.mkdtemp(prefix="spark_events_", dir=args.dir))
        spec["conf"].update({"spark.eventLog.enabled": "true", "spark.eventLog.dir": events_dir.as_uri()})
    load = os.getloadavg()[0]
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
    out = {"seconds": seconds, "start_seconds": start_s, "peak_rss": rss.peak, "check": check,
           "load": [load, os.getloadavg()[0]]}
    if events_dir is not None:
        out["spark_metrics"] = task_metrics(events_dir)
    return out


def task_metrics(events_dir: Path) -> dict:
    """Totals over every task of Spark's event log: jobs, stages, tasks, shuffle bytes written and read, bytes spilled
    (memory and disk), the input read, and the largest peak execution memory of one task."""
    totals = {"jobs": 0, "stages": 0, "tasks": 0, "shuffle_write": 0, "shuffle_read": 0, "spill_memory": 0,
              "spill_disk": 0, "input": 0, "max_task_peak_memory": 0}
    import io

    import pyarrow as pa

    for f in sorted(x for x in events_dir.rglob("*") if x.is_file() and not x.name.startswith((".", "appstatus"))):
        codec = {".zstd": "zstd", ".lz4": "lz4", ".snappy": "snappy"}.get(f.suffix)
        with pa.input_stream(str(f), compression=codec) as raw, io.TextIOWrapper(raw, encoding="utf-8") as fh:
            for line in fh:
                ev = json.loads(line)
                kind = ev.get("Event")
                if kind == "SparkListenerJobStart":
                    totals["jobs"] += 1
                elif kind == "SparkListenerStageCompleted":
                    totals["stages"] += 1
                elif kind == "SparkListenerTaskEnd":
                    m = ev.get("Task Metrics") or {}
                    w, r = m.get("Shuffle Write Metrics") or {}, m.get("Shuffle Read Metrics") or {}
                    totals["tasks"] += 1
                    totals["shuffle_write"] += w.get("Shuffle Bytes Written", 0)
                    totals["shuffle_read"] += r.get("Remote Bytes Read", 0) + r.get("Local Bytes Read", 0)
                    totals["spill_memory"] += m.get("Memory Bytes Spilled", 0)
                    totals["spill_disk"] += m.get("Disk Bytes Spilled", 0)
                    totals["input"] += (m.get("Input Metrics") or {}).get("Bytes Read", 0)
                    totals["max_task_peak_memory"] = max(totals["max_task_peak_memory"],
                                                         m.get("Peak Execution Memory", 0))
    return totals


def _child(stage: str, args: argparse.Namespace, directory: str, **extra) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--dir", directory, "--days",
           str(args.days), "--products", str(args.products), "--seed", str(args.seed), "--master", args.master,
           "--driver-memory", str(extra.pop("driver_memory", args.driver_memory)),
           "--partitions", str(extra.pop("partitions", args.partitions)),
           "--chunk-users", str(args.chunk_users), "--layout", args.layout]
    if args.spark_metrics:
        cmd.append("--spark-metrics")
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench_engines: the {stage} step failed (exit status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _shop_dir(args: argparse.Namespace, target: int):
    """Where the shop of ``target`` events is simulated: a temporary directory, or with ``--shops`` a kept one
    (named by everything that makes the shop), so a later run reuses it."""
    if not args.shops:
        with tempfile.TemporaryDirectory(prefix="bench_engines_", dir=args.tmp) as directory:
            yield directory
        return
    name = (f"shop-{target}-s{args.seed}-d{args.days}-p{args.products}-{args.layout}-c{args.chunk_users}")
    path = Path(args.shops) / name
    path.mkdir(parents=True, exist_ok=True)
    yield str(path)


def _simulated(args: argparse.Namespace, directory: str, target: int) -> dict:
    done = Path(directory) / "simulated.json"
    if done.exists():
        return {**json.loads(done.read_text()), "reused": True}
    sim = _child("simulate", args, directory, target=target)
    if args.shops:
        done.write_text(json.dumps(sim))
    return sim


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


def agree(a: dict, b: dict) -> bool:
    return all(math.isclose(a[k], b[k], rel_tol=1e-9) if isinstance(a[k], float) else a[k] == b[k] for k in a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="1000000,2000000", help="comma-separated log sizes (about; default 1M,2M)")
    ap.add_argument("--engines", default="duckdb,spark", help="engines to measure (default duckdb,spark)")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--driver-memory", default="auto", help="Spark driver memory (default auto: 2g up to 20M "
                    "events, 6g above)")
    ap.add_argument("--partitions", default="auto", help="spark.sql.shuffle.partitions (default auto: one per 2.5M "
                    "events, at least 4)")
    ap.add_argument("--chunk-users", type=int, default=25_000, help="users simulated per batch (default 25000)")
    ap.add_argument("--layout", choices=("flat", "day", "month"), default="flat",
                    help="events table: one file (flat) or date-partitioned by day or month")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--products", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--stage", choices=("simulate", "duckdb", "spark"), help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--target", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--spark-events", default=None, help="comma-separated sizes at which Spark runs too (default: "
                    "every size); e.g. DuckDB's linearity over many sizes, Spark at the largest")
    ap.add_argument("--spark-metrics", action="store_true", help="Spark: write the event log and print its task "
                    "totals (shuffle bytes, spill, peak execution memory per task)")
    ap.add_argument("--shops", default=None, help="keep the simulated shops in this directory and reuse them "
                    "(default: simulate into a temporary directory, removed after each size)")
    ap.add_argument("--tmp", default=None, help="where the simulated shops are written (default: the system's "
                    "temporary directory; 50M events take about 2 GB)")
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
    names = " vs ".join(["DuckDB"] * ("duckdb" in engines) + [f"Spark {args.master}"] * ("spark" in engines))
    print(f"01 + 02 aggregations on {names}; each step in its own process; {os.cpu_count()} cores, "
          f"{_gib(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))} RAM; events table {args.layout}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    spark_sizes = ({int(float(x)) for x in args.spark_events.split(",") if x.strip()} if args.spark_events
                   else set(sizes))
    for target in sizes:
        with _shop_dir(args, target) as directory:
            sim = _simulated(args, directory, target)
            n = sim["events"]
            made = ("reused from " + directory if sim.get("reused") else
                    f"simulated in {sim['seconds']:.0f} s, {sim['seconds'] / (n / 1e6):.1f} s per million, "
                    f"{sim['batches']} batches of <= {args.chunk_users:,} users, peak {_gib(sim['peak_rss'])}")
            print(f"\n{n:,} events, {sim['users']:,} users ({made}; not part of any figure)", flush=True)
            res = {}
            for engine in engines:
                if engine == "spark" and target not in spark_sizes:
                    continue
                memory, partitions = spark_settings(args, n)
                extra = {"driver_memory": memory, "partitions": partitions} if engine == "spark" else {}
                if engine == "spark":
                    print(f"  Spark {args.master}: driver memory {memory}, {partitions} shuffle partitions",
                          flush=True)
                res[engine] = _child(engine, args, directory, **extra)
                r = res[engine]
                print(f"  {engine}: {r['seconds']:.1f} s, load average {r['load'][0]:.2f} before, "
                      f"{r['load'][1]:.2f} after", flush=True)
        per_m = {e: r["seconds"] / (n / 1e6) for e, r in res.items()}
        d = s = None
        if "duckdb" in res:
            d = res["duckdb"]
            print(f"  DuckDB: {d['seconds']:7.1f} s  ({per_m['duckdb']:6.1f} s per million events), "
                  f"peak {_gib(d['peak_rss'])}")
        if "spark" in res:
            s = res["spark"]
            print(f"  Spark : {s['seconds']:7.1f} s  ({per_m['spark']:6.1f} s per million events; session start "
                  f"{s['start_seconds']:.1f} s), peak {_gib(s['peak_rss'])} (driver: Python + JVM)")
        if s is not None and "spark_metrics" in s:
            m = s["spark_metrics"]
            print(f"  Spark tasks: {m['jobs']} jobs, {m['stages']} stages, {m['tasks']} tasks; input "
                  f"{_gib(m['input'])}, shuffle written {_gib(m['shuffle_write'])} "
                  f"({m['shuffle_write'] / (n / 1e6) / (1 << 20):.0f} MiB per million events), read "
                  f"{_gib(m['shuffle_read'])}; spilled {_gib(m['spill_memory'])} from memory, "
                  f"{_gib(m['spill_disk'])} to disk; largest task peak execution memory "
                  f"{m['max_task_peak_memory'] / (1 << 20):.0f} MiB")
        if d is not None and s is not None:
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

"""Benchmark: 02's profiling (features, risk flags, RFM, segments, CLV, personas, rules) on a large event log.

The log comes from the demo simulator, scaled in users until it holds about ``--events`` events (a small pilot
simulation measures events per user first). Each step runs in a process of its own, so no figure carries another
step's cost:

1. simulate: the simulator writes the canonical tables to a temporary directory (its time and memory are printed
   but are not part of any figure; at 10M events the simulator alone needs several GiB);
2. profile: a fresh process profiles the tables through the DuckDB EventStore exactly as the 02 notebook does and
   reports its wall time, CPU time and peak resident memory (``ru_maxrss`` of that process alone);
3. compare: the same per-user aggregation (events, views, carts, purchases, sessions, active days, revenue, first
   and last event) computed by DuckDB over the Parquet file and by pandas (``read_parquet`` + ``groupby``), side by
   side in one process, checked to agree, timed best of ``--repeat``; their ratio is printed.

Goals (documented in README "Development"; the script exits non-zero only when a goal is missed):

- time: at least 33,000 events/s through the whole profiling (1M events in 30 s on 2 cores). Wall time on a shared
  machine is noisy, so a run that misses the goal is repeated (up to ``--repeat`` runs) and the best one counts,
  the timeit convention; the machine's load average is printed next to the figure;
- memory: peak resident memory of the profiling process at most 1 GiB + 200 bytes per event (1.2 GiB at 1M events,
  2.9 GiB at 10M): the event log stays in DuckDB and only per-user results come back to pandas.

The DuckDB-vs-pandas ratio has no goal: it is printed for information (and must agree on every value).

    python benchmarks/bench_profiling.py [--events 1000000] [--days 90] [--products 1500] [--seed 11] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_EVENTS_PER_S = 33_000
GOAL_RSS_BASE_BYTES = 1 << 30
GOAL_RSS_BYTES_PER_EVENT = 200
PILOT_USERS = 1000


def rss_goal_bytes(n_events: int) -> int:
    return GOAL_RSS_BASE_BYTES + GOAL_RSS_BYTES_PER_EVENT * int(n_events)


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.2f} GiB"


# --------------------------------------------------------------------------------------------------- stages


def stage_simulate(args: argparse.Namespace) -> dict:
    from contentlab.data.io import write_dataset
    from contentlab.data.simulate import simulate

    t0 = time.perf_counter()
    users = args.users
    if users is None:
        pilot = simulate(n_users=PILOT_USERS, n_products=args.products, n_days=args.days, seed=args.seed)
        per_user = len(pilot.events) / PILOT_USERS
        del pilot
        users = max(1, round(args.events / per_user))
    ds = simulate(n_users=users, n_products=args.products, n_days=args.days, seed=args.seed)
    ds.truth = None
    n_events = len(ds.events)
    write_dataset(ds, Path(args.dir) / "clean")
    return {"events": n_events, "users": users, "seconds": time.perf_counter() - t0, "peak_rss": _peak_rss_bytes()}


def stage_profile(args: argparse.Namespace) -> dict:
    from contentlab.profiling import ProfilingConfig, basket_rules, build_personas, profile_users
    from contentlab.store import EventStore

    cpu0 = _cpu_s()
    store = EventStore(Path(args.dir) / "clean")
    cfg = ProfilingConfig(random_state=args.seed)
    start = time.perf_counter()
    result = profile_users(store, cfg)
    t1 = time.perf_counter()
    personas = build_personas(result.profiles)
    t_personas = time.perf_counter() - t1
    t1 = time.perf_counter()
    rules, _ = basket_rules(store, result.profiles, cfg)
    t_rules = time.perf_counter() - t1
    total = time.perf_counter() - start
    store.close()
    return {"seconds": total, "cpu_seconds": _cpu_s() - cpu0, "peak_rss": _peak_rss_bytes(),
            "steps": {**{k: float(v) for k, v in result.timings.items()}, "personas": t_personas, "rules": t_rules},
            "users_profiled": len(result.profiles), "segments": result.clustering.k if result.clustering else 0,
            "personas": len(personas), "rules": len(rules), "flagged": int(result.profiles["is_flagged"].sum())}


DUCKDB_PER_USER = """
    SELECT user_id,
           COUNT(*) AS n_events,
           COUNT(*) FILTER (WHERE event_type = 'view') AS n_views,
           COUNT(*) FILTER (WHERE event_type = 'cart') AS n_carts,
           COUNT(*) FILTER (WHERE event_type = 'purchase') AS n_purchases,
           COUNT(DISTINCT session_id) AS n_sessions,
           COUNT(DISTINCT CAST(timestamp AS DATE)) AS active_days,
           COALESCE(SUM(price * quantity) FILTER (WHERE event_type = 'purchase'), 0) AS monetary,
           MIN(timestamp) AS first_event,
           MAX(timestamp) AS last_event
    FROM events GROUP BY user_id ORDER BY user_id
"""
COLUMNS = ["n_events", "n_views", "n_carts", "n_purchases", "n_sessions", "active_days", "monetary", "first_event",
           "last_event"]


def per_user_pandas(path: Path):
    """The DuckDB query above in pandas, reading the same Parquet file."""
    import numpy as np
    import pandas as pd

    ev = pd.read_parquet(path, columns=["user_id", "session_id", "event_type", "price", "quantity", "timestamp"])
    ev["user_id"] = ev["user_id"].astype(str)
    kind = ev["event_type"].astype(str)
    ev["is_view"], ev["is_cart"], ev["is_purchase"] = kind.eq("view"), kind.eq("cart"), kind.eq("purchase")
    ev["revenue"] = np.where(ev["is_purchase"], ev["price"] * ev["quantity"], 0.0)
    ev["day"] = ev["timestamp"].dt.floor("D")
    g = ev.groupby("user_id", sort=True)
    out = g.agg(n_events=("is_view", "size"), n_views=("is_view", "sum"), n_carts=("is_cart", "sum"),
                n_purchases=("is_purchase", "sum"), n_sessions=("session_id", "nunique"),
                active_days=("day", "nunique"), monetary=("revenue", "sum"), first_event=("timestamp", "min"),
                last_event=("timestamp", "max"))
    return out


def _best_of(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, value


def stage_compare(args: argparse.Namespace) -> dict:
    import numpy as np
    import pandas as pd

    from contentlab.store import EventStore

    tables = Path(args.dir) / "clean"
    store = EventStore(tables)
    t_duck, duck_times, duck = _best_of(lambda: store.sql(DUCKDB_PER_USER), args.repeat)
    t_pd, pd_times, pand = _best_of(lambda: per_user_pandas(tables / "events.parquet"), args.repeat)
    store.close()
    duck = duck.assign(user_id=duck["user_id"].astype(str)).set_index("user_id").sort_index()
    pand = pand.sort_index()
    agree = bool(duck.index.equals(pand.index))
    if agree:
        for c in COLUMNS:
            a, b = duck[c], pand[c]
            if pd.api.types.is_datetime64_any_dtype(a) or pd.api.types.is_datetime64_any_dtype(b):
                same = (pd.to_datetime(a).dt.tz_localize(None) if getattr(a.dt, "tz", None) else pd.to_datetime(a)) \
                    .astype("datetime64[us]").to_numpy() == pd.to_datetime(b).astype("datetime64[us]").to_numpy()
                agree &= bool(np.all(same))
            else:
                agree &= bool(np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-6))
    return {"duckdb_seconds": t_duck, "pandas_seconds": t_pd, "duckdb_runs": duck_times, "pandas_runs": pd_times,
            "users": int(len(duck)), "agree": agree}


STAGES = {"simulate": stage_simulate, "profile": stage_profile, "compare": stage_compare}


def _child(stage: str, args: argparse.Namespace, directory: str) -> dict:
    """Run one stage in a fresh interpreter; it prints its figures as one JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--dir", directory,
           "--events", str(args.events), "--days", str(args.days), "--products", str(args.products),
           "--seed", str(args.seed), "--repeat", str(args.repeat)]
    if args.users is not None:
        cmd += ["--users", str(args.users)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"bench_profiling: the {stage} step failed (exit status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------- verdicts


def judge_time(n_events: int, best_seconds: float) -> tuple[bool, str]:
    rate = n_events / best_seconds if best_seconds > 0 else math.inf
    ok = rate >= GOAL_EVENTS_PER_S
    return ok, (f"throughput {rate:,.0f} events/s (best run {best_seconds:.1f} s) against the goal of "
                f">= {GOAL_EVENTS_PER_S:,} events/s ({n_events / GOAL_EVENTS_PER_S:.1f} s for these {n_events:,} "
                f"events): {'MET' if ok else 'SHORT'}")


def judge_memory(n_events: int, peak_rss: int) -> tuple[bool, str]:
    goal = rss_goal_bytes(n_events)
    ok = peak_rss <= goal
    return ok, (f"peak memory of the profiling process {_gib(peak_rss)} against the goal of <= {_gib(goal)} "
                f"(1 GiB + {GOAL_RSS_BYTES_PER_EVENT} B per event): {'MET' if ok else 'SHORT'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="about this many events (default 1,000,000)")
    ap.add_argument("--users", type=int, default=None, help="simulate exactly this many users instead")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--products", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3,
                    help="profiling runs at most (stops at the first that meets the time goal); "
                         "timings of the DuckDB-vs-pandas comparison (best of)")
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        ap.error("--events and --repeat must be positive")
    if args.stage:
        print(json.dumps(STAGES[args.stage](args)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-profiling-") as tmp:
        sim = _child("simulate", args, tmp)
        n = sim["events"]
        print(f"simulated {n:,} events of {sim['users']:,} users, {args.products:,} products, {args.days} days in "
              f"{sim['seconds']:.1f} s, peak {_gib(sim['peak_rss'])} (its own process; not part of any figure)")
        runs = []
        for attempt in range(1, args.repeat + 1):
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            run = _child("profile", args, tmp)
            runs.append(run)
            print(f"profile run {attempt}: {run['seconds']:.1f} s wall, {run['cpu_seconds']:.1f} s CPU, peak "
                  f"{_gib(run['peak_rss'])}; load average {load:.1f} on {os.cpu_count()} CPUs; steps: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in run["steps"].items()))
            if judge_time(n, run["seconds"])[0]:
                break
        best = min(runs, key=lambda r: r["seconds"])
        print(f"users profiled: {best['users_profiled']:,}; segments: {best['segments']}; personas: "
              f"{best['personas']}; rules: {best['rules']:,}; flagged: {best['flagged']}")
        cmp = _child("compare", args, tmp)
    ok_time, time_line = judge_time(n, best["seconds"])
    ok_mem, mem_line = judge_memory(n, max(r["peak_rss"] for r in runs))
    ratio = cmp["pandas_seconds"] / cmp["duckdb_seconds"] if cmp["duckdb_seconds"] > 0 else math.inf
    print(f"per-user aggregation of {n:,} events ({cmp['users']:,} users), best of {args.repeat}: DuckDB "
          f"{cmp['duckdb_seconds']:.2f} s, pandas {cmp['pandas_seconds']:.2f} s: DuckDB is {ratio:.1f}x "
          f"{'faster' if ratio >= 1 else 'slower'} (pandas / DuckDB time = {ratio:.2f}); results "
          f"{'agree' if cmp['agree'] else 'DISAGREE'} (for information, no goal)")
    print(time_line)
    print(mem_line)
    if not cmp["agree"]:
        print("the DuckDB and pandas aggregations disagree: the comparison is not valid")
    return 0 if ok_time and ok_mem and cmp["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: profile about 1,000,000 events (features, risk flags, RFM, segments, CLV, personas, rules).

The events come from the demo simulator at a larger size (users scaled up from the demo profile until
the log holds about a million events). The simulated tables are written to a temporary directory and
profiled through the DuckDB EventStore exactly as the 02 notebook does. Prints the wall time per step
and in total; the target is under 30 s on 2 cores.

    python benchmarks/bench_profiling.py [--users 10000] [--days 90] [--products 1500] [--seed 11]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from contentlab.data.io import write_dataset
from contentlab.data.simulate import simulate
from contentlab.profiling import ProfilingConfig, basket_rules, build_personas, profile_users
from contentlab.store import EventStore


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--products", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--target-s", type=float, default=30.0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    ds = simulate(n_users=args.users, n_products=args.products, n_days=args.days, seed=args.seed)
    n_events = len(ds.events)
    print(f"simulated {n_events:,} events, {args.users:,} users, {args.products:,} products "
          f"in {time.perf_counter() - t0:.1f} s (not part of the figure)")
    with tempfile.TemporaryDirectory(prefix="bench-profiling-") as tmp:
        tables = Path(tmp) / "clean"
        ds.truth = None
        write_dataset(ds, tables)
        del ds
        store = EventStore(tables)
        cfg = ProfilingConfig(random_state=args.seed)
        start = time.perf_counter()
        result = profile_users(store, cfg)
        t_profiles = time.perf_counter() - start
        t1 = time.perf_counter()
        personas = build_personas(result.profiles)
        t_personas = time.perf_counter() - t1
        t1 = time.perf_counter()
        rules, _ = basket_rules(store, result.profiles, cfg)
        t_rules = time.perf_counter() - t1
        total = time.perf_counter() - start
        store.close()
    steps = {**result.timings, "personas": t_personas, "rules": t_rules}
    print("steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    print(f"users profiled: {len(result.profiles):,}; segments: {result.clustering.k if result.clustering else 0}; "
          f"personas: {len(personas)}; rules: {len(rules):,}; flagged: {int(result.profiles['is_flagged'].sum())}")
    verdict = "OK" if total < args.target_s else "SLOWER THAN TARGET"
    print(f"profiled {n_events:,} events in {total:.1f} s ({n_events / total:,.0f} events/s; target < {args.target_s:.0f} s: {verdict})")
    return 0 if total < args.target_s else 1


if __name__ == "__main__":
    sys.exit(main())

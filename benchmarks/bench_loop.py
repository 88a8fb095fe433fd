"""The loop's bars on the demo shop: runs ``contentlab loop`` (or reads a finished loop's manifest) and prints each
figure against its goal.

    .venv/bin/python benchmarks/bench_loop.py                      # runs a 4-cycle demo loop (about 10-15 minutes)
    .venv/bin/python benchmarks/bench_loop.py --manifest reports/<loop-id>/manifest.json

Goals (demo profile): after the last cycle the loop's CTR is at least 90% of the oracle policy's, having started in
cycle 1 at the static template policy's level (the two 95% intervals overlap, or cycle 1 is above); random
choices stay below the loop's last cycle, the oracle and the template policy; the publishing strategy recovers the
planted send hour (within an hour) and the planted channel for at least 4 of 5 segments; the loop takes at most
15 minutes on 2 cores. All arms are measured in the same simulation, on the same users and days.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def bars(manifest: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, goal, met) for every bar."""
    m = manifest["metrics"]
    last = manifest["per_cycle"][-1]["arms"]
    first = manifest["per_cycle"][0]["arms"]
    share = m["cycle_ctr"][-1] / m["oracle_ctr"]
    # cycle 1 publishes half GPT-2 copy and explores 5%: "at the template's level" = the 95% intervals overlap
    start_ok = first["loop"]["ctr_high"] >= first["template"]["ctr_low"]
    rnd = m["random_ctr"]
    return [
        ("CTR per cycle", ", ".join(f"{x:.4f}" for x in m["cycle_ctr"]), "rising", m["cycle_ctr"][-1] > m["cycle_ctr"][0]),
        ("last cycle / oracle CTR", f"{share:.1%} (oracle {m['oracle_ctr']:.4f})", ">= 90%", share >= 0.9),
        ("cycle 1 against the template policy", f"{first['loop']['ctr']:.4f} [{first['loop']['ctr_low']:.4f}, "
         f"{first['loop']['ctr_high']:.4f}] vs {first['template']['ctr']:.4f} [{first['template']['ctr_low']:.4f}, "
         f"{first['template']['ctr_high']:.4f}]", "at its level (intervals overlap) or above", start_ok),
        ("random CTR", f"{rnd:.4f} (loop {m['cycle_ctr'][-1]:.4f}, oracle {m['oracle_ctr']:.4f}, template "
         f"{m['template_ctr']:.4f})", "below the loop, the oracle and the template",
         rnd < min(m["cycle_ctr"][-1], m["oracle_ctr"], m["template_ctr"])),
        ("random's 95% interval", f"[{last['random']['ctr_low']:.4f}, {last['random']['ctr_high']:.4f}]",
         "clear of the template's", last["random"]["ctr_high"] < last["template"]["ctr_low"]),
        ("send hours recovered", f"{m['hours_recovered']} of {len(m['best_hour'])}", ">= 4",
         (m["hours_recovered"] or 0) >= 4),
        ("channels recovered", f"{m['channels_recovered']} of {len(m['best_channel'])}", ">= 4",
         (m["channels_recovered"] or 0) >= 4),
        ("minutes", f"{manifest['seconds'] / 60:.1f} on {os.cpu_count()} cores", "<= 15",
         manifest["seconds"] <= 15 * 60),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, help="a finished loop's manifest.json (else a loop is run)")
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--cycles", type=int, default=4)
    args = ap.parse_args(argv)
    if args.manifest is not None:
        manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    else:
        from contentlab.loop import run_loop

        manifest = run_loop(args.profile, args.cycles).manifest
    load = os.getloadavg()
    print(f"loop {manifest['loop_id']} ({manifest['profile']}, {manifest['cycles']} cycles); "
          f"machine load {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)")
    rows = bars(manifest)
    w = max(len(r[0]) for r in rows)
    for name, got, goal, ok in rows:
        print(f"{'PASS' if ok else 'MISS'}  {name:<{w}}  {got}   goal: {goal}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

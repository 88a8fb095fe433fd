"""Coverage of the A/B lift CI and false positives after correction, at full scale.

Runs >= 500 campaigns drawn from the demo simulator (``simulate_campaign``) with a planted CTR lift in every
segment x channel cell (realistic CTRs of 2.5-5%), and as many without any effect, analysed exactly as the
feedback notebook does (delta method over users, log-scale 95% CIs, Holm across the campaign's 8 comparisons).

Goals, each judged with its 95% confidence interval (``contentlab.feedback.coverage.judge_study``):

- the CIs cover the planted lift in 93-97% of cases;
- under no effect, the share of campaigns with any significant test after correction (the family-wise error rate
  Holm keeps at or below 5%) is at most 5%, and so is the share of all tests that come out significant.

A goal is MET when the whole CI satisfies it, MISSED when the whole CI violates it, and the result is CONSISTENT
WITH the goal when the CI straddles it (the point estimate may lie either side; more campaigns would decide).
Shares of tests use a CI over campaigns (the tests of one campaign are not independent). Power after correction is
printed per level and flagged as LOW POWER under 80%, with the campaign size that would reach it. Exit status 1
only when a goal is MISSED.

    python benchmarks/bench_feedback_coverage.py [--campaigns 500] [--null-campaigns 500] [--users 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time

from contentlab.feedback import coverage


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--campaigns", type=int, default=500)
    ap.add_argument("--null-campaigns", type=int, default=500)
    ap.add_argument("--users", type=int, default=2000, help="users per campaign")
    ap.add_argument("--impressions", type=float, default=5.0, help="mean impressions per user")
    ap.add_argument("--lift", type=float, default=0.15)
    ap.add_argument("--correction", choices=["holm", "bh"], default="holm")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.campaigns < 500 or args.null_campaigns < 500:
        print("note: the goals are judged on at least 500 campaigns of each kind; fewer give wide intervals")
    t0 = time.perf_counter()
    res = coverage.coverage_study(args.campaigns, lift=args.lift, n_users=args.users,
                                  impressions_per_user=args.impressions, seed=args.seed, correction=args.correction,
                                  null_campaigns=args.null_campaigns)
    elapsed = time.perf_counter() - t0
    print(res.describe())
    verdicts = coverage.judge_study(res)
    for v in verdicts:
        print(v.line())
    low, lines = coverage.power_report(res, impressions_per_user=args.impressions)
    for line in lines:
        print(line)
    print(f"elapsed {elapsed:.1f} s")
    missed = [v.what for v in verdicts if v.shortfall]
    if missed:
        print("goals missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

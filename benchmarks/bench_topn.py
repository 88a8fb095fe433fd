"""Fast full-catalogue top-N vs Surprise's documented recipe, on a MovieLens-100k-shaped problem.

Data: the demo simulator at 943 users x 1,682 products, its events turned into graded pseudo-ratings (1-5), then
exactly 100,000 (user, product) pairs drawn with a fixed seed (the simulator sets behaviour, not an exact pair
count). Model: Surprise ``SVD()`` with its default parameters, fitted once.

Timed, in one run:

- Surprise's recipe (FAQ "How to get the top-N recommendations for each user"): ``trainset.build_anti_testset()``,
  ``algo.test(...)``, then the top 10 per user (``get_top_n``);
- :func:`contentlab.recommend.topn.surprise_top_k`: the same estimates from the model's factors and biases with
  numpy, chunked over users, training items excluded, ``argpartition`` top 10.

The fast path is run ``--repeat`` times and its best time reported (the usual timeit convention; every run is
printed); the recipe, which takes seconds, runs once. Both use Surprise's clipped estimates (``algo.test`` clips), and items in the anti-testset's order so that exact
ties resolve the same way; the script checks that every user's top-10 list is identical and prints both times and
the speed-up. Goals: identical lists and a speed-up of at least 100x; it prints each against its goal and exits 1
only when one is not met.

Usage: ``python benchmarks/bench_topn.py [--users 943] [--items 1682] [--ratings 100000] [--seed 42]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from surprise import SVD

from contentlab.data.simulate import simulate
from contentlab.recommend.interactions import build_interactions
from contentlab.recommend.models import to_surprise
from contentlab.recommend.topn import surprise_recipe_top_n, surprise_top_k


def movielens_shaped(n_users: int, n_items: int, n_ratings: int, seed: int):
    """Simulated interactions with exactly ``n_ratings`` pairs over ``n_users`` x ``n_items``."""
    activity = 1.0
    for _ in range(6):
        # no late launches: every product is on sale from day one, as every MovieLens-100k item has ratings
        ds = simulate(n_users=n_users, n_products=n_items, n_days=90, seed=seed, activity_scale=activity,
                      cold_start_share=0.0)
        inter = build_interactions(ds.events, source="graded")
        if len(inter) >= n_ratings:
            break
        activity *= 1.6 * n_ratings / max(len(inter), 1)
    else:
        raise RuntimeError(f"the simulator produced only {len(inter):,} pairs")
    rng = np.random.default_rng(seed)
    # keep every user and item present where possible: one pair per user and per item first, then a random fill
    first_u = inter.groupby("user_id").sample(1, random_state=seed).index
    first_i = inter.groupby("product_id").sample(1, random_state=seed).index
    must = inter.index[inter.index.isin(first_u.union(first_i))]
    rest = inter.index.difference(must)
    fill = rng.choice(rest, size=max(n_ratings - len(must), 0), replace=False)
    return inter.loc[must.union(fill)].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=943)
    ap.add_argument("--items", type=int, default=1682)
    ap.add_argument("--ratings", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the fast path (the best is reported)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    data = movielens_shaped(args.users, args.items, args.ratings, args.seed)
    print(f"data: {data['user_id'].nunique():,} users x {data['product_id'].nunique():,} items, {len(data):,} ratings "
          f"(simulated in {time.perf_counter() - t0:.1f} s)")
    trainset = to_surprise(data, (1.0, 5.0))
    algo = SVD(random_state=args.seed)
    t0 = time.perf_counter()
    algo.fit(trainset)
    print(f"Surprise SVD() fit: {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    recipe = surprise_recipe_top_n(algo, trainset, n=args.k)
    t_recipe = time.perf_counter() - t0

    items = [trainset.to_raw_iid(i) for i in range(trainset.n_items)]
    users = [trainset.to_raw_uid(u) for u in range(trainset.n_users)]
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        idx, scores = surprise_top_k(algo, users, items, k=args.k, clip=True, chunk_size=1024)
        runs.append(time.perf_counter() - t0)
    t_fast = min(runs)

    n_pairs = trainset.n_users * trainset.n_items - trainset.n_ratings
    print(f"Surprise recipe (build_anti_testset + test + get_top_n, {n_pairs:,} predictions): {t_recipe:.3f} s")
    print(f"fast top-N (numpy, chunked, argpartition), best of {args.repeat}:             {t_fast:.3f} s "
          f"(runs: {', '.join(f'{r:.3f}' for r in runs)})")
    print(f"speed-up: {t_recipe / t_fast:,.0f}x (target >= 100x)")

    mismatched = 0
    max_diff = 0.0
    for row, u in enumerate(users):
        ours = [items[j] for j in idx[row] if j >= 0]
        theirs = [iid for iid, _ in recipe[u]]
        if ours != theirs:
            mismatched += 1
        else:
            max_diff = max(max_diff, float(np.max(np.abs(scores[row] - [est for _, est in recipe[u]]))))
    print(f"top-{args.k} lists identical for {len(users) - mismatched:,} of {len(users):,} users "
          f"(max score difference {max_diff:.1e})")
    same, fast = mismatched == 0, t_recipe / t_fast >= 100
    print(f"goal: identical top-{args.k} lists for every user -> "
          + ("met" if same else f"NOT MET ({mismatched:,} differ)"))
    print(f"goal: speed-up >= 100x -> {'met' if fast else f'NOT MET ({t_recipe / t_fast:,.0f}x)'}")
    ok = same and fast
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

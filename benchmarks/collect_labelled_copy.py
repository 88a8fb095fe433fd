"""Collect generated copy for labelling by a person (the set behind ``contentlab.generate.calibration``).

Draws an unfiltered sample of stage 04's candidates -- accepted and rejected, both variants (``gpt2`` and
``template``), every channel -- from four catalogues, and writes them next to their product records as a CSV with
empty label columns (``faithful``, ``fluent``, ``note``) for a person to fill in:

- ``demo_en`` / ``demo_zh``: the content product of a demo run (``contentlab run --profile demo``, and with
  ``--params dataset.locale=zh``), given as ``--demo-en RUN_DIR`` / ``--demo-zh RUN_DIR``;
- ``online_retail`` / ``movielens``: the formats of :mod:`tests.realdata`, run through stages 01-03 with the
  command line in a scratch home, then 04's workflow functions called directly with the model **trained on the
  catalogue anyway**: the stage itself skips GPT-2 there (no descriptive text to learn copy from, see
  :func:`contentlab.generate.workflow.text_check`), but the calibration set needs to show what such copy looks like.
  Training is small (``tiny`` model, few steps) so it takes a minute or two.

Usage::

    python benchmarks/collect_labelled_copy.py --demo-en data/processed/<run> --demo-zh data/processed/<run> \
        --out /tmp/unlabelled_copy.csv [--per-catalogue demo_en=60 demo_zh=50 online_retail=45 movielens=45]

The sample is stratified by variant x channel (as even as the candidates allow) and seeded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from contentlab import contract, pipeline
from contentlab.generate import workflow as wf
from contentlab.generate.config import GenerateConfig
from contentlab.generate.guardrails import load_guardrails
from contentlab.generate.inputs import STAGE, read_inputs
from contentlab.generate.prompts import load_templates
from contentlab.generate.scoring import NGramIndex
from contentlab.generate.slots import build_slots

REPO = Path(__file__).resolve().parents[1]
RECORD_FIELDS = ("title", "category", "product_type", "brand", "colour", "material", "style", "price", "description")
DESCRIPTION_CHARS = 400
COLUMNS = ("id", "catalogue", "locale", "variant", "channel", "product_id", "product", "currency", "text",
           "faithful", "fluent", "note")
DEFAULT_COUNTS = {"demo_en": 60, "demo_zh": 50, "online_retail": 45, "movielens": 45}
# 04 on the real-data shapes: a tiny model and a short training run (the copy's look is what matters here)
FORCED = {"model_size": "tiny", "train_steps": 150, "eval_every": 50, "n_slots": 72, "products_per_persona": 6, "n_candidates": 3,
          "n_guide_users": 0}


def product_record(row: dict) -> dict:
    """The record fields a labeller reads (missing ones left out; description cut to 400 characters)."""
    out = {}
    for k in RECORD_FIELDS:
        v = row.get(k)
        if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()):
            continue
        if k == "price":
            v = round(float(v), 2)
        elif k == "description":
            v = str(v)[:DESCRIPTION_CHARS]
        else:
            v = str(v)
        out[k] = v
    return out


def stratified(cands: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows spread as evenly as possible over variant x channel (a short cell gives its share to the others)."""
    rng = np.random.default_rng(seed)
    groups = {k: g.sample(frac=1.0, random_state=int(rng.integers(1 << 31))) for k, g in
              cands.groupby(["variant", "channel"], sort=True)}
    taken = dict.fromkeys(groups, 0)
    left = n
    while left > 0:
        open_ = [k for k in groups if taken[k] < len(groups[k])]
        if not open_:
            break
        for k in open_:
            if left == 0:
                break
            taken[k] += 1
            left -= 1
    return pd.concat([groups[k].head(taken[k]) for k in groups]).reset_index(drop=True)


def demo_candidates(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, str, str | None]:
    """(copy candidates of a finished run's 04, its clean products, locale, currency)."""
    content = pd.read_parquet(contract.product("content").at(run_dir))
    ds = pipeline.load_prepared(run_dir)
    cat = wf.prepare_catalogue(ds.products, ds.meta, ds.locale)
    return content[content["content_type"] == "copy"], cat.products, ds.locale, cat.prices.currency


def forced_candidates(run_dir: Path, settings: GenerateConfig) -> tuple[pd.DataFrame, pd.DataFrame, str, str | None]:
    """04's candidates on a prepared run with the embedded model trained whatever the text check says."""
    got = contract.Inputs.for_stage(STAGE, {}, run_dir)
    ds = pipeline.load_prepared(run_dir)
    locale = ds.locale
    catalogue = wf.prepare_catalogue(ds.products, ds.meta, locale)
    products = catalogue.products
    templates = load_templates(locale, prices=catalogue.prices)
    upstream = read_inputs(got, use_priors=False, profile=settings.profile)
    slots = build_slots(products, upstream, settings.channels, settings.n_slots, settings.products_per_persona,
                        ds.events if ds.has("events") else None)
    cm, corpus, _ = wf.build_model(products, upstream, templates, settings, progress=False, train=True)
    gpt, _ = wf.generate_candidates(cm, slots, products, upstream.persona_map, templates, settings)
    tpl = wf.template_candidates(slots, products, upstream.persona_map, templates)
    lexicon = wf.catalogue_lexicon(catalogue, locale, templates, corpus, upstream.personas, cm)
    index = NGramIndex(corpus.loc[corpus["split"] == "train", "target"], locale)
    scored = wf.score_candidates(pd.concat([gpt, tpl], ignore_index=True), products, templates, load_guardrails(),
                                 lexicon, index, cm, locale, threads=settings.threads,
                                 delexicalised=settings.delexicalise, endings=wf.copy_endings(corpus))
    return wf.select_best(scored), products, locale, catalogue.prices.currency


def run_upstream(home: Path, name: str, dataset: dict) -> Path:
    """Stages 01-03 (and 04/05 as the runner does them) on ``dataset`` through the command line; the run dir
    (an earlier run of the same name in ``home`` is reused)."""
    run_dir = home / "data" / "processed" / name
    if (run_dir / contract.product("clean").path).exists():
        return run_dir
    home.mkdir(parents=True, exist_ok=True)
    profile = home / f"{name}.yaml"
    profile.write_text(yaml.safe_dump({"name": name, "seed": 1, "dataset": dataset, "notebooks": {
        "03_recommend": {"protocol": "recommenders"} if dataset["kind"] == "movielens" else {},
        "04_generate": {"model_size": "tiny", "train_steps": 40, "n_slots": 12, "n_candidates": 2,
                        "n_guide_users": 2}}}))
    env = dict(os.environ, CONTENTLAB_HOME=str(home), PYTHONPATH=str(REPO / "lib"))
    proc = subprocess.run([sys.executable, "-m", "contentlab", "run", "--profile", str(profile), "--quiet",
                           "--run-id", name], cwd=str(REPO), env=env, capture_output=True, text=True)
    if not (run_dir / contract.product("clean").path).exists():
        raise RuntimeError(f"{name}: the pipeline did not prepare the data:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return run_dir


def real_shape_run(kind: str, home: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from realdata import write_movielens_100k, write_online_retail

    if kind == "online_retail":
        written = write_online_retail(home / "source", fmt="csv", seed=4)
    else:
        written = write_movielens_100k(home / "ml-100k")
    return run_upstream(home, kind, {"kind": kind, "path": str(written.path)})


def sample_rows(catalogue: str, cands: pd.DataFrame, products: pd.DataFrame, locale: str, currency: str | None,
                n: int, seed: int) -> pd.DataFrame:
    cands = cands[cands["text"].astype(str).str.strip() != ""]
    cands = cands.drop_duplicates(["product_id", "channel", "variant", "text"])
    picked = stratified(cands, n, seed)
    by_id = {str(r["product_id"]): r for r in products.to_dict(orient="records")}
    rows = []
    for r in picked.to_dict(orient="records"):
        rec = product_record(by_id[str(r["product_id"])])
        rows.append({"catalogue": catalogue, "locale": locale, "variant": r["variant"], "channel": r["channel"],
                     "product_id": str(r["product_id"]), "product": json.dumps(rec, ensure_ascii=False),
                     "currency": currency or "", "text": str(r["text"]), "faithful": "", "fluent": "", "note": "",
                     "rejected": bool(r.get("rejected"))})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo-en", type=Path, required=True, help="run dir of a demo run (English)")
    ap.add_argument("--demo-zh", type=Path, required=True, help="run dir of a demo run with dataset.locale=zh")
    ap.add_argument("--out", type=Path, required=True, help="CSV to write (labels empty)")
    ap.add_argument("--home", type=Path, default=None, help="scratch home for the real-shape runs (default: temp)")
    ap.add_argument("--per-catalogue", nargs="*", default=[], help="NAME=N overrides of the sample sizes")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    counts = dict(DEFAULT_COUNTS)
    for item in args.per_catalogue:
        name, _, n = item.partition("=")
        if name not in counts or not n.isdigit():
            ap.error(f"--per-catalogue takes NAME=N with NAME in {sorted(counts)}, not {item!r}")
        counts[name] = int(n)
    home = args.home or Path(tempfile.mkdtemp(prefix="labelled-copy-"))
    frames = []
    for name, run_dir in (("demo_en", args.demo_en), ("demo_zh", args.demo_zh)):
        cands, products, locale, currency = demo_candidates(run_dir)
        frames.append(sample_rows(name, cands, products, locale, currency, counts[name], args.seed))
        print(f"{name}: {len(cands):,} candidates, {counts[name]} sampled", flush=True)
    for kind in ("online_retail", "movielens"):
        run_dir = real_shape_run(kind, home / kind)
        settings = GenerateConfig(profile=kind, seed=args.seed, **FORCED)
        cands, products, locale, currency = forced_candidates(run_dir, settings)
        frames.append(sample_rows(kind, cands, products, locale, currency, counts[kind], args.seed))
        print(f"{kind}: {len(cands):,} candidates, {counts[kind]} sampled", flush=True)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "id", [f"{c}-{i:03d}" for c, i in zip(out["catalogue"], out.groupby("catalogue").cumcount() + 1)])
    # how many of the sampled candidates the stage rejected: printed, not written (a labeller reads the copy, not
    # the scorer's verdict)
    print(out.groupby(["catalogue", "variant"])["rejected"].agg(["size", "sum"])
          .rename(columns={"size": "sampled", "sum": "rejected_by_stage"}).to_string())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out[list(COLUMNS)].to_csv(args.out, index=False, encoding="utf-8")
    print(f"wrote {len(out)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

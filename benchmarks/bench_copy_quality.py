"""Copy quality of a finished run against the generation bars, recounted outside the stage's own scorer.

Reads a run's published catalogue (04's content product), its clean products table and its manifest, and prints,
beside each goal:

- the hallucination rate the report states and an outside count (``tests/copycheck.py``: other products' types,
  categories, colours, materials, styles and brands named in the copy) over the GPT-2 candidates and the published
  GPT-2 copy;
- published copy that stops mid-sentence (no sentence end, or a dangling function word), recounted here;
- channel length compliance of published copy, recounted here (push <= 60 characters, email <= 80, product page
  40-120 words; Chinese product pages 40-120 characters);
- the stage's own fluency rate, style accuracy, scorer precision / recall and throughput, as recorded.

    python benchmarks/bench_copy_quality.py [RUN_ID_OR_REPORT_DIR]   (default: reports/latest)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

LIMITS = {"push": ("chars", 0, 60), "email": ("chars", 0, 80), "product_page": ("words", 40, 120)}
_END = re.compile(r"[.!?。！？][\"'”’)）]*$")
_DANGLING = re.compile(r"\b(?:the|a|an|of|by|from|and|or|with|for|at|to|in|on|your|its)[.!?]?$", re.IGNORECASE)


def stops_mid_sentence(text: str) -> bool:
    text = " ".join(str(text).split())
    return bool(text) and (not _END.search(text) or bool(_DANGLING.search(text)))


def length_ok(text: str, channel: str, zh: bool) -> bool:
    unit, lo, hi = LIMITS[channel]
    if unit == "chars":
        return len(text) <= hi
    n = len(re.sub(r"\s+", "", text)) if zh else len(text.split())  # Chinese pages count characters
    return lo <= n <= hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", default="latest")
    args = ap.parse_args()

    from contentlab import config, contract, pipeline
    from copycheck import OutsideChecker

    report_dir = Path(args.run) if Path(args.run).is_dir() else config.reports_dir() / args.run
    manifest = json.loads((report_dir / "manifest.json").read_text(encoding="utf-8"))
    run_dir = config.processed_dir() / manifest["run_id"]
    m = next(nb for nb in manifest["notebooks"] if nb["name"] == "04_generate")["metrics"]
    content = contract.product("content").read(run_dir)
    products = pipeline.load_prepared(run_dir).products
    products = products.assign(product_id=products["product_id"].astype(str))
    zh = bool(products["title"].astype(str).str.contains(r"[\u4e00-\u9fff]").mean() > 0.5)
    copy = content[content["content_type"] == "copy"].assign(product_id=lambda d: d["product_id"].astype(str))
    checker = OutsideChecker(products)
    gpt = copy[copy["variant"] == "gpt2"]
    pub = copy[copy["published"]]

    def row(name: str, value, goal: str) -> None:
        shown = "n/a" if value is None else (f"{value:.1%}" if isinstance(value, float) and value <= 1 else f"{value}")
        print(f"  {name:<58} {shown:>10}   goal {goal}")

    print(f"run {manifest['run_id']} ({'zh' if zh else 'en'}): {len(copy)} candidates, {len(pub)} published "
          f"({(pub['variant'] == 'gpt2').sum()} GPT-2)")
    row("hallucination rate, GPT-2 candidates (report)", m.get("hallucination_rate"), "<= 2%")
    row("  outside count, GPT-2 candidates", checker.rate(gpt) if len(gpt) else None, "within 2 points")
    row("  outside count, published GPT-2 copy", checker.rate(gpt[gpt["published"]]) if len(gpt) else None,
        "0%")
    row("  outside count, published template copy", checker.rate(pub[pub["variant"] == "template"]), "0%")
    for variant in ("gpt2", "template"):
        p = pub[pub["variant"] == variant]
        if p.empty:
            continue
        mid = p[p["channel"] != "push"] if variant == "template" else p  # template pushes are headlines
        row(f"published {variant} copy stopping mid-sentence (recounted)",
            float(mid["text"].map(stops_mid_sentence).mean()) if len(mid) else None, "0%")
        row(f"published {variant} copy within its channel length (recounted)",
            float(sum(length_ok(t, c, zh) for t, c in zip(p["text"], p["channel"])) / len(p)), "100%")
    row("truncated_rate (report)", m.get("truncated_rate"), "0%")
    row("fluency_rate (report)", m.get("fluency_rate"), "high")
    row("style_accuracy (report)", m.get("style_accuracy"), ">= 80%")
    row("scorer_precision (report, labelled set)", m.get("scorer_precision"), ">= 90%")
    row("scorer_recall (report, labelled set)", m.get("scorer_recall"), ">= 90%")
    tps = m.get("tokens_per_s")
    row("generation tokens/s (report, batched)", None if tps is None else round(tps), ">= 1000")
    row("model parameters", m.get("model_params"), "")
    row("training seconds this run", None if m.get("train_seconds") is None else round(m["train_seconds"], 1), "")
    bad = gpt[gpt["published"]]
    for t, pid in zip(bad["text"], bad["product_id"]):
        found = checker.foreign(t, pid)
        if found:
            print(f"    outside check flags {pid}: {found} in {t!r}")


if __name__ == "__main__":
    main()

"""Copy generation throughput of the embedded GPT-2: batch 1 vs batched, compact vs full vocabulary, and
with vs without the faithfulness constraint.

Trains (or loads from the model cache) the embedded model on a simulated catalogue, then generates
copy for the same prompts one at a time and in batches on an explicit number of CPU threads, and
prints tokens/s and copies/s. Batched runs are timed with and without the decoding constraint
(:mod:`contentlab.generate.constrain`: each prompt's product may not name another product's terms,
digits or a currency), side by side, with the share of copies that name a foreign term. For
comparison it times the same architecture with GPT-2's full 50,257-token output layer (random
weights: only the cost matters there), also with the constraint over GPT-2's own ids.

    python benchmarks/bench_generate.py [--size small] [--products 800] [--prompts 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import re
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--products", type=int, default=800)
    ap.add_argument("--locale", default="en")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from transformers import GPT2LMHeadModel

    from contentlab.data.simulate import simulate
    from contentlab.generate.constrain import TermIndex
    from contentlab.generate.decode import SamplingParams, generate
    from contentlab.generate.lexicon import CatalogueLexicon
    from contentlab.generate.model import CopyModel, embedded_config
    from contentlab.generate.prices import price_format
    from contentlab.generate.prompts import load_templates
    from contentlab.generate.tokenizer import GPT2_VOCAB_SIZE, IdentityVocab, gpt2_tokenizer
    from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model
    from contentlab.generate.workflow import _strings

    torch.set_num_threads(args.threads)
    ds = simulate(n_users=300, n_products=args.products, n_days=14, locale=args.locale, seed=42)
    corpus = build_corpus(ds.products, load_templates(args.locale, prices=price_format(ds.meta)), seed=0)
    t0 = time.perf_counter()
    cm = fit_copy_model(corpus, size=args.size, train=TrainConfig(steps=args.train_steps, threads=args.threads),
                        progress=False)
    how = "cached" if cm.info.get("cached") else "trained"
    print(f"model: embedded/{args.size} ({cm.n_params:,} parameters, vocabulary {cm.vocab.size:,} of {GPT2_VOCAB_SIZE:,}), "
          f"{how} in {time.perf_counter() - t0:.1f} s; held-out perplexity {cm.info['heldout_perplexity']:.2f}")
    prompts = corpus["prompt"].tolist()[: args.prompts]
    records = ds.products.set_index(ds.products["product_id"].astype(str))
    recs = [dict(records.loc[pid].to_dict(), product_id=pid) for pid in corpus["product_id"].tolist()[: args.prompts]]
    templates = load_templates(args.locale, prices=price_format(ds.meta))
    t0 = time.perf_counter()
    lexicon = CatalogueLexicon(ds.products, args.locale, generic_texts=_strings(templates.spec))
    print(f"catalogue lexicon: {len(lexicon.terms):,} terms, built in {time.perf_counter() - t0:.2f} s")
    # fixed length: min = max new tokens, so every configuration does the same work
    params = SamplingParams(n_candidates=args.candidates, max_new_tokens=args.max_new_tokens)

    def constraints_for(model: CopyModel) -> list:
        t = time.perf_counter()
        index = TermIndex.build(lexicon, model.vocab)
        cons = [index.constraint(r) for r in recs]
        print(f"{'':<42} constraint: {sum(len(v) for v in index.always.values()) + sum(len(v) for v in index.boundary.values()):,} "
              f"token sequences, longest {index.max_len}, built in {time.perf_counter() - t:.2f} s")
        return cons

    def foreign_share(texts: list[list[str]]) -> float:
        """Share of copies naming another product's term, a digit the record does not hold, or a currency."""
        hits = total = 0
        for rec, cands in zip(recs, texts):
            pats = [re.compile(rf"(?<![\w-])(?:{'|'.join(re.escape(f.lower()) for f in t.forms)})(?![\w-])")
                    for t in lexicon.foreign_terms(rec)]
            for text in cands:
                total += 1
                low = text.lower()
                digits = lexicon.foreign_digits(rec)
                hits += any(p.search(low) for p in pats) or any(c in digits or c in "$£€¥" for c in text)
        return hits / total if total else float("nan")

    def run(model: CopyModel, batch: int, label: str, n: int, constraints: list | None = None) -> None:
        res = generate(model, prompts[:n], params, batch_size=batch, seed=0, threads=args.threads,
                       min_new_tokens=args.max_new_tokens, constraints=None if constraints is None else constraints[:n])
        tag = "constrained" if constraints is not None else "free"
        print(f"{label:<42} batch {batch:>3} {tag:>11}: {res.tokens_per_s:8.0f} tokens/s  {res.copies_per_s:7.1f} copies/s "
              f"({res.total_tokens} tokens, {res.seconds:.2f} s); foreign terms in {foreign_share(res.texts):.0%} "
              "of copies")

    n_single = max(4, args.prompts // 8)
    cons = constraints_for(cm)
    run(cm, 1, "embedded, compact vocabulary", n_single)
    run(cm, args.batch_size, "embedded, compact vocabulary", args.prompts)
    run(cm, args.batch_size, "embedded, compact vocabulary", args.prompts, cons)

    full = GPT2LMHeadModel(embedded_config(GPT2_VOCAB_SIZE, args.size))
    full.config.bos_token_id = full.config.eos_token_id = full.config.pad_token_id = 50256
    full.eval()
    tok = gpt2_tokenizer()
    full_cm = CopyModel(name="full-vocab", kind="pretrained", model=full, vocab=IdentityVocab(tok), tokenizer=tok,
                        fingerprint="random")
    full_cons = constraints_for(full_cm)
    run(full_cm, 1, "same architecture, full 50,257-token output", n_single)
    run(full_cm, args.batch_size, "same architecture, full 50,257-token output", args.prompts)
    run(full_cm, args.batch_size, "same architecture, full 50,257-token output", args.prompts, full_cons)

if __name__ == "__main__":
    main()

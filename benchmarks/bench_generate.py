"""Copy generation throughput of the embedded GPT-2: batch 1 vs batched, compact vs full vocabulary.

Trains (or loads from the model cache) the embedded model on a simulated catalogue, then generates
copy for the same prompts one at a time and in batches on an explicit number of CPU threads, and
prints tokens/s and copies/s. For comparison it times the same architecture with GPT-2's full
50,257-token output layer (random weights: only the cost matters there).

    python benchmarks/bench_generate.py [--size small] [--products 800] [--prompts 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
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
    from contentlab.generate.decode import SamplingParams, generate
    from contentlab.generate.model import CopyModel, embedded_config
    from contentlab.generate.prices import price_format
    from contentlab.generate.prompts import load_templates
    from contentlab.generate.tokenizer import GPT2_VOCAB_SIZE, IdentityVocab, gpt2_tokenizer
    from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model

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
    # fixed length: min = max new tokens, so every configuration does the same work
    params = SamplingParams(n_candidates=args.candidates, max_new_tokens=args.max_new_tokens)

    def run(model: CopyModel, batch: int, label: str, n: int) -> None:
        res = generate(model, prompts[:n], params, batch_size=batch, seed=0, threads=args.threads,
                       min_new_tokens=args.max_new_tokens)
        print(f"{label:<42} batch {batch:>3}: {res.tokens_per_s:8.0f} tokens/s  {res.copies_per_s:7.1f} copies/s "
              f"({res.total_tokens} tokens, {res.seconds:.2f} s)")

    n_single = max(4, args.prompts // 8)
    run(cm, 1, "embedded, compact vocabulary", n_single)
    run(cm, args.batch_size, "embedded, compact vocabulary", args.prompts)

    full = GPT2LMHeadModel(embedded_config(GPT2_VOCAB_SIZE, args.size))
    full.config.bos_token_id = full.config.eos_token_id = full.config.pad_token_id = 50256
    full.eval()
    tok = gpt2_tokenizer()
    full_cm = CopyModel(name="full-vocab", kind="pretrained", model=full, vocab=IdentityVocab(tok), tokenizer=tok,
                        fingerprint="random")
    run(full_cm, 1, "same architecture, full 50,257-token output", n_single)
    run(full_cm, args.batch_size, "same architecture, full 50,257-token output", args.prompts)


if __name__ == "__main__":
    main()

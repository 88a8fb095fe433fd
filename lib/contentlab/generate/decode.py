"""Batched generation and per-copy perplexity.

Prompts are encoded through the model's vocabulary, sorted by length, left-padded into batches with
attention masks (transformers derives position ids from the mask, so a padded prompt continues
exactly like an unpadded one) and decoded with ``model.generate`` under ``torch.inference_mode()``
with the KV cache on. Several candidates per prompt come from ``num_return_sequences``. Each batch
is seeded from ``seed`` and its index inside a forked RNG, so a run is reproducible and leaves the
global RNG alone. The repetition penalty ignores the prompt: copying the product's attributes from
the prompt is exactly what faithful copy should do.

``constraints`` (one :class:`~contentlab.generate.constrain.ProductConstraint` per prompt, or None) make
the copy faithful by construction: :class:`~contentlab.generate.constrain.FaithfulLogitsProcessor` keeps
every other product's type, attributes, brand, numbers and prices out of each candidate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from contentlab.generate.model import CopyModel
from contentlab.generate.train import set_threads


@dataclass
class SamplingParams:
    do_sample: bool = True
    temperature: float = 0.8
    top_p: float = 0.92
    top_k: int = 40
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 3
    max_new_tokens: int = 64
    n_candidates: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerationResult:
    texts: list[list[str]]  # per prompt, its candidates
    n_tokens: list[list[int]]  # generated tokens per candidate (up to and including eos)
    seconds: float
    batches: int
    params: dict = field(default_factory=dict)
    ended: list[list[bool]] = field(default_factory=list)  # per candidate: ended by end-of-text (False: cut at the limit)

    @property
    def total_tokens(self) -> int:
        return sum(sum(x) for x in self.n_tokens)

    @property
    def tokens_per_s(self) -> float:
        return self.total_tokens / self.seconds if self.seconds > 0 else float("nan")

    @property
    def copies_per_s(self) -> float:
        return sum(len(x) for x in self.texts) / self.seconds if self.seconds > 0 else float("nan")


class GeneratedNoRepeatNGram:
    """Bans repeating an n-gram *within the generated copy* (the prompt is not counted).

    transformers' ``no_repeat_ngram_size`` also counts the prompt, which stops the model from
    copying a brand or colour it was given (their n-grams already occur in the prompt).
    """

    def __init__(self, n: int, prompt_len: int):
        self.n, self.prompt_len = int(n), int(prompt_len)

    def __call__(self, input_ids, scores):
        gen = input_ids[:, self.prompt_len:]
        n = self.n
        if gen.shape[1] < n - 1 or n < 1:
            return scores
        rows = gen.tolist()
        for b, seq in enumerate(rows):
            if len(seq) < n:
                continue
            prefix = tuple(seq[len(seq) - n + 1:]) if n > 1 else ()
            banned = [seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i:i + n - 1]) == prefix]
            if banned:
                scores[b, banned] = -float("inf")
        return scores


def _left_pad(seqs: Sequence[list[int]], pad_id: int):
    import torch

    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, n - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, n - len(s):] = 1
    return ids, mask


def generate(cm: CopyModel, prompts: Sequence[str], params: SamplingParams | None = None, batch_size: int = 32,
             seed: int = 0, threads: int = 2, max_new_tokens: int | None = None,
             min_new_tokens: int = 0, constraints: Sequence[Any] | None = None) -> GenerationResult:
    """Candidates for every prompt (``params.n_candidates`` each; 1 under greedy decoding).

    ``constraints``: per prompt, its :class:`~contentlab.generate.constrain.ProductConstraint` (None: free)."""
    import torch
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

    from contentlab.generate.constrain import FaithfulLogitsProcessor

    if constraints is not None and len(constraints) != len(prompts):
        raise ValueError(f"{len(constraints)} constraints for {len(prompts)} prompts: give one per prompt (or None)")

    params = params or SamplingParams()
    set_threads(threads)
    n_new = int(max_new_tokens or params.max_new_tokens)
    n_ret = int(params.n_candidates) if params.do_sample else 1
    eos = cm.vocab.eos_id
    pad = eos if eos is not None else 0
    limit = cm.max_positions - n_new
    if limit < 8:
        raise ValueError(f"max_new_tokens={n_new} leaves no room for a prompt in {cm.max_positions} positions")
    encoded = [cm.vocab.encode(p)[-limit:] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (len(encoded[i]), i))
    texts: list[list[str]] = [[] for _ in prompts]
    counts: list[list[int]] = [[] for _ in prompts]
    ended: list[list[bool]] = [[] for _ in prompts]
    model = cm.model
    model.eval()
    t0 = time.perf_counter()
    batches = 0
    for b, start in enumerate(range(0, len(order), max(1, batch_size))):
        idx = order[start:start + batch_size]
        ids, mask = _left_pad([encoded[i] for i in idx], pad)
        kwargs = dict(input_ids=ids, attention_mask=mask, max_new_tokens=n_new, num_return_sequences=n_ret,
                      pad_token_id=pad, eos_token_id=eos, use_cache=True, do_sample=bool(params.do_sample))
        if min_new_tokens:
            kwargs["min_new_tokens"] = int(min(min_new_tokens, n_new))
        if params.do_sample:
            kwargs.update(temperature=float(params.temperature), top_p=float(params.top_p), top_k=int(params.top_k))
        processors = LogitsProcessorList()
        if params.repetition_penalty and params.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(float(params.repetition_penalty),
                                                               prompt_ignore_length=ids.shape[1]))
        if params.no_repeat_ngram_size:
            processors.append(GeneratedNoRepeatNGram(int(params.no_repeat_ngram_size), ids.shape[1]))
        if constraints is not None and any(constraints[i] is not None for i in idx):
            # row j of the output belongs to prompt idx[j // n_ret]
            rows = [constraints[idx[j // n_ret]] for j in range(len(idx) * n_ret)]
            processors.append(FaithfulLogitsProcessor(rows, ids.shape[1], cm.vocab.size))
        if processors:
            kwargs["logits_processor"] = processors
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) * 1_000_003 + b)
            with torch.inference_mode():
                out = model.generate(**kwargs)
        new = out[:, ids.shape[1]:].tolist()
        for j, seq in enumerate(new):
            i = idx[j // n_ret]
            cut = seq.index(eos) if eos in seq else len(seq)
            texts[i].append(" ".join(cm.vocab.decode(seq[:cut]).split()))
            counts[i].append(min(cut + 1, len(seq)))
            ended[i].append(eos in seq)
        batches += 1
    return GenerationResult(texts=texts, n_tokens=counts, ended=ended, seconds=time.perf_counter() - t0, batches=batches,
                            params=dict(params.to_dict(), max_new_tokens=n_new, min_new_tokens=min_new_tokens,
                                        batch_size=batch_size, seed=seed))


def copy_perplexity(cm: CopyModel, prompts: Sequence[str], texts: Sequence[str], batch_size: int = 32,
                    threads: int = 2) -> list[float]:
    """Perplexity of each copy (and its end-of-text) given its prompt, under ``cm``."""
    import torch
    import torch.nn.functional as F

    from contentlab.generate.train import encode_pair, pad_batch

    set_threads(threads)
    seqs = [encode_pair(cm.vocab, p, t, cm.max_positions) for p, t in zip(prompts, texts)]
    pad = cm.vocab.eos_id if cm.vocab.eos_id is not None else 0
    out = [float("nan")] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    cm.model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, labels, mask = pad_batch([seqs[i] for i in idx], pad)
            logits = cm.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            tgt = labels[:, 1:]
            loss = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-100, reduction="none")
            n = (tgt != -100).sum(1).clamp(min=1)
            for j, i in enumerate(idx):
                out[i] = math.exp(min(float(loss[j].sum() / n[j]), 50.0))
    return out

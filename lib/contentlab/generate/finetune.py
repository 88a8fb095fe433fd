"""Fine-tuning the copy model on the copy that won the previous cycle's campaign.

The previous cycle's publishing policy (:mod:`contentlab.priors`, each segment's ``winning_copy``) names the copies
whose click-through in the campaign beat their segment's average, with their measured ``lift``.
:func:`finetune_on_winners` continues training a copy of the model for a small number of steps on those copies
(prompt -> copy, in the form the model writes: with placeholders when it was trained delexicalised), each repeated
``1 + round(4 * lift)`` times (at most 5: the lift weights the loss by repetition), with the one training routine
(:func:`contentlab.generate.train.train_lm`; its held-out set is the winners themselves, so the routine keeps the
step that fits them best). The result is cached under ``config.models_dir()/generate`` keyed by the base model, the
winners and the settings, so a rerun of the same cycle does not train again. 04 then writes candidates with both
models for the same slots (the fine-tuned ones numbered after the base model's), which gives the before/after
comparison on the same slots.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from contentlab import config
from contentlab.generate.model import CopyModel
from contentlab.generate.train import TrainConfig, encode_pair, train_lm

MAX_REPEAT = 5


def winner_pairs(winners: Sequence[Mapping[str, Any]], products: pd.DataFrame, templates, delexicalise: bool
                 ) -> list[tuple[str, str, int]]:
    """(prompt, target, repetitions) per winning copy with a prompt and a known product."""
    by_id = {str(r["product_id"]): r for r in products.to_dict(orient="records")}
    out = []
    for w in winners:
        prompt, text, pid = str(w.get("prompt") or ""), str(w.get("text") or ""), str(w.get("product_id"))
        if not prompt or not text or pid not in by_id:
            continue
        target = templates.delexicalise(text, by_id[pid]) if delexicalise else text
        reps = min(MAX_REPEAT, 1 + int(round(4 * max(float(w.get("lift", 0.0)), 0.0))))
        out.append((prompt, target, reps))
    return out


def finetune_on_winners(cm: CopyModel, pairs: Sequence[tuple[str, str, int]], *, steps: int, lr: float = 1e-3,
                        seed: int = 0, threads: int = 2, cache: bool = True, progress: bool = False) -> CopyModel:
    """A copy of ``cm`` trained ``steps`` more steps on ``pairs`` (see the module docstring)."""
    if not pairs:
        raise ValueError("no winning copy to fine-tune on")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    payload = {"base": cm.fingerprint, "pairs": [list(p) for p in pairs], "steps": int(steps), "lr": float(lr),
               "seed": int(seed)}
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    path = config.models_dir() / "generate" / f"winners-{key}"
    if cache and (path / "copymodel.json").is_file():
        try:
            return CopyModel.load(path)
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            pass  # unreadable cache entry: train again
    ft = dataclasses.replace(cm, model=copy.deepcopy(cm.model), info=dict(cm.info))
    max_len = min(TrainConfig().max_len, ft.max_positions)
    seqs = [encode_pair(ft.vocab, p, t, max_len) for p, t, r in pairs for _ in range(r)]
    cfg = TrainConfig(steps=int(steps), batch_size=min(8, len(seqs)), lr=float(lr), warmup=0.1,
                      eval_every=max(1, int(steps) // 4), patience=10**6, seed=int(seed), threads=threads)
    pad = ft.vocab.eos_id if ft.vocab.eos_id is not None else 0
    result = train_lm(ft.model, seqs, seqs, cfg, pad_id=pad, progress=progress)
    ft.name = f"{cm.name}+winners"
    ft.kind = cm.kind
    ft.fingerprint = key
    ft.info = {**cm.info, "finetuned_on_winners": len(pairs), "winner_steps": int(steps),
               "winner_loss_before": result.initial_heldout_loss, "winner_loss_after": result.heldout_loss,
               "cached": False}
    if cache:
        ft.save(path)
    return ft

"""Training corpus and the one training routine (from scratch and fine-tuning alike).

Corpus: for every product, channel and copy style, the structured prompt (style control code + persona facts +
product attributes + channel) paired with the catalogue's own sentences of that style's aspect, whole sentences
that fit the channel (:meth:`PromptTemplates.training_target`).
Each pair gets a persona whose favourite categories include the product's category (any persona if
none does), so the model sees the same prompt format it is later asked with. The held-out split is
by product: held-out perplexity measures copy for products the model never saw.

Training (:func:`train_lm`): batches of similar-length pairs (:func:`length_bucketed_batches`), AdamW, linear warmup then cosine decay, gradient clipping, loss on the
copy tokens only (the prompt is context), held-out loss every ``eval_every`` steps with early
stopping and restore of the best weights, a tqdm bar, seeded. :func:`fit_copy_model` puts it
together and caches the result under ``config.models_dir()/generate`` keyed by the corpus
fingerprint and every setting, so warm runs skip training.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from contentlab import config
from contentlab.generate.model import EMBEDDED, CopyModel, embedded_config, load_pretrained
from contentlab.generate.prompts import CHANNELS, PromptTemplates
from contentlab.generate.style import ALL_STYLES, check_style
from contentlab.generate.tokenizer import CompactVocab, gpt2_tokenizer

CACHE_FORMAT = 2


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(int(n))


# ---- corpus --------------------------------------------------------------------------------------
def _persona_for(product: Mapping[str, Any], personas: Sequence[Mapping[str, Any]], rng: random.Random):
    if not personas:
        return None
    cat = str(product.get("category", "")).lower()
    fits = [p for p in personas if cat and cat in [str(c).lower() for c in (p.get("favourite_categories") or [])]]
    return rng.choice(fits or list(personas))


def build_corpus(products: pd.DataFrame, templates: PromptTemplates, personas: Sequence[Mapping[str, Any]] | None = None,
                 channels: Sequence[str] = CHANNELS, heldout_share: float = 0.1, seed: int = 0,
                 delexicalise: bool = True, styles: Sequence[str] = ALL_STYLES) -> pd.DataFrame:
    """Prompt -> copy pairs from the catalogue, for every product x channel x copy style.

    Columns ``product_id, channel, style, persona_id, prompt, target, model_target, split``: the prompt carries the
    style control code, ``target`` is the catalogue's copy in that style (:meth:`PromptTemplates.training_target`:
    the product's own sentences of the style's aspect, whole sentences that fit the channel), ``model_target``
    what the model is trained on (with ``delexicalise``, the product's own attribute values replaced by
    placeholders, see :meth:`PromptTemplates.delexicalise`). A product x channel x style with no fitting sentence
    is left out. The persona in a prompt is drawn independently of the style (one whose favourite categories hold
    the product's), so the style code, not the persona's name, is what tells the styles apart. A held-out product
    keeps one style per channel, drawn at random: the held-out loss still covers every style, and evaluating it
    (every ``eval_every`` steps) costs what it did before the styles multiplied the corpus.
    """
    rng = random.Random(seed)
    personas = list(personas or [])
    styles = [check_style(s) for s in styles]
    ids = sorted(products["product_id"].astype(str).unique())
    n_held = max(1, int(round(len(ids) * heldout_share))) if len(ids) > 1 and heldout_share > 0 else 0
    held = set(random.Random(seed + 1).sample(ids, n_held))
    pick = random.Random(seed + 2)
    rows = []
    for rec in products.to_dict(orient="records"):
        pid = str(rec["product_id"])
        for ch in channels:
            fitting = [(style, t) for style in styles if (t := templates.training_target(rec, ch, style))]
            if pid in held and fitting:
                fitting = [fitting[pick.randrange(len(fitting))]]
            for style, target in fitting:
                persona = _persona_for(rec, personas, rng)
                rows.append({
                    "product_id": pid, "channel": ch, "style": style,
                    "persona_id": None if persona is None else str(persona.get("persona_id", "")),
                    "prompt": templates.model_prompt(persona, rec, ch, style=style), "target": target,
                    "model_target": templates.delexicalise(target, rec) if delexicalise else target,
                    "split": "heldout" if pid in held else "train",
                })
    return pd.DataFrame(rows, columns=["product_id", "channel", "style", "persona_id", "prompt", "target", "model_target",
                                       "split"])


def _targets(corpus: pd.DataFrame) -> pd.Series:
    return corpus["model_target"] if "model_target" in corpus.columns else corpus["target"]


def corpus_fingerprint(corpus: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for row in zip(corpus["prompt"], _targets(corpus), corpus["split"]):
        h.update("\x1f".join(row).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()[:16]


def encode_pair(vocab, prompt: str, target: str, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (prompt masked with -100) of ``prompt + " " + target + eos``."""
    p = vocab.encode(prompt)
    t = vocab.encode(" " + target) + [vocab.eos_id]
    if len(p) >= max_len:
        p = p[-(max_len // 2):]
    t = t[: max_len - len(p)]
    return p + t, [-100] * len(p) + t


# ---- training ------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-3
    warmup: float = 0.08  # share of steps
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 25
    patience: int = 4  # evaluations without improvement before stopping
    min_delta: float = 1e-3
    seed: int = 0
    threads: int = 2
    max_len: int = 384

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    history: pd.DataFrame  # step, lr, train_loss, heldout_loss (NaN between evaluations)
    best_step: int
    heldout_loss: float
    heldout_perplexity: float
    initial_heldout_loss: float
    seconds: float
    steps_run: int
    stopped_early: bool
    tokens_seen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def pad_batch(seqs: Sequence[tuple[list[int], list[int]]], pad_id: int):
    """(input ids, labels, attention mask) tensors of (ids, labels) pairs, right-padded to the longest: ``pad_id``
    in the ids, -100 (ignored by the loss) in the labels, 0 in the mask."""
    import torch

    n = max(len(s[0]) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), n), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, (x, y) in enumerate(seqs):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return ids, labels, mask


def evaluate_loss(model, seqs: Sequence[tuple[list[int], list[int]]], pad_id: int, batch_size: int = 32) -> float:
    """Token-weighted mean cross-entropy of the labelled tokens."""
    import torch
    import torch.nn.functional as F

    if not seqs:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ids, labels, mask = pad_batch([seqs[i] for i in order[start:start + batch_size]], pad_id)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            tgt = labels[:, 1:]
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1), ignore_index=-100,
                                   reduction="sum")
            total += float(loss)
            count += int((tgt != -100).sum())
    model.train(was_training)
    return total / max(count, 1)


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                            pool: int = 50) -> list[list[int]]:
    """One epoch of batches (as a stack: pop from the end) of similar-length sequences.

    The epoch is shuffled, cut into pools of ``pool`` batches, each pool sorted by length and cut into batches, and
    the batches shuffled again: every sequence is seen once per epoch as with plain shuffling, but a batch pads to a
    length close to its members' (copy for a push is a tenth of a product-page blurb), which roughly halves the
    tokens a step computes on."""
    perm = rng.permutation(len(lengths))
    batches: list[list[int]] = []
    step = batch_size * pool
    for start in range(0, len(perm), step):
        chunk = sorted(perm[start:start + step].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def train_lm(model, train_seqs: Sequence[tuple[list[int], list[int]]], heldout_seqs: Sequence[tuple[list[int], list[int]]],
             cfg: TrainConfig, pad_id: int = 0, progress: bool = True) -> TrainResult:
    """The one training routine (see module docstring). Leaves ``model`` in eval mode with the best weights."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    if not train_seqs:
        raise ValueError("empty training corpus")
    set_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    warm = max(1, int(cfg.warmup * cfg.steps))

    def lr_at(step: int) -> float:  # step is 1-based
        if step <= warm:
            return cfg.lr * step / warm
        frac = (step - warm) / max(1, cfg.steps - warm)
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))

    t0 = time.perf_counter()
    initial = evaluate_loss(model, heldout_seqs, pad_id)
    rows = [{"step": 0, "lr": 0.0, "train_loss": np.nan, "heldout_loss": initial}]
    best, best_step, best_state, bad = initial, 0, copy.deepcopy(model.state_dict()), 0
    order: list[list[int]] = []
    lengths = [len(x) for x, _ in train_seqs]
    tokens = 0
    stopped = False
    model.train()
    bar = tqdm(range(1, cfg.steps + 1), desc="training", disable=not progress, file=sys.stderr, mininterval=2.0,
               ascii=True, dynamic_ncols=False, ncols=90)
    step = 0
    for step in bar:
        if not order:
            order = length_bucketed_batches(lengths, cfg.batch_size, rng)
        idx = order.pop()
        ids, labels, mask = pad_batch([train_seqs[i] for i in idx], pad_id)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        tokens += int(mask.sum())
        row = {"step": step, "lr": lr_at(step), "train_loss": float(loss.detach()), "heldout_loss": np.nan}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            h = evaluate_loss(model, heldout_seqs, pad_id)
            row["heldout_loss"] = h
            if h < best - cfg.min_delta:
                best, best_step, best_state, bad = h, step, copy.deepcopy(model.state_dict()), 0
            else:
                bad += 1
            bar.set_postfix(train=f"{row['train_loss']:.3f}", heldout=f"{h:.3f}")
            if heldout_seqs and bad >= cfg.patience:
                rows.append(row)
                stopped = True
                break
        rows.append(row)
    bar.close()
    if not heldout_seqs:  # nothing to select on: keep the last weights
        best_state, best_step = copy.deepcopy(model.state_dict()), step
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        history=pd.DataFrame(rows), best_step=best_step, heldout_loss=float(best),
        heldout_perplexity=float(math.exp(min(best, 50.0))) if not math.isnan(best) else float("nan"),
        initial_heldout_loss=float(initial), seconds=time.perf_counter() - t0, steps_run=step, stopped_early=stopped,
        tokens_seen=tokens,
    )


# ---- building a copy model -----------------------------------------------------------------------
def _cache_key(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fit_copy_model(corpus: pd.DataFrame, model: str = EMBEDDED, size: str | dict[str, int] = "small",
                   train: TrainConfig | None = None, finetune_steps: int = 0, cache: bool = True,
                   allow_download: bool = False, progress: bool = True) -> CopyModel:
    """The copy model for ``corpus``: trained (embedded) or loaded (+ optionally fine-tuned), cached.

    ``model="embedded"`` trains the compact GPT-2 from scratch on ``corpus``; any other value is a
    pretrained id/path (see :func:`~contentlab.generate.model.load_pretrained`), fine-tuned on the
    corpus with the same routine when ``finetune_steps > 0``. ``info`` carries the held-out loss and
    perplexity, training seconds and whether the checkpoint came from the cache.
    """
    import torch
    from transformers import GPT2LMHeadModel

    cfg = copy.deepcopy(train) if train is not None else TrainConfig()
    set_threads(cfg.threads)
    fp = corpus_fingerprint(corpus)
    tr = corpus[corpus["split"] == "train"]
    ho = corpus[corpus["split"] == "heldout"]
    if model == EMBEDDED:
        payload = {"format": CACHE_FORMAT, "corpus": fp, "size": size, "train": cfg.to_dict(), "model": EMBEDDED}
    else:
        if finetune_steps <= 0:
            cm = load_pretrained(model, allow_download=allow_download)
            seqs = [encode_pair(cm.vocab, p, t, min(cfg.max_len, cm.max_positions))
                    for p, t in zip(ho["prompt"], _targets(ho))]
            loss = evaluate_loss(cm.model, seqs, cm.vocab.eos_id if cm.vocab.eos_id is not None else 0)
            cm.info.update(heldout_loss=loss, heldout_perplexity=math.exp(min(loss, 50.0)), train_seconds=0.0,
                           trained=False)
            return cm
        cfg.steps = int(finetune_steps)
        payload = {"format": CACHE_FORMAT, "corpus": fp, "train": cfg.to_dict(), "model": str(model)}
    key = _cache_key(payload)
    slug = EMBEDDED if model == EMBEDDED else "ft-" + "".join(c if c.isalnum() else "_" for c in str(model))[-40:]
    path = config.models_dir() / "generate" / f"{slug}-{key}"
    if cache and (path / "copymodel.json").is_file():
        try:
            return CopyModel.load(path)
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            pass  # unreadable cache entry: train again and overwrite it

    tok = gpt2_tokenizer()
    if model == EMBEDDED:
        vocab = CompactVocab.from_texts(tok, list(corpus["prompt"]) + [" " + t for t in _targets(corpus)])
        torch.manual_seed(cfg.seed)
        lm = GPT2LMHeadModel(embedded_config(vocab.size, size))
        base = CopyModel(name=EMBEDDED, kind="embedded", model=lm, vocab=vocab, tokenizer=tok, fingerprint=key)
    else:
        base = load_pretrained(model, allow_download=allow_download)
        base.kind, base.fingerprint = "finetuned", key
    max_len = min(cfg.max_len, base.max_positions)
    train_seqs = [encode_pair(base.vocab, p, t, max_len) for p, t in zip(tr["prompt"], _targets(tr))]
    held_seqs = [encode_pair(base.vocab, p, t, max_len) for p, t in zip(ho["prompt"], _targets(ho))]
    pad = base.vocab.eos_id if base.vocab.eos_id is not None else 0
    result = train_lm(base.model, train_seqs, held_seqs, cfg, pad_id=pad, progress=progress)
    base.history = result.history
    base.info = {
        "heldout_loss": result.heldout_loss, "heldout_perplexity": result.heldout_perplexity,
        "initial_heldout_loss": result.initial_heldout_loss, "train_seconds": result.seconds,
        "best_step": result.best_step, "steps_run": result.steps_run, "stopped_early": result.stopped_early,
        "tokens_seen": result.tokens_seen, "n_train": len(train_seqs), "n_heldout": len(held_seqs),
        "vocab_size": base.vocab.size, "n_params": base.n_params, "size": size, "train_config": cfg.to_dict(),
        "corpus_fingerprint": fp, "trained": True, "cached": False,
    }
    if cache:
        base.save(path)
    return base

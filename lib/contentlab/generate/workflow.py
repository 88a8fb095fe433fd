"""The steps of notebook 04, as functions: model, candidates, scoring and filtering, selection, metrics.

The notebook calls these in order and shows what each produced; tests call them on small data.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from contentlab.generate.baseline import baseline_for_slots
from contentlab.generate.decode import SamplingParams, copy_perplexity, generate
from contentlab.generate.guardrails import Guardrails
from contentlab.generate.model import CopyModel
from contentlab.generate.prompts import CHANNELS, PromptTemplates
from contentlab.generate.scoring import (
    AttributeLexicon,
    NGramIndex,
    distinct_n,
    faithfulness,
    quality_score,
    reference_scores,
    self_bleu,
)
from contentlab.generate.slots import Inputs
from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model

VARIANTS = ("gpt2", "template")


@dataclass
class Settings:
    """Everything notebook 04 can tune (its parameters map onto these)."""

    # training and sampling defaults come from TrainConfig and SamplingParams (one place each)
    model: str = "embedded"
    model_size: str = "small"
    train_steps: int = TrainConfig.steps
    train_batch_size: int = TrainConfig.batch_size
    learning_rate: float = TrainConfig.lr
    eval_every: int = TrainConfig.eval_every
    patience: int = TrainConfig.patience
    finetune_steps: int = 0
    heldout_share: float = 0.1
    delexicalise: bool = True
    temperature: float = SamplingParams.temperature
    top_p: float = SamplingParams.top_p
    top_k: int = SamplingParams.top_k
    repetition_penalty: float = SamplingParams.repetition_penalty
    no_repeat_ngram_size: int = SamplingParams.no_repeat_ngram_size
    n_candidates: int = 4  # the notebook keeps the best of several; decode's own default is 3
    gen_batch_size: int = 32
    n_slots: int = 60
    products_per_persona: int = 4
    channels: Sequence[str] = CHANNELS
    n_guide_users: int = 10
    threads: int = 2
    seed: int = 0
    cache: bool = True

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=int(self.train_steps), batch_size=int(self.train_batch_size), lr=float(self.learning_rate),
                           eval_every=int(self.eval_every), patience=int(self.patience), seed=int(self.seed),
                           threads=int(self.threads))

    def sampling(self) -> SamplingParams:
        return SamplingParams(do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p),
                              top_k=int(self.top_k), repetition_penalty=float(self.repetition_penalty),
                              no_repeat_ngram_size=int(self.no_repeat_ngram_size), n_candidates=int(self.n_candidates))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


def build_model(products: pd.DataFrame, inputs: Inputs, templates: PromptTemplates, settings: Settings,
                progress: bool = True) -> tuple[CopyModel, pd.DataFrame, float]:
    """(copy model, training corpus, seconds spent training in this call: 0 when cached or pretrained)."""
    corpus = build_corpus(products, templates, inputs.personas, channels=settings.channels,
                          heldout_share=settings.heldout_share, seed=settings.seed,
                          delexicalise=settings.delexicalise and settings.model == "embedded")
    t0 = time.perf_counter()
    cm = fit_copy_model(corpus, model=settings.model, size=settings.model_size, train=settings.train_config(),
                        finetune_steps=settings.finetune_steps, cache=settings.cache, progress=progress)
    spent = time.perf_counter() - t0 if cm.info.get("trained") and not cm.info.get("cached") else 0.0
    return cm, corpus, spent


def _products_by_id(products: pd.DataFrame) -> dict[str, dict]:
    return {str(k): dict(v, product_id=str(k)) for k, v in products.set_index(products["product_id"].astype(str)).to_dict(orient="index").items()}


def generate_candidates(cm: CopyModel, slots: pd.DataFrame, products: pd.DataFrame, personas: Mapping[str, Mapping],
                        templates: PromptTemplates, settings: Settings) -> tuple[pd.DataFrame, dict[str, float]]:
    """GPT-2 candidates for every slot (``n_candidates`` each), generated per channel in batches."""
    by_id = _products_by_id(products)
    slots = slots.copy()
    slots["prompt"] = [templates.model_prompt(personas.get(str(s.persona_id)), by_id[str(s.product_id)], s.channel)
                       for s in slots.itertuples()]
    rows = []
    relex = settings.delexicalise and settings.model == "embedded"
    tokens, seconds, copies = 0, 0.0, 0
    for ch, g in slots.groupby("channel", sort=False):
        lo, hi = templates.new_tokens(ch)
        res = generate(cm, g["prompt"].tolist(), settings.sampling(), batch_size=settings.gen_batch_size,
                       seed=settings.seed + CHANNELS.index(ch) if ch in CHANNELS else settings.seed,
                       threads=settings.threads, max_new_tokens=hi, min_new_tokens=lo)
        tokens += res.total_tokens
        seconds += res.seconds
        for slot, texts, counts in zip(g.to_dict(orient="records"), res.texts, res.n_tokens):
            product = by_id[str(slot["product_id"])]
            for k, (raw, n) in enumerate(zip(texts, counts)):
                copies += 1
                text = templates.relexicalise(raw, product) if relex else raw
                rows.append({**slot, "variant": "gpt2", "candidate": k, "text": text, "raw_text": raw, "n_tokens": n})
    stats = {"tokens": tokens, "seconds": seconds, "copies": copies,
             "tokens_per_s": tokens / seconds if seconds else float("nan"),
             "copies_per_s": copies / seconds if seconds else float("nan")}
    return pd.DataFrame(rows), stats


def template_candidates(slots: pd.DataFrame, products: pd.DataFrame, personas: Mapping[str, Mapping],
                        templates: PromptTemplates) -> pd.DataFrame:
    out = baseline_for_slots(slots, products, personas, templates)
    by_id = _products_by_id(products)
    out["prompt"] = [templates.model_prompt(personas.get(str(s.persona_id)), by_id[str(s.product_id)], s.channel)
                     for s in out.itertuples()]
    out["n_tokens"] = np.nan
    return out


def score_candidates(cands: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates, guardrails: Guardrails,
                     lexicon: AttributeLexicon, index: NGramIndex | None, cm: CopyModel | None, locale: str,
                     user_ids: set[str] | None = None, threads: int = 2, delexicalised: bool = False) -> pd.DataFrame:
    """Scores every candidate and decides rejection (hallucination, guardrails, hard length limits, empty).

    With ``delexicalised`` (the model was trained on copy with placeholders) perplexity is measured
    on the placeholder form of each copy, the form the model actually writes.
    """
    by_id = _products_by_id(products)
    df = cands.reset_index(drop=True).copy()
    cov, hall, wrong, len_ok, bleu, rouge, over, regur, reasons, terms = ([] for _ in range(10))
    for r in df.itertuples():
        product = by_id[str(r.product_id)]
        text = r.text or ""
        f = faithfulness(text, product, lexicon)
        cov.append(f.coverage)
        hall.append(f.hallucinated)
        wrong.append(";".join(f.wrong))
        len_ok.append(templates.length_ok(text, r.channel))
        b, rl = reference_scores(text, product.get("description") or "", locale)
        bleu.append(b)
        rouge.append(rl)
        o = index.longest_overlap(text) if index is not None else 0
        over.append(o)
        regur.append(index.regurgitated(text) if index is not None else False)
        why: list[str] = []
        found: list[str] = []
        if not text.strip():
            why.append("empty")
        if "\ufffd" in text or "[" in text or "]" in text:
            why.append("malformed")  # bytes that form no character, or a broken placeholder
        if f.hallucinated:
            why.append("hallucination")
            found.extend(f.wrong)
        if not templates.hard_limit_ok(text, r.channel):
            why.append("length")
            found.append(f"{len(text)} chars")
        for v in guardrails.check(text, locale, user_ids):
            if v.reason not in why:
                why.append(v.reason)
            found.append(f"{v.reason}:{v.term}")
        reasons.append(";".join(why))
        terms.append("; ".join(found))
    df["attribute_coverage"] = cov
    df["hallucinated"] = hall
    df["wrong_attributes"] = wrong
    df["length_ok"] = len_ok
    df["bleu"] = bleu
    df["rouge_l"] = rouge
    df["longest_overlap"] = over
    df["regurgitated"] = regur
    df["reject_reason"] = reasons
    df["reject_detail"] = terms
    df["rejected"] = df["reject_reason"] != ""
    if cm is not None and len(df):
        if delexicalised:
            raw = df["raw_text"] if "raw_text" in df.columns else pd.Series([None] * len(df))
            ppl_texts = [r if isinstance(r, str) else templates.delexicalise(t, by_id[str(pid)])
                         for r, t, pid in zip(raw, df["text"], df["product_id"])]
        else:
            ppl_texts = df["text"].tolist()
        df["perplexity"] = copy_perplexity(cm, df["prompt"].tolist(), ppl_texts, threads=threads)
    else:
        df["perplexity"] = np.nan
    df["quality"] = [quality_score(c, l, p, g) for c, l, p, g in
                     zip(df["attribute_coverage"], df["length_ok"], df["perplexity"], df["regurgitated"])]
    return df


def select_best(scored: pd.DataFrame) -> pd.DataFrame:
    """Marks the published copy: the best accepted GPT-2 candidate per slot, and the template copy if accepted."""
    df = scored.copy()
    df["selected"] = False
    ok = df[~df["rejected"]]
    if len(ok):
        best = ok.sort_values(["quality", "candidate"], ascending=[False, True], kind="stable").groupby(
            ["slot_id", "variant"], sort=False).head(1).index
        df.loc[best, "selected"] = True
    df["published"] = df["selected"] & ~df["rejected"]
    return df


def content_id(*parts: Any) -> str:
    return "c_" + hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:12]


def diversity_by_segment(published: pd.DataFrame, locale: str) -> pd.DataFrame:
    """distinct-1/2 and self-BLEU of the published copy per variant and segment."""
    rows = []
    for (variant, seg), g in published.groupby(["variant", "segment"], sort=True):
        texts = g["text"].tolist()
        rows.append({"variant": variant, "segment": seg, "copies": len(texts), "distinct_1": distinct_n(texts, 1, locale),
                     "distinct_2": distinct_n(texts, 2, locale), "self_bleu": self_bleu(texts, locale)})
    return pd.DataFrame(rows, columns=["variant", "segment", "copies", "distinct_1", "distinct_2", "self_bleu"])


def _mean(x) -> float:
    x = pd.to_numeric(pd.Series(x), errors="coerce").dropna()
    return float(x.mean()) if len(x) else float("nan")


def model_comparison(scored: pd.DataFrame, locale: str) -> pd.DataFrame:
    """One row per variant: every metric, over all candidates (before filtering) and over published copy."""
    rows = []
    for variant in VARIANTS:
        g = scored[scored["variant"] == variant]
        if g.empty:
            continue
        pub = g[g["published"]]
        div = diversity_by_segment(pub, locale)
        rows.append({
            "variant": variant, "candidates": len(g), "published": len(pub),
            "attribute_coverage": _mean(g["attribute_coverage"]), "hallucination_rate": _mean(g["hallucinated"]),
            "rejected_rate": _mean(g["rejected"]), "length_compliance": _mean(g["length_ok"]),
            "regurgitation_rate": _mean(g["regurgitated"]), "perplexity_median": float(g["perplexity"].median()),
            "bleu": _mean(g["bleu"]), "rouge_l": _mean(g["rouge_l"]),
            "distinct_1": distinct_n(pub["text"], 1, locale), "distinct_2": distinct_n(pub["text"], 2, locale),
            "self_bleu": _mean(div["self_bleu"]),
            "published_coverage": _mean(pub["attribute_coverage"]),
        })
    return pd.DataFrame(rows)


def rejection_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Rejected candidates per variant and reason (a candidate can have several reasons)."""
    rej = scored[scored["rejected"]]
    if rej.empty:
        return pd.DataFrame(columns=["variant", "reason", "candidates", "share_of_variant"])
    ex = rej.assign(reason=rej["reject_reason"].str.split(";")).explode("reason")
    t = ex.groupby(["variant", "reason"]).size().rename("candidates").reset_index()
    totals = scored.groupby("variant").size()
    t["share_of_variant"] = t["candidates"] / t["variant"].map(totals)
    return t.sort_values(["variant", "candidates"], ascending=[True, False]).reset_index(drop=True)


def metrics(scored: pd.DataFrame, slots: pd.DataFrame, cm: CopyModel, gen_stats: Mapping[str, float],
            train_seconds: float, locale: str) -> dict[str, Any]:
    """The recorded metrics (names fixed by the issue), computed from the scored candidate table.

    GPT-2 coverage / hallucination / rejection rates are over *all* GPT-2 candidates (before
    filtering: after it hallucination is zero by construction); diversity is over published GPT-2 copy.
    """
    gpt = scored[scored["variant"] == "gpt2"]
    tpl = scored[scored["variant"] == "template"]
    pub = gpt[gpt["published"]]
    div = diversity_by_segment(pub, locale)
    copies = scored[scored["published"]]
    return {
        "model": cm.name,
        "n_slots": int(slots["slot_id"].nunique()),
        "n_copies": int(len(copies)),
        "attribute_coverage": _mean(gpt["attribute_coverage"]),
        "hallucination_rate": _mean(gpt["hallucinated"]),
        "template_hallucination_rate": _mean(tpl["hallucinated"]),
        "distinct_2": distinct_n(pub["text"], 2, locale),
        "self_bleu": _mean(div["self_bleu"]),
        "rejected_rate": _mean(gpt["rejected"]),
        "heldout_perplexity": float(cm.info.get("heldout_perplexity", float("nan"))),
        "tokens_per_s": float(gen_stats.get("tokens_per_s", float("nan"))),
        "train_seconds": float(train_seconds),
    }


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not (isinstance(x, float) and math.isnan(x))

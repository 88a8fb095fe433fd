"""The steps of notebook 04, as functions: catalogue checks, model, candidates, scoring and filtering, selection,
metrics and the report's summary.

The notebook calls these in order and shows what each produced; tests call them on small data.

Catalogue checks (:func:`prepare_catalogue`) come first:

- every text field copy is made from is cleaned of markup and script (:mod:`contentlab.generate.sanitise`);
- prices follow the data (:mod:`contentlab.generate.prices`): shown in its currency, or not at all;
- **whether there is copy to learn from** (:func:`text_check`): the embedded GPT-2 learns to write from the
  catalogue's own product descriptions. It is trained only when at least ``MIN_DESCRIBED_SHARE`` (50%) of the
  products have a description of at least ``MIN_DESCRIPTION_WORDS`` words (8; Chinese: 16 characters) and those
  descriptions use at least ``MIN_VOCABULARY`` distinct words (100; Chinese: characters). Titles do not count:
  Online Retail's upper-case stock descriptions, CDNOW's single "CD" and MovieLens' movie titles give a model
  nothing to learn copy from, and what it writes is garbled. Then no GPT-2 copy is generated (unless a
  pretrained checkpoint is given: it is used as it is, without fine-tuning), the report says why, only the
  template baseline is published, and the GPT-2 metrics are recorded as None (see :func:`metrics`).

Rejection (:func:`score_candidates`): a candidate is rejected, with every reason that applies, when it is
``empty``, ``malformed`` (a broken placeholder, undecodable bytes, a broken sentence by
:func:`~contentlab.generate.prompts.copy_problems`, or a product-page blurb that does not end with a full
sentence), ``truncated`` (cut at the token limit with no complete sentence to keep, or ending on a word that
ends no sentence of the training copy: "... made for long"), a ``hallucination`` (:func:`~contentlab.generate.scoring.faithfulness`), outside its
channel's ``length`` rule (the same rule length compliance measures: push and email characters, the product-page
word range), contains ``markup`` (:func:`~contentlab.generate.sanitise.markup_problems`), or breaks a guardrail.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from contentlab.generate.baseline import baseline_for_slots
from contentlab.generate.decode import SamplingParams, copy_perplexity, generate
from contentlab.generate.guardrails import Guardrails
from contentlab.generate.model import CopyModel
from contentlab.generate.prices import PriceFormat, price_format
from contentlab.generate.prompts import CHANNELS, PromptTemplates, copy_problems
from contentlab.generate.sanitise import clean_text, markup_problems, sanitise_frame, sanitise_personas, sanitise_products
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
MIN_DESCRIPTION_WORDS = {"en": 8, "zh": 16}  # words (en) / characters (zh) for a product to count as described
MIN_DESCRIBED_SHARE = 0.5
MIN_VOCABULARY = 100
RECORD_TEXT = ("title", "category", "brand", "colour", "material", "style", "description")
GPT2_METRICS = ("attribute_coverage", "hallucination_rate", "distinct_2", "self_bleu", "rejected_rate",
                "heldout_perplexity", "tokens_per_s", "train_seconds")


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


# ---- catalogue checks ----------------------------------------------------------------------------
@dataclass
class TextCheck:
    """Whether the catalogue has descriptive text a copy model can learn from (see module docstring)."""

    ok: bool
    reason: str
    products: int
    described: int  # products with a description of at least min_length units
    vocabulary: int  # distinct words (en) / characters (zh) over those descriptions
    min_length: int
    unit: str

    @property
    def described_share(self) -> float:
        return self.described / self.products if self.products else 0.0

    def describe(self) -> str:
        return (f"{self.described:,} of {self.products:,} products ({self.described_share:.0%}) have a description of "
                f"at least {self.min_length} {self.unit}; their vocabulary has {self.vocabulary:,} distinct "
                f"{'characters' if self.unit == 'characters' else 'words'}")


def text_check(products: pd.DataFrame, locale: str = "en") -> TextCheck:
    """The learnable-text rule (module docstring) on ``products``' ``description`` column."""
    zh = str(locale).startswith("zh")
    min_len = MIN_DESCRIPTION_WORDS["zh" if zh else "en"]
    unit = "characters" if zh else "words"
    n = len(products)
    if "description" not in products.columns:
        desc = pd.Series([], dtype=object)
    else:
        desc = products["description"].map(clean_text)
    if zh:
        length = desc.map(lambda t: len(re.sub(r"\s+", "", t)))
    else:
        length = desc.map(lambda t: len(t.split()))
    described = desc[length >= min_len] if len(desc) else desc
    if zh:
        vocab = {ch for t in described for ch in t if ch.strip() and ch.isalnum()}
    else:
        vocab = {w for t in described for w in re.findall(r"[^\W\d_]+", t.lower())}
    share = len(described) / n if n else 0.0
    if "description" not in products.columns or not len(described):
        reason = ("the catalogue has no product descriptions (only titles), so there is no copy to learn from"
                  if "description" not in products.columns or not desc.astype(bool).any()
                  else f"no product has a description of at least {min_len} {unit}")
        ok = False
    elif share < MIN_DESCRIBED_SHARE:
        ok, reason = False, (f"only {share:.0%} of the products have a description of at least {min_len} {unit} "
                             f"(needs {MIN_DESCRIBED_SHARE:.0%})")
    elif len(vocab) < MIN_VOCABULARY:
        ok, reason = False, (f"the descriptions use only {len(vocab)} distinct "
                             f"{'characters' if zh else 'words'} (needs {MIN_VOCABULARY})")
    else:
        ok, reason = True, ""
    return TextCheck(ok=ok, reason=reason, products=n, described=int(len(described)), vocabulary=len(vocab),
                     min_length=min_len, unit=unit)


@dataclass
class Catalogue:
    """The catalogue as 04 uses it: clean products (and review text), the price policy, the text check."""

    products: pd.DataFrame
    prices: PriceFormat
    text: TextCheck
    ratings: pd.DataFrame | None = None
    cleaned: dict[str, int] = field(default_factory=dict)  # "products.description": values changed by cleaning

    def notes(self) -> list[str]:
        out = [f"prices: {self.prices.describe()}", f"descriptive text: {self.text.describe()}"]
        if self.cleaned:
            out.append("markup removed from " + ", ".join(f"{n:,} {k.split('.', 1)[1]} value(s) of {k.split('.')[0]}"
                                                        for k, n in sorted(self.cleaned.items())))
        else:
            out.append("no markup found in the catalogue's text fields")
        return out


def prepare_catalogue(products: pd.DataFrame, meta: Mapping[str, Any] | None, locale: str = "en",
                      ratings: pd.DataFrame | None = None) -> Catalogue:
    """Clean copies of products (and ratings' review text), the data's price policy and the text check.

    The inputs are not modified. Product ids become text.
    """
    prods = products.copy()
    prods["product_id"] = prods["product_id"].astype(str)
    prods, changed = sanitise_products(prods)
    cleaned = {f"products.{k}": v for k, v in changed.items()}
    rat = None
    if ratings is not None:
        rat, rchanged = sanitise_frame(ratings, ["review_text"])
        cleaned.update({f"ratings.{k}": v for k, v in rchanged.items()})
    return Catalogue(products=prods, prices=price_format(meta), text=text_check(prods, locale), ratings=rat,
                     cleaned=cleaned)


@dataclass
class ModelPlan:
    """Whether GPT-2 copy is generated, and whether the model is trained / fine-tuned on the catalogue."""

    generate: bool
    train: bool
    reason: str = ""  # why not (empty when both)


def plan_model(settings: "Settings", text: TextCheck) -> ModelPlan:
    if settings.model == "embedded":
        if text.ok:
            return ModelPlan(True, True)
        return ModelPlan(False, False, f"{text.reason[:1].upper()}{text.reason[1:]}; the embedded model learns "
                                       "to write from the catalogue's own descriptions, and no pretrained checkpoint "
                                       "was given (parameter `model`). Only the template baseline is published.")
    if text.ok or not settings.finetune_steps:
        return ModelPlan(True, bool(settings.finetune_steps))
    return ModelPlan(True, False, f"the pretrained model is used as it is, not fine-tuned: {text.reason}")


def catalogue_lexicon(catalogue: Catalogue, locale: str, templates: PromptTemplates,
                      corpus: pd.DataFrame | None = None, personas: Sequence[Mapping[str, Any]] = (),
                      cm: CopyModel | None = None):
    """The faithfulness lexicon: attribute values, titles, the price policy and the reference vocabulary
    (catalogue text, training copy, template text, persona names). With a pretrained model ``cm`` GPT-2's own
    words count as words too; the embedded model (or none) is held to the reference vocabulary."""
    from contentlab.generate.scoring import AttributeLexicon

    ref: list[str] = []
    if corpus is not None and len(corpus):
        ref.extend(corpus["target"].astype(str))
    ref.extend(_strings(templates.spec))
    ref.extend(templates.persona_name(p) for p in personas)
    if catalogue.prices.currency:
        ref.append(catalogue.prices.currency)
    return AttributeLexicon(catalogue.products, locale, prices=catalogue.prices, reference_texts=ref,
                            open_vocabulary=cm is not None and cm.kind != "embedded")


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [re.sub(r"\{[^}]*\}", " ", obj)]
    if isinstance(obj, Mapping):
        return [t for v in obj.values() for t in _strings(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _strings(v)]
    return []


def build_model(products: pd.DataFrame, inputs: Inputs, templates: PromptTemplates, settings: Settings,
                progress: bool = True, train: bool = True) -> tuple[CopyModel, pd.DataFrame, float]:
    """(copy model, training corpus, seconds spent training in this call: 0 when cached or pretrained).

    ``train`` False (see :func:`plan_model`): a pretrained model is not fine-tuned."""
    corpus = build_corpus(products, templates, inputs.personas, channels=settings.channels,
                          heldout_share=settings.heldout_share, seed=settings.seed,
                          delexicalise=settings.delexicalise and settings.model == "embedded")
    t0 = time.perf_counter()
    cm = fit_copy_model(corpus, model=settings.model, size=settings.model_size, train=settings.train_config(),
                        finetune_steps=settings.finetune_steps if train else 0, cache=settings.cache, progress=progress)
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
        ended = res.ended or [[True] * len(t) for t in res.texts]
        for slot, texts, counts, ends in zip(g.to_dict(orient="records"), res.texts, res.n_tokens, ended):
            product = by_id[str(slot["product_id"])]
            for k, (raw, n, end) in enumerate(zip(texts, counts, ends)):
                copies += 1
                text = templates.relexicalise(raw, product) if relex else raw
                truncated = False
                if not end:  # cut at the token limit: keep the complete sentences, if any
                    text, truncated = complete_sentences(text, templates.locale)
                rows.append({**slot, "variant": "gpt2", "candidate": k, "text": text, "raw_text": raw, "n_tokens": n,
                             "truncated": truncated})
    stats = {"tokens": tokens, "seconds": seconds, "copies": copies,
             "tokens_per_s": tokens / seconds if seconds else float("nan"),
             "copies_per_s": copies / seconds if seconds else float("nan")}
    return pd.DataFrame(rows), stats


_SENT_END = re.compile(r"(?:[.!?](?=[\s\"'”’)）]|$)|[。！？])[\"'”’)）]*")


def complete_sentences(text: str, locale: str = "en") -> tuple[str, bool]:
    """(the text up to its last sentence end, True when there was none: the whole text is a cut sentence)."""
    text = (text or "").strip()
    ends = list(_SENT_END.finditer(text))
    if not ends:
        return text, bool(text)
    return text[: ends[-1].end()].strip(), False


_LAST = re.compile(r"\[\w+\]|[^\W_]+", re.UNICODE)
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _last_word(text: str) -> str:
    words = _LAST.findall(text or "")
    if not words:
        return ""
    last = words[-1].lower()
    cjk = _CJK_CHAR.findall(last)
    return cjk[-1] if cjk else last


def copy_endings(corpus: pd.DataFrame | None) -> set[str]:
    """Words that end a sentence or a whole copy in the training copy (the form the model writes: with
    placeholders when delexicalised). GPT-2 copy that ends on any other word stopped mid-phrase."""
    if corpus is None or not len(corpus):
        return set()
    col = "model_target" if "model_target" in corpus.columns else "target"
    out: set[str] = set()
    for text in corpus[col].astype(str):
        out.add(_last_word(text))
        for part in re.split(r"(?:[.!?](?=\s|$)|[。！？])", text):
            out.add(_last_word(part))
    out.discard("")
    return out


def template_candidates(slots: pd.DataFrame, products: pd.DataFrame, personas: Mapping[str, Mapping],
                        templates: PromptTemplates) -> pd.DataFrame:
    out = baseline_for_slots(slots, products, personas, templates)
    by_id = _products_by_id(products)
    out["prompt"] = [templates.model_prompt(personas.get(str(s.persona_id)), by_id[str(s.product_id)], s.channel)
                     for s in out.itertuples()]
    out["n_tokens"] = np.nan
    out["truncated"] = False
    return out


def score_candidates(cands: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates, guardrails: Guardrails,
                     lexicon: AttributeLexicon, index: NGramIndex | None, cm: CopyModel | None, locale: str,
                     user_ids: set[str] | None = None, threads: int = 2, delexicalised: bool = False,
                     endings: set[str] | None = None) -> pd.DataFrame:
    """Scores every candidate and decides rejection (the reasons are in the module docstring).

    ``endings`` (:func:`copy_endings` of the training corpus): GPT-2 copy whose last word never ends a sentence
    or a copy in the training copy stopped mid-phrase ("... for long") and is rejected as ``truncated``.

    With ``delexicalised`` (the model was trained on copy with placeholders) perplexity is measured
    on the placeholder form of each copy, the form the model actually writes.
    """
    by_id = _products_by_id(products)
    df = cands.reset_index(drop=True).copy()
    if "truncated" not in df.columns:
        df["truncated"] = False
    cov, hall, wrong, len_ok, bleu, rouge, over, regur, reasons, terms = ([] for _ in range(10))
    for r in df.itertuples():
        product = by_id[str(r.product_id)]
        text = r.text if isinstance(r.text, str) else ""
        f = faithfulness(text, product, lexicon)
        cov.append(f.coverage)
        hall.append(f.hallucinated)
        wrong.append(";".join(f.wrong))
        fits = templates.length_ok(text, r.channel)
        len_ok.append(fits)
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
        broken = copy_problems(text, locale, [product.get(k) for k in RECORD_TEXT])
        if "min_words" in templates.channels[r.channel] and text.strip() and not _SENT_END.search(text.strip()[-3:]):
            broken.append("blurb does not end with a full sentence")
        if "\ufffd" in text or "[" in text or "]" in text or broken:
            why.append("malformed")  # bytes that form no character, a broken placeholder, a broken sentence
            found.extend(f"malformed:{b}" for b in broken)
        if bool(r.truncated):
            why.append("truncated")
            found.append("cut at the token limit, no complete sentence")
        elif endings and getattr(r, "variant", "") == "gpt2" and text.strip():
            raw = getattr(r, "raw_text", None)
            last = _last_word(raw if delexicalised and isinstance(raw, str) else text)
            if last and last not in endings:
                why.append("truncated")
                found.append(f"ends mid-phrase (on {last!r}, which ends no training copy)")
        if f.hallucinated:
            why.append("hallucination")
            found.extend(f.wrong)
        if text.strip() and not fits:
            why.append("length")
            found.append(f"length:{templates.text_length(text)} {templates.length_unit}, {len(text)} chars "
                         f"({templates.constraint_text(r.channel)})")
        markup = markup_problems(text)
        if markup:
            why.append("markup")
            found.extend(f"markup:{m}" for m in markup)
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
    df["perplexity"] = np.nan
    if cm is not None and len(df):
        if delexicalised:
            raw = df["raw_text"] if "raw_text" in df.columns else pd.Series([None] * len(df))
            ppl_texts = [r if isinstance(r, str) else templates.delexicalise(t, by_id[str(pid)])
                         for r, t, pid in zip(raw, df["text"], df["product_id"])]
        else:
            ppl_texts = df["text"].tolist()
        df["perplexity"] = copy_perplexity(cm, df["prompt"].tolist(), ppl_texts, threads=threads)
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
    """One row per variant: every metric, over all candidates (before filtering) and over published copy.

    ``length_compliance`` is over the candidates; ``published_length_compliance`` over the published copy (copy
    outside its channel's length rule is rejected, so it is 1.0 whenever anything is published).
    """
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
            "published_length_compliance": _mean(pub["length_ok"]),
            "regurgitation_rate": _mean(g["regurgitated"]), "perplexity_median": _mean([g["perplexity"].median()]),
            "bleu": _mean(g["bleu"]), "rouge_l": _mean(g["rouge_l"]),
            "distinct_1": distinct_n(pub["text"], 1, locale), "distinct_2": distinct_n(pub["text"], 2, locale),
            "self_bleu": _mean(div["self_bleu"]),
            "published_coverage": _mean(pub["attribute_coverage"]),
        })
    return pd.DataFrame(rows)


def channel_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Per channel and variant: candidates, published, length compliance of candidates and of published copy,
    faithfulness and rejection rates (all shares of the candidates unless named ``published_``)."""
    rows = []
    for (ch, variant), g in scored.groupby(["channel", "variant"], sort=True):
        pub = g[g["published"]]
        rows.append({"channel": ch, "variant": variant, "candidates": len(g), "published": len(pub),
                     "length_compliance": _mean(g["length_ok"]), "published_length_compliance": _mean(pub["length_ok"]),
                     "attribute_coverage": _mean(g["attribute_coverage"]), "hallucination_rate": _mean(g["hallucinated"]),
                     "rejected_rate": _mean(g["rejected"]),
                     "median_length_chars": _mean([g["text"].fillna("").str.len().median()])})
    return pd.DataFrame(rows, columns=["channel", "variant", "candidates", "published", "length_compliance",
                                       "published_length_compliance", "attribute_coverage", "hallucination_rate",
                                       "rejected_rate", "median_length_chars"])


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


def metrics(scored: pd.DataFrame, slots: pd.DataFrame, cm: CopyModel | None, gen_stats: Mapping[str, float] | None,
            train_seconds: float | None, locale: str) -> dict[str, Any]:
    """The recorded metrics (names fixed by the issue), computed from the scored candidate table.

    GPT-2 coverage / hallucination / rejection rates are over *all* GPT-2 candidates (before
    filtering: after it hallucination is zero by construction); diversity is over published GPT-2 copy.
    A figure that cannot be computed is None, never NaN: without GPT-2 copy (``cm`` None: the catalogue had
    no descriptive text, see :func:`plan_model`) ``model`` and every GPT-2 metric (:data:`GPT2_METRICS`) are
    None; ``attribute_coverage`` is None when no product has a category, colour, material or brand.
    """
    gpt = scored[scored["variant"] == "gpt2"] if len(scored) else scored
    tpl = scored[scored["variant"] == "template"] if len(scored) else scored
    pub = gpt[gpt["published"]] if len(gpt) else gpt
    copies = scored[scored["published"]] if len(scored) else scored
    out: dict[str, Any] = {
        "model": cm.name if cm is not None else None,
        "n_slots": int(slots["slot_id"].nunique()),
        "n_copies": int(len(copies)),
        "attribute_coverage": None, "hallucination_rate": None,
        "template_hallucination_rate": _none(_mean(tpl["hallucinated"])) if len(tpl) else None,
        "distinct_2": None, "self_bleu": None, "rejected_rate": None, "heldout_perplexity": None,
        "tokens_per_s": None, "train_seconds": None,
    }
    if cm is not None and len(gpt):
        div = diversity_by_segment(pub, locale)
        out.update({
            "attribute_coverage": _none(_mean(gpt["attribute_coverage"])),
            "hallucination_rate": _none(_mean(gpt["hallucinated"])),
            "distinct_2": _none(distinct_n(pub["text"], 2, locale)),
            "self_bleu": _none(_mean(div["self_bleu"])),
            "rejected_rate": _none(_mean(gpt["rejected"])),
            "heldout_perplexity": _none(float(cm.info.get("heldout_perplexity", float("nan")))),
            "tokens_per_s": _none(float((gen_stats or {}).get("tokens_per_s", float("nan")))),
            "train_seconds": float(train_seconds or 0.0),
        })
    return out


def _none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def coverage_note(products: pd.DataFrame) -> str:
    """Why attribute coverage cannot be computed ("" when it can)."""
    from contentlab.generate.scoring import ATTRIBUTE_TYPES

    present = [t for t in ATTRIBUTE_TYPES if t in products.columns and products[t].map(clean_text).astype(bool).any()]
    if present:
        return ""
    return "no product has a " + ", ".join(ATTRIBUTE_TYPES[:-1]) + f" or {ATTRIBUTE_TYPES[-1]} to cover"


def fmt_metric(value: Any, spec: str = ".0%", why: str = "") -> str:
    """A figure for the report: formatted, or "n/a" with the reason (never "nan")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"n/a ({why})" if why else "n/a"
    return format(value, spec)


COMPARED = (  # (metric, higher is better, label, shown as a percentage)
    ("hallucination_rate", False, "Hallucination (share of candidates naming a wrong attribute, price, title or a non-word)", True),
    ("attribute_coverage", True, "Attribute coverage", True),
    ("rejected_rate", False, "Rejected by scoring and guardrails", True),
    ("length_compliance", True, "Channel length compliance of the candidates", True),
    ("distinct_2", True, "distinct-2 of published copy", False),
    ("self_bleu", False, "Self-BLEU within a segment (lower = more varied)", False),
    ("regurgitation_rate", False, "Verbatim regurgitation of training copy", True),
    ("rouge_l", True, "ROUGE-L against the product description", False),
)


def variant_lines(comparison: pd.DataFrame) -> tuple[list[str], list[str]]:
    """("- label: GPT-2 x vs template y — GPT-2 is **better/worse**." per comparable measure, the worse ones).

    A measure that cannot be computed for either variant is left out; without GPT-2 copy there is nothing to
    compare (two empty lists).
    """
    g = comparison.set_index("variant") if len(comparison) else pd.DataFrame()
    if not {"gpt2", "template"} <= set(g.index):
        return [], []
    lines = []
    for metric, higher, label, pct in COMPARED:
        a, b = g.loc["gpt2", metric], g.loc["template", metric]
        if pd.isna(a) or pd.isna(b):
            continue
        fmt = (lambda x: f"{x:.1%}") if pct else (lambda x: f"{x:.3f}")
        if abs(a - b) < 1e-9:
            lines.append(f"- {label}: the same for both ({fmt(a)}).")
            continue
        better = (a > b) == higher
        lines.append(f"- {label}: GPT-2 {fmt(a)} vs template {fmt(b)} — GPT-2 is **{'better' if better else 'worse'}**.")
    return lines, [line for line in lines if "**worse**" in line]


def summary_lines(m: Mapping[str, Any], scored: pd.DataFrame, comparison: pd.DataFrame, plan: ModelPlan,
                  catalogue: Catalogue, threads: int, worse: Sequence[str] = (), n_measures: int = 0,
                  priors_used: str = "") -> list[str]:
    """The report's summary bullets (Markdown; data strings are not included)."""
    lines: list[str] = []
    pub = scored[scored["published"]]
    by_var = pub.groupby("variant").size().to_dict()
    channels = sorted(scored["channel"].unique()) if len(scored) else []
    lines.append(f"- **{m['n_copies']} copies published** for {m['n_slots']} slots (persona × product × channel): "
                 + ", ".join(f"{by_var.get(v, 0)} {'GPT-2' if v == 'gpt2' else 'template'}" for v in VARIANTS) + ".")
    empty_channels = [c for c in channels if not (pub["channel"] == c).any()]
    for ch in empty_channels:
        g = scored[scored["channel"] == ch]
        reasons = g["reject_reason"].str.split(";").explode()
        reasons = reasons[reasons != ""].value_counts()
        top = ", ".join(f"{r} ({n})" for r, n in reasons.head(3).items())
        lines.append(f"- No {ch.replace('_', '-')} copy published: all {len(g)} candidates rejected"
                     + (f" ({top})." if top else "."))
    if m.get("model") is None:
        lines.append(f"- **No GPT-2 copy.** {plan.reason}")
    else:
        cov_why = coverage_note(catalogue.products)
        gp = comparison.set_index("variant") if len(comparison) else pd.DataFrame()
        hall_t = gp.loc["template", "hallucination_rate"] if "template" in gp.index else None
        train = (f"trained in {m['train_seconds']:.0f} s" if (m.get("train_seconds") or 0) > 0
                 else "checkpoint reused, no training" if plan.train else "pretrained, not fine-tuned")
        lines.append(f"- Model `{m['model']}` (held-out perplexity {fmt_metric(m['heldout_perplexity'], '.2f', 'no held-out copy')}; "
                     f"{train}).")
        lines.append(f"- GPT-2 candidates: attribute coverage {fmt_metric(m['attribute_coverage'], '.0%', cov_why)}, "
                     f"hallucination {fmt_metric(m['hallucination_rate'])} (template baseline {fmt_metric(hall_t)}); "
                     f"{fmt_metric(m['rejected_rate'])} rejected by scoring and guardrails.")
        lines.append(f"- Diversity of published GPT-2 copy: distinct-2 {fmt_metric(m['distinct_2'], '.2f', 'no published GPT-2 copy')}, "
                     f"self-BLEU {fmt_metric(m['self_bleu'], '.2f', 'fewer than two published copies per segment')}; "
                     f"generation {fmt_metric(m['tokens_per_s'], '.0f')} tokens/s on {threads} threads.")
        if plan.reason:
            lines.append(f"- Note: {plan.reason}")
    if worse:
        lines.append(f"- GPT-2 is worse than the template baseline on {len(worse)} of {n_measures} measures "
                     "(see “Where each variant stands”), notably " + worse[0][2:].split(":")[0].lower() + ".")
    lines.append(f"- Prices: {catalogue.prices.describe()}.")
    if priors_used:
        lines.append(f"- Variant mix: {priors_used}.")
    return lines


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not (isinstance(x, float) and math.isnan(x))

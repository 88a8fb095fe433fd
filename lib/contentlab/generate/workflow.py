"""The steps of stage 04, as functions: catalogue checks, model, candidates, scoring and filtering, selection.

:func:`contentlab.generate.stage.run_generate` calls them in order; tests call them on small data. What the report
says about their results (tables, recorded metrics, summary) is :mod:`contentlab.generate.evaluation`.

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
  template baseline is published, and the GPT-2 metrics are recorded as None
  (see :func:`contentlab.generate.evaluation.metrics`).

Rejection (:func:`score_candidates`): a candidate is rejected, with every reason that applies, when it is
``empty``, ``malformed`` (a broken placeholder, undecodable bytes, a broken sentence by
:func:`~contentlab.generate.prompts.copy_problems`, or a product-page blurb that does not end with a full
sentence), ``disfluent`` (GPT-2 copy the independent fluency judge, :mod:`contentlab.generate.fluency`, finds unlike
the catalogue's reference copy or broken), ``truncated`` (cut at the token limit with no complete sentence to keep,
GPT-2 copy that does not end at a sentence boundary, or ending on a word that
ends no sentence of the training copy: "... made for long"), a ``hallucination`` (:func:`~contentlab.generate.scoring.faithfulness`), outside its
channel's ``length`` rule (the same rule length compliance measures: push and email characters, the product-page
word range; GPT-2 copy over a push or email limit first keeps its leading complete sentences that fit), contains ``markup`` (:func:`~contentlab.generate.sanitise.markup_problems`), or breaks a guardrail.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from contentlab.generate.baseline import baseline_for_slots
from contentlab.generate.config import GenerateConfig
from contentlab.generate.constrain import ProductConstraint, TermIndex
from contentlab.generate.decode import copy_perplexity, generate
from contentlab.generate.fluency import FluencyJudge
from contentlab.generate.guardrails import Guardrails
from contentlab.generate.inputs import StageInputs
from contentlab.generate.lexicon import CatalogueLexicon
from contentlab.generate.model import EMBEDDED, CopyModel
from contentlab.generate.prices import PriceFormat, price_format
from contentlab.generate.prompts import CHANNELS, PromptTemplates, copy_problems
from contentlab.generate.sanitise import clean_text, markup_problems, sanitise_frame, sanitise_products
from contentlab.generate.scoring import AttributeLexicon, NGramIndex, faithfulness, quality_score, reference_scores
from contentlab.generate.style import GENERAL
from contentlab.generate.train import build_corpus, fit_copy_model
from contentlab.priors import copy_signals, favourite_words, policy_of, rerank_score, segment_policy

VARIANTS = ("gpt2", "template")  # the GPT-2 copy and the rule-based template baseline
MIN_DESCRIPTION_WORDS = {"en": 8, "zh": 16}  # words (en) / characters (zh) for a product to count as described
MIN_DESCRIBED_SHARE = 0.5
MIN_VOCABULARY = 100
RECORD_TEXT = ("title", "category", "product_type", "brand", "colour", "material", "style", "description")


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


def plan_model(settings: GenerateConfig, text: TextCheck) -> ModelPlan:
    if settings.model == EMBEDDED:
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
    ref: list[str] = []
    if corpus is not None and len(corpus):
        ref.extend(corpus["target"].astype(str))
    ref.extend(_strings(templates.spec))
    ref.extend(templates.persona_name(p) for p in personas)
    if catalogue.prices.currency:
        ref.append(catalogue.prices.currency)
    return AttributeLexicon(catalogue.products, locale, prices=catalogue.prices, reference_texts=ref,
                            open_vocabulary=cm is not None and cm.kind != "embedded",
                            generic_texts=_strings(templates.spec))


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [re.sub(r"\{[^}]*\}", " ", obj)]
    if isinstance(obj, Mapping):
        return [t for v in obj.values() for t in _strings(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _strings(v)]
    return []


def build_model(products: pd.DataFrame, inputs: StageInputs, templates: PromptTemplates, settings: GenerateConfig,
                progress: bool = True, train: bool = True) -> tuple[CopyModel, pd.DataFrame, float]:
    """(copy model, training corpus, seconds spent training in this call: 0 when cached or pretrained).

    ``train`` False (see :func:`plan_model`): a pretrained model is not fine-tuned."""
    corpus = build_corpus(products, templates, inputs.personas, channels=settings.channels,
                          heldout_share=settings.heldout_share, seed=settings.seed,
                          delexicalise=settings.relexicalise)
    t0 = time.perf_counter()
    cm = fit_copy_model(corpus, model=settings.model, size=settings.model_size, train=settings.train_config(),
                        finetune_steps=settings.finetune_steps if train else 0, cache=settings.use_cache,
                        progress=progress)
    spent = time.perf_counter() - t0 if cm.info.get("trained") and not cm.info.get("cached") else 0.0
    return cm, corpus, spent


def _products_by_id(products: pd.DataFrame) -> dict[str, dict]:
    return {str(k): dict(v, product_id=str(k)) for k, v in products.set_index(products["product_id"].astype(str)).to_dict(orient="index").items()}


def generate_candidates(cm: CopyModel, slots: pd.DataFrame, products: pd.DataFrame, personas: Mapping[str, Mapping],
                        templates: PromptTemplates, settings: GenerateConfig,
                        constrain: bool = True) -> tuple[pd.DataFrame, dict[str, float]]:
    """GPT-2 candidates for every slot (``n_candidates`` each), generated per channel in batches.

    With ``constrain`` (the default) every candidate is faithful by construction: the decoder cannot write a
    term of another product (type, category, brand, colour, material, style), a digit its record does not hold
    or a currency (:func:`slot_constraints`, :mod:`contentlab.generate.constrain`). ``False`` only to measure
    what the constraint prevents."""
    by_id = _products_by_id(products)
    slots = slots.reset_index(drop=True)
    slots["prompt"] = [templates.model_prompt(personas.get(str(s.persona_id)), by_id[str(s.product_id)], s.channel,
                                              style=getattr(s, "style", None))
                       for s in slots.itertuples()]
    rows = []
    relex = settings.relexicalise
    t0 = time.perf_counter()
    constraints = slot_constraints(cm, slots, products, templates, relex) if constrain else None
    build_seconds = time.perf_counter() - t0
    tokens, seconds, copies = 0, 0.0, 0
    for ch, g in slots.groupby("channel", sort=False):
        lo, hi = templates.new_tokens(ch)
        res = generate(cm, g["prompt"].tolist(), settings.sampling(), batch_size=settings.gen_batch_size,
                       seed=settings.seed + CHANNELS.index(ch) if ch in CHANNELS else settings.seed,
                       threads=settings.threads, max_new_tokens=hi, min_new_tokens=lo,
                       constraints=None if constraints is None else [constraints[i] for i in g.index])
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
             "copies_per_s": copies / seconds if seconds else float("nan"),
             "constrained": bool(constrain), "constraint_build_seconds": build_seconds}
    return pd.DataFrame(rows), stats


def slot_constraints(cm: CopyModel, slots: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates,
                     relexicalised: bool) -> dict[Any, ProductConstraint]:
    """The decoding constraint of every slot (by ``slots``' index): its product's own terms and digits, from the
    catalogue lexicon. Words of the templates are generic. A model that writes placeholders
    (``relexicalised``) writes a price only as ``[price]``: no currency, no digit of the price; a pretrained
    model may name the shown price in the data's currency."""
    by_id = _products_by_id(products)
    lexicon = CatalogueLexicon(products, templates.locale, generic_texts=_strings(templates.spec))
    index = TermIndex.build(lexicon, cm.vocab)
    show = bool(templates.prices.show) and not relexicalised
    out: dict[Any, ProductConstraint] = {}
    made: dict[str, ProductConstraint] = {}
    for i, pid in zip(slots.index, slots["product_id"].astype(str)):
        if pid not in made:
            product = by_id[pid]
            price = templates.format_price(product.get("price")) if show else ""
            made[pid] = index.constraint(product, allow_currency=show and bool(price), allowed_text=[price])
        out[i] = made[pid]
    return out


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
    out["prompt"] = [templates.model_prompt(personas.get(str(s.persona_id)), by_id[str(s.product_id)], s.channel,
                                            style=getattr(s, "style", None))
                     for s in out.itertuples()]
    out["n_tokens"] = np.nan
    out["truncated"] = False
    return out


def fluency_judge(products: pd.DataFrame, templates: PromptTemplates, seed: int = 0) -> FluencyJudge | None:
    """The independent fluency judge (:mod:`contentlab.generate.fluency`) fitted on the catalogue's descriptions,
    delexicalised with each product's own values; None when there are too few descriptions to fit it on."""
    if "description" not in products.columns:
        return None
    ref = [templates.delexicalise(d, rec) for rec in products.to_dict(orient="records")
           if isinstance(d := rec.get("description"), str) and d.strip()]
    try:
        return FluencyJudge.fit(ref, templates.locale, seed=seed)
    except ValueError:
        return None


def fit_channel(text: str, channel: str, templates: PromptTemplates) -> tuple[str, bool]:
    """GPT-2 copy over its channel's hard limit keeps its leading complete sentences that fit: (text, trimmed).
    Unchanged when it fits, or when not even its first complete sentence does (it is then rejected for length)."""
    if templates.hard_limit_ok(text, channel):
        return text, False
    kept = ""
    sep = "" if templates.locale == "zh" else " "
    for s in templates.sentences(text):
        candidate = (kept + sep + s) if kept else s
        if not templates.complete_sentence(s) or not templates.hard_limit_ok(candidate, channel):
            break
        kept = candidate
    return (kept, True) if kept else (text, False)


def score_candidates(cands: pd.DataFrame, products: pd.DataFrame, templates: PromptTemplates, guardrails: Guardrails,
                     lexicon: AttributeLexicon, index: NGramIndex | None, cm: CopyModel | None, locale: str,
                     user_ids: set[str] | None = None, threads: int = 2, delexicalised: bool = False,
                     endings: set[str] | None = None, fluency: FluencyJudge | None = None) -> pd.DataFrame:
    """Scores every candidate and decides rejection (the reasons are in the module docstring).

    ``endings`` (:func:`copy_endings` of the training corpus): GPT-2 copy whose last word never ends a sentence
    or a copy in the training copy stopped mid-phrase ("... for long") and is rejected as ``truncated``.

    ``fluency``: the independent fluency judge (default: :func:`fluency_judge` of ``products``). Every candidate gets
    ``fluent``, ``fluency_score`` (bits per token under the reference model) and ``fluency_reasons``; GPT-2 copy
    judged not fluent is rejected as ``disfluent``, and GPT-2 copy that does not end at a sentence boundary as
    ``truncated``. GPT-2 copy over its channel's hard limit first keeps its leading complete sentences that fit
    (``trimmed``, :func:`fit_channel`). The template baseline's push and email copy are fragments by design
    ("Black down jacket by Northpeak, $120.99"): they are judged and recorded, not rejected for it.

    With ``delexicalised`` (the model was trained on copy with placeholders) perplexity is measured
    on the placeholder form of each copy, the form the model actually writes.
    """
    by_id = _products_by_id(products)
    df = cands.reset_index(drop=True).copy()
    if "truncated" not in df.columns:
        df["truncated"] = False
    if "style" not in df.columns:
        df["style"] = GENERAL
    df["style"] = df["style"].fillna(GENERAL).astype(str)
    judge = fluency if fluency is not None else fluency_judge(products, templates)
    df["trimmed"] = False
    if len(df) and "variant" in df.columns:
        for i in df.index[df["variant"] == "gpt2"]:
            text = df.at[i, "text"] if isinstance(df.at[i, "text"], str) else ""
            fitted, trimmed = fit_channel(text, df.at[i, "channel"], templates)
            if trimmed:
                df.at[i, "text"], df.at[i, "trimmed"] = fitted, True
                if "raw_text" in df.columns:  # the kept sentences in the model's (placeholder) form
                    df.at[i, "raw_text"] = templates.delexicalise(fitted, by_id[str(df.at[i, "product_id"])])
    cov, hall, wrong, len_ok, bleu, rouge, over, regur, reasons, terms = ([] for _ in range(10))
    fluent, fl_score, fl_reasons = [], [], []
    for r in df.itertuples():
        product = by_id[str(r.product_id)]
        text = r.text if isinstance(r.text, str) else ""
        is_gpt2 = getattr(r, "variant", "") == "gpt2"
        values = [product.get(k) for k in RECORD_TEXT]
        if judge is not None and text.strip():
            j = judge.judge(text, lm_text=templates.delexicalise(text, product), values=values)
            fluent.append(j.fluent)
            fl_score.append(j.score)
            fl_reasons.append("; ".join(j.reasons))
        else:
            fluent.append(None if judge is None else False)
            fl_score.append(np.nan)
            fl_reasons.append("no reference copy to judge against" if judge is None else "empty")
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
        broken.extend(f.nonwords)  # garbled words: malformed copy
        if "\ufffd" in text or "[" in text or "]" in text or broken:
            why.append("malformed")  # bytes that form no character, a broken placeholder, a broken sentence
            found.extend(f"malformed:{b}" for b in broken)
        if is_gpt2 and judge is not None and text.strip() and not fluent[-1]:
            why.append("disfluent")
            found.append(f"disfluent:{fl_reasons[-1]}")
        if bool(r.truncated):
            why.append("truncated")
            found.append("cut at the token limit, no complete sentence")

        elif endings and getattr(r, "variant", "") == "gpt2" and text.strip():
            raw = getattr(r, "raw_text", None)
            last = _last_word(raw if delexicalised and isinstance(raw, str) else text)
            if last and last not in endings:
                why.append("truncated")
                found.append(f"ends mid-phrase (on {last!r}, which ends no training copy)")
        if is_gpt2 and text.strip() and not templates.complete_sentence(text):
            if "truncated" not in why:
                why.append("truncated")
            found.append("does not end at a sentence boundary")
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
    df["fluent"] = pd.array(fluent, dtype="boolean")
    df["fluency_score"] = fl_score
    df["fluency_reasons"] = fl_reasons
    # how much of the copy speaks to the slot's copy style: the share of its sentences of that aspect
    if "style" in df.columns:
        df["on_style"] = [_on_style(t, st, by_id.get(str(pid)), templates)
                          for t, st, pid in zip(df["text"], df["style"], df["product_id"])]
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
    df["quality"] = [quality_score(c, ok, p, g) for c, ok, p, g in
                     zip(df["attribute_coverage"], df["length_ok"], df["perplexity"], df["regurgitated"])]
    return df


def _on_style(text: Any, style: Any, product: Mapping[str, Any] | None, templates: PromptTemplates) -> float:
    from contentlab.generate.style import sentence_style

    sents = templates.sentences(text) if isinstance(text, str) and text.strip() else []
    if not sents or not isinstance(style, str) or not style:
        return float("nan")
    return sum(sentence_style(x, product, templates.locale) == style for x in sents) / len(sents)


MIN_MEASURED_IMPRESSIONS = 100  # a candidate shown this often under the policy is ranked by what it measured


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def rerank_by_policy(scored: pd.DataFrame, priors: dict | None, personas: Sequence[Mapping[str, Any]] = ()
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Adds ``policy_score``: a candidate's click log-odds relative to its segment's average copy under the previous
    cycle's policy. A candidate the previous campaigns showed at least ``MIN_MEASURED_IMPRESSIONS`` times in the
    policy's context (the policy's ``copy_stats``; the same text for the same slot has the same content id) scores
    what it measured (posterior mean CTR against the segment x channel's); any other candidate scores what the
    policy's ``rerank_weights`` (the copy-feature effects 05 estimated) predict from its copy signals
    (:func:`contentlab.priors.copy_signals`) and its scores. 0 without a policy. :func:`select_best` publishes the
    accepted candidate with the highest policy score, quality breaking ties. Returns the table and notes."""
    df = scored.copy()
    df["policy_score"] = 0.0
    policy = policy_of(priors)
    if policy is None or not len(df):
        return df, []
    fav = favourite_words(list(personas))
    notes = []
    for seg, idx in df.groupby(df["segment"].astype(str)).groups.items():
        sp = segment_policy(policy, seg)
        weights, stats = sp["rerank_weights"], sp["copy_stats"]
        if not weights and not stats:
            continue
        base = {ch: _logit(sum(v[1] for v in st.values()) / max(sum(v[0] for v in st.values()), 1))
                for ch, st in stats.items() if st}
        vals, measured = [], 0
        for r in df.loc[idx].to_dict(orient="records"):
            cid = content_id(r.get("persona_id"), r.get("product_id"), r.get("channel"), r.get("variant"),
                             r.get("candidate"), r.get("text"))
            n, k = (stats.get(str(r.get("channel"))) or {}).get(cid, [0, 0])
            if n >= MIN_MEASURED_IMPRESSIONS and str(r.get("channel")) in base:
                vals.append(_logit((k + 1.0) / (n + 2.0)) - base[str(r.get("channel"))])
                measured += 1
                continue
            f = copy_signals(r.get("text"), fav.get(seg, []))
            f.update({key: float(v) for key, v in r.items() if key in weights and key not in f
                      and isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)})
            vals.append(rerank_score(weights, f))
        df.loc[idx, "policy_score"] = vals
        named = ", ".join(f"{key} {w['coef']:+.2f}" for key, w in sorted(weights.items())) or "no proven copy feature"
        notes.append(f"{seg}: {measured} candidate(s) ranked by the click-through they measured under the policy, "
                     f"the others by {named} (click log-odds, from run {policy.get('learned_from', '?')})")
    return df, notes


def select_best(scored: pd.DataFrame) -> pd.DataFrame:
    """Marks the published copy: per slot, the accepted GPT-2 candidate that speaks most to the slot's copy style
    (``on_style``: the persona's style is what its copy is for), then the highest ``policy_score`` (when the
    previous cycle's policy reranks), then the highest quality, the more fluent, the first; and the template copy if
    accepted."""
    df = scored.copy()
    df["selected"] = False
    if "policy_score" not in df:
        df["policy_score"] = 0.0
    ok = df[~df["rejected"]]
    if len(ok):
        # (column, ascending): more on-style, higher policy score, higher quality, fewer bits per token, the first
        order = [(k, asc) for k, asc in (("on_style", False), ("policy_score", False), ("quality", False),
                                         ("fluency_score", True), ("candidate", True)) if k in ok.columns]
        best = ok.sort_values([k for k, _ in order], ascending=[a for _, a in order], kind="stable",
                              na_position="last").groupby(
            ["slot_id", "variant"], sort=False).head(1).index
        df.loc[best, "selected"] = True
    df["published"] = df["selected"] & ~df["rejected"]
    return df


def content_id(*parts: Any) -> str:
    return "c_" + hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:12]

"""Extractive review digests: the most central positive and negative review sentences per product.

Reviews (``ratings.review_text``) are split into sentences. A sentence's polarity follows its
review's stars (4-5 positive, 1-2 negative); sentences of 3-star reviews, and sentences whose
wording clearly contradicts the stars, are decided by a small cue lexicon. Within each product and
polarity, sentences are ranked by TF-IDF centrality (mean cosine similarity to the other sentences:
the sentence that says what most reviewers say); near-duplicates are skipped. The social-proof line
for content cards quotes the top positive sentence that passes the guardrails, with the review
count and mean rating.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from contentlab.generate.scoring import is_zh

_SPLIT_EN = re.compile(r"(?<=[.!?])\s+")
_SPLIT_ZH = re.compile(r"(?<=[。！？!?])")
POS_CUES = {
    "en": ("great", "love", "nice", "comfortable", "recommend", "quick", "value", "better", "soft", "happy", "well made",
           "goes with everything", "exactly", "fits well", "sturdy", "fast"),
    "zh": ("good", "好", "喜欢", "推荐", "值", "快", "百搭", "舒服", "满意", "耐用", "合身", "给力", "回购"),
}
NEG_CUES = {
    "en": ("not ", "disappoint", "poor", "broke", "returned", "return it", "worse", "too small", "too big", "too large",
           "late", "slow", "faded", "average", "cheap", "smaller than", "different from", "wrong", "waste", "does the job"),
    "zh": ("不", "失望", "差", "一般", "退货", "慢", "没有", "色差", "起球", "偏小", "偏大", "凑合"),
}

NEGATED_POSITIVE = {"en": ("not bad", "can't fault", "cannot fault"), "zh": ("不错", "不得不说", "挑不出", "没有色差", "不起球")}


def split_sentences(text: str, locale: str = "en") -> list[str]:
    pattern = _SPLIT_ZH if is_zh(locale) else _SPLIT_EN
    return [s.strip() for s in pattern.split(str(text or "")) if len(s.strip()) > 1]


def sentence_polarity(sentence: str, rating: float, locale: str = "en") -> int:
    """+1 positive, -1 negative, 0 undecided."""
    lang = "zh" if is_zh(locale) else "en"
    low = sentence.lower()
    for phrase in NEGATED_POSITIVE[lang]:  # "不错" (not bad) is praise: do not count its "不"
        low = low.replace(phrase, " good ")
    pos = sum(c in low for c in POS_CUES[lang])
    neg = sum(c in low for c in NEG_CUES[lang])
    cue = (pos > neg) - (neg > pos)
    if rating >= 4:
        return -1 if cue < 0 else 1
    if rating <= 2:
        return 1 if cue > 0 else -1
    return cue


def _centrality(matrix) -> np.ndarray:
    if matrix.shape[0] == 1:
        return np.ones(1)
    sim = (matrix @ matrix.T).toarray()
    np.fill_diagonal(sim, 0.0)
    return sim.sum(1) / (matrix.shape[0] - 1)


def review_digests(ratings: pd.DataFrame | None, locale: str = "en", top_k: int = 2, min_reviews: int = 2,
                   guardrails=None) -> pd.DataFrame:
    """One row per reviewed product: ``product_id, n_reviews, mean_rating, positive, negative, social_proof``.

    ``positive``/``negative`` are lists of up to ``top_k`` sentences, most central first.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    cols = ["product_id", "n_reviews", "mean_rating", "positive", "negative", "social_proof"]
    if ratings is None or "review_text" not in ratings.columns:
        return pd.DataFrame(columns=cols)
    r = ratings.dropna(subset=["review_text"])
    r = r[r["review_text"].astype(str).str.strip() != ""]
    if r.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for rec in r[["product_id", "rating", "review_text"]].itertuples(index=False):
        for s in split_sentences(rec.review_text, locale):
            pol = sentence_polarity(s, float(rec.rating), locale)
            if pol:
                rows.append((str(rec.product_id), s, pol))
    stats = r.groupby(r["product_id"].astype(str))["rating"].agg(["size", "mean"])
    if not rows:
        return pd.DataFrame(columns=cols)
    sents = pd.DataFrame(rows, columns=["product_id", "sentence", "polarity"])
    vec = (TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2)) if is_zh(locale)
           else TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english"))
    try:
        matrix = vec.fit_transform(sents["sentence"])
    except ValueError:  # empty vocabulary
        return pd.DataFrame(columns=cols)
    out = []
    for pid, g in sents.groupby("product_id", sort=True):
        n = int(stats.loc[pid, "size"])
        if n < min_reviews:
            continue
        picks: dict[int, list[str]] = {}
        for pol in (1, -1):
            gg = g[g["polarity"] == pol]
            if gg.empty:
                picks[pol] = []
                continue
            m = matrix[gg.index.to_numpy()]
            cent = _centrality(m)
            chosen: list[int] = []
            texts: list[str] = []
            for j in np.argsort(-cent, kind="stable"):
                if gg["sentence"].iloc[j] in texts:
                    continue
                if chosen and max(float((m[j] @ m[c].T).toarray()[0, 0]) for c in chosen) > 0.9:
                    continue
                chosen.append(int(j))
                texts.append(gg["sentence"].iloc[j])
                if len(texts) >= top_k:
                    break
            picks[pol] = texts
        quote = ""
        for s in picks[1]:
            if guardrails is None or not guardrails.check(s, locale):
                quote = s
                break
        mean = float(stats.loc[pid, "mean"])
        if quote:
            proof = (f"“{quote}” · {n} 条评价，平均 {mean:.1f}/5" if is_zh(locale)
                     else f"“{quote}” · {n} reviews, average {mean:.1f}/5")
        else:
            proof = ""
        out.append({"product_id": pid, "n_reviews": n, "mean_rating": round(mean, 2), "positive": picks[1],
                    "negative": picks[-1], "social_proof": proof})
    return pd.DataFrame(out, columns=cols)


def digest_index(digests: pd.DataFrame | None) -> dict[str, dict]:
    """The digests as ``{product_id: digest}`` (the first digest of a product), for looking many products up."""
    if digests is None or digests.empty:
        return {}
    first = np.flatnonzero(~digests["product_id"].duplicated().to_numpy())
    return {str(digests["product_id"].iloc[i]): digests.iloc[i].to_dict() for i in first}


def digest_for(digests: pd.DataFrame | Mapping[str, dict] | None, product_id: Any) -> dict | None:
    """A product's digest from the digests table, or from its :func:`digest_index` (``None``: no digest)."""
    if digests is None:
        return None
    if isinstance(digests, Mapping):
        return digests.get(str(product_id))
    if digests.empty:
        return None
    hit = digests[digests["product_id"] == str(product_id)]
    return None if hit.empty else hit.iloc[0].to_dict()

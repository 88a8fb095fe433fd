"""Copy styles in 04: which selling aspect a catalogue sentence speaks to, and whether published copy shows its style.

The styles and the persona rule are shared with profiling (:mod:`contentlab.copystyle`): 02 writes each persona's
``copy_style``; the feedback priors may override it per segment (:func:`contentlab.priors.copy_style_for`). 04 puts
the style in the model prompt as a control code, and the training corpus pairs every style with targets made of the
product's own sentences of that aspect (:meth:`contentlab.generate.prompts.PromptTemplates.training_target`), so the
code changes what the model writes.

:func:`sentence_style` tags a sentence with its aspect by keyword and attribute rules (en and zh). Precedence, first
match wins: ``social_proof`` (shoppers, reviewers, best seller ...), ``novelty`` (new season, just launched, trend
...), ``value`` (value, price, budget ... or the product's price), ``quality`` (quality, craft, made to last ... or
the product's material), else ``general``. A sentence such as "Reviewers rave about the {material}" speaks of what
shoppers think first and of the material second, hence the order.

:func:`style_accuracy` measures whether the style is visible in the copy: a TF-IDF + logistic regression classifier
(word 1-2-grams for en, character 1-3-grams for zh) trained on half of the published GPT-2 copy (a stratified,
seeded split) predicts each copy's style code on the other half.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from contentlab.copystyle import ALL_STYLES, GENERAL, STYLES, check_style, persona_style

__all__ = ["STYLES", "GENERAL", "ALL_STYLES", "persona_style", "check_style", "sentence_style", "StyleAccuracy",
           "style_accuracy"]

_EN_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("social_proof", re.compile(r"\b(?:shoppers?|reviewers?|customers?|best[- ]sellers?|best[- ]selling|loved by|"
                                r"rave|favourite|favorite|popular)\b", re.IGNORECASE)),
    ("novelty", re.compile(r"\b(?:new season|new in|just launched|launch(?:ed)?|latest|this season|on[- ]trend|"
                           r"trend(?:s|y|ing)?|fresh)\b", re.IGNORECASE)),
    ("value", re.compile(r"\b(?:value|price[ds]?|budget|penny|pennies|deals?|bargain|smart buy|money|affordable|"
                         r"savings?|save)\b|\[price\]|(?:US\$|[$£€¥￥])\s?\d", re.IGNORECASE)),
    ("quality", re.compile(r"\b(?:quality|craft(?:ed|smanship)?|built to last|made to last|durable|durability|"
                           r"with care|well made|premium)\b|\[material\]", re.IGNORECASE)),
)
_ZH_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("social_proof", re.compile(r"好评|热销|人气|回头客|买家|大家都在|口碑|回购|爆款")),
    ("novelty", re.compile(r"新品|上新|新季|当季|本季|潮流|流行|首发|上市|新款")),
    ("value", re.compile(r"性价比|实惠|划算|价格|价位|好价|到手价|超值|花小钱|省钱|优惠|\[price\]|[¥￥]\s?\d")),
    ("quality", re.compile(r"品质|做工|用料|耐用|匠心|经久|考究|\[material\]")),
)


def _values(product: Mapping[str, Any] | None, key: str) -> list[str]:
    v = (product or {}).get(key)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    text = " ".join(str(v).split())
    return [text] if text and text.lower() not in ("nan", "none", "<na>") else []


def _price_forms(product: Mapping[str, Any] | None) -> list[str]:
    try:
        price = float((product or {}).get("price"))
    except (TypeError, ValueError):
        return []
    if np.isnan(price) or price <= 0:
        return []
    return list(dict.fromkeys([f"{price:.2f}", f"{price:.0f}" if price == int(price) else f"{price:.2f}"]))


def sentence_style(sentence: str, product: Mapping[str, Any] | None = None, locale: str = "en") -> str:
    """The aspect a sentence speaks to (one of :data:`ALL_STYLES`; rules in the module docstring). ``product``
    supplies the attribute rules: its price (value) and its material (quality) named in the sentence."""
    text = str(sentence or "")
    zh = str(locale).startswith("zh")
    for style, pattern in _ZH_RULES if zh else _EN_RULES:
        if pattern.search(text):
            return style
        if style == "value" and any(re.search(rf"(?<![\d.]){re.escape(p)}(?!\d)", text) for p in _price_forms(product)):
            return style
        if style == "quality":
            for m in _values(product, "material"):
                if (m in text) if zh else re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", text, re.IGNORECASE):
                    return style
    return GENERAL


@dataclass
class StyleAccuracy:
    """How well the style code can be read back from published copy (see :func:`style_accuracy`)."""

    accuracy: float  # share of the test half whose style the classifier predicts
    majority: float  # share of the test half in its most common style (what guessing that style scores)
    n_train: int
    n_test: int
    styles: list[str]  # styles with enough copy to be in the split
    confusion: pd.DataFrame  # rows: true style, columns: predicted style (test half)
    reason: str = ""  # why no accuracy (empty when measured)

    @property
    def measured(self) -> bool:
        return not self.reason


def style_accuracy(published: pd.DataFrame, locale: str = "en", seed: int = 0, text_col: str = "text",
                   style_col: str = "style") -> StyleAccuracy:
    """TF-IDF + logistic regression on half the copy (stratified by style, seeded), accuracy on the other half.

    Styles with fewer than 2 copies cannot be split and are left out; fewer than 2 styles or 4 copies left give no
    accuracy (``reason`` says why) rather than a number about nothing."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    for col in (text_col, style_col):
        if col not in published.columns:
            raise ValueError(f"style_accuracy needs a {col!r} column; got {list(published.columns)}")
    df = published[[text_col, style_col]].dropna()
    df = df[df[text_col].astype(str).str.strip() != ""]
    counts = df[style_col].astype(str).value_counts()
    keep = counts[counts >= 2].index
    df = df[df[style_col].astype(str).isin(keep)]
    empty = pd.DataFrame()
    if len(keep) < 2 or len(df) < 4:
        return StyleAccuracy(float("nan"), float("nan"), 0, 0, sorted(keep), empty,
                             reason=f"{len(df)} copies in {len(keep)} style(s) with at least 2 copies: "
                                    "a classifier needs at least 2 styles and 4 copies")
    x, y = df[text_col].astype(str).tolist(), df[style_col].astype(str).to_numpy()
    n_test = max(len(keep), len(df) // 2)
    n_test = min(n_test, len(df) - len(keep))
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=n_test, stratify=y, random_state=seed)
    if str(locale).startswith("zh"):
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    else:
        vec = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, sublinear_tf=True,
                              token_pattern=r"(?u)\b\w[\w'-]*\b")
    clf = LogisticRegression(max_iter=2000, C=4.0, random_state=seed)
    clf.fit(vec.fit_transform(x_tr), y_tr)
    pred = clf.predict(vec.transform(x_te))
    labels = sorted(keep)
    confusion = pd.crosstab(pd.Series(y_te, name="style"), pd.Series(pred, name="predicted")).reindex(
        index=labels, columns=labels, fill_value=0)
    majority = float(pd.Series(y_te).value_counts(normalize=True).iloc[0])
    return StyleAccuracy(float(accuracy_score(y_te, pred)), majority, len(x_tr), len(x_te), labels, confusion)

"""An audience that reads: the planted response of a customer to a piece of copy, from its text and its context.

The probability that an impression is clicked, and that a click converts, is a logistic function of

- **features of the copy itself** (:func:`copy_features`): it names one of the segment's favourite categories
  (``favourite``) or the segment's planted preferred colour / material (``preferred``); it mentions a price or a
  discount (``price``, weighted by the segment's price sensitivity); novelty words (``novelty``, weighted by trend
  affinity); social-proof words (``social``); its length against the channel's norm (``length``: ``|log(words /
  norm)|``); hard reading (``readability``: share of very long words plus over-long sentences); a wrong attribute
  (``wrong_attribute``: names a colour, material, brand or product type the product does not have, judged against
  the products table); a truncated ending (``truncated``: no sentence end, or a dangling function word); broken
  sentences (``broken``: a sentence that starts in lower case or ends on a function word, as shuffled words do); and
  repetition (``repetition``: repeated word bigrams and repeated content words);
- **the context of the impression** (:func:`context_features`): channel (a per segment x channel intercept, the
  planted best channel highest), hour of day (a bump around the segment's planted best send hour), weekend or
  weekday, and fatigue (``weekly``: messages (email, push) the user received in the 7 days up to and including this
  one; beyond the segment's planted ``fatigue_point`` the log-odds fall by ``fatigue_power * log(weekly / point)``,
  steep enough that the clicks a user gives per week peak at the fatigue point).

The weights are planted per segment (:func:`plant_model`: nominal values in
:data:`contentlab.data.simulate.spec.AUDIENCE_SPECS`, jittered deterministically from the seed) and the whole model
is a plain JSON-able dict (``truth["audience"]``), so the feedback stage and tests can evaluate it without the rest
of the simulator. The variant label of a copy never enters: the same text in the same context gets the same
probability whatever it is called. :func:`expected_ctr` is the oracle for one impression;
:func:`expected_rates` scores a whole table of impressions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate.spec import AUDIENCE_SPECS, DAY, SEGMENTS

FEATURES: tuple[str, ...] = ("favourite", "preferred", "price", "novelty", "social", "length", "readability",
                             "wrong_attribute", "truncated", "broken", "repetition")
RESPONSE_CHANNELS: tuple[str, ...] = ("email", "push", "product_page")
MESSAGE_CHANNELS: frozenset[str] = frozenset({"email", "push"})  # what counts towards fatigue
LENGTH_NORM = {"email": 40.0, "push": 12.0, "product_page": 28.0}  # words (CJK: characters / 2)
HOUR_SD = 2.5  # width (hours) of the best-send-hour bump

PRICE_WORDS = re.compile(r"(\$|€|£|¥|￥|\bprices?\b|\bpriced\b|\bsale\b|\bdeal\b|\bdiscount|\b\d+\s?% off\b|\bsave\b|"
                         r"\bcheap|\bbargain|\bafford|价|元|折|优惠|特价|划算)", re.IGNORECASE)
NOVELTY_WORDS = re.compile(r"(\bnew\b|\bnewest\b|\blatest\b|\bjust (in|landed|dropped)\b|\btrending\b|\blaunch|"
                           r"\bfresh\b|\bthis season\b|新款|新品|上新|首发|潮流)", re.IGNORECASE)
SOCIAL_WORDS = re.compile(r"(\bbest.?sell|\bloved by\b|\bpopular\b|\bcustomers?\b|\breviews?\b|\brated\b|"
                          r"\bfavourite\b|\bfavorite\b|\bsold out\b|\beveryone\b|爆款|好评|热销|回购|人气)", re.IGNORECASE)
FUNCTION_WORDS = frozenset(["a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "as", "is", "are", "was", "be", "it", "its", "this", "that", "your", "our", "their", "his", "her", "my", "than", "then", "so", "if", "into", "onto", "over", "under"])
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_END = re.compile(r"[.!?。！？…][\"'”’)\]]*\s*$")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？])\s*")
_CLOSING_NUMBER = re.compile(r"\d\s*(%|元)?\s*$")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


# ---------------------------------------------------------------------------------------------------------------
# Planting


def plant_model(seed: int, locale: str, products: pd.DataFrame, favourite_words: Mapping[str, list[str]],
                attribute_choices: Mapping[str, list[str]]) -> dict[str, Any]:
    """The planted audience model (a JSON-able dict, ``truth["audience"]``).

    ``products``: the products table (its colours, materials, brands, categories and product types, when it has a
    ``type`` / ``noun`` / ``product_type`` column, are the vocabulary a wrong attribute is judged with);
    ``favourite_words``: per segment, the words that name its favourite categories; ``attribute_choices``: per
    segment, candidate colours and materials (of its favourite categories) from which its two preferred attributes
    are drawn. Draws come from their own stream seeded by ``seed``: planting changes no other
    draw of the simulator."""
    rng = np.random.default_rng([int(seed), 0xA0D1E])
    segs: dict[str, Any] = {}
    for name in SEGMENTS:
        sp = AUDIENCE_SPECS[name]
        ctr_w = {f: round(float(w * (1 + rng.uniform(-0.1, 0.1))), 4) for f, w in sp["ctr_weights"].items()}
        cvr_w = {f: round(float(w * (1 + rng.uniform(-0.1, 0.1))), 4) for f, w in sp["cvr_weights"].items()}
        choices = list(attribute_choices.get(name) or [])
        preferred = [choices[i] for i in sorted(rng.choice(len(choices), size=min(2, len(choices)), replace=False))]
        ctr_icpt, cvr_icpt = {}, {}
        for ch in RESPONSE_CHANNELS:
            boost = sp["best_channel_boost"] if ch == sp["best_channel"] else 1.0
            ctr_icpt[ch] = round(_logit(sp["base_ctr"] * sp["channel_factor"][ch] * boost), 4)
            cvr_icpt[ch] = round(_logit(sp["base_cvr"] * sp["cvr_channel_factor"][ch]), 4)
        segs[name] = {
            "ctr_intercept": ctr_icpt, "cvr_intercept": cvr_icpt, "ctr_weights": ctr_w, "cvr_weights": cvr_w,
            "best_channel": sp["best_channel"], "best_hour": int(sp["best_hour"]), "hour_weight": sp["hour_weight"],
            "weekend_weight": sp["weekend_weight"], "fatigue_point": int(sp["fatigue_point"]),
            "fatigue_power": sp["fatigue_power"], "favourite_words": sorted(set(favourite_words.get(name, []))),
            "preferred_attributes": preferred,
        }
    vocab = {col: sorted({str(v) for v in products[col].dropna().astype(str) if str(v).strip()})
             for col in ("colour", "material", "brand") if col in products}
    types = set()
    for c in products["category"].dropna().astype(str).unique() if "category" in products else []:
        low = c.lower()
        types |= {low, low.rstrip("s"), low.replace("-", "").rstrip("s")}
    for col in ("type", "noun", "product_type"):  # a product-type column, when the table has one
        if col in products:
            types |= {str(v).lower() for v in products[col].dropna().astype(str) if str(v).strip()}
    vocab["type"] = sorted(t for t in types if len(t) >= 2)
    return {"locale": locale, "features": list(FEATURES), "channels": list(RESPONSE_CHANNELS),
            "message_channels": sorted(MESSAGE_CHANNELS), "length_norm": dict(LENGTH_NORM), "hour_sd": HOUR_SD,
            "segments": segs, "vocabulary": vocab}


# ---------------------------------------------------------------------------------------------------------------
# Features of the copy


def _own_text(product: Mapping[str, Any] | None) -> str:
    if not product:
        return ""
    return " ".join(str(product.get(c) or "") for c in ("title", "description", "colour", "material", "brand",
                                                          "style", "category", "noun", "type", "product_type")).lower()


def _grams(text_low: str, n_max: int = 4) -> set[str]:
    """Every run of 1..``n_max`` words of a (lower-case, non-CJK) text, words joined by one space."""
    w = [x.lower() for x in _WORD.findall(text_low)]
    return {" ".join(w[i:i + n]) for n in range(1, n_max + 1) for i in range(len(w) - n + 1)}


class Reader:
    """Reads copy for the planted model: the vocabulary and the segments' words compiled once."""

    def __init__(self, model: Mapping[str, Any]):
        self.model = model
        phrases = {str(p).lower().strip() for ps in model["vocabulary"].values() for p in ps
                   if len(str(p).strip()) >= 2}
        self.cjk_vocab = sorted(p for p in phrases if _CJK.search(p))
        # other phrases as word runs, the way _grams splits a text
        self.word_vocab = {" ".join(_WORD.findall(p)) for p in phrases if not _CJK.search(p)} - {""}
        self.words = {(s, kind): self._phrases(seg[key]) for s, seg in model["segments"].items()
                      for kind, key in (("favourite", "favourite_words"), ("preferred", "preferred_attributes"))}

    @staticmethod
    def _phrases(phrases) -> tuple[set[str], list[str]]:
        ps = {str(p).lower().strip() for p in phrases if str(p).strip()}
        words = {" ".join(_WORD.findall(p)) for p in ps if not _CJK.search(p)} - {""}
        return words, sorted(p for p in ps if _CJK.search(p))

    def text_features(self, text: str, product: Mapping[str, Any] | None, channel: str) -> dict[str, float]:
        """The features that do not depend on the reader's segment (all but ``favourite`` and ``preferred``)."""
        text = str(text or "")
        cjk = bool(_CJK.search(text))
        low = text.lower()
        words = [w.lower() for w in _WORD.findall(text)]
        n_words = len(text.replace(" ", "")) / 2.0 if cjk else float(len(words))
        f = dict.fromkeys(FEATURES, 0.0)
        f["price"] = float(bool(PRICE_WORDS.search(text)))
        f["novelty"] = float(bool(NOVELTY_WORDS.search(text)))
        f["social"] = float(bool(SOCIAL_WORDS.search(text)))
        f["length"] = abs(math.log(max(n_words, 1.0) / self.model["length_norm"].get(channel, 28.0)))
        sentences = [x for x in _SENTENCE_SPLIT.split(text.strip()) if x.strip()]
        if cjk:
            f["readability"] = max(0.0, max((len(x) for x in sentences), default=0) / 40.0 - 1.0)
        elif words:
            long_share = sum(len(w) >= 13 for w in words) / len(words)
            longest = max(len(_WORD.findall(x)) for x in sentences) if sentences else len(words)
            f["readability"] = long_share * 5.0 + max(0.0, longest / 20.0 - 1.0)
        own = _own_text(product)
        if own:
            if cjk:
                wrong = sum(p in low and p not in own for p in self.cjk_vocab)
            else:
                own_grams = _grams(own)
                own_grams |= {g.rstrip("s") for g in own_grams} | {g.replace("-", "").rstrip("s") for g in own_grams}
                wrong = len((_grams(low) & self.word_vocab) - own_grams)
            f["wrong_attribute"] = float(min(wrong, 2))
        stripped = text.strip()
        if stripped:
            last = words[-1] if words else ""
            # a sentence end, or a headline that closes on a price or a number ("..., $41.99")
            ends = bool(_END.search(stripped) or _CLOSING_NUMBER.search(stripped))
            f["truncated"] = float(not ends or (not cjk and last in FUNCTION_WORDS))
        if not cjk and sentences:
            bad = 0
            for x in sentences:
                toks = _WORD.findall(x)
                if not toks:
                    continue
                first = x.strip()[0]
                bad += int(first.isalpha() and first.islower())
                bad += int(toks[-1].lower() in FUNCTION_WORDS and bool(_END.search(x.strip())))
            f["broken"] = float(min(bad, 3))
        toks = list(text.replace(" ", "")) if cjk else words
        if len(toks) >= 3:
            bigrams = list(zip(toks, toks[1:]))
            rep_bi = 1.0 - len(set(bigrams)) / len(bigrams)  # share of bigrams that repeat an earlier one
            content = [w for w in toks if w not in FUNCTION_WORDS and len(w) > 2] if not cjk else []
            # content words said a third time or more (twice is normal in a description)
            rep_w = sum(max(k - 2, 0) for k in Counter(content).values()) / len(content) if content else 0.0
            f["repetition"] = rep_bi + rep_w
        return f

    def segment_features(self, text: str, segment: str) -> dict[str, float]:
        """``favourite`` and ``preferred`` for a reader of ``segment``."""
        low = str(text or "").lower()
        grams = None if _CJK.search(low) else _grams(low)
        out = {}
        for kind in ("favourite", "preferred"):
            words, cjk_words = self.words[(segment, kind)]
            hit = any(p in low for p in cjk_words) if grams is None else bool(grams & words)
            out[kind] = float(hit)
        return out


def copy_features(text: str, product: Mapping[str, Any] | None, segment: str, model: Mapping[str, Any],
                  channel: str = "email") -> dict[str, float]:
    """The copy's features (see the module docstring) for a customer of ``segment`` reading it on ``channel``.

    ``product``: the product's row of the products table (title, description, colour, material, brand, category;
    ``None``: unknown, so no attribute can be judged wrong)."""
    reader = Reader(model)
    return {**reader.text_features(text, product, channel), **reader.segment_features(text, segment)}


# ---------------------------------------------------------------------------------------------------------------
# Context


def hour_bump(hour: np.ndarray | float, best_hour: np.ndarray | float, sd: float = HOUR_SD) -> np.ndarray:
    """``exp(-d^2 / 2 sd^2) - 0.5`` with ``d`` the circular distance (hours) between ``hour`` and ``best_hour``."""
    d = np.abs(np.asarray(hour, float) - np.asarray(best_hour, float))
    d = np.minimum(d, 24 - d)
    return np.exp(-0.5 * (d / sd) ** 2) - 0.5


def fatigue_penalty(weekly: np.ndarray | float, point: np.ndarray | float, power: np.ndarray | float) -> np.ndarray:
    """Log-odds lost to fatigue: ``power * log(weekly / point)`` beyond the fatigue point, 0 up to it."""
    w = np.maximum(np.asarray(weekly, float), 1.0)
    return np.asarray(power, float) * np.log(np.maximum(w / np.asarray(point, float), 1.0))


def weekly_messages(user: pd.Series, timestamp: pd.Series, channel: pd.Series,
                    message_channels=MESSAGE_CHANNELS) -> np.ndarray:
    """Per impression: messages (``message_channels``) the same user received in the 7 days up to and including
    it (the impression itself counts when it is a message)."""
    u_code = pd.factorize(pd.Series(user).astype(str))[0].astype(np.int64)
    secs = pd.to_datetime(pd.Series(timestamp)).to_numpy().astype("datetime64[s]").astype(np.int64)
    secs = secs - (secs.min() if len(secs) else 0) + 8 * DAY
    span = np.int64(2**33)
    key = u_code * span + secs
    is_msg = pd.Series(channel).astype(str).isin(set(message_channels)).to_numpy()
    m = np.sort(key[is_msg])
    return (np.searchsorted(m, key, side="right") - np.searchsorted(m, key - 7 * DAY, side="right")).astype(np.int64)


def context_logit(seg: Mapping[str, Any], channel: str, hour: float, weekend: bool, weekly: float,
                  sd: float = HOUR_SD) -> float:
    """The context's part of the click log-odds for one impression (segment ``seg`` of the model)."""
    return float(seg["ctr_intercept"][channel] + seg["hour_weight"] * hour_bump(hour, seg["best_hour"], sd)
                 + seg["weekend_weight"] * float(weekend)
                 - fatigue_penalty(weekly, seg["fatigue_point"], seg["fatigue_power"]))


def _resolve_segment(model: Mapping[str, Any], segment: str) -> str:
    if segment not in model["segments"]:
        raise ValueError(f"unknown segment {segment!r}; the planted audience has {sorted(model['segments'])}")
    return segment


def expected_ctr(text: str, product: Mapping[str, Any] | None, segment: str, context: Mapping[str, Any] | None,
                 model: Mapping[str, Any]) -> float:
    """P(click) of one impression: ``text`` about ``product`` (its products-table row), read by a customer of
    ``segment``, in ``context`` (``channel``, ``hour`` 0-23, ``weekend`` bool, ``weekly`` messages in the last 7 days
    including this one; defaults: email, the segment's best hour, a weekday, 1)."""
    segment = _resolve_segment(model, segment)
    seg = model["segments"][segment]
    ctx = dict(context or {})
    ch = str(ctx.get("channel", "email"))
    if ch not in seg["ctr_intercept"]:
        raise ValueError(f"no planted response for channel {ch!r}")
    f = copy_features(text, product, segment, model, ch)
    x = context_logit(seg, ch, float(ctx.get("hour", seg["best_hour"])), bool(ctx.get("weekend", False)),
                      float(ctx.get("weekly", 1)), model.get("hour_sd", HOUR_SD))
    x += sum(seg["ctr_weights"].get(k, 0.0) * v for k, v in f.items())
    return float(_sigmoid(x))


def expected_cvr(text: str, product: Mapping[str, Any] | None, segment: str, context: Mapping[str, Any] | None,
                 model: Mapping[str, Any]) -> float:
    """P(convert | click) of one impression (same arguments as :func:`expected_ctr`; only the channel of the
    context matters)."""
    segment = _resolve_segment(model, segment)
    seg = model["segments"][segment]
    ch = str((context or {}).get("channel", "email"))
    f = copy_features(text, product, segment, model, ch)
    x = seg["cvr_intercept"][ch] + sum(seg["cvr_weights"].get(k, 0.0) * v for k, v in f.items())
    return float(_sigmoid(x))


def reference_response(model: Mapping[str, Any], segment_price: Mapping[str, float]) -> pd.DataFrame:
    """Per segment x channel: CTR and CVR of a copy with no feature (right length, nothing named) at the segment's
    best hour on a weekday with no fatigue, and the AOV (1.3 x the segment's typical price)."""
    rows = []
    for s, seg in model["segments"].items():
        for ch in model["channels"]:
            ctr = _sigmoid(context_logit(seg, ch, seg["best_hour"], False, 1.0, model.get("hour_sd", HOUR_SD)))
            cvr = _sigmoid(seg["cvr_intercept"][ch])
            rows.append((s, ch, round(float(ctr), 6), round(float(cvr), 6), round(segment_price[s] * 1.3, 2)))
    df = pd.DataFrame(rows, columns=["segment", "channel", "ctr", "cvr", "aov"])
    for c in ("segment", "channel"):
        df[c] = df[c].astype("str")
    return df


def copy_weights_table(model: Mapping[str, Any]) -> pd.DataFrame:
    """The planted copy-feature weights (log-odds per unit of the feature), one row per segment x feature."""
    rows = [(s, f, float(seg["ctr_weights"].get(f, 0.0)), float(seg["cvr_weights"].get(f, 0.0)))
            for s, seg in model["segments"].items() for f in model["features"]]
    df = pd.DataFrame(rows, columns=["segment", "feature", "ctr_weight", "cvr_weight"])
    for c in ("segment", "feature"):
        df[c] = df[c].astype("str")
    return df


# ---------------------------------------------------------------------------------------------------------------
# A table of impressions


def expected_rates(impressions: pd.DataFrame, segment_codes: np.ndarray, model: Mapping[str, Any],
                   products: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """P(click) and P(convert | click) of every impression.

    ``impressions`` needs ``text``, ``product_id``, ``channel``, ``user_id`` and ``timestamp``; ``segment_codes``
    indexes the model's segments (in its order) per impression, ``-1``: unknown (the average over segments).
    ``products``: the products table (``None``: attributes cannot be judged)."""
    names = list(model["segments"])
    a = impressions
    chans = a["channel"].astype(str).to_numpy()
    bad = ~np.isin(chans, list(model["channels"]))
    if bad.any():
        raise ValueError(f"no planted response for channel/variant {sorted(set(chans[bad]))[:5]}")
    ts = pd.to_datetime(a["timestamp"])
    hour = ts.dt.hour.to_numpy().astype(float)
    weekend = (ts.dt.day_of_week >= 5).to_numpy()
    weekly = weekly_messages(a["user_id"], ts, a["channel"], set(model.get("message_channels", MESSAGE_CHANNELS)))
    prod = {}
    if products is not None and len(products):
        prod = {str(r["product_id"]): r for r in products.to_dict("records")}
    # features per distinct (text, product, channel) and segment
    key = pd.MultiIndex.from_arrays([a["text"].fillna("").astype(str), a["product_id"].astype(str), chans])
    codes, uniq = pd.factorize(key)
    uniq = list(uniq)
    n_f = len(model["features"])
    ctr = np.zeros(len(a))
    cvr = np.zeros(len(a))
    seg_codes = np.asarray(segment_codes)
    reader = Reader(model)
    feats = model["features"]
    base = np.zeros((len(uniq), n_f))
    for u, (text, pid, ch) in enumerate(uniq):
        f = reader.text_features(text, prod.get(pid), ch)
        base[u] = [f[x] for x in feats]
    for k, s in enumerate(names):
        seg = model["segments"][s]
        rows = (seg_codes == k) | (seg_codes < 0)
        if not rows.any():
            continue
        F = base.copy()
        for u in np.unique(codes[rows]):
            for x, v in reader.segment_features(uniq[u][0], s).items():
                F[u, feats.index(x)] = v
        wc = np.array([seg["ctr_weights"].get(x, 0.0) for x in model["features"]])
        wv = np.array([seg["cvr_weights"].get(x, 0.0) for x in model["features"]])
        ic = np.array([seg["ctr_intercept"][c] for c in chans[rows]])
        iv = np.array([seg["cvr_intercept"][c] for c in chans[rows]])
        x_ctr = (ic + F[codes[rows]] @ wc + seg["hour_weight"] * hour_bump(hour[rows], seg["best_hour"],
                                                                              model.get("hour_sd", HOUR_SD))
                 + seg["weekend_weight"] * weekend[rows]
                 - fatigue_penalty(weekly[rows], seg["fatigue_point"], seg["fatigue_power"]))
        x_cvr = iv + F[codes[rows]] @ wv
        weight = np.where(seg_codes[rows] < 0, 1.0 / len(names), 1.0)
        ctr[rows] += weight * _sigmoid(x_ctr)
        cvr[rows] += weight * _sigmoid(x_cvr)
    return ctr, cvr

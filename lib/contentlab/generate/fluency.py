"""An independent fluency judge for copy: an n-gram language model of the catalogue's own reference copy, plus rules.

The copy model's own perplexity cannot say whether its copy is fluent: a model that learnt a broken phrase scores
it as likely. The judge is a different model of a different kind, trained on the reference text only:

- **language model**: nltk's interpolated Kneser-Ney model (:class:`nltk.lm.KneserNeyInterpolated`, order 3) over
  the sentences of the catalogue's descriptions; tokens are lower-cased words and punctuation marks for English and
  characters for Chinese (tokenised here: no corpus download); words seen once in training stand for unknown words
  (``<UNK>``). The reference text is **delexicalised** (the product's own colour, material, brand, ... replaced by
  ``[colour]``, ``[material]``, ...; :meth:`~contentlab.generate.prompts.PromptTemplates.delexicalise`) and so is
  the copy judged: attribute values are open-class (a rare colour is not bad English), what the judge measures is
  the sentence around them. nltk scores one token at a time through recursive Python calls over all n-grams; the
  judge computes the same Kneser-Ney probabilities from nltk's counts once, into dictionaries
  (:meth:`FluencyJudge.token_probability` equals nltk's ``score``), so thousands of copies take a second or two.
- **threshold**: calibrated on held-out reference sentences (products the model did not see) and on corrupted
  copies of them (two neighbouring tokens swapped, one dropped, one replaced by another word: how generated copy
  breaks). A copy is fluent when its per-token cross-entropy (bits) is at most the threshold and none of its
  sentences is above the sentence threshold. The threshold is the higher of the held-out sentences' ``quantile``
  (0.975: at least 97.5% of unseen reference sentences pass) and the corrupted sentences' ``1 - quantile`` (0.025:
  97.5% of the corrupted ones still fail). On a catalogue written from a few sentence patterns the held-out
  sentences are near-copies of the training ones and their 97.5th percentile alone would also reject fluent new
  combinations ("Good value for the new season."); the corrupted sentences say how much room there is before
  broken copy passes. The sentence threshold is the higher of the threshold and the held-out 99.5th percentile.
- **rules**: what :func:`~contentlab.generate.prompts.copy_problems` finds ("a" / "an" before the wrong sound,
  doubled words, a function word left dangling, ...), and whether the copy ends at a sentence boundary.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from contentlab.generate.prompts import copy_problems

ORDER = 3
PAD_START, PAD_END, UNK = "<s>", "</s>", "<UNK>"
_EN_TOKEN = re.compile(r"\[\w+\]|[a-z0-9]+(?:['’\-][a-z0-9]+)*|[^\w\s]", re.IGNORECASE)
_ZH_TOKEN = re.compile(r"\[\w+\]|[A-Za-z]+|\d+(?:\.\d+)?|\S")
_SENT_EN = re.compile(r"(?<=[.!?])[\"'”’)]*\s+")
_SENT_ZH = re.compile(r"(?<=[。！？!?])")
_BOUNDARY = re.compile(r"[.!?。！？][\"'”’)）]*$")


def tokens(text: str, locale: str = "en") -> list[str]:
    """Word (en, lower-cased) or character (zh) tokens; a placeholder such as ``[colour]`` is one token."""
    if str(locale).startswith("zh"):
        return _ZH_TOKEN.findall(str(text or ""))
    return [t.lower() for t in _EN_TOKEN.findall(str(text or ""))]


def sentences(text: str, locale: str = "en") -> list[str]:
    pattern = _SENT_ZH if str(locale).startswith("zh") else _SENT_EN
    return [s.strip() for s in pattern.split(str(text or "").strip()) if s.strip()]


@dataclass
class Judgement:
    fluent: bool
    score: float  # per-token cross-entropy under the reference model, bits (lower: more like the reference copy)
    reasons: list[str] = field(default_factory=list)  # empty when fluent


class FluencyJudge:
    """Build with :meth:`fit`; :meth:`judge` a copy (see the module docstring)."""

    def __init__(self, lm, locale: str, discount: float = 0.1):
        self.lm = lm  # the fitted nltk model (kept for reference and cross-checks)
        self.locale = locale
        self.discount = discount
        self.threshold = math.inf
        self.sentence_threshold = math.inf
        self.peak_threshold = math.inf
        self.calibration: dict[str, float] = {}
        self._tables()

    # ---- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Iterable[str], locale: str = "en", heldout_share: float = 0.2, quantile: float = 0.975,
            sentence_quantile: float = 0.995, seed: int = 0) -> FluencyJudge:
        """Fit on reference ``texts`` (one per product; split into sentences), calibrate on a held-out share of them.

        The texts are split by text (a product's sentences stay together) into a training part for the language
        model and ``heldout_share`` for the thresholds."""
        from nltk.lm import KneserNeyInterpolated, Vocabulary

        docs = [sentences(t, locale) for t in texts if isinstance(t, str) and t.strip()]
        docs = [d for d in docs if d]
        if len(docs) < 5:
            raise ValueError(f"the fluency judge needs reference copy: got {len(docs)} non-empty texts (needs 5)")
        order = list(range(len(docs)))
        random.Random(seed).shuffle(order)
        n_held = max(1, int(round(len(docs) * heldout_share)))
        held = [s for i in order[:n_held] for s in docs[i]]
        train = [tokens(s, locale) for i in order[n_held:] for s in docs[i]]
        train = [t for t in train if t]
        padded = [[PAD_START] * (ORDER - 1) + t + [PAD_END] for t in train]
        vocab = Vocabulary((w for s in padded for w in s), unk_cutoff=2)
        lm = KneserNeyInterpolated(ORDER, vocabulary=vocab)
        lm.fit([_everygrams(s) for s in padded])
        judge = cls(lm, locale)
        judge.calibrate(held, quantile, sentence_quantile)
        return judge

    def calibrate(self, heldout: Sequence[str], quantile: float = 0.975, sentence_quantile: float = 0.995,
                  seed: int = 0) -> None:
        """Set the thresholds from held-out reference sentences (see the module docstring); ``calibration`` records
        them, the share of held-out sentences judged fluent (language model and rules together) and the share of
        their corrupted copies the language model rejects."""
        toks = [t for t in (tokens(s, self.locale) for s in heldout) if t]
        if not toks:
            raise ValueError("no held-out reference sentence to calibrate the fluency judge on")
        scores = np.array([self._bits(t)[0] / self._bits(t)[1] for t in toks], dtype=float)
        rng = random.Random(seed)
        vocab = sorted(w for w in self._uni if w not in (PAD_START, PAD_END, UNK))
        broken = [c for t in toks for kind in ("swap", "drop", "replace") if (c := _corrupt(t, kind, rng, vocab))]
        bad = np.array([b / n for b, n in (self._bits(c) for c in broken)], dtype=float)
        ref_q = float(np.quantile(scores, quantile))
        bad_q = float(np.quantile(bad, 1 - quantile)) if len(bad) else ref_q
        self.threshold = max(ref_q, bad_q)
        self.sentence_threshold = float(max(np.quantile(scores, sentence_quantile), self.threshold))
        # one word sequence the reference copy makes (nearly) impossible, however ordinary the rest of the sentence
        # ("it works for road [colour] shade"): the peak single-token surprisal, at the same held-out quantile
        peaks = np.array([self._bits_and_peak(t)[2] for t in toks], dtype=float)
        self.peak_threshold = float(np.quantile(peaks, sentence_quantile))
        passed = [self.judge(s).fluent for s in heldout if tokens(s, self.locale)]
        self.calibration = {"heldout_sentences": float(len(scores)), "quantile": quantile,
                            "threshold_bits": self.threshold, "sentence_threshold_bits": self.sentence_threshold,
                            "heldout_quantile_bits": ref_q, "corrupted_quantile_bits": bad_q,
                            "heldout_fluent_share": float(np.mean(passed)),
                            "heldout_lm_pass_share": float(np.mean(scores <= self.threshold)),
                            "corrupted_sentences": float(len(bad)),
                            "corrupted_rejected_share": float(np.mean(bad > self.threshold)) if len(bad) else np.nan,
                            "heldout_median_bits": float(np.median(scores)),
                            "peak_threshold_bits": self.peak_threshold}

    # ---- scoring -------------------------------------------------------------------------------
    def _tables(self) -> None:
        """Kneser-Ney terms of nltk's model as dictionaries (see :meth:`token_probability`)."""
        counts = self.lm.counts
        self._vocab = set(self.lm.vocab)
        tri: dict[tuple[str, str], dict[str, int]] = {}
        for ctx, fd in counts[3].items():
            if fd.N():
                tri[ctx] = dict(fd)
        self._tri = {ctx: (d, float(sum(d.values())), float(sum(1 for v in d.values() if v > 0)))
                     for ctx, d in tri.items()}
        cont2: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cont2_total: dict[str, int] = defaultdict(int)
        for (_a, b), (d, _n, _g) in self._tri.items():
            for w, c in d.items():
                if c > 0:
                    cont2[b][w] += 1
                    cont2_total[b] += 1
        self._bi = {}
        for ctx, fd in counts[2].items():
            if fd.N():
                b = ctx[0]
                self._bi[b] = (dict(cont2.get(b, {})), float(cont2_total.get(b, 0)),
                               float(sum(1 for v in fd.values() if v > 0)))
        uni: dict[str, int] = defaultdict(int)
        total = 0
        for _ctx, fd in counts[2].items():
            for w, c in fd.items():
                if c > 0:
                    uni[w] += 1
                    total += 1
        self._uni, self._uni_total = dict(uni), float(total)

    def lookup(self, word: str) -> str:
        return word if word in self._vocab else UNK

    def token_probability(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | the last two context tokens): nltk's interpolated Kneser-Ney ``score``, from the tables."""
        d = self.discount
        w = self.lookup(word)
        ctx = tuple(self.lookup(c) for c in context)[-(ORDER - 1):]
        p = self._uni.get(w, 0) / self._uni_total if self._uni_total else 0.0
        if len(ctx) >= 1:
            entry = self._bi.get(ctx[-1])
            if entry is not None and entry[1] > 0:
                cont, total, distinct = entry
                p = max(cont.get(w, 0) - d, 0.0) / total + d * distinct / total * p
        if len(ctx) == 2:
            entry3 = self._tri.get(ctx)
            if entry3 is not None:
                c3, n, distinct = entry3
                p = max(c3.get(w, 0) - d, 0.0) / n + d * distinct / n * p
        return p

    def _floor(self) -> float:
        return 0.5 / self._uni_total if self._uni_total else 1e-12

    def sentence_bits(self, sentence: str) -> tuple[float, int]:
        """(total bits, tokens) of one sentence, padded as in training (the end marker counts as a token). A token
        the model gives no probability (an unknown word when no training word was rare enough to stand for
        unknown ones) counts as half the smallest unigram share, rather than an infinite cost."""
        return self._bits(tokens(sentence, self.locale))

    def _bits(self, toks: Sequence[str]) -> tuple[float, int]:
        bits, n, _ = self._bits_and_peak(toks)
        return bits, n

    def _bits_and_peak(self, toks: Sequence[str]) -> tuple[float, int, float]:
        """(total bits, tokens, the largest single-token surprisal) of a token sequence."""
        if not toks:
            return 0.0, 0, 0.0
        seq = [PAD_START] * (ORDER - 1) + list(toks) + [PAD_END]
        bits, peak = 0.0, 0.0
        for i in range(ORDER - 1, len(seq)):
            p = self.token_probability(seq[i], seq[i - ORDER + 1:i])
            b = -math.log2(p if p > 0 else self._floor())
            bits, peak = bits + b, max(peak, b)
        return bits, len(seq) - (ORDER - 1), peak

    def cross_entropy(self, text: str) -> float:
        """Per-token cross-entropy (bits) of ``text`` over all its sentences; NaN for a text without tokens."""
        total, n = 0.0, 0
        for s in sentences(text, self.locale):
            b, k = self.sentence_bits(s)
            total, n = total + b, n + k
        return total / n if n else float("nan")

    def judge(self, text: str, lm_text: str | None = None, values: Iterable[str] = ()) -> Judgement:
        """Whether ``text`` is fluent, its score and what is wrong.

        ``lm_text``: the form the language model scores (the delexicalised copy, like the reference it was fitted
        on; default ``text``); the rules read ``text`` itself, with ``values`` (the record's own field values)
        exempt from them as in :func:`~contentlab.generate.prompts.copy_problems`."""
        text = str(text or "").strip()
        if not text:
            return Judgement(False, float("nan"), ["empty"])
        scored = text if lm_text is None else str(lm_text)
        reasons: list[str] = []
        parts = [b for b in (self._bits_and_peak(tokens(s, self.locale)) for s in sentences(scored, self.locale))
                 if b[1]]
        n = sum(k for _, k, _ in parts)
        score = sum(b for b, _, _ in parts) / n if n else float("nan")
        worst = max((b / k for b, k, _ in parts), default=float("nan"))
        peak = max((p for _, _, p in parts), default=float("nan"))
        if not math.isnan(score) and score > self.threshold:
            reasons.append(f"unlike the reference copy ({score:.2f} bits/token; threshold {self.threshold:.2f})")
        elif not math.isnan(worst) and worst > self.sentence_threshold:
            reasons.append(f"a sentence unlike the reference copy ({worst:.2f} bits/token; threshold "
                           f"{self.sentence_threshold:.2f})")
        elif not math.isnan(peak) and peak > self.peak_threshold:
            reasons.append(f"a word sequence the reference copy never makes ({peak:.1f} bits; threshold "
                           f"{self.peak_threshold:.1f})")
        reasons.extend(copy_problems(text, self.locale, values))
        if not _BOUNDARY.search(text):
            reasons.append("does not end at a sentence boundary")
        return Judgement(not reasons, score, reasons)


def _corrupt(toks: Sequence[str], kind: str, rng: random.Random, vocab: Sequence[str]) -> list[str] | None:
    """A reference sentence broken the way generated copy breaks: two neighbouring tokens swapped, one dropped, or one
    replaced by another word of the vocabulary (the final punctuation kept). None for sentences too short."""
    body, end = list(toks), []
    if body and not any(c.isalnum() for c in body[-1]):
        body, end = body[:-1], body[-1:]
    if len(body) < 3:
        return None
    i = rng.randrange(len(body) - 1)
    if kind == "swap":
        if body[i] == body[i + 1]:
            return None
        body[i], body[i + 1] = body[i + 1], body[i]
    elif kind == "drop":
        del body[i]
    else:
        choice = rng.choice(list(vocab)) if vocab else body[i]
        if choice == body[i]:
            return None
        body[i] = choice
    return body + end


def _everygrams(padded: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(padded[i:i + n]) for n in range(1, ORDER + 1) for i in range(len(padded) - n + 1)]

"""Content-based (TF-IDF) and hybrid recommenders: the answer to cold-start items.

Item vectors: scikit-learn TF-IDF over each product's text and attributes (title, category, brand, colour,
material, style, description; attribute values are also added as ``field=value`` tokens so that e.g. a colour
match counts even if the title does not mention it). User vectors: the rating-weighted mean of the L2-normalised
vectors of the items the user interacted with in training. Score: cosine similarity.

:class:`HybridRecommender` blends a collaborative model with the content model: per user, both score rows are
standardised (z-scores over the catalogue) and mixed as ``weight * z(cf) + (1 - weight) * z(content)``;
:func:`tune_hybrid_weight` picks the weight on a validation split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from contentlab.recommend.models import Recommender

TEXT_FIELDS = ("title", "description", "style")
ATTRIBUTE_FIELDS = ("category", "brand", "colour", "material")


def product_rows(products: pd.DataFrame, items: Sequence[str]) -> tuple[pd.DataFrame, list[pd.Series | None]]:
    """The catalogue indexed by ``product_id`` (first row per id) and, per item, its row (None without one)."""
    prod = products.copy()
    prod["product_id"] = prod["product_id"].astype(str)
    prod = prod.drop_duplicates("product_id").set_index("product_id")
    return prod, [prod.loc[item] if item in prod.index else None for item in items]


def item_documents(products: pd.DataFrame, items: Sequence[str]) -> list[str]:
    """One text document per catalogue item (empty for items without a product row)."""
    prod, rows = product_rows(products, items)
    docs = []
    for row in rows:
        if row is None:
            docs.append("")
            continue
        parts = [str(row[f]) for f in TEXT_FIELDS + ATTRIBUTE_FIELDS if f in prod.columns and pd.notna(row[f])]
        attrs = [f"{f}_{str(row[f]).strip().lower().replace(' ', '_')}" for f in ATTRIBUTE_FIELDS
                 if f in prod.columns and pd.notna(row[f])]
        docs.append(" ".join(parts + attrs))
    return docs


def _tokens(text: str) -> list[str]:
    # words for Latin scripts; character bigrams for CJK runs (a Chinese catalogue has no spaces)
    import re

    out: list[str] = []
    for tok in re.findall(r"[\w\-]+", text.lower()):
        if re.search(r"[\u4e00-\u9fff]", tok):
            chars = [c for c in tok if "\u4e00" <= c <= "\u9fff"]
            out.extend(chars)
            out.extend(a + b for a, b in zip(chars, chars[1:]))
        else:
            out.append(tok)
    return out


class ContentRecommender(Recommender):
    """TF-IDF item vectors, user profile = mean of interacted items' vectors, cosine scores."""

    name = "content_tfidf"
    kind = "content"

    def __init__(self, products: pd.DataFrame, min_df: int = 1, max_features: int | None = 20000,
                 sublinear_tf: bool = True) -> None:
        super().__init__()
        self.products = products
        self.params = {"min_df": min_df, "max_features": max_features, "sublinear_tf": sublinear_tf}

    def _fit(self, train: pd.DataFrame) -> None:
        docs = item_documents(self.products, self.items)
        self.vectorizer = TfidfVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False,
                                          min_df=self.params["min_df"], max_features=self.params["max_features"],
                                          sublinear_tf=self.params["sublinear_tf"])
        self.item_vectors = normalize(self.vectorizer.fit_transform(docs))  # (n_items, n_terms), L2 rows
        upos = pd.Index(train["user_id"].astype(str).unique())
        ipos = pd.Index(self.items)
        u = upos.get_indexer(train["user_id"].astype(str))
        i = ipos.get_indexer(train["product_id"].astype(str))
        ok = i >= 0
        w = train["rating"].to_numpy(float)[ok]
        inter = sparse.csr_matrix((w, (u[ok], i[ok])), shape=(len(upos), len(ipos)))
        self.user_index = upos
        self.user_vectors = normalize(inter @ self.item_vectors)

    def score(self, users: Sequence[str]) -> np.ndarray:
        rows = self.user_index.get_indexer([str(u) for u in users])
        known = rows >= 0
        out = np.zeros((len(rows), len(self.items)))
        if known.any():
            out[known] = (self.user_vectors[rows[known]] @ self.item_vectors.T).toarray()
        return out

    def similar_items(self, item_positions: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Cosine similarity between items (rows: ``item_positions``, columns: ``candidates``)."""
        return (self.item_vectors[item_positions] @ self.item_vectors[candidates].T).toarray()


def zscore_rows(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    mu = s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return (s - mu) / np.where(sd > 0, sd, 1.0)


class HybridRecommender(Recommender):
    """``weight * z(collaborative) + (1 - weight) * z(content)``, z-scored per user over the catalogue."""

    kind = "hybrid"

    def __init__(self, cf: Recommender, content: ContentRecommender, weight: float = 0.5, name: str = "hybrid",
                 refit_parts: bool = True) -> None:
        super().__init__()
        self.cf, self.content, self.weight = cf, content, float(weight)
        self.name = name
        self.refit_parts = refit_parts
        self.params = {"weight_cf": self.weight, "cf": cf.name, "cf_params": dict(cf.params),
                       "content": content.name, "content_params": dict(content.params)}

    def _fit(self, train: pd.DataFrame) -> None:
        if self.refit_parts:
            self.cf.fit(train, self.items)
            self.content.fit(train, self.items)

    def score(self, users: Sequence[str]) -> np.ndarray:
        users = list(users)
        w = self.weight
        out = np.zeros((len(users), len(self.items)))
        if w > 0:
            out += w * zscore_rows(self.cf.score(users))
        if w < 1:
            out += (1 - w) * zscore_rows(self.content.score(users))
        return out


def tune_hybrid_weight(
    cf: Recommender,
    content: ContentRecommender,
    evaluate: Callable[[Recommender], float],
    weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
) -> tuple[float, pd.DataFrame]:
    """Evaluate ``HybridRecommender(cf, content, w)`` for every weight with already-fitted parts (on a validation
    split); ``evaluate(model) -> score`` (higher is better). Returns the best weight and the table."""
    rows = []
    for w in weights:
        hyb = HybridRecommender(cf, content, w, refit_parts=False)
        hyb.items = cf.items
        rows.append({"weight_cf": float(w), "score": float(evaluate(hyb))})
    table = pd.DataFrame(rows)
    best = float(table.sort_values(["score", "weight_cf"], ascending=[False, False]).iloc[0]["weight_cf"])
    return best, table

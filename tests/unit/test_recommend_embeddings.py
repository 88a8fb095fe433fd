"""Text embeddings as item vectors: documents, the cache by catalogue fingerprint, the content model over them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend.embeddings import (
    EmbeddingContentRecommender,
    embedding_documents,
    fingerprint,
    item_embeddings,
    missing_packages,
    mostly_chinese,
)

PRODUCTS = pd.DataFrame({
    "product_id": ["a", "b", "c", "d"],
    "title": ["Red wool coat", "Blue wool coat", "Wireless earbuds", "Noise cancelling headphones"],
    "description": ["A warm coat.", "A warm coat in blue.", "Deep bass.", None],
})


class CountingEncoder:
    """A stand-in encoder (letters a-z counted), so the cache and the model can be checked without the network
    model; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        out = np.array([[t.lower().count(ch) for ch in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=float)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_documents_and_fingerprint():
    docs = embedding_documents(PRODUCTS, ["a", "d", "zz"])
    assert docs == ["Red wool coat. A warm coat.", "Noise cancelling headphones", ""]
    assert fingerprint(docs) == fingerprint(list(docs)) != fingerprint(docs[::-1])
    assert fingerprint(docs) != fingerprint(docs, model_name="another-model")


def test_mostly_chinese():
    assert mostly_chinese(["轻薄保暖羽绒服", "降噪蓝牙耳机 Pro", "Red coat", ""])
    assert not mostly_chinese(["Red coat", "Blue coat 蓝", ""]) and not mostly_chinese(["", ""])


def test_embeddings_are_cached_by_catalogue_fingerprint(tmp_path):
    enc = CountingEncoder()
    docs = embedding_documents(PRODUCTS, ["a", "b", "zz"])
    first, path, cached = item_embeddings(docs, tmp_path, enc)
    assert not cached and path.exists() and path.name == f"minilm-{fingerprint(docs)}.npy" and enc.calls == 1
    again, _path, cached = item_embeddings(docs, tmp_path, enc)
    assert cached and enc.calls == 1 and np.array_equal(first, again)
    assert (first[2] == 0).all()  # no text: a zero vector
    _v, other, cached = item_embeddings(docs[:2], tmp_path, enc)  # another catalogue: computed again
    assert not cached and other != path and enc.calls == 2


def test_content_model_over_embeddings_ranks_similar_text_first(tmp_path):
    train = pd.DataFrame({"user_id": ["u1", "u2"], "product_id": ["a", "c"], "rating": [1.0, 1.0]})
    items = PRODUCTS["product_id"].tolist()
    model = EmbeddingContentRecommender(PRODUCTS, cache_dir=tmp_path, encoder=CountingEncoder()).fit(train, items)
    s = model.score(["u1", "u2", "nobody"])
    assert s[0, 1] > max(s[0, 2], s[0, 3])  # the coat buyer: the other coat first
    assert (s[2] == 0).all()
    sim = model.similar_items(np.array([0]), np.array([1, 2]))
    assert sim[0, 0] > sim[0, 1]


@pytest.mark.slow  # loads the 90 MB model
@pytest.mark.skipif(bool(missing_packages()), reason="needs contentlab[embeddings]")
def test_packaged_minilm_loads_offline_and_embeds(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    docs = ["Red wool coat", "Blue wool coat", "Wireless earbuds with deep bass"]
    vectors, _path, cached = item_embeddings(docs, tmp_path)
    assert vectors.shape == (3, 384) and not cached
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.7 > sims[0, 2]  # two coats are close, a coat and earbuds are not

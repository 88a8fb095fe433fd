"""Embedded GPT-2: training lowers held-out loss, seeded and batched generation, caching, offline errors."""

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab.generate.decode import SamplingParams, copy_perplexity, generate
from contentlab.generate.model import PretrainedModelUnavailable, load_pretrained
from contentlab.generate.prompts import load_templates
from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model

COLOURS = ["red", "navy", "black", "white", "olive", "beige"]
MATERIALS = ["cotton", "leather", "wool", "denim", "linen", "nylon"]
CATEGORIES = ["sneakers", "jacket", "dress", "backpack", "scarf", "jeans"]
BRANDS = ["Nimbus", "Aurora", "Kestrel", "Juniper"]


def toy_catalogue(n=48):
    rows = []
    for i in range(n):
        c, co, m, b = CATEGORIES[i % 6], COLOURS[(i // 6) % 6], MATERIALS[(i * 5) % 6], BRANDS[i % 4]
        rows.append({"product_id": f"P{i:03d}", "title": f"{b} {co} {m} {c}", "category": c, "brand": b,
                     "price": 20.0 + i, "colour": co, "material": m, "style": "slim fit",
                     "description": f"A slim fit {co} {c} in soft {m} by {b}. Easy to wear every day."})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(tmp_path_factory.mktemp("home")))
        corpus = build_corpus(toy_catalogue(), load_templates("en"), heldout_share=0.15, seed=0)
        cfg = TrainConfig(steps=80, batch_size=16, lr=4e-3, eval_every=20, patience=10, seed=0)
        t0 = time.perf_counter()
        cm = fit_copy_model(corpus, size="tiny", train=cfg, cache=True, progress=False)
        cold = time.perf_counter() - t0
        yield cm, corpus, cfg, cold


def test_training_lowers_heldout_loss(trained):
    cm, corpus, _, _ = trained
    info = cm.info
    assert info["trained"] and not info["cached"]
    assert info["n_heldout"] > 0 and info["n_train"] > info["n_heldout"]
    assert info["heldout_loss"] < 0.6 * info["initial_heldout_loss"]
    assert info["heldout_perplexity"] < 20
    h = cm.history.dropna(subset=["heldout_loss"])
    assert h["heldout_loss"].iloc[0] == pytest.approx(info["initial_heldout_loss"])
    assert cm.vocab.kind == "compact" and cm.model.config.vocab_size == cm.vocab.size < 2000


def test_warm_run_uses_cache(trained):
    cm, corpus, cfg, cold = trained
    t0 = time.perf_counter()
    again = fit_copy_model(corpus, size="tiny", train=cfg, cache=True, progress=False)
    assert again.info["cached"] is True
    assert again.fingerprint == cm.fingerprint
    assert time.perf_counter() - t0 < cold
    assert again.info["heldout_perplexity"] == pytest.approx(cm.info["heldout_perplexity"])


def test_generation_deterministic_under_seed(trained):
    cm, corpus, _, _ = trained
    prompts = corpus["prompt"].tolist()[:6]
    p = SamplingParams(n_candidates=2, max_new_tokens=20)
    a = generate(cm, prompts, p, batch_size=4, seed=3)
    b = generate(cm, prompts, p, batch_size=4, seed=3)
    assert a.texts == b.texts
    assert all(len(x) == 2 for x in a.texts)
    # the toy model is very sure of itself: compare seeds where sampling really varies
    hot = SamplingParams(n_candidates=2, max_new_tokens=20, temperature=2.0, top_p=1.0, top_k=0)
    assert generate(cm, prompts, hot, seed=3).texts == generate(cm, prompts, hot, seed=3).texts
    assert generate(cm, prompts, hot, seed=3).texts != generate(cm, prompts, hot, seed=4).texts


def test_batched_equals_unbatched_greedy(trained):
    cm, corpus, _, _ = trained
    # prompts of different lengths, so the batch really is left-padded
    prompts = corpus.drop_duplicates("channel")["prompt"].tolist() + corpus["prompt"].tolist()[5:8]
    assert len({len(cm.vocab.encode(p)) for p in prompts}) > 1
    greedy = SamplingParams(do_sample=False, repetition_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=24)
    batched = generate(cm, prompts, greedy, batch_size=len(prompts)).texts
    single = [generate(cm, [p], greedy, batch_size=1).texts[0] for p in prompts]
    assert batched == single
    assert any(t[0] for t in batched)


def test_trained_model_copies_attributes(trained):
    cm, corpus, _, _ = trained
    held = corpus[(corpus["split"] == "heldout") & (corpus["channel"] == "product_page")]
    greedy = SamplingParams(do_sample=False, max_new_tokens=40)
    out = generate(cm, held["prompt"].tolist(), greedy, batch_size=8).texts
    ppl = copy_perplexity(cm, held["prompt"].tolist(), held["target"].tolist())
    assert all(x > 1.0 for x in ppl)
    assert all(len(t[0].split()) >= 3 for t in out)


def test_missing_pretrained_model_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    t0 = time.perf_counter()
    with pytest.raises(PretrainedModelUnavailable) as err:
        load_pretrained("contentlab-no-such-org/no-such-gpt2")
    assert time.perf_counter() - t0 < 30
    msg = str(err.value)
    assert "not available offline" in msg and "HF_HUB_OFFLINE" in msg and "path" in msg and "embedded" in msg
    with pytest.raises(PretrainedModelUnavailable, match="config.json missing"):
        load_pretrained(str(tmp_path))


def test_missing_pretrained_model_never_hangs_without_offline_flag(tmp_path):
    # no HF_HUB_OFFLINE: the default still resolves from local files only, so it fails at once
    code = ("from contentlab.generate.model import load_pretrained, PretrainedModelUnavailable\n"
            "try:\n    load_pretrained('contentlab-no-such-org/no-such-gpt2')\n"
            "except PretrainedModelUnavailable as e:\n    print('UNAVAILABLE', str(e)[:40])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_HOME"] = str(tmp_path / "hf")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "UNAVAILABLE" in proc.stdout, proc.stderr[-2000:]


def test_local_checkpoint_directory_loads(trained, tmp_path):
    cm, corpus, _, _ = trained
    path = cm.save(tmp_path / "ckpt")
    loaded = load_pretrained(str(path))
    greedy = SamplingParams(do_sample=False, max_new_tokens=12)
    prompts = corpus["prompt"].tolist()[:2]
    assert generate(loaded, prompts, greedy).texts == generate(cm, prompts, greedy).texts


def test_finetune_a_checkpoint_with_the_same_routine(trained, tmp_path, monkeypatch):
    cm, corpus, _, _ = trained
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path / "home"))
    path = cm.save(tmp_path / "base")
    cfg = TrainConfig(steps=10, batch_size=8, lr=1e-3, eval_every=5, patience=5, seed=0)
    ft = fit_copy_model(corpus, model=str(path), train=cfg, finetune_steps=10, progress=False)
    assert ft.kind == "finetuned" and ft.info["trained"] and ft.info["steps_run"] == 10
    assert ft.info["heldout_loss"] <= ft.info["initial_heldout_loss"] + 1e-6
    as_is = fit_copy_model(corpus, model=str(path), train=cfg, finetune_steps=0, progress=False)
    assert as_is.info["trained"] is False and as_is.info["heldout_perplexity"] > 1.0


def test_finetune_on_winning_copy_lowers_its_loss_and_is_cached(trained, tmp_path, monkeypatch):
    from contentlab.generate.finetune import finetune_on_winners, winner_pairs
    from contentlab.generate.train import encode_pair, evaluate_loss

    cm, corpus, _, _ = trained
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    cat = toy_catalogue()
    tr = corpus[corpus["split"] == "train"].head(2)
    winners = [{"product_id": pid, "prompt": prompt, "text": "Nimbus says: grab it today. Loved by everyone.",
                "lift": lift} for pid, prompt, lift in zip(tr["product_id"], tr["prompt"], (0.6, 0.1))]
    pairs = winner_pairs(winners + [{"product_id": "nope", "prompt": "x", "text": "y", "lift": 1.0}], cat,
                         load_templates("en"), delexicalise=False)
    assert [p[2] for p in pairs] == [3, 1]  # repetitions weighted by lift; unknown products left out
    seqs = [encode_pair(cm.vocab, p, t, 256) for p, t, _ in pairs]
    before = evaluate_loss(cm.model, seqs, cm.vocab.eos_id)
    ft = finetune_on_winners(cm, pairs, steps=12, lr=3e-3, seed=0)
    assert evaluate_loss(ft.model, seqs, ft.vocab.eos_id) < before
    assert evaluate_loss(cm.model, seqs, cm.vocab.eos_id) == pytest.approx(before)  # the base model is untouched
    assert ft.name.endswith("+winners") and ft.fingerprint != cm.fingerprint
    again = finetune_on_winners(cm, pairs, steps=12, lr=3e-3, seed=0)
    assert again.info.get("cached") and again.fingerprint == ft.fingerprint
    with pytest.raises(ValueError, match="no winning copy"):
        finetune_on_winners(cm, [], steps=5)

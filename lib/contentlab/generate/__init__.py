"""04 · Marketing copy generation.

The stage in one call: :func:`run_generate` (:mod:`~contentlab.generate.stage`) with a validated
:class:`GenerateConfig` (:mod:`~contentlab.generate.config`) returns a :class:`GenerateResult`
(:mod:`~contentlab.generate.result`: the report's tables, :meth:`~GenerateResult.metrics`,
:meth:`~GenerateResult.summary_markdown`); :mod:`~contentlab.generate.plots` draws its figures.

Modules: :mod:`~contentlab.generate.tokenizer` (GPT-2 BPE offline, compact vocabulary),
:mod:`~contentlab.generate.model` (embedded GPT-2 / pretrained loading), :mod:`~contentlab.generate.train`
(corpus, the training routine, the cached copy model), :mod:`~contentlab.generate.prompts` (templates
as data), :mod:`~contentlab.generate.decode` (batched generation), :mod:`~contentlab.generate.lexicon` (the catalogue's
attribute terms, and which are foreign to a product), :mod:`~contentlab.generate.constrain` (the decoding constraint
that keeps them out of copy), :mod:`~contentlab.generate.baseline`
(rule-based copy), :mod:`~contentlab.generate.inputs` (what 01/02/03 and the previous cycle's 05 handed over,
through the contract), :mod:`~contentlab.generate.slots` (slots and their variant mix),
:mod:`~contentlab.generate.guides` (shopping guides), :mod:`~contentlab.generate.reviews` (review
digests), :mod:`~contentlab.generate.scoring`, :mod:`~contentlab.generate.guardrails`,
:mod:`~contentlab.generate.workflow` (the stage's steps), :mod:`~contentlab.generate.evaluation`
(comparisons, recorded metrics, verdicts, summary) and :mod:`~contentlab.generate.publish`.

Threads: PyTorch's OpenMP workers busy-wait by default, which on a shared 2-core machine makes a
2-thread training step several times slower than a 1-thread one. Importing this package sets
``OMP_WAIT_POLICY=PASSIVE`` (unless already set) before torch is loaded; the thread count itself is
set explicitly (``threads`` parameters, default 2) by the training and decoding functions.
"""

import os as _os

_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from contentlab.generate.config import GenerateConfig
from contentlab.generate.decode import SamplingParams, copy_perplexity, generate
from contentlab.generate.guardrails import Guardrails, Violation, load_guardrails
from contentlab.generate.model import EMBEDDED, EMBEDDED_SIZES, CopyModel, PretrainedModelUnavailable, load_pretrained
from contentlab.generate.prompts import CHANNELS, PromptTemplates, load_templates
from contentlab.generate.result import GenerateResult
from contentlab.generate.stage import run_generate
from contentlab.generate.tokenizer import CompactVocab, IdentityVocab, gpt2_tokenizer
from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model, train_lm

__all__ = [
    "CHANNELS", "EMBEDDED", "EMBEDDED_SIZES", "CompactVocab", "CopyModel", "GenerateConfig", "GenerateResult",
    "Guardrails", "IdentityVocab", "PretrainedModelUnavailable", "PromptTemplates", "SamplingParams", "TrainConfig",
    "Violation", "build_corpus", "copy_perplexity", "fit_copy_model", "generate", "gpt2_tokenizer", "load_guardrails",
    "load_pretrained", "load_templates", "run_generate", "train_lm",
]

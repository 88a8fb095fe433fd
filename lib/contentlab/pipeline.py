"""The pipeline's stages and the data hand-over between them."""

from __future__ import annotations

# Order matters: each stage reads the products of the ones before it (docs/architecture.md).
STAGES: tuple[str, ...] = ("01_eda", "02_profiling", "03_recommend", "04_generate", "05_feedback")

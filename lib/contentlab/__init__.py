"""ContentLab: an analytical workbench for e-commerce content marketing.

Stages (one notebook each, run end to end by :mod:`contentlab.run`):
01 EDA -> 02 profiling -> 03 recommendations -> 04 generation -> 05 feedback.
"""

from contentlab.notebook import record, recorded_metrics, skip_stage

__version__ = "0.1.0"
__all__ = ["record", "recorded_metrics", "skip_stage", "__version__"]

"""Settings of the profiling stage (02): every parameter of the notebook, checked before anything runs.

A wrong value fails at once with a message naming the parameter, the value and what it accepts, instead of deep
inside a fit (``risk_method="guesswork"``, ``k_max=1``, ``calibration_end="30/09/1997"``, ...).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from contentlab.engine import check_engine_spec

__all__ = ["ProfilingConfig", "RISK_METHODS"]

RISK_METHODS = ("robust", "iforest", "both")
"""How risk flags are decided (:func:`contentlab.profiling.risk.risk_flags`)."""


def _int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        where = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {where}, got {value!r}")


def _real(name: str, value: Any, low: float, high: float | None = None, *, low_open: bool = False,
          high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ValueError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = f"{'>' if low_open else '≥'} {low:g}"
        hi = "" if high is None else f" and {'<' if high_open else '≤'} {high:g}"
        raise ValueError(f"{name} must be {lo}{hi}, got {value!r}")


@dataclass
class ProfilingConfig:
    # segments
    k_min: int = 2
    k_max: int = 8
    k: int | None = None  # fix k instead of choosing it by silhouette
    random_state: int = 0
    silhouette_sample: int = 2000
    kmeans_n_init: int = 4
    min_events_to_cluster: int = 1
    # customer lifetime value
    holdout_days: int = 14
    calibration_end: str | None = None  # BG/NBD calibration ends on this day; None: holdout_days before the end
    clv_horizon_days: int = 90
    annual_discount_rate: float = 0.10
    clv_period_days: float = 7.0
    # risk flags
    risk_z: float = 3.5
    risk_min_score: float = 12.0
    risk_contamination: float = 0.01
    risk_method: str = "robust"
    # association rules
    rule_min_support: float = 0.002
    rule_min_confidence: float = 0.05
    rule_min_lift: float = 1.0
    rule_min_count: int = 3
    rule_min_segment_baskets: int = 50
    # reporting
    min_cell: int = 5  # segments with fewer users are merged/suppressed in reports; no persona
    top_customers_n: int = 10  # rows of the report's top-customers table
    # the engine the event aggregations run on (the run profile's `engine`, see contentlab.engine); None: DuckDB
    engine: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _int("k_min", self.k_min, 2)
        _int("k_max", self.k_max, 2)
        if self.k_max < self.k_min:
            raise ValueError(f"k_max must be at least k_min ({self.k_min}), got {self.k_max!r}")
        if self.k is not None:
            _int("k", self.k, 2)
        _int("random_state", self.random_state, 0)
        _int("silhouette_sample", self.silhouette_sample, 10)
        _int("kmeans_n_init", self.kmeans_n_init, 1)
        _int("min_events_to_cluster", self.min_events_to_cluster, 1)
        _int("holdout_days", self.holdout_days, 0)
        if self.calibration_end is not None:
            self.calibration_end = self._day("calibration_end", self.calibration_end)
        _int("clv_horizon_days", self.clv_horizon_days, 1)
        _real("annual_discount_rate", self.annual_discount_rate, 0.0, 1.0, high_open=True)
        _real("clv_period_days", self.clv_period_days, 0.0, low_open=True)
        _real("risk_z", self.risk_z, 0.0, low_open=True)
        _real("risk_min_score", self.risk_min_score, 0.0, low_open=True)
        _real("risk_contamination", self.risk_contamination, 0.0, 0.5, low_open=True)
        if self.risk_method not in RISK_METHODS:
            raise ValueError(f"risk_method must be one of {', '.join(map(repr, RISK_METHODS))}, "
                             f"got {self.risk_method!r}")
        _real("rule_min_support", self.rule_min_support, 0.0, 1.0, low_open=True)
        _real("rule_min_confidence", self.rule_min_confidence, 0.0, 1.0)
        _real("rule_min_lift", self.rule_min_lift, 0.0)
        _int("rule_min_count", self.rule_min_count, 1)
        _int("rule_min_segment_baskets", self.rule_min_segment_baskets, 1)
        _int("min_cell", self.min_cell, 1)
        _int("top_customers_n", self.top_customers_n, 1)
        self.engine = check_engine_spec(self.engine)

    @staticmethod
    def _day(name: str, value: Any) -> str:
        """A day as ``YYYY-MM-DD`` (a date, a timestamp at midnight, or that text)."""
        text = value if isinstance(value, str) else None
        try:
            day = pd.Timestamp(value)
        except (TypeError, ValueError):
            day = None
        if day is None or pd.isna(day) or day != day.floor("D") or (
                text is not None and (len(text) != 10 or text != f"{day:%Y-%m-%d}")):
            raise ValueError(f"{name} must be a day written YYYY-MM-DD (e.g. \"1997-09-30\"), got {value!r}")
        return f"{day:%Y-%m-%d}"

    @property
    def k_range(self) -> range:
        return range(self.k_min, self.k_max + 1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

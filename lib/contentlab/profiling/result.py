"""What the profiling stage (02) found, in one object: :class:`ProfilingResult`.

:func:`contentlab.profiling.workflow.run_profiling` returns it. It holds the profile table and the models behind it
(:class:`~contentlab.profiling.core.UserProfiles`), the personas, the association rules, the planted-truth checks
and where the products were written; the report's tables are derived from those on first use. The notebook shows
them, records :meth:`ProfilingResult.metrics` and prints :meth:`ProfilingResult.summary_markdown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab.profiling import report
from contentlab.profiling.clv import spend_frequency_correlation
from contentlab.profiling.config import ProfilingConfig
from contentlab.profiling.core import CLVResult, UserProfiles
from contentlab.profiling.features import CAT_PREFIX, FeatureSet
from contentlab.profiling.rfm import rfm_grid_table
from contentlab.profiling.risk import RiskResult
from contentlab.profiling.segments import Clustering, cluster_profiles, pca_projection

__all__ = ["ProfilingResult", "BGNBD_PARAMETERS"]

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
"""BG/NBD parameters recorded as ``bgnbd_<name>`` (whole log) and ``bgnbd_calibration_<name>`` (calibration fit)."""


@dataclass
class ProfilingResult:
    config: ProfilingConfig
    users: UserProfiles  # profile table, features, risk flags, clustering, CLV
    personas: list[dict]
    rules: pd.DataFrame
    rules_note: str | None  # why no rules were mined (None when they were)
    dataset_name: str
    locale: str
    meta: dict[str, Any]  # the run's dataset.json (currency, input files, ...)
    n_activity: int  # rows of the table the behaviour comes from (events, or ratings)
    products: pd.DataFrame | None = None  # the catalogue (rule titles), when the dataset has one
    # planted-truth checks (simulated data only; None otherwise)
    segment_ari: float | None = None
    segment_confusion: pd.DataFrame | None = None  # planted segment x found segment (users)
    risk_precision: float | None = None
    risk_recall: float | None = None
    risk_truth_table: pd.DataFrame | None = None  # planted fake account x flagged (users)
    planted_fraud: pd.Series | None = None  # per user (features' index): planted fake account
    planted_fraud_accounts: int = 0  # fake accounts the simulator planted
    copurchase: tuple[int, int] | None = None  # planted "bought together" pairs found among the rules, planted
    paths: dict[str, Path] = field(default_factory=dict)  # product name -> file written

    # ------------------------------------------------------------------------------------------ the parts
    @property
    def profiles(self) -> pd.DataFrame:
        return self.users.profiles

    @property
    def features(self) -> FeatureSet:
        return self.users.features

    @property
    def risk(self) -> RiskResult:
        return self.users.risk

    @property
    def clustering(self) -> Clustering | None:
        return self.users.clustering

    @property
    def clv(self) -> CLVResult:
        return self.users.clv

    @property
    def currency(self) -> str:
        return str(self.meta.get("currency") or "")

    @property
    def source(self) -> str:
        """Which input the figures come from (file names, or the simulated shop)."""
        return report.data_source(self.meta)

    @property
    def has_rfm(self) -> bool:
        """Someone bought something: RFM scores exist."""
        return bool(self.profiles["R"].notna().any())

    @property
    def has_clv(self) -> bool:
        return bool(self.profiles["clv"].notna().any())

    # ------------------------------------------------------------------------------------------ report tables
    @cached_property
    def _segments(self) -> tuple[pd.DataFrame, int]:
        return report.segment_table(self.profiles, min_cell=self.config.min_cell)

    @property
    def segment_table(self) -> pd.DataFrame:
        """Per segment (small-cell rule applied): users, shares, revenue, CLV, P(alive)."""
        return self._segments[0]

    @property
    def segment_suppressed(self) -> int:
        """Users the segment table leaves out under the small-cell rule."""
        return self._segments[1]

    def pca_projection(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The clustered users in two dimensions: (coordinates, segment names, explained variance shares)."""
        cl = self.clustering
        coords, explained = pca_projection(cl.matrix, random_state=self.config.random_state)
        names = self.profiles.loc[cl.labels.index, "segment"].astype(str).to_numpy()
        return coords, names, explained

    @property
    def rfm_grids(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Customers and revenue per (R, F) cell."""
        return rfm_grid_table(self.profiles), rfm_grid_table(self.profiles, "monetary")

    @cached_property
    def _rfm(self) -> tuple[pd.DataFrame, int]:
        table, suppressed = report.rfm_segment_table(self.profiles, min_cell=self.config.min_cell)
        return table.dropna(axis=1, how="all"), suppressed

    @property
    def rfm_table(self) -> pd.DataFrame:
        """Per named RFM segment (small-cell rule applied; columns without any value left out)."""
        return self._rfm[0]

    @property
    def rfm_suppressed(self) -> int:
        return self._rfm[1]

    @property
    def clustered(self) -> pd.DataFrame:
        """Profiles of the users that were clustered."""
        return self.profiles[self.profiles["cluster"] >= 0]

    @cached_property
    def profile_table(self) -> pd.DataFrame:
        """Feature means per segment of at least ``min_cell`` users and over all clustered users (last row); columns
        that describe no segment left out."""
        c = self.clustered
        table = cluster_profiles(c, c["cluster"], self.clustering.names)
        table = table[table["size"] >= self.config.min_cell]
        return report.informative_columns(table.reset_index(drop=True))

    @property
    def large_segments(self) -> pd.DataFrame:
        """Profiles of the clustered users in segments of at least ``min_cell`` users (what the heatmaps show)."""
        c = self.clustered
        return c[c.groupby("segment")["user_id"].transform("size") >= self.config.min_cell]

    @property
    def category_shares(self) -> pd.DataFrame | None:
        """Share of each large segment's events per category (None when the data has no categories)."""
        if not self.features.has_categories:
            return None
        cols = self.features.category_columns
        shares = self.large_segments.groupby("segment")[cols].mean()
        shares.columns = [c[len(CAT_PREFIX):] for c in cols]
        return shares

    @cached_property
    def clv_parameters(self) -> pd.DataFrame:
        return report.clv_parameter_table(self.clv)

    @cached_property
    def calibration_parameters(self) -> pd.DataFrame:
        return report.calibration_parameter_table(self.clv)

    @property
    def spend_frequency_correlation(self) -> float:
        return spend_frequency_correlation(self.clv.summary) if len(self.clv.summary) else float("nan")

    @cached_property
    def top_customers(self) -> pd.DataFrame:
        return report.top_customers(self.profiles, self.config.top_customers_n, self.config.clv_horizon_days)

    @cached_property
    def top_rules(self) -> pd.DataFrame:
        return report.readable_rules(self.rules, self.products, n=10)

    @cached_property
    def rules_per_segment(self) -> pd.DataFrame:
        return self.rules.groupby("segment").agg(rules=("lift", "size"), baskets=("n_baskets", "first"),
                                                 max_lift=("lift", "max")).reset_index()

    @cached_property
    def risk_reasons(self) -> pd.DataFrame:
        return report.risk_reason_table(self.risk.table)

    @property
    def risk_confusion(self) -> pd.DataFrame | None:
        if self.risk_truth_table is None:
            return None
        return self.risk_truth_table.reset_index().rename(columns={False: "not flagged", True: "flagged"})

    # ------------------------------------------------------------------------------------------ recorded
    def metrics(self) -> dict[str, Any]:
        """The metrics 02 records, in order: segments, rules, planted-truth checks (simulated data), BG/NBD fits,
        total CLV, users profiled. A value that cannot be computed is ``None``."""
        cl, v = self.clustering, self.clv
        out: dict[str, Any] = {
            "n_segments": int(cl.k) if cl is not None else 0,
            "silhouette": float(cl.silhouette) if cl is not None else None,
            "n_rules": int(len(self.rules)),
        }
        if self.risk_precision is not None:
            out["risk_precision"] = self.risk_precision
            out["risk_recall"] = self.risk_recall
        if self.segment_ari is not None:
            out["segment_ari"] = self.segment_ari
        bg = v.bgnbd.params if v.bgnbd is not None else {}
        out.update({f"bgnbd_{name}": bg.get(name) for name in BGNBD_PARAMETERS})
        cal = v.calibration_bgnbd.params if v.calibration_bgnbd is not None else {}
        out.update({f"bgnbd_calibration_{name}": cal.get(name) for name in BGNBD_PARAMETERS})
        out["bgnbd_dropout_identified"] = bool(v.bgnbd.dropout_identified) if v.bgnbd is not None else None
        out["clv_total"] = float(self.profiles["clv"].sum(skipna=True)) if self.has_clv else None
        out["users_profiled"] = int(len(self.profiles))
        return out

    def summary_markdown(self) -> str:
        """The report's summary (computed findings, one bullet each)."""
        return report.findings_markdown(self)

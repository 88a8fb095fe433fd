"""02 · Customer profiling: features, RFM, segments, personas, CLV, association rules, risk flags.

One call runs the stage: :func:`run_profiling` (:mod:`.workflow`) with a :class:`ProfilingConfig` (:mod:`.config`)
returns a :class:`ProfilingResult` (:mod:`.result`) whose ``metrics()`` and ``summary_markdown()`` the notebook
records and shows.

Modules: :mod:`.features` (per-user features in SQL through the EventStore), :mod:`.rfm`,
:mod:`.segments` (K-means, silhouette, names, ARI), :mod:`.personas`, :mod:`.clv` (BG/NBD and
Gamma-Gamma by maximum likelihood), :mod:`.rules` (FP-growth), :mod:`.risk`, :mod:`.core` (the profile table, the
rules and the products), :mod:`.report` (tables and text of the report), :mod:`.plots`.
"""

from contentlab.profiling.clv import (
    BetaGeoNBD,
    GammaGamma,
    calibration_holdout_summary,
    customer_lifetime_value,
    rfm_summary,
    spend_frequency_correlation,
)
from contentlab.profiling.config import ProfilingConfig
from contentlab.profiling.core import (
    UserProfiles,
    basket_rules,
    customer_value,
    order_transactions,
    profile_users,
    write_outputs,
)
from contentlab.profiling.features import FeatureSet, NoActivityError, user_features
from contentlab.profiling.personas import build_personas, price_band
from contentlab.profiling.result import ProfilingResult
from contentlab.profiling.rfm import NO_PURCHASE, RFM_GRID, RFM_SEGMENTS, rfm_grid_table, rfm_scores, rfm_segment_of
from contentlab.profiling.risk import precision_recall, risk_flags, robust_z
from contentlab.profiling.rules import baskets_from_purchases, mine_rules, planted_pairs_found, rules_by_segment
from contentlab.profiling.segments import (
    cluster_profiles,
    cluster_users,
    confusion_table,
    merge_small_segments,
    name_clusters,
    pca_projection,
    segment_ari,
)
from contentlab.profiling.workflow import run_profiling

__all__ = [
    "run_profiling", "ProfilingConfig", "ProfilingResult",
    "BetaGeoNBD", "GammaGamma", "calibration_holdout_summary", "customer_lifetime_value", "rfm_summary",
    "spend_frequency_correlation", "UserProfiles", "basket_rules", "customer_value", "order_transactions",
    "profile_users", "write_outputs", "FeatureSet", "NoActivityError", "user_features", "build_personas",
    "price_band", "NO_PURCHASE", "RFM_GRID", "RFM_SEGMENTS", "rfm_grid_table", "rfm_scores", "rfm_segment_of",
    "precision_recall", "risk_flags", "robust_z", "baskets_from_purchases", "mine_rules", "planted_pairs_found",
    "rules_by_segment", "cluster_profiles", "cluster_users", "confusion_table", "merge_small_segments",
    "name_clusters", "pca_projection", "segment_ari",
]

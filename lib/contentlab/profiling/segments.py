"""Behavioural segments: standardised features -> K-means, k chosen by silhouette.

* The clustering matrix has feature *blocks* (:data:`FEATURE_BLOCKS`: activity, funnel, price,
  tenure, time of day, category shares, channel shares). Every column is standardised (z-score); each block is then divided by the
  square root of its width so that every block carries the same total variance and ten category
  columns do not outvote one price column. Skewed counts are log-transformed first.
* ``k`` is the value in ``k_range`` with the highest silhouette (K-means and silhouette on a fixed
  random sample of at most 2,000 users for large populations, then the chosen k is fitted on
  everyone); K-means uses ``random_state`` and several initialisations.
* Clusters get readable names from their most distinctive traits (:data:`TRAIT_NAMES`): each
  cluster's mean of a few interpretable features is compared with the overall mean in standard
  deviations, and names are assigned one per cluster by maximising the total distinctiveness
  (Hungarian assignment), so the names are data-derived and unique. A name only uses what the data can
  show: a trait whose feature the data does not measure (no views: no "Casual Browsers"; no purchases: no
  "Frequent Buyers") is never a candidate, and the noun fits who the users are (:func:`population_of`):
  "New Visitors" only where the log records browsing, "New Customers" in a purchase-only shop, "New Raters"
  on a ratings-only dataset. A cluster without a distinctive trait is named after a category it favours far
  more than everyone ("Drama Fans") before falling back to "Mainstream <noun>".
* Accounts flagged as risky and users without events are not clustered (``cluster = -1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from contentlab.profiling.features import CAT_PREFIX, CH_PREFIX

__all__ = [
    "FEATURE_BLOCKS", "TRAIT_NAMES", "TRAIT_NAMES_ZH", "FLAGGED_SEGMENT", "INACTIVE_SEGMENT", "POPULATIONS",
    "population_of",
    "clustering_matrix", "silhouette_curve", "cluster_users", "name_clusters", "cluster_profiles",
    "pca_projection", "segment_ari", "confusion_table", "merge_small_segments",
]

FLAGGED_SEGMENT = "Flagged (excluded)"
INACTIVE_SEGMENT = "No activity"

# block -> (columns or column prefix, log-transform)
FEATURE_BLOCKS: dict[str, tuple[list[str], bool]] = {
    "activity": (["n_events", "n_sessions", "frequency", "monetary"], True),
    "funnel": (["view_to_purchase", "cart_abandonment"], False),
    "price": (["price_index", "discount_share"], False),
    "tenure": (["tenure_days"], True),
    "time of day": (["hour_sin", "hour_cos"], False),
    "category": ([CAT_PREFIX], False),
    "channel": ([CH_PREFIX], False),
}
"""block -> (columns, or a column prefix ending in ``__``; log-transform). Recency and novelty are
left out on purpose: recency mostly says *when* the 90-day window ended for a user, which RFM already
covers, and blocks that carry little segment structure only dilute the distances."""

# (feature, direction) -> readable segment name; direction +1 = above average
TRAIT_NAMES: dict[tuple[str, int], str] = {
    ("price_index", -1): "Bargain Hunters",
    ("price_index", +1): "Premium Shoppers",
    ("frequency", +1): "Frequent Buyers",
    ("novelty_share", +1): "Trend Seekers",
    ("tenure_days", -1): "New Visitors",
    ("view_to_purchase", -1): "Casual Browsers",
    ("monetary", +1): "Big Spenders",
    ("days_since_last_event", +1): "Lapsing Customers",
    ("discount_share", +1): "Deal Seekers",
    ("cart_abandonment", +1): "Cart Abandoners",
}
TRAIT_NAMES_ZH: dict[str, str] = {
    "Bargain Hunters": "精打细算淘货族",
    "Premium Shoppers": "品质优选客",
    "Frequent Buyers": "高频回购客",
    "Trend Seekers": "追新潮人",
    "New Visitors": "新访客",
    "Casual Browsers": "随意浏览者",
    "Big Spenders": "高消费客户",
    "Lapsing Customers": "流失风险客户",
    "Deal Seekers": "优惠猎手",
    "Cart Abandoners": "加购未付款客户",
    "Mainstream Customers": "大众顾客",
    "New Customers": "新顾客",
    "New Raters": "新评分用户",
    "Lapsing Raters": "评分渐少用户",
    "Mainstream Raters": "大众评分用户",
    "Avid Raters": "活跃评分用户",
    FLAGGED_SEGMENT: "风险账户（已排除）",
    INACTIVE_SEGMENT: "无行为用户",
}


POPULATIONS: dict[str, dict[str, str]] = {
    "visitors": {},
    "customers": {"New Visitors": "New Customers"},
    "raters": {"New Visitors": "New Raters", "Lapsing Customers": "Lapsing Raters",
               "Mainstream Customers": "Mainstream Raters"},
}
"""Who the users are -> renames of the trait names, so a name's noun is one the data supports:
``visitors`` (the log records browsing, some users never buy), ``customers`` (a purchase-only log: every
user bought), ``raters`` (a ratings-only dataset)."""
POPULATION_TRAITS: dict[str, dict[tuple[str, int], str]] = {
    "raters": {("n_events", +1): "Avid Raters"},
}
"""Traits that only name a segment for one population (on a ratings-only dataset the amount of rating is
the activity; in a shop, activity is already described by orders and spend)."""
CATEGORY_FAN_MIN_SHARE_GAIN = 0.10
CATEGORY_FAN_MIN_RATIO = 1.5
"""A cluster is named after a category ("<category> Fans") when its mean share of events there is at least
10 points and 1.5 times everyone's."""


def population_of(features: pd.DataFrame) -> str:
    """``visitors`` when the users viewed products, ``customers`` when the log holds purchases only,
    ``raters`` when there are neither views nor purchases (the activity is ratings)."""
    views = float(features["n_views"].sum()) if "n_views" in features else 0.0
    orders = float(features["frequency"].sum()) if "frequency" in features else 0.0
    if views > 0:
        return "visitors"
    return "customers" if orders > 0 else "raters"


def _block_columns(features: pd.DataFrame, spec: list[str]) -> list[str]:
    cols: list[str] = []
    for s in spec:
        if s.endswith("__"):
            cols += [c for c in features.columns if c.startswith(s)]
        elif s in features.columns:
            cols.append(s)
    # drop constant or all-missing columns
    return [c for c in cols if features[c].notna().any() and features[c].astype(float).std(ddof=0) > 0]


def clustering_matrix(features: pd.DataFrame, blocks: dict | None = None) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Standardised, block-weighted matrix for the rows of ``features``.

    Returns the matrix, its column names and the columns used per block.
    """
    blocks = FEATURE_BLOCKS if blocks is None else blocks
    parts, names, used = [], [], {}
    for block, (spec, log) in blocks.items():
        cols = _block_columns(features, spec)
        if not cols:
            continue
        X = features[cols].astype(float)
        if log:
            X = np.log1p(X.clip(lower=0))
        X = X.fillna(X.median()).fillna(0.0)
        sd = X.std(ddof=0).replace(0, 1.0)
        Z = (X - X.mean()) / sd / np.sqrt(len(cols))
        parts.append(Z.to_numpy())
        names += cols
        used[block] = cols
    if not parts:
        raise ValueError("no usable features for clustering")
    return np.hstack(parts), names, used


def _fit_kmeans(X: np.ndarray, k: int, random_state: int, n_init: int) -> KMeans:
    # K-means' OpenMP threads spin-wait; on a shared 2-core machine one thread is many times faster.
    with threadpool_limits(limits=1, user_api="openmp"):
        return KMeans(n_clusters=k, random_state=random_state, n_init=n_init).fit(X)


def _kmeans_curve(X: np.ndarray, k_range, random_state: int, sample_size: int, n_init: int):
    """K-means and silhouette for each k on a fixed random sample of at most ``sample_size`` rows."""
    rows, models = [], {}
    n = len(X)
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    Xs = X[idx]
    for k in k_range:
        if k >= len(Xs):
            break
        km = _fit_kmeans(Xs, k, random_state, n_init)
        labels = km.labels_
        sil = float(silhouette_score(Xs, labels)) if len(np.unique(labels)) > 1 else float("nan")
        rows.append({"k": int(k), "silhouette": sil, "inertia": float(km.inertia_)})
        if len(idx) == n:
            models[int(k)] = km
    return pd.DataFrame(rows, columns=["k", "silhouette", "inertia"]), models


def silhouette_curve(X: np.ndarray, k_range=range(2, 9), random_state: int = 0, sample_size: int = 2000,
                     n_init: int = 4) -> pd.DataFrame:
    """Silhouette (and inertia) of K-means for each k, computed on a fixed random sample of
    ``sample_size`` users when there are more (the silhouette is quadratic in users); the final
    model with the chosen k is then fitted on all users."""
    return _kmeans_curve(X, k_range, random_state, sample_size, n_init)[0]


@dataclass
class Clustering:
    labels: pd.Series  # cluster per clustered user (index = features index)
    k: int
    silhouette: float
    curve: pd.DataFrame
    matrix: np.ndarray
    columns: list[str]
    blocks: dict[str, list[str]]
    model: KMeans
    names: dict[int, str] = field(default_factory=dict)


def cluster_users(features: pd.DataFrame, k_range=range(2, 9), random_state: int = 0, sample_size: int = 2000,
                  n_init: int = 4, k: int | None = None) -> Clustering:
    """Cluster the rows of ``features`` (already restricted to the users to segment)."""
    X, cols, used = clustering_matrix(features)
    ks = list(k_range)
    curve, models = _kmeans_curve(X, ks, random_state, sample_size, n_init)
    if curve.empty or curve["silhouette"].isna().all():
        raise ValueError(f"too few users ({len(X)}) to cluster over k in {ks}")
    best_k = int(k) if k is not None else int(curve.loc[curve["silhouette"].idxmax(), "k"])
    model = models.get(best_k) or _fit_kmeans(X, best_k, random_state, n_init)
    labels = pd.Series(model.labels_.astype("int64"), index=features.index, name="cluster")
    # Relabel clusters by size (0 = largest) so the numbering is stable and readable.
    order = labels.value_counts().sort_index().sort_values(ascending=False, kind="mergesort").index
    remap = {old: new for new, old in enumerate(order)}
    labels = labels.map(remap).astype("int64")
    if (curve["k"] == best_k).any():
        sil = float(curve.loc[curve["k"] == best_k, "silhouette"].iloc[0])
    else:
        sil = float(silhouette_score(X, labels)) if labels.nunique() > 1 else float("nan")
    return Clustering(labels, best_k, sil, curve, X, cols, used, model)


# A trait can name a segment only when the difference also matters in the feature's own units: it
# must be at least 25% of everyone's mean (price index: 10%), and for shares (0..1) also at least
# 2 points. Without this, a tight population (e.g. CDNOW, where every customer's first
# purchase falls in one quarter) would name a cluster "New Visitors" for a 4% shorter tenure.
SHARE_TRAITS = ("view_to_purchase", "cart_abandonment", "novelty_share", "discount_share")
MIN_EFFECT = {"price_index": 0.10}
MIN_SHARE_EFFECT = 0.02
MIN_RELATIVE_EFFECT = 0.25


def _trait_z(features: pd.DataFrame, labels: pd.Series, traits: dict | None = None) -> pd.DataFrame:
    """cluster x trait: cluster mean minus overall mean, in overall standard deviations (signed by
    direction); NaN where the difference is too small in the feature's own units to name a segment."""
    out = {}
    for (feat, direction), _name in (traits or TRAIT_NAMES).items():
        if feat not in features.columns or not features[feat].notna().any():
            continue
        raw = features.loc[labels.index, feat].astype(float)
        x = np.log1p(raw.clip(lower=0)) if feat in ("frequency", "monetary", "n_events") else raw
        sd = x.std(ddof=0)
        if not sd or np.isnan(sd):
            continue
        means = x.groupby(labels).mean()
        z = direction * (means - x.mean()) / sd
        raw_means, overall = raw.groupby(labels).mean(), raw.mean()
        big = (raw_means - overall).abs() >= MIN_EFFECT.get(feat, MIN_RELATIVE_EFFECT) * abs(overall)
        if feat in SHARE_TRAITS:
            big &= (raw_means - overall).abs() >= MIN_SHARE_EFFECT
        out[(feat, direction)] = z.where(big)
    return pd.DataFrame(out)


MIN_TRAIT_Z = 0.25
FALLBACK_NAME = "Mainstream Customers"


def name_clusters(features: pd.DataFrame, labels: pd.Series, min_z: float = MIN_TRAIT_Z,
                  population: str | None = None) -> dict[int, str]:
    """Readable, unique names per cluster from their most distinctive traits.

    A name is only given for a trait at least ``min_z`` standard deviations from everyone's mean, on a
    feature the data measures; the noun follows ``population`` (:data:`POPULATIONS`; inferred with
    :func:`population_of` when None). Clusters without such a trait are named after a category they favour
    (:data:`CATEGORY_FAN_MIN_SHARE_GAIN`), else "Mainstream <noun>" (numbered when there are several).
    """
    population = population or population_of(features.loc[labels.index])
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {sorted(POPULATIONS)}, not {population!r}")
    renames = POPULATIONS[population]
    traits = {**TRAIT_NAMES, **POPULATION_TRAITS.get(population, {})}
    z = _trait_z(features, labels, traits)
    clusters = sorted(labels.unique())
    names: dict[int, str] = {}
    if not z.empty:
        z = z.reindex(clusters).fillna(-np.inf)
        # maximise the total distinctiveness of the names given; a trait below min_z is worth nothing
        cost = -np.where(z.to_numpy() >= min_z, z.to_numpy(), 0.0)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            if z.iloc[r, c] >= min_z:
                name = traits[z.columns[c]]
                names[clusters[r]] = renames.get(name, name)
    rest = [c for c in clusters if c not in names]
    cat_cols = [c for c in features.columns if c.startswith(CAT_PREFIX)]
    if rest and cat_cols:
        shares = features.loc[labels.index, cat_cols].astype(float)
        overall = shares.mean()
        means = shares.groupby(labels).mean().reindex(rest)
        gain = means - overall
        ok = (gain >= CATEGORY_FAN_MIN_SHARE_GAIN) & (means >= CATEGORY_FAN_MIN_RATIO * overall)
        score = gain.where(ok, 0.0).to_numpy()
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols):
            if score[r, c] > 0:
                names[rest[r]] = f"{cat_cols[c][len(CAT_PREFIX):]} Fans"
    rest = [c for c in clusters if c not in names]
    fallback = renames.get(FALLBACK_NAME, FALLBACK_NAME)
    for i, c in enumerate(rest, start=1):
        names[c] = fallback if len(rest) == 1 else f"{fallback} {i}"
    return names


def cluster_profiles(features: pd.DataFrame, labels: pd.Series, names: dict[int, str],
                     profile_cols: list[str] | None = None, revenue_col: str = "monetary") -> pd.DataFrame:
    """Per cluster: size, revenue share, and the mean of each profile column next to the overall mean."""
    f = features.loc[labels.index]
    profile_cols = profile_cols or [c for c in (
        "frequency", "monetary", "aov", "recency_days", "tenure_days", "n_events", "view_to_purchase",
        "cart_abandonment", "price_index", "novelty_share", "discount_share") if c in f.columns]
    g = f.groupby(labels)
    prof = g[profile_cols].mean()
    prof.insert(0, "size", g.size())
    total_rev = f[revenue_col].sum()
    prof.insert(1, "revenue_share", g[revenue_col].sum() / total_rev if total_rev else np.nan)
    prof.insert(0, "segment", [names.get(c, str(c)) for c in prof.index])
    overall = f[profile_cols].mean()
    overall_row = pd.DataFrame([{"segment": "All clustered users", "size": len(f),
                                 "revenue_share": 1.0 if total_rev else np.nan, **overall}],
                               index=pd.Index(["all"], name=prof.index.name))
    return pd.concat([prof, overall_row])


def pca_projection(X: np.ndarray, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA coordinates and the explained variance ratio of the two components."""
    pca = PCA(n_components=2, random_state=random_state)
    coords = pca.fit_transform(X)
    return coords, pca.explained_variance_ratio_


def segment_ari(predicted: pd.Series, truth: pd.Series) -> float:
    """Adjusted Rand index between two labelings aligned on their index (common users only)."""
    common = predicted.index.intersection(truth.dropna().index)
    if len(common) < 2:
        return float("nan")
    return float(adjusted_rand_score(truth.loc[common].astype(str), predicted.loc[common].astype(str)))


def confusion_table(predicted: pd.Series, truth: pd.Series) -> pd.DataFrame:
    """Counts of true segment (rows) x found segment (columns)."""
    common = predicted.index.intersection(truth.dropna().index)
    return pd.crosstab(truth.loc[common].rename("planted segment"), predicted.loc[common].rename("found segment"))


def merge_small_segments(table: pd.DataFrame, size_col: str = "size", label_col: str = "segment", min_size: int = 5,
                         other_label: str = "Other (merged small segments)") -> pd.DataFrame:
    """Rows with fewer than ``min_size`` users are summed into one row; that row is suppressed if it is
    still below ``min_size``. Numeric columns of merged rows are summed for counts and size-weighted for means.
    """
    small = table[size_col] < min_size
    if not small.any():
        return table
    big = table[~small]
    s = table[small]
    n = s[size_col].sum()
    if n < min_size:
        return big
    merged = {label_col: other_label, size_col: n}
    for c in table.columns:
        if c in (label_col, size_col):
            continue
        if pd.api.types.is_numeric_dtype(table[c]):
            if c.endswith("_share") or c.startswith("n_") or c in ("revenue", "clv_total", "users"):
                merged[c] = s[c].sum()
            else:
                merged[c] = np.average(s[c].fillna(0), weights=s[size_col])
    return pd.concat([big, pd.DataFrame([merged])], ignore_index=True)

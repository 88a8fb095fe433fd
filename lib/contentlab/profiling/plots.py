"""Figures of the profiling report (matplotlib/seaborn; titles, axis labels with units)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from contentlab.profiling.features import CAT_PREFIX

__all__ = [
    "renderable", "PROFILE_HEATMAP_FEATURES", "silhouette_plot", "pca_plot", "rfm_heatmaps",
    "segment_profile_heatmap", "clv_distribution", "calibration_plot", "risk_plot", "risk_plot_axes",
    "RISK_PLOT_AXES", "confusion_heatmap", "category_affinity_heatmap",
]


def renderable(labels) -> bool:
    """True when the fonts in use can draw every character of ``labels`` (Chinese names need a CJK font)."""
    from contentlab.plotting import can_render

    return can_render(labels)


def silhouette_plot(curve: pd.DataFrame, chosen_k: int, ax=None):
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    ax.plot(curve["k"], curve["silhouette"], marker="o", color="#3b6ea8")
    row = curve[curve["k"] == chosen_k]
    if not row.empty:
        ax.scatter(row["k"], row["silhouette"], s=160, facecolors="none", edgecolors="#c0392b", linewidths=2,
                   label=f"chosen k = {chosen_k}")
        ax.legend(loc="best")
    ax.set_title("Choosing the number of segments: silhouette by k")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("mean silhouette (−1 to 1)")
    ax.set_xticks(curve["k"])
    ax.grid(alpha=0.3)
    return ax


def pca_plot(coords: np.ndarray, labels: pd.Series, explained: np.ndarray, ax=None, max_points: int = 5000, seed: int = 0):
    ax = ax or plt.subplots(figsize=(8, 6))[1]
    n = len(coords)
    idx = np.random.default_rng(seed).choice(n, size=min(n, max_points), replace=False) if n > max_points else np.arange(n)
    df = pd.DataFrame({"PC1": coords[idx, 0], "PC2": coords[idx, 1], "segment": np.asarray(labels)[idx]})
    sns.scatterplot(data=df, x="PC1", y="PC2", hue="segment", s=12, alpha=0.6, ax=ax, linewidth=0)
    ax.set_title("Segments in two dimensions (PCA of the standardised features)")
    ax.set_xlabel(f"first principal component ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"second principal component ({explained[1]:.0%} of variance)")
    ax.legend(title="segment", markerscale=2, fontsize=8, loc="best")
    return ax


def rfm_heatmaps(counts: pd.DataFrame, revenue: pd.DataFrame, min_cell: int = 5):
    """Customers and revenue share per (R, F) cell; cells with fewer than ``min_cell`` customers are
    shown as "<min_cell" and their revenue is not shown (no small-cell disclosure)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    small = counts < min_cell
    count_labels = counts.astype(int).astype(str).where(~small, f"<{min_cell}")
    count_labels = count_labels.where(counts > 0, "0")
    sns.heatmap(counts, annot=count_labels.to_numpy(), fmt="", cmap="Blues", ax=axes[0], cbar_kws={"label": "customers"})
    axes[0].set_title("RFM grid: customers per (R, F) cell")
    total = revenue.to_numpy().sum()
    share = (revenue / total * 100) if total else revenue * 0
    share_masked = share.mask(small & (counts > 0))
    labels = share_masked.map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    sns.heatmap(share_masked, annot=labels.to_numpy(), fmt="", cmap="Greens", ax=axes[1],
                cbar_kws={"label": "% of revenue"})
    axes[1].set_title("RFM grid: share of revenue per cell (%)")
    for ax in axes:
        ax.set_xlabel("F score (1 = fewest orders, 5 = most)")
        ax.set_ylabel("R score (5 = most recent)")
    return fig


PROFILE_HEATMAP_FEATURES: tuple[str, ...] = (
    "frequency", "monetary", "aov", "recency_days", "tenure_days", "n_events", "view_to_purchase", "cart_abandonment",
    "price_index", "discount_share", "novelty_share", "mean_hour")
"""Features the segment-profile heatmap shows (those the data has and that vary)."""


def segment_profile_heatmap(profiles: pd.DataFrame, features: list[str] | None = None, segment_col: str = "segment",
                            ax=None):
    """Segment means in standard deviations from the overall mean (default features: those of
    :data:`PROFILE_HEATMAP_FEATURES` present in ``profiles`` that take more than one value)."""
    if features is None:
        features = [c for c in PROFILE_HEATMAP_FEATURES if c in profiles and profiles[c].nunique(dropna=True) > 1]
    f = profiles[features].astype(float)
    z = (f.groupby(profiles[segment_col]).mean() - f.mean()) / f.std(ddof=0).replace(0, np.nan)
    ax = ax or plt.subplots(figsize=(1.1 * len(features) + 3, 0.6 * len(z) + 2))[1]
    sns.heatmap(z, annot=True, fmt=".1f", cmap="RdBu_r", center=0, ax=ax, cbar_kws={"label": "standard deviations from the mean"})
    ax.set_title("Segment profiles: feature means relative to all clustered customers")
    ax.set_xlabel("feature")
    ax.set_ylabel("segment")
    return ax


def category_affinity_heatmap(profiles: pd.DataFrame, segment_col: str = "segment", ax=None):
    cols = [c for c in profiles.columns if c.startswith(CAT_PREFIX)]
    shares = profiles.groupby(segment_col)[cols].mean() * 100
    shares.columns = [c[len(CAT_PREFIX):] for c in cols]
    ax = ax or plt.subplots(figsize=(0.8 * len(cols) + 3, 0.6 * len(shares) + 2))[1]
    sns.heatmap(shares, annot=True, fmt=".0f", cmap="Purples", ax=ax, cbar_kws={"label": "% of the segment's events"})
    ax.set_title("Category affinity: share of each segment's events per category (%)")
    ax.set_xlabel("category")
    ax.set_ylabel("segment")
    return ax


def clv_distribution(clv: pd.Series, horizon_days: int, currency: str = "", ax=None):
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    v = clv.dropna()
    v = v[v > 0]
    if v.empty:
        ax.text(0.5, 0.5, "no positive CLV", ha="center", transform=ax.transAxes)
        return ax
    bins = np.logspace(np.log10(max(v.min(), 1e-2)), np.log10(v.max()), 40)
    ax.hist(v, bins=bins, color="#3b6ea8", alpha=0.85)
    ax.set_xscale("log")
    ax.axvline(v.median(), color="#c0392b", ls="--", label=f"median {v.median():,.2f}")
    ax.set_title(f"Customer lifetime value over the next {horizon_days} days (discounted)")
    ax.set_xlabel(f"CLV {currency}(log scale)".strip())
    ax.set_ylabel("customers")
    ax.legend()
    return ax


def calibration_plot(cal: pd.DataFrame, max_frequency: int = 7, ax=None):
    """Mean predicted vs actual holdout purchases by number of repeat purchases in calibration."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    f = cal["frequency"].clip(upper=max_frequency).astype(int)
    g = pd.DataFrame({"f": f, "actual": cal["frequency_holdout"], "predicted": cal["predicted_holdout"]}).groupby("f").mean()
    ax.plot(g.index, g["actual"], marker="o", label="actual", color="#2c3e50")
    ax.plot(g.index, g["predicted"], marker="s", ls="--", label="BG/NBD prediction", color="#e67e22")
    ax.set_xticks(g.index)
    ax.set_xticklabels([str(i) if i < max_frequency else f"{i}+" for i in g.index])
    ax.set_title("Holdout check: purchases in the holdout period by calibration frequency")
    ax.set_xlabel("repeat purchase days in the calibration period")
    ax.set_ylabel("mean purchase days per customer in holdout")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


RISK_PLOT_AXES: tuple[tuple[str, str], ...] = (
    ("max_events_per_minute", "events_per_session"),
    ("orders_per_active_day", "repeat_amount_orders"),
)
"""Pairs of risk signals the risk plot can show, in order of preference (the first pair the data measures)."""


def risk_plot_axes(features: pd.DataFrame) -> tuple[str, str] | None:
    """The first pair of :data:`RISK_PLOT_AXES` whose columns both hold values, or None."""
    for x, y in RISK_PLOT_AXES:
        if all(c in features.columns and features[c].notna().any() for c in (x, y)):
            return x, y
    return None


def risk_plot(features: pd.DataFrame, flagged: pd.Series, x: str = "max_events_per_minute",
              y: str = "events_per_session", truth: pd.Series | None = None, ax=None):
    from contentlab.profiling.risk import RISK_SIGNALS

    ax = ax or plt.subplots(figsize=(8, 5))[1]
    df = pd.DataFrame({x: features[x].astype(float), y: features[y].astype(float),
                       "status": np.where(flagged, "flagged", "not flagged")})
    if truth is not None:
        df["planted"] = np.where(truth.reindex(features.index).fillna(False).astype(bool), "planted fraud", "genuine")
    sns.scatterplot(data=df, x=x, y=y, hue="status", style="planted" if truth is not None else None,
                    palette={"flagged": "#c0392b", "not flagged": "#95a5a6"}, s=22, alpha=0.7, ax=ax)
    ax.set_xscale("symlog")
    ax.set_yscale("symlog")
    xl, yl = (RISK_SIGNALS[c][2] if c in RISK_SIGNALS else c.replace("_", " ") for c in (x, y))
    ax.set_title(f"Risk flags: {xl} vs {yl}")
    ax.set_xlabel(f"{xl} (symlog scale)")
    ax.set_ylabel(f"{yl} (symlog scale)")
    return ax


def confusion_heatmap(table: pd.DataFrame, ax=None):
    """Row shares of planted segment x found segment (shares, so no small counts are shown)."""
    share = table.div(table.sum(axis=1).replace(0, np.nan), axis=0) * 100
    ax = ax or plt.subplots(figsize=(1.3 * table.shape[1] + 4, 0.6 * table.shape[0] + 2))[1]
    sns.heatmap(share, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, ax=ax,
                cbar_kws={"label": "% of the planted segment"})
    ax.set_title("Planted segments (simulator truth) vs found segments")
    ax.set_xlabel("found segment")
    ax.set_ylabel("planted segment")
    return ax

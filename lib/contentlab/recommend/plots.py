"""Every figure of the recommendation report, each a function that returns the matplotlib ``Figure``.

They take the tables of a :class:`~contentlab.recommend.result.RecommendResult` and use the shared style of
:mod:`contentlab.plotting`; a notebook cell that draws one ends with ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from contentlab import plotting
from contentlab.recommend.search import Tuning
from contentlab.recommend.truth import COLUMN as TRUTH_COLUMN

RANKING_METRICS = ("ndcg", "precision", "recall", "map", "hit_rate")


def _legend_outside(ax) -> None:
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model")


def rating_counts(counts: pd.DataFrame) -> Figure:
    """User-product pairs per (pseudo-)rating (``rating``, ``pairs``)."""
    return plotting.count_bars(counts, "rating", "pairs", title="Interactions by (pseudo-)rating",
                               xlabel="rating", ylabel="user-product pairs")


def search_results(tuning: Tuning, k: int) -> Figure:
    """Both searches side by side: SVD rating mode's cross-validated RMSE per candidate (or why it was skipped) and
    the ranking mode's validation NDCG@k per candidate."""
    fig, axes = plotting.subplots(1, 2, figsize=(11, 4))
    rt = tuning.rating_table
    if rt is not None:
        varied = tuning.rating_varied
        rt = rt.assign(candidate=[", ".join(f"{c}={r[c]}" for c in varied) for _, r in rt.iterrows()])
        axes[0].barh(rt["candidate"], rt["mean_test_rmse"], color="#4c72b0")
        axes[0].set_xlim(rt["mean_test_rmse"].min() * 0.97, rt["mean_test_rmse"].max() * 1.01)
    else:
        axes[0].text(0.5, 0.5, "skipped: one rating level", ha="center", va="center", transform=axes[0].transAxes)
    axes[0].set(title="SVD rating mode (GridSearchCV)", xlabel="cross-validated RMSE (rating points)", ylabel="")
    rk = tuning.ranking_table
    rk = rk.assign(candidate=[", ".join(f"{c}={r[c]}" for c in tuning.varied) or "default" for _, r in rk.iterrows()])
    axes[1].barh(rk["candidate"], rk[tuning.metric], color="#55a868")
    axes[1].set(title="Ranking mode (validation split)", xlabel=f"NDCG@{k} (higher is better)", ylabel="")
    fig.suptitle("Hyperparameter search results")
    return fig


def model_metrics(table: pd.DataFrame, k: int, order: Sequence[str]) -> Figure:
    """Every ranking metric and the catalogue coverage per model (models in ``order``)."""
    metrics = [f"{m}_at_{k}" for m in RANKING_METRICS] + ["coverage"]
    long = table.melt(id_vars="model", value_vars=metrics, var_name="metric", value_name="value")
    fig, ax = plotting.subplots(figsize=(12, 5))
    sns.barplot(data=long, x="metric", y="value", hue="model", hue_order=list(order), ax=ax)
    ax.set(title=f"Ranking metrics by model (k={k})", xlabel="metric", ylabel="value (0-1, higher is better)")
    _legend_outside(ax)
    return fig


def popularity_bias(bias: pd.DataFrame, order: Sequence[str]) -> Figure:
    """Share of each model's recommendations per training-popularity decile (``popularity_decile``, ``share``,
    ``model``)."""
    fig, ax = plotting.subplots(figsize=(12, 4.5))
    sns.lineplot(data=bias, x="popularity_decile", y="share", hue="model", hue_order=list(order), marker="o", ax=ax)
    ax.set(title="Recommendation popularity bias", xlabel="training popularity decile of the recommended product",
           ylabel="share of recommendations")
    plotting.percent_axis(ax)
    ax.set_xticks(range(1, 11))
    _legend_outside(ax)
    return fig


def cold_start(cold: pd.DataFrame, k: int) -> Figure:
    """NDCG@k on the cold-item slice per model (``model``, ``cold_ndcg_at_<k>``, best first)."""
    col = f"cold_ndcg_at_{k}"
    fig = plotting.hbar(cold, "model", col, title=f"NDCG@{k} on new products (cold-item slice)",
                        xlabel=f"NDCG@{k} among cold products (0-1)")
    fig.axes[0].xaxis.set_major_formatter(mticker.FormatStrFormatter("%.2f"))
    fig.axes[0].bar_label(fig.axes[0].containers[0], fmt="%.3f", padding=3, fontsize=9)
    return fig


def segment_ndcg(segments: pd.DataFrame, k: int) -> Figure:
    """NDCG@k per profiling segment and model (``segment``, ``ndcg``, ``model``)."""
    fig, ax = plotting.subplots(figsize=(10, 4))
    sns.barplot(data=segments, x="segment", y="ndcg", hue="model", ax=ax)
    ax.set(title=f"NDCG@{k} by segment", xlabel="segment", ylabel=f"NDCG@{k}")
    return fig


def planted_truth(agreement: pd.DataFrame) -> Figure:
    """Each model's mean Spearman correlation with the planted user-product affinity (best first;
    ``attrs["customers"]``: how many customers it is averaged over)."""
    fig = plotting.hbar(agreement, "model", TRUTH_COLUMN, title="Agreement with the planted user-product affinity",
                        xlabel=f"mean Spearman correlation over {agreement.attrs.get('customers', 0)} customers "
                               "(-1 to 1)")
    fig.axes[0].xaxis.set_major_formatter(mticker.FormatStrFormatter("%.2f"))
    fig.axes[0].bar_label(fig.axes[0].containers[0], fmt="%.2f", padding=3, fontsize=9)
    return fig

"""Charts of the feedback report: CIs as error bars, posterior densities, cumulative lift, daily CTR, copy features.

Every function returns a matplotlib ``Figure`` with a title, axis labels and units (shared style from
:mod:`contentlab.plotting`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from contentlab import plotting
from contentlab.feedback import bayes

VARIANT_COLOURS = {"template": "#4C72B0", "gpt2": "#DD8452"}


def _colour(variant: str, i: int = 0) -> str:
    return VARIANT_COLOURS.get(variant, f"C{i}")


def rate_bars(rates: pd.DataFrame, group: str, *, metric: str = "ctr", title: str, ylabel: str) -> Figure:
    """Rate per group and variant with its (Wilson) interval as error bars."""
    variants = sorted(rates["variant"].unique())
    groups = sorted(rates[group].astype(str).unique())
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 * len(groups) + 3), 4.5))
    width = 0.8 / max(len(variants), 1)
    x = np.arange(len(groups))
    for i, v in enumerate(variants):
        d = rates[rates["variant"] == v].set_index(rates[group].astype(str)[rates["variant"] == v]).reindex(groups)
        y = d[metric].to_numpy(float)
        err = np.vstack([y - d[f"{metric}_low"].to_numpy(float), d[f"{metric}_high"].to_numpy(float) - y])
        ax.bar(x + (i - (len(variants) - 1) / 2) * width, y, width, yerr=err, capsize=4, label=v,
               color=_colour(v, i), alpha=0.9, error_kw={"elinewidth": 1.2})
    ax.set_xticks(x, [plotting.text(g, 22) for g in groups], rotation=0 if len(groups) < 5 else 20, ha="center")
    plotting.percent_axis(ax, "y", 1)
    ax.set(title=title, xlabel=group.replace("_", " "), ylabel=ylabel)
    ax.legend(title="variant")
    return fig


def lift_forest(comparison: pd.DataFrame, *, title: str, treatment: str = "gpt2", control: str = "template",
                truth: pd.DataFrame | None = None) -> Figure:
    """Relative lift of ``treatment`` over ``control`` with 95% CIs, one row per comparison; filled markers are
    significant after correction. ``truth`` (segment, true_lift) adds the planted lift as crosses."""
    d = comparison.dropna(subset=["lift"]).copy()
    order = {"channel": 0, "segment": 1, "segment x channel": 2}
    d["_o"] = d["level"].map(order).fillna(3)
    d = d.sort_values(["_o", "segment", "channel"]).reset_index(drop=True)
    labels = [(f"{r.channel} (all segments)" if r.level == "channel" else
               f"{r.segment} (all channels)" if r.level == "segment" else f"{r.segment} · {r.channel}")
              for r in d.itertuples()]
    fig, ax = plt.subplots(figsize=(9.5, 0.38 * len(d) + 1.6))
    y = np.arange(len(d))[::-1]
    for positive in (True, False):
        for sig in (True, False):
            m = ((d["lift"] > 0) == positive) & (d["significant"] == sig)
            if not m.any():
                continue
            colour = "#55A868" if positive else "#C44E52"
            ax.errorbar(d.loc[m, "lift"], y[m.to_numpy()],
                        xerr=[d.loc[m, "lift"] - d.loc[m, "lift_low"], d.loc[m, "lift_high"] - d.loc[m, "lift"]],
                        fmt="o", capsize=3, color=colour, mfc=colour if sig else "white", ms=6)
    if truth is not None and "true_lift" in truth:
        tl = dict(zip(truth["segment"].astype(str), truth["true_lift"]))
        for yi, r in zip(y, d.itertuples()):
            if r.level == "segment" and r.segment in tl:
                ax.plot(tl[r.segment], yi, "kx", ms=8, label="planted lift" if "planted lift" not in
                        ax.get_legend_handles_labels()[1] else None)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="lower right")
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [plotting.text(s, 40) for s in labels])
    plotting.percent_axis(ax, "x", 0)
    ax.set(title=title, xlabel=f"relative lift of {treatment} over {control} (%, 95% CI)", ylabel="")
    return fig


def posterior_densities(posteriors: dict[str, dict], *, title: str, metric_label: str = "CTR") -> Figure:
    """Beta posterior density of each variant's rate, one panel per channel."""
    chans = list(posteriors)
    fig, axes = plt.subplots(1, len(chans), figsize=(4.2 * len(chans), 3.8), squeeze=False)
    for ax, ch in zip(axes[0], chans):
        post = posteriors[ch]
        lo = min(bayes.posterior_interval(p["alpha"], p["beta"], 0.9998)[0] for p in post.values())
        hi = max(bayes.posterior_interval(p["alpha"], p["beta"], 0.9998)[1] for p in post.values())
        grid = np.linspace(lo, hi, 400)
        for i, (v, p) in enumerate(sorted(post.items())):
            dens = bayes.posterior_pdf(p["alpha"], p["beta"], grid)
            ax.plot(grid, dens, color=_colour(v, i), label=f"{v} (P(best) = {p['p_best']:.2f})")
            ax.fill_between(grid, dens, color=_colour(v, i), alpha=0.2)
        plotting.percent_axis(ax, "x", 1)
        ax.set(title=plotting.text(ch), xlabel=f"{metric_label} (%)", ylabel="posterior density")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(title, fontweight="bold")
    return fig


def cumulative_lift(cum: pd.DataFrame, *, title: str, treatment: str = "gpt2", control: str = "template") -> Figure:
    """Cumulative relative lift by day with its 95% CI band."""
    fig, ax = plt.subplots(figsize=plotting.FIGSIZE)
    d = cum.dropna(subset=["lift"])
    if d.empty:
        return plotting._no_data(ax, title, "day", "relative lift (%)")
    ax.plot(d["day"], d["lift"], marker="o", ms=3, color="#DD8452", label="cumulative lift")
    ax.fill_between(d["day"], d["lift_low"], d["lift_high"], color="#DD8452", alpha=0.2, label="95% CI")
    ax.axhline(0, color="grey", lw=1)
    plotting.percent_axis(ax, "y", 0)
    ax.set(title=title, xlabel="campaign day", ylabel=f"CTR lift of {treatment} over {control} (%)")
    ax.legend()
    fig.autofmt_xdate()
    return fig


def daily_ctr(daily: pd.DataFrame, *, title: str) -> Figure:
    """Daily CTR per variant with Wilson bands (novelty or decay shows as a trend)."""
    fig, ax = plt.subplots(figsize=plotting.FIGSIZE)
    if daily.empty:
        return plotting._no_data(ax, title, "day", "CTR (%)")
    for i, (v, g) in enumerate(daily.groupby("variant", sort=True)):
        ax.plot(g["day"], g["ctr"], marker="o", ms=3, color=_colour(v, i), label=v)
        ax.fill_between(g["day"], g["ctr_low"], g["ctr_high"], color=_colour(v, i), alpha=0.15)
    plotting.percent_axis(ax, "y", 1)
    ax.set(title=title, xlabel="campaign day", ylabel="CTR (%, 95% Wilson band)")
    ax.legend(title="variant")
    fig.autofmt_xdate()
    return fig


def coefficients(table: pd.DataFrame, *, title: str) -> Figure:
    """Logistic-regression coefficients (log-odds) with 95% CIs as error bars."""
    d = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9.0, 0.42 * len(d) + 1.6))
    if d.empty:
        return plotting._no_data(ax, title, "coefficient (log-odds)", "")
    y = np.arange(len(d))
    for sig in (True, False):
        m = ((d["p"] < 0.05) == sig).to_numpy()
        if m.any():
            ax.errorbar(d["coef"][m], y[m], xerr=[(d["coef"] - d["ci_low"])[m], (d["ci_high"] - d["coef"])[m]],
                        fmt="o", color="#4C72B0" if sig else "#A0A0A0", capsize=3,
                        label="p < 0.05" if sig else "p ≥ 0.05")
    ax.legend(loc="best")
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [plotting.text(f.replace("_", " "), 40) for f in d["feature"]])
    ax.set(title=title, xlabel="effect on click log-odds (per SD for continuous features; 95% CI)", ylabel="")
    return fig

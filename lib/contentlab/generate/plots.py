"""Every figure of the generation report, each a function that returns the matplotlib ``Figure``.

They use the shared style of :mod:`contentlab.plotting`; a notebook cell that draws one ends with ``plt.show()``.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from contentlab import plotting


def loss_curve(history: pd.DataFrame, best_step: int = 0) -> Figure:
    """Training loss (10-step rolling mean) and held-out loss per optimizer step, with the step whose weights were
    kept (``history``: the copy model's ``step``, ``train_loss``, ``heldout_loss``)."""
    fig, ax = plotting.subplots(figsize=(8, 4))
    tr = history.dropna(subset=["train_loss"])
    ax.plot(tr["step"], tr["train_loss"].rolling(10, min_periods=1).mean(), label="training loss (10-step mean)")
    ho = history.dropna(subset=["heldout_loss"])
    ax.plot(ho["step"], ho["heldout_loss"], marker="o", label="held-out loss")
    ax.axvline(best_step, color="grey", ls="--", lw=1, label="best step (weights kept)")
    ax.set(title="Training loss curve", xlabel="optimizer step", ylabel="cross-entropy per copy token (nats)")
    ax.legend()
    return fig

"""Small drawing and table-building tools every part of the simulator uses."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ids(prefix: str, n: int, width: int, first: int = 1) -> np.ndarray:
    """``prefix`` + first..first+n-1 (1..n by default), zero-padded to ``width`` digits (wider when the last number
    needs it)."""
    width = max(width, len(str(first + n - 1)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(first, first + n)], dtype=object)


def strings(values) -> pd.Series:
    """A string column of the canonical tables."""
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def timestamps(start: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    """Seconds after ``start`` as a nanosecond datetime column."""
    ts = start.to_datetime64().astype("datetime64[s]") + np.asarray(seconds).astype("timedelta64[s]")
    return pd.Series(ts.astype("datetime64[ns]"))


def choice(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices drawn with probabilities ``probs`` (need not be normalised), one uniform draw each."""
    cdf = np.cumsum(probs / probs.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right")


class RowSampler:
    """Draws one item per query row from per-row probability rows with a single ``searchsorted``.

    ``probs`` (rows x items, non-negative, rows need not be normalised) is turned *in place* into
    row-offset cumulative distributions (row ``r`` spans ``(r, r + 1]``), so memory stays at one
    rows x items float64 matrix.
    """

    def __init__(self, probs: np.ndarray):
        n_rows, self.n = probs.shape
        np.cumsum(probs, axis=1, out=probs)
        probs /= probs[:, -1:]
        probs[:, -1] = 1.0
        probs += np.arange(n_rows, dtype=float)[:, None]
        self.flat = probs.reshape(-1)

    def __call__(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        q = rows + rng.random(len(rows))
        idx = np.searchsorted(self.flat, q, side="right")
        return np.minimum(idx - rows * self.n, self.n - 1)


def available_items(rng: np.random.Generator, sampler: RowSampler, rows: np.ndarray, t_sec: np.ndarray,
                    launch_sec: np.ndarray, rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Sample items for ``rows`` at times ``t_sec``, rejecting items not yet launched.

    Returns items and a keep-mask (rows whose every draw was unavailable are dropped; rare)."""
    items = sampler(rng, rows)
    bad = launch_sec[items] > t_sec
    for _ in range(rounds):
        if not bad.any():
            break
        idx = np.flatnonzero(bad)
        items[idx] = sampler(rng, rows[idx])
        bad[idx] = launch_sec[items[idx]] > t_sec[idx]
    return items, ~bad

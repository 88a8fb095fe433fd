"""Bayesian view of a rate experiment: Beta-Binomial posteriors, P(best), expected loss, Thompson allocation.

With a ``Beta(a0, b0)`` prior and ``k`` successes in ``n`` trials the posterior is ``Beta(a0 + k, b0 + n - k)``.
For two variants ``P(B > A)`` is computed exactly (one-dimensional integral of ``f_B * F_A``, checked in the tests
against Evan Miller's closed form); for any number of variants :func:`posterior_summary` uses seeded Monte Carlo
draws (reproducible) for P(best), expected loss ``E[max_j p_j - p_i]`` and the Thompson-sampling allocation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import integrate, special, stats

DEFAULT_PRIOR = (1.0, 1.0)


def beta_posterior(successes, trials, prior: tuple[float, float] = DEFAULT_PRIOR):
    """Posterior ``(alpha, beta)`` of a Beta-Binomial model (arrays accepted)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a, b = prior[0] + k, prior[1] + n - k
    if a.ndim == 0:
        return float(a), float(b)
    return a, b


def posterior_interval(a, b, level: float = 0.95):
    """Equal-tailed credible interval of ``Beta(a, b)``."""
    tail = (1.0 - level) / 2.0
    return stats.beta.ppf(tail, a, b), stats.beta.isf(tail, a, b)


def prob_b_beats_a(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """Exact ``P(p_B > p_A)`` for independent ``Beta(a_a, b_a)`` and ``Beta(a_b, b_b)``.

    Integrates ``pdf_B(x) * cdf_A(x)`` over the region where the posterior of B has mass (adaptive quadrature,
    error < 1e-10); valid for non-integer parameters too.
    """
    lo = min(special.betaincinv(a_b, b_b, 1e-13), special.betaincinv(a_a, b_a, 1e-13))
    hi = max(special.betaincinv(a_b, b_b, 1 - 1e-13), special.betaincinv(a_a, b_a, 1 - 1e-13))
    log_norm = special.betaln(a_b, b_b)

    def f(x: float) -> float:  # pdf_B(x) * cdf_A(x), with scipy.special for speed
        return np.exp((a_b - 1) * np.log(x) + (b_b - 1) * np.log1p(-x) - log_norm) * special.betainc(a_a, b_a, x)

    # break points at the posterior means help quad with very narrow posteriors
    pts = sorted({a_a / (a_a + b_a), a_b / (a_b + b_b)})
    val, _ = integrate.quad(f, lo, hi, points=pts, epsabs=1e-12, epsrel=1e-10, limit=500)
    return float(min(max(val, 0.0), 1.0))


def prob_b_beats_a_closed_form(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """Evan Miller's closed form of ``P(p_B > p_A)`` for integer ``a_b`` (sum of ``a_b`` terms, log-space)."""
    i = np.arange(int(a_b), dtype=float)
    log_terms = (special.betaln(a_a + i, b_a + b_b) - np.log(b_b + i)
                 - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a))
    return float(np.exp(special.logsumexp(log_terms)))


def draw_posteriors(alphas: Sequence[float], betas: Sequence[float], draws: int = 20000,
                    seed: int | None = 0) -> np.ndarray:
    """``(draws, k)`` matrix of independent posterior draws (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.beta(np.asarray(alphas, float), np.asarray(betas, float), size=(draws, len(alphas)))


def posterior_summary(successes: Sequence[int], trials: Sequence[int], names: Sequence[str] | None = None,
                      prior: tuple[float, float] = DEFAULT_PRIOR, draws: int = 20000, seed: int | None = 0,
                      level: float = 0.95) -> dict:
    """Posterior of each variant's rate with P(best), expected loss and credible interval.

    Returns ``{name: {"alpha", "beta", "mean", "ci_low", "ci_high", "p_best", "expected_loss"}}``.
    Expected loss of choosing ``i`` is ``E[max_j p_j - p_i]`` (in rate units). With two variants ``p_best``
    is exact; otherwise it is the Monte Carlo share of draws in which the variant is largest.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    names = list(names) if names is not None else [str(i) for i in range(len(k))]
    a, b = beta_posterior(k, n, prior)
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    sample = draw_posteriors(a, b, draws, seed)
    best = sample.max(axis=1, keepdims=True)
    loss = (best - sample).mean(axis=0)
    p_best = np.bincount(sample.argmax(axis=1), minlength=len(names)) / draws
    if len(names) == 2:
        p1 = prob_b_beats_a(a[0], b[0], a[1], b[1])
        p_best = np.array([1.0 - p1, p1])
    lo, hi = posterior_interval(a, b, level)
    return {
        name: {"alpha": float(a[i]), "beta": float(b[i]), "mean": float(a[i] / (a[i] + b[i])),
               "ci_low": float(lo[i]), "ci_high": float(hi[i]), "p_best": float(p_best[i]),
               "expected_loss": float(loss[i])}
        for i, name in enumerate(names)
    }


def thompson_allocation(alphas: Sequence[float], betas: Sequence[float], draws: int = 20000, seed: int | None = 0,
                        min_share: float = 0.05) -> np.ndarray:
    """Traffic shares for the next campaign by Thompson sampling.

    Each impression goes to the variant whose posterior draw is largest, so the expected share of a variant is
    its probability of being best (estimated from ``draws`` seeded draws). ``min_share`` keeps every variant
    exploring (shares are floored at ``min_share`` and renormalised); use 0 for pure Thompson sampling.
    """
    sample = draw_posteriors(alphas, betas, draws, seed)
    k = sample.shape[1]
    share = np.bincount(sample.argmax(axis=1), minlength=k) / draws
    if min_share > 0:
        if min_share * k > 1:
            raise ValueError("min_share times the number of variants must be at most 1")
        # floor every variant at min_share and hand out the rest in proportion to what exceeds it
        excess = np.maximum(share - min_share, 0.0)
        share = min_share + (1.0 - min_share * k) * (excess / excess.sum() if excess.sum() > 0 else 1.0 / k)
    return share


def posterior_pdf(a: float, b: float, grid: np.ndarray) -> np.ndarray:
    """Density of ``Beta(a, b)`` on ``grid`` (for plots)."""
    return stats.beta.pdf(grid, a, b)

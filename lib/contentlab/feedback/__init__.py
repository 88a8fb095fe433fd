"""05 feedback: A/B statistics on published copy, the Bayesian view, SRM, power, and the loop's priors.

- :mod:`contentlab.feedback.stats`: Wilson, z-test, chi-square, Welch, delta-method lifts, Holm/BH, SRM, power/MDE
- :mod:`contentlab.feedback.bayes`: Beta-Binomial posteriors, P(best), expected loss, Thompson allocation
- :mod:`contentlab.feedback.cuped`: CUPED variance reduction with a pre-period covariate
- :mod:`contentlab.feedback.analysis`: the campaign (exposures) and the tables / verdicts of the report
- :mod:`contentlab.feedback.loop`: ``feedback_priors.json``, written here and read by 04 on the next cycle
"""

from contentlab.feedback import bayes, cuped, stats

__all__ = ["bayes", "cuped", "stats"]

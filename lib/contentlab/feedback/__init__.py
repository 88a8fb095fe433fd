"""05 feedback: A/B statistics on published copy, the Bayesian view, SRM, power, and the loop's priors.

- :mod:`contentlab.feedback.stats`: Wilson, z-test, chi-square, Welch, delta-method lifts, Holm/BH, SRM, power/MDE
- :mod:`contentlab.feedback.bayes`: Beta-Binomial posteriors, P(best), expected loss, Thompson allocation
- :mod:`contentlab.feedback.cuped`: CUPED variance reduction with a pre-period covariate
- :mod:`contentlab.feedback.campaign`: the demo campaign built from 04's published copy and 02's profiles (outcomes
  from the simulator's audience model)
- :mod:`contentlab.feedback.analysis`: rate tables, comparisons with one correction family, verdicts, time view,
  copy-feature regression, planted-truth check
- :mod:`contentlab.feedback.config`: :class:`~contentlab.feedback.config.FeedbackConfig`, the stage's checked settings
- :mod:`contentlab.feedback.workflow`: :func:`~contentlab.feedback.workflow.run_feedback`, everything 05 computes
- :mod:`contentlab.feedback.result`: :class:`~contentlab.feedback.result.FeedbackResult`, its metrics, summary and
  the report's tables
- :mod:`contentlab.feedback.plots`: the report's charts
- :mod:`contentlab.feedback.strategy`: the publishing strategy per segment (send hour and day, channel mix, frequency
  cap) from the event log's activity patterns and an exposure log, with its uncertainty
- :mod:`contentlab.feedback.coverage`: coverage / false-positive study on simulated campaigns
- :mod:`contentlab.feedback.loop`: ``feedback_priors.json``, written here and read by 04 on the next cycle
"""

from contentlab.feedback import bayes, cuped, stats

__all__ = ["bayes", "cuped", "stats"]

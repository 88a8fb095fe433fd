"""The feedback stage's settings, checked before anything runs (:class:`FeedbackConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from contentlab.feedback.analysis import PRIMARY_METRICS

EXPOSURE_SOURCES = ("auto", "campaign", "dataset")


@dataclass
class FeedbackConfig:
    exposures_source: str = "auto"  # "auto" | "campaign" | "dataset"
    profile: str | None = None  # the run profile, recorded in feedback_priors.json (the next cycle reads its own)
    correction: str = "holm"  # "holm" | "bh"
    alpha: float = 0.05
    planned_split: dict[str, float] = field(default_factory=lambda: {"template": 0.5, "gpt2": 0.5})
    control: str = "template"
    treatment: str = "gpt2"
    primary_metric: str = "ctr"  # "ctr" | "cpi"
    randomisation_unit: str = "auto"  # "auto" | "user" | "impression"
    cuped: bool = True
    cuped_covariate: str = "views"  # "views" | "events" | "spend" (pre-period, from events)
    impressions_per_user: float = 40.0  # simulated campaign: mean impressions per user
    campaign_days: int = 14
    campaign_offset_days: int = 0  # the campaign starts this many days after the day after the event log ends
    use_policy: bool = True  # follow the publishing policy of the previous cycle's priors (when handed over)
    policy_campaign: bool = False  # plan the campaign as a policy's even without one (the loop's first cycle)
    exploration: float = 0.05  # share of users the next cycle's campaign shows random choices (written into the policy)
    include_flagged: bool = False
    power: float = 0.8
    target_lift: float = 0.10
    thompson_min_share: float = 0.05
    posterior_draws: int = 20000
    seed: int = 0  # campaign assignment and outcomes, posterior draws, Thompson allocation
    strategy: bool = True  # publishing strategy per segment (send hour, channel, frequency cap)

    def __post_init__(self) -> None:
        if self.exposures_source not in EXPOSURE_SOURCES:
            raise ValueError("exposures_source must be 'auto', 'campaign' or 'dataset'")
        if self.correction not in ("holm", "bh"):
            raise ValueError("correction must be 'holm' or 'bh'")
        if self.campaign_offset_days < 0:
            raise ValueError("campaign_offset_days must be >= 0")
        if not 0.0 <= self.exploration <= 1.0:
            raise ValueError("exploration must be a share in [0, 1]")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.randomisation_unit not in ("auto", "user", "impression"):
            raise ValueError("randomisation_unit must be 'auto', 'user' or 'impression'")
        if self.primary_metric not in PRIMARY_METRICS:
            raise ValueError(f"primary_metric must be one of {sorted(PRIMARY_METRICS)}")
        missing = {self.control, self.treatment} - set(self.planned_split)
        if missing:
            raise ValueError(f"planned_split needs a share for {sorted(missing)}")

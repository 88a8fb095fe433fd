"""The simulated shop while it is being built: settings, the random stream and the parts drawn so far.

Every part of the simulator is a function over a :class:`ShopState` that reads the parts drawn before it and
returns its own (``catalogue.draw_catalogue(state)`` -> :class:`~contentlab.data.simulate.catalogue.Catalogue`, ...);
:func:`contentlab.data.simulate.simulate` calls them in a fixed order. The order is part of the contract: all parts
share one random stream (``state.rng``), so the same seed gives the same shop only when every draw happens in the
same order. Churn draws from its own stream (:meth:`ShopState.churn_rng`), so planting it changes no other draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from contentlab.data.simulate import text
from contentlab.data.simulate.spec import DAY

if TYPE_CHECKING:
    from contentlab.data.simulate.catalogue import Catalogue
    from contentlab.data.simulate.churn import Dropout
    from contentlab.data.simulate.eventlog import EventLog, Events
    from contentlab.data.simulate.fraud import FraudPlant
    from contentlab.data.simulate.sessions import Funnel, Sessions
    from contentlab.data.simulate.taste import Taste
    from contentlab.data.simulate.users import People


@dataclass(frozen=True)
class Settings:
    """The arguments of :func:`~contentlab.data.simulate.simulate` (see its docstring)."""

    n_users: int = 5000
    n_products: int = 800
    n_days: int = 90
    locale: str = "en"
    seed: int = 42
    start: str = "2026-01-05"
    n_factors: int = 8
    fraud_share: float = 0.01
    activity_scale: float = 1.0
    exposures_per_user: float = 30.0
    factor_weight: float = 1.6
    attribute_share: float = 0.5
    category_weight: float = 3.0
    popularity_weight: float = 0.6
    zipf_exponent: float = 1.0
    rating_intercept: float = 2.7
    rating_scale: float = 1.1
    rating_noise: float = 0.5
    n_pairs: int | None = None
    pair_prob: float = 0.5
    cold_start_share: float = 0.12
    dropout_a: float = 1.0
    dropout_b: float = 5.0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.locale not in text.VOCAB:
            raise ValueError(f"locale must be one of {sorted(text.VOCAB)}, got {self.locale!r}")
        if self.n_users < 10 or self.n_products < 20 or self.n_days < 7:
            raise ValueError("simulate needs at least 10 users, 20 products and 7 days")


@dataclass
class ShopState:
    settings: Settings
    rng: np.random.Generator
    start: pd.Timestamp  # midnight of the first day
    vocab: dict[str, text.CategoryVocab]
    catalogue: Catalogue | None = None
    people: People | None = None
    taste: Taste | None = None
    sessions: Sessions | None = None
    funnel: Funnel | None = None
    dropout: Dropout | None = None
    log: EventLog | None = None
    fraud: FraudPlant | None = None
    events: Events | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    stream: tuple[int, ...] = ()  # a batch of users simulated apart: its number (seeds churn's stream of the batch)

    @classmethod
    def begin(cls, settings: Settings) -> ShopState:
        return cls(settings=settings, rng=np.random.default_rng(settings.seed),
                   start=pd.Timestamp(settings.start).normalize(), vocab=text.vocab(settings.locale))

    @property
    def end_sec(self) -> int:
        """The end of the window, in seconds after :attr:`start`."""
        return self.settings.n_days * DAY

    def churn_rng(self) -> np.random.Generator:
        """Churn's own random stream (seeded from the shop's seed, and the batch's number for a batch of users)."""
        return np.random.default_rng([self.settings.seed, 0xC0FFEE, *self.stream])

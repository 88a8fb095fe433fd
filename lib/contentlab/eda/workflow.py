"""Everything 01 computes, in one call: :func:`run_eda` returns an :class:`EdaResult`.

The notebook stays thin: it builds an :class:`EdaConfig`, calls :func:`run_eda`, shows the result's tables and
:mod:`contentlab.eda.plots` figures, records :meth:`EdaResult.metrics` and prints
:meth:`EdaResult.summary_markdown` (moved to the top of the report).

Stage 01 prepares the data (:func:`contentlab.pipeline.prepare_data`: the contract's ``clean``, ``validation`` and
``dataset`` products) and then analyses them; it reads no product of an earlier stage. :func:`analyse` is the
second half on its own: the analysis of a run directory that holds 01's products already.

Small cells: every per-group table of people goes through :meth:`EdaResult.withhold` before it is shown, and
plots get :meth:`EdaResult.shown` rows only (the shared rule of :mod:`contentlab.privacy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import config as paths
from contentlab import contract, pipeline
from contentlab.eda.findings import (
    adapter_markdown,
    basket_markdown,
    dataset_markdown,
    findings_markdown,
    repeat_markdown,
)
from contentlab.eda.metrics import key_metrics
from contentlab.eda.quality import DataQuality, adapter_summary, validation_rules, validation_tables
from contentlab.eda.queries import (
    Capabilities,
    LongTail,
    basket_sizes,
    basket_summary,
    capabilities,
    cohort_retention,
    daily_volumes,
    funnel,
    funnel_summary,
    item_popularity,
    long_tail_table,
    open_store,
    orders_per_user,
    period_volumes,
    price_by_category,
    repeat_purchase,
    top_categories,
    top_products,
    user_activity,
)
from contentlab.eda.truth import segment_check
from contentlab.engine import check_engine_spec
from contentlab.privacy import MIN_CELL
from contentlab.report import withhold_small_cells

STAGE = "01_eda"
CURRENCY_LABEL = "currency units"  # axis and caption unit when the dataset names no currency

FUNNEL_FORMAT: dict[str, Any] = {"percent": ["view_to_cart", "cart_to_purchase", "view_to_purchase"],
                                 "decimals": {"carts_per_view": 3, "purchases_per_view": 3}}
"""How the report formats a funnel table (``plotting.table(table, **FUNNEL_FORMAT)``)."""


@dataclass
class EdaConfig:
    """What 01 prepares and how much it shows.

    ``dataset``: the run profile's dataset spec (checked by :func:`contentlab.pipeline.check_dataset_spec`;
    ``None`` only for :func:`analyse`, which works on data prepared already). ``profile`` names the scratch run
    directory when the notebook is opened by hand.
    """

    dataset: Mapping[str, Any] | None = None
    profile: str = "demo"
    retention_weeks: int = 12  # cohort retention: weeks after the signup week
    max_cohorts: int = 20  # the most recent signup cohorts shown
    top_products: int = 10  # best sellers by GMV and by units
    top_categories: int = 15
    threads: int | None = None  # DuckDB threads (None: DuckDB's default)
    engine: Mapping[str, Any] | None = None  # the run profile's `engine` (contentlab.engine); None: DuckDB

    def __post_init__(self) -> None:
        if self.dataset is not None:
            self.dataset = pipeline.check_dataset_spec(self.dataset)
        for name in ("retention_weeks", "max_cohorts", "top_products", "top_categories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EdaConfig.{name} must be a positive integer, got {value!r}")
        self.engine = check_engine_spec(self.engine)
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"EdaConfig.threads must be a positive integer or None, got {self.threads!r}")


@dataclass
class EdaResult:
    """The tables, figures' data and headline numbers of the 01 report."""

    config: EdaConfig
    run_dir: Path
    meta: dict[str, Any]  # the dataset product (dataset.json): name, locale, kind, currency, truth_dir, ...
    tables: list[str]  # the prepared tables
    caps: Capabilities
    quality: DataQuality | None
    headline: dict[str, Any]  # key_metrics(): what metrics() records
    quality_tables: pd.DataFrame
    quality_rules: pd.DataFrame
    adapter_table: pd.DataFrame
    daily: pd.DataFrame
    volumes: pd.DataFrame
    funnel: pd.DataFrame  # overall, per session (empty without views or purchases)
    funnel_users: pd.DataFrame  # overall, per user
    funnel_category: pd.DataFrame | None  # None: no funnel, or a single category
    funnel_channel: pd.DataFrame | None  # None: no funnel, or no channel
    funnel_acquisition: pd.DataFrame | None  # by the user's acquisition channel, when events carry their own channel
    retention: pd.DataFrame
    activity: LongTail
    popularity: LongTail
    sold: LongTail | None  # purchases per product (None without purchases)
    prices: pd.DataFrame
    baskets: pd.DataFrame
    basket_stats: dict[str, float]
    repeat: dict[str, float]
    orders_per_user: pd.DataFrame
    top_categories: pd.DataFrame
    top_products: dict[str, pd.DataFrame] = field(default_factory=dict)  # "gmv", "units"
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)  # planted-truth check (empty without truth)

    # ------------------------------------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def currency(self) -> str:
        """The dataset's currency code ("" when it names none)."""
        return str(self.meta.get("currency") or "")

    @property
    def currency_label(self) -> str:
        """The currency for axes and captions ("currency units" when the dataset names none)."""
        return self.currency or CURRENCY_LABEL

    # -------------------------------------------------------------------------------------- small cells
    @staticmethod
    def shown(table: pd.DataFrame, count_col: str = "users", min_cell: int = MIN_CELL) -> pd.DataFrame:
        """The rows of a per-group table the small-cell rule lets a plot show."""
        if table is None or count_col not in table:
            return table
        return table[table[count_col] >= min_cell]

    @staticmethod
    def withhold(table: pd.DataFrame, count_col: str = "users") -> tuple[pd.DataFrame, int]:
        """A per-group table for display: figures of groups under ``MIN_CELL`` withheld; ``(table, rows withheld)``."""
        return withhold_small_cells(table, count_col)

    # ------------------------------------------------------------------------------------------- tables
    def funnel_summary(self) -> pd.DataFrame:
        """Funnel rates per step: share of viewing sessions, of viewing users, and the event-count ratio."""
        return funnel_summary(self.funnel.iloc[0], self.funnel_users.iloc[0])

    def long_tail_table(self) -> pd.DataFrame:
        return long_tail_table(*(t for t in (self.activity, self.popularity, self.sold) if t is not None))

    # --------------------------------------------------------------------------------------------- text
    def dataset_markdown(self) -> str:
        return dataset_markdown(self.name, self.meta, self.headline, self.tables)

    def adapter_markdown(self) -> str | None:
        return adapter_markdown(self.quality.adapter if self.quality else None)

    def basket_markdown(self) -> str:
        return basket_markdown(self.basket_stats, self.currency_label)

    def repeat_markdown(self) -> str:
        return repeat_markdown(self.repeat)

    def metrics(self) -> dict[str, Any]:
        """The recorded metrics (fixed names, see :mod:`contentlab.eda.metrics`)."""
        return dict(self.headline)

    def summary_markdown(self) -> str:
        """Key findings, computed from the metrics and tables (the report's summary, shown first)."""
        return findings_markdown(self.headline, self.funnel_category, self.funnel_channel, self.retention, self.daily,
                                 currency=self.currency, segments=self.segments)


def run_eda(config: EdaConfig, run_dir: str | Path | None = None,
            inputs: Mapping[str, str | None] | None = None) -> EdaResult:
    """Prepare ``config.dataset`` into ``run_dir`` (a scratch run directory when empty) and analyse it.

    ``inputs`` are the products of earlier stages the runner hands a stage: 01 declares none in the contract (it
    prepares the data from the dataset spec); the parameter is there so every stage is called the same way.
    """
    if config.dataset is None:
        raise ValueError("run_eda needs EdaConfig.dataset: the dataset spec to prepare")
    run_dir = paths.stage_run_dir(run_dir, STAGE, config.profile)
    pipeline.prepare_data(config.dataset, run_dir)
    return analyse(run_dir, config)


def analyse(run_dir: str | Path, config: EdaConfig | None = None) -> EdaResult:
    """Everything the 01 report shows, from a run directory holding 01's products (``clean``, ``validation``,
    ``dataset``; read through :mod:`contentlab.contract`)."""
    cfg = config or EdaConfig()
    run_dir = Path(run_dir)
    meta = dict(contract.product("dataset").read(run_dir))
    raw = contract.product("validation").read_optional(run_dir)
    quality = DataQuality.from_dict(raw) if raw is not None else None
    with open_store(run_dir, threads=cfg.threads, engine=cfg.engine) as store:
        tables = list(store.tables)  # before the planted truth is registered as a view
        caps = capabilities(store)
        headline = key_metrics(store, quality)
        daily = daily_volumes(store)
        has_funnel = caps.has_funnel
        funnel_channel = funnel(store, by="channel") if has_funnel and caps.has_channel else None
        result = EdaResult(
            config=cfg, run_dir=run_dir, meta=meta, tables=tables, caps=caps, quality=quality, headline=headline,
            quality_tables=validation_tables(quality), quality_rules=validation_rules(quality),
            adapter_table=adapter_summary(quality),
            daily=daily, volumes=period_volumes(daily),
            funnel=funnel(store), funnel_users=funnel(store, unit="user"),
            funnel_category=funnel(store, by="category") if has_funnel and caps.has_categories else None,
            funnel_channel=funnel_channel,
            funnel_acquisition=(funnel(store, by="user_channel")
                                if funnel_channel is not None and caps.event_channel and caps.user_channel else None),
            retention=cohort_retention(store, max_weeks=cfg.retention_weeks, max_cohorts=cfg.max_cohorts),
            activity=user_activity(store), popularity=item_popularity(store),
            sold=item_popularity(store, "purchase") if caps.has_purchases else None,
            prices=price_by_category(store),
            baskets=basket_sizes(store), basket_stats=basket_summary(store),
            repeat=repeat_purchase(store), orders_per_user=orders_per_user(store),
            top_categories=top_categories(store, n=cfg.top_categories),
            top_products={by: top_products(store, n=cfg.top_products, by=by) for by in ("gmv", "units")},
            segments=segment_check(store, meta.get("truth_dir")),
        )
    return result

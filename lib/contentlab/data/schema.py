"""Canonical tables: the one data model every stage reads.

Each table is a Parquet file on disk and a pandas DataFrame in memory. Identifiers are strings,
timestamps are timezone-naive UTC ``datetime64``; ``required`` columns must be present,
optional ones may be absent (stages that need them say so and skip with a stated reason).
``data/README.md`` documents the same tables for people; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVENT_TYPES = ("view", "cart", "purchase")

# Time range of behaviour data (events, ratings, exposures, sign-ups). The lower bound predates every public
# dataset the project reads (CDNOW and MovieLens 100K start in 1997) and the commercial web itself; it catches
# Unix time 0 (1970-01-01) and other "no date" placeholders. The upper bound is the time of the run plus one
# day (time-zone slack): a behaviour log cannot hold events that have not happened yet (2099-12-31).
EARLIEST_TIMESTAMP = "1990-01-01"
FUTURE_TOLERANCE_DAYS = 1


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id" | "str" | "float" | "int" | "bool" | "datetime"
    required: bool = True
    description: str = ""
    min: float | None = None  # inclusive lower bound for numbers
    max: float | None = None  # inclusive upper bound for numbers
    strict_min: bool = False  # True: value must be > min (e.g. price > 0)
    allowed: tuple[str, ...] | None = None  # allowed values for categorical strings
    in_time_range: bool = False  # datetimes: not before EARLIEST_TIMESTAMP, not after the run time + 1 day
    not_isolated: bool = False  # datetimes: no small group of rows cut off from the bulk by a long empty gap


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)  # unique key (duplicates are rejected)
    description: str = ""

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


USERS = TableSpec(
    "users",
    (
        Column("user_id", "id", description="customer identifier (pseudonymised before display)"),
        Column("signup_date", "datetime", description="account creation / first seen", in_time_range=True),
        Column("region", "str", required=False, description="region or country"),
        Column("channel", "str", required=False, description="acquisition channel (organic, ads, social, email, ...)"),
        Column("age_band", "str", required=False),
        Column("gender", "str", required=False),
    ),
    key=("user_id",),
    description="one row per customer",
)

PRODUCTS = TableSpec(
    "products",
    (
        Column("product_id", "id"),
        Column("title", "str", description="product title as shown in the shop"),
        Column("category", "str", required=False),
        Column("product_type", "str", required=False,
               description="what the product is, a noun inside its category (maxi dress, puffer jacket, 羽绒服)"),
        Column("brand", "str", required=False),
        Column("price", "float", min=0, strict_min=True, description="list price, > 0"),
        Column("colour", "str", required=False),
        Column("material", "str", required=False),
        Column("style", "str", required=False, description="fit / feature phrase"),
        Column("description", "str", required=False, description="free-text product description"),
        Column("launch_date", "datetime", required=False, description="first day on sale (cold-start analysis)"),
    ),
    key=("product_id",),
    description="one row per product in the catalogue",
)

EVENTS = TableSpec(
    "events",
    (
        Column("timestamp", "datetime", in_time_range=True, not_isolated=True),
        Column("user_id", "id"),
        Column("session_id", "id"),
        Column("product_id", "id"),
        Column("event_type", "str", allowed=EVENT_TYPES),
        Column("price", "float", min=0, strict_min=True, description="unit price at the time of the event, > 0"),
        Column("quantity", "int", min=1),
        Column("order_id", "id", required=False, description="purchase events: the order they belong to"),
        Column("channel", "str", required=False, description="web, app, email, push, ..."),
        Column("discount", "float", required=False, min=0, max=1, description="share of price discounted"),
    ),
    key=("timestamp", "user_id", "session_id", "product_id", "event_type"),
    description="behaviour log, one row per view / add-to-cart / purchase line",
)

RATINGS = TableSpec(
    "ratings",
    (
        Column("user_id", "id"),
        Column("product_id", "id"),
        Column("rating", "float", min=1, max=5),
        Column("timestamp", "datetime", in_time_range=True, not_isolated=True),
        Column("review_text", "str", required=False),
    ),
    key=("user_id", "product_id", "timestamp"),
    description="explicit ratings / reviews (1-5)",
)

EXPOSURES = TableSpec(
    "exposures",
    (
        Column("timestamp", "datetime", in_time_range=True, not_isolated=True),
        Column("user_id", "id"),
        Column("content_id", "id"),
        Column("product_id", "id"),
        Column("variant", "str"),
        Column("channel", "str"),
        Column("clicked", "bool"),
        Column("converted", "bool"),
        Column("revenue", "float", min=0),
        Column("segment", "str", required=False),
    ),
    key=("timestamp", "user_id", "content_id"),
    description="content impressions and their outcomes (A/B test log)",
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (USERS, PRODUCTS, EVENTS, RATINGS, EXPOSURES)}

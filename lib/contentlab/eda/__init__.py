"""Stage 01, exploratory data analysis: the package behind ``notebooks/01_eda.ipynb``.

- :mod:`contentlab.eda.queries`: every aggregation over the prepared tables, as DuckDB SQL through
  :class:`contentlab.store.EventStore` (volumes, funnel, cohorts, long tails, prices, baskets, repeat purchase,
  best sellers) and the definitions they share (order, session, funnel unit, ...);
- :mod:`contentlab.eda.quality`: the ``validation`` product read back as :class:`ValidationReport` and
  :class:`AdapterReport` (:class:`DataQuality`) and turned into the data-quality tables;
- :mod:`contentlab.eda.truth`: planted-truth checks on simulated data;
- :mod:`contentlab.eda.metrics`: the headline numbers the notebook records;
- :mod:`contentlab.eda.findings`: the findings in words (Markdown);
- :mod:`contentlab.eda.plots`: every figure of the report;
- :mod:`contentlab.eda.workflow`: :class:`EdaConfig` → :func:`run_eda` → :class:`EdaResult` (``metrics()``,
  ``summary_markdown()``).

This module is the package's face: the names the notebook, the tests and other code use.
"""

from contentlab.data.adapters import AdapterReport
from contentlab.data.validate import ValidationReport
from contentlab.eda.findings import (
    adapter_markdown,
    basket_markdown,
    dataset_markdown,
    findings_markdown,
    repeat_markdown,
)
from contentlab.eda.metrics import key_metrics
from contentlab.eda.quality import (
    DataQuality,
    adapter_summary,
    read_validation,
    rows_rejected,
    rows_repaired,
    validation_rules,
    validation_tables,
)
from contentlab.eda.queries import (
    ALL,
    FUNNEL_COLUMNS,
    UNKNOWN,
    Capabilities,
    LongTail,
    basket_sizes,
    basket_summary,
    capabilities,
    cohort_retention,
    daily_volumes,
    funnel,
    funnel_stages,
    funnel_summary,
    gini,
    item_popularity,
    long_tail_table,
    mean_retention,
    open_store,
    order_key_sql,
    orders_per_user,
    period_volumes,
    price_by_category,
    repeat_purchase,
    retention_display,
    top_categories,
    top_products,
    top_share,
    user_activity,
    weekly_volumes,
)
from contentlab.eda.truth import segment_check
from contentlab.eda.workflow import FUNNEL_FORMAT, EdaConfig, EdaResult, analyse, run_eda
from contentlab.privacy import MIN_CELL, small_cell_note

__all__ = [
    "ALL", "FUNNEL_COLUMNS", "FUNNEL_FORMAT", "MIN_CELL", "UNKNOWN",
    "AdapterReport", "Capabilities", "DataQuality", "EdaConfig", "EdaResult", "LongTail", "ValidationReport",
    "adapter_markdown", "adapter_summary", "analyse", "basket_markdown", "basket_sizes", "basket_summary",
    "capabilities", "cohort_retention", "daily_volumes", "dataset_markdown", "findings_markdown", "funnel",
    "funnel_stages", "funnel_summary", "gini", "item_popularity", "key_metrics", "long_tail_table", "mean_retention",
    "open_store", "order_key_sql", "orders_per_user", "period_volumes", "price_by_category", "read_validation",
    "repeat_markdown", "repeat_purchase", "retention_display", "rows_rejected", "rows_repaired", "run_eda",
    "segment_check", "small_cell_note", "top_categories", "top_products", "top_share", "user_activity",
    "validation_rules", "validation_tables", "weekly_volumes",
]

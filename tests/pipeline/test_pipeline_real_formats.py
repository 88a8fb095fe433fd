"""A stage that does not apply to the data ends itself as "not applicable", a distinct outcome from a failure.

The whole pipeline on each real format (MovieLens, UCI Online Retail, CDNOW) is in ``test_real_*.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.data.simulate import simulate
from contentlab.notebook import StageNotApplicable, skip_stage
from contentlab.report import CellFailure

pytestmark = pytest.mark.slow


def _online_retail_csv(path):
    ds = simulate(n_users=300, n_products=80, n_days=45, seed=3)
    ev = ds.events[ds.events["event_type"] == "purchase"].merge(ds.products[["product_id", "title"]], on="product_id")
    out = pd.DataFrame({
        "InvoiceNo": ev["order_id"].str.replace("O", "5", regex=False),
        "StockCode": ev["product_id"].str.replace("P", "8", regex=False),
        "Description": ev["title"].str.upper(),
        "Quantity": ev["quantity"],
        "InvoiceDate": ev["timestamp"].dt.strftime("%m/%d/%Y %H:%M"),
        "UnitPrice": ev["price"].round(2),
        "CustomerID": ev["user_id"].str.replace("U", "1", regex=False).astype(float),
        "Country": "United Kingdom",
    })
    cancelled = out.sample(frac=0.02, random_state=1).assign(
        InvoiceNo=lambda d: "C" + d["InvoiceNo"], Quantity=lambda d: -d["Quantity"])
    out.loc[out.sample(frac=0.05, random_state=2).index, "CustomerID"] = np.nan
    pd.concat([out, cancelled]).to_csv(path, index=False)
    return len(out), len(cancelled)


def test_skip_stage_is_a_distinct_outcome():
    with pytest.raises(StageNotApplicable, match="nothing to do"):
        skip_stage("nothing   to do")
    assert CellFailure("StageNotApplicable", "why").skipped
    assert not CellFailure("ValueError", "why").skipped

"""RFM scores and named segments on a hand-built table whose answers are worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from contentlab.profiling.rfm import NO_PURCHASE, RFM_GRID, quintile_scores, rfm_grid_table, rfm_scores, rfm_segment_of

# ten buyers and one non-buyer; the expected scores are derived in the comments below
TABLE = pd.DataFrame({
    "user_id": [f"u{i:02d}" for i in range(1, 12)],
    "recency_days": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None],
    "frequency": [5, 1, 4, 4, 1, 3, 1, 2, 6, 1, 0],
    "monetary": [100, 10, 80, 75, 20, 50, 15, 30, 200, 5, 0],
})
# R: recency ranks 1..10 cut in fifths, reversed -> (1,2)=5, (3,4)=4, (5,6)=3, (7,8)=2, (9,10)=1
EXPECTED_R = [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
# F: ties broken in user order: the four 1s get ranks 1-4 (u02, u05, u07, u10), u08=5, u06=6, u03=7, u04=8, u01=9, u09=10
EXPECTED_F = [5, 1, 4, 4, 1, 3, 2, 3, 5, 2]
# M: ranks 5->1 (u10), 10->2 (u02), 15->3, 20->4, 30->5, 50->6, 75->7, 80->8, 100->9, 200->10
EXPECTED_M = [5, 1, 4, 4, 2, 3, 2, 3, 5, 1]
EXPECTED_SEGMENT = [
    "Champions",        # u01 R5 F5
    "New Customers",    # u02 R5 F1
    "Loyal Customers",  # u03 R4 F4
    "Loyal Customers",  # u04 R4 F4
    "About to Sleep",   # u05 R3 F1
    "Need Attention",   # u06 R3 F3
    "Hibernating",      # u07 R2 F2
    "At Risk",          # u08 R2 F3
    "Can't Lose",       # u09 R1 F5
    "Hibernating",      # u10 R1 F2
]

# the documented grid, rows R=5..1, columns F=1..5
GRID = {
    5: ["New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"],
    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose"],
    1: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose"],
}


def test_scores_and_segments_by_hand():
    out = rfm_scores(TABLE)
    buyers = out.iloc[:10]
    assert buyers["R"].tolist() == EXPECTED_R
    assert buyers["F"].tolist() == EXPECTED_F
    assert buyers["M"].tolist() == EXPECTED_M
    assert buyers["rfm_segment"].tolist() == EXPECTED_SEGMENT
    assert buyers["RFM"].iloc[0] == "555"
    # the non-buyer has no scores
    assert pd.isna(out["R"].iloc[10]) and pd.isna(out["F"].iloc[10])
    assert out["rfm_segment"].iloc[10] == NO_PURCHASE


def test_tie_breaking_does_not_depend_on_row_order():
    shuffled = TABLE.sample(frac=1.0, random_state=11)
    out = rfm_scores(shuffled).join(shuffled["user_id"]).set_index("user_id").sort_index()
    assert out["F"].iloc[:10].tolist() == EXPECTED_F
    assert out["rfm_segment"].iloc[:10].tolist() == EXPECTED_SEGMENT


def test_grid_covers_every_cell_as_documented():
    assert len(RFM_GRID) == 25
    for r, row in GRID.items():
        for f, name in enumerate(row, start=1):
            assert rfm_segment_of(r, f) == name, (r, f)
    assert set(RFM_GRID.values()) == {
        "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising", "Need Attention",
        "About to Sleep", "At Risk", "Can't Lose", "Hibernating",
    }


def test_quintiles_are_equal_sized_with_heavy_ties():
    # 100 customers, 70 with one order: plain qcut on values would fail; ranks give 20 per score
    values = pd.Series([1] * 70 + [2] * 20 + [5] * 10)
    s = quintile_scores(values)
    assert s.value_counts().tolist() == [20] * 5
    assert s.iloc[-1] == 5 and s.iloc[0] == 1
    r = quintile_scores(pd.Series(range(100)), reverse=True)
    assert r.iloc[0] == 5 and r.iloc[-1] == 1


def test_grid_table_counts_and_revenue():
    prof = pd.concat([TABLE, rfm_scores(TABLE)], axis=1)
    counts = rfm_grid_table(prof)
    assert counts.shape == (5, 5) and counts.to_numpy().sum() == 10
    assert counts.loc[5, 5] == 1 and counts.loc[4, 4] == 2 and counts.loc[1, 2] == 1
    revenue = rfm_grid_table(prof, "monetary")
    assert revenue.loc[4, 4] == pytest.approx(155.0)
    assert revenue.to_numpy().sum() == pytest.approx(TABLE["monetary"].sum())


def test_excluded_rows_take_no_part_in_the_quintiles():
    exclude = pd.Series(False, index=TABLE.index)
    exclude[8] = True  # u09, the heaviest buyer
    out = rfm_scores(TABLE, exclude=exclude, excluded_label="Flagged")
    assert out.loc[8, "rfm_segment"] == "Flagged" and pd.isna(out.loc[8, "F"])
    assert out["R"].notna().sum() == 9
    # nine buyers left; frequency ranks u02=1 u05=2 u07=3 u10=4 u08=5 u06=6 u03=7 u04=8 u01=9, cut at
    # 2.6 / 4.2 / 5.8 / 7.4 -> F1: ranks 1-2, F2: 3-4, F3: 5, F4: 6-7, F5: 8-9
    assert out["F"].drop(index=[8, 10]).tolist() == [5, 1, 4, 5, 1, 4, 2, 3, 2]

"""A stage that does not apply to the data ends itself as "not applicable", a distinct outcome from a failure.

The whole pipeline on each real format (MovieLens, UCI Online Retail, CDNOW) is in ``tests/pipeline/test_real_*.py``.
"""

from __future__ import annotations

import pytest

from contentlab.notebook import StageNotApplicable, skip_stage
from contentlab.report import CellFailure


def test_skip_stage_is_a_distinct_outcome():
    with pytest.raises(StageNotApplicable, match="nothing to do"):
        skip_stage("nothing   to do")
    assert CellFailure("StageNotApplicable", "why").skipped
    assert not CellFailure("ValueError", "why").skipped

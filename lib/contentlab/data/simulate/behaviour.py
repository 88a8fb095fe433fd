"""The customers' behaviour of a shop whose catalogue and people are drawn: taste, sessions, funnel, churn, the event
log, fraud, ratings and the users table, in the order of the draws (changing the order changes every shop). The
in-memory simulator draws it once for the whole shop; the chunked one once per batch of customers."""

from __future__ import annotations

from typing import Any

from contentlab.data.simulate import churn, fraud, reviews, sessions, taste, users
from contentlab.data.simulate.eventlog import EventLog
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.taste import ItemTaste


def draw_behaviour(state: ShopState, items: ItemTaste | None = None, pairs: list[tuple[int, int]] | None = None,
                   **numbering: Any) -> None:
    """Fill ``state`` with its customers' behaviour and the ``events``, ``ratings`` and ``users`` tables.

    ``items`` and ``pairs``: the item side of taste and the bought-together pairs when they were drawn before (a
    batch of a chunked shop shares them), else drawn here; ``numbering``: :meth:`EventLog.finish`'s first session and
    order numbers and id widths (a batch continues the previous batches' numbering)."""
    state.taste = taste.draw_taste(state, items)
    state.sessions = sessions.draw_sessions(state)
    state.funnel = sessions.draw_funnel(state, pairs)
    state.dropout = churn.plant_dropout(state)
    state.funnel = state.funnel.kept(state.dropout.sessions_kept(state.sessions.user, state.sessions.start))
    state.log = EventLog()
    state.log.new_sessions(state.sessions.channel)
    state.funnel.record(state.log)
    state.fraud = fraud.plant_fraud(state, state.log)
    state.events = state.log.finish(state, **numbering)
    state.tables["events"] = state.events.table
    state.tables["ratings"] = reviews.draw_ratings(state)
    state.tables["users"] = users.users_table(state)

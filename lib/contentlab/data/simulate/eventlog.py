"""The behaviour log: event rows collected from the funnel and the fraud patterns, then the events table.

Parts write rows with :meth:`EventLog.put` (times in seconds after the start, integer user / session / item
indices) and open sessions with :meth:`EventLog.new_sessions`; :meth:`EventLog.finish` keeps the window, drops
repeated rows, orders by time and gives sessions and orders their ids in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab.data.simulate.draws import ids, strings, timestamps
from contentlab.data.simulate.spec import CHANNELS, EVENT_PURCHASE, EVENT_TYPES
from contentlab.data.simulate.state import ShopState

COLUMNS = ("t", "user", "sess", "item", "etype", "qty", "disc")


@dataclass
class Events:
    arrays: dict[str, np.ndarray]  # the final rows, ordered by time (columns COLUMNS)
    is_purchase: np.ndarray
    n_sessions: int
    n_orders: int
    table: pd.DataFrame  # the events table


class EventLog:
    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in COLUMNS}
        self.session_channels: list[np.ndarray] = []
        self.n_sessions = 0

    def new_sessions(self, channels: np.ndarray) -> int:
        """Open ``len(channels)`` sessions on those channels (indices into CHANNELS); returns the first one's index."""
        first = self.n_sessions
        self.session_channels.append(channels)
        self.n_sessions += len(channels)
        return first

    def put(self, t, user, sess, item, etype: int, qty, disc) -> None:
        n = len(t)
        self.cols["t"].append(np.asarray(t, dtype=np.int64))
        self.cols["user"].append(np.asarray(user, dtype=np.int64))
        self.cols["sess"].append(np.asarray(sess, dtype=np.int64))
        self.cols["item"].append(np.asarray(item, dtype=np.int64))
        self.cols["etype"].append(np.full(n, etype, dtype=np.int8))
        self.cols["qty"].append(np.broadcast_to(np.asarray(qty, dtype=np.int64), (n,)).copy())
        self.cols["disc"].append(np.broadcast_to(np.asarray(disc, dtype=float), (n,)).copy())

    def finish(self, state: ShopState, first_session: int = 1, first_order: int = 1, session_width: int = 7,
               order_width: int = 6) -> Events:
        """The events inside the window, de-duplicated on the event key and ordered by time, as the events table.

        Session ids are ``S`` + first_session.. (``session_width`` digits at least), order ids ``O`` + first_order..
        (a shop simulated in batches of users numbers each batch's sessions and orders after the last one's)."""
        ev = {k: np.concatenate(v) for k, v in self.cols.items()}
        keep = (ev["t"] < state.end_sec) & (ev["t"] >= 0)
        ev = {k: v[keep] for k, v in ev.items()}
        # de-duplicate on the event key (pairs may repeat an existing line), then order by time
        order = np.lexsort((ev["etype"], ev["item"], ev["sess"], ev["user"], ev["t"]))
        ev = {k: v[order] for k, v in ev.items()}
        dup = np.zeros(len(ev["t"]), dtype=bool)
        dup[1:] = ((ev["t"][1:] == ev["t"][:-1]) & (ev["user"][1:] == ev["user"][:-1])
                   & (ev["sess"][1:] == ev["sess"][:-1]) & (ev["item"][1:] == ev["item"][:-1])
                   & (ev["etype"][1:] == ev["etype"][:-1]))
        ev = {k: v[~dup] for k, v in ev.items()}
        # session and order ids in order of first appearance
        sess_codes, sess_first = np.unique(ev["sess"], return_index=True)
        sess_rank = np.empty(len(sess_codes), dtype=np.int64)
        sess_rank[np.argsort(sess_first)] = np.arange(len(sess_codes))
        sess_new = sess_rank[np.searchsorted(sess_codes, ev["sess"])]
        session_ids = ids("S", len(sess_codes), session_width, first_session)
        is_p = ev["etype"] == EVENT_PURCHASE
        p_sess = sess_new[is_p]
        o_codes, o_first = np.unique(p_sess, return_index=True)
        o_rank = np.empty(len(o_codes), dtype=np.int64)
        o_rank[np.argsort(o_first)] = np.arange(len(o_codes))
        order_ids = ids("O", len(o_codes), order_width, first_order)
        order_col = np.full(len(ev["t"]), None, dtype=object)
        order_col[is_p] = order_ids[o_rank[np.searchsorted(o_codes, p_sess)]]
        channels = np.concatenate(self.session_channels)
        cat = state.catalogue
        table = pd.DataFrame({
            "timestamp": timestamps(state.start, ev["t"]),
            "user_id": strings(state.people.ids[ev["user"]]),
            "session_id": strings(session_ids[sess_new]),
            "product_id": strings(cat.ids[ev["item"]]),
            "event_type": strings(EVENT_TYPES[ev["etype"]]),
            "price": np.round(cat.price[ev["item"]] * (1 - ev["disc"]), 2).astype(float),
            "quantity": ev["qty"].astype(np.int64),
            "order_id": pd.Series(order_col, dtype="str"),
            "channel": strings(np.array(CHANNELS, dtype=object)[channels[ev["sess"]]]),
            "discount": ev["disc"].astype(float),
        })
        return Events(arrays=ev, is_purchase=is_p, n_sessions=len(session_ids), n_orders=len(order_ids), table=table)

"""Properties of the replay venue over generated sessions of requests and market rows.

A session is a random book on two assets, then a mix of new orders (every side, time in
force and order type, priced from a few ticks short of the opposite best to a few ticks
through it, so that walks and rested remainders are common), cancels and modifies (of live,
ended and unknown orders), depth and snapshot rows, trades from either aggressor and
clears. Statements:

- **the loop's short cuts are exact**: the backtest loop asks :func:`touch` about each
  depth/snapshot/trade row and skips :func:`on_market` unless it says ``TOUCH_FULL``: on
  ``TOUCH_NONE`` it only applies the row to the venue's book, on ``TOUCH_QUEUE`` it calls
  :func:`depth_at_our_level`. A twin venue driven that way must stay byte-identical to one
  that always calls ``on_market`` (same book, orders, queues, resting list, clock, reports).
- **accounting**: for every order the venue holds, ``leaves + filled == qty``,
  ``0 <= filled <= qty``, the reported fills add up to ``filled``, resting orders are open
  with ``leaves > 0`` and appear once in the resting list.
- **risk-averse queues** (``QM_RISK_AVERSE``, partial fills): the queue ahead is never
  negative, and the lots a resting order gets from trades *at* its price never exceed those
  trades, one by one and in total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hftlib.sim.latency import constant
from hftlib.sim.queue import QM_LOG, QM_POWER, QM_RISK_AVERSE, QS_AHEAD
from hftlib.sim.replay import (
    N_RQ,
    RQ_ARRIVE_TS,
    RQ_ASSET,
    RQ_KIND,
    RQ_ORDER_ID,
    RQ_OTYPE,
    RQ_PX,
    RQ_QTY,
    RQ_SIDE,
    RQ_SLOT,
    RQ_TIF,
    RS_FILL,
    TOUCH_FULL,
    TOUCH_QUEUE,
    VS_LIVE_N,
    VS_NOW,
    VS_QUEUE_MODEL,
    depth_at_our_level,
    new_venue,
    next_response_ts,
    on_market,
    on_request,
    pop_response,
    touch,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hftlib.book.l2 import l2_apply, l2_best
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    N_INSTR,
    OT_LIMIT,
    OT_MARKET,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    SELL,
    ST_OPEN,
    TIF_FOK,
    TIF_GTC,
    TIF_GTX,
    TIF_IOC,
)
from hftlib.types import F_ASK, F_BID, K_CLEAR, K_DEPTH, K_SNAPSHOT, K_TRADE, NO_PX

MAX_ORDERS = 6
TICKS = st.integers(94, 107)
ASSETS = st.sampled_from([0, 0, 1])  # asset 1 is there to test the asset checks
SETTINGS = settings(max_examples=150, deadline=None)

# --- generated sessions ---------------------------------------------------------------------------

initial_book = st.tuples(
    st.lists(st.tuples(st.integers(95, 100), st.integers(1, 9)), max_size=6),
    st.lists(st.tuples(st.integers(101, 106), st.integers(1, 9)), max_size=6),
)
new_op = st.tuples(
    st.just("new"),
    ASSETS,
    st.sampled_from([BUY, SELL]),
    st.integers(-3, 3),  # ticks through the opposite best (negative: short of it)
    st.integers(1, 20),
    st.sampled_from([TIF_GTC, TIF_GTC, TIF_GTX, TIF_IOC, TIF_FOK]),
    st.sampled_from([OT_LIMIT, OT_LIMIT, OT_LIMIT, OT_MARKET]),
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, MAX_ORDERS - 1), st.booleans())
modify_op = st.tuples(
    st.just("modify"), st.integers(0, MAX_ORDERS - 1), st.booleans(), TICKS, st.integers(1, 12)
)
depth_op = st.tuples(
    st.just("row"),
    ASSETS,
    st.sampled_from([K_DEPTH, K_DEPTH, K_SNAPSHOT]),
    st.sampled_from([F_BID, F_ASK]),
    TICKS,
    st.integers(0, 12),
)
trade_op = st.tuples(
    st.just("row"),
    ASSETS,
    st.just(K_TRADE),
    st.sampled_from([F_BID, F_ASK]),
    TICKS,
    st.integers(1, 8),
)
clear_op = st.tuples(
    st.just("row"),
    ASSETS,
    st.just(K_CLEAR),
    st.sampled_from([F_BID, F_ASK, F_BID | F_ASK]),
    st.sampled_from([NO_PX, 97, 100, 101, 104]),
    st.just(0),
)
ops_st = st.lists(
    st.one_of(
        new_op,
        new_op,
        new_op,
        cancel_op,
        modify_op,
        depth_op,
        depth_op,
        trade_op,
        trade_op,
        clear_op,
    ),
    min_size=8,
    max_size=40,
)


# --- driver ---------------------------------------------------------------------------------------


def _venue(partial: bool, model: int, param: float) -> Any:
    instr = np.zeros((2, N_INSTR), dtype=np.float64)
    instr[:, :3] = 1.0  # tick, lot, multiplier
    instr[:, 3:5] = (-0.0001, 0.0005)
    return new_venue(
        instr,
        constant(10, 5),
        queue_model=model,
        queue_param=param,
        partial_fills=partial,
        max_orders=MAX_ORDERS,
        response_capacity=512,
    )


def _arrays(x: Any, path: str = "v", seen: set | None = None) -> list[tuple[str, np.ndarray]]:
    """Every numpy array reachable through the venue's namedtuples, once each.

    The venue's ``book`` is its L3 book's ``l2``: shared arrays are listed once. Numba typed
    dicts (the L3 book's id maps, empty with L2 data) are skipped.
    """
    seen = set() if seen is None else seen
    if id(x) in seen:
        return []
    seen.add(id(x))
    if isinstance(x, np.ndarray):
        return [(path, x)]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        out = []
        for name in x._fields:
            out.extend(_arrays(getattr(x, name), f"{path}.{name}", seen))
        return out
    return []


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.names is not None:  # structured: compare the bytes, padding is zeroed alike
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))


def _diff(a: Any, b: Any) -> list[str]:
    """Paths of the arrays that differ between two venues."""
    return [
        pa for (pa, xa), (_, xb) in zip(_arrays(a), _arrays(b), strict=True) if not _same(xa, xb)
    ]


# Calling a compiled kernel with the whole venue from Python costs ~1 ms (numba types the
# namedtuple on every call), so reports are read with the plain-Python forms of the two
# small accessors; rows and requests still go through the compiled kernels.
_next_ts = next_response_ts.py_func
_pop = pop_response.py_func


def _pop_all(v: Any) -> list[np.void]:
    out = []
    while _next_ts(v) != np.iinfo(np.int64).max:
        out.append(v.resp[_pop(v)].copy())
    return out


def _rq(kind: int, slot: int, oid: int, ts: int, asset=0, side=BUY, px=0, qty=0, tif=0, ot=0):  # type: ignore[no-untyped-def]
    rq = np.zeros(N_RQ, dtype=np.int64)
    rq[[RQ_ARRIVE_TS, RQ_KIND, RQ_SLOT, RQ_ORDER_ID, RQ_ASSET]] = (ts, kind, slot, oid, asset)
    rq[[RQ_SIDE, RQ_PX, RQ_QTY, RQ_TIF, RQ_OTYPE]] = (side, px, qty, tif, ot)
    return rq


@dataclass
class Session:
    """A venue driven by generated operations; ``twin`` follows the loop's fast path."""

    v: Any
    twin: Any | None
    ts: int = 1
    next_oid: int = 1
    reported: dict[int, int] = field(default_factory=dict)  # order id -> lots in RS_FILL
    at_px_traded: dict[int, int] = field(default_factory=dict)
    at_px_filled: dict[int, int] = field(default_factory=dict)
    max_single_excess: int = 0  # max over at-price fills of (fill - trade qty)

    def venues(self) -> list[Any]:
        return [self.v] if self.twin is None else [self.v, self.twin]

    def request(self, rq: np.ndarray) -> None:
        for x in self.venues():
            on_request(x, rq)

    def row(self, asset: int, flags: int, px: int, qty: int) -> None:
        v, w = self.v, self.twin
        kind = flags & 0xFF
        hit = []  # resting orders at the trade's price, on the side the aggressor takes
        if kind == K_TRADE:
            side_hit = BUY if flags & F_ASK else SELL
            for k in range(int(v.state[VS_LIVE_N])):
                o = v.orders[v.live[k]]
                if o["asset"] == asset and o["side"] == side_hit and o["px"] == px:
                    hit.append(int(o["order_id"]))
                    self.at_px_traded[hit[-1]] = self.at_px_traded.get(hit[-1], 0) + qty
        on_market(v, asset, flags, self.ts, px, qty)
        if w is not None:
            self.loop_row(w, asset, flags, px, qty)
        for r in self.responses():
            oid = int(r["order_id"])
            if r["kind"] == RS_FILL and oid in hit and r["px"] == px:
                self.at_px_filled[oid] = self.at_px_filled.get(oid, 0) + int(r["qty"])
                self.max_single_excess = max(self.max_single_excess, int(r["qty"]) - qty)

    def loop_row(self, w: Any, asset: int, flags: int, px: int, qty: int) -> None:
        """Hand a row to the venue the way the backtest loop does."""
        kind = flags & 0xFF
        n_live = int(w.state[VS_LIVE_N])
        how = (
            TOUCH_FULL
            if kind == K_CLEAR
            else touch(w.orders, w.live, n_live, asset, flags, px, qty)
        )
        if how == TOUCH_FULL:
            on_market(w, asset, flags, self.ts, px, qty)
            return
        w.state[VS_NOW] = max(int(w.state[VS_NOW]), self.ts)
        if how == TOUCH_QUEUE:
            model, param = int(w.state[VS_QUEUE_MODEL]), float(w.qparam[0])
            depth_at_our_level(
                w.book, w.orders, w.live, n_live, w.queue, model, param, asset, flags, px, qty
            )
        elif kind != K_TRADE:
            l2_apply(w.book, asset, flags, px, qty)

    def responses(self) -> list[np.void]:
        got = _pop_all(self.v)
        if self.twin is not None:
            assert [r.tobytes() for r in _pop_all(self.twin)] == [r.tobytes() for r in got]
        for r in got:
            if r["kind"] == RS_FILL:
                oid = int(r["order_id"])
                self.reported[oid] = self.reported.get(oid, 0) + int(r["qty"])
        return got

    def apply(self, op: tuple) -> None:
        self.ts += 1
        v = self.v
        if op[0] == "row":
            _, asset, kind, side_flag, px, qty = op
            self.row(asset, kind | side_flag, px, qty)
            return
        if op[0] == "new":
            _, asset, side, through, qty, tif, ot = op
            free = [s for s in range(MAX_ORDERS) if v.orders[s]["status"] != ST_OPEN]
            if not free:
                return
            best = l2_best(v.book, asset, ASK if side == BUY else BID)
            px = (101 if side == BUY else 100) if best == NO_PX else int(best)
            px += side * through
            oid = self.next_oid
            self.next_oid += 1
            self.request(_rq(REQ_NEW, free[0], oid, self.ts, asset, side, px, qty, tif, ot))
        elif op[0] == "cancel":
            _, slot, unknown = op
            oid = int(v.orders[slot]["order_id"]) + (1000 if unknown else 0)
            self.request(_rq(REQ_CANCEL, slot, oid, self.ts))
        else:
            _, slot, unknown, px, qty = op
            oid = int(v.orders[slot]["order_id"]) + (1000 if unknown else 0)
            self.request(_rq(REQ_MODIFY, slot, oid, self.ts, px=px, qty=qty))
        self.responses()


def _start(book: tuple, partial: bool, model: int, param: float, twin: bool) -> Session:
    s = Session(_venue(partial, model, param), _venue(partial, model, param) if twin else None)
    bids, asks = book
    for x in s.venues():  # no orders yet: on_market would only apply the rows to the book
        for asset in (0, 1):
            for px, qty in bids:
                l2_apply(x.book, asset, K_DEPTH | F_BID, px, qty)
            for px, qty in asks:
                l2_apply(x.book, asset, K_DEPTH | F_ASK, px + asset, qty)
    return s


def _check_accounting(s: Session) -> None:
    v = s.v
    n = int(v.state[VS_LIVE_N])
    live = [int(x) for x in v.live[:n]]
    assert len(set(live)) == n
    for slot in range(MAX_ORDERS):
        o = v.orders[slot]
        if o["order_id"] == 0:
            continue
        assert o["leaves"] + o["filled"] == o["qty"], o
        assert 0 <= o["filled"] <= o["qty"], o
        assert s.reported.get(int(o["order_id"]), 0) == o["filled"], o
        assert (o["status"] == ST_OPEN) == (slot in live), o
        if slot in live:
            assert o["leaves"] > 0, o


# --- properties -----------------------------------------------------------------------------------


@pytest.mark.parametrize("partial", [False, True], ids=["nopartial", "partial"])
@SETTINGS
# a walked GTC's remainder rests crossed (partial fills), then a row on our side elsewhere
# (TOUCH_NONE) or at another order's level (TOUCH_QUEUE): random search finds it only often
@example(
    book=([(99, 6)], [(101, 3), (102, 4)]),
    ops=[("new", 0, BUY, 1, 10, TIF_GTC, OT_LIMIT), ("row", 0, K_DEPTH, F_BID, 99, 7)],
    qm=(QM_RISK_AVERSE, 0.0),
)
@example(
    book=([(99, 6)], [(101, 3), (102, 4)]),
    ops=[
        ("new", 0, BUY, -3, 2, TIF_GTX, OT_LIMIT),
        ("new", 0, BUY, 1, 10, TIF_GTC, OT_LIMIT),
        ("row", 0, K_DEPTH, F_BID, 98, 2),
    ],
    qm=(QM_RISK_AVERSE, 0.0),
)
@given(
    book=initial_book,
    ops=ops_st,
    qm=st.sampled_from([(QM_RISK_AVERSE, 0.0), (QM_POWER, 3.0), (QM_LOG, 0.0)]),
)
def test_the_loops_short_cuts_match_on_market(
    partial: bool, book: tuple, ops: list, qm: tuple[int, float]
) -> None:
    s = _start(book, partial, qm[0], qm[1], twin=True)
    for i, op in enumerate(ops):
        s.apply(op)
        bad = _diff(s.v, s.twin)
        assert not bad, f"after op {i} {op}: fast path differs from on_market in {bad}"


@pytest.mark.parametrize("partial", [False, True], ids=["nopartial", "partial"])
@SETTINGS
@given(
    book=initial_book,
    ops=ops_st,
    qm=st.sampled_from([(QM_RISK_AVERSE, 0.0), (QM_POWER, 2.0), (QM_LOG, 0.0)]),
)
def test_order_accounting_holds_at_all_times(
    partial: bool, book: tuple, ops: list, qm: tuple[int, float]
) -> None:
    s = _start(book, partial, qm[0], qm[1], twin=False)
    for op in ops:
        s.apply(op)
        _check_accounting(s)


@SETTINGS
@given(book=initial_book, ops=ops_st)
def test_risk_averse_queue_fills_never_exceed_the_trades_at_the_price(
    book: tuple, ops: list
) -> None:
    s = _start(book, True, QM_RISK_AVERSE, 0.0, twin=False)
    for op in ops:
        s.apply(op)
        v = s.v
        for k in range(int(v.state[VS_LIVE_N])):
            assert v.queue[v.live[k], QS_AHEAD] >= 0.0
        for oid, filled in s.at_px_filled.items():
            assert filled <= s.at_px_traded[oid]
        assert s.max_single_excess <= 0

"""The replay venue (``hftlib.sim.replay``) driven directly, with exact report sequences.

Conventions of these tests: one asset; ticks around 100 (bids at or below 100, asks at or
above 101); constant latency of 10 ns entry and 5 ns response unless a test says otherwise.
Reports are compared as ``(kind, px, qty, status, reason, maker)`` tuples. Tests that take
``side`` run once for a resting buy and once for the mirror image (a resting sell, prices
reflected by :func:`mirror`), so both branches of every rule are exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hftlib.sim import latency as L
from hftlib.sim import replay
from hftlib.sim.fees import instrument_row
from hftlib.sim.queue import QM_POWER, QM_RISK_AVERSE, QS_AHEAD
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
    RS_ACK,
    RS_DONE,
    RS_FILL,
    RS_MODIFIED,
    RS_REQ_REJECTED,
    TOUCH_FULL,
    TOUCH_NONE,
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

from hftlib.book.l2 import l2_best, l2_qty
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    INSTR_INVERSE,
    INSTR_LOT,
    INSTR_MAKER_FEE,
    INSTR_MULT,
    INSTR_TAKER_FEE,
    INSTR_TICK,
    N_INSTR,
    OK,
    OT_LIMIT,
    OT_MARKET,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    SELL,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_OPEN,
    ST_REJECTED,
    TIF_FOK,
    TIF_GTC,
    TIF_GTX,
    TIF_IOC,
    V_FOK_UNFILLED,
    V_NO_LIQUIDITY,
    V_UNKNOWN_ORDER,
    V_WOULD_CROSS,
)
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.types import F_ASK, F_BID, K_CLEAR, K_DEPTH, K_SNAPSHOT, K_TRADE, NO_PX

MAKER = -0.0002
TAKER = 0.0005


def instr_row(
    tick: float = 0.1,
    lot: float = 0.001,
    mult: float = 1.0,
    maker: float = MAKER,
    taker: float = TAKER,
    inverse: bool = False,
) -> np.ndarray:
    """Return a hand-made (1, N_INSTR) instrument table."""
    row = np.zeros((1, N_INSTR), dtype=np.float64)
    row[0, INSTR_TICK] = tick
    row[0, INSTR_LOT] = lot
    row[0, INSTR_MULT] = mult
    row[0, INSTR_MAKER_FEE] = maker
    row[0, INSTR_TAKER_FEE] = taker
    row[0, INSTR_INVERSE] = 1.0 if inverse else 0.0
    return row


def venue(
    partial: bool = False,
    model: int = QM_RISK_AVERSE,
    param: float = 0.0,
    lat: L.LatencyModel | None = None,
    instr: np.ndarray | None = None,
) -> Any:
    """Return a fresh venue with 8 order slots."""
    return new_venue(
        instr_row() if instr is None else instr,
        L.constant(10, 5) if lat is None else lat,
        queue_model=model,
        queue_param=param,
        partial_fills=partial,
        max_orders=8,
        response_capacity=256,
    )


def book(v: Any, bids: tuple = (), asks: tuple = (), ts: int = 1, market: Any = on_market) -> None:
    """Set recorded levels: ``bids`` / ``asks`` are ``(px, qty)`` pairs."""
    for px, qty in bids:
        market(v, 0, K_DEPTH | F_BID, ts, px, qty)
    for px, qty in asks:
        market(v, 0, K_DEPTH | F_ASK, ts, px, qty)


def request(
    kind: int,
    slot: int,
    oid: int,
    side: int = BUY,
    px: int = 0,
    qty: int = 0,
    tif: int = TIF_GTC,
    otype: int = OT_LIMIT,
    ts: int = 100,
) -> np.ndarray:
    """Return one request row."""
    rq = np.zeros(N_RQ, dtype=np.int64)
    rq[RQ_ARRIVE_TS] = ts
    rq[RQ_KIND] = kind
    rq[RQ_SLOT] = slot
    rq[RQ_ORDER_ID] = oid
    rq[RQ_ASSET] = 0
    rq[RQ_SIDE] = side
    rq[RQ_PX] = px
    rq[RQ_QTY] = qty
    rq[RQ_TIF] = tif
    rq[RQ_OTYPE] = otype
    return rq


def new_order(
    v: Any,
    slot: int,
    oid: int,
    side: int,
    px: int,
    qty: int,
    tif: int = TIF_GTC,
    otype: int = OT_LIMIT,
    ts: int = 100,
    req: Any = on_request,
) -> None:
    req(v, request(REQ_NEW, slot, oid, side, px, qty, tif, otype, ts))


def cancel(v: Any, slot: int, oid: int, ts: int = 200, req: Any = on_request) -> None:
    req(v, request(REQ_CANCEL, slot, oid, ts=ts))


def modify(
    v: Any, slot: int, oid: int, px: int, qty: int, ts: int = 200, req: Any = on_request
) -> None:
    req(v, request(REQ_MODIFY, slot, oid, px=px, qty=qty, ts=ts))


def raw_reports(v: Any) -> list[np.void]:
    """Pop every pending report (copies of ``RESP_DTYPE`` rows), checking the queue order."""
    out = []
    while next_response_ts(v) != np.iinfo(np.int64).max:
        ts = next_response_ts(v)
        r = v.resp[pop_response(v)].copy()
        assert r["deliver_ts"] == ts
        out.append(r)
    return out


def reports(v: Any) -> list[tuple[int, ...]]:
    """Pop every pending report as ``(kind, px, qty, status, reason, maker)``."""
    return [
        tuple(int(r[f]) for f in ("kind", "px", "qty", "status", "reason", "maker"))
        for r in raw_reports(v)
    ]


def ahead(v: Any, slot: int = 0) -> float:
    return float(v.queue[slot, QS_AHEAD])


def n_live(v: Any) -> int:
    return int(v.state[VS_LIVE_N])


def taker_fee(px: int, qty: int) -> float:
    return TAKER * px * 0.1 * qty * 0.001


def maker_fee(px: int, qty: int) -> float:
    return MAKER * px * 0.1 * qty * 0.001


# --- mirror images: a resting buy at tick p <-> a resting sell at tick 201 - p --------------------


def mirror(side: int, px: int) -> int:
    """Tick ``px`` of the buy-side scenario, reflected for a sell (101 <-> 100)."""
    return px if side == BUY else 201 - px


def own(side: int) -> int:
    """Book flag of the order's own side (where it rests)."""
    return F_BID if side == BUY else F_ASK


def opp(side: int) -> int:
    """Book flag of the opposite side; as a trade flag, the aggressor that hits us."""
    return F_ASK if side == BUY else F_BID


def mbook(v: Any, side: int, own_levels: tuple = (), opp_levels: tuple = ()) -> None:
    """Set levels given in buy-scenario ticks: ``own_levels`` on our side, the rest opposite."""
    for px, qty in own_levels:
        on_market(v, 0, K_DEPTH | own(side), 1, mirror(side, px), qty)
    for px, qty in opp_levels:
        on_market(v, 0, K_DEPTH | opp(side), 1, mirror(side, px), qty)


SIDES = pytest.mark.parametrize("side", [BUY, SELL], ids=["buy", "sell"])
PARTIAL = pytest.mark.parametrize("partial", [False, True], ids=["nopartial", "partial"])


# --- GTX ------------------------------------------------------------------------------------------


@SIDES
def test_gtx_that_would_cross_is_rejected(side: int) -> None:
    v = venue()
    mbook(v, side, own_levels=[(100, 5)], opp_levels=[(101, 3)])
    new_order(v, 0, 1, side, mirror(side, 101), 2, TIF_GTX)
    assert reports(v) == [(RS_DONE, mirror(side, 101), 2, ST_REJECTED, V_WOULD_CROSS, 0)]
    assert n_live(v) == 0
    assert v.orders[0]["status"] == ST_REJECTED
    assert v.orders[0]["filled"] == 0


@SIDES
def test_gtx_not_crossing_rests_behind_the_level(side: int) -> None:
    v = venue()
    mbook(v, side, own_levels=[(100, 5), (99, 7)], opp_levels=[(101, 3)])
    new_order(v, 0, 1, side, mirror(side, 100), 2, TIF_GTX)
    new_order(v, 1, 2, side, mirror(side, 98), 4, TIF_GTX)  # an empty level: nothing ahead
    assert reports(v) == [
        (RS_ACK, mirror(side, 100), 2, ST_OPEN, OK, 0),
        (RS_ACK, mirror(side, 98), 4, ST_OPEN, OK, 0),
    ]
    assert ahead(v, 0) == 5.0
    assert ahead(v, 1) == 0.0
    assert n_live(v) == 2
    assert sorted(v.live[:2]) == [0, 1]


# --- GTC crossing ---------------------------------------------------------------------------------


@SIDES
def test_gtc_crossing_without_partial_fills_takes_everything_at_the_best(side: int) -> None:
    v = venue(partial=False)
    mbook(v, side, opp_levels=[(101, 3), (102, 4)])
    new_order(v, 0, 1, side, mirror(side, 102), 10)
    best = mirror(side, 101)
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["px"]), int(r["qty"]), int(r["status"])) for r in rs] == [
        (RS_FILL, best, 10, ST_FILLED)
    ]
    assert rs[0]["maker"] == 0
    assert rs[0]["fee"] == pytest.approx(taker_fee(best, 10), rel=1e-12)
    assert n_live(v) == 0
    # the recorded book is not consumed by our fills
    assert l2_qty(v.book, 0, ASK if side == BUY else BID, best) == 3


@SIDES
def test_gtc_crossing_with_partial_fills_walks_to_its_limit_and_rests_the_rest(side: int) -> None:
    v = venue(partial=True)
    mbook(v, side, opp_levels=[(101, 3), (102, 4), (104, 5)])
    new_order(v, 0, 1, side, mirror(side, 102), 10)
    # hftbacktest would fill the remaining 3 at the limit as taker; hftlib rests them
    assert reports(v) == [
        (RS_FILL, mirror(side, 101), 3, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 102), 4, ST_OPEN, OK, 0),
    ]
    o = v.orders[0]
    assert (o["leaves"], o["filled"], o["status"]) == (3, 7, ST_OPEN)
    assert n_live(v) == 1
    assert ahead(v) == 0.0


@SIDES
def test_resting_remainder_of_a_walked_gtc_ignores_rows_touch_rejects(side: int) -> None:
    """The loop skips on_market for rows touch() calls TOUCH_NONE: on_market must agree.

    A walked GTC's remainder rests at a limit the (unconsumed) recorded levels still cross.
    A row on our own side away from our price cannot change our order per touch(), but
    on_market fills the whole remainder as maker because it re-checks the crossed book.
    """
    v = venue(partial=True)
    mbook(v, side, own_levels=[(99, 6)], opp_levels=[(101, 3), (102, 4)])
    new_order(v, 0, 1, side, mirror(side, 102), 10)
    assert len(reports(v)) == 2
    row = (0, K_DEPTH | own(side), mirror(side, 99), 7)
    assert touch(v.orders, v.live, n_live(v), *row) == TOUCH_NONE
    on_market(v, row[0], row[1], 300, row[2], row[3])
    assert reports(v) == []
    assert v.orders[0]["leaves"] == 3


# --- IOC / FOK ------------------------------------------------------------------------------------


@SIDES
def test_ioc_without_partial_fills_takes_everything_at_the_best(side: int) -> None:
    v = venue(partial=False)
    mbook(v, side, opp_levels=[(101, 3), (102, 4)])
    new_order(v, 0, 1, side, mirror(side, 102), 10, TIF_IOC)
    assert reports(v) == [(RS_FILL, mirror(side, 101), 10, ST_FILLED, OK, 0)]
    assert n_live(v) == 0


@SIDES
def test_ioc_with_partial_fills_walks_its_limit_and_expires_the_rest(side: int) -> None:
    v = venue(partial=True)
    mbook(v, side, opp_levels=[(101, 3), (102, 4), (103, 9)])
    new_order(v, 0, 1, side, mirror(side, 102), 10, TIF_IOC)
    assert reports(v) == [
        (RS_FILL, mirror(side, 101), 3, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 102), 4, ST_OPEN, OK, 0),
        (RS_DONE, mirror(side, 102), 3, ST_EXPIRED, V_NO_LIQUIDITY, 0),
    ]
    assert n_live(v) == 0
    assert (v.orders[0]["filled"], v.orders[0]["leaves"]) == (7, 3)


@SIDES
@PARTIAL
@pytest.mark.parametrize("tif", [TIF_IOC, TIF_FOK], ids=["ioc", "fok"])
def test_ioc_and_fok_not_crossing_expire(side: int, partial: bool, tif: int) -> None:
    v = venue(partial=partial)
    mbook(v, side, own_levels=[(100, 5)], opp_levels=[(101, 3)])
    new_order(v, 0, 1, side, mirror(side, 100), 4, tif)
    assert reports(v) == [(RS_DONE, mirror(side, 100), 4, ST_EXPIRED, V_NO_LIQUIDITY, 0)]
    assert n_live(v) == 0


@SIDES
def test_fok_with_partial_fills_and_too_little_depth_expires_untouched(side: int) -> None:
    v = venue(partial=True)
    mbook(v, side, opp_levels=[(101, 3), (102, 4), (103, 50)])
    new_order(v, 0, 1, side, mirror(side, 102), 8, TIF_FOK)
    assert reports(v) == [(RS_DONE, mirror(side, 102), 8, ST_EXPIRED, V_FOK_UNFILLED, 0)]
    assert v.orders[0]["filled"] == 0
    assert n_live(v) == 0


@SIDES
def test_fok_with_partial_fills_and_enough_depth_fills_completely(side: int) -> None:
    v = venue(partial=True)
    mbook(v, side, opp_levels=[(101, 3), (102, 4), (103, 50)])
    new_order(v, 0, 1, side, mirror(side, 102), 7, TIF_FOK)
    assert reports(v) == [
        (RS_FILL, mirror(side, 101), 3, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 102), 4, ST_FILLED, OK, 0),
    ]


@SIDES
def test_fok_without_partial_fills_takes_everything_at_the_best(side: int) -> None:
    v = venue(partial=False)
    mbook(v, side, opp_levels=[(101, 3)])
    new_order(v, 0, 1, side, mirror(side, 101), 8, TIF_FOK)
    assert reports(v) == [(RS_FILL, mirror(side, 101), 8, ST_FILLED, OK, 0)]


# --- market orders --------------------------------------------------------------------------------


@SIDES
def test_market_order_without_partial_fills_takes_everything_at_the_best(side: int) -> None:
    v = venue(partial=False)
    mbook(v, side, opp_levels=[(101, 3), (102, 4)])
    new_order(v, 0, 1, side, 0, 10, TIF_IOC, OT_MARKET)
    assert reports(v) == [(RS_FILL, mirror(side, 101), 10, ST_FILLED, OK, 0)]


@SIDES
def test_market_order_with_partial_fills_walks_the_book(side: int) -> None:
    v = venue(partial=True)
    mbook(v, side, opp_levels=[(101, 3), (102, 4), (110, 5)])
    new_order(v, 0, 1, side, 0, 10, TIF_IOC, OT_MARKET)
    new_order(v, 1, 2, side, 0, 20, TIF_IOC, OT_MARKET)
    assert reports(v) == [
        (RS_FILL, mirror(side, 101), 3, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 102), 4, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 110), 3, ST_FILLED, OK, 0),
        (RS_FILL, mirror(side, 101), 3, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 102), 4, ST_OPEN, OK, 0),
        (RS_FILL, mirror(side, 110), 5, ST_OPEN, OK, 0),
        (RS_DONE, 0, 8, ST_EXPIRED, V_NO_LIQUIDITY, 0),
    ]
    assert n_live(v) == 0


@SIDES
@PARTIAL
def test_market_order_against_an_empty_side_expires(side: int, partial: bool) -> None:
    v = venue(partial=partial)
    mbook(v, side, own_levels=[(100, 5)])
    new_order(v, 0, 1, side, 0, 3, TIF_IOC, OT_MARKET)
    assert reports(v) == [(RS_DONE, 0, 3, ST_EXPIRED, V_NO_LIQUIDITY, 0)]
    assert v.orders[0]["filled"] == 0


# --- resting orders -------------------------------------------------------------------------------


def resting(side: int, partial: bool = False, level: int = 5, qty: int = 10, **kw: Any) -> Any:
    """Return a venue with our order (slot 0, id 1) resting at 100 (mirrored), reports read."""
    v = venue(partial=partial, **kw)
    mbook(v, side, own_levels=[(100, level), (99, 8)], opp_levels=[(101, 4), (102, 6)])
    new_order(v, 0, 1, side, mirror(side, 100), qty)
    assert reports(v) == [(RS_ACK, mirror(side, 100), qty, ST_OPEN, OK, 0)]
    assert ahead(v) == level
    return v


def trade(v: Any, aggressor: int, px: int, qty: int, ts: int = 300) -> None:
    on_market(v, 0, K_TRADE | aggressor, ts, px, qty)


@SIDES
@PARTIAL
def test_trade_through_fills_all_leaves_at_our_price_as_maker(side: int, partial: bool) -> None:
    v = resting(side, partial)
    trade(v, opp(side), mirror(side, 99), 1)
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["px"]), int(r["qty"]), int(r["status"])) for r in rs] == [
        (RS_FILL, mirror(side, 100), 10, ST_FILLED)
    ]
    assert rs[0]["maker"] == 1
    assert rs[0]["fee"] == pytest.approx(maker_fee(mirror(side, 100), 10), rel=1e-12)
    assert rs[0]["fee"] < 0.0  # a maker rebate
    assert n_live(v) == 0


@SIDES
def test_trades_at_our_price_drain_the_queue_before_a_fill(side: int) -> None:
    v = resting(side, partial=False, level=5)
    px = mirror(side, 100)
    trade(v, opp(side), px, 3)
    assert ahead(v) == 2.0
    trade(v, opp(side), px, 2)
    assert ahead(v) == 0.0
    assert reports(v) == []  # front 0 is not a fill: the overshoot must round to >= 1 lot
    trade(v, opp(side), px, 1)
    assert reports(v) == [(RS_FILL, px, 10, ST_FILLED, OK, 1)]
    assert n_live(v) == 0


@SIDES
def test_partial_queue_fills_are_the_overshoot(side: int) -> None:
    v = resting(side, partial=True, level=5)
    px = mirror(side, 100)
    trade(v, opp(side), px, 7)  # 2 lots past the queue
    trade(v, opp(side), px, 3)  # the queue is reset to 0 after a fill: 3 more
    assert reports(v) == [
        (RS_FILL, px, 2, ST_OPEN, OK, 1),
        (RS_FILL, px, 3, ST_OPEN, OK, 1),
    ]
    trade(v, opp(side), px, 50)
    assert reports(v) == [(RS_FILL, px, 5, ST_FILLED, OK, 1)]
    o = v.orders[0]
    assert (o["filled"], o["leaves"], o["status"]) == (10, 0, ST_FILLED)
    assert n_live(v) == 0


@SIDES
@PARTIAL
def test_trades_from_the_wrong_aggressor_never_fill(side: int, partial: bool) -> None:
    v = resting(side, partial, level=0)
    for px in (mirror(side, 98), mirror(side, 100), mirror(side, 102)):
        trade(v, own(side), px, 100)
    assert reports(v) == []
    assert ahead(v) == 0.0
    assert v.orders[0]["leaves"] == 10


@SIDES
@PARTIAL
def test_trade_behind_our_price_does_nothing(side: int, partial: bool) -> None:
    v = resting(side, partial, level=0)
    trade(v, opp(side), mirror(side, 101), 100)
    assert reports(v) == []
    assert ahead(v) == 0.0


@SIDES
def test_depth_changes_at_our_level_move_the_queue_risk_averse(side: int) -> None:
    v = resting(side, level=5)
    px = mirror(side, 100)
    on_market(v, 0, K_DEPTH | own(side), 300, px, 3)
    assert ahead(v) == 3.0
    on_market(v, 0, K_DEPTH | own(side), 301, px, 9)  # growth joins behind us
    assert ahead(v) == 3.0
    on_market(v, 0, K_SNAPSHOT | own(side), 302, px, 1)
    assert ahead(v) == 1.0
    on_market(v, 0, K_DEPTH | own(side), 303, mirror(side, 99), 0)  # another level
    assert ahead(v) == 1.0
    on_market(v, 0, K_DEPTH | own(side), 304, px, 0)
    assert ahead(v) == 0.0
    assert reports(v) == []  # depth alone never fills
    trade(v, opp(side), px, 1)
    assert reports(v) == [(RS_FILL, px, 10, ST_FILLED, OK, 1)]


@SIDES
@PARTIAL
@pytest.mark.parametrize("at", [100, 99], ids=["at", "through"])
def test_opposite_side_moving_through_our_price_fills_at_our_price(
    side: int, partial: bool, at: int
) -> None:
    v = resting(side, partial)
    on_market(v, 0, K_DEPTH | opp(side), 300, mirror(side, at), 1)
    assert reports(v) == [(RS_FILL, mirror(side, 100), 10, ST_FILLED, OK, 1)]
    assert n_live(v) == 0


@SIDES
def test_opposite_side_deletion_or_retreat_does_not_fill(side: int) -> None:
    v = resting(side)
    on_market(v, 0, K_DEPTH | opp(side), 300, mirror(side, 101), 0)
    on_market(v, 0, K_DEPTH | opp(side), 301, mirror(side, 103), 2)
    assert reports(v) == []
    assert v.orders[0]["leaves"] == 10


@SIDES
def test_clear_of_our_side_leaves_no_queue_ahead(side: int) -> None:
    v = resting(side, level=5)
    px = mirror(side, 100)
    on_market(v, 0, K_CLEAR | own(side), 300, NO_PX, 0)
    assert ahead(v) == 0.0
    assert l2_best(v.book, 0, BID if side == BUY else ASK) == NO_PX
    on_market(v, 0, K_SNAPSHOT | own(side), 301, px, 8)  # the level comes back behind us
    assert ahead(v) == 0.0
    assert reports(v) == []
    trade(v, opp(side), px, 1)
    assert reports(v) == [(RS_FILL, px, 10, ST_FILLED, OK, 1)]


@SIDES
def test_clear_of_the_other_side_leaves_our_queue(side: int) -> None:
    v = resting(side, level=5)
    on_market(v, 0, K_CLEAR | opp(side), 300, NO_PX, 0)
    assert ahead(v) == 5.0
    assert reports(v) == []


def test_clear_of_the_other_side_keeps_the_probability_models_trade_count() -> None:
    """A clear of the ask side must not touch the state of a resting bid (hbt: no depth call).

    Power(3) model, bid level 10, our queue 10. A 3-lot trade at our price leaves ahead 7
    and cum_trade 3; the recorded level then drops 10 -> 7 (that trade showing up). Then
    chg = 10 - 7 - 3 = 0 and ahead stays 7. A clear of the *ask* side in between must not
    reset cum_trade (today it does, via queue_on_depth(10, 10), and the drop is then read as
    3 cancellations: ahead becomes ~4.22).
    """
    v = resting(BUY, level=10, model=QM_POWER, param=3.0)
    trade(v, F_ASK, 100, 3)
    assert ahead(v) == 7.0
    on_market(v, 0, K_CLEAR | F_ASK, 301, NO_PX, 0)
    on_market(v, 0, K_DEPTH | F_BID, 302, 100, 7)
    assert ahead(v) == pytest.approx(7.0)


def test_depth_row_without_a_side_changes_no_queue() -> None:
    """A depth row with neither side flag is ignored by the book; queues must ignore it too.

    touch() says TOUCH_NONE (qty 0), so the loop never calls on_market for it; on_market
    reads it as an ask row and sets the queue of a resting sell at that price to 0.
    """
    v = resting(SELL, level=5)
    row = (0, K_DEPTH, 101, 0)
    assert touch(v.orders, v.live, n_live(v), *row) == TOUCH_NONE
    on_market(v, row[0], row[1], 300, row[2], row[3])
    assert l2_qty(v.book, 0, ASK, 101) == 5
    assert ahead(v) == 5.0


# --- cancel ---------------------------------------------------------------------------------------


@SIDES
def test_cancel_of_a_resting_order(side: int) -> None:
    v = resting(side)
    cancel(v, 0, 1)
    assert reports(v) == [(RS_DONE, mirror(side, 100), 10, ST_CANCELED, OK, 0)]
    assert n_live(v) == 0
    trade(v, opp(side), mirror(side, 98), 5)  # a cancelled order never fills
    assert reports(v) == []


def test_cancel_of_an_unknown_or_ended_order_is_rejected() -> None:
    v = resting(BUY)
    cancel(v, 0, 99, ts=200)  # wrong id: the resting order stays
    assert reports(v) == [(RS_REQ_REJECTED, 0, 0, REQ_CANCEL, V_UNKNOWN_ORDER, 0)]
    assert n_live(v) == 1
    cancel(v, 5, 7, ts=201)  # a slot the venue never used
    assert reports(v) == [(RS_REQ_REJECTED, 0, 0, REQ_CANCEL, V_UNKNOWN_ORDER, 0)]
    trade(v, F_ASK, 99, 1, ts=300)  # order 1 fills completely
    assert reports(v) == [(RS_FILL, 100, 10, ST_FILLED, OK, 1)]
    cancel(v, 0, 1, ts=400)
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["status"]), int(r["reason"])) for r in rs] == [
        (RS_REQ_REJECTED, REQ_CANCEL, V_UNKNOWN_ORDER)
    ]
    assert rs[0]["order_id"] == 1
    assert (rs[0]["exch_ts"], rs[0]["deliver_ts"]) == (400, 405)
    modify(v, 0, 1, 99, 3, ts=401)
    assert reports(v) == [(RS_REQ_REJECTED, 0, 0, REQ_MODIFY, V_UNKNOWN_ORDER, 0)]


def test_cancel_after_a_cancel_is_rejected() -> None:
    v = resting(SELL)
    cancel(v, 0, 1, ts=200)
    cancel(v, 0, 1, ts=201)
    assert reports(v) == [
        (RS_DONE, 101, 10, ST_CANCELED, OK, 0),
        (RS_REQ_REJECTED, 0, 0, REQ_CANCEL, V_UNKNOWN_ORDER, 0),
    ]


# --- modify ---------------------------------------------------------------------------------------


@SIDES
def test_modify_to_a_new_price_requeues_at_the_back(side: int) -> None:
    v = resting(side, level=5)
    modify(v, 0, 1, mirror(side, 99), 3)
    assert reports(v) == [(RS_MODIFIED, mirror(side, 99), 3, ST_OPEN, OK, 0)]
    assert ahead(v) == 8.0
    o = v.orders[0]
    assert (o["px"], o["qty"], o["leaves"], o["status"]) == (mirror(side, 99), 3, 3, ST_OPEN)
    assert n_live(v) == 1
    # the old level no longer concerns the order
    trade(v, opp(side), mirror(side, 100), 50)
    assert reports(v) == []


@SIDES
def test_modify_size_down_keeps_the_queue_place_and_up_goes_to_the_back(side: int) -> None:
    v = resting(side, level=5)
    px = mirror(side, 100)
    trade(v, opp(side), px, 3)
    assert ahead(v) == 2.0
    modify(v, 0, 1, px, 4)
    assert reports(v) == [(RS_MODIFIED, px, 4, ST_OPEN, OK, 0)]
    assert ahead(v) == 2.0
    assert (v.orders[0]["qty"], v.orders[0]["leaves"]) == (4, 4)
    modify(v, 0, 1, px, 6)
    assert reports(v) == [(RS_MODIFIED, px, 6, ST_OPEN, OK, 0)]
    assert ahead(v) == 5.0


def test_modify_of_a_partly_filled_order_counts_the_new_size_as_open() -> None:
    v = resting(BUY, partial=True, level=0)
    trade(v, F_ASK, 100, 4)
    assert reports(v) == [(RS_FILL, 100, 4, ST_OPEN, OK, 1)]
    modify(v, 0, 1, 100, 2)
    assert reports(v) == [(RS_MODIFIED, 100, 2, ST_OPEN, OK, 0)]
    o = v.orders[0]
    assert (o["qty"], o["filled"], o["leaves"]) == (6, 4, 2)


@SIDES
def test_modify_of_a_gtx_to_a_crossing_price_is_rejected_and_removed(side: int) -> None:
    v = venue()
    mbook(v, side, own_levels=[(100, 5)], opp_levels=[(101, 4)])
    new_order(v, 0, 1, side, mirror(side, 100), 3, TIF_GTX)
    assert reports(v) == [(RS_ACK, mirror(side, 100), 3, ST_OPEN, OK, 0)]
    modify(v, 0, 1, mirror(side, 101), 3)
    assert reports(v) == [(RS_DONE, mirror(side, 100), 3, ST_REJECTED, V_WOULD_CROSS, 0)]
    assert n_live(v) == 0
    cancel(v, 0, 1, ts=300)
    assert reports(v) == [(RS_REQ_REJECTED, 0, 0, REQ_CANCEL, V_UNKNOWN_ORDER, 0)]


@SIDES
def test_modify_of_a_gtc_to_a_crossing_price_takes_liquidity(side: int) -> None:
    v = resting(side, partial=False, qty=4)
    modify(v, 0, 1, mirror(side, 102), 4)
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["px"]), int(r["qty"]), int(r["status"])) for r in rs] == [
        (RS_MODIFIED, mirror(side, 102), 4, ST_OPEN),
        (RS_FILL, mirror(side, 101), 4, ST_FILLED),
    ]
    assert rs[1]["maker"] == 0
    assert rs[1]["fee"] == pytest.approx(taker_fee(mirror(side, 101), 4), rel=1e-12)
    assert n_live(v) == 0


# --- latency --------------------------------------------------------------------------------------


def test_reports_arrive_after_the_response_latency() -> None:
    v = venue(lat=L.constant(10, 5))
    book(v, bids=[(100, 5)], asks=[(101, 4)], ts=50)
    new_order(v, 0, 1, BUY, 100, 2, ts=100)
    on_market(v, 0, K_TRADE | F_ASK, 250, 99, 1)
    rs = raw_reports(v)
    assert [(int(r["exch_ts"]), int(r["deliver_ts"])) for r in rs] == [(100, 105), (250, 255)]
    assert int(v.state[VS_NOW]) == 250
    # a request stamped earlier than the venue clock is handled at the venue's time
    new_order(v, 1, 2, BUY, 99, 1, ts=200)
    assert [(int(r["exch_ts"]), int(r["deliver_ts"])) for r in raw_reports(v)] == [(250, 255)]


def _busy_session(v: Any) -> None:
    """Drive many reports over a short time span."""
    book(v, bids=[(100, 5), (99, 5)], asks=[(101, 5), (102, 5)], ts=1)
    ts = 10
    for slot in range(8):
        if slot % 2:
            new_order(v, slot, slot + 1, BUY, 100, 3, ts=ts)
        else:
            new_order(v, slot, slot + 1, SELL, 101, 3, ts=ts)
        ts += 7
    for slot in range(8):
        modify(v, slot, slot + 1, 99 if slot % 2 else 102, 2, ts=ts)
        ts += 3
    for slot in range(0, 8, 2):
        cancel(v, slot, slot + 1, ts=ts)
        ts += 1
    on_market(v, 0, K_TRADE | F_ASK, ts, 98, 1)


def test_reports_never_overtake_each_other_with_random_latency() -> None:
    v = venue(lat=L.random(1_000.0, 1_000.0, 2.0, seed=7))
    _busy_session(v)
    rs = raw_reports(v)
    assert len(rs) == 8 + 8 + 4 + 4
    deliver = np.array([r["deliver_ts"] for r in rs])
    exch = np.array([r["exch_ts"] for r in rs])
    assert np.all(np.diff(deliver) >= 0)
    assert np.all(deliver >= exch)
    assert len(set((deliver - exch).tolist())) > 1  # the latencies really vary
    # seeded: a second run is identical
    w = venue(lat=L.random(1_000.0, 1_000.0, 2.0, seed=7))
    _busy_session(w)
    assert np.array_equal(np.array(raw_reports(w)), np.array(rs))


# --- fees -----------------------------------------------------------------------------------------


def test_fees_use_the_maker_and_taker_rates_of_the_instrument() -> None:
    inst = Instrument(
        venue="test",
        symbol="LIN",
        kind=InstrumentKind.LINEAR_PERPETUAL,
        tick_size=0.1,
        lot_size=0.001,
        maker_fee=-0.0001,
        taker_fee=0.0004,
    )
    v = venue(instr=instrument_row(inst)[None, :])
    book(v, bids=[(1000, 5)], asks=[(1001, 5)])
    new_order(v, 0, 1, BUY, 1001, 20, ts=10)  # taker: 20 lots at 100.1
    new_order(v, 1, 2, SELL, 1001, 30, ts=11)  # rests
    trade(v, F_BID, 1002, 1)  # maker: 30 lots at 100.1
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["maker"])) for r in rs] == [
        (RS_FILL, 0),
        (RS_ACK, 0),
        (RS_FILL, 1),
    ]
    assert rs[0]["fee"] == pytest.approx(0.0004 * 100.1 * 0.02, rel=1e-12)
    assert rs[2]["fee"] == pytest.approx(-0.0001 * 100.1 * 0.03, rel=1e-12)
    assert v.orders[1]["fee"] == rs[2]["fee"]
    assert v.orders[1]["fill_notional"] == 1001.0 * 30


def test_inverse_contract_fees_are_in_coin() -> None:
    instr = instr_row(tick=0.5, lot=1.0, mult=100.0, maker=-0.00025, taker=0.00075, inverse=True)
    v = venue(instr=instr)
    book(v, bids=[(60_000, 50)], asks=[(60_001, 50)])
    new_order(v, 0, 1, BUY, 60_001, 300, ts=10)  # taker at 30000.5
    new_order(v, 1, 2, BUY, 60_000, 40, ts=11)
    on_market(v, 0, K_DEPTH | F_ASK, 20, 60_000, 1)  # the ask falls onto our bid: maker
    rs = raw_reports(v)
    assert [(int(r["kind"]), int(r["px"]), int(r["qty"])) for r in rs] == [
        (RS_FILL, 60_001, 300),
        (RS_ACK, 60_000, 40),
        (RS_FILL, 60_000, 40),
    ]
    assert rs[0]["fee"] == pytest.approx(0.00075 * 300 * 100.0 / 30_000.5, rel=1e-12)
    assert rs[2]["fee"] == pytest.approx(-0.00025 * 40 * 100.0 / 30_000.0, rel=1e-12)


# --- touch / depth_at_our_level (the loop's short cuts) ----------------------------------------


@pytest.mark.parametrize("fn", [touch, touch.py_func], ids=["nb", "py"])
def test_touch_classifies_the_rows(fn: Any) -> None:
    v = resting(BUY, level=5)  # our bid at 100
    new_order(v, 1, 2, SELL, 104, 1)  # and an ask at 104
    args = (v.orders, v.live, n_live(v))
    cases = [
        ((0, K_DEPTH | F_BID, 100, 3), TOUCH_QUEUE),  # our level
        ((0, K_SNAPSHOT | F_ASK, 104, 0), TOUCH_QUEUE),
        ((0, K_DEPTH | F_ASK, 100, 1), TOUCH_FULL),  # an ask onto our price
        ((0, K_DEPTH | F_ASK, 98, 1), TOUCH_FULL),  # and through it
        ((0, K_DEPTH | F_BID, 104, 1), TOUCH_FULL),  # a bid onto our ask
        ((0, K_TRADE | F_ASK, 100, 1), TOUCH_FULL),  # a sell at our price
        ((0, K_TRADE | F_ASK, 97, 1), TOUCH_FULL),  # through it
        ((0, K_TRADE | F_BID, 105, 1), TOUCH_FULL),
        ((0, K_CLEAR | F_ASK, NO_PX, 0), TOUCH_FULL),
        ((0, K_DEPTH | F_BID, 99, 3), TOUCH_NONE),
        ((0, K_DEPTH | F_ASK, 101, 3), TOUCH_NONE),
        ((0, K_DEPTH | F_ASK, 100, 0), TOUCH_NONE),  # deleting an ask
        ((0, K_TRADE | F_ASK, 101, 1), TOUCH_NONE),
        ((0, K_TRADE | F_BID, 100, 1), TOUCH_NONE),  # wrong aggressor
        ((1, K_DEPTH | F_BID, 100, 3), TOUCH_NONE),  # another asset
    ]
    assert [int(fn(*args, *row)) for row, _ in cases] == [want for _, want in cases]
    assert fn(v.orders, v.live, 0, 0, K_CLEAR | F_BID, NO_PX, 0) == TOUCH_NONE  # none resting


@pytest.mark.parametrize("fn", [depth_at_our_level, depth_at_our_level.py_func], ids=["nb", "py"])
@pytest.mark.parametrize("model", [QM_RISK_AVERSE, QM_POWER])
@pytest.mark.parametrize(("px", "qty"), [(100, 3), (100, 0), (100, 9)])
def test_depth_at_our_level_matches_on_market(fn: Any, model: int, px: int, qty: int) -> None:
    a = resting(BUY, level=5, model=model, param=3.0)
    b = resting(BUY, level=5, model=model, param=3.0)
    for v in (a, b):
        trade(v, F_ASK, 100, 2)  # some trade count for the probability models
        new_order(v, 1, 2, BUY, 100, 4, ts=310)
        reports(v)
    row = (0, K_DEPTH | F_BID, px, qty)
    assert touch(a.orders, a.live, n_live(a), *row) == TOUCH_QUEUE
    on_market(a, row[0], row[1], 400, row[2], row[3])
    model_id, param = int(b.state[VS_QUEUE_MODEL]), float(b.qparam[0])
    fn(b.book, b.orders, b.live, n_live(b), b.queue, model_id, param, *row)
    assert np.array_equal(a.queue, b.queue)
    assert np.array_equal(a.book.qty, b.book.qty)
    assert np.array_equal(a.book.meta, b.book.meta)
    assert reports(a) == reports(b) == []


# --- plain-Python kernels -------------------------------------------------------------------------


def _script(req: Any, market: Any, classify: Any) -> tuple[list, bytes, list[int]]:
    """Run a session through every main branch; return reports, the order table and touch()."""
    v = venue(partial=True)
    book(v, bids=[(100, 5), (99, 8)], asks=[(101, 4), (102, 6)], market=market)
    new_order(v, 0, 1, BUY, 100, 10, TIF_GTX, req=req)  # rests, ahead 5
    new_order(v, 1, 2, SELL, 100, 3, TIF_GTX, req=req)  # would cross
    new_order(v, 2, 3, BUY, 102, 12, TIF_IOC, req=req)  # walks 101, 102, expires 2
    new_order(v, 3, 4, SELL, 0, 2, TIF_IOC, OT_MARKET, req=req)
    new_order(v, 4, 5, BUY, 102, 20, TIF_FOK, req=req)  # too little depth
    new_order(v, 5, 6, SELL, 101, 4, TIF_GTC, req=req)  # rests, ahead 4
    seen = []
    rows = [
        (K_TRADE | F_ASK, 100, 6),  # our bid: 1 lot past the queue
        (K_TRADE | F_BID, 101, 2),
        (K_DEPTH | F_ASK, 101, 1),  # queue of the sell
        (K_DEPTH | F_BID, 95, 4),  # nothing of ours
        (K_SNAPSHOT | F_BID, 100, 2),
        (K_CLEAR | F_ASK, NO_PX, 0),
        (K_DEPTH | F_ASK, 100, 3),  # an ask onto our bid
    ]
    for i, (flags, px, qty) in enumerate(rows):
        seen.append(int(classify(v.orders, v.live, int(v.state[VS_LIVE_N]), 0, flags, px, qty)))
        market(v, 0, flags, 300 + i, px, qty)
    modify(v, 5, 6, 102, 2, ts=400, req=req)
    cancel(v, 5, 6, ts=401, req=req)
    cancel(v, 0, 1, ts=402, req=req)
    return reports(v), v.orders.tobytes(), seen


def test_kernels_as_plain_python_match_the_compiled_ones(
    python_kernels: Callable[..., None],
) -> None:
    nb = _script(on_request, on_market, touch)
    python_kernels(replay)
    py = _script(on_request.py_func, on_market.py_func, touch.py_func)
    assert py == nb
    got, _, seen = nb
    full, queue, none = TOUCH_FULL, TOUCH_QUEUE, TOUCH_NONE
    assert seen == [full, full, queue, none, queue, full, full]
    assert got == [
        (RS_ACK, 100, 10, ST_OPEN, OK, 0),
        (RS_DONE, 100, 3, ST_REJECTED, V_WOULD_CROSS, 0),
        (RS_FILL, 101, 4, ST_OPEN, OK, 0),
        (RS_FILL, 102, 6, ST_OPEN, OK, 0),
        (RS_DONE, 102, 2, ST_EXPIRED, V_NO_LIQUIDITY, 0),
        (RS_FILL, 100, 2, ST_FILLED, OK, 0),
        (RS_DONE, 102, 20, ST_EXPIRED, V_FOK_UNFILLED, 0),
        (RS_ACK, 101, 4, ST_OPEN, OK, 0),
        (RS_FILL, 100, 1, ST_OPEN, OK, 1),
        (RS_FILL, 100, 9, ST_FILLED, OK, 1),
        (RS_MODIFIED, 102, 2, ST_OPEN, OK, 0),
        (RS_DONE, 102, 2, ST_CANCELED, OK, 0),
        (RS_REQ_REJECTED, 0, 0, REQ_CANCEL, V_UNKNOWN_ORDER, 0),
    ]


@pytest.mark.parametrize("with_order", [False, True], ids=["idle", "resting"])
def test_clear_through_a_price_removes_only_the_levels_up_to_it(with_order: bool) -> None:
    """A ``K_CLEAR`` row with ``px`` set clears its side from the touch to ``px`` inclusive.

    That is what :func:`hftlib.book.l2.l2_apply` (and the loop's fast path) does; on_market
    passes ``NO_PX`` to the book instead, so the whole side goes.
    """
    v = venue()
    book(v, bids=[(100, 5), (99, 8), (97, 2)], asks=[(101, 4)])
    if with_order:
        new_order(v, 0, 1, BUY, 97, 3)
        assert reports(v) == [(RS_ACK, 97, 3, ST_OPEN, OK, 0)]
    on_market(v, 0, K_CLEAR | F_BID, 300, 99, 0)
    assert [l2_qty(v.book, 0, BID, px) for px in (100, 99, 97)] == [0, 0, 2]
    assert l2_best(v.book, 0, BID) == 97
    if with_order:
        assert ahead(v) == 2.0

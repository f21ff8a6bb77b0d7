"""The replay venue: matches our orders against a recorded market (numba).

Our orders never move the recorded book (the market is replayed as it happened). A
resting order fills

- when a public trade goes *through* its price (a sell at a lower price than our bid,
  a buy above our ask): the whole open size, at our price, as maker;
- when the opposite side of the book moves through its price (the best ask falls to or
  below our bid): the whole open size, at our price, as maker;
- from queue depletion: trades *at* its price and level size changes move the queue
  ahead of it (:mod:`hftlib.sim.queue`); once the model says the queue is used up, the
  order fills (all of it, or with partial fills on, what the overshoot allows).

On arrival a limit order that crosses the book takes liquidity: GTX is rejected
(``V_WOULD_CROSS``), FOK fills completely within its limit or expires untouched, IOC and
GTC take what the recorded levels offer up to their limit (IOC expires the rest, GTC
rests it), market orders walk the book. With partial fills off, a crossing order fills
completely at the best price (the recorded size at the touch is not a cap), as in
hftbacktest's no-partial-fill exchange.

The exchange keeps its own copy of each order (``Venue.orders``, same slots as the
strategy's table) and reports every change back through a response queue with the
response latency; :func:`pop_response` hands them to the host at delivery time.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Final

import numpy as np
from hftlib.sim.fees import fee
from hftlib.sim.latency import LatencyModel, response_latency
from hftlib.sim.queue import (
    QM_L3_FIFO,
    QS_AHEAD,
    QUEUE_STATE_SIZE,
    fifo_on_change,
    queue_on_arrival,
    queue_on_depth,
    queue_on_trade,
)
from numba import njit

from hftlib.book.l2 import L2Book, l2_apply, l2_best, l2_depth, l2_qty
from hftlib.book.l3 import O_QTY, O_SEQ, O_SIDE, O_TICK, S_SEQ, l3_apply, l3_slot, new_l3
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    OK,
    ORDER_DTYPE,
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
    TIF_GTX,
    TIF_IOC,
    V_FOK_UNFILLED,
    V_NO_LIQUIDITY,
    V_UNKNOWN_ORDER,
    V_WOULD_CROSS,
)
from hftlib.jit import nrt_free_inline, nrt_free_internal, nrt_kernel
from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
)

# --- responses (venue -> strategy) ------------------------------------------------------------
RS_ACK: Final = 1
RS_FILL: Final = 2
RS_DONE: Final = 3
RS_MODIFIED: Final = 4
RS_REQ_REJECTED: Final = 5

RESP_DTYPE: Final = np.dtype(
    [
        ("deliver_ts", "<i8"),  # local time the report arrives
        ("exch_ts", "<i8"),  # venue time of the change
        ("kind", "<i8"),  # RS_*
        ("slot", "<i8"),
        ("order_id", "<i8"),
        ("px", "<i8"),  # RS_FILL: fill price; RS_MODIFIED: new price
        ("qty", "<i8"),  # RS_FILL: fill size; RS_MODIFIED: new open size
        ("status", "<i8"),  # RS_DONE: final status; RS_REQ_REJECTED: the refused REQ_*
        ("reason", "<i8"),
        ("maker", "<i8"),
        ("fee", "<f8"),
    ],
    align=True,
)

# --- requests (strategy -> venue): int64 columns ----------------------------------------------
RQ_ARRIVE_TS: Final = 0
RQ_KIND: Final = 1
RQ_SLOT: Final = 2
RQ_ORDER_ID: Final = 3
RQ_ASSET: Final = 4
RQ_SIDE: Final = 5
RQ_PX: Final = 6
RQ_QTY: Final = 7
RQ_TIF: Final = 8
RQ_OTYPE: Final = 9
N_RQ: Final = 10

# --- venue state: int64 columns of ``Venue.state`` --------------------------------------------
VS_NOW: Final = 0  # venue clock (ns)
VS_LIVE_N: Final = 1  # resting orders
VS_RESP_HEAD: Final = 2
VS_RESP_N: Final = 3
VS_LAST_DELIVER: Final = 4
VS_QUEUE_MODEL: Final = 5
VS_PARTIAL: Final = 6
VS_RESP_DROPPED: Final = 7  # responses lost because the queue was full (never in practice)
N_VS: Final = 8

WALK_LEVELS: Final = 512
"""Levels a taker order walks at most (the rest of a market order expires)."""

Venue = namedtuple(
    "Venue",
    [
        "book",
        "l3",
        "orders",
        "queue",
        "seq",
        "live",
        "state",
        "qparam",
        "instr",
        "lat",
        "resp",
        "walk",
    ],
)
"""The venue's state. ``book`` is the exchange-side L2 view (``l3.l2``: L3 rows keep it in
sync); ``queue`` holds each order's queue-model state and ``seq`` the L3 priority it took on
arrival (orders of the recorded L3 book with a smaller ``seq`` are ahead of it)."""


def new_venue(
    instr: np.ndarray,
    latency: LatencyModel,
    *,
    queue_model: int,
    queue_param: float,
    partial_fills: bool,
    max_orders: int,
    response_capacity: int = 1 << 14,
    l3_capacity: int = 64,
) -> Venue:
    """Return an empty replay venue for ``len(instr)`` assets.

    ``l3_capacity`` is the number of recorded orders the L3 book can hold (only L3 data
    needs more than the minimum).
    """
    state = np.zeros(N_VS, dtype=np.int64)
    state[VS_QUEUE_MODEL] = queue_model
    state[VS_PARTIAL] = 1 if partial_fills else 0
    l3 = new_l3(instr.shape[0], capacity=l3_capacity)
    return Venue(
        book=l3.l2,
        l3=l3,
        orders=np.zeros(max_orders, dtype=ORDER_DTYPE),
        queue=np.zeros((max_orders, QUEUE_STATE_SIZE), dtype=np.float64),
        seq=np.zeros(max_orders, dtype=np.int64),
        live=np.zeros(max_orders, dtype=np.int64),
        state=state,
        qparam=np.array([queue_param], dtype=np.float64),
        instr=np.ascontiguousarray(instr, dtype=np.float64),
        lat=latency,
        resp=np.zeros(response_capacity, dtype=RESP_DTYPE),
        walk=np.zeros((2, WALK_LEVELS), dtype=np.int64),
    )


# --- responses --------------------------------------------------------------------------------
@nrt_free_inline
def _respond(
    v: Venue,
    kind: int,
    slot: int,
    px: int,
    qty: int,
    status: int,
    reason: int,
    maker: int,
    fee_paid: float,
) -> None:
    st = v.state
    cap = v.resp.shape[0]
    if st[VS_RESP_N] >= cap:
        st[VS_RESP_DROPPED] += 1
        return
    now = st[VS_NOW]
    deliver = now + response_latency(v.lat, now)
    if deliver < st[VS_LAST_DELIVER]:
        deliver = st[VS_LAST_DELIVER]  # reports reach the strategy in the order they were sent
    st[VS_LAST_DELIVER] = deliver
    r = v.resp[(st[VS_RESP_HEAD] + st[VS_RESP_N]) % cap]
    st[VS_RESP_N] += 1
    r["deliver_ts"] = deliver
    r["exch_ts"] = now
    r["kind"] = kind
    r["slot"] = slot
    r["order_id"] = v.orders[slot]["order_id"]
    r["px"] = px
    r["qty"] = qty
    r["status"] = status
    r["reason"] = reason
    r["maker"] = maker
    r["fee"] = fee_paid


@njit(cache=True, inline="always")
def next_response_ts(v: Venue) -> int:
    """Return the delivery time of the next report, or int64 max when none is pending."""
    if v.state[VS_RESP_N] == 0:
        return np.iinfo(np.int64).max
    return int(v.resp[v.state[VS_RESP_HEAD]]["deliver_ts"])


@njit(cache=True, inline="always")
def pop_response(v: Venue) -> int:
    """Remove the next report and return its index in ``v.resp`` (valid until more pushes)."""
    st = v.state
    i = st[VS_RESP_HEAD]
    st[VS_RESP_HEAD] = (i + 1) % v.resp.shape[0]
    st[VS_RESP_N] -= 1
    return int(i)


# --- order bookkeeping ------------------------------------------------------------------------
@nrt_free_internal
def _rest(v: Venue, slot: int) -> None:
    n = v.state[VS_LIVE_N]
    v.live[n] = slot
    v.state[VS_LIVE_N] = n + 1


@nrt_free_internal
def _unrest(v: Venue, slot: int) -> None:
    n = v.state[VS_LIVE_N]
    for k in range(n):
        if v.live[k] == slot:
            v.live[k] = v.live[n - 1]
            v.state[VS_LIVE_N] = n - 1
            return


@nrt_free_inline
def _fill(v: Venue, slot: int, px: int, qty: int, maker: bool) -> None:
    o = v.orders[slot]
    asset = o["asset"]
    paid = fee(v.instr[asset], px, qty, maker)
    o["leaves"] -= qty
    o["filled"] += qty
    o["fill_notional"] += float(px) * float(qty)
    o["fee"] += paid
    o["exch_ts"] = v.state[VS_NOW]
    if o["leaves"] == 0:
        o["status"] = ST_FILLED
    _respond(v, RS_FILL, slot, px, qty, o["status"], OK, 1 if maker else 0, paid)


@nrt_free_internal
def _end(v: Venue, slot: int, status: int, reason: int) -> None:
    o = v.orders[slot]
    o["status"] = status
    o["reason"] = reason
    o["exch_ts"] = v.state[VS_NOW]
    _respond(v, RS_DONE, slot, o["px"], o["leaves"], status, reason, 0, 0.0)


# --- taking liquidity -------------------------------------------------------------------------
@nrt_free_internal
def _crosses(v: Venue, asset: int, side: int, px: int, is_market: bool) -> bool:
    if side == BUY:
        ask = l2_best(v.book, asset, ASK)
        return ask != NO_PX and (is_market or px >= ask)
    bid = l2_best(v.book, asset, BID)
    return bid != NO_PX and (is_market or px <= bid)


@nrt_free_internal
def _available(v: Venue, asset: int, side: int, px: int, is_market: bool, want: int) -> int:
    """Walk the opposite side into ``v.walk`` up to the limit; return the lots on offer."""
    book_side = ASK if side == BUY else BID
    n = l2_depth(v.book, asset, book_side, v.walk[0], v.walk[1])
    total = 0
    for k in range(n):
        tick = v.walk[0, k]
        if not is_market and ((side == BUY and tick > px) or (side == SELL and tick < px)):
            v.walk[1, k] = 0
            continue
        total += v.walk[1, k]
        if total >= want:
            break
    return total


@nrt_free_internal
def _take(v: Venue, slot: int, is_market: bool) -> None:
    """Fill the crossing part of an arriving order as taker."""
    o = v.orders[slot]
    asset = o["asset"]
    side = o["side"]
    if v.state[VS_PARTIAL] == 0:
        book_side = ASK if side == BUY else BID
        _fill(v, slot, l2_best(v.book, asset, book_side), o["leaves"], False)
        return
    want = o["leaves"]
    avail = _available(v, asset, side, o["px"], is_market, want)
    if avail <= 0:
        return
    book_side = ASK if side == BUY else BID
    n = l2_depth(v.book, asset, book_side, v.walk[0], v.walk[1])
    for k in range(n):
        if o["leaves"] == 0:
            break
        tick = v.walk[0, k]
        if not is_market and (
            (side == BUY and tick > o["px"]) or (side == SELL and tick < o["px"])
        ):
            break
        q = min(o["leaves"], v.walk[1, k])
        if q > 0:
            _fill(v, slot, tick, q, False)


@nrt_free_internal
def _join_queue(v: Venue, slot: int) -> None:
    """Put a resting order at the back of its level: everything recorded there is ahead."""
    o = v.orders[slot]
    book_side = BID if o["side"] == BUY else ASK
    v.seq[slot] = v.l3.state[S_SEQ]
    queue_on_arrival(
        v.state[VS_QUEUE_MODEL], v.queue[slot], l2_qty(v.book, o["asset"], book_side, o["px"])
    )


# --- requests ---------------------------------------------------------------------------------
@nrt_free_internal
def _new_order(v: Venue, rq: np.ndarray) -> None:
    slot = rq[RQ_SLOT]
    o = v.orders[slot]
    o["order_id"] = rq[RQ_ORDER_ID]
    o["asset"] = rq[RQ_ASSET]
    o["side"] = rq[RQ_SIDE]
    o["px"] = rq[RQ_PX]
    o["qty"] = rq[RQ_QTY]
    o["leaves"] = rq[RQ_QTY]
    o["filled"] = 0
    o["tif"] = rq[RQ_TIF]
    o["otype"] = rq[RQ_OTYPE]
    o["reason"] = 0
    o["fill_notional"] = 0.0
    o["fee"] = 0.0
    o["exch_ts"] = v.state[VS_NOW]
    asset = o["asset"]
    side = o["side"]
    tif = o["tif"]
    is_market = o["otype"] == OT_MARKET
    o["status"] = ST_OPEN
    if _crosses(v, asset, side, o["px"], is_market):
        if tif == TIF_GTX:
            _end(v, slot, ST_REJECTED, V_WOULD_CROSS)
            return
        if (
            tif == TIF_FOK
            and v.state[VS_PARTIAL] != 0
            and _available(v, asset, side, o["px"], is_market, o["leaves"]) < o["leaves"]
        ):
            _end(v, slot, ST_EXPIRED, V_FOK_UNFILLED)
            return
        _take(v, slot, is_market)
        if o["leaves"] == 0:
            return
        if is_market or tif == TIF_IOC or tif == TIF_FOK:
            _end(v, slot, ST_EXPIRED, V_NO_LIQUIDITY)
            return
    elif is_market or tif == TIF_IOC or tif == TIF_FOK:
        _end(v, slot, ST_EXPIRED, V_NO_LIQUIDITY)
        return
    _join_queue(v, slot)
    _rest(v, slot)
    if o["filled"] == 0:
        _respond(v, RS_ACK, slot, o["px"], o["leaves"], ST_OPEN, OK, 0, 0.0)


@nrt_free_internal
def _is_resting(v: Venue, slot: int, order_id: int) -> bool:
    o = v.orders[slot]
    return bool(o["order_id"] == order_id and o["status"] == ST_OPEN)


@nrt_free_internal
def _refuse(v: Venue, slot: int, order_id: int, req: int) -> None:
    """Report a cancel or modify for an order the venue no longer has, by the id asked for."""
    st = v.state
    before = st[VS_RESP_N]
    _respond(v, RS_REQ_REJECTED, slot, 0, 0, req, V_UNKNOWN_ORDER, 0, 0.0)
    if st[VS_RESP_N] > before:
        v.resp[(st[VS_RESP_HEAD] + st[VS_RESP_N] - 1) % v.resp.shape[0]]["order_id"] = order_id


@nrt_free_internal
def _cancel(v: Venue, rq: np.ndarray) -> None:
    slot = rq[RQ_SLOT]
    if not _is_resting(v, slot, rq[RQ_ORDER_ID]):
        _refuse(v, slot, rq[RQ_ORDER_ID], REQ_CANCEL)
        return
    _unrest(v, slot)
    _end(v, slot, ST_CANCELED, OK)


@nrt_free_internal
def _modify(v: Venue, rq: np.ndarray) -> None:
    slot = rq[RQ_SLOT]
    if not _is_resting(v, slot, rq[RQ_ORDER_ID]):
        _refuse(v, slot, rq[RQ_ORDER_ID], REQ_MODIFY)
        return
    o = v.orders[slot]
    asset = o["asset"]
    side = o["side"]
    new_px = rq[RQ_PX]
    new_leaves = rq[RQ_QTY]
    if new_px != o["px"]:
        if _crosses(v, asset, side, new_px, False) and o["tif"] == TIF_GTX:
            _unrest(v, slot)
            _end(v, slot, ST_REJECTED, V_WOULD_CROSS)
            return
        o["px"] = new_px
        o["leaves"] = new_leaves
        o["qty"] = o["filled"] + new_leaves
        o["exch_ts"] = v.state[VS_NOW]
        if _crosses(v, asset, side, new_px, False):
            _unrest(v, slot)
            _respond(v, RS_MODIFIED, slot, new_px, new_leaves, ST_OPEN, OK, 0, 0.0)
            _take(v, slot, False)
            if o["leaves"] == 0:
                return
            _rest(v, slot)
        else:
            _respond(v, RS_MODIFIED, slot, new_px, new_leaves, ST_OPEN, OK, 0, 0.0)
        _join_queue(v, slot)
        return
    if new_leaves > o["leaves"]:
        _join_queue(v, slot)  # a larger order goes to the back of its level
    o["leaves"] = new_leaves
    o["qty"] = o["filled"] + new_leaves
    o["exch_ts"] = v.state[VS_NOW]
    _respond(v, RS_MODIFIED, slot, new_px, new_leaves, ST_OPEN, OK, 0, 0.0)


@njit(cache=True, inline="always")
def on_request(v: Venue, rq: np.ndarray) -> None:
    """Handle one request row (``RQ_*`` columns) arriving at the venue."""
    if rq[RQ_ARRIVE_TS] > v.state[VS_NOW]:
        v.state[VS_NOW] = rq[RQ_ARRIVE_TS]
    kind = rq[RQ_KIND]
    if kind == REQ_NEW:
        _new_order(v, rq)
    elif kind == REQ_CANCEL:
        _cancel(v, rq)
    elif kind == REQ_MODIFY:
        _modify(v, rq)


# --- market data ------------------------------------------------------------------------------
@nrt_free_internal
def _trade_at_price(v: Venue, slot: int, qty: int) -> None:
    """A public trade at the order's price: advance its queue, fill what the model says."""
    o = v.orders[slot]
    q = queue_on_trade(
        v.state[VS_QUEUE_MODEL],
        v.queue[slot],
        float(qty),
        float(o["leaves"]),
        v.state[VS_PARTIAL] != 0,
    )
    if q > 0.0:
        _fill(v, slot, o["px"], min(int(q), o["leaves"]), True)


@nrt_free_internal
def _sweep_filled(v: Venue) -> None:
    """Drop orders that ended from the resting list."""
    k = 0
    while k < v.state[VS_LIVE_N]:
        s = v.live[k]
        if v.orders[s]["status"] != ST_OPEN:
            n = v.state[VS_LIVE_N]
            v.live[k] = v.live[n - 1]
            v.state[VS_LIVE_N] = n - 1
        else:
            k += 1


@nrt_free_internal
def _on_trade(v: Venue, asset: int, flags: int, px: int, qty: int) -> None:
    # with exact FIFO the L3 fills drive the queue; a trade row only matters through our price
    fifo = v.state[VS_QUEUE_MODEL] == QM_L3_FIFO
    buyer_aggressor = (flags & F_BID) != 0
    seller_aggressor = (flags & F_ASK) != 0
    touched = False
    for k in range(v.state[VS_LIVE_N]):
        slot = v.live[k]
        o = v.orders[slot]
        if o["asset"] != asset:
            continue
        if o["side"] == BUY and seller_aggressor:
            if px < o["px"]:
                _fill(v, slot, o["px"], o["leaves"], True)
                touched = True
            elif px == o["px"] and not fifo:
                _trade_at_price(v, slot, qty)
                touched = True
        elif o["side"] == SELL and buyer_aggressor:
            if px > o["px"]:
                _fill(v, slot, o["px"], o["leaves"], True)
                touched = True
            elif px == o["px"] and not fifo:
                _trade_at_price(v, slot, qty)
                touched = True
    if touched:
        _sweep_filled(v)


@nrt_free_internal
def _clear(v: Venue, asset: int, flags: int, px: int) -> None:
    """Clear side(s) of the book, or one side from the touch through ``px``.

    A whole-side clear also removes the recorded L3 orders there; L3 feeds never clear
    through a price.
    """
    if px == NO_PX:
        l3_apply(v.l3, asset, flags, -1, NO_PX, 0)
    l2_apply(v.book, asset, flags, px, 0)


@nrt_kernel
def _clear_under_orders(v: Venue, asset: int, flags: int, px: int) -> None:
    """Clear with our orders live: remember each one's level size, clear, move the queues.

    The only venue kernel that allocates, kept apart so the others run without reference
    counting.
    """
    n_live = v.state[VS_LIVE_N]
    before = np.zeros(n_live, dtype=np.int64)
    for k in range(n_live):
        o = v.orders[v.live[k]]
        before[k] = l2_qty(v.book, asset, BID if o["side"] == BUY else ASK, o["px"])
    _clear(v, asset, flags, px)
    for k in range(n_live):
        slot = v.live[k]
        o = v.orders[slot]
        if o["asset"] == asset:
            after = l2_qty(v.book, asset, BID if o["side"] == BUY else ASK, o["px"])
            if after != before[k]:  # an untouched level keeps its queue state
                queue_on_depth(
                    v.state[VS_QUEUE_MODEL], v.qparam[0], v.queue[slot], before[k], after
                )


@nrt_free_internal
def _on_depth(v: Venue, asset: int, flags: int, px: int, qty: int) -> None:
    """Apply a book row, then move queues at that level and fill orders the book crossed."""
    kind = flags & KIND_MASK
    n_live = v.state[VS_LIVE_N]
    if n_live == 0:
        if kind == K_CLEAR:
            _clear(v, asset, flags, px)
        else:
            l2_apply(v.book, asset, flags, px, qty)
        return
    sides = flags & (F_BID | F_ASK)
    if kind != K_CLEAR and sides != F_BID and sides != F_ASK:
        return  # a level row without exactly one side: the book ignores it, so do we
    side = BID if sides == F_BID else ASK
    if kind == K_CLEAR:  # rare
        _clear_under_orders(v, asset, flags, px)
        return
    prev = l2_qty(v.book, asset, side, px)
    l2_apply(v.book, asset, flags, px, qty)
    new = l2_qty(v.book, asset, side, px)
    touched = False
    for k in range(n_live):
        slot = v.live[k]
        o = v.orders[slot]
        if o["asset"] != asset:
            continue
        # an order fills when the row is a new level on the other side at or through its
        # price (the rule touch() relies on; a crossed remainder left by a walk waits for
        # such a row or a trade through it)
        if o["side"] == BUY:
            if side == ASK and qty > 0 and px <= o["px"]:
                _fill(v, slot, o["px"], o["leaves"], True)
                touched = True
            elif side == BID and px == o["px"]:
                queue_on_depth(v.state[VS_QUEUE_MODEL], v.qparam[0], v.queue[slot], prev, new)
        else:
            if side == BID and qty > 0 and px >= o["px"]:
                _fill(v, slot, o["px"], o["leaves"], True)
                touched = True
            elif side == ASK and px == o["px"]:
                queue_on_depth(v.state[VS_QUEUE_MODEL], v.qparam[0], v.queue[slot], prev, new)
    if touched:
        _sweep_filled(v)


TOUCH_NONE: Final = 0
TOUCH_QUEUE: Final = 1
TOUCH_FULL: Final = 2


@njit(cache=True, inline="always")
def touch(
    orders: np.ndarray, live: np.ndarray, n_live: int, asset: int, flags: int, px: int, qty: int
) -> int:
    """Classify what a market row does to our resting orders.

    ``TOUCH_NONE``: nothing (the loop just applies it to the venue's book, the common case);
    ``TOUCH_QUEUE``: a level change at the price of our orders on their own side, which only
    moves their queues (:func:`depth_at_our_level`); ``TOUCH_FULL``: anything that may fill
    (a trade reaching our price from the taking side, a new opposite level at or through
    it, a clear), handled by :func:`on_market`.
    """
    kind = flags & KIND_MASK
    if kind == K_CLEAR:
        return TOUCH_FULL if n_live > 0 else TOUCH_NONE
    result = TOUCH_NONE
    for k in range(n_live):
        o = orders[live[k]]
        if o["asset"] != asset:
            continue
        opx = o["px"]
        if o["side"] == BUY:
            if kind == K_TRADE:
                if (flags & F_ASK) != 0 and px <= opx:
                    return TOUCH_FULL
            elif (flags & F_BID) != 0:
                if px == opx:
                    result = TOUCH_QUEUE
            elif qty > 0 and px <= opx:
                return TOUCH_FULL
        else:
            if kind == K_TRADE:
                if (flags & F_BID) != 0 and px >= opx:
                    return TOUCH_FULL
            elif (flags & F_ASK) != 0:
                if px == opx:
                    result = TOUCH_QUEUE
            elif qty > 0 and px >= opx:
                return TOUCH_FULL
    return result


@njit(cache=True, inline="always")
def depth_at_our_level(
    book: L2Book,
    orders: np.ndarray,
    live: np.ndarray,
    n_live: int,
    queue: np.ndarray,
    model: int,
    param: float,
    asset: int,
    flags: int,
    px: int,
    qty: int,
) -> None:
    """Apply a ``TOUCH_QUEUE`` row: change the level, move the queues of our orders there."""
    side = BID if (flags & F_BID) != 0 else ASK
    prev = l2_qty(book, asset, side, px)
    l2_apply(book, asset, flags, px, qty)
    order_side = BUY if side == BID else SELL
    for k in range(n_live):
        slot = live[k]
        o = orders[slot]
        if o["asset"] == asset and o["side"] == order_side and o["px"] == px:
            queue_on_depth(model, param, queue[slot], prev, l2_qty(book, asset, side, px))


@njit(cache=True)
def on_market(v: Venue, asset: int, flags: int, exch_ts: int, px: int, qty: int) -> None:
    """Handle one recorded market event at the venue (its exchange timestamp)."""
    market_row(v, asset, flags, exch_ts, px, qty)


@njit(cache=True)
def on_l3(v: Venue, asset: int, flags: int, exch_ts: int, order_id: int, px: int, qty: int) -> None:
    """Handle one recorded order-by-order row at the venue (see :func:`l3_row`)."""
    l3_row(v, asset, flags, exch_ts, order_id, px, qty)


# The loop runs without reference counting and calls these two directly: a Python entry
# point compiled that way could not unbox the venue's typed dicts (on_market and on_l3 are
# the entry points for Python callers).
@nrt_free_internal
def market_row(v: Venue, asset: int, flags: int, exch_ts: int, px: int, qty: int) -> None:
    """Handle one recorded market event at the venue (its exchange timestamp)."""
    if exch_ts > v.state[VS_NOW]:
        v.state[VS_NOW] = exch_ts
    kind = flags & KIND_MASK
    if kind == K_DEPTH or kind == K_SNAPSHOT or kind == K_CLEAR:
        _on_depth(v, asset, flags, px, qty)
    elif kind == K_TRADE and v.state[VS_LIVE_N] > 0:
        _on_trade(v, asset, flags, px, qty)


@nrt_free_internal
def l3_row(
    v: Venue, asset: int, flags: int, exch_ts: int, order_id: int, px: int, qty: int
) -> None:
    """Handle one recorded order-by-order row at the venue.

    The L3 book keeps the venue's L2 view in sync. For our resting orders at the row's
    level: with exact FIFO (``QM_L3_FIFO``) only orders that were ahead of ours move our
    queue (a cancel, a size cut or a fill of such an order, or one that lost priority);
    a fill of an order *behind* ours at our price means ours traded first, so it fills. Other
    queue models see the row as a level size change. An order added at or through our
    price on the other side fills ours, as with L2 data.
    """
    if exch_ts > v.state[VS_NOW]:
        v.state[VS_NOW] = exch_ts
    n_live = v.state[VS_LIVE_N]
    l3 = v.l3
    if n_live == 0:
        l3_apply(l3, asset, flags, order_id, px, qty)
        return
    kind = flags & KIND_MASK
    # the recorded order before the row (adds have none)
    o_side = -1
    o_tick = NO_PX
    o_qty = 0
    o_seq = 0
    if kind != K_L3_ADD:
        s = l3_slot(l3, asset, order_id)
        if s >= 0:
            o_side = l3.orders[s, O_SIDE]
            o_tick = l3.orders[s, O_TICK]
            o_qty = l3.orders[s, O_QTY]
            o_seq = l3.orders[s, O_SEQ]
    else:
        o_side = BID if (flags & F_BID) != 0 else ASK
        o_tick = px
    prev = l2_qty(v.book, asset, o_side, o_tick) if o_side >= 0 else 0
    l3_apply(l3, asset, flags, order_id, px, qty)
    if o_side < 0:
        return
    new_level = l2_qty(v.book, asset, o_side, o_tick)
    # how much of the recorded order left its place in the queue
    if kind == K_L3_MODIFY:
        kept = qty if (px == o_tick and qty <= o_qty) else 0
        left = o_qty - kept
    elif kind == K_L3_ADD:
        left = 0
    else:
        left = min(qty, o_qty)
    fifo = v.state[VS_QUEUE_MODEL] == QM_L3_FIFO
    touched = False
    for k in range(n_live):
        slot = v.live[k]
        o = v.orders[slot]
        if o["asset"] != asset:
            continue
        ours = BID if o["side"] == BUY else ASK
        opx = o["px"]
        if ours != o_side:
            # a new level on the other side at or through our price takes our order
            crossing = (o["side"] == BUY and px <= opx) or (o["side"] == SELL and px >= opx)
            if kind == K_L3_ADD and qty > 0 and crossing:
                _fill(v, slot, opx, o["leaves"], True)
                touched = True
            continue
        through = (o["side"] == BUY and o_tick < opx) or (o["side"] == SELL and o_tick > opx)
        if kind == K_L3_FILL and through:
            _fill(v, slot, opx, o["leaves"], True)  # the taker went through our price
            touched = True
        elif o_tick == opx:
            if not fifo:
                queue_on_depth(v.state[VS_QUEUE_MODEL], v.qparam[0], v.queue[slot], prev, new_level)
            elif kind == K_L3_FILL and o_seq > v.seq[slot]:
                q = o["leaves"] if v.state[VS_PARTIAL] == 0 else min(o["leaves"], qty)
                _fill(v, slot, opx, q, True)  # an order behind ours traded: ours went first
                touched = True
            elif left > 0 and o_seq <= v.seq[slot]:
                v.queue[slot, QS_AHEAD] = fifo_on_change(v.queue[slot, QS_AHEAD], -float(left))
    if touched:
        _sweep_filled(v)

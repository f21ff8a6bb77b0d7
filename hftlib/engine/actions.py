"""What a strategy can ask and do: queries and actions over a :class:`~hftlib.engine.context.Ctx`.

Every function is ``@njit(cache=True)`` and safe to call from strategy callbacks. Actions
validate their input, run the pre-trade risk checks of :mod:`hftlib.risk`, write the order
into ``ctx.orders`` and queue a request in ``ctx.outbox`` for the host to send. They
return an int64: an order slot (>= 0) for submits, ``OK`` (0) for other accepted actions,
or a negative code from :mod:`hftlib.engine.types` (``E_*`` for invalid input, ``R_*`` for
risk denials). Every result is counted in ``ctx.counters`` (index ``-code``); nothing raises.
"""

from __future__ import annotations

import numpy as np

from hftlib.book.l2 import l2_best, l2_qty
from hftlib.engine.context import (
    AC_BALANCE,
    CLK_NEXT_ID,
    CLK_NOW,
    CLK_OUT_N,
    CLK_SEQ,
    LT_FEED,
    LT_ROUND_TRIP,
    OP_BUY_LOTS,
    OP_COUNT,
    OP_SELL_LOTS,
    OUT_KIND,
    OUT_SLOT,
    TR_PX,
    Ctx,
)
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    E_BAD_ASSET,
    E_BAD_PRICE,
    E_BAD_QTY,
    E_BAD_SIDE,
    E_BAD_TIF,
    E_BAD_TIMER,
    E_DUPLICATE_CLIENT_ID,
    E_NOT_OPEN,
    E_OFF_GRID,
    E_ORDER_BUSY,
    E_QUEUE_FULL,
    E_TOO_MANY_ORDERS,
    E_UNKNOWN_ORDER,
    INSTR_LOT,
    INSTR_TICK,
    OK,
    OT_LIMIT,
    OT_MARKET,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    SELL,
    ST_FREE,
    ST_OPEN,
    ST_PENDING,
    ST_UNKNOWN,
    TIF_FOK,
    TIF_GTC,
)
from hftlib.jit import nrt_free, nrt_free_inline
from hftlib.risk import check_modify, check_new, deny, record_request
from hftlib.types import NO_PX

GRID_TOLERANCE = 1e-6
"""Largest distance from the grid (in ticks or lots) accepted as float rounding error."""


# --- queries ----------------------------------------------------------------------------------
@nrt_free_inline
def now(ctx: Ctx) -> int:
    """Return the local time (ns) of the event being handled."""
    return int(ctx.clock[CLK_NOW])


@nrt_free_inline
def best_bid(ctx: Ctx, asset: int) -> int:
    """Return the best bid in ticks, or ``NO_PX`` when the bid side is empty."""
    return int(l2_best(ctx.book, asset, BID))


@nrt_free_inline
def best_ask(ctx: Ctx, asset: int) -> int:
    """Return the best ask in ticks, or ``NO_PX`` when the ask side is empty."""
    return int(l2_best(ctx.book, asset, ASK))


@nrt_free_inline
def qty_at(ctx: Ctx, asset: int, side: int, tick: int) -> int:
    """Return the lots resting at ``tick`` on book side ``side`` (BID or ASK)."""
    return int(l2_qty(ctx.book, asset, side, tick))


@nrt_free
def mid_ticks2(ctx: Ctx, asset: int) -> int:
    """Return best bid + best ask in ticks (twice the mid, exact), or ``NO_PX``."""
    bid = l2_best(ctx.book, asset, BID)
    ask = l2_best(ctx.book, asset, ASK)
    if bid == NO_PX or ask == NO_PX:
        return NO_PX
    return int(bid + ask)


@nrt_free
def mid_price(ctx: Ctx, asset: int) -> float:
    """Return the mid price in price units, or 0.0 when either side is empty."""
    m2 = mid_ticks2(ctx, asset)
    if m2 == NO_PX:
        return 0.0
    return float(0.5 * m2 * ctx.instr[asset, INSTR_TICK])


@nrt_free_inline
def position(ctx: Ctx, asset: int) -> int:
    """Return the position in lots (positive long)."""
    return int(ctx.position[asset])


@nrt_free_inline
def balance(ctx: Ctx, asset: int) -> float:
    """Return the cash balance booked against ``asset``."""
    return float(ctx.account[asset, AC_BALANCE])


@nrt_free_inline
def open_orders(ctx: Ctx, asset: int) -> int:
    """Return the number of live (pending or open) orders of ``asset``."""
    return int(ctx.open_state[asset, OP_COUNT])


@nrt_free_inline
def last_trade_px(ctx: Ctx, asset: int) -> int:
    """Return the last public trade price in ticks, or ``NO_PX``."""
    return int(ctx.trade[asset, TR_PX])


@nrt_free_inline
def feed_latency(ctx: Ctx, asset: int) -> int:
    """Return the last market-data latency seen (local - exchange timestamp), ns."""
    return int(ctx.latency[asset, LT_FEED])


@nrt_free_inline
def order_latency(ctx: Ctx, asset: int) -> int:
    """Return the last order round trip seen (request sent -> response received), ns."""
    return int(ctx.latency[asset, LT_ROUND_TRIP])


@nrt_free_inline
def is_live(status: int) -> bool:
    """Return True for an order that may still trade (pending, open or unknown)."""
    return status == ST_PENDING or status == ST_OPEN or status == ST_UNKNOWN


@nrt_free
def find_client_id(ctx: Ctx, client_id: int) -> int:
    """Return the slot of the live order with ``client_id``, or -1."""
    orders = ctx.orders
    for i in range(orders.shape[0]):
        if orders[i]["client_id"] == client_id and is_live(orders[i]["status"]):
            return i
    return -1


@nrt_free_inline
def _steps(value: float, step: float) -> int:
    """Return ``value / step`` as a whole number, or ``E_OFF_GRID`` when it is not one."""
    x = value / step
    t = np.round(x)
    if abs(x - t) > GRID_TOLERANCE:
        return E_OFF_GRID
    return int(t)


@nrt_free
def price_to_ticks(ctx: Ctx, asset: int, price: float) -> int:
    """Return ``price`` in ticks, or ``E_OFF_GRID`` if it is not on the asset's grid."""
    return _steps(price, ctx.instr[asset, INSTR_TICK])


@nrt_free
def size_to_lots(ctx: Ctx, asset: int, size: float) -> int:
    """Return ``size`` in lots, or ``E_OFF_GRID`` if it is not a whole number of lots."""
    return _steps(size, ctx.instr[asset, INSTR_LOT])


# --- bookkeeping ------------------------------------------------------------------------------
@nrt_free_inline
def _result(ctx: Ctx, code: int) -> int:
    ctx.counters[-code if code < 0 else 0] += 1
    return code


@nrt_free_inline
def _push(ctx: Ctx, kind: int, slot: int) -> bool:
    n = ctx.clock[CLK_OUT_N]
    if n >= ctx.outbox.shape[0]:
        return False
    ctx.outbox[n, OUT_KIND] = kind
    ctx.outbox[n, OUT_SLOT] = slot
    ctx.clock[CLK_OUT_N] = n + 1
    return True


@nrt_free
def _free_slot(ctx: Ctx) -> int:
    """Return a slot that is free or holds a reported terminal order, or -1."""
    orders = ctx.orders
    n = orders.shape[0]
    start = ctx.clock[CLK_SEQ] % n
    for k in range(n):
        i = (start + k) % n
        st = orders[i]["status"]
        if st == ST_FREE or (not is_live(st) and orders[i]["req"] == REQ_NONE):
            return int(i)
    return -1


@nrt_free
def _open_lots(ctx: Ctx, asset: int, side: int) -> int:
    return int(ctx.open_state[asset, OP_BUY_LOTS if side == BUY else OP_SELL_LOTS])


# --- actions ----------------------------------------------------------------------------------
@nrt_free
def submit(
    ctx: Ctx, asset: int, side: int, px: int, qty: int, tif: int, otype: int, client_id: int
) -> int:
    """Submit an order; return its slot (>= 0) or a negative code.

    ``px`` is the limit price in ticks (ignored for ``OT_MARKET``), ``qty`` the size in
    lots, ``tif`` one of ``TIF_*``, ``client_id`` a strategy id (-1 for none) that must
    be unique among live orders.
    """
    n_assets = ctx.instr.shape[0]
    if asset < 0 or asset >= n_assets:
        return _result(ctx, E_BAD_ASSET)
    if side != BUY and side != SELL:
        return _result(ctx, E_BAD_SIDE)
    if qty <= 0:
        return _result(ctx, E_BAD_QTY)
    if otype != OT_LIMIT and otype != OT_MARKET:
        return _result(ctx, E_BAD_TIF)
    if tif < TIF_GTC or tif > TIF_FOK:
        return _result(ctx, E_BAD_TIF)
    is_market = otype == OT_MARKET
    if not is_market and px <= 0:
        return _result(ctx, E_BAD_PRICE)
    if is_market:
        px = 0
    if client_id != -1 and find_client_id(ctx, client_id) >= 0:
        return _result(ctx, E_DUPLICATE_CLIENT_ID)
    t = ctx.clock[CLK_NOW]
    code = check_new(
        ctx.limits,
        ctx.risk,
        ctx.instr,
        asset,
        side,
        px,
        qty,
        is_market,
        mid_ticks2(ctx, asset),
        ctx.position[asset],
        ctx.open_state[asset, OP_BUY_LOTS],
        ctx.open_state[asset, OP_SELL_LOTS],
        ctx.open_state[asset, OP_COUNT],
        t,
    )
    if code != OK:
        deny(ctx.risk, code)
        return _result(ctx, code)
    slot = _free_slot(ctx)
    if slot < 0:
        return _result(ctx, E_TOO_MANY_ORDERS)
    if not _push(ctx, REQ_NEW, slot):
        return _result(ctx, E_QUEUE_FULL)
    record_request(ctx.risk, asset, t)
    o = ctx.orders[slot]
    o["order_id"] = ctx.clock[CLK_NEXT_ID]
    ctx.clock[CLK_NEXT_ID] += 1
    ctx.clock[CLK_SEQ] += 1
    o["client_id"] = client_id
    o["asset"] = asset
    o["side"] = side
    o["px"] = px
    o["qty"] = qty
    o["leaves"] = qty
    o["filled"] = 0
    o["otype"] = otype
    o["tif"] = tif
    o["status"] = ST_PENDING
    o["req"] = REQ_NEW
    o["req_px"] = px
    o["req_qty"] = qty
    o["reason"] = 0
    o["submit_ts"] = t
    o["exch_ts"] = 0
    o["local_ts"] = t
    o["fill_notional"] = 0.0
    o["fee"] = 0.0
    ctx.open_state[asset, OP_COUNT] += 1
    ctx.open_state[asset, OP_BUY_LOTS if side == BUY else OP_SELL_LOTS] += qty
    _result(ctx, OK)
    return slot


@nrt_free
def submit_price(
    ctx: Ctx,
    asset: int,
    side: int,
    price: float,
    size: float,
    tif: int,
    otype: int,
    client_id: int,
) -> int:
    """Submit with a float price and size; off-grid values return ``E_OFF_GRID``."""
    if asset < 0 or asset >= ctx.instr.shape[0]:
        return _result(ctx, E_BAD_ASSET)
    px = 0
    if otype != OT_MARKET:
        if not price > 0.0:
            return _result(ctx, E_BAD_PRICE)
        px = price_to_ticks(ctx, asset, price)
        if px == E_OFF_GRID:
            return _result(ctx, E_OFF_GRID)
    if not size > 0.0:
        return _result(ctx, E_BAD_QTY)
    qty = size_to_lots(ctx, asset, size)
    if qty == E_OFF_GRID:
        return _result(ctx, E_OFF_GRID)
    return submit(ctx, asset, side, px, qty, tif, otype, client_id)


@nrt_free
def cancel(ctx: Ctx, slot: int) -> int:
    """Ask the venue to cancel the order in ``slot``."""
    if slot < 0 or slot >= ctx.orders.shape[0] or ctx.orders[slot]["status"] == ST_FREE:
        return _result(ctx, E_UNKNOWN_ORDER)
    o = ctx.orders[slot]
    if not is_live(o["status"]):
        return _result(ctx, E_NOT_OPEN)
    if o["req"] == REQ_CANCEL or o["req"] == REQ_MODIFY:
        return _result(ctx, E_ORDER_BUSY)
    if not _push(ctx, REQ_CANCEL, slot):
        return _result(ctx, E_QUEUE_FULL)
    o["req"] = REQ_CANCEL
    return _result(ctx, OK)


@nrt_free
def cancel_all(ctx: Ctx, asset: int) -> int:
    """Cancel every live order of ``asset`` (-1: of all assets); return how many were sent."""
    orders = ctx.orders
    sent = 0
    for i in range(orders.shape[0]):
        o = orders[i]
        if not is_live(o["status"]) or (asset >= 0 and o["asset"] != asset):
            continue
        if o["req"] == REQ_CANCEL or o["req"] == REQ_MODIFY:
            continue
        if cancel(ctx, i) == OK:
            sent += 1
    return sent


@nrt_free
def modify(ctx: Ctx, slot: int, px: int, qty: int) -> int:
    """Change an open order's price (ticks) and open size (lots).

    A price change or a larger size loses the queue place; a smaller size keeps it.
    """
    if slot < 0 or slot >= ctx.orders.shape[0] or ctx.orders[slot]["status"] == ST_FREE:
        return _result(ctx, E_UNKNOWN_ORDER)
    o = ctx.orders[slot]
    if o["status"] != ST_OPEN:
        return _result(ctx, E_NOT_OPEN)
    if o["req"] != REQ_NONE:
        return _result(ctx, E_ORDER_BUSY)
    if o["otype"] == OT_MARKET:
        return _result(ctx, E_NOT_OPEN)
    if qty <= 0:
        return _result(ctx, E_BAD_QTY)
    if px <= 0:
        return _result(ctx, E_BAD_PRICE)
    asset = o["asset"]
    side = o["side"]
    t = ctx.clock[CLK_NOW]
    code = check_modify(
        ctx.limits,
        ctx.risk,
        ctx.instr,
        asset,
        side,
        px,
        qty,
        o["leaves"],
        mid_ticks2(ctx, asset),
        ctx.position[asset],
        _open_lots(ctx, asset, BUY),
        _open_lots(ctx, asset, SELL),
        t,
    )
    if code != OK:
        deny(ctx.risk, code)
        return _result(ctx, code)
    if not _push(ctx, REQ_MODIFY, slot):
        return _result(ctx, E_QUEUE_FULL)
    record_request(ctx.risk, asset, t)
    o["req"] = REQ_MODIFY
    o["req_px"] = px
    o["req_qty"] = qty
    return _result(ctx, OK)


@nrt_free
def set_timer(ctx: Ctx, timer_id: int, at_ns: int, interval_ns: int) -> int:
    """Arm timer ``timer_id`` to fire at local time ``at_ns``, then every ``interval_ns``.

    ``interval_ns`` 0 makes it one-shot; ``at_ns`` < 0 disarms it.
    """
    if timer_id < 0 or timer_id >= ctx.timers.shape[0] or interval_ns < 0:
        return _result(ctx, E_BAD_TIMER)
    if at_ns < 0:
        ctx.timers[timer_id, 0] = np.iinfo(np.int64).max
        ctx.timers[timer_id, 1] = 0
        return OK
    ctx.timers[timer_id, 0] = max(at_ns, ctx.clock[CLK_NOW])
    ctx.timers[timer_id, 1] = interval_ns
    return OK

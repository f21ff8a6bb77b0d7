"""Per-event steps of a strategy in paper and live mode (numba; specialised per strategy).

The backtest loop (:mod:`hftlib.sim.backtest_loop`) merges the venue and the strategy in one
compiled pass. In paper and live mode the asyncio runner owns the order of events, so the
strategy side is cut into steps the host (:class:`hftlib.live.host.StrategyHost`) calls one
at a time: a market message, an order report, a timer. Each step does what the backtest loop
does for that event on the local timeline (same book update, same report application
through :mod:`hftlib.engine.apply`, same callbacks, same order and fill logs) and leaves the
strategy's requests in ``ctx.outbox`` for the host to send.

Like the backtest loop, this module is a template: :func:`hftlib.engine.codegen.engine_module`
replaces the strategy binding block with the strategy's callbacks so every step is cached
on disk (``@njit(cache=True)``) and a second process does not recompile. As written it runs
the no-op callbacks.

Steps return the number of requests now in ``ctx.outbox``; the host reads and clears them.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from hftlib.sim.backtest_loop import Loop, log_fill, log_order
from hftlib.sim.replay import RS_ACK, RS_DONE, RS_FILL, RS_MODIFIED, RS_REQ_REJECTED
from numba import njit

from hftlib.book.l2 import l2_apply
from hftlib.book.l3 import l3_apply
from hftlib.engine.actions import cancel_all
from hftlib.engine.apply import (
    apply_ack,
    apply_done,
    apply_fill,
    apply_modified,
    apply_request_rejected,
)
from hftlib.engine.context import (
    CLK_NOW,
    CLK_OUT_N,
    LT_FEED,
    OUT_KIND,
    OUT_SLOT,
    TR_EXCH_TS,
    TR_LOCAL_TS,
    TR_PX,
    TR_QTY,
    TR_SIDE,
    Ctx,
)
from hftlib.engine.noop import on_book, on_end, on_order, on_start, on_timer, on_trade
from hftlib.engine.types import BUY, REQ_NEW, SELL, ST_PENDING
from hftlib.jit import nrt_kernel
from hftlib.types import (
    F_BID,
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_FILL,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
)

# --- strategy binding: hftlib.engine.codegen puts the strategy's imports here -----------------
HAS_ON_BOOK = False
HAS_ON_TRADE = False
HAS_ON_ORDER = False
# --- end of strategy binding ------------------------------------------------------------------

CB_NONE: Final = 0
CB_BOOK: Final = 1
CB_TRADE: Final = 2

_MAX: Final = np.iinfo(np.int64).max


# Strategy code may allocate: each callback is entered through a trampoline compiled with
# reference counting (see the same trampolines in hftlib.sim.backtest_loop).
@nrt_kernel
def _cb_start(ctx: Ctx, state: Any) -> None:
    on_start(ctx, state)


@nrt_kernel
def _cb_book(ctx: Ctx, state: Any, asset: int) -> None:
    on_book(ctx, state, asset)


@nrt_kernel
def _cb_trade(ctx: Ctx, state: Any, asset: int) -> None:
    on_trade(ctx, state, asset)


@nrt_kernel
def _cb_order(ctx: Ctx, state: Any, slot: int) -> None:
    on_order(ctx, state, slot)


@nrt_kernel
def _cb_timer(ctx: Ctx, state: Any, timer_id: int) -> None:
    on_timer(ctx, state, timer_id)


@nrt_kernel
def _cb_end(ctx: Ctx, state: Any) -> None:
    on_end(ctx, state)


@njit(cache=True, inline="always")
def _log_new(lp: Loop, ctx: Ctx, first: int) -> None:
    """Log the new orders queued since outbox entry ``first`` (the backtest logs them on send)."""
    for k in range(first, ctx.clock[CLK_OUT_N]):
        slot = ctx.outbox[k, OUT_SLOT]
        if ctx.outbox[k, OUT_KIND] == REQ_NEW and ctx.orders[slot]["status"] == ST_PENDING:
            log_order(lp, ctx, slot)


@njit(cache=True)
def apply_local_row(lp: Loop, ctx: Ctx, row: Any, asset: int, tl: int) -> int:
    """Apply one market row to the strategy's view; return which callback it calls for.

    The local-timeline half of the backtest loop: L2 rows change ``ctx.book`` (whose L3
    orders live in ``lp.l3``), trades become ``ctx.trade[asset]``, top-of-book rows
    ``ctx.bbo[asset]``. ``CB_BOOK`` after the last row of a book message, ``CB_TRADE``
    after a trade, else ``CB_NONE``.
    """
    flags = row["flags"]
    kind = flags & KIND_MASK
    last = (flags & F_LAST) != 0
    if kind == K_DEPTH or kind == K_SNAPSHOT:
        l2_apply(ctx.book, asset, flags, row["px"], row["qty"])
    elif kind == K_TRADE:
        tr = ctx.trade[asset]
        tr[TR_LOCAL_TS] = tl
        tr[TR_EXCH_TS] = row["exch_ts"]
        tr[TR_PX] = row["px"]
        tr[TR_QTY] = row["qty"]
        tr[TR_SIDE] = BUY if (flags & F_BID) != 0 else SELL
        ctx.latency[asset, LT_FEED] = tl - row["exch_ts"]
        return CB_TRADE
    elif kind == K_BBO:
        col = 0 if (flags & F_BID) != 0 else 2
        ctx.bbo[asset, col] = row["px"]
        ctx.bbo[asset, col + 1] = row["qty"]
    elif kind == K_CLEAR:  # a whole side (with its L3 orders), or one side through a price
        if row["px"] == NO_PX:
            l3_apply(lp.l3, asset, flags, -1, NO_PX, 0)
        l2_apply(ctx.book, asset, flags, row["px"], 0)
    elif kind >= K_L3_ADD and kind <= K_L3_FILL:
        l3_apply(lp.l3, asset, flags, row["order_id"], row["px"], row["qty"])
    else:
        return CB_NONE
    if last:
        ctx.latency[asset, LT_FEED] = tl - row["exch_ts"]
        return CB_BOOK
    return CB_NONE


@njit(cache=True)
def start(lp: Loop, ctx: Ctx, state: Any, now: int) -> int:
    """Call ``on_start`` at local time ``now``."""
    ctx.clock[CLK_NOW] = now
    first = ctx.clock[CLK_OUT_N]
    _cb_start(ctx, state)
    _log_new(lp, ctx, first)
    return int(ctx.clock[CLK_OUT_N])


@njit(cache=True)
def feed(lp: Loop, ctx: Ctx, state: Any, rows: np.ndarray, asset: int) -> int:
    """Apply a market message's rows to asset ``asset`` and call the strategy after each.

    The local clock is each row's ``local_ts`` (never moved back: rows of different
    venues may arrive with slightly older stamps).
    """
    for i in range(rows.shape[0]):
        row = rows[i]
        tl = row["local_ts"]
        if tl > ctx.clock[CLK_NOW]:
            ctx.clock[CLK_NOW] = tl
        cb = apply_local_row(lp, ctx, row, asset, ctx.clock[CLK_NOW])
        if cb == CB_NONE:
            continue
        first = ctx.clock[CLK_OUT_N]
        if cb == CB_BOOK:
            if HAS_ON_BOOK:
                _cb_book(ctx, state, asset)
        elif HAS_ON_TRADE:
            _cb_trade(ctx, state, asset)
        _log_new(lp, ctx, first)
    return int(ctx.clock[CLK_OUT_N])


@njit(cache=True)
def report(
    lp: Loop,
    ctx: Ctx,
    state: Any,
    kind: int,
    slot: int,
    order_id: int,
    status: int,
    px: int,
    qty: int,
    fee: float,
    maker: int,
    exch_ts: int,
    local_ts: int,
    reason: int,
) -> int:
    """Apply one venue report (``RS_*`` kind) to the order in ``slot``; -1 if it changed nothing.

    The backtest's report delivery: ``RS_FILL`` books ``qty`` at ``px`` with ``fee``;
    ``RS_DONE`` ends the order with ``status``/``reason``; ``RS_MODIFIED`` sets price ``px``
    and open size ``qty``; ``RS_REQ_REJECTED`` clears the refused request ``status``
    (``REQ_CANCEL`` / ``REQ_MODIFY``). A changed order is logged and ``on_order`` called.
    """
    if local_ts > ctx.clock[CLK_NOW]:
        ctx.clock[CLK_NOW] = local_ts
    now = ctx.clock[CLK_NOW]
    changed = False
    if kind == RS_ACK:
        changed = apply_ack(ctx, slot, order_id, exch_ts, now)
    elif kind == RS_FILL:
        changed = apply_fill(ctx, slot, order_id, exch_ts, now, px, qty, fee)
        if changed:
            log_fill(lp, ctx, slot, exch_ts, px, qty, maker, fee)
    elif kind == RS_DONE:
        changed = apply_done(ctx, slot, order_id, status, reason, exch_ts, now)
    elif kind == RS_MODIFIED:
        changed = apply_modified(ctx, slot, order_id, px, qty, exch_ts, now)
    elif kind == RS_REQ_REJECTED:
        changed = apply_request_rejected(ctx, slot, order_id, status, reason, exch_ts, now)
    if not changed:
        return -1
    log_order(lp, ctx, slot)
    if HAS_ON_ORDER:
        first = ctx.clock[CLK_OUT_N]
        _cb_order(ctx, state, slot)
        _log_new(lp, ctx, first)
    return int(ctx.clock[CLK_OUT_N])


@njit(cache=True)
def fire_timer(lp: Loop, ctx: Ctx, state: Any, timer_id: int) -> int:
    """Fire timer ``timer_id`` at its time: re-arm it (or disarm a one-shot), call ``on_timer``."""
    t = ctx.timers[timer_id, 0]
    if t > ctx.clock[CLK_NOW]:
        ctx.clock[CLK_NOW] = t
    interval = ctx.timers[timer_id, 1]
    ctx.timers[timer_id, 0] = t + interval if interval > 0 else _MAX
    first = ctx.clock[CLK_OUT_N]
    _cb_timer(ctx, state, timer_id)
    _log_new(lp, ctx, first)
    return int(ctx.clock[CLK_OUT_N])


@njit(cache=True)
def cancel_asset(lp: Loop, ctx: Ctx, asset: int, now: int) -> int:
    """Queue a cancel for every live order of ``asset`` (-1: all assets) at ``now``."""
    if now > ctx.clock[CLK_NOW]:
        ctx.clock[CLK_NOW] = now
    cancel_all(ctx, asset)
    return int(ctx.clock[CLK_OUT_N])


@njit(cache=True)
def end(lp: Loop, ctx: Ctx, state: Any, now: int) -> int:
    """Call ``on_end`` at ``now``; requests it queues are dropped (the run is over)."""
    if now > ctx.clock[CLK_NOW]:
        ctx.clock[CLK_NOW] = now
    _cb_end(ctx, state)
    ctx.clock[CLK_OUT_N] = 0
    return 0

"""Apply a venue's order reports to a context (the host calls these; strategies do not).

The backtest loop calls them when a simulated response reaches the local timeline; a
paper or live runner calls them for decoded venue messages. Each checks that the slot
still holds ``order_id`` (a slot is reused only after its order ended and was reported)
and returns True if the report changed the order, so the host knows to log it and call
the strategy's ``on_order``.
"""

from __future__ import annotations

from typing import Any

from hftlib.engine.actions import is_live
from hftlib.engine.context import (
    AC_BALANCE,
    AC_FEES,
    AC_FILLS,
    AC_VOLUME,
    LT_ENTRY,
    LT_ROUND_TRIP,
    OP_BUY_LOTS,
    OP_COUNT,
    OP_SELL_LOTS,
    Ctx,
)
from hftlib.engine.contract import cash_flow, notional
from hftlib.engine.types import (
    BUY,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
)
from hftlib.jit import nrt_free, nrt_free_inline


@nrt_free_inline
def _mine(ctx: Ctx, slot: int, order_id: int) -> bool:
    return bool(0 <= slot < ctx.orders.shape[0] and ctx.orders[slot]["order_id"] == order_id)


@nrt_free_inline
def _live(ctx: Ctx, slot: int, order_id: int) -> bool:
    """Whether the slot holds ``order_id`` and that order may still trade."""
    return _mine(ctx, slot, order_id) and is_live(ctx.orders[slot]["status"])


@nrt_free_inline
def _stamp(o: Any, exch_ts: int, local_ts: int) -> None:
    """Record when the venue made a change and when the strategy learned of it."""
    o["exch_ts"] = exch_ts
    o["local_ts"] = local_ts


@nrt_free_inline
def _first_report(ctx: Ctx, slot: int, exch_ts: int, local_ts: int) -> None:
    """Record the order latency the first report of a new order shows."""
    o = ctx.orders[slot]
    asset = o["asset"]
    ctx.latency[asset, LT_ROUND_TRIP] = local_ts - o["submit_ts"]
    ctx.latency[asset, LT_ENTRY] = exch_ts - o["submit_ts"]


@nrt_free
def _close(ctx: Ctx, slot: int) -> None:
    """Take a live order's remaining size out of the open totals."""
    o = ctx.orders[slot]
    asset = o["asset"]
    ctx.open_state[asset, OP_COUNT] -= 1
    ctx.open_state[asset, OP_BUY_LOTS if o["side"] == BUY else OP_SELL_LOTS] -= o["leaves"]


@nrt_free_inline
def apply_ack(ctx: Ctx, slot: int, order_id: int, exch_ts: int, local_ts: int) -> bool:
    """The venue accepted a new order and it rests in the book."""
    if not _mine(ctx, slot, order_id):
        return False
    o = ctx.orders[slot]
    if o["status"] != ST_PENDING:
        return False
    o["status"] = ST_OPEN
    if o["req"] == REQ_NEW:
        o["req"] = REQ_NONE
    _stamp(o, exch_ts, local_ts)
    _first_report(ctx, slot, exch_ts, local_ts)
    return True


@nrt_free_inline
def apply_fill(
    ctx: Ctx,
    slot: int,
    order_id: int,
    exch_ts: int,
    local_ts: int,
    px: int,
    qty: int,
    fee: float,
) -> bool:
    """Book a fill of ``qty`` lots at ``px`` ticks paying ``fee`` (negative: rebate)."""
    if qty <= 0 or not _live(ctx, slot, order_id):
        return False
    o = ctx.orders[slot]
    qty = min(qty, o["leaves"])
    asset = o["asset"]
    side = o["side"]
    instr = ctx.instr[asset]
    if o["status"] == ST_PENDING:
        _first_report(ctx, slot, exch_ts, local_ts)
        o["status"] = ST_OPEN
        if o["req"] == REQ_NEW:
            o["req"] = REQ_NONE
    o["leaves"] -= qty
    o["filled"] += qty
    o["fill_notional"] += float(px) * float(qty)
    o["fee"] += fee
    _stamp(o, exch_ts, local_ts)
    ctx.open_state[asset, OP_BUY_LOTS if side == BUY else OP_SELL_LOTS] -= qty
    ctx.position[asset] += side * qty
    acct = ctx.account[asset]
    acct[AC_BALANCE] += cash_flow(instr, side, px, qty) - fee
    acct[AC_FEES] += fee
    acct[AC_VOLUME] += notional(instr, px, qty)
    acct[AC_FILLS] += 1.0
    if o["leaves"] == 0:
        o["status"] = ST_FILLED
        o["req"] = REQ_NONE
        ctx.open_state[asset, OP_COUNT] -= 1
    return True


@nrt_free_inline
def apply_done(
    ctx: Ctx, slot: int, order_id: int, status: int, reason: int, exch_ts: int, local_ts: int
) -> bool:
    """The order ended without (further) fills: cancelled, rejected or expired."""
    if not _live(ctx, slot, order_id):
        return False
    o = ctx.orders[slot]
    if o["status"] == ST_PENDING:
        _first_report(ctx, slot, exch_ts, local_ts)
    _close(ctx, slot)
    o["leaves"] = 0
    o["status"] = status
    o["reason"] = reason
    o["req"] = REQ_NONE
    _stamp(o, exch_ts, local_ts)
    return True


@nrt_free_inline
def apply_modified(
    ctx: Ctx, slot: int, order_id: int, px: int, leaves: int, exch_ts: int, local_ts: int
) -> bool:
    """The venue changed an open order's price and open size."""
    if not _live(ctx, slot, order_id):
        return False
    o = ctx.orders[slot]
    asset = o["asset"]
    ctx.open_state[asset, OP_BUY_LOTS if o["side"] == BUY else OP_SELL_LOTS] += leaves - o["leaves"]
    o["qty"] = o["filled"] + leaves
    o["leaves"] = leaves
    o["px"] = px
    if o["req"] == REQ_MODIFY:
        o["req"] = REQ_NONE
    o["status"] = ST_OPEN
    _stamp(o, exch_ts, local_ts)
    return True


@nrt_free_inline
def apply_request_rejected(
    ctx: Ctx, slot: int, order_id: int, req: int, reason: int, exch_ts: int, local_ts: int
) -> bool:
    """The venue refused a cancel or modify (e.g. the order had already ended)."""
    if not _mine(ctx, slot, order_id):
        return False
    o = ctx.orders[slot]
    if o["req"] == req and (req == REQ_CANCEL or req == REQ_MODIFY):
        o["req"] = REQ_NONE
    o["reason"] = reason
    _stamp(o, exch_ts, local_ts)
    return True

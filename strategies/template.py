"""Template strategy: copy this file to start your own (see docs/writing-a-strategy.md).

What it does
------------
Every ``interval_ms`` it keeps one post-only (GTX) bid one tick above the best bid and
one post-only ask one tick below the best ask (at the touch when the spread is a single
tick, since improving it would cross), ``qty`` base units each. A side whose fill could take
``|position|`` over ``max_position`` is not quoted. A quote whose price is stale is
cancelled, and a new one goes out at the next interval once the cancel is confirmed, so
there is never more than one order per side.

Parameters
----------
interval_ms : int
    Re-quote period, milliseconds.
qty : float
    Size of each quote, base units (a multiple of the instrument's lot).
max_position : float
    Largest absolute position, base units.
asset : int
    Index of the instrument to quote (the order of the data files).

Run it: ``hftlib.backtest("template", ["btcusdt.npy"], params={"qty": 0.01})`` or
``hft backtest -s template -d btcusdt.npy -p qty=0.01``; as a copy,
``hftlib.backtest("my_strategy.py", ...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

# Queries and actions: the only way a strategy reads the context or acts on it.
from hftlib.engine.actions import (
    best_ask,
    best_bid,
    cancel,
    is_live,
    now,
    position,
    set_timer,
    submit,
)
from hftlib.engine.context import Ctx
from hftlib.engine.strategy import StrategyError
from hftlib.engine.types import BUY, OT_LIMIT, SELL, TIF_GTX
from hftlib.instrument import Instrument
from hftlib.types import NO_PX

# Every parameter the strategy takes: name -> (type, default, help). The engine checks the
# user's values against this before the run (unknown names and wrong types are errors),
# and config files may only use these names.
PARAMS = {
    "interval_ms": (int, 100, "re-quote period, milliseconds"),
    "qty": (float, 0.01, "size of each quote, base units (a multiple of the lot)"),
    "max_position": (float, 0.05, "largest absolute position, base units"),
    "asset": (int, 0, "index of the instrument to quote"),
}

# The state is a plain int64 array; these names index it. Module-level integers are
# compile-time constants inside @njit code, so this costs nothing at run time.
S_INTERVAL = 0  # re-quote period, ns
S_QTY = 1  # quote size, lots
S_MAX = 2  # position limit, lots
S_ASSET = 3
S_BID_SLOT = 4  # order table slot of our bid, -1 when none
S_BID_ID = 5  # its order id (a slot is reused once its order ended)
S_ASK_SLOT = 6
S_ASK_ID = 7
N_STATE = 8

T_QUOTE = 0  # timer id


def make_state(params: dict[str, Any], instruments: list[Instrument]) -> np.ndarray:
    """Return the state array from the checked parameters (plain Python, runs once).

    Convert everything to engine units here (ns, ticks, lots) so the callbacks only do
    integer arithmetic, and reject bad values with StrategyError before the run starts.
    """
    asset = params["asset"]
    if not 0 <= asset < len(instruments):
        raise StrategyError(f"template: asset {asset} out of range (0..{len(instruments) - 1})")
    if params["interval_ms"] <= 0:
        raise StrategyError("template: interval_ms must be > 0")
    lot = instruments[asset].lot_size
    qty_lots = params["qty"] / lot
    max_lots = params["max_position"] / lot
    if params["qty"] <= 0 or abs(qty_lots - round(qty_lots)) > 1e-6:
        raise StrategyError(f"template: qty {params['qty']} is not a positive multiple of {lot}")
    if max_lots < qty_lots:
        raise StrategyError("template: max_position must be at least qty")
    state = np.full(N_STATE, -1, dtype=np.int64)
    state[S_INTERVAL] = params["interval_ms"] * 1_000_000
    state[S_QTY] = round(qty_lots)
    state[S_MAX] = int(max_lots + 1e-9)  # round down: a limit only gets stricter
    state[S_ASSET] = asset
    return state


@njit(cache=True)
def _keep(ctx: Ctx, state: np.ndarray, slot_col: int, side: int, px: int, allowed: bool) -> None:
    """Keep at most one order on ``side`` resting at ``px`` (helpers need @njit too)."""
    slot = state[slot_col]
    # Is our order still live? Check the order id too: the engine reuses ended slots.
    mine = slot >= 0 and ctx.orders[slot]["order_id"] == state[slot_col + 1]
    if mine and is_live(ctx.orders[slot]["status"]):
        if ctx.orders[slot]["px"] != px or not allowed:
            # cancel() returns a code (E_ORDER_BUSY while a cancel is in flight); it never
            # raises. The new quote goes out after the venue has confirmed the cancel.
            cancel(ctx, slot)
        return
    state[slot_col] = -1
    if not allowed:
        return
    # submit() returns the order's slot (>= 0) or a negative code (E_* bad input, R_* a
    # risk denial); the request reaches the venue after the entry latency.
    new = submit(ctx, state[S_ASSET], side, px, state[S_QTY], TIF_GTX, OT_LIMIT, -1)
    if new >= 0:
        state[slot_col] = new
        state[slot_col + 1] = ctx.orders[new]["order_id"]


# Callbacks: each is @njit(cache=True) and has exactly the engine's signature.
@njit(cache=True)
def on_start(ctx: Ctx, state: np.ndarray) -> None:
    """Arm a repeating timer (called once, at the first event)."""
    set_timer(ctx, T_QUOTE, now(ctx) + state[S_INTERVAL], state[S_INTERVAL])


@njit(cache=True)
def on_timer(ctx: Ctx, state: np.ndarray, timer_id: int) -> None:
    """Quote one tick inside the touch on both sides, within the position cap."""
    asset = state[S_ASSET]
    bid = best_bid(ctx, asset)
    ask = best_ask(ctx, asset)
    if bid == NO_PX or ask == NO_PX:  # "empty" is a sentinel, never None or NaN
        return
    # Improve each side by a tick, but never cross: a post-only order that would take
    # liquidity is rejected by the venue.
    my_bid = bid + 1 if ask - bid > 1 else bid
    my_ask = ask - 1 if ask - bid > 1 else ask
    if my_bid >= my_ask:  # a spread of two ticks: both would meet in the middle
        my_bid, my_ask = bid, ask
    pos = position(ctx, asset)  # lots, positive long (changes when a fill is reported)
    qty = state[S_QTY]
    _keep(ctx, state, S_BID_SLOT, BUY, my_bid, pos + qty <= state[S_MAX])
    _keep(ctx, state, S_ASK_SLOT, SELL, my_ask, -(pos - qty) <= state[S_MAX])

"""Quote both sides on a clock: the simplest market maker, and the benchmark's workload.

Every ``interval_ms`` it cancels its live orders and posts one post-only (GTX) bid at
``floor(mid - offset_ticks)`` and one post-only ask at ``ceil(mid + offset_ticks)`` (in
ticks), ``qty`` each, skipping a side that would exceed ``max_position`` and quoting
nothing while either side of the book is empty. The first quotes go out one interval
after the first event.

It has no view of the market beyond the mid: a baseline to compare real strategies with,
and an exact, engine-independent workload for speed and fidelity benchmarks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from hftlib.engine.actions import (
    cancel_all,
    mid_ticks2,
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

PARAMS = {
    "interval_ms": (int, 100, "re-quote period in milliseconds"),
    "offset_ticks": (int, 2, "distance of each quote from the mid, in ticks"),
    "qty": (float, 0.01, "size of each quote in base units (a multiple of the lot size)"),
    "max_position": (float, 0.0, "stop quoting the side that would exceed it (0 = no limit)"),
    "asset": (int, 0, "index of the instrument to quote"),
}

S_INTERVAL = 0
S_OFFSET = 1
S_QTY = 2
S_MAX_POS = 3
S_ASSET = 4


def make_state(params: dict[str, Any], instruments: list[Instrument]) -> np.ndarray:
    """Return the int64 state: interval (ns), offset (ticks), size and limit (lots), asset."""
    asset = params["asset"]
    if not 0 <= asset < len(instruments):
        raise StrategyError(f"quote_mm: asset {asset} out of range (0..{len(instruments) - 1})")
    if params["interval_ms"] <= 0 or params["offset_ticks"] < 0:
        raise StrategyError("quote_mm: interval_ms must be > 0 and offset_ticks >= 0")
    lot = instruments[asset].lot_size
    lots = params["qty"] / lot
    if params["qty"] <= 0 or abs(lots - round(lots)) > 1e-6:
        raise StrategyError(f"quote_mm: qty {params['qty']} is not a positive multiple of {lot}")
    limit = params["max_position"] / lot
    state = np.zeros(5, dtype=np.int64)
    state[S_INTERVAL] = params["interval_ms"] * 1_000_000
    state[S_OFFSET] = params["offset_ticks"]
    state[S_QTY] = round(lots)
    state[S_MAX_POS] = round(limit) if limit > 0 else np.iinfo(np.int64).max
    state[S_ASSET] = asset
    return state


@njit(cache=True)
def on_start(ctx: Ctx, state: np.ndarray) -> None:
    """Arm the re-quote timer."""
    set_timer(ctx, 0, now(ctx) + state[S_INTERVAL], state[S_INTERVAL])


@njit(cache=True)
def on_timer(ctx: Ctx, state: np.ndarray, timer_id: int) -> None:
    """Cancel everything and quote around the mid."""
    asset = state[S_ASSET]
    cancel_all(ctx, asset)
    m2 = mid_ticks2(ctx, asset)
    if m2 == NO_PX:
        return
    off2 = 2 * state[S_OFFSET]
    bid = (m2 - off2) // 2
    ask = -((-(m2 + off2)) // 2)
    qty = state[S_QTY]
    pos = position(ctx, asset)
    if pos + qty <= state[S_MAX_POS]:
        submit(ctx, asset, BUY, bid, qty, TIF_GTX, OT_LIMIT, -1)
    if -(pos - qty) <= state[S_MAX_POS]:
        submit(ctx, asset, SELL, ask, qty, TIF_GTX, OT_LIMIT, -1)

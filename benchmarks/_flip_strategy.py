"""A strategy that acts on every book message: the workload of ``live_host_overhead.py``.

With no live order it posts a post-only bid at the best bid; with one resting it cancels it.
Every book message therefore gives exactly one request.
"""

from __future__ import annotations

from typing import Any

from numba import njit

from hftlib.engine.actions import best_bid, cancel, is_live, submit
from hftlib.engine.context import Ctx
from hftlib.engine.types import BUY, OT_LIMIT, REQ_NONE, ST_OPEN, TIF_GTX
from hftlib.types import NO_PX


@njit(cache=True)
def on_book(ctx: Ctx, state: Any, asset: int) -> None:
    """Post a bid when none is live, cancel it when it rests."""
    slot = int(state[0])
    if slot >= 0 and is_live(ctx.orders[slot]["status"]):
        if ctx.orders[slot]["status"] == ST_OPEN and ctx.orders[slot]["req"] == REQ_NONE:
            cancel(ctx, slot)
        return
    bid = best_bid(ctx, asset)
    if bid != NO_PX:
        state[0] = submit(ctx, asset, BUY, bid, 1, TIF_GTX, OT_LIMIT, -1)


def make_state(params: dict[str, Any], instruments: list[Any]) -> Any:
    """Return the slot of the live order (-1: none)."""
    import numpy as np

    return np.full(1, -1.0)

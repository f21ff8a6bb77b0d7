"""Symmetric grid: resting buys below and sells above a slowly moving reference price.

Model
-----
The reference price is an exponentially weighted average of the mid, sampled every
``update_ms``, whose old values halve every ``half_life_s`` seconds. The grid is centred
on it: level ``i`` (1 .. ``levels``) is a post-only (GTX) buy at ``centre - i * spacing``
and a post-only sell at ``centre + i * spacing``, ``order_qty`` base units each. The
spacing is ``spacing_ticks`` ticks, or, when that is 0, ``spacing_bps`` basis points of
the centre price rounded to whole ticks (at least one); it is fixed at each re-centring.

The centre (a tick) follows the reference only when they drift more than
``recenter_spacing`` spacings apart: then every live order is moved to its level around
the new centre. Between re-centrings the grid stands still, so price swings through it
buy low and sell high; a filled level is placed again at the next update. Levels at or
through the opposite touch are left out (they would be rejected as post-only).

Limits
------
Levels are filled nearest first, and only as many buys as fit in
``max_position - position`` and as many sells as fit in ``max_position + position``
(orders of ``order_qty``); levels beyond that are cancelled. A new order goes out only if
the position plus every live order on its side (including ones being cancelled) plus the
new one stays within ``max_position``: even if all of them filled, the limit holds.

Parameters
----------
asset : int
    Index of the instrument to trade. Default 0.
levels : int
    Grid levels on each side, >= 1. Default 5.
spacing_ticks : int
    Distance between levels, ticks; 0 = use ``spacing_bps``. Default 0.
spacing_bps : float
    Distance between levels, basis points of the centre price (when ``spacing_ticks`` is
    0). Default 2.
order_qty : float
    Size of each level's order, base units (a multiple of the lot). Default 0.001.
max_position : float
    Largest absolute position, base units. Default 0.01.
half_life_s : float
    Half-life of the reference price's EWMA of the mid, seconds. Default 30.
recenter_spacing : float
    Re-centre when the reference is more than this many spacings from the centre.
    Default 1.
update_ms : int
    Period of the reference update and of the grid upkeep, milliseconds. Default 100.

State
-----
A tuple ``(grid, orders)``: ``grid`` one :data:`GRID_DTYPE` record (configuration,
reference, centre and counters), ``orders`` int64 ``[2, levels, 2]``: for the buy (0) and
sell (1) side and each level, the order's slot and order id (-1 when none).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hftlib.strategies._checks import Checks
from hftlib.strategies._models import half_life_alpha
from numba import njit

from hftlib.engine.actions import (
    best_ask,
    best_bid,
    cancel,
    is_live,
    mid_ticks2,
    modify,
    now,
    position,
    set_timer,
    submit,
)
from hftlib.engine.context import OP_BUY_LOTS, OP_SELL_LOTS, Ctx
from hftlib.engine.types import BUY, OK, OT_LIMIT, REQ_NONE, SELL, ST_OPEN, TIF_GTX
from hftlib.instrument import Instrument
from hftlib.types import NO_PX

PARAMS = {
    "asset": (int, 0, "index of the instrument to trade"),
    "levels": (int, 5, "grid levels on each side"),
    "spacing_ticks": (int, 0, "distance between levels, ticks (0 = use spacing_bps)"),
    "spacing_bps": (float, 2.0, "distance between levels, basis points of the centre price"),
    "order_qty": (float, 0.001, "size of each level's order, base units"),
    "max_position": (float, 0.01, "largest absolute position, base units"),
    "half_life_s": (float, 30.0, "half-life of the reference price's EWMA of the mid, seconds"),
    "recenter_spacing": (float, 1.0, "re-centre when the reference moved this many spacings"),
    "update_ms": (int, 100, "period of the reference update and grid upkeep, milliseconds"),
}

T_UPDATE = 0

GRID_DTYPE = np.dtype(
    [
        ("asset", "<i8"),
        ("levels", "<i8"),
        ("spacing_ticks", "<i8"),  # 0: from spacing_bps
        ("spacing_bps", "<f8"),
        ("order_lots", "<i8"),
        ("max_lots", "<i8"),
        ("alpha", "<f8"),  # EWMA weight of a new mid sample
        ("recenter", "<f8"),  # in spacings
        ("update_ns", "<i8"),
        ("ref", "<f8"),  # reference price, ticks (NaN before the first mid)
        ("centre", "<i8"),  # grid centre, ticks (NO_PX before the first mid)
        ("spacing", "<i8"),  # current spacing, ticks
        ("n_recenters", "<i8"),
        ("n_submits", "<i8"),
        ("n_modifies", "<i8"),
        ("n_cancels", "<i8"),
        ("n_denied", "<i8"),
    ],
    align=True,
)
"""Configuration, reference, centre and counters of the grid (one record)."""


def make_state(params: dict[str, Any], instruments: list[Instrument]) -> tuple[np.ndarray, ...]:
    """Return ``(grid, orders)`` from checked parameters (see the module doc)."""
    c = Checks("grid", params, instruments)
    asset = c.asset()
    c.require(params["levels"] >= 1, "levels", ">= 1")
    c.require(params["spacing_ticks"] >= 0, "spacing_ticks", ">= 0")
    if params["spacing_ticks"] == 0:
        c.require(params["spacing_bps"] > 0.0, "spacing_bps", "> 0 when spacing_ticks is 0")
    order_lots = c.lots("order_qty", asset)
    max_lots = c.lots("max_position", asset)
    c.require(params["half_life_s"] > 0.0, "half_life_s", "> 0")
    c.require(params["recenter_spacing"] > 0.0, "recenter_spacing", "> 0")
    c.require(params["update_ms"] >= 1, "update_ms", ">= 1")
    c.done()
    grid = np.zeros(1, dtype=GRID_DTYPE)
    g = grid[0]
    g["asset"] = asset
    g["levels"] = params["levels"]
    g["spacing_ticks"] = params["spacing_ticks"]
    g["spacing_bps"] = params["spacing_bps"]
    g["order_lots"] = order_lots
    g["max_lots"] = max_lots
    g["alpha"] = half_life_alpha(params["update_ms"] / 1e3, params["half_life_s"])
    g["recenter"] = params["recenter_spacing"]
    g["update_ns"] = params["update_ms"] * 1_000_000
    g["ref"] = math.nan
    g["centre"] = NO_PX
    orders = np.full((2, params["levels"], 2), -1, dtype=np.int64)
    return grid, orders


@njit(cache=True)
def spacing_for(centre: int, spacing_ticks: int, spacing_bps: float) -> int:
    """Return the level spacing in ticks around ``centre`` (ticks): fixed, or bps of it."""
    if spacing_ticks > 0:
        return spacing_ticks
    return max(1, int(round(centre * spacing_bps * 1e-4)))


@njit(cache=True)
def level_price(centre: int, spacing: int, side_index: int, level: int) -> int:
    """Return the price (ticks) of ``level`` (0-based) on the buy (0) or sell (1) side."""
    if side_index == 0:
        return centre - (level + 1) * spacing
    return centre + (level + 1) * spacing


@njit(cache=True)
def _keep_level(ctx: Ctx, state: Any, side_index: int, level: int, px: int, wanted: bool) -> None:
    """Keep one order resting at ``px`` for this level, or none when not ``wanted``."""
    g = state[0][0]
    orders = state[1]
    slot = orders[side_index, level, 0]
    if slot >= 0 and ctx.orders[slot]["order_id"] == orders[side_index, level, 1]:
        o = ctx.orders[slot]
        if is_live(o["status"]):
            if o["status"] != ST_OPEN or o["req"] != REQ_NONE:
                return  # in flight: look again at the next update
            if not wanted:
                if cancel(ctx, slot) == OK:
                    g["n_cancels"] += 1
            elif o["px"] != px:
                if modify(ctx, slot, px, o["leaves"]) == OK:
                    g["n_modifies"] += 1
                else:
                    g["n_denied"] += 1
            return
    orders[side_index, level, 0] = -1
    orders[side_index, level, 1] = -1
    if not wanted or px < 1:
        return
    # worst case counts every live order of the side, including ones being cancelled
    side = BUY if side_index == 0 else SELL
    open_lots = ctx.open_state[g["asset"], OP_BUY_LOTS if side == BUY else OP_SELL_LOTS]
    if side * position(ctx, g["asset"]) + open_lots + g["order_lots"] > g["max_lots"]:
        return
    new = submit(ctx, g["asset"], side, px, g["order_lots"], TIF_GTX, OT_LIMIT, -1)
    if new >= 0:
        orders[side_index, level, 0] = new
        orders[side_index, level, 1] = ctx.orders[new]["order_id"]
        g["n_submits"] += 1
    else:
        g["n_denied"] += 1


@njit(cache=True)
def _update(ctx: Ctx, state: Any) -> None:
    """Fold the mid into the reference, re-centre if it drifted, and upkeep every level."""
    g = state[0][0]
    asset = g["asset"]
    m2 = mid_ticks2(ctx, asset)
    if m2 == NO_PX:
        return
    mid = 0.5 * m2
    if g["centre"] == NO_PX:
        g["ref"] = mid
        g["centre"] = int(round(mid))
        g["spacing"] = spacing_for(g["centre"], g["spacing_ticks"], g["spacing_bps"])
    else:
        g["ref"] += g["alpha"] * (mid - g["ref"])
        if abs(g["ref"] - g["centre"]) > g["recenter"] * g["spacing"]:
            g["centre"] = int(round(g["ref"]))
            g["spacing"] = spacing_for(g["centre"], g["spacing_ticks"], g["spacing_bps"])
            g["n_recenters"] += 1
    bid = best_bid(ctx, asset)
    ask = best_ask(ctx, asset)
    pos = position(ctx, asset)
    # nearest levels first, as many as the position limit allows in the worst case
    room_buy = (g["max_lots"] - pos) // g["order_lots"]
    room_sell = (g["max_lots"] + pos) // g["order_lots"]
    n_buy = 0
    n_sell = 0
    for level in range(g["levels"]):
        px = level_price(g["centre"], g["spacing"], 0, level)
        wanted = px < ask and n_buy < room_buy
        if wanted:
            n_buy += 1
        _keep_level(ctx, state, 0, level, px, wanted)
        px = level_price(g["centre"], g["spacing"], 1, level)
        wanted = px > bid and n_sell < room_sell
        if wanted:
            n_sell += 1
        _keep_level(ctx, state, 1, level, px, wanted)


@njit(cache=True)
def on_start(ctx: Ctx, state: Any) -> None:
    """Arm the update clock."""
    g = state[0][0]
    set_timer(ctx, T_UPDATE, now(ctx) + g["update_ns"], g["update_ns"])


@njit(cache=True)
def on_timer(ctx: Ctx, state: Any, timer_id: int) -> None:
    """Update the reference and the grid."""
    if timer_id == T_UPDATE:
        _update(ctx, state)

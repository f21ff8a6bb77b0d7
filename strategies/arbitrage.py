"""Cross-venue taker arbitrage between two instruments of the same underlying.

Model
-----
Assets 0 and 1 are the same underlying on two venues or in two forms, e.g. Binance ETHUSDT
spot and the Binance USD-M ETHUSDT perpetual; both must be linear (sizes in the same base
units, P&L in the quote currency), their tick and lot sizes may differ. After every book
update of either asset the strategy looks at both directions, *sell* asset ``s`` at its
best bid ``B`` and *buy* asset ``b`` at its best ask ``A`` (prices in price units):

- gross edge ``(B - A) / ref`` in bps, with ``ref = (B + A) / 2``;
- net edge ``(B (1 - f_s) - A (1 + f_b)) / ref`` in bps minus ``latency_buffer_bps``, where
  ``f_s`` and ``f_b`` are the two instruments' taker fee rates from the context (the
  instrument schedule, or the backtest's fee override).

It takes a direction when the net edge exceeds ``threshold_bps``: an immediate-or-cancel
sell at ``B`` on ``s`` and an IOC buy at ``A`` on ``b``, both sent at once, of the same size
in base units: ``order_qty``, or less when either touch shows less or a position limit
leaves less room, in multiples of the coarser lot (one instrument's lot must be a multiple
of the other's). If both legs fill the profit per unit is at least the net edge plus the
buffer, since an IOC limit never fills worse than its limit.

Hedging
-------
The strategy keeps ``position_0 + position_1 == 0`` (in base units). When both legs have
ended and one filled less than the other, the difference is bought or sold with a market
IOC order on the asset of the leg that fell short (the leg is retried at any price); a
hedge that does not fill is sent again after ``cooldown_ms``. No new legs go out while a
hedge is pending or the positions are unbalanced.

Limits
------
``max_position`` (base units) bounds ``|position|`` of each asset: the size of a new pair is
cut to what both assets' limits allow, and a pair with no room is not sent (counted as
``n_blocked``). In a backtest our fills do not move the recorded book, so an edge stays
visible after we took it; ``cooldown_ms`` (from one pair to the next) sets how often the
same edge may be taken.

Parameters
----------
order_qty : float
    Size of each leg, base units (a multiple of both instruments' lots). Default 0.05.
max_position : float
    Largest absolute position of each asset, base units. Default 0.5.
threshold_bps : float
    Least net edge (after both taker fees and the buffer) to trade, bps. Default 0.
latency_buffer_bps : float
    Edge set aside for prices moving while the orders travel, bps. Default 1.
cooldown_ms : int
    Least time from one pair to the next, and before a missed hedge is retried,
    milliseconds. Default 100.

State
-----
A tuple ``(arb, legs, log)``: ``arb`` one :data:`ARB_DTYPE` record (configuration, phase and
counters: ``n_evals`` evaluations, ``n_seen`` crossed books (gross edge > 0), ``n_edge``
net edge above the threshold, ``n_taken`` pairs sent, ``n_blocked`` / ``n_busy`` edges
skipped for a limit / while busy or cooling down, ``n_hedges`` hedges sent,
``n_denied`` / ``n_hedge_denied`` legs / hedges the risk checks refused), ``legs`` int64
``[3, 2]`` (slot and order id of the sell leg, the buy leg and the hedge) and ``log``
float64 ``[LOG_ROWS, N_LOG]``, one row per pair sent (columns ``LOG_*``: time, direction,
both prices in ticks, gross and net edge in bps, size in base units). Orders carry client
ids ``3 n`` (sell leg), ``3 n + 1`` (buy leg) and ``3 n + 2`` (hedges) for pair ``n``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hftlib.strategies._checks import Checks
from numba import njit

from hftlib.engine.actions import best_ask, best_bid, is_live, now, position, qty_at, submit
from hftlib.engine.context import Ctx
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    INSTR_LOT,
    INSTR_MULT,
    INSTR_TAKER_FEE,
    INSTR_TICK,
    OT_LIMIT,
    OT_MARKET,
    SELL,
    TIF_IOC,
)
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.types import NO_PX

PARAMS = {
    "order_qty": (float, 0.05, "size of each leg, base units (a multiple of both lots)"),
    "max_position": (float, 0.5, "largest absolute position of each asset, base units"),
    "threshold_bps": (float, 0.0, "least net edge (after fees and buffer) to trade, bps"),
    "latency_buffer_bps": (float, 1.0, "edge set aside for prices moving in flight, bps"),
    "cooldown_ms": (int, 100, "least time from one pair (or failed hedge) to the next, ms"),
}

PH_IDLE = 0
PH_LEGS = 1
"""Both legs sent, waiting for them to end."""
PH_HEDGE = 2
"""A hedge is in flight."""

LEG_SELL = 0
LEG_BUY = 1
LEG_HEDGE = 2

LOG_ROWS = 4096
"""Pairs the log keeps (later pairs are counted but not logged)."""
LOG_TS = 0
LOG_DIR = 1
"""0: sell asset 0 / buy asset 1; 1: sell asset 1 / buy asset 0."""
LOG_SELL_PX = 2
LOG_BUY_PX = 3
LOG_GROSS_BPS = 4
LOG_NET_BPS = 5
LOG_QTY = 6
N_LOG = 7

ARB_DTYPE = np.dtype(
    [
        ("unit0", "<i8"),  # lots of asset 0 in one trading unit (the coarser lot)
        ("unit1", "<i8"),
        ("order_units", "<i8"),
        ("max0", "<i8"),  # position limits, lots
        ("max1", "<i8"),
        ("threshold_bps", "<f8"),
        ("buffer_bps", "<f8"),
        ("cooldown_ns", "<i8"),
        ("phase", "<i8"),
        ("pair", "<i8"),  # pairs sent so far (the next pair's number)
        ("next_ns", "<i8"),  # earliest time of the next pair
        ("hedge_ns", "<i8"),  # earliest time of the next hedge
        ("hedge_asset", "<i8"),  # asset of the leg that fell short (-1: none)
        ("n_evals", "<i8"),
        ("n_seen", "<i8"),
        ("n_edge", "<i8"),
        ("n_taken", "<i8"),
        ("n_blocked", "<i8"),
        ("n_busy", "<i8"),
        ("n_denied", "<i8"),
        ("n_hedges", "<i8"),
        ("n_hedge_denied", "<i8"),
        ("best_net_bps", "<f8"),  # best net edge seen
    ],
    align=True,
)
"""Configuration, phase and counters of the arbitrage (one record)."""


def make_state(params: dict[str, Any], instruments: list[Instrument]) -> tuple[np.ndarray, ...]:
    """Return ``(arb, legs, log)`` from checked parameters (see the module doc)."""
    c = Checks("arbitrage", params, instruments)
    if len(instruments) < 2:
        c.fail(f"needs two instruments (assets 0 and 1), the run has {len(instruments)}")
        c.done()
    for i in (0, 1):
        if instruments[i].kind == InstrumentKind.INVERSE_PERPETUAL:
            c.fail(f"asset {i} ({instruments[i].key}) is inverse; both legs must be linear")
    sizes = [inst.lot_size * inst.contract_multiplier for inst in instruments[:2]]
    coarse = max(sizes)
    units = [coarse / size for size in sizes]
    if any(abs(u - round(u)) > 1e-6 for u in units):
        c.fail(f"the lots {sizes[0]!r} and {sizes[1]!r} are not multiples of one another")
    lots0 = c.lots("order_qty", 0)
    lots1 = c.lots("order_qty", 1)
    max0 = c.lots("max_position", 0) if params["max_position"] > 0 else 0
    max1 = c.lots("max_position", 1) if params["max_position"] > 0 else 0
    c.require(params["max_position"] > 0.0, "max_position", "> 0")
    c.require(math.isfinite(params["threshold_bps"]), "threshold_bps", "a finite number")
    c.require(params["latency_buffer_bps"] >= 0.0, "latency_buffer_bps", ">= 0")
    c.require(params["cooldown_ms"] >= 0, "cooldown_ms", ">= 0")
    c.done()
    unit0, unit1 = round(units[0]), round(units[1])
    order_units = min(lots0 // unit0, lots1 // unit1)
    if order_units < 1 or lots0 % unit0:
        c.fail(f"order_qty {params['order_qty']!r} is not a multiple of the coarser lot {coarse!r}")
        c.done()
    arb = np.zeros(1, dtype=ARB_DTYPE)
    a = arb[0]
    a["unit0"] = unit0
    a["unit1"] = unit1
    a["order_units"] = order_units
    a["max0"] = max0
    a["max1"] = max1
    a["threshold_bps"] = params["threshold_bps"]
    a["buffer_bps"] = params["latency_buffer_bps"]
    a["cooldown_ns"] = params["cooldown_ms"] * 1_000_000
    a["hedge_asset"] = -1
    a["best_net_bps"] = -math.inf
    legs = np.full((3, 2), -1, dtype=np.int64)
    log = np.zeros((LOG_ROWS, N_LOG), dtype=np.float64)
    return arb, legs, log


@njit(cache=True)
def edge_bps(
    sell_px: float, buy_px: float, sell_fee: float, buy_fee: float, buffer_bps: float
) -> tuple[float, float]:
    """Return ``(gross, net)`` edge in bps of selling at ``sell_px`` and buying at ``buy_px``.

    Prices in price units, fees as rates of notional; ``net`` is after both fees and the
    latency buffer (see the module doc).
    """
    ref = 0.5 * (sell_px + buy_px)
    gross = (sell_px - buy_px) / ref * 1e4
    net = (sell_px * (1.0 - sell_fee) - buy_px * (1.0 + buy_fee)) / ref * 1e4 - buffer_bps
    return gross, net


@njit(cache=True)
def _unit_lots(a: Any, asset: int) -> int:
    return int(a["unit0"] if asset == 0 else a["unit1"])


@njit(cache=True)
def _max_lots(a: Any, asset: int) -> int:
    return int(a["max0"] if asset == 0 else a["max1"])


@njit(cache=True)
def _ended(ctx: Ctx, legs: np.ndarray, k: int) -> bool:
    """Whether leg ``k`` has no live order (never sent, or finished)."""
    slot = legs[k, 0]
    if slot < 0 or ctx.orders[slot]["order_id"] != legs[k, 1]:
        return True
    return not is_live(ctx.orders[slot]["status"])


@njit(cache=True)
def _filled_base(ctx: Ctx, legs: np.ndarray, k: int) -> float:
    """Return the base units leg ``k`` filled (0 when its slot was reused)."""
    slot = legs[k, 0]
    if slot < 0 or ctx.orders[slot]["order_id"] != legs[k, 1]:
        return 0.0
    o = ctx.orders[slot]
    instr = ctx.instr[o["asset"]]
    return float(o["filled"] * instr[INSTR_LOT] * instr[INSTR_MULT])


@njit(cache=True)
def imbalance(ctx: Ctx) -> float:
    """Return ``position_0 + position_1`` in base units (0 when hedged)."""
    q0 = ctx.position[0] * ctx.instr[0, INSTR_LOT] * ctx.instr[0, INSTR_MULT]
    q1 = ctx.position[1] * ctx.instr[1, INSTR_LOT] * ctx.instr[1, INSTR_MULT]
    return float(q0 + q1)


@njit(cache=True)
def _hedge(ctx: Ctx, state: Any, imb: float) -> None:
    """Send a market IOC on the short leg's asset that brings the imbalance to zero.

    The hedge has the client id of the last pair's hedge (``3 n + 2`` for pair ``n``): a
    retry reuses it, which is allowed because the previous hedge has ended.
    """
    a = state[0][0]
    legs = state[1]
    asset = a["hedge_asset"]
    if asset < 0:  # cannot tell which leg fell short: hedge on the asset holding less
        q0 = abs(ctx.position[0] * ctx.instr[0, INSTR_LOT] * ctx.instr[0, INSTR_MULT])
        q1 = abs(ctx.position[1] * ctx.instr[1, INSTR_LOT] * ctx.instr[1, INSTR_MULT])
        asset = 0 if q0 <= q1 else 1
    base = ctx.instr[asset, INSTR_LOT] * ctx.instr[asset, INSTR_MULT]
    qty = int(round(abs(imb) / base))
    if qty < 1:
        return
    side = SELL if imb > 0.0 else BUY
    client = 3 * max(a["pair"] - 1, 0) + LEG_HEDGE
    slot = submit(ctx, asset, side, 0, qty, TIF_IOC, OT_MARKET, client)
    if slot < 0:
        a["n_hedge_denied"] += 1
        a["hedge_ns"] = now(ctx) + a["cooldown_ns"]
        return
    legs[LEG_HEDGE, 0] = slot
    legs[LEG_HEDGE, 1] = ctx.orders[slot]["order_id"]
    a["phase"] = PH_HEDGE
    a["n_hedges"] += 1


@njit(cache=True)
def _try_pair(ctx: Ctx, state: Any, sell: int, buy: int) -> bool:
    """Evaluate selling ``sell`` and buying ``buy``; send the pair if it pays. Return sent."""
    a = state[0][0]
    legs = state[1]
    log = state[2]
    bid = best_bid(ctx, sell)
    ask = best_ask(ctx, buy)
    if bid == NO_PX or ask == NO_PX:
        return False
    a["n_evals"] += 1
    sell_px = bid * ctx.instr[sell, INSTR_TICK]
    buy_px = ask * ctx.instr[buy, INSTR_TICK]
    gross, net = edge_bps(
        sell_px,
        buy_px,
        ctx.instr[sell, INSTR_TAKER_FEE],
        ctx.instr[buy, INSTR_TAKER_FEE],
        a["buffer_bps"],
    )
    if gross > 0.0:
        a["n_seen"] += 1
    a["best_net_bps"] = max(a["best_net_bps"], net)
    if not net > a["threshold_bps"]:
        return False
    a["n_edge"] += 1
    if a["phase"] != PH_IDLE or now(ctx) < a["next_ns"]:
        a["n_busy"] += 1
        return False
    us = _unit_lots(a, sell)
    ub = _unit_lots(a, buy)
    units = a["order_units"]
    # what both touches show, and the room both position limits leave
    units = min(units, qty_at(ctx, sell, BID, bid) // us, qty_at(ctx, buy, ASK, ask) // ub)
    units = min(units, (_max_lots(a, sell) + position(ctx, sell)) // us)
    units = min(units, (_max_lots(a, buy) - position(ctx, buy)) // ub)
    if units < 1:
        a["n_blocked"] += 1
        return False
    n = a["pair"]
    s_slot = submit(ctx, sell, SELL, bid, units * us, TIF_IOC, OT_LIMIT, 3 * n + LEG_SELL)
    if s_slot < 0:
        a["n_denied"] += 1
        return False
    b_slot = submit(ctx, buy, BUY, ask, units * ub, TIF_IOC, OT_LIMIT, 3 * n + LEG_BUY)
    legs[LEG_SELL, 0] = s_slot
    legs[LEG_SELL, 1] = ctx.orders[s_slot]["order_id"]
    legs[LEG_BUY, 0] = -1
    legs[LEG_BUY, 1] = -1
    if b_slot >= 0:
        legs[LEG_BUY, 0] = b_slot
        legs[LEG_BUY, 1] = ctx.orders[b_slot]["order_id"]
    else:
        a["n_denied"] += 1  # the sell leg is out alone: the hedge will buy it back
    a["phase"] = PH_LEGS
    a["pair"] = n + 1
    a["next_ns"] = now(ctx) + a["cooldown_ns"]
    a["n_taken"] += 1
    if n < log.shape[0]:
        row = log[n]
        row[LOG_TS] = now(ctx)
        row[LOG_DIR] = 0 if sell == 0 else 1
        row[LOG_SELL_PX] = bid
        row[LOG_BUY_PX] = ask
        row[LOG_GROSS_BPS] = gross
        row[LOG_NET_BPS] = net
        row[LOG_QTY] = units * us * ctx.instr[sell, INSTR_LOT] * ctx.instr[sell, INSTR_MULT]
    return True


@njit(cache=True)
def _step(ctx: Ctx, state: Any) -> None:
    """Advance the phase (legs done -> hedge -> idle) and look for a new pair."""
    a = state[0][0]
    legs = state[1]
    t = now(ctx)
    if a["phase"] == PH_LEGS:
        if not (_ended(ctx, legs, LEG_SELL) and _ended(ctx, legs, LEG_BUY)):
            return
        sold = _filled_base(ctx, legs, LEG_SELL)
        bought = _filled_base(ctx, legs, LEG_BUY)
        sell_asset = ctx.orders[legs[LEG_SELL, 0]]["asset"]
        a["hedge_asset"] = (1 - sell_asset) if bought < sold else sell_asset
        a["phase"] = PH_IDLE
        a["hedge_ns"] = t  # a leg that fell short is retried at once
    elif a["phase"] == PH_HEDGE:
        if not _ended(ctx, legs, LEG_HEDGE):
            return
        a["phase"] = PH_IDLE
        a["hedge_ns"] = t + a["cooldown_ns"]  # a hedge that missed is retried later
    imb = imbalance(ctx)
    smallest = min(
        ctx.instr[0, INSTR_LOT] * ctx.instr[0, INSTR_MULT],
        ctx.instr[1, INSTR_LOT] * ctx.instr[1, INSTR_MULT],
    )
    if abs(imb) >= 0.5 * smallest:
        if t >= a["hedge_ns"]:
            _hedge(ctx, state, imb)
        return
    a["hedge_asset"] = -1
    if not _try_pair(ctx, state, 0, 1):
        _try_pair(ctx, state, 1, 0)


@njit(cache=True)
def on_book(ctx: Ctx, state: Any, asset: int) -> None:
    """Look for an edge after a book update of either asset."""
    if asset <= 1:
        _step(ctx, state)


@njit(cache=True)
def on_order(ctx: Ctx, state: Any, slot: int) -> None:
    """Move on when a leg or a hedge ended (hedge at once if a leg fell short)."""
    _step(ctx, state)

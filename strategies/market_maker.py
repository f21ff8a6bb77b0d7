"""Optimal market making: GLFT or Avellaneda–Stoikov quotes from online estimates.

Model
-----
One post-only (GTX) bid and one post-only ask on asset ``asset``, each ``order_qty`` base
units, at depths (ticks from the mid) given by a stochastic-control model of a market
maker facing Poisson fills whose intensity decays with depth,
``lambda(delta) = A * exp(-k * delta)``, a mid that moves with volatility ``sigma``, and
inventory risk aversion ``gamma``. The inventory ``q`` is the position counted in order
sizes (``position / order_qty``).

- ``model = 0``, **GLFT** (Guéant, Lehalle and Fernandez-Tapia 2013, closed-form
  approximation of the infinite-horizon solution):
  ``c1 = ln(1 + gamma/k) / gamma``,
  ``c2 = sqrt(gamma / (2 A k) * (1 + gamma/k)^(k/gamma + 1))``, and the depths
  ``bid = c1 + sigma c2 / 2 + skew * sigma c2 q``, ``ask = c1 + sigma c2 / 2 - skew * sigma c2 q``.
- ``model = 1``, **Avellaneda–Stoikov** (2008) with a rolling horizon ``tau = horizon_s``:
  half spread ``gamma sigma^2 tau / 2 + ln(1 + gamma/k) / gamma`` around the reservation
  price ``mid - skew * q gamma sigma^2 tau``.

A long inventory lowers both quotes (sell sooner, buy later), a short one raises them.
Each depth is at least ``min_spread_ticks / 2``; the bid is rounded down and the ask up to
the tick grid. A quote that would reach the opposite touch is pulled back one tick short
of it (a post-only order there would be rejected), and a bid below one tick is not placed.

Online estimates (every ``sample_ms``)
--------------------------------------
- **Volatility** ``sigma`` (ticks per square-root second): an exponentially weighted mean of
  squared mid changes between samples, time constant ``vol_window_s``, bias-corrected for
  the first samples, divided by the sampling interval.
- **Intensity** ``A`` (per second) and **decay** ``k`` (per tick): for every sampling
  interval and each side, the deepest distance from the interval's starting mid that a
  market trade reached (buyer-initiated trades above the mid, seller-initiated below), in
  half ticks, up to ``max_depth_ticks``. Over the last ``intensity_window_s`` seconds,
  ``n(delta)`` counts the intervals (both sides) whose deepest trade reached ``delta``;
  ``lambda(delta) = n(delta) / (2 * window)`` is fitted log-linearly, weighted by the
  counts. A fit needs trades at three distinct depths and a decaying profile; otherwise
  the previous estimate stays. ``k`` is kept in ``[1e-4, 20]`` per tick and ``A`` in
  ``[1e-6, 1e6]`` per second.

No quote goes out before ``warmup_s`` seconds of samples and a first successful fit.

Orders and limits
-----------------
At most one order per side. Quotes are re-computed every ``requote_ms`` (a timer) and,
with ``book_requote``, after book updates and our own order reports, but then no more
often than every ``min_requote_ms``. A live quote is modified only when its target price
moved by ``min_move_ticks`` or more or its size must change, and never while a request for
it is in flight, which keeps message churn low. ``max_position`` bounds the position: the
bid's size is at most ``max_position - position`` and the ask's at most
``max_position + position`` (a side with no room is cancelled), so even if both quotes
fill the position stays within the limit.

Parameters
----------
asset : int
    Index of the instrument to quote (the order of the data files). Default 0.
model : int
    0 = GLFT, 1 = Avellaneda–Stoikov. Default 0.
gamma : float
    Risk aversion, per tick, with inventory counted in order sizes; > 0. Default 0.05.
skew : float
    Multiplier of the model's inventory term (0 = no skew, 1 = the model's). Default 1.
horizon_s : float
    Avellaneda–Stoikov horizon ``T - t``, seconds (model 1 only). Default 1.
order_qty : float
    Size of each quote, base units (a multiple of the lot). Default 0.01.
max_position : float
    Largest absolute position, base units (0 = no limit). Default 0.1.
requote_ms : int
    Re-quote timer period, milliseconds. Default 100.
book_requote : bool
    Also re-quote after book updates and our order reports. Default true.
min_requote_ms : int
    Least time between two event-driven re-quotes, milliseconds. Default 20.
min_move_ticks : int
    Move a live quote only when its target moved at least this far, ticks. Default 1.
min_spread_ticks : int
    Smallest quoted spread (ask - bid), ticks. Default 1.
sample_ms : int
    Sampling interval of the mid and of trade depths, milliseconds. Default 100.
vol_window_s : float
    Time constant of the volatility EWMA, seconds. Default 60.
intensity_window_s : float
    Rolling window of the intensity fit, seconds (at least one sample). Default 60.
max_depth_ticks : int
    Deepest trade distance from the mid the fit counts, ticks. Default 100.
warmup_s : float
    Seconds of samples before the first quote. Default 10.

State
-----
A tuple ``(mm, quotes, ring, counts)``: ``mm`` one :data:`MM_DTYPE` record (configuration,
estimates and counters, readable after a run), ``quotes`` int64 ``[2, 2]`` (slot and order
id of the bid and of the ask, -1 when none), ``ring`` int64 ``[2, W]`` (deepest trade per
interval and side, -1 for none) and ``counts`` int64 ``[2 * max_depth_ticks + 1]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hftlib.strategies._checks import Checks
from hftlib.strategies._models import (
    as_depths,
    ewma_alpha,
    ewma_update,
    ewma_vol,
    fit_intensity,
    glft_depths,
    intensity_push,
)
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
from hftlib.engine.context import TR_PX, TR_SIDE, Ctx
from hftlib.engine.types import BUY, OK, OT_LIMIT, REQ_NONE, SELL, ST_OPEN, TIF_GTX
from hftlib.instrument import Instrument
from hftlib.types import NO_PX

PARAMS = {
    "asset": (int, 0, "index of the instrument to quote"),
    "model": (int, 0, "quoting model: 0 = GLFT, 1 = Avellaneda-Stoikov"),
    "gamma": (float, 0.05, "risk aversion, per tick (inventory counted in order sizes)"),
    "skew": (float, 1.0, "multiplier of the model's inventory skew (0 = none, 1 = model)"),
    "horizon_s": (float, 1.0, "Avellaneda-Stoikov horizon T - t, seconds (model 1 only)"),
    "order_qty": (float, 0.01, "size of each quote, base units (a multiple of the lot)"),
    "max_position": (float, 0.1, "largest absolute position, base units (0 = no limit)"),
    "requote_ms": (int, 100, "re-quote timer period, milliseconds"),
    "book_requote": (bool, True, "also re-quote after book updates and order reports"),
    "min_requote_ms": (int, 20, "least time between event-driven re-quotes, milliseconds"),
    "min_move_ticks": (int, 1, "move a live quote only when its target moved this far, ticks"),
    "min_spread_ticks": (int, 1, "smallest quoted spread (ask - bid), ticks"),
    "sample_ms": (int, 100, "sampling interval of the mid and of trade depths, milliseconds"),
    "vol_window_s": (float, 60.0, "time constant of the volatility EWMA, seconds"),
    "intensity_window_s": (float, 60.0, "rolling window of the trade-intensity fit, seconds"),
    "max_depth_ticks": (int, 100, "deepest trade distance from the mid counted, ticks"),
    "warmup_s": (float, 10.0, "seconds of samples before the first quote"),
}

MODEL_GLFT = 0
MODEL_AS = 1

T_REQUOTE = 0
"""Timer id of the re-quote clock."""
T_SAMPLE = 1
"""Timer id of the sampling clock (volatility and intensity)."""

BUCKET_TICKS = 0.5
"""Depth resolution of the intensity counts: half a tick (the mid may sit between ticks)."""

MM_DTYPE = np.dtype(
    [
        # configuration (from PARAMS, in engine units)
        ("asset", "<i8"),
        ("model", "<i8"),
        ("gamma", "<f8"),
        ("skew", "<f8"),
        ("horizon_s", "<f8"),
        ("order_lots", "<i8"),
        ("max_lots", "<i8"),  # int64 max when unlimited
        ("requote_ns", "<i8"),
        ("book_requote", "<i8"),
        ("min_requote_ns", "<i8"),
        ("min_move", "<i8"),
        ("min_half", "<f8"),  # min_spread_ticks / 2
        ("sample_ns", "<i8"),
        ("sample_s", "<f8"),
        ("vol_alpha", "<f8"),
        ("warmup_n", "<i8"),  # samples before quoting
        # estimates
        ("ref_mid2", "<i8"),  # twice the mid at the last sample (NO_PX before)
        ("var", "<f8"),  # EWMA of squared mid changes (ticks^2), not bias-corrected
        ("var_w", "<f8"),  # its weight
        ("sigma", "<f8"),  # ticks per sqrt(second)
        ("a", "<f8"),  # per second
        ("k", "<f8"),  # per tick
        ("fit_ok", "<i8"),
        ("cur_buy", "<i8"),  # deepest buyer-initiated trade this interval, half ticks
        ("cur_sell", "<i8"),
        ("ring_pos", "<i8"),
        ("ring_n", "<i8"),
        ("n_samples", "<i8"),
        ("last_quote_ns", "<i8"),
        # counters
        ("n_fits", "<i8"),
        ("n_requotes", "<i8"),
        ("n_submits", "<i8"),
        ("n_modifies", "<i8"),
        ("n_cancels", "<i8"),
        ("n_denied", "<i8"),
    ],
    align=True,
)
"""Configuration, estimates and counters of the market maker (one record)."""


def make_state(
    params: dict[str, Any], instruments: list[Instrument]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(mm, quotes, ring, counts)`` from checked parameters (see the module doc)."""
    c = Checks("market_maker", params, instruments)
    asset = c.asset()
    c.require(params["model"] in (MODEL_GLFT, MODEL_AS), "model", "0 (GLFT) or 1 (AS)")
    c.require(params["gamma"] > 0.0, "gamma", "> 0")
    c.require(params["skew"] >= 0.0, "skew", ">= 0")
    c.require(params["horizon_s"] > 0.0, "horizon_s", "> 0")
    order_lots = c.lots("order_qty", asset)
    max_lots = c.lots("max_position", asset, allow_zero=True)
    for name in ("requote_ms", "sample_ms", "min_move_ticks", "max_depth_ticks"):
        c.require(params[name] >= 1, name, ">= 1")
    for name in ("min_requote_ms", "min_spread_ticks"):
        c.require(params[name] >= 0, name, ">= 0")
    c.require(params["vol_window_s"] > 0.0, "vol_window_s", "> 0")
    c.require(params["warmup_s"] >= 0.0, "warmup_s", ">= 0")
    sample_s = params["sample_ms"] / 1e3
    c.require(
        params["intensity_window_s"] >= sample_s,
        "intensity_window_s",
        f"at least one sampling interval ({sample_s} s)",
    )
    c.done()
    mm = np.zeros(1, dtype=MM_DTYPE)
    s = mm[0]
    s["asset"] = asset
    s["model"] = params["model"]
    s["gamma"] = params["gamma"]
    s["skew"] = params["skew"]
    s["horizon_s"] = params["horizon_s"]
    s["order_lots"] = order_lots
    s["max_lots"] = max_lots if max_lots > 0 else np.iinfo(np.int64).max // 4
    s["requote_ns"] = params["requote_ms"] * 1_000_000
    s["book_requote"] = int(params["book_requote"])
    s["min_requote_ns"] = params["min_requote_ms"] * 1_000_000
    s["min_move"] = params["min_move_ticks"]
    s["min_half"] = params["min_spread_ticks"] / 2.0
    s["sample_ns"] = params["sample_ms"] * 1_000_000
    s["sample_s"] = sample_s
    s["vol_alpha"] = ewma_alpha(sample_s, params["vol_window_s"])
    s["warmup_n"] = math.ceil(params["warmup_s"] / sample_s)
    s["ref_mid2"] = NO_PX
    s["sigma"] = math.nan
    s["a"] = math.nan
    s["k"] = math.nan
    s["cur_buy"] = -1
    s["cur_sell"] = -1
    s["last_quote_ns"] = np.iinfo(np.int64).min // 2
    quotes = np.full((2, 2), -1, dtype=np.int64)
    window = max(1, round(params["intensity_window_s"] / sample_s))
    ring = np.full((2, window), -1, dtype=np.int64)
    counts = np.zeros(2 * params["max_depth_ticks"] + 1, dtype=np.int64)
    return mm, quotes, ring, counts


# --- estimates --------------------------------------------------------------------------------
@njit(cache=True)
def _sample(ctx: Ctx, state: Any) -> None:
    """Close one sampling interval: volatility, the interval's trade depths, the fit."""
    s = state[0][0]
    ring = state[2]
    counts = state[3]
    m2 = mid_ticks2(ctx, s["asset"])
    ref = s["ref_mid2"]
    if ref != NO_PX:
        # the interval's depths were measured from ``ref``: file them, then refit
        pos = s["ring_pos"]
        intensity_push(ring[0], counts, pos, s["cur_buy"])
        intensity_push(ring[1], counts, pos, s["cur_sell"])
        s["ring_pos"] = (pos + 1) % ring.shape[1]
        s["ring_n"] = min(s["ring_n"] + 1, ring.shape[1])
        exposure = 2.0 * s["ring_n"] * s["sample_s"]
        a, k, ok = fit_intensity(counts, BUCKET_TICKS, exposure)
        if ok:
            s["a"] = a
            s["k"] = k
            s["fit_ok"] = 1
            s["n_fits"] += 1
        if m2 != NO_PX:
            change = 0.5 * (m2 - ref)
            s["var"], s["var_w"] = ewma_update(
                s["var"], s["var_w"], change * change, s["vol_alpha"]
            )
            s["sigma"] = ewma_vol(s["var"], s["var_w"], s["sample_s"])
            s["n_samples"] += 1
    s["cur_buy"] = -1
    s["cur_sell"] = -1
    if m2 != NO_PX:
        s["ref_mid2"] = m2


@njit(cache=True)
def _ready(s: Any) -> bool:
    return bool(s["fit_ok"] == 1 and s["n_samples"] >= s["warmup_n"] and s["sigma"] >= 0.0)


# --- quoting ----------------------------------------------------------------------------------
@njit(cache=True)
def _keep_quote(ctx: Ctx, state: Any, k: int, side: int, px: int, qty: int) -> None:
    """Make side ``k`` (0 bid, 1 ask) rest one order of ``qty`` lots at ``px`` (qty 0: none)."""
    s = state[0][0]
    quotes = state[1]
    slot = quotes[k, 0]
    if slot >= 0 and ctx.orders[slot]["order_id"] == quotes[k, 1]:
        o = ctx.orders[slot]
        if is_live(o["status"]):
            if o["status"] != ST_OPEN or o["req"] != REQ_NONE:
                return  # a request is in flight: decide again once it is answered
            if qty <= 0:
                if cancel(ctx, slot) == OK:
                    s["n_cancels"] += 1
                return
            if abs(o["px"] - px) >= s["min_move"] or o["leaves"] != qty:
                if modify(ctx, slot, px, qty) == OK:
                    s["n_modifies"] += 1
                else:
                    s["n_denied"] += 1
            return
    quotes[k, 0] = -1
    quotes[k, 1] = -1
    if qty <= 0:
        return
    new = submit(ctx, s["asset"], side, px, qty, TIF_GTX, OT_LIMIT, -1)
    if new >= 0:
        quotes[k, 0] = new
        quotes[k, 1] = ctx.orders[new]["order_id"]
        s["n_submits"] += 1
    else:
        s["n_denied"] += 1


@njit(cache=True)
def _requote(ctx: Ctx, state: Any) -> None:
    """Compute the model's quotes and move the live orders to them."""
    s = state[0][0]
    asset = s["asset"]
    if not _ready(s):
        return
    bid = best_bid(ctx, asset)
    ask = best_ask(ctx, asset)
    if bid == NO_PX or ask == NO_PX:
        return
    s["last_quote_ns"] = now(ctx)
    s["n_requotes"] += 1
    mid = 0.5 * (bid + ask)
    pos = position(ctx, asset)
    q = pos / s["order_lots"]
    if s["model"] == MODEL_GLFT:
        bid_depth, ask_depth = glft_depths(s["gamma"], s["sigma"], s["a"], s["k"], q, s["skew"])
    else:
        bid_depth, ask_depth = as_depths(
            s["gamma"], s["sigma"], s["k"], s["horizon_s"], q, s["skew"]
        )
    if not (math.isfinite(bid_depth) and math.isfinite(ask_depth)):
        return
    # a floor on each depth, and a cap that keeps prices finite and positive
    bid_depth = min(max(bid_depth, s["min_half"]), mid)
    ask_depth = min(max(ask_depth, s["min_half"]), mid)
    bid_px = min(int(math.floor(mid - bid_depth)), ask - 1)  # post-only: below the ask
    ask_px = max(int(math.ceil(mid + ask_depth)), bid + 1)
    order = s["order_lots"]
    buy_qty = min(order, s["max_lots"] - pos) if bid_px >= 1 else 0
    sell_qty = min(order, s["max_lots"] + pos)
    _keep_quote(ctx, state, 0, BUY, bid_px, buy_qty)
    _keep_quote(ctx, state, 1, SELL, ask_px, sell_qty)


# --- callbacks --------------------------------------------------------------------------------
@njit(cache=True)
def on_start(ctx: Ctx, state: Any) -> None:
    """Arm the sampling and re-quote clocks."""
    s = state[0][0]
    t = now(ctx)
    set_timer(ctx, T_SAMPLE, t + s["sample_ns"], s["sample_ns"])
    set_timer(ctx, T_REQUOTE, t + s["requote_ns"], s["requote_ns"])


@njit(cache=True)
def on_trade(ctx: Ctx, state: Any, asset: int) -> None:
    """Record how far from the interval's starting mid a market trade reached."""
    s = state[0][0]
    ref = s["ref_mid2"]
    if asset != s["asset"] or ref == NO_PX:
        return
    px2 = 2 * ctx.trade[asset, TR_PX]
    if ctx.trade[asset, TR_SIDE] == BUY:
        s["cur_buy"] = max(s["cur_buy"], max(px2 - ref, 0))
    else:
        s["cur_sell"] = max(s["cur_sell"], max(ref - px2, 0))


@njit(cache=True)
def on_book(ctx: Ctx, state: Any, asset: int) -> None:
    """Re-quote after a book update, at most every ``min_requote_ms``."""
    s = state[0][0]
    if asset != s["asset"] or not s["book_requote"]:
        return
    if now(ctx) - s["last_quote_ns"] >= s["min_requote_ns"]:
        _requote(ctx, state)


@njit(cache=True)
def on_order(ctx: Ctx, state: Any, slot: int) -> None:
    """Re-quote after one of our orders changed (a fill moves the inventory skew)."""
    s = state[0][0]
    if s["book_requote"] and now(ctx) - s["last_quote_ns"] >= s["min_requote_ns"]:
        _requote(ctx, state)


@njit(cache=True)
def on_timer(ctx: Ctx, state: Any, timer_id: int) -> None:
    """Sample the estimates, or re-quote."""
    if timer_id == T_SAMPLE:
        _sample(ctx, state)
    elif timer_id == T_REQUOTE:
        _requote(ctx, state)

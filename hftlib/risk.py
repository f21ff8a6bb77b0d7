"""Pre-trade risk checks, run in numba on every new and modify request (DESIGN decision 6).

The same kernels guard the backtest, paper and live modes: the engine (or the live order
manager) calls :func:`check_new` / :func:`check_modify` before a request leaves, then either
:func:`record_request` (accepted) or :func:`deny` (refused). The checks themselves never
change any state, so a denied request leaves no trace except its denial counter.

Limits
------
A float64 array ``(n_assets, N_RL)`` with one row per asset, in the engine's units; ``np.inf``
means no limit (the default of every column except the rate window):

``RL_MAX_ORDER_QTY``
    Largest order size, lots.
``RL_MAX_ORDER_NOTIONAL``
    Largest order notional in the settlement currency
    (:func:`hftlib.engine.contract.notional` over the asset's ``INSTR_*`` row).
``RL_MAX_POSITION``
    Largest absolute position, lots, counted in the worst case (see below).
``RL_MAX_POSITION_NOTIONAL``
    Largest notional of that worst-case position in the settlement currency, valued at
    the order's price (market orders: the mid): what a limit in USD states.
``RL_MAX_OPEN_ORDERS``
    Most live orders of the asset (the caller's count: open plus pending new).
``RL_MAX_ORDER_RATE``
    Most accepted new + modify requests of the asset in any window of
    ``RL_RATE_WINDOW_NS`` (default 1e9 ns).
``RL_PRICE_BAND``
    Largest distance of a limit price from the mid, as a fraction of the mid (0.05 = ±5 %).

:class:`RiskLimits` states limits per asset in instrument units and :func:`limits_array`
converts them: sizes are *base units*, ``lots * lot_size * contract_multiplier`` — the
quantity :mod:`hftlib.engine.contract` multiplies by the price and the unit of
``RECORD_DTYPE.position``. That is coins for spot and linear contracts and the face value
in the quote currency (e.g. USD) for inverse contracts. A size limit that is not a whole
number of lots is rounded *down* to lots (a limit only ever gets stricter).

Order of the checks
-------------------
A request gets ``OK`` or the code of the first rule it breaks, in this order:

1. ``R_KILL_SWITCH``: the kill switch is on.
2. ``R_MAX_ORDER_QTY``: the order (modify: the new open size) is larger than the limit.
3. ``R_MAX_ORDER_NOTIONAL``: the notional at the limit price is larger than the limit.
   Market orders are valued at the mid, or at ``px_ticks`` when there is no mid; with
   neither, a set notional limit denies with ``E_NO_MARKET``.
4. ``R_MAX_POSITION``: the worst case, if every open order on the request's side and the
   request itself filled, ``side * position + open_same_side + qty``, is above the limit.
   An order that reduces the position is therefore never denied by this rule, even when the
   position is already over the limit. A modify counts only the size it adds; a modify that
   does not add size passes. The same worst case valued at the order's price (a market
   order: the mid; neither: ``E_NO_MARKET``) must not exceed the position notional limit,
   also ``R_MAX_POSITION``.
5. ``R_MAX_OPEN_ORDERS``: the asset already has the maximum number of live orders (new
   orders only).
6. ``R_PRICE_BAND``: ``|px - mid| > band * mid`` (limit orders only; market orders skip it).
   A set band with no mid (one side of the book empty, ``mid_ticks2 == NO_PX``) denies with
   ``E_NO_MARKET``: an unbounded price is exactly what the band exists to stop.
7. ``R_ORDER_RATE``: the asset had ``max_rate`` accepted requests within the last window.

Cancels are never denied and do not count towards the rate: a cancel only reduces risk,
and refusing one (the kill switch included) would keep exposure the operator wants gone.

Rate limit
----------
Accepted request times sit in a per-asset ring buffer of ``cap`` slots (``RiskState.rate_ts``,
oldest at ``rate_head``, ``rate_n`` entries). A request at ``now`` passes when fewer than
``max_rate`` accepted requests lie in ``(now - window, now]``, i.e. when the ``max_rate``-th
most recent one is at least a window old — an O(1) read with no eviction, so checking never
writes. ``cap`` is the largest finite rate of any asset (at most :data:`RATE_CAP_BOUND`);
:class:`RiskLimits` and :func:`new_risk_state` refuse a larger rate. A state whose buffer is
smaller than a limit (e.g. limits raised after the state was made) enforces the buffer size
instead: stricter, never looser. Request times must not decrease per asset.

Boundaries are inclusive: a notional or band distance equal to the limit passes (with a
relative slack of 1e-9 so that float rounding of ``tick * lots`` cannot deny an exact fit).
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import numpy as np

from hftlib.engine.contract import notional
from hftlib.engine.types import (
    BUY,
    CODE_NAMES,
    E_NO_MARKET,
    INSTR_LOT,
    INSTR_MULT,
    N_CODES,
    N_INSTR,
    OK,
    R_KILL_SWITCH,
    R_MAX_OPEN_ORDERS,
    R_MAX_ORDER_NOTIONAL,
    R_MAX_ORDER_QTY,
    R_MAX_POSITION,
    R_ORDER_RATE,
    R_PRICE_BAND,
)
from hftlib.errors import HftlibError
from hftlib.jit import nrt_free
from hftlib.types import NO_PX

# --- limit columns --------------------------------------------------------------------------
RL_MAX_ORDER_QTY: Final = 0
RL_MAX_ORDER_NOTIONAL: Final = 1
RL_MAX_POSITION: Final = 2
RL_MAX_OPEN_ORDERS: Final = 3
RL_MAX_ORDER_RATE: Final = 4
RL_RATE_WINDOW_NS: Final = 5
RL_PRICE_BAND: Final = 6
RL_MAX_POSITION_NOTIONAL: Final = 7
N_RL: Final = 8

DEFAULT_RATE_WINDOW_NS: Final = 1e9
RATE_CAP_BOUND: Final = 65536
"""Largest rate limit (requests per window) a state can hold: 65536 int64 per asset = 512 KiB."""

# --- state flags ----------------------------------------------------------------------------
FLAG_KILL: Final = 0
N_FLAGS: Final = 8
"""Length of ``RiskState.flags``: the kill switch plus room for later switches."""

_SLACK: Final = 1.0 + 1e-9
"""Relative slack on float comparisons, so float rounding cannot deny an exact fit."""

RiskState = namedtuple("RiskState", "flags rate_ts rate_head rate_n denied")
"""Mutable risk state (numpy arrays, so numba kernels can take it and cache).

flags : int64 (N_FLAGS,)
    ``flags[FLAG_KILL] != 0``: the kill switch is on.
rate_ts : int64 (n_assets, cap)
    Ring buffer of accepted request times per asset, ns.
rate_head, rate_n : int64 (n_assets,)
    Index of the oldest entry and number of entries (<= cap) per asset.
denied : int64 (N_CODES,)
    Denials counted by ``-code``.
"""


class RiskConfigError(HftlibError, ValueError):
    """Risk limits are malformed: unknown key, wrong type or out of range."""


# --- configuration --------------------------------------------------------------------------


class RiskLimits(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Pre-trade limits of one asset in instrument units; every default is "no limit".

    Parameters
    ----------
    max_order_qty : float
        Largest order size in base units (``lots * lot_size * multiplier``). Default inf.
    max_order_notional : float
        Largest order notional in the settlement currency. Default inf.
    max_position : float
        Largest absolute worst-case position in base units. Default inf.
    max_open_orders : float
        Most live orders of the asset; a whole number or inf. Default inf.
    max_order_rate : float
        Most new + modify requests per ``rate_window_s``; a whole number up to
        :data:`RATE_CAP_BOUND`, or inf. Default inf.
    rate_window_s : float
        Length of the rate window in seconds; finite and at least 1 ns. Default 1.0.
    price_band : float
        Largest distance of a limit price from the mid as a fraction of the mid, in (0, 1],
        or inf. Default inf.
    max_position_notional : float
        Largest worst-case position notional in the settlement currency, valued at the
        order's price. Default inf.
    """

    max_order_qty: float = math.inf
    max_order_notional: float = math.inf
    max_position: float = math.inf
    max_open_orders: float = math.inf
    max_order_rate: float = math.inf
    rate_window_s: float = 1.0
    price_band: float = math.inf
    max_position_notional: float = math.inf

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RiskConfigError(f"{name} must be a number, got {value!r}")
            if math.isnan(value) or value < 0:
                raise RiskConfigError(f"{name} must be >= 0 (or inf), got {value!r}")
        for name in ("max_open_orders", "max_order_rate"):
            value = getattr(self, name)
            if math.isfinite(value) and value != math.floor(value):
                raise RiskConfigError(f"{name} must be a whole number or inf, got {value!r}")
        if math.isfinite(self.max_order_rate) and self.max_order_rate > RATE_CAP_BOUND:
            raise RiskConfigError(
                f"max_order_rate must be <= {RATE_CAP_BOUND} (the rate buffer's bound) or inf, "
                f"got {self.max_order_rate!r}"
            )
        if not (math.isfinite(self.rate_window_s) and self.rate_window_s >= 1e-9):
            raise RiskConfigError(
                f"rate_window_s must be finite and >= 1e-9, got {self.rate_window_s!r}"
            )
        if not (0.0 < self.price_band <= 1.0 or self.price_band == math.inf):
            raise RiskConfigError(f"price_band must be in (0, 1] or inf, got {self.price_band!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the limits as a JSON-ready dict; "no limit" (inf) becomes ``None``."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return {k: (None if v == math.inf else v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskLimits:
        """Build and check limits from a dict; a missing key or ``None`` means no limit."""
        if not isinstance(data, Mapping):
            raise RiskConfigError(f"risk limits must be a mapping, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in cls.__struct_fields__)
        if unknown:
            raise RiskConfigError(
                f"unknown risk limit key(s) {', '.join(unknown)}; "
                f"known keys: {', '.join(cls.__struct_fields__)}"
            )
        given = {k: v for k, v in data.items() if v is not None}
        try:
            return msgspec.convert(given, cls)
        except msgspec.ValidationError as exc:
            raise RiskConfigError(f"invalid risk limits: {exc}") from exc


def default_limits(n_assets: int) -> np.ndarray:
    """Return a limits array with no limit on any asset (and the default rate window)."""
    out = np.full((n_assets, N_RL), np.inf)
    out[:, RL_RATE_WINDOW_NS] = DEFAULT_RATE_WINDOW_NS
    return out


def _size_to_lots(value: float, lot_base: float) -> float:
    """Convert a size limit in base units to whole lots, rounding down (stricter)."""
    if value == math.inf:
        return math.inf
    lots = value / lot_base
    # The slack absorbs float error in the division (0.3 / 0.1 = 2.9999999999999996).
    return float(math.floor(lots + 1e-9 * max(1.0, lots)))


def limits_array(per_asset: Sequence[RiskLimits], instruments_rows: np.ndarray) -> np.ndarray:
    """Convert per-asset :class:`RiskLimits` into the kernels' ``(n_assets, N_RL)`` array.

    Parameters
    ----------
    per_asset : sequence of RiskLimits
        One entry per asset, in asset order.
    instruments_rows : ndarray
        float64 ``(n_assets, N_INSTR)`` rows of ``INSTR_*`` columns.

    Returns
    -------
    ndarray
        float64 ``(n_assets, N_RL)``: sizes in lots (base units divided by
        ``lot_size * multiplier``, rounded down), notional as given, counts as given, the
        window in ns and the band as a fraction.
    """
    rows = np.asarray(instruments_rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != N_INSTR:
        raise RiskConfigError(f"instruments_rows must be (n_assets, {N_INSTR}), got {rows.shape}")
    if len(per_asset) != rows.shape[0]:
        raise RiskConfigError(
            f"{len(per_asset)} risk limits for {rows.shape[0]} instruments; give one per asset"
        )
    out = default_limits(len(per_asset))
    for i, lim in enumerate(per_asset):
        if not isinstance(lim, RiskLimits):
            raise RiskConfigError(f"asset {i}: expected RiskLimits, got {type(lim).__name__}")
        lot_base = rows[i, INSTR_LOT] * rows[i, INSTR_MULT]
        if not (np.isfinite(lot_base) and lot_base > 0):
            raise RiskConfigError(f"asset {i}: lot size * multiplier must be > 0, got {lot_base}")
        out[i, RL_MAX_ORDER_QTY] = _size_to_lots(lim.max_order_qty, lot_base)
        out[i, RL_MAX_ORDER_NOTIONAL] = lim.max_order_notional
        out[i, RL_MAX_POSITION] = _size_to_lots(lim.max_position, lot_base)
        out[i, RL_MAX_OPEN_ORDERS] = lim.max_open_orders
        out[i, RL_MAX_ORDER_RATE] = lim.max_order_rate
        out[i, RL_RATE_WINDOW_NS] = round(lim.rate_window_s * 1e9)
        out[i, RL_PRICE_BAND] = lim.price_band
        out[i, RL_MAX_POSITION_NOTIONAL] = lim.max_position_notional
    return out


def check_limits_array(limits: np.ndarray, n_assets: int) -> None:
    """Raise :class:`RiskConfigError` unless ``limits`` is a valid ``(n_assets, N_RL)`` array."""
    if not isinstance(limits, np.ndarray) or limits.dtype != np.float64:
        raise RiskConfigError("limits must be a float64 numpy array")
    if limits.shape != (n_assets, N_RL):
        raise RiskConfigError(f"limits must be ({n_assets}, {N_RL}), got {limits.shape}")
    if np.isnan(limits).any() or (limits < 0).any():
        raise RiskConfigError("limits must be >= 0 or inf, never NaN")
    if not (limits[:, RL_RATE_WINDOW_NS] >= 1).all():
        raise RiskConfigError("rate windows must be >= 1 ns")
    rates = limits[:, RL_MAX_ORDER_RATE]
    if (np.isfinite(rates) & (rates > RATE_CAP_BOUND)).any():
        raise RiskConfigError(f"rate limits must be <= {RATE_CAP_BOUND} or inf, got {rates}")


def new_risk_state(
    n_assets: int, limits_array: np.ndarray, *, rate_capacity: int | None = None
) -> RiskState:
    """Return a fresh state (kill switch off, no requests, no denials) for ``limits_array``.

    Parameters
    ----------
    n_assets : int
        Number of assets.
    limits_array : ndarray
        The ``(n_assets, N_RL)`` limits the state will be checked against.
    rate_capacity : int, optional
        Slots of the rate buffer per asset (1..RATE_CAP_BOUND). Default: the largest finite
        rate limit, at least 1. Give more to leave room for rate limits raised later.
    """
    check_limits_array(limits_array, n_assets)
    if rate_capacity is None:
        rates = limits_array[:, RL_MAX_ORDER_RATE]
        finite = rates[np.isfinite(rates)]
        rate_capacity = max(1, int(finite.max())) if finite.size else 1
    if not 1 <= rate_capacity <= RATE_CAP_BOUND:
        raise RiskConfigError(f"rate_capacity must be in 1..{RATE_CAP_BOUND}, got {rate_capacity}")
    return RiskState(
        flags=np.zeros(N_FLAGS, dtype=np.int64),
        rate_ts=np.zeros((n_assets, rate_capacity), dtype=np.int64),
        rate_head=np.zeros(n_assets, dtype=np.int64),
        rate_n=np.zeros(n_assets, dtype=np.int64),
        denied=np.zeros(N_CODES, dtype=np.int64),
    )


def denial_counts(state: RiskState) -> dict[str, int]:
    """Return the non-zero denial counters by code name (e.g. ``{"risk_order_rate": 3}``)."""
    return {CODE_NAMES.get(-i, f"code{-i}"): int(n) for i, n in enumerate(state.denied) if n != 0}


# --- kernels --------------------------------------------------------------------------------


@nrt_free
def rate_ok(limits: np.ndarray, state: RiskState, asset: int, now_ns: int) -> bool:
    """Return whether one more request of ``asset`` at ``now_ns`` fits the rate limit."""
    lim = limits[asset, RL_MAX_ORDER_RATE]
    if lim == np.inf:
        return True
    cap = state.rate_ts.shape[1]
    m = int(min(lim, cap))  # a buffer smaller than the limit enforces its own size
    if m < 1:
        return False
    n = state.rate_n[asset]
    if n < m:
        return True
    # The m-th most recent accepted request must have left the window (now - window, now].
    k = state.rate_head[asset] + n - m
    if k >= cap:  # head < cap and n - m < cap, so one subtraction wraps it
        k -= cap
    return bool(now_ns - state.rate_ts[asset, k] >= limits[asset, RL_RATE_WINDOW_NS])


@nrt_free
def band_code(
    limits: np.ndarray, asset: int, px_ticks: int, mid_ticks2: int, is_market: bool
) -> int:
    """Return ``OK``, ``R_PRICE_BAND`` or ``E_NO_MARKET`` for a price against the band."""
    band = limits[asset, RL_PRICE_BAND]
    if band == np.inf or is_market:
        return OK
    if mid_ticks2 == NO_PX:
        return E_NO_MARKET
    # Compare in half ticks: |2 px - (bid + ask)| <= band * (bid + ask), no rounding of the mid.
    if abs(2 * px_ticks - mid_ticks2) > band * abs(mid_ticks2) * _SLACK:
        return R_PRICE_BAND
    return OK


@nrt_free
def position_code(
    limits: np.ndarray,
    instr: np.ndarray,
    asset: int,
    worst_lots: int,
    px_ticks: int,
    is_market: bool,
    mid_ticks2: int,
) -> int:
    """Return ``OK``, ``R_MAX_POSITION`` or ``E_NO_MARKET`` for a worst-case position."""
    if worst_lots > limits[asset, RL_MAX_POSITION]:
        return R_MAX_POSITION
    lim = limits[asset, RL_MAX_POSITION_NOTIONAL]
    if lim == np.inf or worst_lots <= 0:
        return OK
    ref = _valuation_price(px_ticks, is_market, mid_ticks2)
    if ref < 0:
        return E_NO_MARKET
    if notional(instr[asset], ref, worst_lots) > lim * _SLACK:
        return R_MAX_POSITION
    return OK


@nrt_free
def _valuation_price(px_ticks: int, is_market: bool, mid_ticks2: int) -> float:
    """Return the price (ticks) an order is valued at, or -1.0 when there is none.

    A limit order at its price; a market order at the mid, else its protection price.
    """
    if not is_market:
        return float(px_ticks)
    if mid_ticks2 != NO_PX:
        return 0.5 * mid_ticks2
    if px_ticks != NO_PX:
        return float(px_ticks)
    return -1.0


@nrt_free
def notional_code(
    limits: np.ndarray,
    instr: np.ndarray,
    asset: int,
    px_ticks: int,
    qty_lots: int,
    is_market: bool,
    mid_ticks2: int,
) -> int:
    """Return ``OK``, ``R_MAX_ORDER_NOTIONAL`` or ``E_NO_MARKET`` for an order's notional."""
    lim = limits[asset, RL_MAX_ORDER_NOTIONAL]
    if lim == np.inf:
        return OK
    ref = _valuation_price(px_ticks, is_market, mid_ticks2)
    if ref < 0:
        return E_NO_MARKET
    # contract.notional is annotated with int ticks but computes in float: a half-tick mid is fine
    if notional(instr[asset], ref, qty_lots) > lim * _SLACK:
        return R_MAX_ORDER_NOTIONAL
    return OK


@nrt_free
def check_new(
    limits: np.ndarray,
    state: RiskState,
    instr: np.ndarray,
    asset: int,
    side: int,
    px_ticks: int,
    qty_lots: int,
    is_market: bool,
    mid_ticks2: int,
    position_lots: int,
    open_buy_lots: int,
    open_sell_lots: int,
    open_orders: int,
    now_ns: int,
) -> int:
    """Return ``OK`` or the first failing code (module docstring order) for a new order.

    Parameters
    ----------
    limits : ndarray
        float64 ``(n_assets, N_RL)``.
    state : RiskState
        Read only: checking never changes the state.
    instr : ndarray
        float64 ``(n_assets, N_INSTR)`` instrument rows.
    asset, side : int
        A valid asset index and ``BUY`` / ``SELL`` (the caller validates both first).
    px_ticks : int
        Limit price; for a market order its protection price or ``NO_PX``.
    qty_lots : int
        Order size (> 0).
    is_market : bool
        Market order: notional at the mid, no price band.
    mid_ticks2 : int
        ``best_bid + best_ask`` in ticks, or ``NO_PX`` when either side is empty.
    position_lots : int
        Signed position of the asset.
    open_buy_lots, open_sell_lots : int
        Open (and pending) size of the asset's live orders per side.
    open_orders : int
        Number of live orders of the asset.
    now_ns : int
        Time of the request (non-decreasing per asset).
    """
    if state.flags[FLAG_KILL] != 0:
        return R_KILL_SWITCH
    if qty_lots > limits[asset, RL_MAX_ORDER_QTY]:
        return R_MAX_ORDER_QTY
    code = notional_code(limits, instr, asset, px_ticks, qty_lots, is_market, mid_ticks2)
    if code != OK:
        return code
    same = open_buy_lots if side == BUY else open_sell_lots
    code = position_code(
        limits,
        instr,
        asset,
        side * position_lots + same + qty_lots,
        px_ticks,
        is_market,
        mid_ticks2,
    )
    if code != OK:
        return code
    if open_orders + 1 > limits[asset, RL_MAX_OPEN_ORDERS]:
        return R_MAX_OPEN_ORDERS
    code = band_code(limits, asset, px_ticks, mid_ticks2, is_market)
    if code != OK:
        return code
    if not rate_ok(limits, state, asset, now_ns):
        return R_ORDER_RATE
    return OK


@nrt_free
def check_modify(
    limits: np.ndarray,
    state: RiskState,
    instr: np.ndarray,
    asset: int,
    side: int,
    new_px_ticks: int,
    new_qty_lots: int,
    old_leaves_lots: int,
    mid_ticks2: int,
    position_lots: int,
    open_buy_lots: int,
    open_sell_lots: int,
    now_ns: int,
) -> int:
    """Return ``OK`` or the first failing code for modifying a resting limit order.

    ``new_qty_lots`` is the open size the modify asks for and ``old_leaves_lots`` the order's
    open size now (included in ``open_buy_lots`` / ``open_sell_lots``). Size and notional are
    checked on the new order, the position on the size added (a shrink always passes), the
    band on the new price, and the request counts for the rate; the open-order count does not
    apply. Other parameters are as in :func:`check_new`.
    """
    if state.flags[FLAG_KILL] != 0:
        return R_KILL_SWITCH
    if new_qty_lots > limits[asset, RL_MAX_ORDER_QTY]:
        return R_MAX_ORDER_QTY
    code = notional_code(limits, instr, asset, new_px_ticks, new_qty_lots, False, mid_ticks2)
    if code != OK:
        return code
    # Only added size can raise the worst case; a shrink is as safe as a cancel.
    extra = new_qty_lots - old_leaves_lots
    same = open_buy_lots if side == BUY else open_sell_lots
    if extra > 0:
        worst = side * position_lots + same + extra
        code = position_code(limits, instr, asset, worst, new_px_ticks, False, mid_ticks2)
        if code != OK:
            return code
    code = band_code(limits, asset, new_px_ticks, mid_ticks2, False)
    if code != OK:
        return code
    if not rate_ok(limits, state, asset, now_ns):
        return R_ORDER_RATE
    return OK


@nrt_free
def record_request(state: RiskState, asset: int, now_ns: int) -> None:
    """Count an accepted new or modify request of ``asset`` at ``now_ns`` towards the rate."""
    cap = state.rate_ts.shape[1]
    n = state.rate_n[asset]
    head = state.rate_head[asset]
    if n < cap:
        state.rate_ts[asset, (head + n) % cap] = now_ns
        state.rate_n[asset] = n + 1
    else:  # full: the oldest entry can no longer decide any limit <= cap, overwrite it
        state.rate_ts[asset, head] = now_ns
        state.rate_head[asset] = (head + 1) % cap


@nrt_free
def deny(state: RiskState, code: int) -> int:
    """Count a denial under ``-code`` and return ``code`` (pass-through for the caller)."""
    if -N_CODES < code < 0:
        state.denied[-code] += 1
    return code


@nrt_free
def set_kill(state: RiskState, on: bool) -> None:
    """Turn the kill switch on (deny every new and modify request) or off again."""
    state.flags[FLAG_KILL] = 1 if on else 0


@nrt_free
def is_killed(state: RiskState) -> bool:
    """Return whether the kill switch is on."""
    return bool(state.flags[FLAG_KILL] != 0)

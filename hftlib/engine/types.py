"""Constants and record layouts shared by the engine, the strategy context and venues.

Everything here is plain numpy and integers so that numba code in any module can use it
(module-level ints are compile-time constants in numba) and so that a paper or live runner
implements the same contract without numba.

Conventions
-----------
- Prices are int64 ticks and sizes int64 lots of the asset's instrument (DESIGN decision 3).
- Sides: ``BUY = 1`` and ``SELL = -1`` for orders (the sign of the position change); book
  sides are ``BID = 0`` and ``ASK = 1`` (row index into book arrays).
- Times are int64 ns since the Unix epoch. ``exch`` fields are on the venue's clock, ``local``
  fields on the strategy's clock.
- Action functions return an int64 status: ``OK`` (0) or a negative ``E_*`` / ``R_*`` code;
  nothing raises inside nopython code.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# --- sides ------------------------------------------------------------------------------------
BUY: Final = 1
SELL: Final = -1
BID: Final = 0
ASK: Final = 1

# --- order types and time in force ------------------------------------------------------------
OT_LIMIT: Final = 0
OT_MARKET: Final = 1

TIF_GTC: Final = 0
"""Good till cancelled: takes what crosses, rests the rest."""
TIF_GTX: Final = 1
"""Post-only: rejected if it would cross on arrival, else rests as maker."""
TIF_IOC: Final = 2
"""Immediate or cancel: takes what it can up to its limit, the rest expires."""
TIF_FOK: Final = 3
"""Fill or kill: fills completely on arrival at its limit or expires untouched."""

# --- order status (local and venue view) ------------------------------------------------------
ST_FREE: Final = 0
"""Slot unused."""
ST_PENDING: Final = 1
"""Sent, not yet acknowledged by the venue."""
ST_OPEN: Final = 2
"""Resting at the venue (possibly partially filled)."""
ST_FILLED: Final = 3
ST_CANCELED: Final = 4
ST_REJECTED: Final = 5
ST_EXPIRED: Final = 6
"""IOC/FOK remainder or a market order's unfilled part."""
ST_UNKNOWN: Final = 7
"""Live only: the outcome of a request is not known until a query settles it."""

STATUS_NAMES: Final = {
    ST_FREE: "free",
    ST_PENDING: "pending",
    ST_OPEN: "open",
    ST_FILLED: "filled",
    ST_CANCELED: "canceled",
    ST_REJECTED: "rejected",
    ST_EXPIRED: "expired",
    ST_UNKNOWN: "unknown",
}

# --- requests in flight (``req`` field of an order) -------------------------------------------
REQ_NONE: Final = 0
REQ_NEW: Final = 1
REQ_CANCEL: Final = 2
REQ_MODIFY: Final = 3

# --- status codes -----------------------------------------------------------------------------
OK: Final = 0
E_BAD_ASSET: Final = -1
E_BAD_SIDE: Final = -2
E_BAD_QTY: Final = -3
E_BAD_PRICE: Final = -4
E_OFF_GRID: Final = -5
E_BAD_TIF: Final = -6
E_UNKNOWN_ORDER: Final = -7
E_DUPLICATE_CLIENT_ID: Final = -8
E_ORDER_BUSY: Final = -9
"""A request for this order is already in flight."""
E_NOT_OPEN: Final = -10
E_TOO_MANY_ORDERS: Final = -11
"""The order table is full (``max_orders`` of the engine config)."""
E_QUEUE_FULL: Final = -12
E_BAD_TIMER: Final = -13
E_NO_MARKET: Final = -14
"""A market order or a price-band check with no book on either side."""
# risk denials (hftlib.risk)
R_KILL_SWITCH: Final = -20
R_MAX_ORDER_QTY: Final = -21
R_MAX_ORDER_NOTIONAL: Final = -22
R_MAX_POSITION: Final = -23
R_MAX_OPEN_ORDERS: Final = -24
R_ORDER_RATE: Final = -25
R_PRICE_BAND: Final = -26
# venue rejections carried back on an order (``reason`` field)
V_WOULD_CROSS: Final = -40
"""Post-only order rejected: it would have taken liquidity."""
V_FOK_UNFILLED: Final = -41
V_NO_LIQUIDITY: Final = -42
V_UNKNOWN_ORDER: Final = -43
"""Cancel/modify for an order the venue no longer has (filled or cancelled meanwhile)."""

N_CODES: Final = 64
"""Counter arrays are indexed by ``-code`` and have this length."""

CODE_NAMES: Final = {
    OK: "ok",
    E_BAD_ASSET: "bad_asset",
    E_BAD_SIDE: "bad_side",
    E_BAD_QTY: "bad_qty",
    E_BAD_PRICE: "bad_price",
    E_OFF_GRID: "off_grid",
    E_BAD_TIF: "bad_tif",
    E_UNKNOWN_ORDER: "unknown_order",
    E_DUPLICATE_CLIENT_ID: "duplicate_client_id",
    E_ORDER_BUSY: "order_busy",
    E_NOT_OPEN: "not_open",
    E_TOO_MANY_ORDERS: "too_many_orders",
    E_QUEUE_FULL: "queue_full",
    E_BAD_TIMER: "bad_timer",
    E_NO_MARKET: "no_market",
    R_KILL_SWITCH: "risk_kill_switch",
    R_MAX_ORDER_QTY: "risk_max_order_qty",
    R_MAX_ORDER_NOTIONAL: "risk_max_order_notional",
    R_MAX_POSITION: "risk_max_position",
    R_MAX_OPEN_ORDERS: "risk_max_open_orders",
    R_ORDER_RATE: "risk_order_rate",
    R_PRICE_BAND: "risk_price_band",
    V_WOULD_CROSS: "venue_would_cross",
    V_FOK_UNFILLED: "venue_fok_unfilled",
    V_NO_LIQUIDITY: "venue_no_liquidity",
    V_UNKNOWN_ORDER: "venue_unknown_order",
}

# --- instrument parameters per asset (float64 rows of ``INSTR_*`` columns) --------------------
INSTR_TICK: Final = 0
INSTR_LOT: Final = 1
INSTR_MULT: Final = 2
"""Contract multiplier (1 for spot and linear perpetuals)."""
INSTR_MAKER_FEE: Final = 3
"""Fee rate as a fraction of notional (0.0002 = 2 bps); negative is a rebate."""
INSTR_TAKER_FEE: Final = 4
INSTR_INVERSE: Final = 5
"""1.0 for inverse contracts (notional = qty * mult / price, P&L in the base coin)."""
N_INSTR: Final = 6

# --- orders -----------------------------------------------------------------------------------
ORDER_DTYPE: Final = np.dtype(
    [
        ("order_id", "<i8"),  # engine-assigned, unique per run, > 0
        ("client_id", "<i8"),  # strategy-chosen; unique among live orders; -1 = none
        ("asset", "<i8"),
        ("side", "<i8"),  # BUY / SELL
        ("px", "<i8"),  # limit price in ticks (market orders: the worst price walked)
        ("qty", "<i8"),  # order size in lots
        ("leaves", "<i8"),  # open size
        ("filled", "<i8"),  # cumulative filled size
        ("otype", "<i8"),
        ("tif", "<i8"),
        ("status", "<i8"),  # ST_*
        ("req", "<i8"),  # REQ_* in flight
        ("req_px", "<i8"),  # modify target price
        ("req_qty", "<i8"),  # modify target size
        ("reason", "<i8"),  # last rejection code (V_* / E_*), 0 if none
        ("submit_ts", "<i8"),  # local time the new request left
        ("exch_ts", "<i8"),  # venue time of the last change
        ("local_ts", "<i8"),  # local time the last change arrived
        ("fill_notional", "<f8"),  # sum(px * qty) of fills in ticks * lots
        ("fee", "<f8"),  # fees paid on this order (quote, or base coin if inverse)
    ],
    align=True,
)
"""One order as the strategy sees it (``ctx.orders``) and as venues report it."""

# --- fills log --------------------------------------------------------------------------------
FILL_DTYPE: Final = np.dtype(
    [
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("order_id", "<i8"),
        ("client_id", "<i8"),
        ("asset", "<i8"),
        ("side", "<i8"),
        ("px", "<i8"),  # ticks
        ("qty", "<i8"),  # lots
        ("maker", "<i8"),  # 1 maker, 0 taker
        ("fee", "<f8"),
        ("position", "<i8"),  # lots after the fill (local view)
    ],
    align=True,
)

# --- order log (one row per order state change seen locally) ----------------------------------
ORDER_LOG_DTYPE: Final = np.dtype(
    [
        ("local_ts", "<i8"),
        ("exch_ts", "<i8"),
        ("order_id", "<i8"),
        ("client_id", "<i8"),
        ("asset", "<i8"),
        ("side", "<i8"),
        ("px", "<i8"),
        ("qty", "<i8"),
        ("leaves", "<i8"),
        ("otype", "<i8"),
        ("tif", "<i8"),
        ("status", "<i8"),
        ("reason", "<i8"),
    ],
    align=True,
)

# --- recorder: sampled state, one row per asset per sample ------------------------------------
RECORD_DTYPE: Final = np.dtype(
    [
        ("ts", "<i8"),  # local time of the sample
        ("asset", "<i8"),
        ("mid", "<f8"),  # price units (not ticks); NaN before the book has both sides
        ("position", "<f8"),  # base units (lots * lot size * mult)
        ("balance", "<f8"),  # cash in the settlement currency
        ("equity", "<f8"),  # balance + position marked at mid
        ("fees", "<f8"),  # cumulative fees paid (negative = rebates earned)
        ("volume", "<f8"),  # cumulative traded notional
        ("trades", "<i8"),  # cumulative number of fills
        ("open_orders", "<i8"),
    ],
    align=True,
)

"""The strategy context: everything a strategy sees and the outbox it acts through.

A context is a :class:`Ctx` named tuple of numpy arrays, so numba compiles and caches
code over it and a paper or live runner can build the same object without numba. The
strategy reads it through the query functions and changes it only through the action
functions of :mod:`hftlib.engine.actions`; the host (the backtest loop, or the live
runner) drains the outbox, sends the requests, and applies venue responses with
:mod:`hftlib.engine.apply`.

Fields
------
clock : int64[N_CLOCK]
    ``CLK_NOW`` local time (ns) of the event being handled; ``CLK_NEXT_ID`` next order id;
    ``CLK_SEQ`` monotonic action counter; ``CLK_OUT_N`` requests queued in ``outbox``.
book : hftlib.book.l2.L2Book
    The local view of every asset's L2 book (local timeline: exchange time + feed latency).
instr : float64[n_assets, N_INSTR]
    Tick, lot, multiplier, maker/taker fee and inverse flag (``hftlib.engine.types.INSTR_*``).
trade : int64[n_assets, N_TRADE]
    The last public trade: local/exchange time, price (ticks), size (lots), aggressor side.
bbo : int64[n_assets, 4]
    The last top-of-book feed row per side (bid px, bid qty, ask px, ask qty; ``NO_PX`` if none).
position : int64[n_assets]
    Position in lots (local view: changes when a fill report arrives).
account : float64[n_assets, N_ACCT]
    Cash balance, cumulative fees, traded notional and fill count per asset.
orders : ORDER_DTYPE[max_orders]
    The order table; a slot is reused once its order is terminal and reported.
open_state : int64[n_assets, N_OPEN]
    Live order count and open buy/sell lots per asset (kept by the action/apply code).
latency : int64[n_assets, N_LAT]
    The last feed latency (local - exchange ts of a market event) and the last order
    round trip (request sent -> response received) and entry latency seen, ns.
outbox : int64[capacity, N_OUT]
    Requests for the host: request kind and order slot (values live in ``orders``).
timers : int64[n_timers, 2]
    Next fire time (local ns, ``NO_TIMER`` if unset) and repeat interval (0 = one-shot).
limits : float64[n_assets, N_RL]
    Pre-trade risk limits (:mod:`hftlib.risk`).
risk : hftlib.risk.RiskState
    Risk state: kill switch, order-rate window, denial counters.
counters : int64[N_CODES]
    Action results by ``-code`` (index 0 counts accepted actions).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Final

import numpy as np

from hftlib.book.l2 import L2Book, new_l2
from hftlib.engine.types import N_CODES, N_INSTR, ORDER_DTYPE
from hftlib.risk import RiskState, new_risk_state
from hftlib.types import NO_PX

Ctx = namedtuple(
    "Ctx",
    [
        "clock",
        "book",
        "instr",
        "trade",
        "bbo",
        "position",
        "account",
        "orders",
        "open_state",
        "latency",
        "outbox",
        "timers",
        "limits",
        "risk",
        "counters",
    ],
)

# clock
CLK_NOW: Final = 0
CLK_NEXT_ID: Final = 1
CLK_SEQ: Final = 2
CLK_OUT_N: Final = 3
N_CLOCK: Final = 4

# trade
TR_LOCAL_TS: Final = 0
TR_EXCH_TS: Final = 1
TR_PX: Final = 2
TR_QTY: Final = 3
TR_SIDE: Final = 4
N_TRADE: Final = 5

# account
AC_BALANCE: Final = 0
AC_FEES: Final = 1
AC_VOLUME: Final = 2
AC_FILLS: Final = 3
N_ACCT: Final = 4

# open_state
OP_COUNT: Final = 0
OP_BUY_LOTS: Final = 1
OP_SELL_LOTS: Final = 2
N_OPEN: Final = 3

# latency
LT_FEED: Final = 0
LT_ROUND_TRIP: Final = 1
LT_ENTRY: Final = 2
N_LAT: Final = 3

# outbox
OUT_KIND: Final = 0
OUT_SLOT: Final = 1
N_OUT: Final = 2

NO_TIMER: Final = np.iinfo(np.int64).max
"""A timer that is not armed."""


def new_context(
    instr: np.ndarray,
    limits: np.ndarray,
    *,
    max_orders: int = 256,
    n_timers: int = 8,
    outbox: int = 1024,
    initial_balance: np.ndarray | None = None,
    book: L2Book | None = None,
    risk: RiskState | None = None,
) -> Ctx:
    """Return a fresh context for ``len(instr)`` assets.

    Parameters
    ----------
    instr
        float64 ``(n_assets, N_INSTR)`` rows (see :func:`hftlib.sim.fees.instrument_row`).
    limits
        float64 risk limits ``(n_assets, N_RL)`` (see :func:`hftlib.risk.limits_array`).
    max_orders
        Order table size: submits beyond it return ``E_TOO_MANY_ORDERS``.
    """
    instr = np.ascontiguousarray(instr, dtype=np.float64)
    if instr.ndim != 2 or instr.shape[1] != N_INSTR or instr.shape[0] < 1:
        raise ValueError(f"instr must have shape (n_assets, {N_INSTR}), got {instr.shape}")
    n = instr.shape[0]
    if limits.shape[0] != n:
        raise ValueError(f"limits has {limits.shape[0]} rows for {n} assets")
    for name, value in (("max_orders", max_orders), ("n_timers", n_timers), ("outbox", outbox)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    clock = np.zeros(N_CLOCK, dtype=np.int64)
    clock[CLK_NEXT_ID] = 1
    bbo = np.full((n, 4), NO_PX, dtype=np.int64)
    bbo[:, 1] = 0
    bbo[:, 3] = 0
    trade = np.zeros((n, N_TRADE), dtype=np.int64)
    trade[:, TR_PX] = NO_PX
    account = np.zeros((n, N_ACCT), dtype=np.float64)
    if initial_balance is not None:
        account[:, AC_BALANCE] = initial_balance
    timers = np.zeros((n_timers, 2), dtype=np.int64)
    timers[:, 0] = NO_TIMER
    return Ctx(
        clock=clock,
        book=book if book is not None else new_l2(n),
        instr=instr,
        trade=trade,
        bbo=bbo,
        position=np.zeros(n, dtype=np.int64),
        account=account,
        orders=np.zeros(max_orders, dtype=ORDER_DTYPE),
        open_state=np.zeros((n, N_OPEN), dtype=np.int64),
        latency=np.zeros((n, N_LAT), dtype=np.int64),
        outbox=np.zeros((outbox, N_OUT), dtype=np.int64),
        timers=timers,
        limits=np.ascontiguousarray(limits, dtype=np.float64),
        risk=risk if risk is not None else new_risk_state(n, limits),
        counters=np.zeros(N_CODES, dtype=np.int64),
    )

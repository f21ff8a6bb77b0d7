"""Contract arithmetic for linear and inverse instruments (numba, over ``INSTR_*`` rows).

Linear (spot, USD-M perpetuals): notional = price * qty * multiplier in the quote currency;
a fill moves cash by ``-side * notional`` and a position is worth ``position * mult * mark``.

Inverse (coin-margined): notional = qty * multiplier / price in the base coin; a fill moves
cash by ``+side * notional`` and a position is worth ``-position * mult / mark``, so equity
changes by ``qty * mult * (1 / entry - 1 / mark)``, the inverse contract's P&L.

Prices here are in price units (ticks already multiplied by the tick size) and quantities
in base units (lots times the lot size).
"""

from __future__ import annotations

import numpy as np

from hftlib.engine.types import INSTR_INVERSE, INSTR_LOT, INSTR_MULT, INSTR_TICK
from hftlib.jit import nrt_free, nrt_free_inline


@nrt_free_inline
def price_of(instr: np.ndarray, ticks: int) -> float:
    """Return the price of ``ticks`` for one asset's ``INSTR_*`` row."""
    return float(ticks * instr[INSTR_TICK])


@nrt_free_inline
def size_of(instr: np.ndarray, lots: int) -> float:
    """Return the size in base units (or contracts) of ``lots``."""
    return float(lots * instr[INSTR_LOT])


@nrt_free
def notional(instr: np.ndarray, ticks: float, lots: int) -> float:
    """Return the absolute notional of ``lots`` at ``ticks`` in the settlement currency."""
    px = ticks * instr[INSTR_TICK]
    q = lots * instr[INSTR_LOT] * instr[INSTR_MULT]
    if instr[INSTR_INVERSE] != 0.0:
        return float(q / px) if px > 0.0 else 0.0
    return float(q * px)


@nrt_free
def cash_flow(instr: np.ndarray, side: int, ticks: int, lots: int) -> float:
    """Return the change of cash when ``lots`` trade at ``ticks`` on ``side`` (BUY=1)."""
    if instr[INSTR_INVERSE] != 0.0:
        return side * notional(instr, ticks, lots)
    return -side * notional(instr, ticks, lots)


@nrt_free
def position_value(instr: np.ndarray, position_lots: int, mark: float) -> float:
    """Return the value of a position at price ``mark`` (NaN-free: 0 when mark <= 0)."""
    if mark <= 0.0:
        return 0.0
    q = position_lots * instr[INSTR_LOT] * instr[INSTR_MULT]
    if instr[INSTR_INVERSE] != 0.0:
        return float(-q / mark)
    return float(q * mark)

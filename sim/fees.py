"""Trading fees of the simulated venue and the per-asset ``INSTR_*`` parameter rows.

A fee is a rate times the fill's notional in the settlement currency (quote for spot and
linear contracts, the base coin for inverse ones), as hftbacktest's ``TradingValueFeeModel``
(``backtest/models/fee.rs``) with its asset types' ``amount`` (``backtest/assettype.rs``).
Positive fees are paid, negative ones are rebates.
"""

from __future__ import annotations

import math

import numpy as np

from hftlib.engine.contract import notional
from hftlib.engine.types import (
    INSTR_INVERSE,
    INSTR_LOT,
    INSTR_MAKER_FEE,
    INSTR_MULT,
    INSTR_TAKER_FEE,
    INSTR_TICK,
    N_INSTR,
)
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.jit import nrt_free

_INVERSE_KINDS = frozenset({InstrumentKind.INVERSE_PERPETUAL})


@nrt_free
def fee(instr: np.ndarray, ticks: int, lots: int, maker: bool) -> float:
    """Return the fee of a fill of ``lots`` at ``ticks`` (positive paid, negative rebate).

    Parameters
    ----------
    instr : float64[N_INSTR]
        The asset's ``INSTR_*`` row.
    ticks, lots : int
        Fill price in ticks and size in lots.
    maker : bool
        Whether the fill added liquidity (maker rate) or took it (taker rate).
    """
    rate = instr[INSTR_MAKER_FEE] if maker else instr[INSTR_TAKER_FEE]
    return float(rate * notional(instr, ticks, lots))


def instrument_row(
    instrument: Instrument, maker_fee: float | None = None, taker_fee: float | None = None
) -> np.ndarray:
    """Return the float64 ``INSTR_*`` row of an instrument, with optional fee overrides.

    Parameters
    ----------
    instrument : Instrument
        Tick, lot, multiplier, fees and kind come from here; inverse kinds set
        ``INSTR_INVERSE`` to 1.
    maker_fee, taker_fee : float, optional
        Rates replacing the instrument's (fractions of notional, negative = rebate,
        within [-0.01, 0.01] like :class:`~hftlib.instrument.Instrument` requires).

    Raises
    ------
    ValueError
        When an override is not a finite rate within [-0.01, 0.01].
    """
    row = np.zeros(N_INSTR, dtype=np.float64)
    row[INSTR_TICK] = instrument.tick_size
    row[INSTR_LOT] = instrument.lot_size
    row[INSTR_MULT] = instrument.contract_multiplier
    row[INSTR_MAKER_FEE] = _rate(
        "maker_fee", instrument.maker_fee if maker_fee is None else maker_fee
    )
    row[INSTR_TAKER_FEE] = _rate(
        "taker_fee", instrument.taker_fee if taker_fee is None else taker_fee
    )
    row[INSTR_INVERSE] = 1.0 if instrument.kind in _INVERSE_KINDS else 0.0
    return row


def _rate(name: str, value: float) -> float:
    rate = float(value)
    if not (math.isfinite(rate) and -0.01 <= rate <= 0.01):
        raise ValueError(f"{name} must be a fraction of notional in [-0.01, 0.01], got {value!r}")
    return rate

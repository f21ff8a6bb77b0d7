"""Fees and INSTR_* rows."""

from __future__ import annotations

import numpy as np
import pytest
from hftlib.sim.fees import fee, instrument_row

from hftlib.engine.types import (
    INSTR_INVERSE,
    INSTR_LOT,
    INSTR_MAKER_FEE,
    INSTR_MULT,
    INSTR_TAKER_FEE,
    INSTR_TICK,
    N_INSTR,
)
from hftlib.instrument import lookup_instrument


@pytest.fixture(params=["py", "nb"])
def fee_fn(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The fee kernel, compiled (``nb``) or plain Python (``py``)."""
    return fee.py_func if request.param == "py" else fee


def test_instrument_row_linear() -> None:
    row = instrument_row(lookup_instrument("binance-futures", "BTCUSDT"))
    assert row.dtype == np.float64
    assert row.shape == (N_INSTR,)
    assert row[INSTR_TICK] == 0.1
    assert row[INSTR_LOT] == 0.001
    assert row[INSTR_MULT] == 1.0
    assert row[INSTR_MAKER_FEE] == 0.0002
    assert row[INSTR_TAKER_FEE] == 0.0005
    assert row[INSTR_INVERSE] == 0.0


def test_instrument_row_inverse_and_overrides() -> None:
    row = instrument_row(lookup_instrument("huobi-dm-swap", "BTC-USD"), maker_fee=-0.0001)
    assert row[INSTR_INVERSE] == 1.0
    assert row[INSTR_MULT] == 100.0
    assert row[INSTR_MAKER_FEE] == -0.0001
    assert row[INSTR_TAKER_FEE] == 0.0005
    row = instrument_row(lookup_instrument("bitmex", "XBTUSD"), maker_fee=0.0, taker_fee=0.001)
    assert (row[INSTR_MAKER_FEE], row[INSTR_TAKER_FEE]) == (0.0, 0.001)


@pytest.mark.parametrize("bad", [0.02, -0.5, float("nan"), float("inf")])
def test_instrument_row_rejects_bad_rates(bad: float) -> None:
    inst = lookup_instrument("binance", "BTCUSDT")
    with pytest.raises(ValueError, match="taker_fee must be a fraction"):
        instrument_row(inst, taker_fee=bad)


def test_linear_fee_is_rate_times_notional(fee_fn) -> None:  # type: ignore[no-untyped-def]
    row = instrument_row(lookup_instrument("binance-futures", "BTCUSDT"))
    # 2 lots (0.002 BTC) at 500000 ticks (50000.0): notional 100 USDT
    assert fee_fn(row, 500_000, 2, True) == pytest.approx(100 * 0.0002)
    assert fee_fn(row, 500_000, 2, False) == pytest.approx(100 * 0.0005)


def test_maker_rebate_is_negative(fee_fn) -> None:  # type: ignore[no-untyped-def]
    row = instrument_row(lookup_instrument("synthetic", "SYNUSD"))
    assert fee_fn(row, 1000, 1000, True) == pytest.approx(-0.0001 * 100.0 * 1.0)
    assert fee_fn(row, 1000, 1000, False) > 0.0


def test_inverse_fee_uses_coin_notional(fee_fn) -> None:  # type: ignore[no-untyped-def]
    row = instrument_row(lookup_instrument("bitmex", "XBTUSD"))
    # 1000 contracts of 1 USD at 40000.0 (80000 ticks of 0.5): 0.025 BTC notional
    assert fee_fn(row, 80_000, 1000, False) == pytest.approx(0.025 * 0.00075)
    assert fee_fn(row, 80_000, 1000, True) == pytest.approx(-0.025 * 0.00025)
    huobi = instrument_row(lookup_instrument("huobi-dm-swap", "BTC-USD"))
    # 3 contracts of 100 USD at 50000.0: 0.006 BTC
    assert fee_fn(huobi, 500_000, 3, False) == pytest.approx(0.006 * 0.0005)


def test_fee_is_zero_for_zero_price_inverse(fee_fn) -> None:  # type: ignore[no-untyped-def]
    row = instrument_row(lookup_instrument("bitmex", "XBTUSD"))
    assert fee_fn(row, 0, 10, False) == 0.0

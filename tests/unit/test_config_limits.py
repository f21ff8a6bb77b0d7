"""A strategy's USD risk limits mapped onto the risk kernel's per-asset RiskLimits."""

from __future__ import annotations

import math

import pytest

from hftlib.config.limits import quote_is_usd, strategy_risk_limits
from hftlib.config.model import StrategyRiskLimits
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.risk import RiskConfigError, RiskLimits

PERP = lookup_instrument("binance-futures", "BTCUSDT")
SPOT = lookup_instrument("binance", "ETHUSDT")
INVERSE = lookup_instrument("deribit", "BTC-PERPETUAL")


def test_linear_and_spot_assets() -> None:
    limits = StrategyRiskLimits(max_position_usd=5000.0, max_order_size_usd=1000.0)
    out = strategy_risk_limits(limits, [PERP, SPOT])
    expected = RiskLimits(max_order_notional=1000.0, max_position_notional=5000.0)
    assert out == [expected, expected]


def test_inverse_assets_are_exact_in_usd_face_value() -> None:
    limits = StrategyRiskLimits(max_position_usd=5000.0, max_order_size_usd=1000.0)
    (out,) = strategy_risk_limits(limits, [INVERSE])
    assert out.max_order_qty == 1000.0
    assert out.max_position == 5000.0
    assert out.max_order_notional == math.inf  # notional is in BTC there, not USD


def test_order_limit_never_exceeds_the_position_limit() -> None:
    limits = StrategyRiskLimits(max_position_usd=500.0, max_order_size_usd=1000.0)
    (out,) = strategy_risk_limits(limits, [SPOT])
    assert out.max_order_notional == 500.0


def test_optional_limits_map_one_to_one() -> None:
    limits = StrategyRiskLimits(
        max_position_usd=100.0,
        max_order_size_usd=10.0,
        max_open_orders=4,
        max_orders_per_second=20,
        price_band=0.05,
    )
    (out,) = strategy_risk_limits(limits, [SPOT])
    assert (out.max_open_orders, out.max_order_rate, out.rate_window_s, out.price_band) == (
        4,
        20,
        1.0,
        0.05,
    )


def test_non_usd_quote_is_refused() -> None:
    ethbtc = Instrument(venue="x", symbol="ETHBTC", kind="spot", tick_size=1e-5, lot_size=1e-4)
    assert not quote_is_usd(ethbtc)
    assert quote_is_usd(SPOT)
    limits = StrategyRiskLimits(max_position_usd=100.0, max_order_size_usd=10.0)
    with pytest.raises(RiskConfigError, match="USD-quoted"):
        strategy_risk_limits(limits, [ethbtc])

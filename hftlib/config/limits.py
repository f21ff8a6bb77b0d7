"""Map a strategy file's ``risk_limits`` (USD) onto the risk kernel's per-asset limits.

:class:`hftlib.risk.RiskLimits` states sizes in base units (coins for spot and linear
contracts, the USD face value for inverse contracts) and the order notional in the
settlement currency. The mapping, per asset (exchange x symbol):

================================  =====================================================
``max_order_size_usd``            ``max_order_notional`` (spot, linear: quote is a USD
                                  coin) or ``max_order_qty`` (inverse: USD face value),
                                  never above ``max_position_usd``
``max_position_usd``              ``max_position_notional`` (spot, linear: the
                                  worst-case position valued at the order's price) or
                                  ``max_position`` (inverse: USD face value)
``max_open_orders``               ``max_open_orders``
``max_orders_per_second``         ``max_order_rate`` over a 1 s window
``price_band``                    ``price_band``
================================  =====================================================

Both mappings are exact: no reference price is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from hftlib.config.model import StrategyRiskLimits
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.risk import RiskConfigError, RiskLimits

USD_QUOTES = ("FDUSD", "USDC", "USDT", "BUSD", "TUSD", "USD")
"""Quote currencies counted as US dollars (longest first, so USDT is not read as ...T)."""


def quote_is_usd(instrument: Instrument) -> bool:
    """Return whether the instrument's symbol ends in a USD quote currency."""
    symbol = instrument.symbol.upper().replace("-", "").replace("_", "").replace("/", "")
    return symbol.endswith(USD_QUOTES)


def strategy_risk_limits(
    limits: StrategyRiskLimits, instruments: Sequence[Instrument]
) -> list[RiskLimits]:
    """Return one :class:`~hftlib.risk.RiskLimits` per asset from a strategy's limits.

    Parameters
    ----------
    limits : StrategyRiskLimits
        ``StrategyConfig.risk_limits``.
    instruments : sequence of Instrument
        The strategy's instruments in asset order (``StrategyConfig.assets()``).

    Raises
    ------
    RiskConfigError
        A spot or linear asset is not quoted in a USD currency.
    """
    order_usd = min(limits.max_order_size_usd, limits.max_position_usd)
    common = {
        "max_open_orders": limits.max_open_orders,
        "max_order_rate": limits.max_orders_per_second,
        "rate_window_s": 1.0,
        "price_band": limits.price_band,
    }
    out = []
    for instrument in instruments:
        if instrument.kind == InstrumentKind.INVERSE_PERPETUAL:
            sizes = {"max_order_qty": order_usd, "max_position": limits.max_position_usd}
        else:
            if not quote_is_usd(instrument):
                raise RiskConfigError(
                    f"{instrument.key}: USD risk limits need a USD-quoted instrument "
                    f"(quote one of {', '.join(USD_QUOTES)})"
                )
            sizes = {
                "max_order_notional": order_usd,
                "max_position_notional": limits.max_position_usd,
            }
        out.append(RiskLimits.from_dict({**sizes, **common}))
    return out

"""Symbol rules: decimal strings to ticks and lots and back, filters, exchangeInfo entries.

Spot Binance writes every amount with 8 decimals (``"61837.63000000"``); USD-M writes prices
and sizes with the symbol's precision (``"61800.2"``, ``"0.005"``). Incoming prices and
sizes are checked exactly (no rounding): off the tick is ``PRICE_FILTER`` (spot) or -4014
(USD-M), off the step ``LOT_SIZE`` (spot) or -1111 (USD-M).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.config import Market

from hftlib.instrument import Instrument, InstrumentKind

SPOT_DECIMALS: Final = 8
QUOTE_ASSETS: Final = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")
_NUMBER = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
MAX_PRICE_TICKS: Final = 10**15
CACHE_SIZE: Final = 1 << 17
MAX_PRICE: Final = Decimal(1_000_000)
MAX_QTY: Final = Decimal(9_000)


def split_symbol(symbol: str) -> tuple[str, str]:
    """Return ``(base, quote)`` assets of a symbol such as ``BTCUSDT``."""
    for quote in QUOTE_ASSETS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"cannot tell the quote asset of {symbol!r}")


def step_digits(step: Decimal) -> tuple[int, int]:
    """Return ``(mantissa, decimals)`` with ``step == mantissa * 10**-decimals``."""
    sign, digits, exp = step.normalize().as_tuple()
    if sign or not isinstance(exp, int):
        raise ValueError(f"bad step {step}")
    mantissa = int("".join(map(str, digits)))
    if exp >= 0:
        return mantissa * 10**exp, 0
    return mantissa, -exp


def fixed(n: int, decimals: int) -> str:
    """Write the integer ``n * 10**-decimals`` as a decimal string with all its decimals."""
    if decimals <= 0:
        return str(n)
    if n < 0:
        return "-" + fixed(-n, decimals)
    digits = str(n).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


class SymbolRules:
    """Conversions and filters of one symbol.

    Parameters
    ----------
    instrument : Instrument
        The symbol's tick and lot sizes and contract kind.
    market : {"spot", "usdm"}
        The wire format: spot writes 8 decimals, USD-M the symbol's precision.
    min_notional : Decimal
        Smallest order notional in quote.
    """

    def __init__(self, instrument: Instrument, market: Market, min_notional: Decimal) -> None:
        if (instrument.kind == InstrumentKind.SPOT) != (market == "spot"):
            raise ValueError(f"{instrument.key} is {instrument.kind}, not a {market} instrument")
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.market = market
        self.base, self.quote = split_symbol(instrument.symbol)
        self.tick = Decimal(repr(instrument.tick_size))
        self.lot = Decimal(repr(instrument.lot_size))
        self.multiplier = Decimal(repr(instrument.contract_multiplier))
        self.notional_unit = self.tick * self.lot * self.multiplier
        self.min_notional = min_notional
        self._tick_m, self._tick_d = step_digits(self.tick)
        self._lot_m, self._lot_d = step_digits(self.lot)
        spot = market == "spot"
        self.price_decimals = SPOT_DECIMALS if spot else self._tick_d
        self.qty_decimals = SPOT_DECIMALS if spot else self._lot_d
        if spot and max(self._tick_d, self._lot_d) > SPOT_DECIMALS:
            raise ValueError(f"{instrument.key}: spot steps finer than 1e-8 are not supported")
        self._px_scale = self._tick_m * 10 ** (self.price_decimals - self._tick_d)
        self._qty_scale = self._lot_m * 10 ** (self.qty_decimals - self._lot_d)
        # replayed books repeat the same prices and sizes: format each once
        self._px_text: dict[int, str] = {}
        self._qty_text: dict[int, str] = {}

    # --- formatting ------------------------------------------------------------------------
    def fmt_px(self, ticks: int) -> str:
        """Write a price in ticks the way this market does."""
        text = self._px_text.get(ticks)
        if text is None:
            if len(self._px_text) >= CACHE_SIZE:
                self._px_text.clear()
            text = self._px_text[ticks] = fixed(ticks * self._px_scale, self.price_decimals)
        return text

    def fmt_qty(self, lots: int) -> str:
        """Write a size in lots the way this market does."""
        text = self._qty_text.get(lots)
        if text is None:
            if len(self._qty_text) >= CACHE_SIZE:
                self._qty_text.clear()
            text = self._qty_text[lots] = fixed(lots * self._qty_scale, self.qty_decimals)
        return text

    def fmt_quote(self, ticks_lots: int) -> str:
        """Write a notional given in ticks x lots (quote asset, 8 decimals)."""
        return fmt_amount(ticks_lots * self.notional_unit)

    def px_decimal(self, ticks: int) -> Decimal:
        """Return a price in ticks as a Decimal."""
        return ticks * self.tick

    def qty_decimal(self, lots: int) -> Decimal:
        """Return a size in lots as a Decimal."""
        return lots * self.lot

    # --- parsing ---------------------------------------------------------------------------
    def parse_price(self, text: str, name: str = "price") -> int:
        """Return a price parameter in ticks; raise the venue's filter error when off-grid."""
        value = self._checked(text, name)
        ticks, rest = divmod(value, self.tick)
        if value <= 0 or rest or ticks >= MAX_PRICE_TICKS:
            if self.market == "usdm" and value > 0:
                raise E.ApiError(E.PRICE_TICK, "Price not increased by tick size.")
            raise E.filter_failure("PRICE_FILTER")
        return int(ticks)

    def parse_qty(self, text: str, name: str = "quantity") -> int:
        """Return a size parameter in lots; raise the venue's filter error when off-step."""
        value = self._checked(text, name)
        lots, rest = divmod(value, self.lot)
        if value <= 0 or rest:
            if self.market == "usdm":
                if value <= 0:
                    raise E.ApiError(-4003, "Quantity less than or equal to zero.")
                raise E.ApiError(
                    E.PRECISION, "Precision is over the maximum defined for this asset."
                )
            raise E.filter_failure("LOT_SIZE")
        return int(lots)

    def _checked(self, text: str, name: str) -> Decimal:
        value = parse_decimal(text, name)
        exponent = value.as_tuple().exponent
        if self.market == "spot" and isinstance(exponent, int) and exponent < -SPOT_DECIMALS:
            raise E.ApiError(E.PRECISION, "Precision is over the maximum defined for this asset.")
        return value

    def check_notional(self, ticks: int, lots: int, *, reduce_only: bool = False) -> None:
        """Raise the minimum-notional error when ``ticks x lots`` is below the minimum."""
        if ticks * lots * self.notional_unit >= self.min_notional or reduce_only:
            return
        if self.market == "usdm":
            raise E.ApiError(
                E.MIN_NOTIONAL,
                f"Order's notional must be no smaller than {self.min_notional.normalize():f} "
                "(unless you choose reduce only).",
            )
        raise E.filter_failure("NOTIONAL")

    # --- exchangeInfo ----------------------------------------------------------------------
    def exchange_info(self) -> dict[str, Any]:
        """Return this symbol's ``exchangeInfo`` entry."""
        tick, lot = self.fmt_px(1), self.fmt_qty(1)
        max_px = self.fmt_px(int(MAX_PRICE / self.tick))
        price_filter = {
            "filterType": "PRICE_FILTER",
            "minPrice": tick,
            "maxPrice": max_px,
            "tickSize": tick,
        }
        lot_filter = {
            "filterType": "LOT_SIZE",
            "minQty": lot,
            "maxQty": self.fmt_qty(int(MAX_QTY / self.lot)),
            "stepSize": lot,
        }
        notional = fmt_amount(self.min_notional)
        if self.market == "spot":
            return {
                "symbol": self.symbol,
                "status": "TRADING",
                "baseAsset": self.base,
                "baseAssetPrecision": SPOT_DECIMALS,
                "quoteAsset": self.quote,
                "quotePrecision": SPOT_DECIMALS,
                "quoteAssetPrecision": SPOT_DECIMALS,
                "baseCommissionPrecision": SPOT_DECIMALS,
                "quoteCommissionPrecision": SPOT_DECIMALS,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": False,
                "ocoAllowed": False,
                "otoAllowed": False,
                "quoteOrderQtyMarketAllowed": False,
                "allowTrailingStop": False,
                "cancelReplaceAllowed": True,
                "amendAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    price_filter,
                    lot_filter,
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": notional,
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                "allowedSelfTradePreventionModes": [
                    "NONE",
                    "EXPIRE_TAKER",
                    "EXPIRE_MAKER",
                    "EXPIRE_BOTH",
                ],
            }
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base,
            "quoteAsset": self.quote,
            "marginAsset": self.quote,
            "pricePrecision": self._tick_d,
            "quantityPrecision": self._lot_d,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                price_filter,
                lot_filter,
                {**lot_filter, "filterType": "MARKET_LOT_SIZE"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": f"{self.min_notional.normalize():f}"},
            ],
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }


def parse_decimal(text: str, name: str) -> Decimal:
    """Return a non-negative decimal parameter; raise -1100 for anything else."""
    if not _NUMBER.match(text):
        raise E.illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
    try:
        return Decimal(text)
    except InvalidOperation:  # the pattern admits only digits, so this is defensive
        raise E.illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$") from None


def fmt_amount(value: Decimal) -> str:
    """Write a balance or commission with 8 decimals, as Binance does."""
    return f"{value.quantize(Decimal('1e-8')):f}"

"""Binance order strings <-> hftlib codes (status, execution type, side, type, time in force).

Post-only differs by market: spot sends ``type=LIMIT_MAKER`` (no time in force), USD-M
``type=LIMIT`` with ``timeInForce=GTX``; both read back as ``(OT_LIMIT, TIF_GTX)``.
Unknown strings raise :class:`hftlib.venues.binance.errors.BinanceMessageError`.
"""

from __future__ import annotations

from typing import Final

from hftlib.venues.binance.constants import VENUE_NAMES, Market
from hftlib.venues.binance.errors import BinanceMessageError

from hftlib.engine.types import (
    BUY,
    OT_LIMIT,
    OT_MARKET,
    SELL,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    ST_REJECTED,
    TIF_FOK,
    TIF_GTC,
    TIF_GTX,
    TIF_IOC,
)

ORDER_STATUS: Final = {
    "NEW": ST_OPEN,
    "PENDING_NEW": ST_PENDING,
    "PARTIALLY_FILLED": ST_OPEN,
    "FILLED": ST_FILLED,
    "CANCELED": ST_CANCELED,
    "PENDING_CANCEL": ST_OPEN,  # documented as unused; the order is still on the book
    "REJECTED": ST_REJECTED,
    "EXPIRED": ST_EXPIRED,
    "EXPIRED_IN_MATCH": ST_EXPIRED,  # self-trade prevention expired it
}

EXEC_TYPES: Final = frozenset(
    {
        "NEW",
        "CANCELED",
        "REPLACED",
        "REJECTED",
        "TRADE",
        "EXPIRED",
        "TRADE_PREVENTION",
        "AMENDMENT",  # USD-M: price/quantity amended
        "CALCULATED",  # USD-M: liquidation or ADL execution
    }
)
"""Execution types of ``executionReport.x`` / ``ORDER_TRADE_UPDATE.o.x``."""

SIDES: Final = {"BUY": BUY, "SELL": SELL}
SIDE_NAMES: Final = {BUY: "BUY", SELL: "SELL"}

TIF_NAMES: Final = {TIF_GTC: "GTC", TIF_IOC: "IOC", TIF_FOK: "FOK", TIF_GTX: "GTX"}
_TIFS: Final = {v: k for k, v in TIF_NAMES.items()}


def _bad(market: Market, what: str, field: str, value: str) -> BinanceMessageError:
    return BinanceMessageError(
        VENUE_NAMES[market], what, field, f"unknown value {value[:40]!r}", "malformed message"
    )


def status_code(status: str, market: Market = Market.SPOT, field: str = "$.status") -> int:
    """Return the ``ST_*`` code of a Binance order status (``field`` names it in errors)."""
    try:
        return ORDER_STATUS[status]
    except KeyError:
        raise _bad(market, "order", field, status) from None


def side_code(side: str, market: Market = Market.SPOT, field: str = "$.side") -> int:
    """Return ``BUY`` or ``SELL`` for ``"BUY"`` / ``"SELL"`` (``field`` names it in errors)."""
    try:
        return SIDES[side]
    except KeyError:
        raise _bad(market, "order", field, side) from None


def order_params(market: Market, order_type: int, tif: int) -> dict[str, str]:
    """Return the ``type`` (and ``timeInForce``) request parameters for an hftlib order."""
    if order_type == OT_MARKET:
        return {"type": "MARKET"}
    if order_type != OT_LIMIT:
        raise ValueError(f"unsupported order type {order_type}")
    if tif not in TIF_NAMES:
        raise ValueError(f"unsupported time in force {tif}")
    if tif == TIF_GTX and market == Market.SPOT:
        return {"type": "LIMIT_MAKER"}
    return {"type": "LIMIT", "timeInForce": TIF_NAMES[tif]}


def order_type_code(
    order_type: str, tif: str | None, market: Market = Market.SPOT
) -> tuple[int, int]:
    """Return ``(OT_*, TIF_*)`` read back from a Binance ``type`` and ``timeInForce``.

    Market orders read as ``TIF_IOC`` (they never rest); a missing time in force on a limit
    order is ``TIF_GTC``.
    """
    if order_type == "MARKET":
        return OT_MARKET, TIF_IOC
    if order_type == "LIMIT_MAKER":
        return OT_LIMIT, TIF_GTX
    if order_type != "LIMIT":
        raise _bad(market, "order", "$.type", order_type)
    if tif is None:
        return OT_LIMIT, TIF_GTC
    try:
        return OT_LIMIT, _TIFS[tif]
    except KeyError:
        raise _bad(market, "order", "$.timeInForce", tif) from None

"""Binance constants: markets, venue names, default rate limits, request weights.

Values from venue-protocols.md §1.7, §1.8 and §2. The rate limits here are only the
start-up defaults: the connector replaces them with ``exchangeInfo.rateLimits``
(:func:`hftlib.venues.binance.limits.limits_from_exchange_info`) once it has read them.
"""

from __future__ import annotations

import enum
from typing import Final

from hftlib.venue.ratelimit import ORDERS, RAW_REQUESTS, REQUEST_WEIGHT, Limit


class Market(enum.StrEnum):
    """A Binance market: spot or USD-M futures (they differ in URLs, rules and payloads)."""

    SPOT = "spot"
    USDM = "usdm"


VENUE_NAMES: Final = {Market.SPOT: "binance", Market.USDM: "binance-futures"}
"""The :class:`hftlib.instrument.Instrument` venue id of each market."""

NS_PER_MS: Final = 1_000_000
NS_PER_S: Final = 1_000_000_000

_SECOND: Final = NS_PER_S
_MINUTE: Final = 60 * _SECOND
_DAY: Final = 86_400 * _SECOND

INTERVAL_NS: Final = {
    "SECOND": _SECOND,
    "MINUTE": _MINUTE,
    "HOUR": 3_600 * _SECOND,
    "DAY": _DAY,
}
"""``rateLimits[].interval`` names (times ``intervalNum``) in ns."""

INTERVAL_LETTER_NS: Final = {"S": _SECOND, "M": _MINUTE, "H": 3_600 * _SECOND, "D": _DAY}
"""The unit letter of ``X-MBX-USED-WEIGHT-1M`` style headers in ns."""

DEFAULT_LIMITS: Final = {
    Market.SPOT: (
        Limit(kind=REQUEST_WEIGHT, interval_ns=_MINUTE, limit=6000),
        Limit(kind=RAW_REQUESTS, interval_ns=5 * _MINUTE, limit=61000),
        Limit(kind=ORDERS, interval_ns=10 * _SECOND, limit=50),
        Limit(kind=ORDERS, interval_ns=_DAY, limit=160000),
    ),
    Market.USDM: (
        Limit(kind=REQUEST_WEIGHT, interval_ns=_MINUTE, limit=2400),
        Limit(kind=ORDERS, interval_ns=_MINUTE, limit=1200),
        Limit(kind=ORDERS, interval_ns=10 * _SECOND, limit=300),
    ),
}

RECV_WINDOW_MS: Final = 5000
MAX_RECV_WINDOW_MS: Final = 60000

DEFAULT_DEPTH_LIMIT: Final = {Market.SPOT: 5000, Market.USDM: 1000}
"""Snapshot depth the connector asks for: the most each market serves."""

# Request weights (IP weight per minute) of the endpoints a connector uses; depth is
# separate because it depends on the number of levels.
WEIGHTS: Final = {
    Market.SPOT: {
        "exchangeInfo": 20,
        "time": 1,
        "order": 1,
        "cancel": 1,
        "cancelAll": 1,
        "queryOrder": 4,
        "openOrders": 6,
        "openOrdersAll": 80,
        "account": 20,
        "myTrades": 20,
    },
    Market.USDM: {
        "exchangeInfo": 1,
        "time": 1,
        "order": 0,
        "cancel": 1,
        "cancelAll": 1,
        "queryOrder": 1,
        "openOrders": 1,
        "openOrdersAll": 40,
        "account": 5,
        "balance": 5,
        "positionRisk": 5,
        "userTrades": 5,
        "listenKey": 1,
    },
}


def depth_weight(market: Market, limit: int) -> int:
    """Return the request weight of a REST depth snapshot of ``limit`` levels."""
    if limit <= 0:
        raise ValueError(f"depth limit must be > 0, got {limit}")
    if market == Market.SPOT:
        if limit > 5000:
            raise ValueError(f"spot depth limit is at most 5000, got {limit}")
        for top, weight in ((100, 5), (500, 25), (1000, 50)):
            if limit <= top:
                return weight
        return 250
    if limit > 1000:
        raise ValueError(f"USD-M depth limit is at most 1000, got {limit}")
    for top, weight in ((50, 2), (100, 5), (500, 10)):
        if limit <= top:
            return weight
    return 20

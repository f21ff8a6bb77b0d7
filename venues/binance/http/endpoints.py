"""The REST endpoints the connector calls, per market: method, path, weight, idempotence.

One table, so the client, the venue and the tests agree on every path. Weights are the
venue's request weights (:data:`hftlib.venues.binance.constants.WEIGHTS`); ``orders`` counts
against the per-account order limits; ``idempotent`` requests may be sent again after a
timeout, a 5xx or a 429 (a new order or a cancel-replace never is: sent twice it could
trade twice).

USD-M has no cancel-replace; :mod:`hftlib.venues.binance.venue` modifies there by cancel
then new (see its docstring for why not ``PUT /fapi/v1/order``).
"""

from __future__ import annotations

from typing import Final

import msgspec
from hftlib.venues.binance.constants import WEIGHTS, Market


class Endpoint(msgspec.Struct, frozen=True):
    """One REST call: ``method path``, its weight, orders counted, and whether it may repeat."""

    method: str
    path: str
    weight: int
    orders: int = 0
    idempotent: bool = True


def _spot() -> dict[str, Endpoint]:
    w = WEIGHTS[Market.SPOT]
    return {
        "time": Endpoint("GET", "/api/v3/time", w["time"]),
        "exchangeInfo": Endpoint("GET", "/api/v3/exchangeInfo", w["exchangeInfo"]),
        "newOrder": Endpoint("POST", "/api/v3/order", w["order"], 1, idempotent=False),
        "cancel": Endpoint("DELETE", "/api/v3/order", w["cancel"]),
        "cancelReplace": Endpoint(
            "POST", "/api/v3/order/cancelReplace", w["order"], 1, idempotent=False
        ),
        "cancelAll": Endpoint("DELETE", "/api/v3/openOrders", w["cancelAll"]),
        "queryOrder": Endpoint("GET", "/api/v3/order", w["queryOrder"]),
        "openOrders": Endpoint("GET", "/api/v3/openOrders", w["openOrders"]),
        "openOrdersAll": Endpoint("GET", "/api/v3/openOrders", w["openOrdersAll"]),
        "balances": Endpoint("GET", "/api/v3/account", w["account"]),
        "trades": Endpoint("GET", "/api/v3/myTrades", w["myTrades"]),
    }


def _usdm() -> dict[str, Endpoint]:
    w = WEIGHTS[Market.USDM]
    return {
        "time": Endpoint("GET", "/fapi/v1/time", w["time"]),
        "exchangeInfo": Endpoint("GET", "/fapi/v1/exchangeInfo", w["exchangeInfo"]),
        "newOrder": Endpoint("POST", "/fapi/v1/order", w["order"], 1, idempotent=False),
        "cancel": Endpoint("DELETE", "/fapi/v1/order", w["cancel"]),
        "cancelAll": Endpoint("DELETE", "/fapi/v1/allOpenOrders", w["cancelAll"]),
        "queryOrder": Endpoint("GET", "/fapi/v1/order", w["queryOrder"]),
        "openOrders": Endpoint("GET", "/fapi/v1/openOrders", w["openOrders"]),
        "openOrdersAll": Endpoint("GET", "/fapi/v1/openOrders", w["openOrdersAll"]),
        # /fapi/v2/account: its assets[] are the balances (walletBalance, availableBalance)
        "balances": Endpoint("GET", "/fapi/v2/account", w["account"]),
        "positions": Endpoint("GET", "/fapi/v2/positionRisk", w["positionRisk"]),
        "trades": Endpoint("GET", "/fapi/v1/userTrades", w["userTrades"]),
        "listenKeyNew": Endpoint("POST", "/fapi/v1/listenKey", w["listenKey"]),
        "listenKeyKeep": Endpoint("PUT", "/fapi/v1/listenKey", w["listenKey"]),
        "listenKeyClose": Endpoint("DELETE", "/fapi/v1/listenKey", w["listenKey"]),
    }


ENDPOINTS: Final = {Market.SPOT: _spot(), Market.USDM: _usdm()}


def depth_path(market: Market) -> str:
    """Return the REST depth-snapshot path of ``market``."""
    return "/api/v3/depth" if market == Market.SPOT else "/fapi/v1/depth"

"""Order requests: parameter checks in Binance's order and the venue's order record.

:func:`parse_new_order` reads ``POST /api/v3/order`` / ``POST /fapi/v1/order`` (and the WS API
``order.place``) parameters into an :class:`OrderSpec` or raises the error Binance gives for
the first problem: missing parameters (-1102), invalid enums (-1115/-1116/-1117), parameters
sent where they do not apply (-1106), bad characters (-1100) and filter failures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.rules import SymbolRules
from hftlib.sim.matching import STP_NAMES, Order

from hftlib.engine.types import BUY, OT_LIMIT, OT_MARKET, SELL, TIF_FOK, TIF_GTC, TIF_GTX, TIF_IOC

SIDES = {"BUY": BUY, "SELL": SELL}
TIFS = {"GTC": TIF_GTC, "IOC": TIF_IOC, "FOK": TIF_FOK, "GTX": TIF_GTX}
CLIENT_ID = re.compile(r"^[\.A-Za-z0-9:/_-]{1,36}$")
CLIENT_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A checked new-order request."""

    symbol: str
    side: int
    type_name: str
    order_type: int
    tif_name: str
    tif: int
    qty: int
    price: int | None
    client_id: str | None
    resp_type: str
    stp: int
    reduce_only: bool


@dataclass(eq=False, slots=True)
class VenueOrder:
    """The venue's record of one order: the engine order plus what Binance reports."""

    symbol: str
    account: int
    order: Order
    client_id: str
    type_name: str
    tif_name: str
    time_ms: int
    update_ms: int
    reduce_only: bool = False
    lock_asset: str = ""
    lock_left: Decimal = Decimal(0)
    """Spot: the amount of ``lock_asset`` still locked for the order."""

    @property
    def order_id(self) -> int:
        """Binance ``orderId`` (the engine's order id)."""
        order_id: int = self.order.order_id
        return order_id

    @property
    def stp_name(self) -> str:
        """Self-trade prevention mode name."""
        name: str = STP_NAMES[self.order.stp]
        return name


def text(params: Mapping[str, object], name: str) -> str | None:
    """Return a parameter as text, or None when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def required(params: Mapping[str, object], name: str) -> str:
    """Return a mandatory parameter; raise -1102 when it is missing."""
    value = text(params, name)
    if value is None:
        raise E.missing(name)
    return value


def int_param(params: Mapping[str, object], name: str, default: int) -> int:
    """Return an optional non-negative integer parameter; raise -1100 when malformed."""
    value = text(params, name)
    if value is None:
        return default
    if not value.isdigit():
        raise E.illegal(name, "^[0-9]{1,20}$")
    return int(value)


def parse_new_order(
    params: Mapping[str, object], rules: SymbolRules, market: str, stp_default: str
) -> OrderSpec:
    """Check new-order parameters against the symbol's rules and return the spec."""
    side_name = required(params, "side")
    type_name = required(params, "type")
    if side_name not in SIDES:
        raise E.ApiError(E.INVALID_SIDE, "Invalid side.")
    types = ("LIMIT", "LIMIT_MAKER", "MARKET") if market == "spot" else ("LIMIT", "MARKET")
    if type_name not in types:
        raise E.ApiError(E.INVALID_ORDER_TYPE, "Invalid orderType.")
    tif_text = text(params, "timeInForce")
    if type_name == "LIMIT":
        tif_name = required(params, "timeInForce")
        allowed = ("GTC", "IOC", "FOK") if market == "spot" else ("GTC", "IOC", "FOK", "GTX")
        if tif_name not in allowed:
            raise E.ApiError(E.INVALID_TIF, "Invalid timeInForce.")
        price_text: str | None = required(params, "price")
    elif type_name == "LIMIT_MAKER":
        if tif_text is not None:
            raise E.not_required("timeInForce")
        tif_name, price_text = "GTX", required(params, "price")
    else:
        if text(params, "price") is not None:
            raise E.not_required("price")
        if text(params, "quoteOrderQty") is not None:
            raise E.not_required("quoteOrderQty")
        tif_name, price_text = "GTC", None
    qty = rules.parse_qty(required(params, "quantity"))
    price = rules.parse_price(price_text) if price_text is not None else None
    reduce_only = _flag(params, "reduceOnly") if market == "usdm" else False
    if market == "usdm":
        position_side = text(params, "positionSide") or "BOTH"
        if position_side != "BOTH":
            raise E.ApiError(-4061, "Order's position side does not match user's setting.")
    client_id = text(params, "newClientOrderId")
    if client_id is not None and not CLIENT_ID.match(client_id):
        raise E.illegal("newClientOrderId", CLIENT_ID_RANGE)
    resp_types = ("ACK", "RESULT", "FULL") if market == "spot" else ("ACK", "RESULT")
    default_resp = "FULL" if market == "spot" else "ACK"
    resp_type = text(params, "newOrderRespType") or default_resp
    if resp_type not in resp_types:
        raise E.illegal("newOrderRespType", "|".join(resp_types))
    stp_name = text(params, "selfTradePreventionMode") or stp_default
    if stp_name not in STP_NAMES:
        raise E.illegal("selfTradePreventionMode", "|".join(STP_NAMES))
    if price is not None:
        rules.check_notional(price, qty, reduce_only=reduce_only)
    return OrderSpec(
        symbol=rules.symbol,
        side=SIDES[side_name],
        type_name=type_name,
        order_type=OT_MARKET if type_name == "MARKET" else OT_LIMIT,
        tif_name=tif_name,
        tif=TIFS[tif_name],
        qty=qty,
        price=price,
        client_id=client_id,
        resp_type=resp_type,
        stp=STP_NAMES.index(stp_name),
        reduce_only=reduce_only,
    )


def _flag(params: Mapping[str, object], name: str) -> bool:
    value = text(params, name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise E.illegal(name, "true|false")
    return value.lower() == "true"

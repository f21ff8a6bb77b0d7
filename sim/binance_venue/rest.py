"""REST endpoints of the local venue: Binance spot ``/api/v3`` and USD-M ``/fapi``.

Every request goes through the same pipeline, in Binance's order: injected faults (forced
429/418, failures before processing, delay), request weight (``X-MBX-USED-WEIGHT-1M``; 429,
then 418), authentication by security type (none, API key, signed: key -2014/-2015,
signature -1102/-1022, timestamp -1021), the order-count limit for order endpoints
(``X-MBX-ORDER-COUNT-*``), the handler, and injected failures after processing (the
"unknown outcome" cases: the order is placed but the client gets a 503, a hang or a cut
connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from hftlib.sim.binance_venue import auth, render
from hftlib.sim.binance_venue import errors as E

if TYPE_CHECKING:
    from hftlib.sim.binance_venue.server import BinanceVenue

Handler = Callable[["BinanceVenue", Mapping[str, str], int], Any]
Weight = Callable[[Mapping[str, str]], int]

NONE, KEY, SIGNED = "NONE", "USER_STREAM", "SIGNED"
VENUE: web.AppKey[BinanceVenue] = web.AppKey("venue")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST route: handler, weight, security type, and whether it places orders."""

    handler: Handler
    weight: Weight
    security: str
    order: bool = False


def fixed(n: int) -> Weight:
    """Return a weight function of constant ``n``."""
    return lambda _params: n


def spot_depth_weight(params: Mapping[str, str]) -> int:
    """Spot ``/depth`` weight by ``limit`` (venue-protocols §1.3)."""
    limit = int(params.get("limit") or 100) if (params.get("limit") or "1").isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def usdm_depth_weight(params: Mapping[str, str]) -> int:
    """USD-M ``/depth`` weight by ``limit``."""
    limit = int(params.get("limit") or 500) if (params.get("limit") or "1").isdigit() else 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _per_symbol(with_symbol: int, without: int) -> Weight:
    return lambda params: with_symbol if params.get("symbol") else without


# --- handlers -----------------------------------------------------------------------------------
def _ping(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return {}


def _time(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return {"serverTime": v.now_ms()}


def _exchange_info(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange_info(p)


def _depth(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.depth_snapshot(p)


def _new_order(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.new_order(a, p)


def _cancel(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.cancel_order(a, p)


def _query(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.query_order(a, p)


def _open_orders(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.open_orders(a, p)


def _cancel_all_spot(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    cancelled = v.exchange.cancel_all(a, p)
    if not cancelled:  # Binance answers an empty cancel-all with an error, not []
        raise E.ApiError(E.CANCEL_REJECTED, E.MSG_UNKNOWN_ORDER)
    return cancelled


def _cancel_all_usdm(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    v.exchange.cancel_all(a, p)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def _modify(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.modify_order(a, p)


def _cancel_replace(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.cancel_replace(a, p)


def _amend(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.amend_keep_priority(a, p)


def _spot_account(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.spot_account(a)


def _my_trades(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.my_trades(a, p)


def _futures_account(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.futures_account(a)


def _futures_balance(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return [render.futures_balance(v.exchange.futures_account(a)["assets"][0], a)]


def _position_risk(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return v.exchange.position_risk(a, p)


def _listen_key_new(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return {"listenKey": v.listen_keys.create(a)}


def _listen_key_keep(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    return {"listenKey": v.listen_keys.extend(a)}


def _listen_key_close(v: BinanceVenue, p: Mapping[str, str], a: int) -> Any:
    v.close_listen_key(a)
    return {}


SPOT: dict[tuple[str, str], Endpoint] = {
    ("GET", "/api/v3/ping"): Endpoint(_ping, fixed(1), NONE),
    ("GET", "/api/v3/time"): Endpoint(_time, fixed(1), NONE),
    ("GET", "/api/v3/exchangeInfo"): Endpoint(_exchange_info, fixed(20), NONE),
    ("GET", "/api/v3/depth"): Endpoint(_depth, spot_depth_weight, NONE),
    ("POST", "/api/v3/order"): Endpoint(_new_order, fixed(1), SIGNED, order=True),
    ("DELETE", "/api/v3/order"): Endpoint(_cancel, fixed(1), SIGNED),
    ("GET", "/api/v3/order"): Endpoint(_query, fixed(4), SIGNED),
    ("GET", "/api/v3/openOrders"): Endpoint(_open_orders, _per_symbol(6, 80), SIGNED),
    ("DELETE", "/api/v3/openOrders"): Endpoint(_cancel_all_spot, fixed(1), SIGNED),
    ("POST", "/api/v3/order/cancelReplace"): Endpoint(
        _cancel_replace, fixed(1), SIGNED, order=True
    ),
    ("PUT", "/api/v3/order/amend/keepPriority"): Endpoint(_amend, fixed(4), SIGNED),
    ("GET", "/api/v3/account"): Endpoint(_spot_account, fixed(20), SIGNED),
    ("GET", "/api/v3/myTrades"): Endpoint(_my_trades, fixed(20), SIGNED),
}

USDM: dict[tuple[str, str], Endpoint] = {
    ("GET", "/fapi/v1/ping"): Endpoint(_ping, fixed(1), NONE),
    ("GET", "/fapi/v1/time"): Endpoint(_time, fixed(1), NONE),
    ("GET", "/fapi/v1/exchangeInfo"): Endpoint(_exchange_info, fixed(1), NONE),
    ("GET", "/fapi/v1/depth"): Endpoint(_depth, usdm_depth_weight, NONE),
    ("POST", "/fapi/v1/order"): Endpoint(_new_order, fixed(0), SIGNED, order=True),
    ("PUT", "/fapi/v1/order"): Endpoint(_modify, fixed(1), SIGNED, order=True),
    ("DELETE", "/fapi/v1/order"): Endpoint(_cancel, fixed(1), SIGNED),
    ("GET", "/fapi/v1/order"): Endpoint(_query, fixed(1), SIGNED),
    ("GET", "/fapi/v1/openOrders"): Endpoint(_open_orders, _per_symbol(1, 40), SIGNED),
    ("DELETE", "/fapi/v1/allOpenOrders"): Endpoint(_cancel_all_usdm, fixed(1), SIGNED),
    ("GET", "/fapi/v1/userTrades"): Endpoint(_my_trades, fixed(5), SIGNED),
    ("POST", "/fapi/v1/listenKey"): Endpoint(_listen_key_new, fixed(1), KEY),
    ("PUT", "/fapi/v1/listenKey"): Endpoint(_listen_key_keep, fixed(1), KEY),
    ("DELETE", "/fapi/v1/listenKey"): Endpoint(_listen_key_close, fixed(1), KEY),
    ("GET", "/fapi/v2/account"): Endpoint(_futures_account, fixed(5), SIGNED),
    ("GET", "/fapi/v3/account"): Endpoint(_futures_account, fixed(5), SIGNED),
    ("GET", "/fapi/v2/balance"): Endpoint(_futures_balance, fixed(5), SIGNED),
    ("GET", "/fapi/v3/balance"): Endpoint(_futures_balance, fixed(5), SIGNED),
    ("GET", "/fapi/v2/positionRisk"): Endpoint(_position_risk, fixed(5), SIGNED),
    ("GET", "/fapi/v3/positionRisk"): Endpoint(_position_risk, fixed(5), SIGNED),
}


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return a JSON response serialised with orjson."""
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def parse_params(query: str, body: str) -> dict[str, str]:
    """Merge query and body parameters (the query wins); raise -1101 on a repeated name."""
    out: dict[str, str] = {}
    for source in (body, query):
        seen: set[str] = set()
        for key, value in parse_qsl(source, keep_blank_values=True):
            if key in seen:
                raise E.ApiError(E.DUPLICATE_PARAM, "Duplicate values for a parameter detected.")
            seen.add(key)
            out[key] = value
    return out


def make_handler(endpoint: Endpoint) -> Callable[[web.Request], Any]:
    """Return the aiohttp handler running one endpoint through the request pipeline."""

    async def handle(request: web.Request) -> web.StreamResponse:
        venue = request.app[VENUE]
        headers: dict[str, str] = {}
        ip = request.remote or "127.0.0.1"
        try:
            rule = venue.faults.before_request(request.path, venue, ip)
            if venue.faults.rest_delay:
                await asyncio.sleep(venue.faults.rest_delay)
            if rule is not None and rule.mode == "error":
                return json_response(
                    {
                        "code": E.UNKNOWN,
                        "msg": "Internal error; unable to process your request. Please try again.",
                    },
                    status=rule.status,
                )
            query = request.rel_url.raw_query_string
            body = await request.text() if request.can_read_body else ""
            params = parse_params(query, body)
            now = venue.now_ms()
            headers.update(venue.limiter.charge(ip, endpoint.weight(params), now))
            account = 0
            if endpoint.security != NONE:
                cfg = auth.account_for_key(
                    request.headers.get("X-MBX-APIKEY"), venue.exchange.by_key
                )
                account = venue.exchange.account_id(cfg)
                if endpoint.security == SIGNED:
                    auth.check_rest_signature(cfg, query, body)
                    auth.check_timestamp(params, now)
            if endpoint.order:
                headers.update(venue.limiter.count_order(account, now))
            result = endpoint.handler(venue, params, account)
        except E.ApiError as exc:
            used = venue.limiter.used_weight(ip, venue.now_ms())
            merged = {"X-MBX-USED-WEIGHT-1M": str(used), **headers, **exc.headers}
            return json_response(exc.body(), status=exc.status, headers=merged)
        if rule is not None:
            return await _unknown_outcome(request, rule.mode, rule.status, rule.hang)
        return json_response(result, headers=headers)

    return handle


async def _unknown_outcome(
    request: web.Request, mode: str, status: int, hang: float
) -> web.StreamResponse:
    """Answer a request that was carried out as if its outcome were unknown to the client."""
    if mode == "disconnect":
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=status)
    if mode == "timeout":
        await asyncio.sleep(hang)
    return json_response({"code": E.TIMEOUT, "msg": E.MSG_TIMEOUT}, status=status)


def add_routes(app: web.Application, market: str) -> None:
    """Register the market's Binance REST routes."""
    table = SPOT if market == "spot" else USDM
    for (method, path), endpoint in table.items():
        app.router.add_route(method, path, make_handler(endpoint))

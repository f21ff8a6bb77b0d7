"""WebSocket endpoints: market streams, the spot WS API and the USD-M listen-key stream.

Market streams (spot ``/ws``, ``/ws/<stream>``, ``/stream?streams=a/b``; USD-M the same under
``/public`` and ``/market``) take live ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS``/
``SET_PROPERTY``/``GET_PROPERTY`` requests. Control errors use Binance's stream codes: 1 unknown
method or property, 2 invalid request, 3 invalid JSON.

The WS API (``/ws-api/v3``, spot) answers ``{"id", "status", "result"|"error", "rateLimits"}``
and delivers user data as ``{"subscriptionId", "event"}`` to
``userDataStream.subscribe.signature`` subscriptions. USD-M user data goes to
``/private/ws/<listenKey>`` raw.

Every socket is pinged by the server (``ping_interval``) and closed when a ping stays
unanswered for ``pong_timeout``; a ping from the client is answered with its payload.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web
from hftlib.sim.binance_venue import auth
from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.orders import text
from hftlib.sim.binance_venue.rest import SPOT, VENUE
from hftlib.sim.binance_venue.streams import Conn

if TYPE_CHECKING:
    from hftlib.sim.binance_venue.server import BinanceVenue

OnText = Callable[["BinanceVenue", Conn, str], Awaitable[None]]
MAX_STREAMS = 1024


async def serve(
    request: web.Request, conn_factory: Callable[[web.WebSocketResponse], Conn], on_text: OnText
) -> web.WebSocketResponse:
    """Run one WebSocket connection until it closes."""
    venue = request.app[VENUE]
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = conn_factory(ws)
    conn.ip = request.remote or "127.0.0.1"
    conn.transport = request.transport
    conn.connected_ms = venue.now_ms()
    venue.hub.add(conn)
    conn.writer = venue.spawn(f"ws-writer-{id(conn)}", venue.hub.write_loop(conn))
    venue.after_connect(conn)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if not conn.silent:
                    await on_text(venue, conn, msg.data)
            elif msg.type == WSMsgType.PING:
                if not conn.silent:
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                conn.ping_due = None
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    finally:
        venue.hub.remove(conn)
        if conn.writer is not None:
            conn.writer.cancel()
    return ws


# --- market streams -----------------------------------------------------------------------------
def market_handler(route: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return the handler of a market-stream path under a USD-M route (``any`` for spot)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        venue = request.app[VENUE]
        tail = request.match_info.get("tail", "")
        combined = request.path.rstrip("/").endswith("/stream")
        if combined:
            names = [s for s in request.query.get("streams", "").split("/") if s]
        else:
            names = [s for s in tail.split("/") if s]
            if len(names) == 1 and names[0] in venue.listen_keys.keys and venue.market == "usdm":
                return await private_stream(request, names[0])
        if len(names) > MAX_STREAMS:
            raise web.HTTPBadRequest(text="too many streams")

        def make(ws: web.WebSocketResponse) -> Conn:
            conn = Conn(ws, "market", route=route, combined=combined)
            for name in names:
                venue.hub.subscribe(conn, name)
            return conn

        return await serve(request, make, _market_text)

    return handle


async def _market_text(venue: BinanceVenue, conn: Conn, data: str) -> None:
    hub = venue.hub
    try:
        req = orjson.loads(data)
    except orjson.JSONDecodeError:
        hub.send(
            conn,
            orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value"}, "id": None}),
        )
        return
    if not isinstance(req, dict):
        hub.send(
            conn,
            orjson.dumps(
                {"error": {"code": 2, "msg": "Invalid request: expected an object"}, "id": None}
            ),
        )
        return
    rid = req.get("id")
    if rid is not None and not isinstance(rid, (int, str)):
        hub.send(
            conn,
            orjson.dumps(
                {
                    "error": {
                        "code": 2,
                        "msg": "Invalid request: request ID must be an unsigned integer",
                    },
                    "id": None,
                }
            ),
        )
        return
    method, params = req.get("method"), req.get("params")
    result: Any = None
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            hub.send(
                conn,
                orjson.dumps(
                    {
                        "error": {
                            "code": 2,
                            "msg": "Invalid request: params must be a list of stream names",
                        },
                        "id": rid,
                    }
                ),
            )
            return
        for name in params:
            if method == "SUBSCRIBE":
                if len(conn.streams) >= MAX_STREAMS:
                    break
                hub.subscribe(conn, name)
            else:
                hub.unsubscribe(conn, name)
    elif method == "LIST_SUBSCRIPTIONS":
        result = list(conn.streams)
    elif method in ("SET_PROPERTY", "GET_PROPERTY"):
        if not isinstance(params, list) or not params or params[0] != "combined":
            hub.send(
                conn,
                orjson.dumps(
                    {"error": {"code": 1, "msg": "Invalid request: unknown property"}, "id": rid}
                ),
            )
            return
        if method == "SET_PROPERTY":
            if len(params) != 2 or not isinstance(params[1], bool):
                hub.send(
                    conn,
                    orjson.dumps(
                        {
                            "error": {
                                "code": 2,
                                "msg": "Invalid request: property value must be a boolean",
                            },
                            "id": rid,
                        }
                    ),
                )
                return
            conn.combined = params[1]
        else:
            result = conn.combined
    else:
        hub.send(
            conn,
            orjson.dumps(
                {
                    "error": {"code": 1, "msg": f"Invalid request: unknown method {method!r}"},
                    "id": rid,
                }
            ),
        )
        return
    hub.send(conn, orjson.dumps({"result": result, "id": rid}))


# --- USD-M private stream -----------------------------------------------------------------------
async def private_handler(request: web.Request) -> web.StreamResponse:
    """``/private/ws/<listenKey>``: the USD-M user-data stream."""
    return await private_stream(request, request.match_info.get("key", ""))


async def private_stream(request: web.Request, key: str) -> web.StreamResponse:
    """Serve a listen key's user-data events; answer 400 -1125 for an unknown key."""
    venue = request.app[VENUE]
    account = venue.listen_keys.account_of(key, venue.now_ms())
    if account is None:
        body = orjson.dumps({"code": E.INVALID_LISTEN_KEY, "msg": "This listenKey does not exist."})
        return web.Response(body=body, status=400, content_type="application/json")

    def make(ws: web.WebSocketResponse) -> Conn:
        return Conn(ws, "private", account=account, listen_key=key)

    async def ignore(venue: BinanceVenue, conn: Conn, data: str) -> None:
        return None

    return await serve(request, make, ignore)


# --- spot WS API --------------------------------------------------------------------------------
async def ws_api_handler(request: web.Request) -> web.StreamResponse:
    """``/ws-api/v3``: request/response over one socket, user data by subscription."""

    def make(ws: web.WebSocketResponse) -> Conn:
        return Conn(ws, "api")

    return await serve(request, make, _api_text)


WsMethod = Callable[["BinanceVenue", Conn, Mapping[str, Any], int], Any]


def _rest(path: str, method: str = "GET") -> WsMethod:
    endpoint = SPOT[(method, path)]

    def call(venue: BinanceVenue, conn: Conn, params: Mapping[str, Any], account: int) -> Any:
        return endpoint.handler(venue, {k: str(v) for k, v in params.items()}, account)

    return call


def _subscribe(venue: BinanceVenue, conn: Conn, params: Mapping[str, Any], account: int) -> Any:
    if account in conn.subscriptions.values():
        raise E.ApiError(-2035, "User Data Stream subscription already active.")
    sub_id = venue.next_subscription_id()
    conn.subscriptions[sub_id] = account
    return {"subscriptionId": sub_id}


def _unsubscribe(venue: BinanceVenue, conn: Conn, params: Mapping[str, Any], account: int) -> Any:
    sub = params.get("subscriptionId")
    if sub is None:
        conn.subscriptions.clear()
        return {}
    if not isinstance(sub, int) or sub not in conn.subscriptions:
        raise E.ApiError(-2036, "Subscription ID not found.")
    del conn.subscriptions[sub]
    return {}


def _subscriptions(venue: BinanceVenue, conn: Conn, params: Mapping[str, Any], account: int) -> Any:
    return [{"subscriptionId": s} for s in sorted(conn.subscriptions)]


def _status(venue: BinanceVenue, conn: Conn, params: Mapping[str, Any], account: int) -> Any:
    return {
        "apiKey": None,
        "authorizedSince": None,
        "connectedSince": conn.connected_ms,
        "returnRateLimits": True,
        "serverTime": venue.now_ms(),
        "userDataStream": bool(conn.subscriptions),
    }


# method -> (function, weight, signed, places an order)
WS_METHODS: dict[str, tuple[WsMethod, int, bool, bool]] = {
    "ping": (_rest("/api/v3/ping"), 1, False, False),
    "time": (_rest("/api/v3/time"), 1, False, False),
    "exchangeInfo": (_rest("/api/v3/exchangeInfo"), 20, False, False),
    "depth": (_rest("/api/v3/depth"), 5, False, False),
    "session.status": (_status, 2, False, False),
    "session.subscriptions": (_subscriptions, 2, False, False),
    "userDataStream.subscribe.signature": (_subscribe, 2, True, False),
    "userDataStream.unsubscribe": (_unsubscribe, 2, False, False),
    "order.place": (_rest("/api/v3/order", "POST"), 1, True, True),
    "order.cancel": (_rest("/api/v3/order", "DELETE"), 1, True, False),
    "order.status": (_rest("/api/v3/order"), 4, True, False),
    "order.cancelReplace": (_rest("/api/v3/order/cancelReplace", "POST"), 1, True, True),
    "order.amend.keepPriority": (_rest("/api/v3/order/amend/keepPriority", "PUT"), 4, True, False),
    "openOrders.status": (_rest("/api/v3/openOrders"), 6, True, False),
    "openOrders.cancelAll": (_rest("/api/v3/openOrders", "DELETE"), 1, True, False),
    "account.status": (_rest("/api/v3/account"), 20, True, False),
    "myTrades": (_rest("/api/v3/myTrades"), 20, True, False),
}


async def _api_text(venue: BinanceVenue, conn: Conn, data: str) -> None:
    hub = venue.hub
    ip = conn.ip
    try:
        req = orjson.loads(data)
    except orjson.JSONDecodeError:
        req = None
    if not isinstance(req, dict):
        body = {
            "id": None,
            "status": 400,
            "error": {"code": E.UNKNOWN, "msg": "Malformed request: not a JSON object."},
        }
        hub.send(conn, orjson.dumps(body))
        return
    rid = req.get("id")
    method = req.get("method")
    params = req.get("params") or {}
    order_counts: dict[str, str] = {}
    rule = None
    try:
        if not isinstance(method, str):
            raise E.missing("method")
        if not isinstance(params, dict):
            raise E.ApiError(E.UNKNOWN, "Malformed request: 'params' must be an object.")
        entry = WS_METHODS.get(method)
        if entry is None:
            raise E.ApiError(-1102, f"Unknown method '{method}'.")  # Binance answers 400 here too
        func, weight, signed, places = entry
        rule = venue.faults.before_request(method, venue, ip)
        if rule is not None and rule.mode == "error":
            raise E.ApiError(
                E.UNKNOWN,
                "Internal error; unable to process your request. Please try again.",
                status=rule.status,
            )
        now = venue.now_ms()
        venue.limiter.charge(ip, weight, now)
        account = 0
        if signed:
            cfg = auth.account_for_key(text(params, "apiKey"), venue.exchange.by_key)
            account = venue.exchange.account_id(cfg)
            auth.check_ws_signature(cfg, params)
            auth.check_timestamp(params, now)
        if places:
            order_counts = venue.limiter.count_order(account, now)
        result = func(
            venue,
            conn,
            {k: v for k, v in params.items() if k not in ("apiKey", "signature")},
            account,
        )
    except E.ApiError as exc:
        error: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
        if exc.data is not None:
            error["data"] = exc.data
        hub.send(
            conn,
            orjson.dumps(
                {
                    "id": rid,
                    "status": exc.status,
                    "error": error,
                    "rateLimits": venue.rate_limits(ip, 0),
                }
            ),
        )
        return
    if rule is not None:
        if rule.mode == "timeout":
            return
        if rule.mode == "disconnect":
            await conn.ws.close()
            return
        error = {"code": E.TIMEOUT, "msg": E.MSG_TIMEOUT}
        hub.send(conn, orjson.dumps({"id": rid, "status": rule.status, "error": error}))
        return
    limits = venue.rate_limits(ip, account if order_counts else 0)
    hub.send(conn, orjson.dumps({"id": rid, "status": 200, "result": result, "rateLimits": limits}))

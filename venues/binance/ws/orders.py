"""Spot order entry over the WS API: ``order.place``, ``order.cancel``, ``order.cancelReplace``.

:class:`WsOrderSession` keeps one WS API socket open (reconnecting with the venue's backoff)
and sends signed requests on it (venue-protocols §1.6: ``apiKey``, ``timestamp``,
``recvWindow`` and ``signature`` over the sorted parameters,
:meth:`~hftlib.venues.binance.credentials.Credentials.sign_ws`). Responses are matched to
requests by ``id``; every response's ``rateLimits[]`` corrects the shared limiter.

Sending is split in two so a caller can write a request from the task that decided it and
wait for the answer elsewhere: :meth:`WsOrderSession.send` returns once the frame is handed
to the socket, with a future of the response; :meth:`WsOrderSession.result` turns that
response into the result's raw JSON or the same exceptions the REST client raises
(:class:`~hftlib.venues.binance.http.client.BinanceApiError`,
:class:`~hftlib.venue.errors.VenueTimeoutError`, ``VenueConnectionError``,
``VenueRateLimitError``, ``VenueAuthError``), so
:class:`~hftlib.venues.binance.execution.BinanceExecution` applies one outcome policy to both
transports.

Defined outcomes
----------------
no answer within ``timeout_s``
    ``VenueTimeoutError`` (the order's outcome is unknown; a late answer is counted and
    dropped).
socket lost with requests in flight
    Each raises ``VenueConnectionError`` (unknown outcome); the socket reconnects after a
    backoff delay (at once after ``serverShutdown``). While it is down,
    :attr:`WsOrderSession.up` is false and the connector sends over REST.
HTTP-like status 429 / 418 in a response
    The limiter backs off / bans until ``error.data.retryAfter``; ``VenueRateLimitError``.
-1021 (timestamp outside ``recvWindow``)
    The clock offset is measured again; the request (which did not run) raises
    ``BinanceApiError`` and is reported rejected.
malformed or unknown frames
    Counted (``bad.<category>``) and skipped.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from typing import Any, Final

import aiohttp
import orjson
from hftlib.venues.binance import userdata as ud
from hftlib.venues.binance.errors import Action, BinanceMessageError, ErrorCode, classify
from hftlib.venues.binance.http.client import BinanceApiError, BinanceHttp
from hftlib.venues.binance.limits import observe_penalty, observe_rate_limits
from hftlib.venues.binance.schemas import WsApiResponse
from hftlib.venues.binance.urls import BinanceUrls
from hftlib.venues.binance.ws.client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_SILENCE_S,
    SHUTDOWN,
    Reconnect,
    SocketLost,
    frames,
    open_socket,
)

from hftlib.venue.errors import (
    VenueAuthError,
    VenueConnectionError,
    VenueError,
    VenueRateLimitError,
    VenueTimeoutError,
)

DEFAULT_TIMEOUT_S: Final = 10.0

# method -> (request weight, orders counted), as the venue charges them
METHODS: Final = {
    "order.place": (1, 1),
    "order.cancel": (1, 0),
    "order.cancelReplace": (1, 1),
}
_TEXT: Final = aiohttp.WSMsgType.TEXT
_SHUTDOWN_EVENT: Final = b"serverShutdown"


class WsOrderSession:
    """Signed order requests over one spot WS API socket (see the module doc).

    Parameters
    ----------
    http : BinanceHttp
        The REST client: session, credentials, clock offset, limiter, ``recvWindow``.
    urls : BinanceUrls
        ``ws_api`` is the socket's URL.
    reconnect : Reconnect
        Paces reconnects.
    timeout_s : float
        Time allowed for an answer. Default 10.
    silence_s, connect_timeout_s : float
        As for market data. Defaults 60 and 10.
    """

    def __init__(
        self,
        http: BinanceHttp,
        urls: BinanceUrls,
        reconnect: Reconnect,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        silence_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if http.credentials is None:
            raise VenueAuthError(http.venue, "order entry needs API credentials")
        self.http = http
        self.venue = http.venue
        self.urls = urls
        self.reconnect = reconnect
        self.timeout_s = timeout_s
        self.silence_s = silence_s
        self.connect_timeout_s = connect_timeout_s
        self.counts: Counter[str] = Counter()
        self.connected = asyncio.Event()
        """Set while the socket is open."""
        self.on_written: Callable[[int], None] | None = None
        """Called with the wall clock (ns) right after each request frame is written."""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[int, tuple[asyncio.Future[WsApiResponse], asyncio.TimerHandle]] = {}
        self._ids = itertools.count(1)
        self._api_key = http.credentials.api_key
        self._sign = http.credentials.sign_ws
        self._dumps = orjson.dumps

    @property
    def up(self) -> bool:
        """True while requests can be sent on the socket."""
        ws = self._ws
        return ws is not None and not ws.closed

    # --- the socket -------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the socket open and read answers forever (run it as a task)."""
        while True:
            try:
                ws = await open_socket(
                    self.http.session, self.urls.ws_api, self.venue, self.connect_timeout_s
                )
            except VenueError:
                self.counts["connect.failed"] += 1
                await self.reconnect.wait()
                continue
            self.counts["connect"] += 1
            self._ws = ws
            self.connected.set()
            reason = "closed"
            try:
                async with aclosing(frames(ws, self.venue, self.silence_s)) as stream:
                    async for raw, _local in stream:
                        if self._on_frame(raw):
                            reason = SHUTDOWN
                            break
            except SocketLost as exc:
                reason = exc.reason
            finally:
                self._ws = None
                self.connected.clear()
                self.counts[f"lost.{reason}"] += 1
                self._fail_all(reason)
                await ws.close()
            await self.reconnect.wait(reason == SHUTDOWN)

    def _on_frame(self, raw: bytes) -> bool:
        """Settle the request a frame answers; return True for a ``serverShutdown`` notice."""
        try:
            kind, value = ud.parse_ws_api_frame(raw)
        except BinanceMessageError as exc:
            if _SHUTDOWN_EVENT in raw:
                return True
            self.counts[f"bad.{exc.category}"] += 1
            return False
        if not isinstance(value, WsApiResponse):
            self.counts[f"event.{value.event}"] += 1  # no subscription here: not expected
            return False
        self.reconnect.healthy()
        observe_rate_limits(self.http.limiter, value.rate_limits)
        entry = self._pending.pop(value.id, None) if isinstance(value.id, int) else None
        if entry is None:
            self.counts["response.unexpected"] += 1  # e.g. the answer after a timeout
            return False
        future, timer = entry
        timer.cancel()
        if not future.done():
            future.set_result(value)
        return False

    def _fail_all(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future, timer in pending.values():
            timer.cancel()
            if not future.done():
                future.set_exception(
                    VenueConnectionError(self.venue, f"WS API socket {reason} before the answer")
                )

    def _expire(self, rid: int) -> None:
        entry = self._pending.pop(rid, None)
        if entry is not None and not entry[0].done():
            self.counts["timeout"] += 1
            entry[0].set_exception(
                VenueTimeoutError(self.venue, f"no WS API answer in {self.timeout_s}s")
            )

    async def close(self) -> None:
        """Close the socket (the :meth:`run` task is cancelled by its owner)."""
        ws = self._ws
        if ws is not None:
            await ws.close()

    # --- requests ---------------------------------------------------------------------------

    async def send(self, method: str, params: dict[str, object]) -> asyncio.Future[WsApiResponse]:
        """Sign and write one request; return the future of its answer.

        ``params`` is completed in place (key, time, signature). Raises
        ``VenueConnectionError`` when the socket is down or fails under the write (the
        request may or may not have left: an unknown outcome for an order), and the
        limiter's ``VenueRateLimitError`` before anything is written.
        """
        weight, orders = METHODS[method]
        limiter = self.http.limiter
        if limiter.try_acquire(weight, orders):  # charged at once unless it must wait
            await limiter.acquire(weight, orders)
        ws = self._ws
        if ws is None or ws.closed:
            raise VenueConnectionError(self.venue, "the WS API socket is not open")
        http = self.http
        params["apiKey"] = self._api_key
        params["recvWindow"] = http.recv_window_ms
        params["timestamp"] = http.now_ms()
        params["signature"] = self._sign(params)
        rid = next(self._ids)
        frame = self._dumps({"id": rid, "method": method, "params": params})
        try:
            await ws.send_frame(frame, _TEXT)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self.counts["send.failed"] += 1
            raise VenueConnectionError(
                self.venue, f"{method}: {type(exc).__name__}: {exc}"
            ) from None
        if self.on_written is not None:
            self.on_written(time.time_ns())
        self.counts["sent"] += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WsApiResponse] = loop.create_future()
        self._pending[rid] = (future, loop.call_later(self.timeout_s, self._expire, rid))
        return future

    async def result(self, future: asyncio.Future[WsApiResponse]) -> bytes:
        """Wait for an answer; return its ``result`` JSON or raise as the REST client does."""
        resp = await future
        if resp.status < 400 and resp.error is None:
            return bytes(resp.result)
        err = resp.error
        code, msg = (err.code, err.msg) if err is not None else (0, "")
        data = err.data if err is not None else None
        self.counts[f"error.{code}"] += 1
        if resp.status in (418, 429):
            retry_ms = data.get("retryAfter") if data else None
            when = observe_penalty(
                self.http.limiter,
                resp.status,
                self.http.clock_ns(),
                retry_at_ms=retry_ms if isinstance(retry_ms, int) else None,
            )
            banned = resp.status == 418
            raise VenueRateLimitError(
                self.venue, f"HTTP {resp.status} on the WS API: {code} {msg}", when, banned=banned
            )
        info = classify(code, msg, resp.status)
        if info.action == Action.CLOCK:
            await self.http.sync_time()  # for the next request; this one did not run
        elif info.action == Action.AUTH and code != ErrorCode.INVALID_LISTEN_KEY:
            raise VenueAuthError(self.venue, f"{code} {msg}")
        body: dict[str, Any] = {"code": code, "msg": msg}
        if data is not None:
            body["data"] = data
        raise BinanceApiError(self.venue, code, msg, resp.status, info, orjson.dumps(body))

"""Binance REST over aiohttp: time offset, signing, rate limits, penalties, error mapping.

Every request goes through :meth:`BinanceHttp.call`:

1. the shared :class:`~hftlib.venue.ratelimit.RateLimiter` is acquired for the request's
   weight (and order count). During an IP ban it raises
   :class:`~hftlib.venue.errors.VenueRateLimitError` (``banned=True``) and nothing is sent;
2. a signed request gets ``timestamp`` (local clock plus the server-time offset) and
   ``recvWindow``, then ``signature`` over the query string (all parameters travel in the
   query, which Binance accepts for every method);
3. the response's ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*`` headers correct the
   limiter's counts.

Outcomes
--------
- HTTP 429: the limiter backs off until ``Retry-After``; an idempotent request waits that
  long and is sent again, any other raises ``VenueRateLimitError`` (``banned=False``).
- HTTP 418: the limiter bans all traffic to the venue until ``Retry-After`` (the market-data
  side shares the limiter, so it stops too); raises ``VenueRateLimitError(banned=True)``.
- -1021 (timestamp outside ``recvWindow``): the offset is measured again
  (:meth:`BinanceHttp.sync_time`) and an idempotent request is sent once more; any other
  raises :class:`BinanceApiError` (the venue refused it before executing it).
- a timeout, a dropped connection, HTTP 5xx or an "unknown outcome" code (-1000, -1001,
  -1006, -1007, -1008, -1016): an idempotent request is retried up to ``max_retries``
  times; otherwise :class:`~hftlib.venue.errors.VenueTimeoutError`,
  :class:`~hftlib.venue.errors.VenueConnectionError` or :class:`BinanceApiError` with
  ``info.action == Action.UNKNOWN`` is raised, and the caller reports the order as unknown.
- any other error body raises :class:`BinanceApiError` carrying
  :func:`~hftlib.venues.binance.errors.classify`'s verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from urllib.parse import quote

import aiohttp
import msgspec
from hftlib.venues.binance.constants import (
    NS_PER_MS,
    NS_PER_S,
    RECV_WINDOW_MS,
    VENUE_NAMES,
    Market,
    depth_weight,
)
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.errors import (
    Action,
    BinanceMessageError,
    ErrorCode,
    ErrorInfo,
    classify,
)
from hftlib.venues.binance.http.endpoints import ENDPOINTS, Endpoint, depth_path
from hftlib.venues.binance.limits import observe_headers, observe_penalty
from hftlib.venues.binance.urls import BinanceUrls
from hftlib.venues.binance.userdata import decode_error
from yarl import URL

from hftlib.venue.errors import (
    VenueAuthError,
    VenueConnectionError,
    VenueRateLimitError,
    VenueRequestError,
    VenueTimeoutError,
)
from hftlib.venue.ratelimit import RateLimiter
from hftlib.venue.signing import rest_query

DEFAULT_TIMEOUT_S: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_RETRY_DELAY_S: Final = 0.25


class _ServerTime(msgspec.Struct):
    serverTime: int  # noqa: N815 - the venue's field name


_TIME: Final = msgspec.json.Decoder(_ServerTime)


class BinanceApiError(VenueRequestError):
    """The venue answered a request with an error code; ``info`` says what to do about it.

    ``body`` is the raw error body (cancel-replace puts both halves' answers in its
    ``data``).
    """

    def __init__(
        self, venue: str, code: int, msg: str, http_status: int, info: ErrorInfo, body: bytes
    ) -> None:
        self.info = info
        self.body = body
        super().__init__(venue, code, msg, http_status)


Params = Mapping[str, object]


class BinanceHttp:
    """The REST side of one Binance market account.

    Parameters
    ----------
    market : Market
        Spot or USD-M (paths and weights).
    urls : BinanceUrls
        Where the REST API lives (:func:`hftlib.venues.binance.urls.urls_for`).
    limiter : RateLimiter
        The venue's limiter, shared with the market-data side.
    credentials : Credentials or None
        Needed for signed and API-key requests. Default None (public data only).
    recv_window_ms : int
        ``recvWindow`` of signed requests. Default 5000.
    timeout_s : float
        Time allowed for one request. Default 10.
    max_retries : int
        Extra attempts of an idempotent request after an unknown outcome. Default 2.
    retry_delay_s : float
        Pause before such a retry. Default 0.25.
    clock_ns : callable
        Local wall clock in ns. Default ``time.time_ns``.
    trace_configs : sequence of aiohttp.TraceConfig
        Request tracing hooks of the session (the latency benchmark times the moment a
        request's bytes are written). Default none.
    """

    def __init__(
        self,
        market: Market,
        urls: BinanceUrls,
        limiter: RateLimiter,
        *,
        credentials: Credentials | None = None,
        recv_window_ms: int = RECV_WINDOW_MS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
        clock_ns: Callable[[], int] = time.time_ns,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.market = Market(market)
        self.trace_configs = list(trace_configs)
        self.venue = VENUE_NAMES[self.market]
        self.urls = urls
        self.limiter = limiter
        self.credentials = credentials
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_retries = max_retries
        self.retry_delay_s = retry_delay_s
        self.clock_ns = clock_ns
        self.endpoints: dict[str, Endpoint] = ENDPOINTS[self.market]
        self.counts: Counter[str] = Counter()
        self.offset_ns = 0
        """Server time minus local time, as last measured by :meth:`sync_time`."""
        self._session: aiohttp.ClientSession | None = None

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """Return the open session (also used for the WebSocket connections)."""
        if self._session is None or self._session.closed:
            raise VenueConnectionError(self.venue, "the REST client is not started")
        return self._session

    async def start(self) -> None:
        """Open the HTTP session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trace_configs=self.trace_configs or None)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- time -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Return the venue's time in ms as the offset estimates it."""
        return (self.clock_ns() + self.offset_ns) // NS_PER_MS

    async def sync_time(self) -> int:
        """Measure the server-time offset (ns) from ``/time``; keep and return it."""
        sent = self.clock_ns()
        raw = await self.call("time", clock_retry=False)
        received = self.clock_ns()
        try:
            server_ms = _TIME.decode(raw).serverTime
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BinanceMessageError(self.venue, "time", "$", str(exc)) from None
        # the server read its clock somewhere between sending and receiving: take the middle
        self.offset_ns = server_ms * NS_PER_MS - (sent + received) // 2
        self.counts["time.sync"] += 1
        return self.offset_ns

    # --- requests ---------------------------------------------------------------------------

    async def depth(self, symbol: str, limit: int) -> bytes:
        """Return the raw REST depth snapshot of ``symbol`` (``limit`` levels)."""
        endpoint = Endpoint("GET", depth_path(self.market), depth_weight(self.market, limit))
        return await self.send(endpoint, {"symbol": symbol, "limit": limit})

    async def call(
        self,
        name: str,
        params: Params | None = None,
        *,
        signed: bool = False,
        api_key: bool = False,
        clock_retry: bool = True,
    ) -> bytes:
        """Send the named endpoint of :mod:`.endpoints`; return the response body."""
        return await self.send(
            self.endpoints[name], params, signed=signed, api_key=api_key, clock_retry=clock_retry
        )

    async def send(
        self,
        endpoint: Endpoint,
        params: Params | None = None,
        *,
        signed: bool = False,
        api_key: bool = False,
        clock_retry: bool = True,
    ) -> bytes:
        """Send one request with the retry rules of the module docstring; return the body."""
        retries = 0
        resynced = not clock_retry
        while True:
            await self.limiter.acquire(endpoint.weight, endpoint.orders)
            try:
                status, headers, body = await self._once(endpoint, params, signed, api_key)
            except (VenueTimeoutError, VenueConnectionError):
                if endpoint.idempotent and retries < self.max_retries:
                    retries += 1
                    self.counts["http.retry"] += 1
                    await asyncio.sleep(self.retry_delay_s)
                    continue
                raise
            observe_headers(self.limiter, headers)
            if status < 400:
                return body
            if status in (418, 429):
                self._penalty(status, headers)  # raises on a ban
                if endpoint.idempotent and retries < self.max_retries:
                    retries += 1
                    self.counts["http.retry"] += 1
                    continue  # acquire() waits for Retry-After
                raise VenueRateLimitError(
                    self.venue,
                    f"HTTP 429 on {endpoint.method} {endpoint.path}",
                    self.limiter.blocked_until_ns,
                )
            error = self._error(status, body)
            action = error.info.action
            if action == Action.CLOCK:
                self.counts["http.clock"] += 1
                await self.sync_time()
                if endpoint.idempotent and not resynced:
                    resynced = True
                    continue
            elif action == Action.UNKNOWN:
                if endpoint.idempotent and retries < self.max_retries:
                    retries += 1
                    self.counts["http.retry"] += 1
                    await asyncio.sleep(self.retry_delay_s)
                    continue
            elif action == Action.AUTH and error.code != ErrorCode.INVALID_LISTEN_KEY:
                raise VenueAuthError(self.venue, f"{error.code} {error.msg}") from error
            raise error

    async def _once(
        self, endpoint: Endpoint, params: Params | None, signed: bool, api_key: bool
    ) -> tuple[int, Mapping[str, str], bytes]:
        query = self._query(params, signed)
        url = self.urls.rest + endpoint.path + (f"?{query}" if query else "")
        headers = {}
        if signed or api_key:
            if self.credentials is None:
                raise VenueAuthError(self.venue, f"{endpoint.path} needs API credentials")
            headers["X-MBX-APIKEY"] = self.credentials.api_key
        self.counts["http.sent"] += 1
        try:
            async with self.session.request(
                endpoint.method, URL(url, encoded=True), headers=headers, timeout=self._timeout
            ) as resp:
                return resp.status, resp.headers, await resp.read()
        except TimeoutError:
            self.counts["http.timeout"] += 1
            raise VenueTimeoutError(
                self.venue, f"no answer to {endpoint.method} {endpoint.path} in {self.timeout_s}s"
            ) from None
        except aiohttp.ClientError as exc:
            self.counts["http.disconnect"] += 1
            raise VenueConnectionError(
                self.venue, f"{endpoint.method} {endpoint.path}: {type(exc).__name__}: {exc}"
            ) from None

    def _query(self, params: Params | None, signed: bool) -> str:
        items: dict[str, object] = dict(params or {})
        if not signed:
            return rest_query(items) if items else ""
        assert self.credentials is not None  # noqa: S101 - checked by the caller
        items["recvWindow"] = self.recv_window_ms
        items["timestamp"] = self.now_ms()
        query = rest_query(items)
        return f"{query}&signature={quote(self.credentials.sign_rest(query), safe='')}"

    def _penalty(self, status: int, headers: Mapping[str, str]) -> None:
        now = self.clock_ns()
        when = observe_penalty(self.limiter, status, now, headers.get("Retry-After"))
        self.counts[f"http.{status}"] += 1
        if status == 418:
            raise VenueRateLimitError(
                self.venue,
                f"IP banned (HTTP 418) for {(when - now) / NS_PER_S:.3f}s; all traffic stopped",
                when,
                banned=True,
            )

    def _error(self, status: int, body: bytes) -> BinanceApiError:
        try:
            err = decode_error(body, self.market)
            code, msg = err.code, err.msg
        except BinanceMessageError:
            # a bare 5xx page or an empty body: no code; the status decides
            code, msg = -1000 if status >= 500 else 0, body[:200].decode("utf-8", "replace")
        self.counts[f"http.error.{code}"] += 1
        return BinanceApiError(self.venue, code, msg, status, classify(code, msg, status), body)

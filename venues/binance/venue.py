"""The Binance connector: :class:`BinanceVenue` implements :class:`hftlib.venue.interface.Venue`.

It composes the parts, which share one :class:`~hftlib.venue.ratelimit.RateLimiter` (a 418
ban stops market data, order entry and user data alike):

- :class:`~hftlib.venues.binance.http.client.BinanceHttp` — signed REST, time offset;
- :class:`~hftlib.venues.binance.ws.market.MarketStream` — combined streams and synced books
  (one per :meth:`BinanceVenue.market_data` call);
- :class:`~hftlib.venues.binance.execution.BinanceExecution` — order entry and queries,
  with the outcome policy; spot orders go over the WS API
  (:class:`~hftlib.venues.binance.ws.orders.WsOrderSession`, ``order_transport="ws"``, the
  spot default) while its socket is up, else over REST; USD-M orders over REST;
- :class:`~hftlib.venues.binance.ws.user.SpotUserStream` /
  :class:`~hftlib.venues.binance.ws.user.UsdmUserStream` — user data, pumped by a background
  task into the :class:`~hftlib.venues.binance.execution.UpdateFeed` that
  :meth:`BinanceVenue.order_updates` reads. When a subscription restarts after a loss, the
  venue reconciles (open orders, fills since the last event) onto the same feed.

``connect`` measures the server-time offset, reads ``exchangeInfo`` (rate limits replace the
defaults; each instrument's tick and step must match the venue's, else
:class:`~hftlib.venue.errors.VenueRequestError`) and starts the user-data task and the WS
API order session when there are credentials.

The live runner's fast path: :meth:`BinanceVenue.stream_market` calls a sink from the task
that read each market frame, and ``begin_submit`` / ``begin_cancel`` / ``begin_modify``
write a request before returning the awaitable of its outcome, so a decision goes from the
socket read to the order's bytes without an event-loop hop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Coroutine, Sequence
from typing import Any

import aiohttp
import msgspec
from hftlib.venues.binance import account as ac
from hftlib.venues.binance import orders as od
from hftlib.venues.binance import userdata as ud
from hftlib.venues.binance.constants import DEFAULT_LIMITS, RECV_WINDOW_MS, VENUE_NAMES, Market
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.errors import BinanceMessageError
from hftlib.venues.binance.execution import BinanceExecution, UpdateFeed
from hftlib.venues.binance.http.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_DELAY_S,
    DEFAULT_TIMEOUT_S,
    BinanceHttp,
)
from hftlib.venues.binance.limits import limits_from_exchange_info
from hftlib.venues.binance.urls import BinanceUrls, urls_for
from hftlib.venues.binance.ws.client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_SILENCE_S,
    Reconnect,
)
from hftlib.venues.binance.ws.market import DEFAULT_DEPTH_STREAM, BatchSink, MarketStream
from hftlib.venues.binance.ws.orders import WsOrderSession
from hftlib.venues.binance.ws.user import (
    DEFAULT_KEEPALIVE_S,
    Resubscribed,
    SpotUserStream,
    UsdmUserStream,
)

from hftlib.instrument import Instrument
from hftlib.venue.backoff import DEFAULT_BASE_S, DEFAULT_CAP_S, Backoff
from hftlib.venue.errors import VenueError, VenueRequestError
from hftlib.venue.interface import Balance, MarketBatch, OrderRequest, OrderUpdate, Position
from hftlib.venue.ratelimit import RateLimiter

log = logging.getLogger(__name__)

RECONCILE_MARGIN_NS = 5_000_000_000
"""Fills are looked up from this long before the last user event (clock and delivery slack)."""


class BinanceVenue:
    """One Binance spot or USD-M account (market data, orders, user data).

    Parameters
    ----------
    market : Market
        ``spot`` or ``usdm``.
    instruments : sequence of Instrument
        The symbols this venue serves (prices in ticks and sizes in lots of these specs).
    credentials : Credentials or None
        API key and secret; None for market data only. Default None.
    urls : BinanceUrls or None
        Where the venue is (:func:`~hftlib.venues.binance.urls.urls_for`; tests point it at
        the local venue server). Default None (the live venue).
    name : str or None
        Venue name. Default the market's (``binance`` / ``binance-futures``).
    limiter : RateLimiter or None
        Shared limiter. Default None (a new one with the market's default windows, replaced
        by ``exchangeInfo``'s at connect).
    backoff_base_s, backoff_cap_s : float
        Reconnect delays: base doubling up to cap, with jitter. Defaults 1 and 60.
    request_timeout_s : float
        Time allowed for one REST request. Default 10.
    max_retries, retry_delay_s
        Retries of idempotent requests after an unknown outcome. Defaults 2 and 0.25 s.
    recv_window_ms : int
        ``recvWindow`` of signed requests. Default 5000.
    silence_s : float
        A socket silent this long (no frame, no ping) is reconnected. Default 60.
    connect_timeout_s : float
        Time allowed to open a socket. Default 10.
    depth_stream, trade_stream, book_ticker, snapshot_limit
        Market-data streams (see :class:`~hftlib.venues.binance.ws.market.MarketStream`).
    keepalive_s : float
        USD-M listen-key keepalive period. Default 1800.
    user_data : bool
        Run the user-data stream when there are credentials. Default True.
    trace_configs : sequence of aiohttp.TraceConfig
        Request tracing hooks for the REST session. Default none.
    order_transport : str or None
        ``ws`` (WS API order entry, REST while its socket is down) or ``rest``. Default None:
        ``ws`` for spot, ``rest`` for USD-M (whose WS API the connector does not use).
    """

    def __init__(
        self,
        market: Market,
        instruments: Sequence[Instrument],
        credentials: Credentials | None = None,
        *,
        urls: BinanceUrls | None = None,
        name: str | None = None,
        limiter: RateLimiter | None = None,
        backoff_base_s: float = DEFAULT_BASE_S,
        backoff_cap_s: float = DEFAULT_CAP_S,
        request_timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
        recv_window_ms: int = RECV_WINDOW_MS,
        silence_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        depth_stream: str = DEFAULT_DEPTH_STREAM,
        trade_stream: str | None = "trade",
        book_ticker: bool = True,
        snapshot_limit: int | None = None,
        keepalive_s: float = DEFAULT_KEEPALIVE_S,
        user_data: bool = True,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        order_transport: str | None = None,
    ) -> None:
        self.market = Market(market)
        self.name = name or VENUE_NAMES[self.market]
        self.instruments = {i.symbol: i for i in instruments}
        for inst in instruments:
            if inst.venue != VENUE_NAMES[self.market]:
                raise ValueError(f"{inst.key} is not an instrument of {VENUE_NAMES[self.market]}")
        self.urls = urls or urls_for(self.market)
        self.limiter = limiter or RateLimiter(self.name, DEFAULT_LIMITS[self.market])
        self.http = BinanceHttp(
            self.market,
            self.urls,
            self.limiter,
            credentials=credentials,
            recv_window_ms=recv_window_ms,
            timeout_s=request_timeout_s,
            max_retries=max_retries,
            retry_delay_s=retry_delay_s,
            trace_configs=trace_configs,
        )
        self.feed = UpdateFeed()
        self.assets: dict[str, od.Assets] = {}
        self.execution = BinanceExecution(self.http, self.instruments, self.assets, self.feed)
        transport = order_transport or ("ws" if self.market == Market.SPOT else "rest")
        if transport not in ("ws", "rest"):
            raise ValueError(f"order_transport must be ws or rest, not {order_transport!r}")
        if transport == "ws" and self.market != Market.SPOT:
            raise ValueError("order_transport='ws' is spot only (USD-M orders go over REST)")
        self.order_transport = transport
        self._request_timeout_s = request_timeout_s
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._silence_s = silence_s
        self._connect_timeout_s = connect_timeout_s
        self._market_options: dict[str, Any] = {
            "depth_stream": depth_stream,
            "trade_stream": trade_stream,
            "book_ticker": book_ticker,
            "snapshot_limit": snapshot_limit,
        }
        self._keepalive_s = keepalive_s
        self._user_data = user_data and credentials is not None
        self.market_streams: list[MarketStream] = []
        """Every stream :meth:`market_data` made (their counts and books), newest last."""
        self.user_stream: SpotUserStream | UsdmUserStream | None = None
        self.counts: Counter[str] = Counter()
        self.subscribed = asyncio.Event()
        """Set once the user-data subscription is active (cleared while it is lost)."""
        self._last_user_ns = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle --------------------------------------------------------------------------

    def reconnect(self) -> Reconnect:
        """Return a new reconnect pacer with this venue's backoff settings."""
        base, cap = self._backoff
        return Reconnect(self.name, self.limiter, Backoff(base, cap))

    async def connect(self) -> None:
        """Open the session, sync the clock, read exchangeInfo, start user data."""
        await self.http.start()
        try:
            await self.http.sync_time()
            await self._load_rules()
        except BaseException:
            await self.http.close()
            raise
        if self._user_data:
            self.user_stream = self._make_user_stream()
            self._spawn("binance-user-data", self._pump_user_data(self.user_stream))
        if self.order_transport == "ws" and self.http.credentials is not None:
            session = WsOrderSession(
                self.http,
                self.urls,
                self.reconnect(),
                timeout_s=self._request_timeout_s,
                silence_s=self._silence_s,
                connect_timeout_s=self._connect_timeout_s,
            )
            self.execution.ws = session
            self._spawn("binance-ws-orders", session.run())
            try:
                # orders go over REST until the socket is up; waiting here means the first
                # order already takes the fast path
                await asyncio.wait_for(session.connected.wait(), self._connect_timeout_s)
            except TimeoutError:
                log.warning("%s: WS API order socket not up yet; orders use REST", self.name)

    async def close(self) -> None:
        """Stop the background tasks and close the session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.execution.ws is not None:
            await self.execution.ws.close()
            self.execution.ws = None
        await self.http.close()

    async def __aenter__(self) -> BinanceVenue:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def server_time_offset_ns(self) -> int:
        """Return venue time minus local time, as last measured."""
        return self.http.offset_ns

    # --- market data ------------------------------------------------------------------------

    def market_data(self, symbols: list[str]) -> AsyncGenerator[MarketBatch, None]:
        """Yield decoded market data of ``symbols``; reconnects and resyncs internally."""
        return self._market_stream().batches(symbols)

    async def stream_market(self, symbols: list[str], sink: BatchSink) -> None:
        """Run the market data of ``symbols`` forever, awaiting ``sink(batch)`` for each batch.

        The sink runs in the task that read the frame (no queue in between): what it writes
        (an order request) leaves before the next frame is read.
        """
        await self._market_stream().pump(symbols, sink)

    def _market_stream(self) -> MarketStream:
        stream = MarketStream(
            self.market,
            self.urls,
            lambda: self.http.session,
            self.http.depth,
            self.instruments,
            self.reconnect(),
            silence_s=self._silence_s,
            connect_timeout_s=self._connect_timeout_s,
            **self._market_options,
        )
        self.market_streams.append(stream)
        return stream

    # --- user data --------------------------------------------------------------------------

    async def order_updates(self) -> AsyncGenerator[OrderUpdate, None]:
        """Yield order updates and fills (each fill once); raise if user data stopped."""
        while True:
            item = await self.feed.queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def _make_user_stream(self) -> SpotUserStream | UsdmUserStream:
        if self.market == Market.SPOT:
            return SpotUserStream(
                self.http,
                self.urls,
                self.reconnect(),
                silence_s=self._silence_s,
                connect_timeout_s=self._connect_timeout_s,
            )
        return UsdmUserStream(
            self.http,
            self.urls,
            self.reconnect(),
            keepalive_s=self._keepalive_s,
            silence_s=self._silence_s,
            connect_timeout_s=self._connect_timeout_s,
        )

    async def _pump_user_data(self, stream: SpotUserStream | UsdmUserStream) -> None:
        try:
            async for item in stream.events():
                if isinstance(item, Resubscribed):
                    self.subscribed.set()
                    if not item.first:
                        await self._reconcile()
                    continue
                self._on_user_event(item)
        except VenueError as exc:
            self.subscribed.clear()
            self.feed.fail(exc)
            raise

    def _on_user_event(self, event: ud.UserEvent) -> None:
        local = time.time_ns()
        self._last_user_ns = local
        try:
            if event.event == ud.EXECUTION_REPORT:
                report = od.decode_execution_report(event.data)
                symbol = report.symbol
                update = od.execution_report_update(
                    report, self.execution.instrument(symbol), local, self.assets.get(symbol)
                )
            elif event.event == ud.ORDER_TRADE_UPDATE:
                otu = od.decode_order_trade_update(event.data)
                symbol = otu.order.symbol
                update = od.order_trade_update(
                    otu, self.execution.instrument(symbol), local, self.assets.get(symbol)
                )
            else:
                self.counts[f"user.{event.event}"] += 1
                return
        except (BinanceMessageError, ValueError) as exc:
            self.counts[f"user.bad.{getattr(exc, 'category', 'other symbol')}"] += 1
            return
        self.execution.client_ids[update.venue_order_id] = update.client_id
        self.feed.put(update)

    async def _reconcile(self) -> None:
        self.counts["reconcile"] += 1
        since = (self._last_user_ns or time.time_ns()) - RECONCILE_MARGIN_NS
        try:
            await self.execution.reconcile(list(self.instruments), since)
        except VenueError as exc:
            # the next resubscription reconciles again; meanwhile the runner's own periodic
            # reconciliation (open orders) covers the gap
            self.counts["reconcile.failed"] += 1
            log.warning("%s: reconcile after resubscription failed: %s", self.name, exc)

    # --- orders and queries (see execution.py for the outcome policy) ------------------------

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Send a new order; return its state, an explicit rejection or an unknown outcome."""
        return await self.execution.submit(request)

    async def cancel(self, symbol: str, client_id: str) -> OrderUpdate:
        """Cancel one order by client id."""
        return await self.execution.cancel(symbol, client_id)

    async def modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> OrderUpdate:
        """Replace an order (spot cancelReplace, USD-M cancel then new)."""
        return await self.execution.modify(symbol, client_id, new_client_id, price_ticks, qty_lots)

    async def begin_submit(self, request: OrderRequest) -> Awaitable[OrderUpdate]:
        """Write a new order (WS API); return the awaitable of its outcome (see ``submit``)."""
        return await self.execution.begin_submit(request)

    async def begin_cancel(self, symbol: str, client_id: str) -> Awaitable[OrderUpdate]:
        """Write a cancel (WS API); return the awaitable of its outcome (see ``cancel``)."""
        return await self.execution.begin_cancel(symbol, client_id)

    async def begin_modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> Awaitable[OrderUpdate]:
        """Write a replace (spot WS API); return the awaitable of its outcome (see ``modify``)."""
        return await self.execution.begin_modify(
            symbol, client_id, new_client_id, price_ticks, qty_lots
        )

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        """Cancel every open order on ``symbol``; return the cancelled orders."""
        return await self.execution.cancel_all(symbol)

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate:
        """Return the venue's view of one order (settles unknown outcomes)."""
        return await self.execution.query_order(symbol, client_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the open orders, of one symbol or all."""
        return await self.execution.open_orders(symbol)

    async def balances(self) -> list[Balance]:
        """Return the account's non-zero balances."""
        return await self.execution.balances()

    async def positions(self) -> list[Position]:
        """Return open USD-M positions (empty for spot)."""
        return await self.execution.positions()

    async def recent_fills(self, symbol: str, since_ns: int) -> list[OrderUpdate]:
        """Return the account's fills on ``symbol`` since ``since_ns``."""
        return await self.execution.recent_fills(symbol, since_ns)

    # --- internals --------------------------------------------------------------------------

    async def _load_rules(self) -> None:
        raw = await self.http.call("exchangeInfo")
        info = ac.decode_exchange_info(raw, self.market)
        # the venue's windows, never looser than a client-side window already in force
        current = {(lim.kind, lim.interval_ns): lim.limit for lim in self.limiter.limits}
        self.limiter.set_limits(
            msgspec.structs.replace(
                lim, limit=min(lim.limit, current.get((lim.kind, lim.interval_ns), lim.limit))
            )
            for lim in limits_from_exchange_info(info.rate_limits)
        )
        rules = ac.symbol_rules(info, self.market)
        problems = []
        for symbol, inst in self.instruments.items():
            rule = rules.get(symbol)
            if rule is None:
                problems.append(f"{symbol}: not listed")
                continue
            problems += [f"{symbol}: {p}" for p in ac.check_instrument(rule, inst)]
            self.assets[symbol] = od.Assets(rule.base_asset, rule.quote_asset)
        if problems:
            raise VenueRequestError(self.name, 0, "instrument specs differ: " + "; ".join(problems))

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.name, task.get_name(), exc_info=task.exception())

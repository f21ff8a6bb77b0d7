"""Binance market data: combined streams -> synced books -> :class:`MarketBatch` values.

One :class:`MarketStream` serves a set of symbols over combined-stream sockets (spot: one
socket; USD-M: one on ``/public`` for depth and bookTicker, one on ``/market`` for trades,
as the venue routes them). Each symbol's book is a
:class:`~hftlib.venues.binance.book.BookKeeper` following the official procedure: diffs are
buffered, a REST snapshot is fetched once the first diff is buffered, and the book is live
once a snapshot bridges the buffer.

Defined outcomes
----------------
update-id gap
    The keeper emits a whole-book clear (``BOOK_STALE``); a new snapshot is fetched and the
    book turns live again (clear, snapshot levels, buffered diffs).
snapshot older than the buffered diffs
    Rejected by the keeper (``snapshot.too_old``) and fetched again (``snapshot.refetch``).
malformed / unknown / off-grid frame
    Counted in :attr:`MarketStream.counts` under ``bad.<category>`` and skipped; a skipped
    diff breaks the id chain, so the next diff is a gap and the book resyncs: it never
    silently diverges.
socket closed, failed, or silent for ``silence_s``
    Every book is dropped (a clear row, ``BOOK_STALE``, for each live one: the old stream's
    diffs never chain onto the new one's), then the sockets reconnect after a backoff delay
    and the books sync again from a new snapshot.
``serverShutdown``
    Reconnect at once, without a backoff delay.
IP ban (HTTP 418 on any request of the venue)
    No reconnect and no snapshot request until the ban ends.

Two ways to consume
-------------------
:meth:`MarketStream.batches` is an async generator: socket readers queue frames and the
consumer's task decodes them. :meth:`MarketStream.pump` awaits a sink instead, from the task
that read the frame (decode, book, sink, with no queue or task switch in between): the live
runner's fast path, where the sink runs the strategy and writes its order requests. Both
follow the same outcomes above.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import aiohttp
import numpy as np
from hftlib.venues.binance import parse
from hftlib.venues.binance.book import BookKeeper
from hftlib.venues.binance.constants import DEFAULT_DEPTH_LIMIT, NS_PER_S, VENUE_NAMES, Market
from hftlib.venues.binance.errors import BinanceMessageError
from hftlib.venues.binance.schemas import DepthSnapshot
from hftlib.venues.binance.urls import BinanceUrls, usdm_route
from hftlib.venues.binance.ws.client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_SILENCE_S,
    SHUTDOWN,
    Reconnect,
    SocketLost,
    frames,
    open_socket,
)

from hftlib.instrument import Instrument
from hftlib.types import EVENT_DTYPE
from hftlib.venue.errors import VenueError, VenueRateLimitError
from hftlib.venue.interface import MarketBatch

SnapshotFetch = Callable[[str, int], Awaitable[bytes]]
BatchSink = Callable[[MarketBatch], Awaitable[None]]

_FRAME: Final = 0
_SNAPSHOT: Final = 1
_LOST: Final = 2
_FAILED: Final = 3

DEFAULT_DEPTH_STREAM: Final = "depth@100ms"
SNAPSHOT_RETRY_S: Final = 0.5


class MarketStream:
    """Books and trades of some symbols of one Binance market, kept in sync.

    Parameters
    ----------
    market : Market
        Spot or USD-M.
    urls : BinanceUrls
        Stream host (and USD-M routing).
    session : callable
        Returns the open aiohttp session (the REST client's).
    fetch_snapshot : callable
        ``await fetch_snapshot(symbol, limit)`` returns a raw REST depth snapshot.
    instruments : mapping
        Symbol -> :class:`~hftlib.instrument.Instrument` of every symbol it may serve.
    reconnect : Reconnect
        Paces reconnects (backoff, ban).
    depth_stream : str
        Diff-depth stream name after ``<symbol>@``. Default ``depth@100ms``.
    trade_stream : str or None
        ``trade``, ``aggTrade`` or None (no trades). Default ``trade``.
    book_ticker : bool
        Subscribe to ``bookTicker`` (best bid/offer, also cross-checked against the book).
        Default True.
    snapshot_limit : int or None
        Levels per snapshot. Default None (the market's maximum: spot 5000, USD-M 1000).
    silence_s : float
        A socket with no frame (not even a ping) for this long is dead. Default 60.
    connect_timeout_s : float
        Time allowed to open a socket. Default 10.
    """

    def __init__(
        self,
        market: Market,
        urls: BinanceUrls,
        session: Callable[[], aiohttp.ClientSession],
        fetch_snapshot: SnapshotFetch,
        instruments: Mapping[str, Instrument],
        reconnect: Reconnect,
        *,
        depth_stream: str = DEFAULT_DEPTH_STREAM,
        trade_stream: str | None = "trade",
        book_ticker: bool = True,
        snapshot_limit: int | None = None,
        silence_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if trade_stream not in (None, "trade", "aggTrade"):
            raise ValueError(f"trade_stream must be trade, aggTrade or None, not {trade_stream!r}")
        self.market = Market(market)
        self.venue = VENUE_NAMES[self.market]
        self.urls = urls
        self.session = session
        self.fetch_snapshot = fetch_snapshot
        self.instruments = dict(instruments)
        self.reconnect = reconnect
        self.depth_stream = depth_stream
        self.trade_stream = trade_stream
        self.book_ticker = book_ticker
        self.snapshot_limit = snapshot_limit or DEFAULT_DEPTH_LIMIT[self.market]
        self.silence_s = silence_s
        self.connect_timeout_s = connect_timeout_s
        self.counts: Counter[str] = Counter()
        self.keepers: dict[str, BookKeeper] = {}
        self.connected = asyncio.Event()
        """Set while the sockets are open (tests wait on it before stepping the venue)."""

    # --- streams ----------------------------------------------------------------------------

    def stream_urls(self, symbols: Sequence[str]) -> list[str]:
        """Return the combined-stream URLs covering ``symbols`` (one per USD-M route)."""
        names = []
        for symbol in symbols:
            low = symbol.lower()
            names.append(f"{low}@{self.depth_stream}")
            if self.book_ticker:
                names.append(f"{low}@bookTicker")
            if self.trade_stream is not None:
                names.append(f"{low}@{self.trade_stream}")
        if not self.urls.routed:
            return [self.urls.combined_stream_url(names)]
        routes: dict[str, list[str]] = {}
        for name in names:
            routes.setdefault(usdm_route(name), []).append(name)
        return [self.urls.combined_stream_url(group) for group in routes.values()]

    # --- the stream -------------------------------------------------------------------------

    def _prepare(self, symbols: Sequence[str]) -> None:
        unknown = [s for s in symbols if s not in self.instruments]
        if unknown or not symbols:
            raise ValueError(f"no instrument for {unknown} (have {sorted(self.instruments)})")
        for symbol in symbols:
            self.keepers[symbol] = BookKeeper(self.instruments[symbol])
        warm_up(self.instruments[symbols[0]])

    async def _open(self, urls: Sequence[str]) -> list[aiohttp.ClientWebSocketResponse]:
        """Open one socket per URL, retrying after backoff delays until all are open."""
        while True:
            try:
                sockets = [
                    await open_socket(self.session(), u, self.venue, self.connect_timeout_s)
                    for u in urls
                ]
            except VenueError:
                self.counts["connect.failed"] += 1
                await self.reconnect.wait()
                continue
            self.counts["connect"] += 1
            return sockets

    async def batches(self, symbols: Sequence[str]) -> AsyncGenerator[MarketBatch, None]:
        """Yield the market data of ``symbols`` forever, reconnecting and resyncing."""
        self._prepare(symbols)
        urls = self.stream_urls(symbols)
        while True:
            sockets = await self._open(urls)
            immediate = False
            generation = _Generation(sockets)
            for ws in sockets:
                generation.spawn(self._read(ws, generation.queue))
            self.connected.set()
            try:
                while True:
                    item = await generation.queue.get()
                    tag = item[0]
                    if tag == _FRAME:
                        for batch in self._on_frame(item[1], item[2], generation):
                            yield batch
                    elif tag == _SNAPSHOT:
                        snapped = self._on_snapshot(item[1], item[2], item[3], generation)
                        if snapped is not None:
                            yield snapped
                    else:
                        self.counts[f"lost.{item[1]}"] += 1
                        immediate = item[1] == SHUTDOWN
                        break
            finally:
                self.connected.clear()
                await generation.close()
            now = time.time_ns()
            for symbol, keeper in self.keepers.items():
                rows = keeper.invalidate(now)
                if len(rows):
                    yield MarketBatch(symbol=symbol, events=rows, book_state=keeper.state)
            self.counts["reconnect"] += 1
            await self.reconnect.wait(immediate)

    async def pump(self, symbols: Sequence[str], sink: BatchSink) -> None:
        """Run the market data of ``symbols`` forever, awaiting ``sink(batch)`` for each batch.

        The sink is awaited by the task that read the frame (or fetched the snapshot); an
        exception it raises ends the pump with that exception.
        """
        self._prepare(symbols)
        urls = self.stream_urls(symbols)
        while True:
            sockets = await self._open(urls)
            generation = _Generation(sockets, sink)
            for ws in sockets:
                generation.spawn(self._read_into(ws, generation))
            self.connected.set()
            try:
                item = await generation.queue.get()  # only losses and failures come here
                if item[0] == _FAILED:
                    raise item[1]
                self.counts[f"lost.{item[1]}"] += 1
                immediate = item[1] == SHUTDOWN
            finally:
                self.connected.clear()
                await generation.close()
            now = time.time_ns()
            for symbol, keeper in self.keepers.items():
                rows = keeper.invalidate(now)
                if len(rows):
                    await sink(MarketBatch(symbol=symbol, events=rows, book_state=keeper.state))
            self.counts["reconnect"] += 1
            await self.reconnect.wait(immediate)

    async def _read_into(
        self, ws: aiohttp.ClientWebSocketResponse, generation: _Generation
    ) -> None:
        sink = generation.sink
        assert sink is not None  # noqa: S101 - a pump generation has one
        try:
            async for raw, local in frames(ws, self.venue, self.silence_s):
                for batch in self._on_frame(raw, local, generation):
                    await sink(batch)
        except SocketLost as exc:
            generation.queue.put_nowait((_LOST, exc.reason))
        except Exception as exc:  # noqa: BLE001 - handed to the pump, which raises it
            generation.queue.put_nowait((_FAILED, exc))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, queue: asyncio.Queue[Any]) -> None:
        try:
            async for raw, local in frames(ws, self.venue, self.silence_s):
                queue.put_nowait((_FRAME, raw, local))
        except SocketLost as exc:
            queue.put_nowait((_LOST, exc.reason))

    # --- frames -----------------------------------------------------------------------------

    def _on_frame(self, raw: bytes, local: int, generation: _Generation) -> list[MarketBatch]:
        if not generation.healthy:
            generation.healthy = True
            self.reconnect.healthy()
        self.counts["frames"] += 1
        try:
            frame = parse.parse_frame(raw, self.market)
        except BinanceMessageError as exc:
            self.counts[f"bad.{exc.category}"] += 1
            return []
        kind = frame.kind
        if kind == parse.SHUTDOWN:
            generation.queue.put_nowait((_LOST, SHUTDOWN))
            return []
        if kind in (parse.CONTROL, parse.OTHER_STREAM):
            self.counts[kind] += 1
            return []
        keeper = self.keepers.get(frame.symbol)
        if keeper is None:
            self.counts["bad.unknown symbol"] += 1
            return []
        instrument = keeper.instrument
        try:
            rows = self._rows(kind, frame.data, keeper, instrument, local)
        except BinanceMessageError as exc:
            self.counts[f"bad.{exc.category}"] += 1
            return []
        if keeper.needs_snapshot:
            self._want_snapshot(frame.symbol, generation)
        if not len(rows):
            return []
        return [MarketBatch(symbol=frame.symbol, events=rows, book_state=keeper.state)]

    def _rows(
        self, kind: str, data: bytes, keeper: BookKeeper, instrument: Instrument, local: int
    ) -> np.ndarray:
        market = self.market
        if kind == parse.DEPTH:
            return keeper.on_diff(parse.decode_depth(data, market), local)
        if kind == parse.TRADE:
            return parse.trade_rows(parse.decode_trade(data, market), instrument, local)
        if kind == parse.AGG_TRADE:
            return parse.agg_trade_rows(parse.decode_agg_trade(data, market), instrument, local)
        msg = parse.decode_book_ticker(data, market)
        bid, ask = parse.book_ticker_top(msg, instrument)
        bbo = parse.book_ticker_rows(msg, instrument, local, keeper.last_exch_ns)
        clear = keeper.check_top(msg.update_id, bid, ask, local)
        return np.concatenate((clear, bbo)) if len(clear) else bbo

    # --- snapshots --------------------------------------------------------------------------

    def _want_snapshot(self, symbol: str, generation: _Generation) -> None:
        if symbol in generation.pending:
            return
        generation.pending.add(symbol)
        self.counts["snapshot.requested"] += 1
        generation.spawn(self._fetch(symbol, generation))

    async def _fetch(self, symbol: str, generation: _Generation) -> None:
        while True:
            try:
                raw = await self.fetch_snapshot(symbol, self.snapshot_limit)
            except VenueRateLimitError as exc:
                self.counts["snapshot.rate_limited"] += 1
                await asyncio.sleep(max(0.0, (exc.retry_at_ns - time.time_ns()) / NS_PER_S))
                continue
            except VenueError:
                self.counts["snapshot.failed"] += 1
                await asyncio.sleep(SNAPSHOT_RETRY_S)
                continue
            if generation.sink is None:
                generation.queue.put_nowait((_SNAPSHOT, symbol, raw, time.time_ns()))
                return
            snapped = self._on_snapshot(symbol, raw, time.time_ns(), generation)
            if snapped is not None:
                try:
                    await generation.sink(snapped)
                except Exception as exc:  # noqa: BLE001 - handed to the pump, which raises it
                    generation.queue.put_nowait((_FAILED, exc))
            return

    def _on_snapshot(
        self, symbol: str, raw: bytes, local: int, generation: _Generation
    ) -> MarketBatch | None:
        generation.pending.discard(symbol)
        keeper = self.keepers[symbol]
        try:
            rows = keeper.on_snapshot(parse.decode_snapshot(raw, self.market), local)
        except BinanceMessageError as exc:
            self.counts[f"bad.snapshot {exc.category}"] += 1
            rows = np.empty(0, dtype=EVENT_DTYPE)
        if keeper.needs_snapshot:
            self.counts["snapshot.refetch"] += 1
            self._want_snapshot(symbol, generation)
        if not len(rows):
            return None
        return MarketBatch(symbol=symbol, events=rows, book_state=keeper.state)


def warm_up(instrument: Instrument) -> None:
    """Compile (or load) the level parser now, not on the first diff.

    A first compile blocks the event loop for a moment; on a live socket that stall would
    delay pongs and could read as a silent socket.
    """
    snap = DepthSnapshot(last_update_id=1, bids=[(instrument.tick_size, instrument.lot_size)],
                         asks=[])  # fmt: skip
    parse.snapshot_rows(snap, instrument, 1)


class _Generation:
    """The sockets of one connection and the tasks working for them."""

    def __init__(
        self, sockets: list[aiohttp.ClientWebSocketResponse], sink: BatchSink | None = None
    ) -> None:
        self.sockets = sockets
        self.sink = sink
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending: set[str] = set()
        self.healthy = False

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in self.sockets:
            await ws.close()

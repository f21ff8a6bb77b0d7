"""Market data through the connector against the local venue: book sync and stream faults.

Each fault has a defined outcome (ws/market.py): a gap makes the book stale and a snapshot
makes it live again; a dropped, silent or shut-down socket resets the book and reconnects; a
malformed frame is counted and leaves the book intact; a snapshot older than the buffered
diffs is fetched again. After every fault the book equals the venue's public book.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hftlib.sim.binance_venue.config import VenueConfig
from hftlib.venues.binance.venue import BinanceVenue
from hftlib.venues.binance.ws.market import MarketStream

from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE

from .client_support import (
    Collector,
    book_levels,
    client,
    eventually,
    fast_config,
    local_venue,
    script,
    server_book,
)

MARKETS = ["spot", "usdm"]
Body = Callable[[Any, BinanceVenue, MarketStream, Collector], Awaitable[None]]


async def synced(server: Any, stream: MarketStream, col: Collector, steps: int = 3) -> None:
    """Step the venue until the client's book is live and equals the venue's public book."""
    await eventually(stream.connected.is_set, what="connected")
    for _ in range(steps):
        server.step(1)
        await asyncio.sleep(0.01)

    def same() -> bool:
        server.hub.flush_symbol("BTCUSDT", server.now_ms())  # publish the open depth window
        book = col.books.get("BTCUSDT")
        live = bool(col.states) and col.states[-1] == BOOK_LIVE
        return live and book is not None and book_levels(book) == server_book(server)

    await eventually(same, what="book live and equal to the venue's")


async def run(
    tmp_path: Path,
    market: str,
    body: Body,
    n: int = 60,
    config: VenueConfig | None = None,
    **overrides: Any,
) -> None:
    async with local_venue(tmp_path, market, script(market, n), config) as server:
        venue = client(market, server, user_data=False, **overrides)
        async with venue:
            col = Collector(venue.market_data(["BTCUSDT"]))
            try:
                await body(server, venue, venue.market_streams[-1], col)
            finally:
                await col.stop()


@pytest.mark.parametrize("market", MARKETS)
def test_book_follows_the_venue_book(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        for _ in range(6):
            await synced(server, stream, col, steps=5)
        keeper = stream.keepers["BTCUSDT"]
        assert keeper.counts["snapshot.applied"] == 1
        assert keeper.counts["gap"] == 0
        assert (keeper.best_bid(), keeper.best_ask()) == server.exchange.books["BTCUSDT"].top
        assert col.trades > 0  # USD-M: trades come over the /market route
        assert stream.counts["connect"] == 1
        assert not any(k.startswith("bad.") for k in stream.counts)

    asyncio.run(run(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_update_id_gap_goes_stale_then_resyncs(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        seen = len(col.states)
        server.inject_gap("BTCUSDT", 3)
        await synced(server, stream, col)
        assert BOOK_STALE in col.states[seen:]
        keeper = stream.keepers["BTCUSDT"]
        assert (keeper.counts["gap"], keeper.counts["resync"]) == (1, 1)
        assert stream.counts["snapshot.requested"] == 2
        assert stream.counts["connect"] == 1  # a gap resyncs over REST, no reconnect

    asyncio.run(run(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_dropped_connection_resets_book_and_reconnects_with_backoff(
    tmp_path: Path, market: str
) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        seen = len(col.states)
        assert server.drop_connections("market") >= 1
        await eventually(lambda: stream.counts["reconnect"] == 1, what="reconnect")
        assert col.states[seen] == BOOK_STALE  # the book was dropped before reconnecting
        assert len(stream.reconnect.delays) == 1
        assert 0 < stream.reconnect.delays[0] <= 0.01  # the first backoff step (tiny base)
        await synced(server, stream, col)
        assert stream.counts["connect"] == 2
        assert stream.keepers["BTCUSDT"].counts["invalidated"] == 1

    asyncio.run(run(tmp_path, market, body))


def test_backoff_grows_while_the_venue_is_unreachable(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        await server.close()  # the venue goes away: every reconnect attempt fails
        await eventually(lambda: stream.counts["connect.failed"] >= 4, what="failed attempts")
        delays = stream.reconnect.delays
        nominal = [stream.reconnect.backoff.nominal(i) for i in range(len(delays))]
        assert nominal[:4] == [0.01, 0.02, 0.04, 0.05]  # doubling up to the cap
        assert all(0.8 * n <= d <= n for d, n in zip(delays, nominal, strict=True))

    asyncio.run(run(tmp_path, "spot", body))


def test_silent_socket_reconnects(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        server.go_silent(True, kind="market")  # no frames, no pings from now on
        await eventually(lambda: stream.counts["lost.silent"] == 1, wait=3, what="silence")
        await synced(server, stream, col)
        assert stream.counts["connect"] == 2

    asyncio.run(run(tmp_path, "spot", body, silence_s=0.3))


def test_pings_are_answered_so_a_quiet_socket_stays_open(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        # ~30 server pings (every 0.05 s) and no market frame: the pings keep the socket
        # alive for the client (silence_s 0.5) and the pongs for the server (timeout 0.4 s)
        await asyncio.sleep(1.5)
        assert stream.counts["reconnect"] == 0
        (conn,) = [c for c in server.hub.conns if c.kind == "market"]
        assert conn.last_ping > 0

    config = fast_config(pong_timeout=0.4)
    asyncio.run(run(tmp_path, "spot", body, config=config, silence_s=0.5))


def test_malformed_frame_is_counted_and_the_book_stays_intact(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        seen = len(col.states)
        assert server.send_malformed("market") == 1
        await eventually(lambda: stream.counts["bad.malformed json"] == 1)
        await synced(server, stream, col)
        assert BOOK_STALE not in col.states[seen:]
        assert stream.keepers["BTCUSDT"].counts["gap"] == 0

    asyncio.run(run(tmp_path, "spot", body))


def test_server_shutdown_reconnects_at_once(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, stream: MarketStream, col: Collector) -> None:
        await synced(server, stream, col)
        server.server_shutdown()
        await eventually(lambda: stream.counts["lost.shutdown"] == 1)
        await synced(server, stream, col)
        assert stream.reconnect.delays == []  # no backoff delay after serverShutdown
        assert stream.counts["connect"] == 2

    asyncio.run(run(tmp_path, "spot", body))


@pytest.mark.parametrize("market", MARKETS)
def test_snapshot_older_than_the_buffered_diffs_is_fetched_again(
    tmp_path: Path, market: str
) -> None:
    async def main() -> None:
        async with local_venue(tmp_path, market, script(market, 40)) as server:
            venue = client(market, server, user_data=False)
            async with venue:
                old = await venue.http.depth("BTCUSDT", 1000)  # a real snapshot, soon old
                server.step(6)  # the venue moves on before anyone subscribes
                calls: list[str] = []

                async def fetch(symbol: str, limit: int) -> bytes:
                    calls.append(symbol)
                    return old if len(calls) == 1 else await venue.http.depth(symbol, limit)

                stream = MarketStream(
                    venue.market, venue.urls, lambda: venue.http.session, fetch,
                    venue.instruments, venue.reconnect(), snapshot_limit=1000,
                )  # fmt: skip
                col = Collector(stream.batches(["BTCUSDT"]))
                try:
                    await synced(server, stream, col)
                finally:
                    await col.stop()
                keeper = stream.keepers["BTCUSDT"]
                assert keeper.counts["snapshot.too_old"] == 1
                assert stream.counts["snapshot.refetch"] == 1
                assert len(calls) == 2

    asyncio.run(main())

"""The live fast path against the local venue: market data pumped into a sink from the task
that read each frame, and the wall-clock runner writing WS API orders from that task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hftlib.live.host import StrategyHost
from hftlib.live.hub import Hub
from hftlib.live.wallclock import WallClock
from hftlib.venues.binance.venue import BinanceVenue
from hftlib.venues.binance.ws.market import MarketStream

from hftlib.engine.types import ST_CANCELED, ST_OPEN
from hftlib.refbook import L2Book
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, MarketBatch

from .client_support import (
    SPOT,
    book_levels,
    client,
    eventually,
    fast_config,
    local_venue,
    script,
    server_book,
)

FLIP = str(Path(__file__).parents[3] / "benchmarks" / "_flip_strategy.py")
"""Posts a bid at the best bid on a book message, cancels it on the next: a request each."""


class Sink:
    """Keep the book and states of pumped batches (what the Collector does for ``batches``)."""

    def __init__(self) -> None:
        self.book = L2Book()
        self.states: list[int] = []
        self.tasks: set[str] = set()
        self.fail_after: int | None = None

    async def __call__(self, batch: MarketBatch) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task.get_coro().__qualname__)
        for flags, px, qty in zip(
            batch.events["flags"].tolist(),
            batch.events["px"].tolist(),
            batch.events["qty"].tolist(),
            strict=True,
        ):
            self.book.apply(flags, px, qty)
        self.states.append(batch.book_state)
        if self.fail_after is not None and len(self.states) >= self.fail_after:
            raise RuntimeError("the sink gave up")


async def pumped(venue: BinanceVenue, sink: Sink) -> tuple[asyncio.Task[None], MarketStream]:
    task = asyncio.ensure_future(venue.stream_market(["BTCUSDT"], sink))
    await eventually(lambda: bool(venue.market_streams), what="stream made")
    stream = venue.market_streams[-1]
    await eventually(stream.connected.is_set, what="connected")
    return task, stream


async def in_sync(server: Any, sink: Sink, steps: int) -> None:
    for _ in range(steps):
        server.step(1)
        await asyncio.sleep(0.01)

    def same() -> bool:
        server.hub.flush_symbol("BTCUSDT", server.now_ms())  # publish the open depth window
        live = bool(sink.states) and sink.states[-1] == BOOK_LIVE
        return live and book_levels(sink.book) == server_book(server)

    await eventually(same, what="book live and equal to the venue's")


def test_pump_keeps_the_book_and_resyncs_after_a_gap(tmp_path: Path) -> None:
    async def main() -> None:
        async with (
            local_venue(tmp_path, "spot", script("spot", 60)) as server,
            client("spot", server, user_data=False) as venue,
        ):
            sink = Sink()
            task, stream = await pumped(venue, sink)
            try:
                await in_sync(server, sink, 10)
                server.inject_gap("BTCUSDT")
                await in_sync(server, sink, 5)
                assert BOOK_STALE in sink.states
                keeper = stream.keepers["BTCUSDT"]
                assert keeper.counts["gap"] == 1
                assert keeper.counts["snapshot.applied"] == 2
                # frames and snapshots reach the sink from the tasks that got them
                assert sink.tasks <= {"MarketStream._read_into", "MarketStream._fetch"}
                assert "MarketStream._read_into" in sink.tasks
                server.drop_connections("market")  # a lost socket: stale, then live again
                await eventually(lambda: stream.counts["connect"] == 2, what="reconnected")
                await in_sync(server, sink, 5)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_pump_raises_what_the_sink_raises(tmp_path: Path) -> None:
    async def main() -> None:
        async with (
            local_venue(tmp_path, "spot", script("spot", 20)) as server,
            client("spot", server, user_data=False) as venue,
        ):
            sink = Sink()
            sink.fail_after = 2
            task, _stream = await pumped(venue, sink)
            for _ in range(10):
                server.step(1)
                await asyncio.sleep(0.01)
            with pytest.raises(RuntimeError, match="gave up"):
                await asyncio.wait_for(task, 3)

    asyncio.run(main())


def test_wall_clock_writes_orders_from_the_task_that_read_the_frame(tmp_path: Path) -> None:
    async def main() -> None:
        no_floor = fast_config(min_notional="0")  # the strategy trades 1 lot (1e-8 BTC)
        async with local_venue(tmp_path, "spot", script("spot", 40), no_floor) as server:
            # the strategy's steps compile on first use after a source change (seconds, in
            # the loop): sockets and requests must outlast that
            venue = client("spot", server, silence_s=60.0, request_timeout_s=60.0)
            host = StrategyHost(
                FLIP, strategy_id="flip", assets=[("binance", "BTCUSDT")], instruments=[SPOT]
            )
            wall = WallClock(Hub({"binance": venue}, [host]), settle_after_ns=200_000_000)
            writers: list[str] = []
            async with venue:
                ws = venue.execution.ws
                assert ws is not None
                assert ws.up

                def written(_t: int) -> None:
                    task = asyncio.current_task()
                    assert task is not None
                    writers.append(task.get_coro().__qualname__)

                ws.on_written = written
                stop = asyncio.Event()
                runner = asyncio.ensure_future(wall.run(stop, final_cancel=True))
                await eventually(lambda: bool(venue.market_streams), what="stream made")
                await eventually(venue.market_streams[-1].connected.is_set, what="connected")
                for _ in range(30):
                    server.step(1)
                    await asyncio.sleep(0.02)
                await eventually(
                    lambda: not host.unsettled and len(writers) >= 10, wait=60, what="orders"
                )
                stop.set()
                await asyncio.wait_for(runner, 10)
                assert await venue.open_orders("BTCUSDT") == []  # the final cancel-all
            # every order request left from the task that got the market data (the socket
            # reader; the snapshot fetch for the first one): no queue, no task hop
            assert set(writers) <= {"MarketStream._read_into", "MarketStream._fetch"}
            assert writers.count("MarketStream._read_into") >= 10
            log = host.orders_log()
            assert (log["status"] == ST_OPEN).any()
            assert (log["status"] == ST_CANCELED).any()
            assert host.unknown_outcomes == 0

    asyncio.run(main())

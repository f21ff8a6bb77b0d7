"""REST faults through the connector against the local venue, each with its defined outcome.

- 5xx, -1007, a timeout or a cut connection on a new order: ``ST_UNKNOWN`` (never
  rejected), settled by ``query_order``; idempotent requests are retried instead.
- 429: an idempotent request waits ``Retry-After`` and succeeds; a new order is unknown.
- 418: every request (orders, queries, snapshots) and every reconnect stops until the ban
  ends (``VenueRateLimitError(banned=True)``), then traffic resumes.
- clock skew beyond ``recvWindow``: -1021, the offset is measured again, an idempotent
  request is retried and succeeds; a new order is refused (it did not run) and the next one
  goes through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hftlib.venues.binance.constants import DEFAULT_LIMITS, Market
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.urls import urls_for
from hftlib.venues.binance.venue import BinanceVenue

from hftlib.engine.types import BUY, ST_OPEN, ST_REJECTED, ST_UNKNOWN
from hftlib.venue.errors import VenueAuthError, VenueRateLimitError
from hftlib.venue.interface import BOOK_LIVE, OrderRequest
from hftlib.venue.ratelimit import RateLimiter

from .client_support import (
    KEY,
    MID,
    Collector,
    client,
    eventually,
    instrument,
    local_venue,
    script,
)

SMALL = {"spot": 100_000, "usdm": 10}
Body = Callable[[Any, BinanceVenue], Awaitable[None]]


def order(market: str, cid: str) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT", client_id=cid, side=BUY, qty_lots=SMALL[market],
        price_ticks=MID[market] - 200,
    )  # fmt: skip


async def run(tmp_path: Path, market: str, body: Body, **overrides: Any) -> None:
    async with local_venue(tmp_path, market, script(market, 20)) as server:
        venue = client(market, server, user_data=False, **overrides)
        async with venue:
            await body(server, venue)


@pytest.mark.parametrize(
    ("market", "mode", "placed"),
    [
        ("spot", "error", False),  # 503 before processing: the order was never placed
        ("spot", "accept", True),  # placed, then 503 -1007 "execution status unknown"
        ("spot", "timeout", True),  # placed, the answer comes after the client gave up
        ("spot", "disconnect", True),  # placed, then the connection is cut
        ("usdm", "accept", True),
        ("usdm", "timeout", True),
    ],
)
def test_unknown_submit_outcome_is_settled_by_query(
    tmp_path: Path, market: str, mode: str, placed: bool
) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        server.fail_next(1, mode=mode, match="order", hang=1.5)
        sent = venue.http.counts["http.sent"]
        res = await venue.submit(order(market, "u1"))
        assert res.status == ST_UNKNOWN, res  # never rejected
        assert venue.http.counts["http.sent"] == sent + 1  # a new order is not retried
        settled = await venue.query_order("BTCUSDT", "u1")
        assert settled.status == (ST_OPEN if placed else ST_REJECTED)
        assert (await venue.submit(order(market, "u2"))).status == ST_OPEN

    # the REST path (spot over the WS API: test_client_ws_orders.py)
    asyncio.run(run(tmp_path, market, body, request_timeout_s=0.5, order_transport="rest"))


def test_idempotent_requests_are_retried_after_5xx_and_timeouts(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        server.fail_next(2, mode="error", match="openOrders")
        assert await venue.open_orders("BTCUSDT") == []
        assert venue.http.counts["http.retry"] == 2
        server.fail_next(3, mode="error", match="account")  # more than max_retries (2)
        with pytest.raises(Exception, match="HTTP 503"):
            await venue.balances()

    asyncio.run(run(tmp_path, "spot", body))


def test_429_waits_retry_after_then_succeeds(tmp_path: Path) -> None:
    slept: list[float] = []
    shift = [0]

    def clock() -> int:
        return time.time_ns() + shift[0]

    async def fake_sleep(seconds: float) -> None:  # advance the limiter's clock instead
        slept.append(seconds)
        shift[0] += int(seconds * 1e9)

    async def body(server: Any, venue: BinanceVenue) -> None:
        server.force_429(1)
        now_ms = server.now_ms()
        retry_after = -(-(60_000 - now_ms % 60_000) // 1000)  # the venue's Retry-After
        balances = await venue.balances()
        assert balances
        assert venue.http.counts["http.429"] == 1
        assert len(slept) == 1
        assert retry_after - 1.5 <= slept[0] <= retry_after + 0.5
        server.force_429(1)
        res = await venue.submit(order("spot", "r1"))  # a new order is not retried
        assert res.status == ST_UNKNOWN
        assert "429" in res.reason

    limiter = RateLimiter("binance", DEFAULT_LIMITS[Market.SPOT], clock=clock, sleep=fake_sleep)
    asyncio.run(run(tmp_path, "spot", body, limiter=limiter))


def test_418_ban_stops_all_traffic_until_it_ends(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        col = Collector(venue.market_data(["BTCUSDT"]))
        stream = venue.market_streams[-1]
        try:
            await eventually(stream.connected.is_set)
            server.step(3)
            await eventually(lambda: bool(col.states) and col.states[-1] == BOOK_LIVE)
            server.ban(1.0)
            with pytest.raises(VenueRateLimitError) as info:
                await venue.balances()
            assert info.value.banned
            ban_end = info.value.retry_at_ns
            sent = venue.http.counts["http.sent"]
            for call in (
                venue.submit(order("spot", "b1")),
                venue.open_orders(),
                venue.http.depth("BTCUSDT", 100),  # the market-data side too
            ):
                with pytest.raises(VenueRateLimitError) as during:
                    await call
                assert during.value.banned
            assert venue.http.counts["http.sent"] == sent  # nothing reached the wire
            # a market socket lost during the ban does not reconnect before it ends
            server.drop_connections("market")
            await eventually(lambda: stream.counts["reconnect"] == 1)
            await asyncio.sleep(0.3)
            assert stream.counts["connect"] == 1
            await eventually(lambda: stream.counts["connect"] == 2, wait=3)
            assert time.time_ns() >= ban_end
            assert (await venue.submit(order("spot", "b2"))).status == ST_OPEN
        finally:
            await col.stop()

    asyncio.run(run(tmp_path, "spot", body))


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_clock_skew_resyncs_time_and_retries(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        assert abs(venue.server_time_offset_ns()) < 50_000_000
        server.shift_clock(10_000)  # the venue's clock runs 10 s ahead: beyond recvWindow
        balances = await venue.balances()  # -1021, resync, retried once
        assert balances
        assert venue.http.counts["http.clock"] == 1
        assert venue.http.counts["time.sync"] == 2
        assert abs(venue.server_time_offset_ns() - 10_000_000_000) < 50_000_000
        assert (await venue.submit(order(market, "c1"))).status == ST_OPEN
        server.shift_clock(-8_000)  # now 18 s behind what the client believes
        refused = await venue.submit(order(market, "c2"))
        assert (refused.status, refused.reason[:5]) == (ST_REJECTED, "-1021")  # it did not run
        assert (await venue.submit(order(market, "c3"))).status == ST_OPEN  # resynced

    asyncio.run(run(tmp_path, market, body))


def test_refused_credentials_are_a_config_error(tmp_path: Path) -> None:
    async def main() -> None:
        async with local_venue(tmp_path, "spot", script("spot", 5)) as server:
            urls = urls_for(Market.SPOT, base_url=server.rest_url)
            venue = BinanceVenue(
                Market.SPOT, [instrument("spot")], Credentials(KEY, "wrong-secret"),
                urls=urls, user_data=False,
            )  # fmt: skip
            async with venue:
                with pytest.raises(VenueAuthError, match="-1022"):
                    await venue.balances()
                with pytest.raises(VenueAuthError):
                    await venue.submit(order("spot", "a1"))

    asyncio.run(main())

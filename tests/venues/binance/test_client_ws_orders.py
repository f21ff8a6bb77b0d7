"""Spot order entry over the WS API against the local Binance venue: lifecycle, rejects,
unknown outcomes (settled by query), fills once with user data, rate-limit feedback."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hftlib.venues.binance.constants import DEFAULT_LIMITS, INTERVAL_NS, Market
from hftlib.venues.binance.execution import _decimal_text
from hftlib.venues.binance.venue import BinanceVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlib.engine.types import (
    BUY,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_REJECTED,
    ST_UNKNOWN,
    TIF_GTX,
    TIF_IOC,
)
from hftlib.venue.interface import OrderRequest, OrderUpdate
from hftlib.venue.ratelimit import ORDERS, REQUEST_WEIGHT, RateLimiter

from .client_support import KEY, MID, client, eventually, local_venue, script

SMALL = 100_000  # 0.001 BTC
MINUTE_NS = 60_000_000_000


def order(cid: str, side: int, ticks: int, **kw: Any) -> OrderRequest:
    qty = kw.pop("qty_lots", SMALL)
    return OrderRequest(
        symbol="BTCUSDT", client_id=cid, side=side, qty_lots=qty, price_ticks=ticks, **kw
    )


async def run(tmp_path: Path, body: Any, user_data: bool = False, **overrides: Any) -> None:
    async with local_venue(tmp_path, "spot", script("spot", 5)) as server:
        venue = client("spot", server, user_data=user_data, order_transport="ws", **overrides)
        async with venue:
            ws = venue.execution.ws
            assert ws is not None
            assert ws.up
            await body(server, venue)


def test_lifecycle_goes_over_the_ws_api(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        ws = venue.execution.ws
        assert ws is not None
        rest_before = venue.http.counts["http.sent"]
        low = MID["spot"] - 500
        ack = await venue.submit(order("w1", BUY, low))
        assert (ack.status, ack.client_id, ack.price_ticks, ack.qty_lots) == (
            ST_OPEN, "w1", low, SMALL,
        )  # fmt: skip
        moved = await venue.modify("BTCUSDT", "w1", "w1b", low + 10, 2 * SMALL)
        assert (moved.status, moved.client_id, moved.price_ticks) == (ST_OPEN, "w1b", low + 10)
        cancelled = await venue.cancel("BTCUSDT", "w1b")
        assert (cancelled.status, cancelled.client_id) == (ST_CANCELED, "w1b")
        assert ws.counts["sent"] == 3
        assert venue.http.counts["http.sent"] == rest_before  # no REST order request
        # the venue agrees (queries go over REST)
        assert (await venue.query_order("BTCUSDT", "w1")).status == ST_CANCELED
        assert (await venue.query_order("BTCUSDT", "w1b")).status == ST_CANCELED
        assert await venue.open_orders("BTCUSDT") == []
        # cancelling again: -2011 over the WS API, settled by the query (cancelled)
        again = await venue.cancel("BTCUSDT", "w1b")
        assert again.status == ST_CANCELED
        # replacing a cancelled order: the cancel half fails, the new order is not placed
        failed = await venue.modify("BTCUSDT", "w1b", "w1c", low, SMALL)
        assert (failed.status, failed.client_id) == (ST_REJECTED, "w1c")
        assert "not placed" in failed.reason
        assert (await venue.query_order("BTCUSDT", "w1c")).status == ST_REJECTED  # not found

    asyncio.run(run(tmp_path, body))


def test_begin_submit_returns_once_the_request_is_written(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        ws = venue.execution.ws
        assert ws is not None
        written: list[int] = []
        ws.on_written = written.append
        pending = await venue.begin_submit(order("b1", BUY, MID["spot"] - 300))
        assert len(written) == 1  # on the socket already
        assert ws.counts["sent"] == 1
        answer = await pending
        assert answer.status == ST_OPEN
        pending = await venue.begin_cancel("BTCUSDT", "b1")
        assert len(written) == 2
        assert (await pending).status == ST_CANCELED

    asyncio.run(run(tmp_path, body))


def test_explicit_rejections_are_rejected(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        ask = MID["spot"] + 1
        taking = await venue.submit(order("r1", BUY, ask, tif=TIF_GTX))  # would take
        assert (taking.status, taking.reason[:5]) == (ST_REJECTED, "-2010")
        tiny = await venue.submit(order("r2", BUY, ask - 100, qty_lots=1))  # under notional
        assert tiny.status == ST_REJECTED
        assert venue.execution.counts["rejected"] == 2

    asyncio.run(run(tmp_path, body))


@pytest.mark.parametrize(
    ("mode", "placed"),
    [
        ("error", False),  # 503 before processing: never placed
        ("accept", True),  # placed, then -1007 "execution status unknown"
        ("timeout", True),  # placed, never answered
        ("disconnect", True),  # placed, then the socket is cut
    ],
)
def test_unknown_outcomes_are_settled_by_query(tmp_path: Path, mode: str, placed: bool) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        ws = venue.execution.ws
        assert ws is not None
        server.fail_next(1, mode=mode, match="order.place")
        res = await venue.submit(order("u1", BUY, MID["spot"] - 200))
        assert res.status == ST_UNKNOWN, res  # never rejected
        assert ws.counts["sent"] == 1  # a new order is not retried
        settled = await venue.query_order("BTCUSDT", "u1")
        assert settled.status == (ST_OPEN if placed else ST_REJECTED)
        if mode == "disconnect":
            assert ws.counts["lost.closed"] + ws.counts["lost.error"] == 1
            # orders go on (over REST while the socket is down), then over the new socket
            assert (await venue.submit(order("u2", BUY, MID["spot"] - 201))).status == ST_OPEN
            await eventually(lambda: ws.up and ws.counts["connect"] == 2, what="reconnected")
        assert (await venue.submit(order("u3", BUY, MID["spot"] - 202))).status == ST_OPEN
        assert ws.counts["sent"] >= 2

    asyncio.run(run(tmp_path, body, request_timeout_s=0.3))


def test_fills_reach_the_feed_once_from_the_answer_and_the_stream(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        await asyncio.wait_for(venue.subscribed.wait(), 3)
        items: list[OrderUpdate] = []
        updates = venue.order_updates()

        async def collect() -> None:
            async for u in updates:
                items.append(u)  # noqa: PERF401 - the list is read while this runs

        task = asyncio.ensure_future(collect())
        try:
            ask = MID["spot"] + 1
            res = await venue.submit(order("f1", BUY, ask, tif=TIF_IOC))
            assert (res.status, res.filled_lots, res.trade_id) == (ST_FILLED, SMALL, -1)
            await eventually(lambda: any(u.status == ST_FILLED for u in items), what="stream")
            await asyncio.sleep(0.05)  # let the stream's copy of the fill arrive too
            fills = [(u.venue_order_id, u.trade_id) for u in items if u.trade_id >= 0]
            assert len(fills) == len(set(fills)) == 1
            assert venue.feed.counts["fill.duplicate"] >= 1  # the other copy was dropped
            (fill,) = [u for u in items if u.trade_id >= 0]
            assert (fill.client_id, fill.last_fill_lots, fill.last_fill_ticks) == (
                "f1", SMALL, ask,
            )  # fmt: skip
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await updates.aclose()

    asyncio.run(run(tmp_path, body, user_data=True))


def test_rate_limits_of_answers_reach_the_limiter(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        for k in range(3):
            assert (await venue.submit(order(f"l{k}", BUY, MID["spot"] - 300 - k))).status == (
                ST_OPEN
            )
        now = server.now_ms()
        assert venue.limiter.used(REQUEST_WEIGHT, MINUTE_NS) == server.limiter.used_weight(
            "127.0.0.1", now
        )
        windows = server.limiter.order_counts(server.exchange.ids[KEY], now)
        assert windows  # the venue counts orders per window, and says so in rateLimits[]
        for window, count in windows:
            interval_ns = INTERVAL_NS[window.interval] * window.num
            assert venue.limiter.used(ORDERS, interval_ns) == count

    asyncio.run(run(tmp_path, body))


def test_429_makes_a_new_order_unknown_and_backs_off(tmp_path: Path) -> None:
    slept: list[float] = []
    shift = [0]

    def clock() -> int:
        return time.time_ns() + shift[0]

    async def fake_sleep(seconds: float) -> None:  # advance the limiter's clock instead
        slept.append(seconds)
        shift[0] += int(seconds * 1e9)

    async def body(server: Any, venue: BinanceVenue) -> None:
        server.force_429(1)
        res = await venue.submit(order("t1", BUY, MID["spot"] - 300))
        assert res.status == ST_UNKNOWN
        assert "429" in res.reason
        assert venue.limiter.blocked_until_ns > time.time_ns()
        assert (await venue.submit(order("t2", BUY, MID["spot"] - 301))).status == ST_OPEN
        assert len(slept) == 1  # the next request waited out the back-off

    limiter = RateLimiter("binance", DEFAULT_LIMITS[Market.SPOT], clock=clock, sleep=fake_sleep)
    asyncio.run(run(tmp_path, body, limiter=limiter))


def test_clock_skew_rejects_then_resyncs(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue) -> None:
        server.shift_clock(-10_000)  # the venue is 10 s behind: beyond recvWindow
        refused = await venue.submit(order("c1", BUY, MID["spot"] - 300))
        assert (refused.status, refused.reason[:5]) == (ST_REJECTED, "-1021")  # it did not run
        assert venue.http.counts["time.sync"] == 2
        assert (await venue.submit(order("c2", BUY, MID["spot"] - 300))).status == ST_OPEN

    asyncio.run(run(tmp_path, body))


def test_usdm_orders_stay_on_rest(tmp_path: Path) -> None:
    async def main() -> None:
        async with local_venue(tmp_path, "usdm", script("usdm", 5)) as server:
            venue = client("usdm", server, user_data=False)
            assert venue.order_transport == "rest"
            with pytest.raises(ValueError, match="spot only"):
                client("usdm", server, order_transport="ws")
            with pytest.raises(ValueError, match="ws or rest"):
                client("usdm", server, order_transport="fix")
            async with venue:
                assert venue.execution.ws is None

    asyncio.run(main())


@settings(max_examples=200, deadline=None)
@given(
    units=st.integers(min_value=0, max_value=10**15),
    step=st.sampled_from([1e-8, 1e-5, 0.001, 0.01, 0.1, 0.5, 0.25, 1.0, 10.0, 5e-7]),
)
def test_fast_decimal_text_is_decimals_text(units: int, step: float) -> None:
    assert _decimal_text(units, step) == f"{Decimal(units) * Decimal(repr(step)):f}"

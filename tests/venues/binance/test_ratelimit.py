"""Rate limiter: windows, venue feedback, 429 back-off, 418 ban; fake clock, no sleeping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hftlib.venues.binance import limits as bl
from hftlib.venues.binance.account import decode_exchange_info
from hftlib.venues.binance.constants import DEFAULT_LIMITS, Market
from hftlib.venues.binance.userdata import RESPONSE, parse_ws_api_frame

from hftlib.venue.errors import VenueRateLimitError
from hftlib.venue.ratelimit import ORDERS, RAW_REQUESTS, REQUEST_WEIGHT, Limit, RateLimiter

RESOURCES = Path(__file__).parent / "resources"
S = 1_000_000_000
MINUTE = 60 * S
T0 = 1_700_000_040 * S  # on a minute boundary


class FakeClock:
    """A clock that only moves when the limiter sleeps (or a test advances it)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Sleepers wake at their own deadline: the clock moves to the latest one reached.
        self.slept.append(seconds)
        wake = self.now + round(seconds * S)
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


def limiter(clock: FakeClock, *limits: Limit, max_wait_s: int = 120) -> RateLimiter:
    return RateLimiter(
        "binance", limits, clock=clock, sleep=clock.sleep, max_wait_ns=max_wait_s * S
    )


def test_weight_budget_waits_for_the_next_window() -> None:
    clock = FakeClock(T0 + 10 * S)
    lim = limiter(clock, Limit(kind=REQUEST_WEIGHT, interval_ns=MINUTE, limit=100))

    async def run() -> None:
        for _ in range(10):
            await lim.acquire(10)
        assert clock.slept == []
        await lim.acquire(10)  # the 11th does not fit: wait for the next minute

    asyncio.run(run())
    assert clock.slept == [50.0]
    assert clock.now == T0 + MINUTE
    assert lim.used(REQUEST_WEIGHT, MINUTE) == 10


def test_order_windows_count_orders_and_raw_requests_count_requests() -> None:
    clock = FakeClock()
    lim = limiter(
        clock,
        Limit(kind=ORDERS, interval_ns=10 * S, limit=2),
        Limit(kind=RAW_REQUESTS, interval_ns=5 * MINUTE, limit=100),
    )
    assert lim.try_acquire(1, orders=1) == 0
    assert lim.try_acquire(1) == 0  # no order: the order window is not charged
    assert lim.try_acquire(1, orders=1) == 0
    assert lim.try_acquire(1, orders=1) == 10 * S  # the third order waits 10 s
    assert lim.used(ORDERS, 10 * S) == 2
    assert lim.used(RAW_REQUESTS, 5 * MINUTE) == 3


def test_venue_headers_raise_the_local_count_never_lower_it() -> None:
    clock = FakeClock()
    lim = limiter(clock, *DEFAULT_LIMITS[Market.SPOT])
    lim.try_acquire(5, orders=1)
    seen = bl.observe_headers(
        lim,
        {
            "X-MBX-USED-WEIGHT-1M": "5990",
            "x-mbx-order-count-10s": "1",
            "X-MBX-ORDER-COUNT-1D": "40",
            "Content-Type": "application/json",
            "X-MBX-USED-WEIGHT-1S": "garbage",
        },
    )
    assert seen == 3
    assert lim.used(REQUEST_WEIGHT, MINUTE) == 5990
    assert lim.used(ORDERS, 10 * S) == 1
    assert lim.used(ORDERS, 86_400 * S) == 40
    assert lim.try_acquire(20) == MINUTE  # 5990 + 20 > 6000: wait for the next minute
    bl.observe_headers(lim, {"X-MBX-USED-WEIGHT-1M": "3"})
    assert lim.used(REQUEST_WEIGHT, MINUTE) == 5990


def test_ws_api_rate_limits_update_counts_and_limits() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    kind, resp = parse_ws_api_frame((RESOURCES / "ws_api_response_order_spot.json").read_bytes())
    assert kind == RESPONSE
    bl.observe_rate_limits(lim, resp.rate_limits)
    assert lim.used(ORDERS, 10 * S) == 1
    assert {(x.kind, x.interval_ns, x.limit) for x in lim.limits} == {
        (ORDERS, 10 * S, 50),
        (ORDERS, 86_400 * S, 160000),
        (REQUEST_WEIGHT, MINUTE, 6000),
    }


def test_429_backs_off_until_retry_after_then_proceeds() -> None:
    clock = FakeClock()
    lim = limiter(clock, *DEFAULT_LIMITS[Market.USDM])
    when = bl.observe_penalty(lim, 429, clock.now, retry_after="7")
    assert when == clock.now + 7 * S
    asyncio.run(lim.acquire(1))
    assert clock.slept == [7.0]


def test_418_ban_raises_at_once_with_the_ban_end_and_stops_all_traffic() -> None:
    clock = FakeClock()
    lim = limiter(clock, *DEFAULT_LIMITS[Market.SPOT])
    _, resp = parse_ws_api_frame((RESOURCES / "ws_api_response_ban_spot.json").read_bytes())
    assert resp.status == 418
    assert resp.error is not None
    assert resp.error.data is not None
    until = bl.observe_penalty(
        lim, resp.status, clock.now, retry_at_ms=resp.error.data["retryAfter"]
    )
    assert until == 1659146400000 * 1_000_000
    clock.now = until - S
    for weight, orders in ((1, 0), (0, 1), (20, 0)):
        with pytest.raises(VenueRateLimitError) as info:
            asyncio.run(lim.acquire(weight, orders))
        assert info.value.banned
        assert info.value.retry_at_ns == until
    assert clock.slept == []  # a ban is never waited out inside acquire
    clock.now = until
    asyncio.run(lim.acquire(1))


def test_a_ban_that_starts_while_waiting_raises_instead_of_sending() -> None:
    clock = FakeClock()
    lim = limiter(clock, Limit(kind=REQUEST_WEIGHT, interval_ns=MINUTE, limit=10))
    lim.try_acquire(10)

    async def sleep_then_banned(seconds: float) -> None:
        await clock.sleep(seconds)
        lim.ban_until(clock.now + 120 * S)

    lim._sleep = sleep_then_banned
    with pytest.raises(VenueRateLimitError) as info:
        asyncio.run(lim.acquire(1))
    assert info.value.banned


def test_a_wait_beyond_max_wait_raises_not_banned() -> None:
    clock = FakeClock()
    lim = limiter(clock, Limit(kind=ORDERS, interval_ns=86_400 * S, limit=1), max_wait_s=60)
    lim.try_acquire(0, orders=1)
    with pytest.raises(VenueRateLimitError) as info:
        asyncio.run(lim.acquire(0, orders=1))
    assert not info.value.banned
    assert info.value.retry_at_ns == T0 + 86_400 * S - T0 % (86_400 * S)
    assert clock.slept == []


def test_concurrent_acquires_share_one_budget() -> None:
    clock = FakeClock()
    lim = limiter(clock, Limit(kind=REQUEST_WEIGHT, interval_ns=MINUTE, limit=30))

    async def run() -> None:
        await asyncio.gather(*(lim.acquire(10) for _ in range(7)))

    asyncio.run(run())
    # 3 fit now, 3 in the next minute, 1 in the one after
    assert clock.now == T0 + 2 * MINUTE
    assert lim.used(REQUEST_WEIGHT, MINUTE) == 10


def test_request_larger_than_a_window_is_a_bug() -> None:
    lim = limiter(FakeClock(), Limit(kind=REQUEST_WEIGHT, interval_ns=MINUTE, limit=10))
    with pytest.raises(ValueError, match="never fit"):
        lim.try_acquire(11)


def test_limits_from_real_exchange_info() -> None:
    for name, market, expected in (
        ("spot", Market.SPOT, {(REQUEST_WEIGHT, MINUTE, 1200), (ORDERS, 10 * S, 50),
                               (ORDERS, 86_400 * S, 160000), (RAW_REQUESTS, 5 * MINUTE, 6100)}),
        ("usdm", Market.USDM, {(REQUEST_WEIGHT, MINUTE, 2400), (ORDERS, MINUTE, 1200),
                               (ORDERS, 10 * S, 300)}),
    ):  # fmt: skip
        raw = (RESOURCES / f"http_get_exchangeinfo_{name}.json").read_bytes()
        info = decode_exchange_info(raw, market)
        got = bl.limits_from_exchange_info(info.rate_limits)
        assert {(x.kind, x.interval_ns, x.limit) for x in got} == expected


def test_retry_at_defaults_when_retry_after_is_missing_or_garbled() -> None:
    assert bl.retry_at_ns(T0) == T0 + bl.DEFAULT_RETRY_S * S
    assert bl.retry_at_ns(T0, "soon") == T0 + bl.DEFAULT_RETRY_S * S
    assert bl.retry_at_ns(T0, "0.5") == T0 + S // 2
    assert bl.observe_penalty(limiter(FakeClock()), 500, T0) == 0

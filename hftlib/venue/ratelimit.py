"""One rate limiter per venue metering scope, shared by the market-data and order sides.

Binance meters by fixed windows: request weight per minute (per IP), raw requests per
5 minutes, and order counts per 10 s and per day (per account). The limiter counts what this
process sends, corrects its counts with what the venue reports (response headers, WS API
``rateLimits[]``) and obeys the venue's penalties:

- HTTP 429: nothing is sent before ``Retry-After``; :meth:`RateLimiter.acquire` waits.
- HTTP 418 (IP ban): all traffic stops until the ban ends; :meth:`RateLimiter.acquire`
  raises :class:`hftlib.venue.errors.VenueRateLimitError` with ``banned=True`` at once
  instead of waiting, so the caller can mark the venue down rather than hang.

Windows are aligned on multiples of their length since the epoch (a minute window starts on
the minute), which is how the venue resets its counters. A count the venue reports replaces
the local one only when it is larger: requests still in flight are not in the venue's
figure yet.

Venue-neutral: the Binance header and ``rateLimits[]`` formats are read by
:mod:`hftlib.venues.binance.limits`. Nothing here imports asyncio at module level (the core
package stays free of it); the default sleep is ``asyncio.sleep``, looked up when needed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

import msgspec

from hftlib.venue.errors import VenueRateLimitError

REQUEST_WEIGHT: Final = "REQUEST_WEIGHT"
ORDERS: Final = "ORDERS"
RAW_REQUESTS: Final = "RAW_REQUESTS"
KINDS: Final = frozenset({REQUEST_WEIGHT, ORDERS, RAW_REQUESTS})

NS_PER_S: Final = 1_000_000_000
DEFAULT_MAX_WAIT_NS: Final = 60 * NS_PER_S
"""Longest :meth:`RateLimiter.acquire` waits before raising instead (a day window can be
exhausted for hours; the caller should know rather than hang)."""


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """One metered window: at most ``limit`` units of ``kind`` per ``interval_ns``."""

    kind: str
    """``REQUEST_WEIGHT``, ``ORDERS`` or ``RAW_REQUESTS``."""
    interval_ns: int
    limit: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown limit kind {self.kind!r} (known: {sorted(KINDS)})")
        if self.interval_ns <= 0 or self.limit <= 0:
            raise ValueError(f"interval and limit must be > 0, got {self!r}")


class _Window:
    __slots__ = ("count", "limit", "start")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.start = -1
        self.count = 0


Clock = Callable[[], int]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """Meter requests against a venue's windows and penalties.

    Parameters
    ----------
    venue : str
        Venue name, used in errors.
    limits : iterable of Limit
        The windows to enforce (read them from the venue at start-up when it publishes them).
    clock : callable or None
        Returns the time in ns since the epoch. Default None (``time.time_ns``); tests pass a
        fake clock.
    sleep : callable or None
        Coroutine function sleeping a number of seconds. Default None (``asyncio.sleep``);
        tests pass one that advances their fake clock.
    max_wait_ns : int
        Longest wait :meth:`acquire` accepts before raising. Default
        :data:`DEFAULT_MAX_WAIT_NS` (60 s).
    """

    def __init__(
        self,
        venue: str,
        limits: Iterable[Limit],
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        max_wait_ns: int = DEFAULT_MAX_WAIT_NS,
    ) -> None:
        self.venue = venue
        self._clock: Clock = clock if clock is not None else time.time_ns
        self._sleep = sleep
        self.max_wait_ns = max_wait_ns
        self._windows: dict[tuple[str, int], _Window] = {}
        self.blocked_until_ns = 0
        """No request before this time (HTTP 429 ``Retry-After``)."""
        self.banned_until_ns = 0
        """IP ban (HTTP 418): nothing at all before this time."""
        self.set_limits(limits)

    # --- configuration and feedback ---------------------------------------------------------

    def set_limits(self, limits: Iterable[Limit]) -> None:
        """Enforce ``limits`` (keeping the counts of windows that already exist)."""
        for lim in limits:
            window = self._windows.setdefault((lim.kind, lim.interval_ns), _Window(lim.limit))
            window.limit = lim.limit

    @property
    def limits(self) -> list[Limit]:
        """Return the enforced windows."""
        return [
            Limit(kind=kind, interval_ns=interval, limit=w.limit)
            for (kind, interval), w in self._windows.items()
            if w.limit is not None
        ]

    def observe(self, kind: str, interval_ns: int, count: int, limit: int | None = None) -> None:
        """Record the venue's count (and limit, when it says) for the current window."""
        if kind not in KINDS or interval_ns <= 0 or count < 0:
            raise ValueError(f"bad rate-limit feedback {kind!r} {interval_ns} ns count={count}")
        window = self._windows.get((kind, interval_ns))
        if window is None:  # a window the venue meters that we were not told about
            window = self._windows[(kind, interval_ns)] = _Window(None)
        if limit is not None and limit > 0:
            window.limit = limit
        self._roll(window, interval_ns, self._clock())
        window.count = max(window.count, count)

    def used(self, kind: str, interval_ns: int) -> int:
        """Return the count of the current window (0 for an unknown window)."""
        window = self._windows.get((kind, interval_ns))
        if window is None:
            return 0
        self._roll(window, interval_ns, self._clock())
        return window.count

    def back_off_until(self, retry_at_ns: int) -> None:
        """Send nothing before ``retry_at_ns`` (the venue answered 429)."""
        self.blocked_until_ns = max(self.blocked_until_ns, retry_at_ns)

    def ban_until(self, retry_at_ns: int) -> None:
        """Stop all traffic until ``retry_at_ns`` (the venue answered 418: IP banned)."""
        self.banned_until_ns = max(self.banned_until_ns, retry_at_ns)
        self.back_off_until(retry_at_ns)

    # --- metering ---------------------------------------------------------------------------

    def try_acquire(self, weight: int, orders: int = 0) -> int:
        """Charge one request if the budget allows and return 0, else return the wait in ns.

        Raises :class:`VenueRateLimitError` (``banned=True``) during an IP ban, and
        ``ValueError`` for a request that exceeds a window on its own.
        """
        if weight < 0 or orders < 0:
            raise ValueError(f"weight and orders must be >= 0, got {weight}, {orders}")
        now = self._clock()
        if now < self.banned_until_ns:
            raise VenueRateLimitError(
                self.venue,
                f"IP banned until {self.banned_until_ns} ns (HTTP 418); all traffic stopped",
                self.banned_until_ns,
                banned=True,
            )
        wait = max(0, self.blocked_until_ns - now)
        charges = []
        for (kind, interval), window in self._windows.items():
            cost = weight if kind == REQUEST_WEIGHT else orders if kind == ORDERS else 1
            if cost == 0:
                continue
            self._roll(window, interval, now)
            if window.limit is not None:
                if cost > window.limit:
                    raise ValueError(
                        f"{self.venue}: a request of {cost} {kind} can never fit the "
                        f"limit of {window.limit} per {interval} ns"
                    )
                if window.count + cost > window.limit:
                    wait = max(wait, window.start + interval - now)
            charges.append((window, cost))
        if wait:
            return wait
        for window, cost in charges:
            window.count += cost
        return 0

    async def acquire(self, weight: int, orders: int = 0) -> None:
        """Wait until the budget allows one request of ``weight`` (and ``orders``), charge it.

        Raises :class:`VenueRateLimitError`: ``banned=True`` as soon as an IP ban is in force
        (also one that starts while waiting), ``banned=False`` when the wait would exceed
        ``max_wait_ns``; ``retry_at_ns`` says when to try again.
        """
        while True:
            wait = self.try_acquire(weight, orders)
            if not wait:
                return
            if wait > self.max_wait_ns:
                retry_at = self._clock() + wait
                raise VenueRateLimitError(
                    self.venue,
                    f"rate limit: the next slot is {wait / NS_PER_S:.3f} s away, beyond the "
                    f"{self.max_wait_ns / NS_PER_S:.3f} s this limiter waits",
                    retry_at,
                )
            await self._sleeper()(wait / NS_PER_S)

    def _sleeper(self) -> Sleep:
        if self._sleep is None:
            import asyncio  # here, not at the top: the core package stays free of asyncio

            self._sleep = asyncio.sleep
        return self._sleep

    @staticmethod
    def _roll(window: _Window, interval_ns: int, now: int) -> None:
        start = now - now % interval_ns
        if start != window.start:
            window.start = start
            window.count = 0

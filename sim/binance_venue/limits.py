"""Request-weight and order-count limits with Binance's headers, 429 and 418 ban.

Windows are fixed and aligned to the epoch like Binance's (a minute window resets on the
minute). Weight is metered per client IP, order counts per account. A request over the
weight limit is answered 429 with ``Retry-After`` (seconds to the window's end); more than
``ban_after`` such answers in one window ban the IP (418, ``Retry-After`` until the ban ends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hftlib.sim.binance_venue import errors as E

MINUTE_MS = 60_000


@dataclass(slots=True)
class _Window:
    start: int = -1
    count: int = 0

    def used(self, now_ms: int, length_ms: int) -> int:
        start = now_ms - now_ms % length_ms
        if start != self.start:
            self.start, self.count = start, 0
        return self.count


@dataclass(frozen=True, slots=True)
class OrderWindow:
    """One order-count limit: ``limit`` orders per ``num`` ``unit`` (``"S"``, ``"M"``, ``"D"``)."""

    num: int
    unit: str
    limit: int

    @property
    def length_ms(self) -> int:
        """Length of the window in ms."""
        return self.num * {"S": 1000, "M": MINUTE_MS, "D": 86_400_000}[self.unit]

    @property
    def interval(self) -> str:
        """Binance's interval name (``SECOND``, ``MINUTE``, ``DAY``)."""
        return {"S": "SECOND", "M": "MINUTE", "D": "DAY"}[self.unit]

    @property
    def header(self) -> str:
        """The response header carrying this window's count."""
        return f"X-MBX-ORDER-COUNT-{self.num}{self.unit}"


@dataclass
class RateLimiter:
    """Weight per IP per minute and order counts per account.

    Parameters
    ----------
    weight_limit : int
        REQUEST_WEIGHT allowed per minute.
    order_windows : tuple[OrderWindow, ...]
        Order-count limits per account.
    ban_after : int
        429 answers in one window before a 418 ban.
    ban_ms : int
        Ban length in ms.
    """

    weight_limit: int
    order_windows: tuple[OrderWindow, ...]
    ban_after: int
    ban_ms: int
    _weight: dict[str, _Window] = field(default_factory=dict)
    _strikes: dict[str, _Window] = field(default_factory=dict)
    _banned_until: dict[str, int] = field(default_factory=dict)
    _orders: dict[tuple[int, int], _Window] = field(default_factory=dict)
    ban_all_until: int = 0
    """A ban of every IP (the fault knob), ms since the epoch."""

    def used_weight(self, ip: str, now_ms: int) -> int:
        """Return the weight the IP used in the current minute."""
        return self._weight.setdefault(ip, _Window()).used(now_ms, MINUTE_MS)

    def charge(self, ip: str, weight: int, now_ms: int) -> dict[str, str]:
        """Add a request's weight; return the weight headers or raise 429/418."""
        until = max(self._banned_until.get(ip, 0), self.ban_all_until)
        if now_ms < until:
            raise self._ban_error(until, now_ms)
        window = self._weight.setdefault(ip, _Window())
        used = window.used(now_ms, MINUTE_MS)
        if used + weight > self.weight_limit:
            window.count = used + weight
            strikes = self._strikes.setdefault(ip, _Window())
            strikes.used(now_ms, MINUTE_MS)
            strikes.count += 1
            if strikes.count > self.ban_after:
                return self.ban(ip, now_ms, self.ban_ms)
            retry = math.ceil((window.start + MINUTE_MS - now_ms) / 1000)
            raise E.ApiError(
                E.TOO_MANY_REQUESTS,
                f"Too much request weight used; current limit is {self.weight_limit} request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                "polling the API.",
                status=429,
                headers={"Retry-After": str(retry), **self._weight_header(window.count)},
                data={"retryAfter": window.start + MINUTE_MS},
            )
        window.count = used + weight
        return self._weight_header(window.count)

    def too_many(self, ip: str, now_ms: int) -> E.ApiError:
        """Return the 429 answer as if the IP had used up its weight (a fault knob)."""
        window = self._weight.setdefault(ip, _Window())
        window.used(now_ms, MINUTE_MS)
        retry = math.ceil((window.start + MINUTE_MS - now_ms) / 1000)
        return E.ApiError(
            E.TOO_MANY_REQUESTS,
            f"Too much request weight used; current limit is {self.weight_limit} request "
            "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
            "polling the API.",
            status=429,
            headers={"Retry-After": str(retry)},
            data={"retryAfter": window.start + MINUTE_MS},
        )

    def ban(self, ip: str, now_ms: int, length_ms: int) -> dict[str, str]:
        """Ban the IP for ``length_ms`` and raise the 418 answer."""
        until = now_ms + length_ms
        self._banned_until[ip] = until
        raise self._ban_error(until, now_ms)

    def count_order(self, account: int, now_ms: int) -> dict[str, str]:
        """Count one new order; return the order-count headers or raise -1015 (429)."""
        windows = []
        for i, w in enumerate(self.order_windows):
            window = self._orders.setdefault((account, i), _Window())
            used = window.used(now_ms, w.length_ms)
            if used + 1 > w.limit:
                raise E.ApiError(
                    E.TOO_MANY_ORDERS,
                    f"Too many new orders; current limit is {w.limit} orders per {w.num} "
                    f"{w.interval}.",
                    status=429,
                    headers={
                        "Retry-After": str(math.ceil((window.start + w.length_ms - now_ms) / 1000))
                    },
                )
            windows.append(window)
        headers = {}
        for w, window in zip(self.order_windows, windows, strict=True):
            window.count += 1
            headers[w.header] = str(window.count)
        return headers

    def order_counts(self, account: int, now_ms: int) -> list[tuple[OrderWindow, int]]:
        """Return each order window with the account's current count."""
        return [
            (w, self._orders.setdefault((account, i), _Window()).used(now_ms, w.length_ms))
            for i, w in enumerate(self.order_windows)
        ]

    def _weight_header(self, used: int) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(used), "X-MBX-USED-WEIGHT": str(used)}

    def _ban_error(self, until: int, now_ms: int) -> E.ApiError:
        return E.ApiError(
            E.TOO_MANY_REQUESTS,
            f"Way too much request weight used; IP banned until {until}. Please use WebSocket "
            "Streams for live updates to avoid bans.",
            status=418,
            headers={"Retry-After": str(max(1, math.ceil((until - now_ms) / 1000)))},
            data={"retryAfter": until},
        )

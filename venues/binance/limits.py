"""Binance rate-limit feedback -> :class:`hftlib.venue.ratelimit.RateLimiter`.

- :func:`limits_from_exchange_info`: the enforced windows (``exchangeInfo.rateLimits``).
- :func:`observe_headers`: ``X-MBX-USED-WEIGHT-<n><unit>`` and ``X-MBX-ORDER-COUNT-<n><unit>``
  of every REST response.
- :func:`observe_rate_limits`: the WS API's ``rateLimits[]`` (with ``count``).
- :func:`observe_penalty`: HTTP 429 (back off until ``Retry-After``) and 418 (IP ban until
  ``Retry-After``; the WS API says ``error.data.retryAfter`` in epoch ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from hftlib.venues.binance.constants import INTERVAL_LETTER_NS, INTERVAL_NS, NS_PER_MS, NS_PER_S
from hftlib.venues.binance.schemas import RateLimit

from hftlib.venue.ratelimit import ORDERS, REQUEST_WEIGHT, Limit, RateLimiter

_HEADER: Final = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$")
_HEADER_KINDS: Final = {"used-weight": REQUEST_WEIGHT, "order-count": ORDERS}
DEFAULT_RETRY_S: Final = 60
"""Back-off when a 429/418 carries no usable ``Retry-After``."""


def _interval_ns(rate: RateLimit) -> int:
    unit = INTERVAL_NS.get(rate.interval)
    if unit is None or rate.interval_num <= 0:
        raise ValueError(f"unknown rate-limit interval {rate.interval!r} x {rate.interval_num}")
    return unit * rate.interval_num


def limits_from_exchange_info(rate_limits: Iterable[RateLimit]) -> list[Limit]:
    """Return the windows of ``exchangeInfo.rateLimits`` as :class:`Limit` values."""
    return [
        Limit(kind=r.rate_limit_type, interval_ns=_interval_ns(r), limit=r.limit)
        for r in rate_limits
    ]


def observe_headers(limiter: RateLimiter, headers: Mapping[str, str]) -> int:
    """Record the counts of a REST response's ``X-MBX-*`` headers; return how many."""
    seen = 0
    for name, value in headers.items():
        match = _HEADER.match(name.lower())
        if match is None:
            continue
        kind, num, unit = match.groups()
        try:
            count = int(value)
        except ValueError:
            continue  # a garbled header must not stop the response being used
        if count < 0:
            continue
        limiter.observe(_HEADER_KINDS[kind], int(num) * INTERVAL_LETTER_NS[unit.upper()], count)
        seen += 1
    return seen


def observe_rate_limits(limiter: RateLimiter, rate_limits: Iterable[RateLimit]) -> None:
    """Record the counts and limits of a WS API response's ``rateLimits[]``."""
    for r in rate_limits:
        if r.count is not None:
            limiter.observe(r.rate_limit_type, _interval_ns(r), r.count, r.limit)


def retry_at_ns(now_ns: int, retry_after: str | None = None, retry_at_ms: int | None = None) -> int:
    """Return when to retry: ``Retry-After`` seconds from now or the WS API's epoch ms."""
    if retry_at_ms is not None and retry_at_ms > 0:
        return retry_at_ms * NS_PER_MS
    if retry_after is not None:
        try:
            seconds = float(retry_after)
        except ValueError:
            seconds = DEFAULT_RETRY_S
        if seconds >= 0 and seconds == seconds:
            return now_ns + int(seconds * NS_PER_S)
    return now_ns + DEFAULT_RETRY_S * NS_PER_S


def observe_penalty(
    limiter: RateLimiter,
    status: int,
    now_ns: int,
    retry_after: str | None = None,
    retry_at_ms: int | None = None,
) -> int:
    """Apply an HTTP 429 (back off) or 418 (ban); return the retry time, 0 for other statuses."""
    if status not in (418, 429):
        return 0
    when = retry_at_ns(now_ns, retry_after, retry_at_ms)
    if status == 418:
        limiter.ban_until(when)
    else:
        limiter.back_off_until(when)
    return when

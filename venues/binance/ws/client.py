"""WebSocket plumbing shared by the market-data and user-data sockets.

- :func:`open_socket` connects with aiohttp's automatic pong: every server ping is answered
  with a pong carrying the same payload, as Binance requires.
- :func:`frames` yields text frames and raises :class:`SocketLost` when the socket closes,
  fails, or stays silent for ``silence_s`` seconds (no frame and no ping: the venue pings
  every 20 s, so a silent socket is a dead one even if TCP has not noticed).
- :class:`Reconnect` paces reconnects: exponential backoff with jitter
  (:class:`hftlib.venue.backoff.Backoff`, 1, 2, 4 ... 60 s), no delay after a
  ``serverShutdown`` notice, and no attempt at all while the venue's IP ban is in force
  (the limiter is shared with REST).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

import aiohttp

from hftlib.venue.backoff import Backoff
from hftlib.venue.errors import VenueConnectionError
from hftlib.venue.ratelimit import RateLimiter

NS_PER_S: Final = 1_000_000_000
DEFAULT_SILENCE_S: Final = 60.0
"""Three missed venue pings (every 20 s) before a socket counts as dead."""
DEFAULT_CONNECT_TIMEOUT_S: Final = 10.0
MAX_FRAME_BYTES: Final = 16 << 20

CLOSED: Final = "closed"
SILENT: Final = "silent"
SHUTDOWN: Final = "shutdown"
ERROR: Final = "error"


class SocketLost(VenueConnectionError):
    """A socket ended: ``reason`` is ``closed``, ``silent``, ``shutdown`` or ``error``."""

    def __init__(self, venue: str, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(venue, f"socket {reason}{': ' + detail if detail else ''}")


async def open_socket(
    session: aiohttp.ClientSession,
    url: str,
    venue: str,
    timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> aiohttp.ClientWebSocketResponse:
    """Connect to ``url``; raise :class:`VenueConnectionError` when that fails."""
    try:
        return await session.ws_connect(
            url,
            autoping=True,
            heartbeat=None,
            max_msg_size=MAX_FRAME_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_close=timeout_s),
            compress=0,
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise HandshakeRefused(venue, exc.status, exc.message) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise VenueConnectionError(venue, f"cannot connect: {type(exc).__name__}: {exc}") from None


class HandshakeRefused(VenueConnectionError):
    """The server answered the WebSocket upgrade with an HTTP error (``status``)."""

    def __init__(self, venue: str, status: int, message: str) -> None:
        self.status = status
        super().__init__(venue, f"WebSocket upgrade refused with HTTP {status}: {message}")


async def frames(
    ws: aiohttp.ClientWebSocketResponse, venue: str, silence_s: float
) -> AsyncIterator[tuple[bytes, int]]:
    """Yield ``(text frame bytes, local receive ns)`` until the socket ends (raise)."""
    while True:
        try:
            msg = await ws.receive(timeout=silence_s)
        except TimeoutError:
            raise SocketLost(venue, SILENT, f"no frame for {silence_s}s") from None
        local = time.time_ns()
        kind = msg.type
        if kind == aiohttp.WSMsgType.TEXT:
            yield msg.data.encode(), local
        elif kind == aiohttp.WSMsgType.BINARY:
            yield msg.data, local
        elif kind == aiohttp.WSMsgType.ERROR:
            raise SocketLost(venue, ERROR, str(ws.exception()))
        elif kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise SocketLost(venue, CLOSED, f"code {ws.close_code}")


class Reconnect:
    """Pace the reconnects of one socket.

    Parameters
    ----------
    venue : str
        Venue name, for errors.
    limiter : RateLimiter
        The venue's limiter: no connection attempt while it says the IP is banned.
    backoff : Backoff or None
        Delays between attempts. Default None (``Backoff()``: 1 s doubling to 60 s).
    clock_ns : callable
        Wall clock in ns (the ban is in wall-clock ns). Default ``time.time_ns``.
    """

    def __init__(
        self,
        venue: str,
        limiter: RateLimiter,
        backoff: Backoff | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.venue = venue
        self.limiter = limiter
        self.backoff = backoff if backoff is not None else Backoff()
        self.clock_ns = clock_ns
        self.attempts = 0
        self.delays: list[float] = []
        """Every backoff delay slept, in order (for tests and logs)."""

    async def wait(self, immediate: bool = False) -> None:
        """Sleep before the next attempt: the ban's remainder, then the backoff delay."""
        self.attempts += 1
        ban_left = self.limiter.banned_until_ns - self.clock_ns()
        if ban_left > 0:
            await asyncio.sleep(ban_left / NS_PER_S)
        if not immediate:
            delay = self.backoff.next_delay()
            self.delays.append(delay)
            await asyncio.sleep(delay)

    def healthy(self) -> None:
        """Start the backoff again from its base (the connection delivered data)."""
        self.backoff.reset()

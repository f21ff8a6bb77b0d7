"""Venue errors: failures that are not order outcomes (those travel as ``OrderUpdate``)."""

from __future__ import annotations

from hftlib.errors import HftlibError


class VenueError(HftlibError):
    """Root of the errors a connector or venue simulator raises."""

    def __init__(self, venue: str, message: str) -> None:
        self.venue = venue
        super().__init__(f"{venue}: {message}")


class VenueConnectionError(VenueError, ConnectionError):
    """A socket or session could not be opened or was lost."""


class VenueTimeoutError(VenueError, TimeoutError):
    """The venue did not answer in time (for an order: the outcome is unknown)."""


class VenueAuthError(VenueError, PermissionError):
    """Credentials, signature, permissions or IP whitelist were refused: a config error."""


class VenueClockError(VenueError):
    """The request's timestamp fell outside the venue's receive window (resync the clock)."""


class VenueRateLimitError(VenueError):
    """The venue's rate limit was hit; nothing may be sent before ``retry_at_ns``.

    ``banned`` is true for an IP ban (Binance HTTP 418): all traffic to the venue stops
    until the ban ends.
    """

    def __init__(self, venue: str, message: str, retry_at_ns: int, banned: bool = False) -> None:
        self.retry_at_ns = retry_at_ns
        self.banned = banned
        super().__init__(venue, message)


class VenueRequestError(VenueError, ValueError):
    """The venue rejected a non-order request with an error code (``code``, ``msg``)."""

    def __init__(self, venue: str, code: int, msg: str, http_status: int = 0) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        super().__init__(venue, f"error {code}: {msg} (HTTP {http_status})")

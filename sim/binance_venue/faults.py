"""Fault injection state of the local venue (the knobs live on ``BinanceVenue``).

Request failures (:class:`FailRule`) match a REST path or WS API method by substring and come
in four modes:

``error``
    Answer ``status`` (default 503) without carrying the request out.
``accept``
    Carry the request out (the order IS placed), then answer ``status`` with -1007
    "execution status unknown".
``timeout``
    Carry it out, hold the answer ``hang`` seconds, then answer as ``accept`` (REST); on the
    WS API never answer.
``disconnect``
    Carry it out, then cut the connection without an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hftlib.sim.binance_venue import errors as E

if TYPE_CHECKING:
    from hftlib.sim.binance_venue.server import BinanceVenue

MODES = ("error", "accept", "timeout", "disconnect")


@dataclass
class FailRule:
    """Fail the next ``remaining`` requests whose path or method contains ``match``."""

    remaining: int
    mode: str = "error"
    status: int = 503
    match: str | None = None
    hang: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown failure mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.remaining < 1:
            raise ValueError("a failure rule needs remaining >= 1")


@dataclass
class Faults:
    """Current fault settings, consulted by the REST and WebSocket layers."""

    rules: list[FailRule] = field(default_factory=list)
    force_429: int = 0
    rest_delay: float = 0.0
    no_ping: bool = False
    clock_shift_ms: int = 0

    def before_request(self, name: str, venue: BinanceVenue, ip: str) -> FailRule | None:
        """Apply forced 429s; return the failure rule this request consumes, if any."""
        if self.force_429 > 0:
            self.force_429 -= 1
            raise venue.limiter.too_many(ip, venue.now_ms())
        for rule in self.rules:
            if rule.match is None or rule.match in name:
                rule.remaining -= 1
                if not rule.remaining:
                    self.rules.remove(rule)
                return rule
        return None


def unknown_outcome_error() -> E.ApiError:
    """Return the -1007 answer of a request whose outcome the client cannot know."""
    return E.ApiError(E.TIMEOUT, E.MSG_TIMEOUT, status=503)

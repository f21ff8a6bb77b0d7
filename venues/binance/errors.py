"""Binance error codes, what each means for an order or a connection, and frame errors.

:class:`ErrorCode` lists the codes of venue-protocols.md §1.9 and §2 (plus the neighbours a
connector meets: unknown-outcome -1000/-1001/-1006, parameter errors, listen key).
:func:`classify` turns a ``{code, msg}`` error (and the HTTP status) into an
:class:`ErrorInfo`: the :class:`Action` the connector takes, the engine's ``V_*`` reason when
an order was rejected, and whether the request may be retried.

Outcome policy (STYLE §3.16): an order is ``REJECT``-ed only on an explicit venue rejection;
timeouts, 5xx and "execution status unknown" codes are ``UNKNOWN`` (query by client id).
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from hftlib.engine.types import V_FOK_UNFILLED, V_UNKNOWN_ORDER, V_WOULD_CROSS
from hftlib.venue.errors import VenueError


class ErrorCode(enum.IntEnum):
    """Binance error codes a connector maps (spot and USD-M share the numbering)."""

    UNKNOWN = -1000
    DISCONNECTED = -1001
    UNAUTHORIZED = -1002
    TOO_MANY_REQUESTS = -1003
    UNEXPECTED_RESP = -1006
    TIMEOUT = -1007
    SERVER_BUSY = -1008
    INVALID_MESSAGE = -1013
    UNKNOWN_ORDER_COMPOSITION = -1014
    TOO_MANY_ORDERS = -1015
    SERVICE_SHUTTING_DOWN = -1016
    INVALID_TIMESTAMP = -1021
    INVALID_SIGNATURE = -1022
    ILLEGAL_CHARS = -1100
    TOO_MANY_PARAMETERS = -1101
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    UNKNOWN_PARAM = -1103
    BAD_PRECISION = -1111
    INVALID_TIF = -1115
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    BAD_SYMBOL = -1121
    INVALID_LISTEN_KEY = -1125
    BAD_RECV_WINDOW = -1131
    NEW_ORDER_REJECTED = -2010
    CANCEL_REJECTED = -2011
    NO_SUCH_ORDER = -2013
    BAD_API_KEY_FMT = -2014
    REJECTED_MBX_KEY = -2015
    NO_TRADING_WINDOW = -2016
    MARGIN_INSUFFICIENT = -2019
    UNABLE_TO_FILL = -2020
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    REDUCE_ONLY_REJECT = -2022
    ORDER_ARCHIVED = -2026
    NOTIONAL_TOO_SMALL = -4164
    FOK_ORDER_REJECT = -5021
    GTX_ORDER_REJECT = -5022


class Action(enum.StrEnum):
    """What the connector does about an error."""

    REJECT = "reject"
    """The venue refused the order: final, ``ST_REJECTED``."""
    UNKNOWN = "unknown"
    """The outcome is unknown (may have executed): ``ST_UNKNOWN``, query by client id."""
    NOT_FOUND = "not_found"
    """The venue has no such (open) order: query it; it is probably already final."""
    RATE_LIMIT = "rate_limit"
    """Too many requests or orders: back off (see the limiter); the request did not run."""
    CLOCK = "clock"
    """Timestamp outside ``recvWindow``: resync the server-time offset; did not run."""
    AUTH = "auth"
    """Key, signature or permission refused: a configuration error, stop trading."""
    REQUEST = "request"
    """Any other refused request (bad parameter, unknown symbol): a bug or config error."""


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """How one venue error is handled."""

    code: int
    action: Action
    reason: int = 0
    """The engine's ``V_*`` code for a rejected or not-found order, 0 when none applies."""
    retryable: bool = False
    """True when an idempotent request may be sent again (after the limiter's wait)."""


RETRYABLE: Final = frozenset(
    {
        ErrorCode.UNKNOWN,
        ErrorCode.DISCONNECTED,
        ErrorCode.TOO_MANY_REQUESTS,
        ErrorCode.UNEXPECTED_RESP,
        ErrorCode.TIMEOUT,
        ErrorCode.SERVER_BUSY,
        ErrorCode.TOO_MANY_ORDERS,
        ErrorCode.SERVICE_SHUTTING_DOWN,
        ErrorCode.INVALID_TIMESTAMP,
    }
)
"""Codes after which an idempotent request (a query, a cancel) may be repeated."""

_ACTIONS: Final = {
    ErrorCode.UNKNOWN: Action.UNKNOWN,
    ErrorCode.DISCONNECTED: Action.UNKNOWN,
    ErrorCode.UNEXPECTED_RESP: Action.UNKNOWN,
    ErrorCode.TIMEOUT: Action.UNKNOWN,
    ErrorCode.SERVICE_SHUTTING_DOWN: Action.UNKNOWN,
    # -1008: the request was refused before processing; for an order the venue still says
    # "retry later", which a connector only does after settling the order's state.
    ErrorCode.SERVER_BUSY: Action.UNKNOWN,
    ErrorCode.TOO_MANY_REQUESTS: Action.RATE_LIMIT,
    ErrorCode.TOO_MANY_ORDERS: Action.RATE_LIMIT,
    ErrorCode.INVALID_TIMESTAMP: Action.CLOCK,
    ErrorCode.BAD_RECV_WINDOW: Action.CLOCK,
    ErrorCode.UNAUTHORIZED: Action.AUTH,
    ErrorCode.INVALID_SIGNATURE: Action.AUTH,
    ErrorCode.BAD_API_KEY_FMT: Action.AUTH,
    ErrorCode.REJECTED_MBX_KEY: Action.AUTH,
    ErrorCode.INVALID_LISTEN_KEY: Action.AUTH,
    ErrorCode.CANCEL_REJECTED: Action.NOT_FOUND,
    ErrorCode.NO_SUCH_ORDER: Action.NOT_FOUND,
    ErrorCode.ORDER_ARCHIVED: Action.NOT_FOUND,
    ErrorCode.INVALID_MESSAGE: Action.REJECT,
    ErrorCode.NEW_ORDER_REJECTED: Action.REJECT,
    ErrorCode.MARGIN_INSUFFICIENT: Action.REJECT,
    ErrorCode.UNABLE_TO_FILL: Action.REJECT,
    ErrorCode.ORDER_WOULD_IMMEDIATELY_TRIGGER: Action.REJECT,
    ErrorCode.REDUCE_ONLY_REJECT: Action.REJECT,
    ErrorCode.NOTIONAL_TOO_SMALL: Action.REJECT,
    ErrorCode.FOK_ORDER_REJECT: Action.REJECT,
    ErrorCode.GTX_ORDER_REJECT: Action.REJECT,
    ErrorCode.BAD_PRECISION: Action.REJECT,
    ErrorCode.NO_TRADING_WINDOW: Action.REJECT,
}

_REASONS: Final = {
    ErrorCode.GTX_ORDER_REJECT: V_WOULD_CROSS,
    ErrorCode.FOK_ORDER_REJECT: V_FOK_UNFILLED,
    ErrorCode.UNABLE_TO_FILL: V_FOK_UNFILLED,
    ErrorCode.CANCEL_REJECTED: V_UNKNOWN_ORDER,
    ErrorCode.NO_SUCH_ORDER: V_UNKNOWN_ORDER,
    ErrorCode.ORDER_ARCHIVED: V_UNKNOWN_ORDER,
}

# -2010 carries its meaning in the text (venue-protocols.md §1.9).
_MSG_REASONS: Final = (("would immediately match", V_WOULD_CROSS),)
# -2011 is also a cancel refused by ``cancelRestrictions``: the order exists.
_CANCEL_RESTRICTED: Final = "cancel restriction"


def classify(code: int, msg: str = "", http_status: int = 0) -> ErrorInfo:
    """Return how to handle venue error ``code`` (with its ``msg`` and HTTP status).

    HTTP 5xx is an unknown outcome whatever the code; 429 and 418 are rate limits. A code
    not in :class:`ErrorCode` is a plain refused request (``Action.REQUEST``), except in
    the -1000s range of server-side failures, which is unknown.
    """
    retryable = code in RETRYABLE
    if http_status >= 500:
        return ErrorInfo(code=code, action=Action.UNKNOWN, retryable=True)
    if http_status in (418, 429):
        return ErrorInfo(code=code, action=Action.RATE_LIMIT, retryable=http_status == 429)
    try:
        known = ErrorCode(code)
    except ValueError:
        action = Action.UNKNOWN if -1099 <= code <= -1000 else Action.REQUEST
        return ErrorInfo(code=code, action=action, retryable=retryable)
    action = _ACTIONS.get(known, Action.REQUEST)
    reason = _REASONS.get(known, 0)
    text = msg.lower()
    if known == ErrorCode.NEW_ORDER_REJECTED:
        reason = next((r for needle, r in _MSG_REASONS if needle in text), 0)
    elif known == ErrorCode.CANCEL_REJECTED and _CANCEL_RESTRICTED in text:
        action, reason = Action.REJECT, 0
    return ErrorInfo(code=code, action=action, reason=reason, retryable=retryable)


class BinanceMessageError(VenueError, ValueError):
    """A venue message could not be read: malformed, unknown, off the grid, or unexpected.

    Parameters
    ----------
    venue : str
        ``binance`` or ``binance-futures``.
    what : str
        The message kind being read (``depthUpdate``, ``executionReport``, ...).
    field : str
        The offending field as a path (``$.data.b[3][0]``), ``$`` for the whole message.
    reason : str
        What was wrong, with the value received.
    category : str
        One of ``malformed json``, ``malformed message``, ``unknown message``, ``off grid``,
        ``symbol mismatch``, ``wrong market``, ``venue error``: the counter a client keeps.
    """

    def __init__(
        self, venue: str, what: str, field: str, reason: str, category: str = "malformed message"
    ) -> None:
        self.what = what
        self.field = field
        self.reason = reason
        self.category = category
        super().__init__(venue, f"{what}: {field}: {reason}")

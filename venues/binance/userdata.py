"""Binance user-data and WS API envelopes: dispatch before the per-event decoders.

Spot user data arrives on the WS API socket as ``{"subscriptionId": n, "event": {...}}``;
USD-M user data on the listen-key stream as bare events. WS API responses are
``{id, status, result | error, rateLimits}``.

:func:`parse_ws_api_frame` tells the three spot frame kinds apart; :func:`user_event`
returns ``(event type, raw event)`` for either market. Known event types are listed in
:data:`USER_EVENTS`; the client counts any other (Binance adds types over time).
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec
from hftlib.venues.binance import schemas as sc
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.decoding import decode, error

EXECUTION_REPORT: Final = "executionReport"
ACCOUNT_POSITION: Final = "outboundAccountPosition"
BALANCE_UPDATE: Final = "balanceUpdate"
LIST_STATUS: Final = "listStatus"
EXTERNAL_LOCK_UPDATE: Final = "externalLockUpdate"
STREAM_TERMINATED: Final = "eventStreamTerminated"
"""The subscription ended: resubscribe and reconcile."""
ORDER_TRADE_UPDATE: Final = "ORDER_TRADE_UPDATE"
ACCOUNT_UPDATE: Final = "ACCOUNT_UPDATE"
LISTEN_KEY_EXPIRED: Final = "listenKeyExpired"
"""USD-M: the listen key expired: create a new one and reconnect."""

USER_EVENTS: Final = frozenset(
    {
        EXECUTION_REPORT,
        ACCOUNT_POSITION,
        BALANCE_UPDATE,
        LIST_STATUS,
        EXTERNAL_LOCK_UPDATE,
        STREAM_TERMINATED,
        ORDER_TRADE_UPDATE,
        ACCOUNT_UPDATE,
        LISTEN_KEY_EXPIRED,
    }
)

RESPONSE: Final = "response"
EVENT: Final = "event"

_HEADER: Final = msgspec.json.Decoder(sc.EventHeader)
_USER: Final = msgspec.json.Decoder(sc.UserEvent)
_RESPONSE: Final = msgspec.json.Decoder(sc.WsApiResponse)
_LISTEN_KEY: Final = msgspec.json.Decoder(sc.ListenKey)
_ERROR: Final = msgspec.json.Decoder(sc.ErrorBody)
_PROBE: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


class UserEvent(NamedTuple):
    """One user-data event: its type, subscription (-1 on USD-M) and raw JSON."""

    event: str
    subscription_id: int
    data: bytes


def parse_ws_api_frame(raw: bytes) -> tuple[str, sc.WsApiResponse | UserEvent]:
    """Return ``(RESPONSE, response)`` or ``(EVENT, user event)`` for a WS API frame."""
    try:
        keys = _PROBE.decode(raw)
    except msgspec.ValidationError:
        raise error(Market.SPOT, "ws-api frame", "$", "not a JSON object") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise error(Market.SPOT, "ws-api frame", "$", str(exc), "malformed json") from None
    if "subscriptionId" in keys and "event" in keys:
        env = decode(_USER, raw, Market.SPOT, "user event")
        data = bytes(env.event)
        header = decode(_HEADER, data, Market.SPOT, "user event")
        return EVENT, UserEvent(header.event, env.subscription_id, data)
    if "status" in keys and "id" in keys:
        return RESPONSE, decode(_RESPONSE, raw, Market.SPOT, "ws-api response")
    names = sorted(keys)[:8]
    raise error(
        Market.SPOT, "ws-api frame", "$", f"unknown frame with keys {names}", "unknown message"
    )


def user_event(raw: bytes, market: Market) -> UserEvent:
    """Return a user-data event: spot ``{subscriptionId, event}`` or a bare USD-M event."""
    if market == Market.SPOT:
        _, value = parse_ws_api_frame(raw)
        if not isinstance(value, UserEvent):
            raise error(
                market, "user event", "$", "a WS API response, not an event", "unknown message"
            )
        return value
    header = decode(_HEADER, raw, market, "user event")
    return UserEvent(header.event, -1, raw)


def decode_listen_key(raw: bytes) -> str:
    """Return the key of ``POST /fapi/v1/listenKey``."""
    return decode(_LISTEN_KEY, raw, Market.USDM, "listenKey").listen_key


def decode_error(raw: bytes, market: Market) -> sc.ErrorBody:
    """Decode a REST error body ``{code, msg}``."""
    return decode(_ERROR, raw, market, "error")

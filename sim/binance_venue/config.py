"""Configuration of the local Binance venue server: accounts and venue rules.

Every default is defined once, here, and listed in the class docstrings.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Market = Literal["spot", "usdm"]


class AccountConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One trading account of the server.

    Parameters
    ----------
    api_key : str
        The key clients send in ``X-MBX-APIKEY`` (or ``apiKey`` on the WS API).
    secret : str
        The HMAC secret; never shown by ``repr``.
    balances : dict[str, str]
        Starting balances as decimal strings, e.g. ``{"USDT": "10000", "BTC": "1"}``
        (USD-M: the margin asset's wallet balance). Default: none.
    leverage : int
        USD-M leverage for every symbol. Default 20.
    """

    api_key: str
    secret: str
    balances: dict[str, str] = msgspec.field(default_factory=dict)
    leverage: int = 20

    def __repr__(self) -> str:
        masked = f"{self.api_key[:4]}..." if len(self.api_key) > 4 else "***"
        return f"AccountConfig(api_key={masked!r}, secret=***, balances={self.balances!r})"

    __str__ = __repr__


class VenueConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Rules of the local venue; ``None`` means the market's Binance value.

    Parameters
    ----------
    weight_limit : int | None
        REQUEST_WEIGHT per minute per IP. Spot 6000, USD-M 2400.
    orders_per_10s : int | None
        New orders per 10 s per account. Spot 100, USD-M 300.
    orders_per_long : int | None
        New orders per day (spot, 200000) or per minute (USD-M, 1200) per account.
    ban_after : int
        Requests answered 429 within one window before the IP is banned (418). Default 10.
    ban_seconds : float
        Length of a 418 ban. Default 120.
    min_notional : str | None
        Smallest order notional in quote. Spot "5", USD-M "100".
    ping_interval : float
        Seconds between the server's pings on every WebSocket. Default 20.
    pong_timeout : float
        Seconds a socket may leave a ping unanswered before it is dropped. Default 60.
    listen_key_ttl : float
        USD-M listen key lifetime in seconds, extended by PUT. Default 3600.
    max_send_queue : int
        Frames queued for one socket before it is dropped as a slow consumer. Default 100000.
    stp_default : str
        Self-trade prevention mode of orders that do not name one. Default "EXPIRE_TAKER".
    fee_maker, fee_taker : str | None
        Commission rates as decimal fractions. Default: the instrument's maker/taker fees.
    """

    weight_limit: int | None = None
    orders_per_10s: int | None = None
    orders_per_long: int | None = None
    ban_after: int = 10
    ban_seconds: float = 120.0
    min_notional: str | None = None
    ping_interval: float = 20.0
    pong_timeout: float = 60.0
    listen_key_ttl: float = 3600.0
    max_send_queue: int = 100_000
    stp_default: str = "EXPIRE_TAKER"
    fee_maker: str | None = None
    fee_taker: str | None = None

"""Build a :class:`~hftlib.venues.binance.venue.BinanceVenue` from an exchange config.

``config/exchanges/binance.json`` (spot) and ``binance_usdm.json`` (USD-M) are
:class:`hftlib.config.model.ExchangeConfig` objects: the venue id picks the market, the
symbols (``BTC-USDT``) the instruments, ``api_key``/``api_secret`` the credentials
(resolved here, :mod:`.credentials`), ``endpoints`` the REST and stream URLs and
``rate_limits`` client-side windows that the venue's own limits never loosen.

The config has no WS API URL (spot user data lives there). When ``endpoints.rest`` is the
venue's own host the venue's WS API URL is used; otherwise (a testnet or the local venue
server, which serve everything on one host) it is the ``endpoints.websocket`` host with the
venue's WS API path. ``ws_api=`` overrides either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from hftlib.venues.binance.constants import DEFAULT_LIMITS, NS_PER_S, VENUE_NAMES, Market
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.urls import BinanceUrls, urls_for
from hftlib.venues.binance.venue import BinanceVenue

from hftlib.config.model import ExchangeConfig
from hftlib.venue.ratelimit import ORDERS, REQUEST_WEIGHT, Limit, RateLimiter

MARKETS: Final = {name: market for market, name in VENUE_NAMES.items()}
"""Instrument venue id -> market (``binance`` spot, ``binance-futures`` USD-M)."""


def market_of_config(config: ExchangeConfig) -> Market:
    """Return the market an exchange config trades (ValueError for a non-Binance venue)."""
    try:
        return MARKETS[config.venue]
    except KeyError:
        raise ValueError(
            f"exchange {config.exchange_id!r} is on venue {config.venue!r}, not one of "
            f"{sorted(MARKETS)}"
        ) from None


def config_urls(config: ExchangeConfig, ws_api: str | None = None) -> BinanceUrls:
    """Return the URLs of a config's endpoints (see the module docstring for the WS API)."""
    market = market_of_config(config)
    live = urls_for(market)
    rest = config.endpoints.rest.rstrip("/")
    stream = config.endpoints.websocket.rstrip("/")
    if ws_api is None and rest != live.rest:
        parts = urlsplit(stream)
        ws_api = urlunsplit((parts.scheme, parts.netloc, urlsplit(live.ws_api).path, "", ""))
    return urls_for(market, rest=rest, stream=stream, ws_api=ws_api)


def config_limits(config: ExchangeConfig) -> list[Limit]:
    """Return the market's default windows tightened by the config's client-side limits."""
    market = market_of_config(config)
    minute = 60 * NS_PER_S
    windows = {(lim.kind, lim.interval_ns): lim.limit for lim in DEFAULT_LIMITS[market]}
    ours = [(REQUEST_WEIGHT, minute, config.rate_limits.requests_per_minute)]
    per_second = config.rate_limits.orders_per_second
    if per_second >= 1:
        ours.append((ORDERS, NS_PER_S, int(per_second)))
    elif per_second > 0:
        ours.append((ORDERS, round(NS_PER_S / per_second), 1))
    for kind, interval, limit in ours:
        key = (kind, interval)
        windows[key] = min(limit, windows.get(key, limit))
    return [Limit(kind=k, interval_ns=i, limit=n) for (k, i), n in windows.items()]


def build_venue(
    config: ExchangeConfig,
    *,
    symbols: Sequence[str] | None = None,
    credentials: Credentials | None = None,
    ws_api: str | None = None,
    market_data_only: bool = False,
    **options: Any,
) -> BinanceVenue:
    """Return a connector for ``config``.

    Parameters
    ----------
    config : ExchangeConfig
        A ``binance`` or ``binance-futures`` exchange.
    symbols : sequence of str or None
        Config symbols (``BTC-USDT``) to serve. Default None (all of the config's).
    credentials : Credentials or None
        Use these instead of resolving ``api_key``/``api_secret``. Default None.
    ws_api : str or None
        WS API URL override. Default None.
    market_data_only : bool
        Serve public market data only: no credentials are resolved and no order or
        user-data session is opened (paper mode). Default False.
    **options
        Passed to :class:`~hftlib.venues.binance.venue.BinanceVenue` (timeouts, backoff,
        streams ...).
    """
    market = market_of_config(config)
    names = list(symbols) if symbols is not None else list(config.symbols)
    instruments = [config.instrument(s) for s in names]
    if market_data_only:
        credentials = None
    elif credentials is None:
        credentials = Credentials.from_refs(config.api_key, config.api_secret)
    limiter = RateLimiter(config.exchange_id, config_limits(config))
    return BinanceVenue(
        market,
        instruments,
        credentials,
        urls=config_urls(config, ws_api),
        name=config.exchange_id,
        limiter=limiter,
        **options,
    )

"""Binance base URLs and stream URLs, for the live venue, the testnet or any base URL.

Every URL can be overridden: :func:`urls_for` with ``base_url="http://127.0.0.1:PORT"``
points REST, streams and the WS API at one local server (the local Binance venue of
``sim/``), which serves the same paths as the venue.

USD-M streams are routed by path (venue-protocols.md §2): ``/public`` carries high-frequency
book data (``@depth*``, ``@bookTicker``), ``/market`` the other market data (``@aggTrade``,
``@trade``, ``@kline_*``, ``@markPrice``, ``@ticker`` ...) and ``/private`` user data. A stream
on the wrong path fails silently, so :func:`usdm_route` decides it in one place. Spot has one
combined-stream endpoint for everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
from hftlib.venues.binance.constants import Market

PUBLIC: Final = "public"
MARKET: Final = "market"
PRIVATE: Final = "private"

_PUBLIC_STREAMS: Final = ("depth", "bookTicker")


class BinanceUrls(msgspec.Struct, frozen=True, kw_only=True):
    """Where one market's REST, streams and WS API live.

    ``stream`` is the stream host root (``wss://stream.binance.com:9443``) with no path;
    ``routed`` is true where USD-M path routing applies.
    """

    market: Market
    rest: str
    stream: str
    ws_api: str
    routed: bool

    @property
    def api_prefix(self) -> str:
        """Return the REST path prefix (``/api/v3`` or ``/fapi/v1``)."""
        return "/api/v3" if self.market == Market.SPOT else "/fapi/v1"

    def rest_url(self, path: str) -> str:
        """Return the URL of a REST path such as ``/api/v3/depth``."""
        return self.rest + path

    def combined_stream_url(self, streams: Sequence[str]) -> str:
        """Return the combined-stream URL for ``streams`` (all on one USD-M route)."""
        if not streams:
            raise ValueError("no streams given")
        prefix = ""
        if self.routed:
            routes = {usdm_route(s) for s in streams}
            if len(routes) != 1:
                raise ValueError(
                    f"USD-M streams {list(streams)} span routes {sorted(routes)}: "
                    "open one connection per route"
                )
            prefix = "/" + routes.pop()
        return f"{self.stream}{prefix}/stream?streams={'/'.join(streams)}"

    def user_stream_url(self, listen_key: str) -> str:
        """Return the USD-M user-data stream URL of ``listen_key``."""
        if self.market != Market.USDM:
            raise ValueError("spot user data comes through the WS API, not a listen key")
        prefix = f"/{PRIVATE}" if self.routed else ""
        return f"{self.stream}{prefix}/ws/{listen_key}"


def usdm_route(stream: str) -> str:
    """Return the USD-M route (``public`` or ``market``) that carries ``stream``."""
    name = stream.partition("@")[2]
    if not name:
        raise ValueError(f"stream {stream!r} has no '@<name>' part")
    return PUBLIC if name.startswith(_PUBLIC_STREAMS) else MARKET


_LIVE: Final = {
    Market.SPOT: BinanceUrls(
        market=Market.SPOT,
        rest="https://api.binance.com",
        stream="wss://stream.binance.com:9443",
        ws_api="wss://ws-api.binance.com:443/ws-api/v3",
        routed=False,
    ),
    Market.USDM: BinanceUrls(
        market=Market.USDM,
        rest="https://fapi.binance.com",
        stream="wss://fstream.binance.com",
        ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
        routed=True,
    ),
}
_TESTNET: Final = {
    Market.SPOT: BinanceUrls(
        market=Market.SPOT,
        rest="https://testnet.binance.vision",
        stream="wss://stream.testnet.binance.vision",
        ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
        routed=False,
    ),
    Market.USDM: BinanceUrls(
        market=Market.USDM,
        rest="https://testnet.binancefuture.com",
        stream="wss://fstream.binancefuture.com",
        ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
        routed=True,
    ),
}


def urls_for(
    market: Market,
    *,
    testnet: bool = False,
    base_url: str | None = None,
    rest: str | None = None,
    stream: str | None = None,
    ws_api: str | None = None,
) -> BinanceUrls:
    """Return the URLs of ``market``: live, testnet, or everything on one base URL.

    Parameters
    ----------
    market : Market
        Spot or USD-M.
    testnet : bool
        Use the testnet hosts. Default False.
    base_url : str or None
        ``http(s)://host:port``: REST there, streams and WS API on the matching
        ``ws(s)://host:port`` with the venue's paths. Default None.
    rest, stream, ws_api : str or None
        Override one URL (applied last). Default None.
    """
    urls = (_TESTNET if testnet else _LIVE)[Market(market)]
    if base_url is not None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        ws_root = urlunsplit((ws_scheme, parts.netloc, "", "", ""))
        api_path = urlsplit(urls.ws_api).path
        urls = msgspec.structs.replace(urls, rest=root, stream=ws_root, ws_api=ws_root + api_path)
    overrides = {
        k: v.rstrip("/") for k, v in (("rest", rest), ("stream", stream), ("ws_api", ws_api)) if v
    }
    return msgspec.structs.replace(urls, **overrides) if overrides else urls

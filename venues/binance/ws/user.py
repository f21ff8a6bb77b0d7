"""Binance user data (order updates, balances) for spot and USD-M, kept subscribed.

Spot (venue-protocols §1.10, the 2026 scheme): one WS API socket, on which the client
sends ``userDataStream.subscribe.signature`` (``apiKey``, ``timestamp``, ``recvWindow``,
``signature``: any key type) and then receives ``{"subscriptionId", "event"}`` frames.
``eventStreamTerminated`` ends the subscription: the client subscribes again on the same
socket. A -1021 answer resyncs the clock and subscribes again.

USD-M (§2): ``POST /fapi/v1/listenKey`` gives a key, the stream is ``/private/ws/<key>``,
``PUT`` every ``keepalive_s`` (30 min) keeps it; a keepalive answered -1125 ("This
listenKey does not exist.") or a ``listenKeyExpired`` event means a new key and a new
socket; a socket refused at the upgrade (an unknown key) too.

Both yield the raw :class:`~hftlib.venues.binance.userdata.UserEvent` values and a
:class:`Resubscribed` marker every time a (new) subscription starts: events may have been
missed since the last one, so the venue reconciles (open orders, recent fills). Sockets that
close, fail or go silent reconnect with the backoff of :class:`.client.Reconnect`; a
``serverShutdown`` reconnects at once. Malformed and unknown frames are counted
(``bad.<category>``) and skipped. Refused credentials raise
:class:`~hftlib.venue.errors.VenueAuthError` out of the iterator: a configuration error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Final, NamedTuple, TypeAlias

import aiohttp
import msgspec
import orjson
from hftlib.venues.binance import userdata as ud
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.errors import Action, BinanceMessageError, ErrorCode, classify
from hftlib.venues.binance.http.client import BinanceApiError, BinanceHttp
from hftlib.venues.binance.limits import observe_penalty, observe_rate_limits
from hftlib.venues.binance.schemas import WsApiResponse
from hftlib.venues.binance.urls import BinanceUrls
from hftlib.venues.binance.ws.client import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_SILENCE_S,
    HandshakeRefused,
    Reconnect,
    SocketLost,
    frames,
    open_socket,
)

from hftlib.venue.errors import VenueAuthError, VenueError, VenueRateLimitError

DEFAULT_KEEPALIVE_S: Final = 30 * 60.0
SUBSCRIBE_WEIGHT: Final = 2
_SHUTDOWN: Final = "serverShutdown"


class Resubscribed(NamedTuple):
    """A user-data subscription (re)started; ``first`` is false when events may be missing."""

    first: bool


UserItem: TypeAlias = ud.UserEvent | Resubscribed


class _Subscription(msgspec.Struct):
    subscriptionId: int  # noqa: N815 - the venue's field name


_SUB: Final = msgspec.json.Decoder(_Subscription)


class SpotUserStream:
    """Spot user data through the WS API's ``userDataStream.subscribe.signature``.

    Parameters
    ----------
    http : BinanceHttp
        The REST client (session, credentials, clock offset, limiter).
    urls : BinanceUrls
        ``ws_api`` is the socket's URL.
    reconnect : Reconnect
        Paces reconnects.
    silence_s, connect_timeout_s : float
        As for market data. Defaults 60 and 10.
    """

    def __init__(
        self,
        http: BinanceHttp,
        urls: BinanceUrls,
        reconnect: Reconnect,
        *,
        silence_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if http.credentials is None:
            raise VenueAuthError(http.venue, "user data needs API credentials")
        self.http = http
        self.urls = urls
        self.reconnect = reconnect
        self.silence_s = silence_s
        self.connect_timeout_s = connect_timeout_s
        self.counts: Counter[str] = Counter()
        self.subscription_id = -1
        self._ids = itertools.count(1)

    async def events(self) -> AsyncIterator[UserItem]:
        """Yield user-data events and :class:`Resubscribed` markers forever."""
        first = True
        venue = self.http.venue
        while True:
            try:
                ws = await open_socket(
                    self.http.session, self.urls.ws_api, venue, self.connect_timeout_s
                )
            except VenueError:
                self.counts["connect.failed"] += 1
                await self.reconnect.wait()
                continue
            self.counts["connect"] += 1
            immediate = False
            try:
                rid = await self._subscribe(ws)
                async with aclosing(frames(ws, venue, self.silence_s)) as stream:
                    async for raw, _local in stream:
                        try:
                            kind, value = ud.parse_ws_api_frame(raw)
                        except BinanceMessageError as exc:
                            if _is_shutdown(raw):
                                immediate = True
                                break
                            self.counts[f"bad.{exc.category}"] += 1
                            continue
                        if isinstance(value, ud.UserEvent):
                            if value.event == ud.STREAM_TERMINATED:
                                self.counts["terminated"] += 1
                                rid = await self._subscribe(ws)
                                continue
                            self.counts[f"event.{value.event}"] += 1
                            yield value
                            continue
                        if value.id != rid:
                            self.counts["response.unexpected"] += 1
                            continue
                        observe_rate_limits(self.http.limiter, value.rate_limits)
                        if value.status == 200:
                            try:
                                self.subscription_id = _SUB.decode(value.result).subscriptionId
                            except (msgspec.DecodeError, msgspec.ValidationError):
                                self.counts["bad.subscription result"] += 1
                                break
                            self.counts["subscribed"] += 1
                            self.reconnect.healthy()
                            yield Resubscribed(first)
                            first = False
                            continue
                        retry = await self._refused(ws, value)
                        if retry is None:
                            break
                        rid = retry
            except SocketLost as exc:
                self.counts[f"lost.{exc.reason}"] += 1
            except VenueRateLimitError:
                # banned or throttled while subscribing: the reconnect waits the ban out
                self.counts["rate_limited"] += 1
            except (ConnectionError, aiohttp.ClientError):
                self.counts["lost.send"] += 1  # the socket died under a subscribe request
            finally:
                await ws.close()
            self.counts["reconnect"] += 1
            await self.reconnect.wait(immediate)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        creds = self.http.credentials
        assert creds is not None  # noqa: S101 - checked in __init__
        await self.http.limiter.acquire(SUBSCRIBE_WEIGHT)
        params: dict[str, object] = {
            "apiKey": creds.api_key,
            "recvWindow": self.http.recv_window_ms,
            "timestamp": self.http.now_ms(),
        }
        params["signature"] = creds.sign_ws(params)
        rid = f"uds{next(self._ids)}"
        frame = {"id": rid, "method": "userDataStream.subscribe.signature", "params": params}
        await ws.send_str(orjson.dumps(frame).decode())
        return rid

    async def _refused(
        self, ws: aiohttp.ClientWebSocketResponse, resp: WsApiResponse
    ) -> str | None:
        """Handle a refused subscription: return a new request id, or None to reconnect."""
        err = resp.error
        code, msg = (err.code, err.msg) if err is not None else (0, "")
        info = classify(code, msg, resp.status)
        self.counts[f"subscribe.error.{code}"] += 1
        if resp.status in (418, 429):
            retry_ms = err.data.get("retryAfter") if err is not None and err.data else None
            observe_penalty(
                self.http.limiter,
                resp.status,
                self.http.clock_ns(),
                retry_at_ms=retry_ms if isinstance(retry_ms, int) else None,
            )
            return None
        if info.action == Action.CLOCK:
            await self.http.sync_time()
            return await self._subscribe(ws)
        if info.action == Action.AUTH:
            raise VenueAuthError(self.http.venue, f"user data subscription refused: {code} {msg}")
        return None


class UsdmUserStream:
    """USD-M user data through a listen key.

    Parameters
    ----------
    http : BinanceHttp
        The REST client (listen-key calls, session).
    urls : BinanceUrls
        Stream host (``/private/ws/<key>``).
    reconnect : Reconnect
        Paces reconnects.
    keepalive_s : float
        Seconds between keepalive PUTs. Default 1800 (the key lives 60 min).
    silence_s, connect_timeout_s : float
        As for market data. Defaults 60 and 10.
    """

    def __init__(
        self,
        http: BinanceHttp,
        urls: BinanceUrls,
        reconnect: Reconnect,
        *,
        keepalive_s: float = DEFAULT_KEEPALIVE_S,
        silence_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if http.credentials is None:
            raise VenueAuthError(http.venue, "user data needs API credentials")
        self.http = http
        self.urls = urls
        self.reconnect = reconnect
        self.keepalive_s = keepalive_s
        self.silence_s = silence_s
        self.connect_timeout_s = connect_timeout_s
        self.counts: Counter[str] = Counter()
        self.listen_key = ""

    async def events(self) -> AsyncIterator[UserItem]:
        """Yield user-data events and :class:`Resubscribed` markers forever."""
        first = True
        venue = self.http.venue
        while True:
            try:
                self.listen_key = ud.decode_listen_key(
                    await self.http.call("listenKeyNew", api_key=True)
                )
                ws = await open_socket(
                    self.http.session,
                    self.urls.user_stream_url(self.listen_key),
                    venue,
                    self.connect_timeout_s,
                )
            except VenueAuthError:
                raise
            except HandshakeRefused:
                self.counts["listen_key.refused"] += 1
                await self.reconnect.wait()
                continue
            except (VenueError, BinanceMessageError):
                self.counts["connect.failed"] += 1
                await self.reconnect.wait()
                continue
            self.counts["connect"] += 1
            keepalive = asyncio.ensure_future(self._keepalive(ws))
            immediate = False
            try:
                yield Resubscribed(first)
                first = False
                async with aclosing(frames(ws, venue, self.silence_s)) as stream:
                    async for raw, _local in stream:
                        self.reconnect.healthy()
                        try:
                            event = ud.user_event(raw, Market.USDM)
                        except BinanceMessageError as exc:
                            self.counts[f"bad.{exc.category}"] += 1
                            continue
                        if event.event in (ud.LISTEN_KEY_EXPIRED, _SHUTDOWN):
                            self.counts[f"event.{event.event}"] += 1
                            immediate = True
                            break
                        self.counts[f"event.{event.event}"] += 1
                        yield event
            except SocketLost as exc:
                self.counts[f"lost.{exc.reason}"] += 1
            finally:
                keepalive.cancel()
                await asyncio.gather(keepalive, return_exceptions=True)
                await ws.close()
            self.counts["reconnect"] += 1
            await self.reconnect.wait(immediate)

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.http.call("listenKeyKeep", api_key=True)
                self.counts["keepalive"] += 1
            except BinanceApiError as exc:
                if exc.code == ErrorCode.INVALID_LISTEN_KEY:
                    self.counts["listen_key.lost"] += 1
                    await ws.close()  # the reader sees the close and a new key is made
                    return
                self.counts["keepalive.failed"] += 1
            except VenueError:
                self.counts["keepalive.failed"] += 1


def _is_shutdown(raw: bytes) -> bool:
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    event = msg.get("event") if isinstance(msg, dict) else None
    return isinstance(event, dict) and event.get("e") == _SHUTDOWN

"""Stream fan-out: WebSocket connections, subscriptions, market and user-data messages.

The :class:`Hub` is the exchange's :class:`~hftlib.sim.binance_venue.exchange.Sink`. It renders
each message once (orjson) and queues the bytes on every subscribed connection; a writer task
per connection sends them, so a slow client never stalls the venue (one whose queue exceeds
``max_send_queue`` frames is dropped, as Binance drops slow consumers).

Depth streams
-------------
``<sym>@depth@0ms`` (USD-M) carries every diff as it happens. The other speeds
(``@depth`` = 1000 ms spot / 250 ms USD-M, ``@depth@100ms``, ``@depth@250ms``,
``@depth@500ms``) merge the diffs of a window into one message (latest size per level,
``U`` of the first diff, ``u`` of the last, ``pu`` = the stream's previous ``u``). Windows
are measured on the *replay clock* (the recorded time of the message being replayed), so a
stepped replay gives the same messages every run. A window opened by a diff at ``t`` covers
``[t - t % ms, t - t % ms + ms)``: a diff at or after its end first publishes it and then
opens the next one, so diffs ``ms`` apart are two messages.

USD-M routing
-------------
A USD-M connection opened under ``/public`` receives only book streams (``@depth*``,
``@bookTicker``), one under ``/market`` only the others (``@trade``, ``@aggTrade``); a stream
on the wrong route is acknowledged but never delivers, as on Binance. Plain ``/ws`` and
``/stream`` carry the public streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from hftlib.sim.binance_venue.rules import SymbolRules

SPOT_DEPTH_MS: Final = {"depth": 1000, "depth@100ms": 100}
USDM_DEPTH_MS: Final = {
    "depth": 250,
    "depth@0ms": 0,
    "depth@100ms": 100,
    "depth@250ms": 250,
    "depth@500ms": 500,
}
OTHER_STREAMS: Final = ("trade", "aggTrade", "bookTicker")
PUBLIC_ROUTE_STREAMS: Final = ("depth", "bookTicker")


@dataclass(eq=False)
class Conn:
    """One WebSocket connection of any kind (market streams, WS API, private)."""

    ws: web.WebSocketResponse
    kind: str
    """``market``, ``api`` or ``private``."""
    route: str = "any"
    """USD-M route of a market connection: ``public``, ``market`` or ``any`` (spot)."""
    combined: bool = True
    streams: list[str] = field(default_factory=list)
    account: int = 0
    listen_key: str = ""
    queue: asyncio.Queue[tuple[float, WSMsgType, bytes]] = field(default_factory=asyncio.Queue)
    ping_due: float | None = None
    """Monotonic time of the oldest unanswered ping, None when every ping got its pong."""
    last_ping: float = 0.0
    transport: asyncio.BaseTransport | None = None
    no_ping: bool = False
    silent: bool = False
    connected_ms: int = 0
    ip: str = "127.0.0.1"
    subscriptions: dict[int, int] = field(default_factory=dict)
    """WS API: user-data subscription id -> account."""
    writer: asyncio.Task[None] | None = None


class _Window:
    """Pending diffs of one conflated depth stream."""

    __slots__ = ("asks", "bids", "end_ms", "first", "last", "prev")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.first = self.last = self.prev = -1
        self.end_ms = 0


class Hub:
    """Subscriptions and rendering for every connection of the server.

    Parameters
    ----------
    rules : dict[str, SymbolRules]
        Per-symbol formatting.
    market : {"spot", "usdm"}
        Message shapes.
    window_clock : Callable[[], int]
        The replay clock in ms (conflation windows).
    max_queue : int
        Frames queued per connection before it is dropped.
    on_overflow : Callable[[Conn], None]
        Called (once) with a connection whose queue overflowed; it closes the socket.
    """

    def __init__(
        self,
        rules: dict[str, SymbolRules],
        market: str,
        window_clock: Callable[[], int],
        max_queue: int,
        on_overflow: Callable[[Conn], None],
    ) -> None:
        self.rules = rules
        self.on_overflow = on_overflow
        self.market = market
        self.window_clock = window_clock
        self.max_queue = max_queue
        self.conns: set[Conn] = set()
        self.subs: dict[str, set[Conn]] = {}
        self.windows: dict[str, _Window] = {}
        self.private: dict[int, set[Conn]] = {}
        self.frame_delay = 0.0
        self.sent = 0
        self._agg_id = 0

    # --- stream names ----------------------------------------------------------------------
    def depth_ms(self, name: str) -> int | None:
        """Return the window of a depth stream name (``depth@100ms`` ...) or None."""
        table = SPOT_DEPTH_MS if self.market == "spot" else USDM_DEPTH_MS
        return table.get(name)

    def valid_stream(self, stream: str) -> bool:
        """True when ``stream`` names a stream this server publishes."""
        symbol, _, name = stream.partition("@")
        if symbol.upper() not in self.rules or symbol != symbol.lower():
            return False
        return name in OTHER_STREAMS or self.depth_ms(name) is not None

    def deliverable(self, conn: Conn, stream: str) -> bool:
        """True when the connection's route carries the stream (USD-M routing)."""
        if conn.route == "any":
            return True
        public = stream.partition("@")[2].startswith(PUBLIC_ROUTE_STREAMS)
        return public == (conn.route == "public")

    # --- subscriptions ---------------------------------------------------------------------
    def subscribe(self, conn: Conn, stream: str) -> None:
        """Add a stream to a connection (a no-op delivery when its route does not carry it)."""
        if stream not in conn.streams:
            conn.streams.append(stream)
        if not self.deliverable(conn, stream):
            return
        self.subs.setdefault(stream, set()).add(conn)
        name = stream.partition("@")[2]
        ms = self.depth_ms(name)
        if ms and stream not in self.windows:
            self.windows[stream] = _Window()

    def unsubscribe(self, conn: Conn, stream: str) -> None:
        """Remove a stream from a connection."""
        if stream in conn.streams:
            conn.streams.remove(stream)
        subs = self.subs.get(stream)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subs[stream]
                self.windows.pop(stream, None)

    def add(self, conn: Conn) -> None:
        """Register a connection."""
        self.conns.add(conn)
        if conn.kind == "private":
            self.private.setdefault(conn.account, set()).add(conn)

    def remove(self, conn: Conn) -> None:
        """Forget a connection and all its subscriptions."""
        self.conns.discard(conn)
        for stream in list(conn.streams):
            self.unsubscribe(conn, stream)
        if conn.kind == "private":
            self.private.get(conn.account, set()).discard(conn)

    # --- sending ---------------------------------------------------------------------------
    def send(self, conn: Conn, data: bytes, opcode: WSMsgType = WSMsgType.TEXT) -> None:
        """Queue a frame; drop the connection when its queue is full (slow consumer)."""
        if conn.queue.qsize() >= self.max_queue:
            self.remove(conn)
            self.on_overflow(conn)
            return
        conn.queue.put_nowait((time.monotonic(), opcode, data))

    def publish(self, stream: str, payload: dict[str, Any]) -> None:
        """Send a market payload to its stream's subscribers (raw or combined envelope)."""
        subs = self.subs.get(stream)
        if not subs:
            return
        raw = orjson.dumps(payload)
        combined = b'{"stream":"' + stream.encode() + b'","data":' + raw + b"}"
        for conn in list(subs):
            self.send(conn, combined if conn.combined else raw)

    async def write_loop(self, conn: Conn) -> None:
        """Send a connection's queued frames (honouring the delay and silence knobs)."""
        while True:
            queued_at, opcode, data = await conn.queue.get()
            if self.frame_delay:
                wait = queued_at + self.frame_delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if conn.silent or conn.ws.closed:
                continue
            if opcode == WSMsgType.PING:
                await conn.ws.ping(data)
            elif opcode == WSMsgType.CLOSE:  # close after the frames queued before it
                await conn.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=data)
                return
            else:
                await conn.ws.send_frame(data, opcode)
                self.sent += 1

    # --- Sink ------------------------------------------------------------------------------
    def depth(
        self,
        symbol: str,
        first: int,
        last: int,
        prev: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        now_ms: int,
    ) -> None:
        """Publish a diff on the immediate stream and add it to the conflated ones.

        Windows the replay clock has already passed are published first: a diff at or after
        a window's end opens the next window, as Binance starts a new one with it.
        """
        lower = symbol.lower()
        instant = f"{lower}@depth@0ms" if self.market == "usdm" else None
        if instant is not None and instant in self.subs:
            self.publish(
                instant, self._depth_payload(symbol, first, last, prev, bids, asks, now_ms)
            )
        self.tick(now_ms)
        for stream, window in self.windows.items():
            if not stream.startswith(lower + "@"):
                continue
            if window.first < 0:
                window.first, window.prev = first, prev
                ms = self.depth_ms(stream.partition("@")[2]) or 1
                now = self.window_clock()
                window.end_ms = now - now % ms + ms
            window.last = last
            window.bids.update(bids)
            window.asks.update(asks)

    def tick(self, now_ms: int) -> None:
        """Flush every conflated window whose end the replay clock has passed."""
        if not self.windows:
            return
        clock = self.window_clock()
        for stream, window in self.windows.items():
            if window.first >= 0 and clock >= window.end_ms:
                self._flush(stream, window, now_ms)

    def flush_symbol(self, symbol: str, now_ms: int) -> None:
        """Flush a symbol's pending windows now (before an injected gap)."""
        prefix = symbol.lower() + "@"
        for stream, window in self.windows.items():
            if stream.startswith(prefix) and window.first >= 0:
                self._flush(stream, window, now_ms)

    def _flush(self, stream: str, window: _Window, now_ms: int) -> None:
        # diffs chain, so the first diff's ``prev`` is the stream's previous ``u`` (or shows
        # an injected gap)
        symbol = stream.partition("@")[0].upper()
        bids = sorted(window.bids.items(), reverse=True)
        asks = sorted(window.asks.items())
        payload = self._depth_payload(
            symbol, window.first, window.last, window.prev, bids, asks, now_ms
        )
        window.first = -1
        window.bids.clear()
        window.asks.clear()
        self.publish(stream, payload)

    def _depth_payload(
        self,
        symbol: str,
        first: int,
        last: int,
        prev: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        now_ms: int,
    ) -> dict[str, Any]:
        rules = self.rules[symbol]
        fp, fq = rules.fmt_px, rules.fmt_qty
        out: dict[str, Any] = {"e": "depthUpdate", "E": now_ms}
        if self.market == "usdm":
            out["T"] = now_ms
        out.update({"s": symbol, "U": first, "u": last})
        if self.market == "usdm":
            out["pu"] = prev
        out["b"] = [[fp(p), fq(q)] for p, q in bids]
        out["a"] = [[fp(p), fq(q)] for p, q in asks]
        return out

    def trade(
        self, symbol: str, trade_id: int, price: int, qty: int, buyer_maker: bool, now_ms: int
    ) -> None:
        """Publish a trade on ``@trade`` and ``@aggTrade``."""
        lower = symbol.lower()
        rules = self.rules[symbol]
        self._agg_id += 1
        t_stream, a_stream = f"{lower}@trade", f"{lower}@aggTrade"
        if t_stream in self.subs:
            payload: dict[str, Any] = {
                "e": "trade",
                "E": now_ms,
                "T": now_ms,
                "s": symbol,
                "t": trade_id,
                "p": rules.fmt_px(price),
                "q": rules.fmt_qty(qty),
                "m": buyer_maker,
            }
            if self.market == "spot":
                payload["M"] = True
            else:
                payload["X"] = "MARKET"
            self.publish(t_stream, payload)
        if a_stream in self.subs:
            agg: dict[str, Any] = {
                "e": "aggTrade",
                "E": now_ms,
                "s": symbol,
                "a": self._agg_id,
                "p": rules.fmt_px(price),
                "q": rules.fmt_qty(qty),
                "f": trade_id,
                "l": trade_id,
                "T": now_ms,
                "m": buyer_maker,
            }
            if self.market == "spot":
                agg["M"] = True
            self.publish(a_stream, agg)

    def book_ticker(
        self,
        symbol: str,
        update_id: int,
        bid: tuple[int, int] | None,
        ask: tuple[int, int] | None,
        now_ms: int,
    ) -> None:
        """Publish the best bid/offer on ``@bookTicker``."""
        stream = f"{symbol.lower()}@bookTicker"
        if stream not in self.subs:
            return
        rules = self.rules[symbol]
        payload: dict[str, Any] = {"u": update_id, "s": symbol}
        if self.market == "usdm":
            payload = {"e": "bookTicker", "u": update_id, "s": symbol}
        payload.update(
            {
                "b": rules.fmt_px(bid[0]) if bid else "0",
                "B": rules.fmt_qty(bid[1]) if bid else "0",
                "a": rules.fmt_px(ask[0]) if ask else "0",
                "A": rules.fmt_qty(ask[1]) if ask else "0",
            }
        )
        if self.market == "usdm":
            payload.update({"T": now_ms, "E": now_ms})
        self.publish(stream, payload)

    def user(self, account: int, event: dict[str, Any]) -> None:
        """Deliver a user-data event: wrapped on WS API subscriptions, raw on listen keys."""
        raw: bytes | None = None
        for conn in list(self.conns):
            if conn.kind != "api":
                continue
            for sub_id, acct in conn.subscriptions.items():
                if acct == account:
                    self.send(conn, orjson.dumps({"subscriptionId": sub_id, "event": event}))
        for conn in list(self.private.get(account, ())):
            raw = raw or orjson.dumps(event)
            self.send(conn, raw)

    def broadcast(self, data: bytes, kinds: tuple[str, ...] = ("market", "api", "private")) -> None:
        """Queue one frame on every connection of the given kinds."""
        for conn in list(self.conns):
            if conn.kind in kinds:
                self.send(conn, data)

"""The local Binance venue: an aiohttp server on loopback replaying a recorded market.

Usage::

    accounts = [AccountConfig(api_key=KEY, secret=SECRET, balances={"USDT": "10000"})]
    async with BinanceVenue(["btcusdt.npy"], market="usdm", accounts=accounts) as venue:
        venue.rest_url      # http://127.0.0.1:PORT  (REST: /fapi/v1/..., /api/v3/...)
        venue.ws_url        # ws://127.0.0.1:PORT  (/stream, /ws, /public, /market, /private)
        venue.ws_api_url    # ws://127.0.0.1:PORT/ws-api/v3 (spot WS API)
        venue.step(100)     # replay 100 recorded messages now (deterministic)
        venue.run(speed=10) # or replay in the background at 10x (0 = as fast as possible)
        await venue.wait_replay()

On start the replay is advanced until every symbol's first snapshot is applied, so the
public book is ready; ``sync_on_start=False`` starts from nothing. Fault knobs are methods
(``drop_connections``, ``inject_gap``, ``fail_next``, ...), also reachable over HTTP under
``/_sim/fault/<name>`` for out-of-process use; see docs/venue-server.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue import rest, ws
from hftlib.sim.binance_venue.config import AccountConfig, Market, VenueConfig
from hftlib.sim.binance_venue.exchange import Exchange
from hftlib.sim.binance_venue.faults import FailRule, Faults
from hftlib.sim.binance_venue.limits import OrderWindow, RateLimiter
from hftlib.sim.binance_venue.replay import DEPTH, SNAPSHOT, TRADE, Message, RecordedMarket
from hftlib.sim.binance_venue.streams import Conn, Hub

from hftlib.instrument import InstrumentKind

log = logging.getLogger(__name__)


class ListenKeys:
    """USD-M listen keys: one per account, valid ``ttl_ms`` from creation or the last PUT."""

    def __init__(self, ttl_ms: int, clock_ms: Any) -> None:
        self.ttl_ms = ttl_ms
        self.clock_ms = clock_ms
        self.keys: dict[str, list[int]] = {}
        """key -> [account, expiry ms]"""

    def create(self, account: int) -> str:
        """Return the account's live key (extended) or a new one."""
        for key, entry in self.keys.items():
            if entry[0] == account:
                entry[1] = self.clock_ms() + self.ttl_ms
                return key
        key = secrets.token_hex(32)
        self.keys[key] = [account, self.clock_ms() + self.ttl_ms]
        return key

    def extend(self, account: int) -> str:
        """Extend the account's key; raise -1125 when it has none."""
        for key, entry in self.keys.items():
            if entry[0] == account:
                entry[1] = self.clock_ms() + self.ttl_ms
                return key
        raise E.ApiError(E.INVALID_LISTEN_KEY, "This listenKey does not exist.")

    def close(self, account: int) -> str | None:
        """Delete the account's key; return it (None when it had none)."""
        for key, entry in list(self.keys.items()):
            if entry[0] == account:
                del self.keys[key]
                return key
        return None

    def account_of(self, key: str, now_ms: int) -> int | None:
        """Return the account of a live key, or None."""
        entry = self.keys.get(key)
        return entry[0] if entry is not None and entry[1] > now_ms else None

    def expire(self, now_ms: int) -> list[str]:
        """Remove and return the keys whose time ran out."""
        gone = [k for k, (_, until) in self.keys.items() if until <= now_ms]
        for key in gone:
            del self.keys[key]
        return gone


class BinanceVenue:
    """A Binance spot or USD-M venue on 127.0.0.1, backed by a recorded market.

    Parameters
    ----------
    data : Sequence[str | Path]
        hftlib event files (``.npy``/``.parquet``) of the recorded market (convert Binance
        captures with ``hft data convert binance``).
    market : {"spot", "usdm"} | None
        Protocol to speak; default from the instruments (spot instruments -> ``spot``).
    accounts : Sequence[AccountConfig]
        Trading accounts (ids 1, 2, ... in this order).
    config : VenueConfig | None
        Venue rules; default ``VenueConfig()``.
    host : str
        Bind address. Default ``127.0.0.1``.
    port : int
        Bind port; 0 picks a free one. Default 0.
    sync_on_start : bool
        Replay up to every symbol's first snapshot on start. Default True.
    """

    def __init__(
        self,
        data: Sequence[str | Path],
        market: Market | None = None,
        accounts: Sequence[AccountConfig] = (),
        config: VenueConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sync_on_start: bool = True,
    ) -> None:
        self.recording = RecordedMarket(data)
        instruments = self.recording.instruments
        spot = all(i.kind == InstrumentKind.SPOT for i in instruments)
        self.market: Market = market or ("spot" if spot else "usdm")
        self.config = config or VenueConfig()
        self.host = host
        self.port = port
        self.sync_on_start = sync_on_start
        self.faults = Faults()
        self._replay_ns: int | None = None
        self.hub = Hub(
            {}, self.market, self.replay_ms, self.config.max_send_queue, self._on_overflow
        )
        self.exchange = Exchange(
            instruments, self.market, accounts, self.config, self.now_ms, self.hub
        )
        self.hub.rules.update({s: b.rules for s, b in self.exchange.books.items()})
        cfg = self.config
        spot_market = self.market == "spot"
        self.limiter = RateLimiter(
            weight_limit=cfg.weight_limit or (6000 if spot_market else 2400),
            order_windows=(
                OrderWindow(10, "S", cfg.orders_per_10s or (100 if spot_market else 300)),
                OrderWindow(1, "D", cfg.orders_per_long or 200_000)
                if spot_market
                else OrderWindow(1, "M", cfg.orders_per_long or 1200),
            ),
            ban_after=cfg.ban_after,
            ban_ms=int(cfg.ban_seconds * 1000),
        )
        self.listen_keys = ListenKeys(int(cfg.listen_key_ttl * 1000), self.now_ms)
        self.messages_applied = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._replay_task: asyncio.Task[None] | None = None
        self._replay_done = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sub_id = 0
        self._peek: Message | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Sync the book (if asked), bind the port and start the ping task."""
        if self.sync_on_start:
            self.step_until_synced()
        app = web.Application()
        app[rest.VENUE] = self
        rest.add_routes(app, self.market)
        self._add_ws_routes(app)
        self._add_admin_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.spawn("venue-pinger", self._pinger())

    async def close(self) -> None:
        """Stop the replay, close every socket and the server."""
        if self._replay_task is not None:
            self._replay_task.cancel()
        for conn in list(self.hub.conns):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server closing")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BinanceVenue:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a named task held until it ends; log its failure."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("venue task %s failed", task.get_name(), exc_info=task.exception())

    # --- addresses -------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        """Base URL of the REST API (``http://127.0.0.1:PORT``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL of the streams (``ws://127.0.0.1:PORT``; add ``/stream?streams=``...)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        """URL of the spot WS API."""
        return f"{self.ws_url}/ws-api/v3"

    def stream_url(self, *streams: str) -> str:
        """Return the combined-stream URL of ``streams`` (USD-M: on their route)."""
        prefix = ""
        if self.market == "usdm" and streams:
            public = streams[0].partition("@")[2].startswith(("depth", "bookTicker"))
            prefix = "/public" if public else "/market"
        return f"{self.ws_url}{prefix}/stream?streams={'/'.join(streams)}"

    # --- clocks ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server time in ms (wall clock plus the injected shift)."""
        shift: int = self.faults.clock_shift_ms
        return time.time_ns() // 1_000_000 + shift

    def replay_ms(self) -> int:
        """Recorded time of the last replayed message in ms (the server time before any)."""
        return self._replay_ns // 1_000_000 if self._replay_ns is not None else self.now_ms()

    # --- replay ----------------------------------------------------------------------------
    def step(self, n: int = 1) -> int:
        """Replay the next ``n`` recorded messages now; return how many there were."""
        done = 0
        while done < n:
            msg = self._next()
            if msg is None:
                break
            self._apply(msg)
            done += 1
        if self.recording.done:
            self._finish()
        return done

    def step_until(self, local_ts_ns: int) -> int:
        """Replay every message recorded before ``local_ts_ns``; return how many."""
        done = 0
        while True:
            msg = self._next()
            if msg is None:
                self._finish()
                break
            if msg.local_ts >= local_ts_ns:
                self._peek = msg
                break
            self._apply(msg)
            done += 1
        return done

    def step_until_synced(self) -> int:
        """Replay until every symbol has had a snapshot; return the messages replayed."""
        waiting = set(self.exchange.books)
        done = 0
        while waiting:
            msg = self._next()
            if msg is None:
                self._finish()
                break
            self._apply(msg)
            done += 1
            if msg.kind == SNAPSHOT:
                waiting.discard(msg.symbol)
        return done

    def run(self, speed: float = 1.0) -> None:
        """Replay in the background at ``speed`` x recorded time (0 or inf: as fast as possible)."""
        if self._replay_task is not None and not self._replay_task.done():
            raise RuntimeError("the replay is already running")
        self._replay_task = self.spawn("venue-replay", self._run(speed))

    async def pause(self) -> None:
        """Stop a background replay where it is."""
        if self._replay_task is not None:
            self._replay_task.cancel()
            await asyncio.gather(self._replay_task, return_exceptions=True)
            self._replay_task = None

    async def wait_replay(self) -> None:
        """Wait until the recording has been replayed to its end."""
        await self._replay_done.wait()

    @property
    def replay_done(self) -> bool:
        """True once every recorded message was replayed."""
        return self._replay_done.is_set()

    def _next(self) -> Message | None:
        if self._peek is not None:
            msg, self._peek = self._peek, None
            return msg
        return self.recording.next()

    async def _run(self, speed: float) -> None:
        fast = speed <= 0 or math.isinf(speed)
        t0_wall = time.monotonic()
        t0_rec: int | None = None
        n = 0
        while True:
            msg = self._next()
            if msg is None:
                break
            if fast:
                n += 1
                if n % 64 == 0:
                    await asyncio.sleep(0)
            else:
                if t0_rec is None:
                    t0_rec = msg.local_ts
                due = t0_wall + (msg.local_ts - t0_rec) / 1e9 / speed
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._apply(msg)
        self._finish()

    def _apply(self, msg: Message) -> None:
        ex = self.exchange
        self._replay_ns = msg.local_ts
        if msg.kind == DEPTH:
            ex.apply_depth(msg.symbol, msg.rows)
        elif msg.kind == TRADE:
            for side, px, qty in msg.rows:
                ex.apply_trade(msg.symbol, side, px, qty)
        elif msg.kind == SNAPSHOT:
            ex.apply_snapshot(msg.symbol, msg.rows)
        self.messages_applied += 1
        self.hub.tick(self.now_ms())

    def _finish(self) -> None:
        now = self.now_ms()
        for symbol in self.exchange.books:
            self.hub.flush_symbol(symbol, now)
        self._replay_done.set()

    # --- protocol helpers ------------------------------------------------------------------
    def exchange_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Return ``exchangeInfo`` (all symbols, or the one named)."""
        books = self.exchange.books
        wanted = params.get("symbol")
        if wanted is not None and wanted.upper() not in books:
            raise E.ApiError(E.BAD_SYMBOL, E.MSG_BAD_SYMBOL)
        symbols = [
            b.rules.exchange_info()
            for s, b in books.items()
            if wanted is None or s == wanted.upper()
        ]
        limits: list[dict[str, Any]] = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.limiter.weight_limit,
            }
        ]
        limits += [
            {
                "rateLimitType": "ORDERS",
                "interval": w.interval,
                "intervalNum": w.num,
                "limit": w.limit,
            }
            for w in self.limiter.order_windows
        ]
        out: dict[str, Any] = {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": limits,
            "exchangeFilters": [],
        }
        if self.market == "usdm":
            quote = next(iter(books.values())).rules.quote if books else "USDT"
            out["futuresType"] = "U_MARGINED"
            out["assets"] = [
                {"asset": quote, "marginAvailable": True, "autoAssetExchange": "-10000"}
            ]
        out["symbols"] = symbols
        return out

    def rate_limits(self, ip: str, account: int) -> list[dict[str, Any]]:
        """Return the WS API ``rateLimits`` array (order windows when ``account`` is given)."""
        now = self.now_ms()
        out: list[dict[str, Any]] = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.limiter.weight_limit,
                "count": self.limiter.used_weight(ip, now),
            }
        ]
        if account:
            out += [
                {
                    "rateLimitType": "ORDERS",
                    "interval": w.interval,
                    "intervalNum": w.num,
                    "limit": w.limit,
                    "count": c,
                }
                for w, c in self.limiter.order_counts(account, now)
            ]
        return out

    def next_subscription_id(self) -> int:
        """Return a fresh WS API user-data subscription id."""
        sub = self._sub_id
        self._sub_id += 1
        return sub

    def close_listen_key(self, account: int) -> None:
        """Delete an account's listen key and close its private streams."""
        key = self.listen_keys.close(account)
        if key is not None:
            self._expire_key(key)

    def after_connect(self, conn: Conn) -> None:
        """Hook run when a socket is accepted (a socket opened while silent stays silent)."""

    def _expire_key(self, key: str) -> None:
        event = orjson.dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key})
        for conns in self.hub.private.values():
            for conn in list(conns):
                if conn.listen_key == key:
                    self.hub.send(conn, event)
                    self.hub.send(conn, b"listenKey expired", WSMsgType.CLOSE)

    def _on_overflow(self, conn: Conn) -> None:
        self.spawn(
            "close-slow", conn.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"slow consumer")
        )

    async def _pinger(self) -> None:
        cfg = self.config
        tick = max(0.01, min(cfg.ping_interval, cfg.pong_timeout, 4.0) / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for conn in list(self.hub.conns):
                if conn.ping_due is not None and now - conn.ping_due > cfg.pong_timeout:
                    self.hub.remove(conn)
                    self.spawn(
                        "close-unponged",
                        conn.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"pong timeout"),
                    )
                    continue
                if self.faults.no_ping or conn.no_ping or conn.silent:
                    continue
                if now - conn.last_ping >= cfg.ping_interval:
                    conn.last_ping = now
                    if conn.ping_due is None:
                        conn.ping_due = now
                    self.hub.send(conn, str(self.now_ms()).encode(), WSMsgType.PING)
            for key in self.listen_keys.expire(self.now_ms()):
                self._expire_key(key)

    # --- routes ----------------------------------------------------------------------------
    def _add_ws_routes(self, app: web.Application) -> None:
        r = app.router
        if self.market == "spot":
            market = ws.market_handler("any")
            r.add_get("/ws", market)
            r.add_get("/ws/{tail:.*}", market)
            r.add_get("/stream", market)
            r.add_get("/ws-api/v3", ws.ws_api_handler)
            return
        public = ws.market_handler("public")
        for prefix, handler in (
            ("/public", public),
            ("/market", ws.market_handler("market")),
            ("", public),
        ):
            r.add_get(f"{prefix}/ws", handler)
            r.add_get(prefix + "/ws/{tail:.*}", handler)
            r.add_get(f"{prefix}/stream", handler)
        r.add_get("/private/ws/{key}", ws.private_handler)

    def _add_admin_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/_sim/state", self._admin_state)
        r.add_post("/_sim/step", self._admin_step)
        r.add_post("/_sim/run", self._admin_run)
        r.add_post("/_sim/pause", self._admin_pause)
        r.add_post("/_sim/fault/{name}", self._admin_fault)

    async def _admin_state(self, request: web.Request) -> web.Response:
        return _json(self.state())

    async def _admin_step(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return _json({"applied": self.step(int(body.get("n", 1)))})

    async def _admin_run(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.run(float(body.get("speed", 1.0)))
        return _json({})

    async def _admin_pause(self, request: web.Request) -> web.Response:
        await self.pause()
        return _json({})

    async def _admin_fault(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FAULT_KNOBS:
            return _json(
                {"error": f"unknown fault {name!r}", "known": sorted(FAULT_KNOBS)}, status=404
            )
        body = await _json_body(request)
        try:
            result = getattr(self, name)(**body)
        except (TypeError, ValueError, KeyError) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({"result": result})

    def state(self) -> dict[str, Any]:
        """Return a summary: replay progress, connections, update ids."""
        return {
            "market": self.market,
            "symbols": sorted(self.exchange.books),
            "messages_applied": self.messages_applied,
            "replay_done": self.replay_done,
            "replay_ms": self.replay_ms(),
            "connections": {
                k: sum(1 for c in self.hub.conns if c.kind == k)
                for k in ("market", "api", "private")
            },
            "update_ids": {s: b.update_id for s, b in self.exchange.books.items()},
            "frames_sent": self.hub.sent,
        }

    # --- fault knobs -----------------------------------------------------------------------
    def drop_connections(self, kind: str | None = None, abrupt: bool = True) -> int:
        """Cut every socket (of one kind: ``market``, ``api``, ``private``); return how many.

        ``abrupt`` aborts the TCP connection like a network failure; otherwise a close frame
        (1001 going away) is sent.
        """
        conns = [c for c in self.hub.conns if kind is None or c.kind == kind]
        for conn in conns:
            self._drop(conn, abrupt)
        return len(conns)

    def drop_stream(self, stream: str, abrupt: bool = True) -> int:
        """Cut every market socket subscribed to ``stream``; return how many."""
        conns = [c for c in self.hub.conns if stream in c.streams]
        for conn in conns:
            self._drop(conn, abrupt)
        return len(conns)

    def _drop(self, conn: Conn, abrupt: bool) -> None:
        self.hub.remove(conn)
        if abrupt and conn.transport is not None:
            conn.transport.abort()
        self.spawn("drop", conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped"))

    def inject_gap(self, symbol: str | None = None, n: int = 1) -> None:
        """Skip ``n`` update ids of a symbol (all symbols by default): the next diff shows a gap."""
        for sym in [symbol.upper()] if symbol else list(self.exchange.books):
            self.hub.flush_symbol(sym, self.now_ms())
            self.exchange.skip_update_ids(sym, n)

    def delay(self, rest: float | None = None, frames: float | None = None) -> None:
        """Delay REST answers and/or every WebSocket frame by the given seconds."""
        if rest is not None:
            self.faults.rest_delay = float(rest)
        if frames is not None:
            self.hub.frame_delay = float(frames)

    def fail_next(
        self,
        n: int = 1,
        mode: str = "error",
        status: int = 503,
        match: str | None = None,
        hang: float = 10.0,
    ) -> None:
        """Fail the next ``n`` requests (matching ``match``); see :mod:`.faults` for the modes."""
        self.faults.rules.append(FailRule(int(n), mode, int(status), match, float(hang)))

    def force_429(self, n: int = 1) -> None:
        """Answer the next ``n`` requests 429 as if the weight limit were used up."""
        self.faults.force_429 += int(n)

    def ban(self, seconds: float = 120.0) -> None:
        """Ban every client IP for ``seconds`` (418 with ``Retry-After``)."""
        self.limiter.ban_all_until = self.now_ms() + int(seconds * 1000)

    def send_malformed(self, kind: str = "market", data: str = '{"e":"depthUpdate","E":') -> int:
        """Queue a malformed text frame on every socket of a kind; return how many."""
        conns = [c for c in self.hub.conns if c.kind == kind]
        for conn in conns:
            self.hub.send(conn, data.encode())
        return len(conns)

    def stop_pinging(self, on: bool = True) -> None:
        """Stop (or resume) the server's pings on every socket."""
        self.faults.no_ping = bool(on)

    def go_silent(self, on: bool = True, kind: str | None = None) -> int:
        """Stop sending anything (frames, pings, answers) on sockets; return how many."""
        conns = [c for c in self.hub.conns if kind is None or c.kind == kind]
        for conn in conns:
            conn.silent = bool(on)
        return len(conns)

    def shift_clock(self, ms: int) -> None:
        """Shift the server clock by ``ms`` (positive: the server runs ahead of clients)."""
        self.faults.clock_shift_ms = int(ms)

    def server_shutdown(self, close_after: float | None = None) -> int:
        """Send ``serverShutdown`` on every socket; close them after ``close_after`` s if given."""
        event = {"e": "serverShutdown", "E": self.now_ms()}
        for conn in list(self.hub.conns):
            body = {"event": event} if conn.kind == "api" else event
            self.hub.send(conn, orjson.dumps(body))
            if close_after is not None:
                self.spawn("shutdown-close", self._close_later(conn, close_after))
        return len(self.hub.conns)

    async def _close_later(self, conn: Conn, delay: float) -> None:
        await asyncio.sleep(delay)
        await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


FAULT_KNOBS = frozenset(
    {
        "drop_connections",
        "drop_stream",
        "inject_gap",
        "delay",
        "fail_next",
        "force_429",
        "ban",
        "send_malformed",
        "stop_pinging",
        "go_silent",
        "shift_clock",
        "server_shutdown",
    }
)


def _json(body: Any, status: int = 200) -> web.Response:
    response: web.Response = rest.json_response(body, status=status)
    return response


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = orjson.loads(await request.read())
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body

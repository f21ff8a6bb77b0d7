"""Live-path latency: a venue message's bytes read on the socket -> the order request written.

In process, on loopback, against the local Binance venue (``sim/binance_venue``, spot,
stepped replay of a scripted recording of depth diffs), through the live runner
(:class:`hftlib.live.wallclock.WallClock`, as ``hft live`` runs it). One decision:

1. the connector's market socket returns a combined-stream frame (``t_read``: the wall
   clock right after ``ws.receive()`` hands over the frame; it is the batch's ``local_ts``);
2. the connector parses it and applies it to the synced book (:class:`BookKeeper`);
3. :class:`hftlib.live.host.StrategyHost` feeds it to a compiled numba strategy
   (``_flip_strategy.py``: post a post-only bid at the best bid, cancel it on the next
   message, so every message gives one request);
4. the connector signs the request (new order or cancel) and writes it (``t_write``):

   - ``--transport ws`` (default): a WS API ``order.place`` / ``order.cancel`` frame, written
     from the task that read the market frame (``t_write`` right after the frame is handed
     to the socket's transport);
   - ``--transport rest``: a signed REST request in its own task (``t_write``: aiohttp's
     ``on_request_headers_sent`` trace signal; the requests carry no body).

The venue is stepped one message at a time and each request's answer is awaited (untimed)
before the next step, so no message waits behind another. The venue runs in the benchmark's
own event loop (``--venue inproc``, default) or in a child process stepped through its
``/_sim/step`` admin endpoint (``--venue process``: the client then idles between decisions,
as against a remote venue). Prints p50/p99 of ``t_write - t_read`` in microseconds, the
median over ``--runs`` runs (each of ``--decisions`` decisions after a warm-up); the last
line is one JSON object.

    python benchmarks/live_latency.py [--decisions 10000] [--runs 3] [--transport ws|rest]
        [--venue process|inproc] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np
from hftlib.live.host import HostRequest, StrategyHost
from hftlib.live.hub import Hub
from hftlib.live.wallclock import WallClock
from hftlib.sim.binance_venue.config import AccountConfig, VenueConfig
from hftlib.sim.binance_venue.server import BinanceVenue as LocalVenue
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.urls import urls_for
from hftlib.venues.binance.venue import BinanceVenue

from hftlib.data.storage import write_events
from hftlib.engine.types import REQ_NONE
from hftlib.instrument import lookup_instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    NO_ID,
    NO_PX,
)
from hftlib.venue.interface import BOOK_LIVE, MarketBatch, OrderUpdate
from hftlib.venue.ratelimit import ORDERS, REQUEST_WEIGHT, Limit, RateLimiter

STRATEGY = str(Path(__file__).with_name("_flip_strategy.py"))
KEY = "benchKey0123456789"
SECRET = "bench-secret"  # noqa: S105 - a local benchmark account
WARMUP = 200
STEP_NS = 100_000_000  # one diff per depth@100ms window
MID, LOTS = 6_180_000, 100_000_000  # 61800.00, 1 BTC


def recording(path: Path, n: int) -> Path:
    """Write a snapshot and ``n`` depth diffs below the touch (the top stays put)."""
    inst = lookup_instrument("binance", "BTCUSDT")
    levels = [(F_BID, MID - i) for i in range(20)] + [(F_ASK, MID + 1 + i) for i in range(20)]
    rows = np.zeros(1 + len(levels) + n, dtype=EVENT_DTYPE)
    t0 = 1_700_000_000_000_000_000
    rows[0] = (K_CLEAR | F_BID | F_ASK, 0, t0, t0, NO_PX, 0, NO_ID, 100, NO_ID)
    for i, (side, px) in enumerate(levels):
        last = F_LAST if i == len(levels) - 1 else 0
        rows[1 + i] = (K_SNAPSHOT | side | last, 0, t0, t0, px, LOTS, NO_ID, 100, NO_ID)
    for k in range(n):
        ts = t0 + (k + 1) * STEP_NS
        px = MID - 5 - k % 10  # a level under the touch changes size
        qty = LOTS + (k % 7 + 1) * 1_000_000
        rows[1 + len(levels) + k] = (
            K_DEPTH | F_BID | F_LAST, 0, ts, ts, px, qty, NO_ID, 101 + k, 100 + k,
        )  # fmt: skip
    write_events(path, [rows], inst, {"source": "live_latency benchmark"})
    return path


class SteppedHub(Hub):
    """The run's hub, noting when a live batch was read and when every request is answered."""

    def __init__(self, venues: dict[str, Any], hosts: list[StrategyHost]) -> None:
        super().__init__(venues, hosts)
        self.batches = 0
        self.requests = 0
        self.answers = 0
        self.read_ns = 0
        """``local_ts`` of the last live batch whose first request is not yet written."""
        self.progress = asyncio.Event()

    def market(self, venue: str, batch: MarketBatch) -> list[HostRequest]:
        out = super().market(venue, batch)
        live = batch.book_state == BOOK_LIVE and len(batch.events) > 0
        self.read_ns = int(batch.events["local_ts"][-1]) if live and out else 0
        self.batches += 1
        self.requests += len(out)
        self.progress.set()
        return out

    def update(self, update: OrderUpdate, req: int) -> list[HostRequest]:
        out = super().update(update, req)
        self.answers += req != REQ_NONE
        self.requests += len(out)
        self.progress.set()
        return out

    def written(self, latencies: list[int], t_write: int) -> None:
        """Note a request written at ``t_write``: the first one after a batch is a decision."""
        if self.read_ns:
            latencies.append(t_write - self.read_ns)
            self.read_ns = 0

    async def settled(self, batches_before: int) -> None:
        """Wait until a new batch came and every request has its answer."""
        while not (self.batches > batches_before and self.answers >= self.requests):
            self.progress.clear()
            await asyncio.wait_for(self.progress.wait(), 5)


async def run(decisions: int, transport: str, where: str) -> dict[str, Any]:
    total = decisions + WARMUP
    with tempfile.TemporaryDirectory() as tmp:
        data = recording(Path(tmp) / "spot.npy", total + 100)
        if where == "inproc":
            async with serve(data) as srv:
                return await measure(InProcess(srv), total, transport)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve_in_child, args=(str(data), child), daemon=True)
        proc.start()
        try:
            if not parent.poll(60):
                raise RuntimeError("the venue process did not start")
            remote = Remote(parent.recv())
            try:
                return await measure(remote, total, transport)
            finally:
                await remote.close()
        finally:
            parent.send("stop")
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def serve(data: Path) -> LocalVenue:
    """Return the local spot venue on ``data`` (an async context manager)."""
    account = AccountConfig(api_key=KEY, secret=SECRET, balances={"USDT": "1e12", "BTC": "1e6"})
    unlimited = VenueConfig(  # the strategy trades 1 lot (1e-8 BTC): no notional floor
        weight_limit=10**12, orders_per_10s=10**12, orders_per_long=10**12, min_notional="0"
    )
    return LocalVenue([data], market="spot", accounts=[account], config=unlimited)


def serve_in_child(data: str, conn: Connection) -> None:
    """Run the venue in this (child) process until the parent says stop."""

    async def main() -> None:
        async with serve(Path(data)) as srv:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            loop.add_reader(conn.fileno(), stop.set)
            conn.send(srv.rest_url)
            await stop.wait()
            loop.remove_reader(conn.fileno())

    asyncio.run(main())


class InProcess:
    """Step a venue running in this process."""

    def __init__(self, server: LocalVenue) -> None:
        self.rest_url = server.rest_url
        self.server = server

    async def step(self, n: int) -> int:
        return self.server.step(n)


class Remote:
    """Step a venue running in a child process (its ``/_sim/step`` admin endpoint)."""

    def __init__(self, rest_url: str) -> None:
        self.rest_url = rest_url
        self.session: aiohttp.ClientSession | None = None

    async def step(self, n: int) -> int:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        async with self.session.post(f"{self.rest_url}/_sim/step", json={"n": n}) as resp:
            resp.raise_for_status()
            return int((await resp.json())["applied"])

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def connected_stream(venue: BinanceVenue) -> Any:
    """Return the runner's market stream once its socket is open."""
    async with asyncio.timeout(5):
        while not venue.market_streams:  # noqa: ASYNC110 - the runner's task creates it
            await asyncio.sleep(0.001)
        stream = venue.market_streams[-1]
        await stream.connected.wait()
    return stream


async def measure(server: InProcess | Remote, total: int, transport: str) -> dict[str, Any]:
    latencies: list[int] = []
    inst = lookup_instrument("binance", "BTCUSDT")
    host = StrategyHost(STRATEGY, strategy_id="bench", assets=[("binance", "BTCUSDT")],
                        instruments=[inst])  # fmt: skip
    trace = aiohttp.TraceConfig()
    minute = 60_000_000_000
    limiter = RateLimiter(
        "binance",
        [Limit(kind=REQUEST_WEIGHT, interval_ns=minute, limit=10**12),
         Limit(kind=ORDERS, interval_ns=minute, limit=10**12)],
    )  # fmt: skip
    venue = BinanceVenue(
        Market.SPOT, [inst], Credentials(KEY, SECRET),
        urls=urls_for(Market.SPOT, base_url=server.rest_url), limiter=limiter, user_data=False,
        trade_stream=None, book_ticker=False, snapshot_limit=100, trace_configs=[trace],
        order_transport=transport,
    )  # fmt: skip
    hub = SteppedHub({"binance": venue}, [host])

    async def on_sent(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        hub.written(latencies, time.time_ns())

    trace.on_request_headers_sent.append(on_sent)
    wall = WallClock(hub)
    stop = asyncio.Event()
    async with venue:
        if transport == "ws":
            ws = venue.execution.ws
            if ws is None or not ws.up:
                raise RuntimeError("the WS API order socket is not up")
            ws.on_written = lambda t: hub.written(latencies, t)
        runner = asyncio.ensure_future(wall.run(stop))
        try:
            stream = await connected_stream(venue)
            step = 2  # the second recorded diff publishes the first one's depth window
            while len(latencies) < total:
                before = hub.batches
                # then each diff (one window later) publishes the previous one's window
                if await server.step(step) < step:
                    break
                step = 1
                await hub.settled(before)
        finally:
            stop.set()
            await runner
    us = np.asarray(latencies[WARMUP:], dtype=np.float64) / 1e3
    if len(us) < total - WARMUP:
        raise RuntimeError(f"only {len(us)} decisions measured")
    return {
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "mean_us": float(us.mean()),
        "decisions": int(len(us)),
        "frames_bad": sum(v for k, v in stream.counts.items() if k.startswith("bad.")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transport", choices=("ws", "rest"), default="ws")
    parser.add_argument("--venue", choices=("inproc", "process"), default="inproc")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    runs = [asyncio.run(run(args.decisions, args.transport, args.venue)) for _ in range(args.runs)]
    result = {
        "p50_us": round(float(np.median([r["p50_us"] for r in runs])), 1),
        "p99_us": round(float(np.median([r["p99_us"] for r in runs])), 1),
        "mean_us": round(float(np.median([r["mean_us"] for r in runs])), 1),
        "decisions": min(r["decisions"] for r in runs),
        "runs": len(runs),
        "runs_p50_us": [round(r["p50_us"], 1) for r in runs],
        "runs_p99_us": [round(r["p99_us"], 1) for r in runs],
        "frames_bad": sum(r["frames_bad"] for r in runs),
        "transport": args.transport,
        "venue": args.venue,
    }
    if not args.json:
        print(
            f"socket read -> order request written ({args.transport}, venue {args.venue}): "
            f"p50 {result['p50_us']} us, p99 {result['p99_us']} us over "
            f"{result['decisions']} decisions (median of {len(runs)} runs)"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

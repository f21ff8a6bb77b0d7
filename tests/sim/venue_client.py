"""Helpers for the local Binance venue tests: scripted markets, accounts, signed clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson
from hftlib.sim.binance_venue.config import AccountConfig

from hftlib.data.storage import write_events
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
)
from hftlib.venue.signing import rest_query, sign_rest, sign_ws

# the official Binance test-vector keys (venue-protocols.md §8.1)
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # noqa: S105 - the public test-vector secret
KEY2 = "B2keyB2keyB2keyB2keyB2keyB2keyB2keyB2keyB2keyB2keyB2keyB2keyB2k"
SECRET2 = "second-account-secret"  # noqa: S105 - a test account

USDM = lookup_instrument("binance-futures", "BTCUSDT")
SPOT = lookup_instrument("binance", "BTCUSDT")

Script = Sequence[tuple[Any, ...]]


def accounts(market: str) -> list[AccountConfig]:
    """Return two funded accounts (the official-vector key first)."""
    balances = {"USDT": "1000000", "BTC": "100"} if market == "spot" else {"USDT": "1000000"}
    return [
        AccountConfig(api_key=KEY, secret=SECRET, balances=balances),
        AccountConfig(api_key=KEY2, secret=SECRET2, balances=balances),
    ]


def write_market(
    path: Path,
    instrument: Instrument,
    script: Script,
    t0_ns: int = 1_700_000_000_000_000_000,
    step_ns: int = 1_000_000,
) -> Path:
    """Write a scripted recorded market as an event file, one message every ``step_ns``.

    Script items: ``("snapshot", bids, asks)`` with ``[(ticks, lots), ...]`` sides,
    ``("depth", [(is_bid, ticks, lots), ...])`` and ``("trade", taker_is_buy, ticks, lots)``.
    """
    rows: list[tuple[int, int, int, int, int, int]] = []  # flags, ts, px, qty, seq, aux
    seq = 100
    for i, item in enumerate(script):
        ts = t0_ns + i * step_ns
        kind = item[0]
        if kind == "snapshot":
            _, bids, asks = item
            rows.append((K_CLEAR | F_BID | F_ASK, ts, NO_PX, 0, seq, NO_ID))
            levels = [(F_BID, p, q) for p, q in bids] + [(F_ASK, p, q) for p, q in asks]
            for j, (side, p, q) in enumerate(levels):
                last = F_LAST if j == len(levels) - 1 else 0
                rows.append((K_SNAPSHOT | side | last, ts, p, q, seq, NO_ID))
        elif kind == "depth":
            for j, (is_bid, p, q) in enumerate(item[1]):
                last = F_LAST if j == len(item[1]) - 1 else 0
                rows.append((K_DEPTH | (F_BID if is_bid else F_ASK) | last, ts, p, q, seq + 1, seq))
            seq += 1
        elif kind == "trade":
            _, buy, p, q = item
            rows.append((K_TRADE | (F_BID if buy else F_ASK) | F_LAST, ts, p, q, 5000 + i, NO_ID))
        else:
            raise ValueError(kind)
    arr = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (flags, ts, p, q, s, aux) in enumerate(rows):
        arr[i] = (flags, 0, ts, ts, p, q, NO_ID, s, aux)
    write_events(path, [arr], instrument, {"source": "test script"})
    return path


def book_levels(
    mid: int, n: int = 10, lots: int = 1000
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Return ``n`` bid levels below and ``n`` ask levels above ``mid`` ticks."""
    return [(mid - i, lots) for i in range(n)], [(mid + 1 + i, lots) for i in range(n)]


def random_script(seed: int, n: int, mid: int = 618_000) -> list[tuple[Any, ...]]:
    """Return a snapshot then ``n`` random uncrossed diffs and trades around ``mid``."""
    rng = np.random.default_rng(seed)
    bids, asks = book_levels(mid, 20, 500)
    book = {(True, p): q for p, q in bids} | {(False, p): q for p, q in asks}
    script: list[tuple[Any, ...]] = [("snapshot", bids, asks)]
    for _ in range(n):
        if rng.random() < 0.3:
            best_bid = max(p for (b, p), q in book.items() if b and q)
            best_ask = min(p for (b, p), q in book.items() if not b and q)
            buy = bool(rng.random() < 0.5)
            script.append(("trade", buy, best_ask if buy else best_bid, int(rng.integers(1, 400))))
            continue
        diff = []
        for _ in range(int(rng.integers(1, 5))):
            is_bid = bool(rng.random() < 0.5)
            best_other = (
                min(p for (b, p), q in book.items() if not b and q)
                if is_bid
                else max(p for (b, p), q in book.items() if b and q)
            )
            px = (
                int(best_other - rng.integers(1, 25))
                if is_bid
                else int(best_other + rng.integers(1, 25))
            )
            qty = int(rng.integers(0, 3)) * int(rng.integers(1, 900))
            if qty == 0 and sum(1 for (b, _), q in book.items() if b == is_bid and q) <= 3:
                qty = 100
            book[(is_bid, px)] = qty
            diff.append((is_bid, px, qty))
        script.append(("depth", diff))
    return script


# --- client helpers ---------------------------------------------------------------------------
async def signed(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    params: dict[str, Any],
    *,
    key: str = KEY,
    secret: str = SECRET,
    timestamp: int | None = None,
    in_body: bool = False,
) -> tuple[int, dict[str, str], Any]:
    """Send a signed REST request; return ``(status, headers, json)``."""
    full = {**params, "timestamp": timestamp if timestamp is not None else int(time.time() * 1000)}
    query = rest_query(full)
    sig = sign_rest(secret, "" if in_body else query, query if in_body else "")
    headers = {"X-MBX-APIKEY": key}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with session.request(
            method, base + path, data=f"{query}&signature={sig}", headers=headers
        ) as r:
            return r.status, dict(r.headers), await r.json()
    async with session.request(
        method, f"{base}{path}?{query}&signature={sig}", headers=headers
    ) as r:
        return r.status, dict(r.headers), await r.json()


def ws_request(
    method: str,
    params: dict[str, Any],
    rid: Any = 1,
    *,
    key: str = KEY,
    secret: str = SECRET,
    sign: bool = True,
) -> str:
    """Return a WS API request frame, signed over its sorted parameters."""
    params = dict(params)
    if sign:
        params["apiKey"] = key
        params.setdefault("timestamp", int(time.time() * 1000))
        params["signature"] = sign_ws(secret, params)
    return orjson.dumps({"id": rid, "method": method, "params": params}).decode()


async def recv_json(ws: aiohttp.ClientWebSocketResponse, wait: float = 2.0) -> Any:
    """Return the next text frame decoded (fails the test after ``wait`` seconds)."""
    msg = await asyncio.wait_for(ws.receive(), wait)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def recv_until(
    ws: aiohttp.ClientWebSocketResponse, pred: Callable[[Any], bool], wait: float = 3.0
) -> Any:
    """Return the first decoded frame matching ``pred`` (skipping others)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching frame arrived in time")
        frame = await recv_json(ws, left)
        if pred(frame):
            return frame


async def drain(ws: aiohttp.ClientWebSocketResponse, quiet: float = 0.15) -> list[Any]:
    """Return every frame that arrives until the socket is quiet for ``quiet`` seconds."""
    out: list[Any] = []
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), quiet)
        except TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        out.append(orjson.loads(msg.data))

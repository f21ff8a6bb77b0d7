"""Helpers for the connector tests: scripted recordings, the local venue, a connected client.

Everything runs on 127.0.0.1 with port 0 (a free port): the local Binance venue server of
``sim/binance_venue`` in stepped mode (``venue.step(n)`` publishes the next ``n`` recorded
messages), and a :class:`~hftlib.venues.binance.venue.BinanceVenue` pointed at it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hftlib.sim.binance_venue.config import AccountConfig, VenueConfig
from hftlib.sim.binance_venue.server import BinanceVenue as LocalVenue
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.credentials import Credentials
from hftlib.venues.binance.urls import urls_for
from hftlib.venues.binance.venue import BinanceVenue

from hftlib.data.storage import write_events
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_ID,
    NO_PX,
)
from hftlib.venue.interface import MarketBatch

# the official Binance test-vector key pair (venue-protocols.md §8.1)
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # noqa: S105 - public vector

SPOT = lookup_instrument("binance", "BTCUSDT")
USDM = lookup_instrument("binance-futures", "BTCUSDT")
MID = {"spot": 6_180_000, "usdm": 618_000}
"""61800.00 (spot, 0.01 tick) and 61800.0 (USD-M, 0.1 tick) in ticks."""
LEVEL_LOTS = {"spot": 100_000_000, "usdm": 1000}
"""1 BTC per level."""
STEP_NS = 100_000_000
"""Recorded messages 100 ms apart: every step closes the previous depth@100ms window."""

Script = Sequence[tuple[Any, ...]]


def instrument(market: str) -> Instrument:
    """Return the BTCUSDT instrument of ``market``."""
    return SPOT if market == "spot" else USDM


def script(market: str, n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """Return a snapshot then ``n`` random uncrossed diffs (and some trades) around the mid."""
    rng = np.random.default_rng(seed)
    mid, lots = MID[market], LEVEL_LOTS[market]
    bids = [(mid - i, lots) for i in range(20)]
    asks = [(mid + 1 + i, lots) for i in range(20)]
    book = {(True, p): q for p, q in bids} | {(False, p): q for p, q in asks}
    out: list[tuple[Any, ...]] = [("snapshot", bids, asks)]
    for i in range(n):
        best_bid = max(p for (b, p), q in book.items() if b and q)
        best_ask = min(p for (b, p), q in book.items() if not b and q)
        if i % 5 == 4:
            buy = bool(rng.random() < 0.5)
            out.append(("trade", buy, best_ask if buy else best_bid, lots // 10))
            continue
        diff = []
        for _ in range(int(rng.integers(1, 4))):
            is_bid = bool(rng.random() < 0.5)
            away = int(rng.integers(1, 15))
            px = best_ask - away if is_bid else best_bid + away
            qty = int(rng.integers(0, 3)) * lots // 2
            if qty == 0 and sum(1 for (b, _), q in book.items() if b == is_bid and q) <= 5:
                qty = lots
            book[(is_bid, px)] = qty
            diff.append((is_bid, px, qty))
        out.append(("depth", diff))
    return out


def write_market(path: Path, inst: Instrument, items: Script) -> Path:
    """Write a scripted recording as an event file, one message every :data:`STEP_NS`."""
    rows: list[tuple[int, int, int, int, int, int]] = []
    t0 = 1_700_000_000_000_000_000
    seq = 100
    for i, item in enumerate(items):
        ts = t0 + i * STEP_NS
        if item[0] == "snapshot":
            _, bids, asks = item
            rows.append((K_CLEAR | F_BID | F_ASK, ts, NO_PX, 0, seq, NO_ID))
            levels = [(F_BID, p, q) for p, q in bids] + [(F_ASK, p, q) for p, q in asks]
            for j, (side, p, q) in enumerate(levels):
                rows.append((K_SNAPSHOT | side | (F_LAST if j == len(levels) - 1 else 0), ts,
                             p, q, seq, NO_ID))  # fmt: skip
        elif item[0] == "depth":
            for j, (is_bid, p, q) in enumerate(item[1]):
                last = F_LAST if j == len(item[1]) - 1 else 0
                rows.append((K_DEPTH | (F_BID if is_bid else F_ASK) | last, ts, p, q, seq + 1, seq))
            seq += 1
        else:
            _, buy, p, q = item
            rows.append((K_TRADE | (F_BID if buy else F_ASK) | F_LAST, ts, p, q, 5000 + i, NO_ID))
    arr = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (flags, ts, p, q, s, aux) in enumerate(rows):
        arr[i] = (flags, 0, ts, ts, p, q, NO_ID, s, aux)
    write_events(path, [arr], inst, {"source": "connector test script"})
    return path


def accounts(market: str) -> list[AccountConfig]:
    """Return one funded account with the test-vector key."""
    balances = {"USDT": "1000000", "BTC": "100"} if market == "spot" else {"USDT": "1000000"}
    return [AccountConfig(api_key=KEY, secret=SECRET, balances=balances)]


def fast_config(**overrides: Any) -> VenueConfig:
    """Return venue rules with quick pings (a live socket is never silent for long)."""
    return VenueConfig(**{"ping_interval": 0.05, **overrides})


def client(market: str, server: LocalVenue, **overrides: Any) -> BinanceVenue:
    """Return a connector for ``server`` with tiny backoff and timeouts."""
    options: dict[str, Any] = {
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "request_timeout_s": 2.0,
        "retry_delay_s": 0.01,
        "silence_s": 1.0,
        "connect_timeout_s": 2.0,
        "snapshot_limit": 1000,
        **overrides,
    }
    urls = urls_for(Market(market), base_url=server.rest_url)
    return BinanceVenue(
        Market(market), [instrument(market)], Credentials(KEY, SECRET), urls=urls, **options
    )


@asynccontextmanager
async def local_venue(
    tmp_path: Path, market: str, items: Script, config: VenueConfig | None = None
) -> AsyncIterator[LocalVenue]:
    """Run the local venue on a scripted recording (stepped: nothing moves until stepped)."""
    data = write_market(tmp_path / f"{market}.npy", instrument(market), items)
    async with LocalVenue(
        [data], market=market, accounts=accounts(market), config=config or fast_config()
    ) as server:
        yield server


async def eventually(pred: Callable[[], bool], wait: float = 5.0, what: str = "") -> None:
    """Wait until ``pred()`` is true (fail after ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.005)


class Collector:
    """Consume a market-data iterator in the background, keeping books and states."""

    def __init__(self, batches: AsyncGenerator[MarketBatch, None]) -> None:
        self.batches = batches
        self.books: dict[str, L2Book] = {}
        self.states: list[int] = []
        self.trades = 0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for batch in self.batches:
            book = self.books.setdefault(batch.symbol, L2Book())
            for flags, px, qty in zip(
                batch.events["flags"].tolist(),
                batch.events["px"].tolist(),
                batch.events["qty"].tolist(),
                strict=True,
            ):
                book.apply(flags, px, qty)
                self.trades += (flags & KIND_MASK) == K_TRADE
            self.states.append(batch.book_state)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.batches.aclose()


def server_book(server: LocalVenue, symbol: str = "BTCUSDT") -> tuple[list[Any], list[Any]]:
    """Return the venue's public book (bids best first, asks best first)."""
    return server.exchange.books[symbol].engine.depth()


def book_levels(book: L2Book) -> tuple[list[Any], list[Any]]:
    """Return a reference book's levels in the order of :func:`server_book`."""
    return list(reversed(book.bids.items())), list(book.asks.items())

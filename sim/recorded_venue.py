"""A venue that replays hftlib event files as its market, with our orders simulated.

:class:`RecordedVenue` implements :class:`hftlib.venue.interface.Venue` over recorded (or
synthetic) event files: ``market_data`` yields one :class:`MarketBatch` per recorded message,
in local-time order, and order entry goes to an :class:`~hftlib.sim.order_sim.OrderSimulator`
fed with the same rows, so fills follow the backtest's replay venue, queue models and
latency models. It is the "recorded data" mode of ``hft paper`` / ``hft live`` and the venue
of the paper/live tests; the runner drives it in event time (the data's clock), so a run is
as fast as the machine and deterministic.

Book state. Recorded books carry their integrity in the data: a whole-book ``K_CLEAR`` with
``F_SYNTHETIC`` and ``F_LAST`` (a converter's mark for a gap) makes the asset
``BOOK_STALE`` until a snapshot message (``K_SNAPSHOT`` rows ending with ``F_LAST``) makes it
``BOOK_LIVE`` again; every batch carries the state after its message.

Fault knob. ``unknown_outcomes`` lists submit numbers (1 = the first order sent) whose
direct answer is lost, as after a timeout: the order still reaches the simulated venue,
but its acknowledgement is replaced by an ``ST_UNKNOWN`` update; later reports (fills,
cancels) and queries tell what happened.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
from hftlib.sim.backtest import _seeded
from hftlib.sim.latency import LatencyModel, parse_latency
from hftlib.sim.order_sim import OrderSimulator, SimulatedOrders

from hftlib.data.reader import EventStream
from hftlib.engine.types import REQ_NEW, REQ_NONE, ST_OPEN, ST_UNKNOWN
from hftlib.instrument import Instrument
from hftlib.types import F_LAST, F_SYNTHETIC, K_CLEAR, K_SNAPSHOT, KIND_MASK
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, MarketBatch, OrderRequest, OrderUpdate

YIELD_EVERY = 256
"""Batches handed out between two yields to the event loop (other tasks keep running)."""


def message_bounds(rows: np.ndarray) -> np.ndarray:
    """Return the end index of each message in ``rows``.

    A message ends after a row with ``F_LAST``, and wherever the asset or the local time
    changes (a batch has one symbol and one receive time).
    """
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cut = (rows["flags"][:-1] & F_LAST) != 0
    cut |= rows["asset"][1:] != rows["asset"][:-1]
    cut |= rows["local_ts"][1:] != rows["local_ts"][:-1]
    return np.concatenate((np.flatnonzero(cut) + 1, [n])).astype(np.int64)


def book_state_after(rows: np.ndarray, state: int) -> int:
    """Return an asset's book state after one message (see the module doc)."""
    last = int(rows["flags"][-1])
    kind = last & KIND_MASK
    if kind == K_CLEAR and last & F_SYNTHETIC and last & F_LAST:
        return BOOK_STALE
    if kind == K_SNAPSHOT and last & F_LAST:
        return BOOK_LIVE
    return state


class RecordedVenue(SimulatedOrders):
    """Replay event files as a venue's market; simulate our orders on it.

    Parameters
    ----------
    paths : sequence of path
        Event files or folders (one instrument each; several are merged by local time).
    name : str
        The venue's name in logs.
    latency : str or LatencyModel
        Order latency of the simulated venue (``hft backtest --latency`` syntax).
    queue, partial_fills, fees
        Queue model, partial fills and fee override, as for :func:`hftlib.backtest`.
    seed : int
        Seed of a random latency model that names none.
    simulate_orders : bool
        Feed the order simulator (off when a paper venue takes the orders instead).
    unknown_outcomes : collection of int
        Submit numbers whose acknowledgement is lost (see the module doc).
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        name: str = "recorded",
        latency: str | LatencyModel = "0ns",
        queue: str = "risk_averse",
        partial_fills: bool = False,
        fees: tuple[float, float] | None = None,
        seed: int = 0,
        simulate_orders: bool = True,
        unknown_outcomes: Collection[int] = (),
        chunk_rows: int = 1 << 16,
    ) -> None:
        self.name = name
        self.paths = [Path(p) for p in paths]
        self._stream = EventStream.from_paths(self.paths, chunk_rows=chunk_rows)
        self.instruments: list[Instrument] = self._stream.instruments
        self.symbols = [inst.symbol for inst in self.instruments]
        lat = (
            latency if isinstance(latency, LatencyModel) else parse_latency(_seeded(latency, seed))
        )
        self.simulator = OrderSimulator(
            self.symbols,
            self.instruments,
            lat,
            queue=queue,
            partial_fills=partial_fills,
            fees=fees,
        )
        self.simulate_orders = simulate_orders
        self._unknown = frozenset(unknown_outcomes)
        self._submits = 0
        self._lost: set[str] = set()
        self._connected = False

    @property
    def event_clock(self) -> bool:
        """The runner drives this venue in event time when it takes the orders."""
        return self.simulate_orders

    async def connect(self) -> None:
        """Nothing to open: the files are read as the market data is iterated."""
        self._connected = True

    async def close(self) -> None:
        """Nothing to close."""
        self._connected = False

    def _batches(self, wanted: set[int]) -> Iterator[tuple[np.ndarray, MarketBatch | None]]:
        """Yield each chunk (once, before its batches) and each wanted message as a batch."""
        state = [BOOK_LIVE] * len(self.symbols)
        for chunk in self._stream:
            if not len(chunk):
                continue
            yield chunk, None
            start = 0
            for end in message_bounds(chunk):
                rows = chunk[start:end]
                start = int(end)
                asset = int(rows["asset"][0])
                state[asset] = book_state_after(rows, state[asset])
                if asset in wanted:
                    batch = MarketBatch(
                        symbol=self.symbols[asset], events=rows, book_state=state[asset]
                    )
                    yield chunk, batch

    async def market_data(self, symbols: list[str]) -> AsyncIterator[MarketBatch]:
        """Yield the recorded messages of ``symbols``, one batch per message, in time order.

        With orders simulated, a message is held until the venue timeline has passed its
        receive time (see :mod:`hftlib.sim.order_sim`), so the simulator replays the
        backtest's ordering exactly.
        """
        unknown = sorted(set(symbols) - set(self.symbols))
        if unknown:
            raise ValueError(f"{self.name}: no recorded data for {', '.join(unknown)}")
        wanted = {self.symbols.index(s) for s in symbols}
        sim = self.simulator
        pending: deque[MarketBatch] = deque()
        handed = 0
        for chunk, batch in self._batches(wanted):
            if batch is None:
                if self.simulate_orders:
                    sim.append_rows(chunk)
                continue
            pending.append(batch)
            while pending and (
                not self.simulate_orders or sim.ready(int(pending[0].events["local_ts"][0]))
            ):
                batch = pending.popleft()
                if len(batch.events):
                    sim.delivered(int(batch.events["local_ts"][0]))
                yield batch
                handed += 1
                if handed % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        sim.end_of_feed()
        while pending:
            batch = pending.popleft()
            if len(batch.events):
                sim.delivered(int(batch.events["local_ts"][0]))
            yield batch

    # --- fault knob: lost acknowledgements ----------------------------------------------------
    def post(
        self,
        kind: int,
        symbol: str,
        client_id: str,
        now: int,
        order: OrderRequest | None = None,
        price_ticks: int = 0,
        qty_lots: int = 0,
    ) -> OrderUpdate | None:
        """Send a request (see the module doc for lost acknowledgements)."""
        if kind == REQ_NEW:
            self._submits += 1
            if self._submits in self._unknown:
                self._lost.add(client_id)
        return super().post(kind, symbol, client_id, now, order, price_ticks, qty_lots)

    def pop_update(self) -> tuple[OrderUpdate, int]:
        """Return the next report; a lost submit's acknowledgement becomes an unknown outcome."""
        update, req = super().pop_update()
        if update.client_id in self._lost:
            self._lost.discard(update.client_id)
            if req == REQ_NONE and update.status == ST_OPEN and update.last_fill_lots == 0:
                update = OrderUpdate(
                    symbol=update.symbol,
                    client_id=update.client_id,
                    status=ST_UNKNOWN,
                    side=update.side,
                    exch_ts=update.exch_ts,
                    local_ts=update.local_ts,
                    reason="simulated timeout: acknowledgement lost",
                )
        return update, req

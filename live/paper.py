"""The paper venue: a venue's live market data, with fills from the backtest's simulator (R28).

:class:`PaperVenue` wraps any :class:`~hftlib.venue.interface.Venue`. Its market data is the
wrapped venue's, unchanged; its order entry never reaches the wrapped venue: orders go to an
:class:`~hftlib.sim.order_sim.OrderSimulator` fed with the same market rows, which fills them
with the backtest's replay venue, queue model, fee schedule and latency model. Paper fills
therefore equal backtest fills on the same events (the parity test of ``tests/live``).

Over a replayed feed (a venue that itself simulates in event time, such as
:class:`~hftlib.sim.recorded_venue.RecordedVenue`) the simulator uses lookahead, so each
message reaches the strategy only once the simulated venue has seen everything that
happened before it at the exchange, exactly as in the backtest. Over a live feed the venue
timeline follows the receive times instead (no message is held back); see
``docs/paper-and-live.md`` for what that changes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence

from hftlib.sim.backtest import _seeded
from hftlib.sim.latency import LatencyModel, parse_latency
from hftlib.sim.order_sim import OrderSimulator, SimulatedOrders

from hftlib.instrument import Instrument
from hftlib.venue.interface import MarketBatch, Venue

log = logging.getLogger("hftlib.live.paper")


class PaperVenue(SimulatedOrders):
    """Simulate orders against another venue's market data (see the module doc).

    Parameters
    ----------
    inner : Venue
        The venue whose market data is used. Its order entry is never called.
    instruments : sequence of Instrument
        The specs of the symbols traded (``instrument.symbol`` is the venue symbol).
    latency, queue, partial_fills, fees, seed
        The simulator's settings, as for :func:`hftlib.backtest`.
    lookahead : bool, optional
        Replay the backtest's exchange timeline exactly (holds each message until the
        simulated venue passed it). Default: on when ``inner`` is a replayed feed.
    """

    def __init__(
        self,
        inner: Venue,
        instruments: Sequence[Instrument],
        *,
        latency: str | LatencyModel = "0ns",
        queue: str = "risk_averse",
        partial_fills: bool = False,
        fees: tuple[float, float] | None = None,
        seed: int = 0,
        lookahead: bool | None = None,
    ) -> None:
        self.inner = inner
        self.name = f"paper:{inner.name}"
        self.instruments = list(instruments)
        self.symbols = [inst.symbol for inst in self.instruments]
        if lookahead is None:
            lookahead = hasattr(inner, "simulator")
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
            lookahead=lookahead,
        )
        # event time only over a simulator's feed (replayed data); a live feed runs on the
        # wall clock, its rows reaching the simulated exchange as they arrive
        self.event_clock = bool(lookahead)

    async def connect(self) -> None:
        """Connect the wrapped venue (its market data side is all that is used)."""
        await self.inner.connect()

    async def close(self) -> None:
        """Close the wrapped venue."""
        await self.inner.close()

    async def market_data(self, symbols: list[str]) -> AsyncIterator[MarketBatch]:
        """Yield the wrapped venue's market data, feeding the simulator with every row."""
        unknown = sorted(set(symbols) - set(self.symbols))
        if unknown:
            raise ValueError(f"{self.name}: no instrument given for {', '.join(unknown)}")
        sim = self.simulator
        pending: deque[MarketBatch] = deque()
        async for batch in self.inner.market_data(symbols):
            if len(batch.events):
                sim.append_rows(batch.events, sim.assets[batch.symbol])
            pending.append(batch)
            while pending and (
                len(pending[0].events) == 0 or sim.ready(int(pending[0].events["local_ts"][0]))
            ):
                batch = pending.popleft()
                if len(batch.events):
                    sim.delivered(int(batch.events["local_ts"][0]))
                yield batch
        sim.end_of_feed()
        while pending:
            batch = pending.popleft()
            if len(batch.events):
                sim.delivered(int(batch.events["local_ts"][0]))
            yield batch

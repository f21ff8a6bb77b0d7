"""Run strategies against simulated venues in event time (paper mode, recorded data).

When every venue of a run simulates its orders (a paper venue, or a recorded venue), the
runner does not wait on wall time: :class:`EventClock` merges, in the data's own time,

- the venues' exchange timelines (market rows at exchange time, our requests on arrival),
- the market messages reaching the strategies (local time),
- the reports reaching the strategies and the strategies' timers,

with the backtest loop's rules (:mod:`hftlib.sim.backtest_loop`): the earliest goes first;
on a tie a venue event goes before a local message, which goes before a report, which goes
before a timer. So a paper run over recorded data gives the backtest's fills, and two runs
give the same fills. The venues' market data are still async iterators (a paper venue may
wrap a live feed); only the simulation runs synchronously between two messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Final

import numpy as np
from hftlib.live.host import HostRequest
from hftlib.live.hub import Hub

from hftlib.engine.types import ST_PENDING
from hftlib.venue.interface import MarketBatch

log = logging.getLogger("hftlib.live")

NO_TIME: Final = np.iinfo(np.int64).max
STOP_GRACE_NS: Final = 5_000_000_000
"""Event time given to final cancels (live mode) to reach the venue and be confirmed."""


def batch_time(batch: MarketBatch, default: int) -> int:
    """Return a batch's local time (its first row's), or ``default`` for an empty batch."""
    return int(batch.events["local_ts"][0]) if len(batch.events) else default


class EventClock:
    """Drive hosts and simulated venues in event time (see the module doc).

    Parameters
    ----------
    hub : Hub
        The run's hosts and venues; every venue has a ``simulator`` and the ``post`` /
        ``pop_update`` methods of :class:`hftlib.sim.order_sim.SimulatedOrders`.
    settle_after_ns : int
        Event time after which an order of unknown outcome is queried.
    """

    def __init__(self, hub: Hub, *, settle_after_ns: int = 1_000_000_000) -> None:
        self.hub = hub
        self.names = list(hub.venues)
        self.venues: list[Any] = [hub.venues[n] for n in self.names]
        for name, venue in zip(self.names, self.venues, strict=True):
            if not hasattr(venue, "simulator"):
                raise TypeError(f"venue {name} does not simulate orders: it needs wall time")
        self.settle_after_ns = settle_after_ns
        self.now = 0
        self.batches = 0
        self.started = False
        self._queried: dict[str, int] = {}

    # --- requests ---------------------------------------------------------------------------------
    def send(self, requests: list[HostRequest]) -> None:
        """Post requests to their venues at their send time; feed immediate answers back."""
        work = deque(requests)
        while work:
            r = work.popleft()
            venue = self.hub.venues[r.venue]
            answer = venue.post(
                r.kind, r.symbol, r.client_id, r.sent_ns, r.order, r.price_ticks, r.qty_lots
            )
            if answer is not None and answer.status != ST_PENDING:
                work.extend(self.hub.update(answer, r.kind))

    # --- the merge --------------------------------------------------------------------------------
    def _exchange(self, limit: int) -> int:
        """Move every venue timeline up to ``limit`` or its first report; return the new limit."""
        moved = True
        while moved:
            moved = False
            for v in self.venues:
                sim = v.simulator
                if sim.next_exchange_ts() <= limit:
                    sim.exchange_until(limit)
                    moved = True
                limit = min(limit, sim.next_update_ts())
        return limit

    def advance(self, t: int) -> None:
        """Handle every venue event, report and timer before a local message at ``t``."""
        hosts = self.hub.hosts
        while True:
            limit = t
            for h in hosts:
                limit = min(limit, h.next_timer_ns())
            for v in self.venues:
                limit = min(limit, v.simulator.next_update_ts())
            self._exchange(limit)
            t_up, k_up = NO_TIME, -1
            for k, v in enumerate(self.venues):
                tu = v.simulator.next_update_ts()
                if tu < t_up:
                    t_up, k_up = tu, k
            t_tm, h_tm = NO_TIME, -1
            for k, h in enumerate(hosts):
                tt = h.next_timer_ns()
                if tt < t_tm:
                    t_tm, h_tm = tt, k
            if t <= t_up and t <= t_tm:
                return
            if t_up <= t_tm:
                self.now = max(self.now, t_up)
                update, req = self.venues[k_up].pop_update()
                self.send(self.hub.update(update, req))
            else:
                self.now = max(self.now, t_tm)
                self.send(hosts[h_tm].fire_next_timer())

    def _settle(self) -> None:
        """Query orders whose outcome stayed unknown for ``settle_after_ns``."""
        for h in self.hub.hosts:
            for cid, (_req, since) in list(h.unsettled.items()):
                last = self._queried.get(cid, since)
                if self.now - last < self.settle_after_ns:
                    continue
                self._queried[cid] = self.now
                located = h.locate(cid)
                if located is None:
                    continue
                venue, symbol = located
                answer = self.hub.venues[venue].simulator.query(symbol, cid)
                log.info("%s: settling %s by a query: status %d", h.strategy_id, cid, answer.status)
                self.send(h.report(answer))
                if cid not in h.unsettled:
                    self._queried.pop(cid, None)

    # --- the run ----------------------------------------------------------------------------------
    async def run(
        self,
        stop: asyncio.Event | None = None,
        duration_ns: int | None = None,
        final_cancel: bool = False,
    ) -> None:
        """Run until the data ends, ``duration_ns`` of event time passed, or ``stop`` is set.

        ``final_cancel`` (live mode) cancels every live order at the end and lets the
        venues confirm it.
        """
        iters: dict[int, AsyncIterator[MarketBatch]] = {}
        for k, name in enumerate(self.names):
            symbols = self.hub.symbols(name)
            if symbols:
                iters[k] = aiter(self.venues[k].market_data(symbols))
        heads: dict[int, MarketBatch] = {}
        end: int | None = None
        try:
            while stop is None or not stop.is_set():
                for k, it in list(iters.items()):
                    if k not in heads:
                        try:
                            heads[k] = await anext(it)
                        except StopAsyncIteration:
                            del iters[k]
                if not heads:
                    break
                k, batch = min(heads.items(), key=lambda kv: (batch_time(kv[1], self.now), kv[0]))
                t = batch_time(batch, self.now)
                if end is None and duration_ns is not None:
                    end = t + duration_ns
                if end is not None and t >= end:
                    break
                if not self.started:
                    self.started = True
                    for h in self.hub.hosts:
                        self.send(h.start(t))
                self.advance(t)
                self.now = max(self.now, t)
                del heads[k]
                self.batches += 1
                self.send(self.hub.market(self.names[k], batch))
                if any(h.unsettled for h in self.hub.hosts):
                    self._settle()
        finally:
            for it in iters.values():
                close = getattr(it, "aclose", None)
                if close is not None:
                    await close()
        if final_cancel:
            for h in self.hub.hosts:
                self.send(h.stop(self.now))
            self.advance(self.now + STOP_GRACE_NS)

"""Run strategies against real venues in wall time (live mode with a connector).

:class:`WallClock` runs one task per venue stream: market data feeds the hosts as each
message arrives; order updates (user data) go to the host that sent the order; a ticker
fires timers when no message comes; a settler queries orders whose outcome is unknown.
Requests go out as tasks, so a slow REST call never holds up the feed: the next message is
handled while earlier requests are in flight. Every host method is synchronous and the loop
single-threaded, so no locks are needed.

Fast path. A venue with ``stream_market(symbols, sink)`` (the Binance connector) runs the
feed as a sink in the task that read each market frame, and a venue with ``begin_submit`` /
``begin_cancel`` / ``begin_modify`` writes a request there and then (WS API order entry):
frame read, decode, book, strategy, request written, with no queue or task switch between.
Only the wait for the venue's answer is a task of its own. Other venues (the simulated
ones, REST order entry) take the task-per-request path above.

The strategies' clock is the feed's: a message's ``local_ts``, and between messages that
time plus the wall time elapsed since (:class:`FeedClock`), so a live feed (receive times in
wall-clock ns) and a replayed one both fire timers at the right point of their own time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from hftlib.live.cosim import batch_time
from hftlib.live.host import HostRequest
from hftlib.live.hub import Hub

from hftlib.engine.types import REQ_CANCEL, REQ_MODIFY, REQ_NEW, REQ_NONE, ST_UNKNOWN
from hftlib.errors import HftlibError
from hftlib.venue.interface import MarketBatch, OrderUpdate

log = logging.getLogger("hftlib.live")

TICK_S: Final = 0.01
"""How often the ticker looks for due timers and unknown outcomes (wall seconds)."""
CANCEL_TIMEOUT_S: Final = 10.0


class FeedClock:
    """The feed's time: the latest message's ``local_ts`` plus the wall time since it came."""

    def __init__(self) -> None:
        self._last = 0
        self._at = 0

    def saw(self, local_ts: int) -> None:
        """Note a message received at feed time ``local_ts``."""
        if local_ts >= self._last:
            self._last = local_ts
            self._at = time.perf_counter_ns()

    def now(self) -> int:
        """Return the current feed time (wall time before the first message)."""
        if self._last == 0:
            return time.time_ns()
        return self._last + time.perf_counter_ns() - self._at


class WallClock:
    """Drive hosts against venues in wall time (see the module doc).

    Parameters
    ----------
    hub : Hub
        The run's hosts and venues.
    settle_after_ns : int
        Time after which an order of unknown outcome is queried (then again as often).
    """

    def __init__(self, hub: Hub, *, settle_after_ns: int = 1_000_000_000) -> None:
        self.hub = hub
        self.clock = FeedClock()
        self.settle_after_ns = settle_after_ns
        self.batches = 0
        self.started = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._queried: dict[str, int] = {}
        for h in hub.hosts:
            # the cheaper feed; its code may take seconds to compile the first time: here,
            # before any venue is connected, not with sockets open
            h.hold_state()

    # --- requests ---------------------------------------------------------------------------------
    def send(self, requests: list[HostRequest]) -> None:
        """Send each request as its own task (the feed goes on meanwhile)."""
        for r in requests:
            self._spawn(self._one(r))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _one(self, r: HostRequest) -> None:
        venue = self.hub.venues[r.venue]
        try:
            if r.kind == REQ_NEW and r.order is not None:
                answer = await venue.submit(r.order)
            elif r.kind == REQ_CANCEL:
                answer = await venue.cancel(r.symbol, r.client_id)
            elif r.kind == REQ_MODIFY:
                answer = await venue.modify(
                    r.symbol, r.client_id, r.new_client_id, r.price_ticks, r.qty_lots
                )
            else:
                return
        except (HftlibError, OSError, TimeoutError) as exc:
            answer = self._failed(r, exc)
        self.send(self.hub.update(answer, r.kind))

    def _failed(self, r: HostRequest, exc: BaseException) -> OrderUpdate:
        # not an order outcome: the request may or may not have reached the venue
        log.error("%s %s on %s failed: %s", _KINDS.get(r.kind), r.client_id, r.venue, exc)
        return OrderUpdate(
            symbol=r.symbol,
            client_id=r.client_id,
            status=ST_UNKNOWN,
            local_ts=self.clock.now(),
            reason=f"{type(exc).__name__}: {exc}",
        )

    async def send_now(self, requests: list[HostRequest]) -> None:
        """Write each request from this task where the venue can; wait for answers in tasks."""
        for r in requests:
            venue = self.hub.venues[r.venue]
            begin = getattr(venue, _BEGIN.get(r.kind, ""), None)
            if begin is None or (r.kind == REQ_NEW and r.order is None):
                self._spawn(self._one(r))
                continue
            try:
                if r.kind == REQ_NEW:
                    pending = await begin(r.order)
                elif r.kind == REQ_CANCEL:
                    pending = await begin(r.symbol, r.client_id)
                else:
                    pending = await begin(
                        r.symbol, r.client_id, r.new_client_id, r.price_ticks, r.qty_lots
                    )
            except (HftlibError, OSError, TimeoutError) as exc:
                self.send(self.hub.update(self._failed(r, exc), r.kind))
                continue
            task = asyncio.get_running_loop().create_task(self._answer(r, pending))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            if inspect.iscoroutine(pending):
                # a task cancelled before it started never awaits ``pending``: close it (a
                # no-op once it ran) so no coroutine is left un-awaited
                task.add_done_callback(functools.partial(_close_coroutine, pending))

    async def _answer(self, r: HostRequest, pending: Awaitable[OrderUpdate]) -> None:
        try:
            answer = await pending
        except (HftlibError, OSError, TimeoutError) as exc:
            answer = self._failed(r, exc)
        self.send(self.hub.update(answer, r.kind))

    # --- streams ----------------------------------------------------------------------------------
    async def _market(self, name: str) -> None:
        venue = self.hub.venues[name]
        stream = getattr(venue, "stream_market", None)
        if stream is not None:
            await stream(self.hub.symbols(name), self._sink(name))
            return
        async for batch in venue.market_data(self.hub.symbols(name)):
            self.send(self._feed(name, batch))

    def _sink(self, name: str) -> Callable[[MarketBatch], Awaitable[None]]:
        async def sink(batch: MarketBatch) -> None:
            requests = self._feed(name, batch)
            if requests:
                await self.send_now(requests)

        return sink

    def _feed(self, name: str, batch: MarketBatch) -> list[HostRequest]:
        t = batch_time(batch, self.clock.now())
        self.clock.saw(t)
        self._start(t)
        out: list[HostRequest] = []
        for h in self.hub.hosts:
            if h.next_timer_ns() < t:  # timers due before the message go first
                out += h.timers(t - 1)
        self.batches += 1
        out += self.hub.market(name, batch)
        return out

    async def _updates(self, name: str) -> None:
        async for update in self.hub.venues[name].order_updates():
            self.send(self.hub.update(update, REQ_NONE))

    def _start(self, now: int) -> None:
        """Start the strategies at the feed's first message (their clock is the feed's)."""
        if not self.started:
            self.started = True
            for h in self.hub.hosts:
                self.send(h.start(now))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if not self.started:
                continue
            now = self.clock.now()
            for h in self.hub.hosts:
                self.send(h.timers(now))
            self._settle(now)

    def _settle(self, now: int) -> None:
        for h in self.hub.hosts:
            for cid, (_req, since) in list(h.unsettled.items()):
                if now - self._queried.get(cid, since) < self.settle_after_ns:
                    continue
                self._queried[cid] = now
                located = h.locate(cid)
                if located is not None:
                    self._spawn(self._query(located[0], located[1], cid))

    async def _query(self, venue: str, symbol: str, cid: str) -> None:
        try:
            answer = await self.hub.venues[venue].query_order(symbol, cid)
        except (HftlibError, OSError, TimeoutError) as exc:
            log.warning("query of %s on %s failed: %s", cid, venue, exc)
            return
        self.send(self.hub.update(answer, REQ_NONE))

    # --- the run ----------------------------------------------------------------------------------
    async def run(
        self,
        stop: asyncio.Event | None = None,
        duration_ns: int | None = None,
        final_cancel: bool = False,
    ) -> None:
        """Run until ``stop`` is set, ``duration_ns`` of wall time passed or the feeds end.

        ``final_cancel`` cancels every open order of the traded symbols at the end.
        """
        stop = stop if stop is not None else asyncio.Event()
        loop = asyncio.get_running_loop()
        feeds = [
            loop.create_task(self._market(name))
            for name in self.hub.venues
            if self.hub.symbols(name)
        ]
        others = [loop.create_task(self._updates(name)) for name in self.hub.venues]
        others.append(loop.create_task(self._ticker()))
        waiter = loop.create_task(stop.wait())
        timeout = duration_ns / 1e9 if duration_ns is not None else None
        try:
            done, _ = await asyncio.wait(
                [*feeds, waiter], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            while done and not waiter.done() and not all(f.done() for f in feeds):
                for f in done:  # a feed that failed ends the run; one that ended waits for the rest
                    if f in feeds and f.exception() is not None:
                        raise f.exception()  # type: ignore[misc]
                pending = [f for f in feeds if not f.done()] + [waiter]
                done, _ = await asyncio.wait(
                    pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            for f in feeds:
                if f.done() and not f.cancelled() and f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
        finally:
            for task in [*feeds, *others, waiter]:
                task.cancel()
            for task in [*feeds, *others, waiter]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if final_cancel:
                now = self.clock.now()
                for h in self.hub.hosts:
                    h.stop(now)  # kill switch on; the venue-wide cancel below covers every order
                await self._flush()  # requests already sent reach the venue before the cancel
                await self._cancel_everything()
            await self._flush()

    async def _cancel_everything(self) -> None:
        for name, venue in self.hub.venues.items():
            for symbol in self.hub.symbols(name):
                try:
                    answers = await asyncio.wait_for(venue.cancel_all(symbol), CANCEL_TIMEOUT_S)
                except (HftlibError, OSError, TimeoutError) as exc:
                    log.error("cancel-all of %s on %s failed: %s", symbol, name, exc)
                    continue
                log.info("cancelled %d open order(s) of %s on %s", len(answers), symbol, name)
                for answer in answers:
                    self.hub.update(answer, REQ_NONE)

    async def _flush(self) -> None:
        """Wait (bounded) for requests still in flight, so no task outlives the run."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=CANCEL_TIMEOUT_S)
        for task in set(self._inflight):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


_KINDS: Final = {REQ_NEW: "new order", REQ_CANCEL: "cancel", REQ_MODIFY: "modify"}
_BEGIN: Final = {REQ_NEW: "begin_submit", REQ_CANCEL: "begin_cancel", REQ_MODIFY: "begin_modify"}


def _close_coroutine(coro: Coroutine[Any, Any, Any], _task: asyncio.Task[None]) -> None:
    """Close ``coro`` (a no-op once it ran): a task cancelled before it started leaves it."""
    coro.close()

"""The host's boxed-state feed (``hold_state``) behaves exactly like the per-call one."""

from __future__ import annotations

import numpy as np
from hftlib.live.host import HostRequest, StrategyHost
from hftlib.sim.recorded_venue import message_bounds

from hftlib.engine.types import REQ_CANCEL, REQ_MODIFY, REQ_NEW, ST_CANCELED, ST_OPEN
from hftlib.instrument import Instrument
from hftlib.venue.interface import BOOK_LIVE, MarketBatch, OrderUpdate

QUOTE = {"interval_ms": 100, "offset_ticks": 1, "qty": 0.01}
"""Quotes around the book the feed keeps, every 100 ms."""


def run(host: StrategyHost, events: np.ndarray) -> list[tuple[int, str, int, int, int]]:
    """Feed every message, ack every request at once; return what the host asked for."""
    sent: list[tuple[int, str, int, int, int]] = []
    start = 0
    host.start(int(events["local_ts"][0]))
    for end in message_bounds(events).tolist():
        rows = events[start:end]
        start = end
        t = int(rows["local_ts"][0])
        pending = host.timers(t - 1)
        pending += host.feed("v", MarketBatch(symbol="SYNUSD", events=rows, book_state=BOOK_LIVE))
        while pending:
            req = pending.pop(0)
            sent.append(summary(req))
            pending += host.report(answer(req, t), req.kind)
    return sent


def summary(req: HostRequest) -> tuple[int, str, int, int, int]:
    px = req.order.price_ticks if req.order is not None else req.price_ticks
    qty = req.order.qty_lots if req.order is not None else req.qty_lots
    return (req.kind, req.client_id, px, qty, req.sent_ns)


def answer(req: HostRequest, t: int) -> OrderUpdate:
    if req.kind == REQ_NEW:
        return OrderUpdate(symbol=req.symbol, client_id=req.client_id, status=ST_OPEN, local_ts=t)
    if req.kind == REQ_MODIFY:
        return OrderUpdate(
            symbol=req.symbol, client_id=req.client_id, status=ST_OPEN, local_ts=t,
            price_ticks=req.price_ticks, qty_lots=req.qty_lots,
        )  # fmt: skip
    assert req.kind == REQ_CANCEL
    return OrderUpdate(symbol=req.symbol, client_id=req.client_id, status=ST_CANCELED, local_ts=t)


def test_held_feed_equals_the_unboxed_feed(
    syn_events: np.ndarray, syn_instrument: Instrument
) -> None:
    events = syn_events[:20_000]
    hosts = [
        StrategyHost(
            "quote_mm",
            strategy_id="q",
            assets=[("v", "SYNUSD")],
            instruments=[syn_instrument],
            params=QUOTE,
        )  # fmt: skip
        for _ in range(2)
    ]
    hosts[1].hold_state()
    assert hosts[1]._k._held is not None  # the boxed path is the one under test
    plain, held = (run(h, events) for h in hosts)
    assert len(plain) > 20  # the strategy quoted
    assert held == plain
    for name in ("clock", "orders", "position", "account", "bbo", "counters"):
        np.testing.assert_array_equal(getattr(hosts[0].ctx, name), getattr(hosts[1].ctx, name))
    np.testing.assert_array_equal(hosts[0].orders_log(), hosts[1].orders_log())
    # the boxed state is the host's own: the kill switch set from Python stops the step
    t = int(events["local_ts"][-1])
    assert [summary(r) for r in hosts[0].stop(t)] == [summary(r) for r in hosts[1].stop(t)]
    later = syn_events[20_000:30_000]
    plain, held = (run(h, later) for h in hosts)
    assert held == plain
    assert all(kind != REQ_NEW for kind, *_ in held)

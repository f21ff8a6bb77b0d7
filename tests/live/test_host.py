"""StrategyHost: requests out, reports in, the outcome policy and the stale-book gate.

The host runs ``quote_mm`` (a bid and an ask around the mid every 100 ms) on hand-made
venue messages, so each report's effect on the engine's order table can be checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from hftlib.live.host import HostRequest, StrategyHost, reason_code

from hftlib.engine.types import (
    BUY,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    SELL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    ST_REJECTED,
    ST_UNKNOWN,
    TIF_GTX,
    V_UNKNOWN_ORDER,
)
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, F_LAST, K_CLEAR, K_SNAPSHOT, K_TRADE, NO_PX, empty_events
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, BOOK_SYNCING, MarketBatch, OrderUpdate

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
QUOTE = {"interval_ms": 100, "offset_ticks": 1, "qty": 0.01}


def book(t: int, bid: int = 1000, ask: int = 1002, state: int = BOOK_LIVE) -> MarketBatch:
    rows = empty_events(3)
    rows["flags"] = [K_CLEAR | F_BID | F_ASK, K_SNAPSHOT | F_BID, K_SNAPSHOT | F_ASK | F_LAST]
    rows["px"] = [NO_PX, bid, ask]
    rows["qty"] = [0, 50, 50]
    rows["exch_ts"] = t - MS
    rows["local_ts"] = t
    return MarketBatch(symbol="SYNUSD", events=rows, book_state=state)


def update(req: HostRequest, status: int, t: int, **kw: object) -> OrderUpdate:
    return OrderUpdate(
        symbol=req.symbol, client_id=req.client_id, status=status, local_ts=t, exch_ts=t, **kw
    )


@pytest.fixture
def host(syn_instrument: Instrument) -> StrategyHost:
    return StrategyHost(
        "quote_mm",
        strategy_id="q",
        assets=[("v", "SYNUSD")],
        instruments=[syn_instrument],
        params=QUOTE,
    )


def quotes(host: StrategyHost, t: int) -> list[HostRequest]:
    """Feed a book at ``t``; fire the quote timer; return the requests."""
    out = host.start(t) + host.feed("v", book(t))
    return out + host.timers(t + 100 * MS)


def slot_of(host: StrategyHost, req: HostRequest) -> int:
    hit = host.ids.lookup(req.client_id)
    assert hit is not None
    return hit[0]


def test_timer_quotes_become_venue_requests(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    assert (bid.kind, ask.kind) == (REQ_NEW, REQ_NEW)
    assert bid.order is not None
    assert ask.order is not None
    assert (bid.order.side, bid.order.price_ticks, bid.order.qty_lots) == (BUY, 1000, 10)
    assert (ask.order.side, ask.order.price_ticks, ask.order.tif) == (SELL, 1002, TIF_GTX)
    assert (bid.client_id, ask.client_id) == ("hft-q-0-1", "hft-q-0-2")
    assert bid.venue == "v"
    assert bid.sent_ns == T0 + 100 * MS
    assert host.next_timer_ns() == T0 + 200 * MS
    assert host.orders_log()["status"].tolist() == [ST_PENDING, ST_PENDING]


def test_ack_fill_and_cancel_reports(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    t = T0 + 101 * MS
    assert host.report(update(bid, ST_OPEN, t)) == []
    assert host.ctx.orders[slot_of(host, bid)]["status"] == ST_OPEN
    fill = update(bid, ST_FILLED, t, last_fill_lots=10, last_fill_ticks=1000, fee=-0.01)
    fill = OrderUpdate(**{**_fields(fill), "trade_id": 7, "venue_order_id": "9", "maker": True})
    host.report(fill)
    host.report(fill)  # the same fill again (REST and stream): booked once
    assert host.ctx.position[0] == 10
    fills = host.fills()
    assert len(fills) == 1
    assert fills[0]["px"] == 1000
    assert fills[0]["maker"] == 1
    # the next timer cancels the ask (quote_mm cancels before it re-quotes)
    out = host.timers(T0 + 200 * MS)
    cancels = [r for r in out if r.kind == REQ_CANCEL]
    assert [r.client_id for r in cancels] == [ask.client_id]
    host.report(update(ask, ST_CANCELED, T0 + 201 * MS), REQ_CANCEL)
    assert host.ctx.orders[slot_of(host, ask)]["status"] == ST_CANCELED


def _fields(u: OrderUpdate) -> dict[str, object]:
    return {f: getattr(u, f) for f in u.__struct_fields__}


def test_unknown_outcome_keeps_the_order_in_flight_until_settled(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    t = T0 + 101 * MS
    assert host.report(update(bid, ST_UNKNOWN, t, reason="timeout"), REQ_NEW) == []
    slot = slot_of(host, bid)
    assert host.ctx.orders[slot]["status"] == ST_PENDING  # in flight, not rejected
    assert host.unsettled[bid.client_id] == (REQ_NEW, t)
    assert host.unknown_outcomes == 1
    host.report(update(bid, ST_UNKNOWN, t + 1))  # a repeat counts once
    assert host.unknown_outcomes == 1
    host.report(update(bid, ST_OPEN, t + 5 * MS))  # a query or the stream settles it
    assert host.ctx.orders[slot]["status"] == ST_OPEN
    assert not host.unsettled
    # an unknown cancel: the cancel stays in flight; a query showing the order open clears it
    host.report(update(ask, ST_OPEN, t))
    out = host.timers(T0 + 200 * MS)  # quote_mm cancels its quotes, then quotes again
    assert ask.client_id in [r.client_id for r in out if r.kind == REQ_CANCEL]
    aslot = slot_of(host, ask)
    host.report(update(ask, ST_UNKNOWN, t + 100 * MS), REQ_CANCEL)
    assert host.ctx.orders[aslot]["req"] == REQ_CANCEL
    host.report(update(ask, ST_OPEN, t + 150 * MS))
    assert host.ctx.orders[aslot]["status"] == ST_OPEN
    assert host.ctx.orders[aslot]["req"] == REQ_NONE


def test_unknown_new_order_that_never_arrived_ends_rejected(host: StrategyHost) -> None:
    bid, _ask = quotes(host, T0)
    host.report(update(bid, ST_UNKNOWN, T0 + 101 * MS), REQ_NEW)
    host.report(update(bid, ST_REJECTED, T0 + 200 * MS, reason="venue_unknown_order"))
    o = host.ctx.orders[slot_of(host, bid)]
    assert o["status"] == ST_REJECTED
    assert o["reason"] == V_UNKNOWN_ORDER


def test_a_refused_cancel_is_not_a_rejected_order(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    for r in (bid, ask):
        host.report(update(r, ST_OPEN, T0 + 101 * MS))
    host.timers(T0 + 200 * MS)  # cancels both, then re-quotes
    refused = update(bid, ST_REJECTED, T0 + 201 * MS, reason="venue_unknown_order")
    host.report(refused, REQ_CANCEL)
    o = host.ctx.orders[slot_of(host, bid)]
    assert o["status"] == ST_OPEN
    assert o["req"] == REQ_NONE
    assert o["reason"] == V_UNKNOWN_ORDER


def test_modify_reports_move_the_order(host: StrategyHost) -> None:
    bid, _ = quotes(host, T0)
    host.report(update(bid, ST_OPEN, T0 + 101 * MS))
    slot = slot_of(host, bid)
    host.ctx.orders[slot]["req"] = REQ_MODIFY  # what actions.modify leaves in flight
    host.ctx.orders[slot]["req_px"] = 999
    moved = update(bid, ST_OPEN, T0 + 102 * MS, price_ticks=999, qty_lots=7)
    host.report(moved, REQ_MODIFY)
    o = host.ctx.orders[slot]
    assert (o["px"], o["leaves"], o["req"]) == (999, 7, REQ_NONE)


def test_stale_book_cancels_and_blocks_quoting_until_live(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    for r in (bid, ask):
        host.report(update(r, ST_OPEN, T0 + 101 * MS))
    out = host.feed("v", book(T0 + 150 * MS, state=BOOK_STALE))
    assert sorted((r.kind, r.client_id) for r in out) == sorted(
        [(REQ_CANCEL, bid.client_id), (REQ_CANCEL, ask.client_id)]
    )
    assert host.gated[0]
    for r in (bid, ask):
        host.report(update(r, ST_CANCELED, T0 + 160 * MS), REQ_CANCEL)
    for k in (2, 3):  # the timer fires, but no order may leave while the book is not live
        assert [r for r in host.timers(T0 + k * 100 * MS) if r.kind == REQ_NEW] == []
    assert host.summary()["counters"]["risk_max_order_qty"] >= 2
    host.feed("v", book(T0 + 350 * MS, state=BOOK_SYNCING))  # still not live
    assert [r for r in host.timers(T0 + 400 * MS) if r.kind == REQ_NEW] == []
    host.feed("v", book(T0 + 450 * MS, state=BOOK_LIVE))
    assert not host.gated[0]
    assert len([r for r in host.timers(T0 + 500 * MS) if r.kind == REQ_NEW]) == 2


def test_foreign_and_unrelated_messages_change_nothing(host: StrategyHost) -> None:
    quotes(host, T0)
    before = host.ctx.orders.copy()
    stranger = OrderUpdate(symbol="SYNUSD", client_id="web-1", status=ST_FILLED)
    assert host.report(stranger) == []
    assert host.foreign_reports == 1
    other = MarketBatch(symbol="ETHUSD", events=book(T0).events, book_state=BOOK_STALE)
    assert host.feed("v", other) == []
    assert not host.gated.any()
    np.testing.assert_array_equal(host.ctx.orders, before)
    assert host.asset_of("v", "SYNUSD") == 0
    assert host.asset_of("w", "SYNUSD") == -1
    assert host.locate("hft-q-0-1") == ("v", "SYNUSD")
    assert host.locate("web-1") is None


def test_trades_and_readonly_rows_reach_the_strategy(host: StrategyHost) -> None:
    host.start(T0)
    trade = empty_events(1)
    trade["flags"] = K_TRADE | F_ASK | F_LAST
    trade["px"], trade["qty"], trade["exch_ts"], trade["local_ts"] = 1001, 3, T0, T0 + MS
    trade.flags.writeable = False
    host.feed("v", MarketBatch(symbol="SYNUSD", events=trade, book_state=BOOK_LIVE))
    assert host.ctx.trade[0].tolist()[:5] == [T0 + MS, T0, 1001, 3, SELL]
    assert host.now == T0 + MS


def test_stop_kills_and_cancels(host: StrategyHost) -> None:
    bid, ask = quotes(host, T0)
    for r in (bid, ask):
        host.report(update(r, ST_OPEN, T0 + 101 * MS))
    out = host.stop(T0 + 150 * MS)
    assert {r.kind for r in out} == {REQ_CANCEL}
    assert len(out) == 2
    assert [r for r in host.timers(T0 + 200 * MS) if r.kind == REQ_NEW] == []
    assert len(host.live_orders()) == 2
    host.end(T0 + 300 * MS)


def test_reason_codes() -> None:
    assert reason_code("venue_would_cross") == -40
    assert reason_code("") == 0
    assert reason_code("some venue text") == 0

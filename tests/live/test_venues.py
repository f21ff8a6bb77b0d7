"""The recorded and paper venues as :class:`~hftlib.venue.interface.Venue` implementations,
the wall-time run loop, and the stale-book gate end to end on a recording with a gap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from hftlib.live.cosim import EventClock
from hftlib.live.host import StrategyHost
from hftlib.live.hub import Hub
from hftlib.live.paper import PaperVenue
from hftlib.live.wallclock import FeedClock, WallClock
from hftlib.sim.recorded_venue import RecordedVenue, book_state_after, message_bounds

from hftlib.book.l2 import l2_apply, l2_depth, new_l2
from hftlib.data.storage import write_events
from hftlib.engine.types import ASK, BID, BUY, ST_CANCELED, ST_OPEN, ST_PENDING, TIF_GTX
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, F_LAST, F_SYNTHETIC, K_CLEAR, K_SNAPSHOT, NO_PX
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, OrderRequest, Venue

from .conftest import MM

QUOTE = {"interval_ms": 100, "offset_ticks": 1, "qty": 0.01}


def collect(venue: Venue, symbols: list[str]) -> list:  # type: ignore[type-arg]
    async def go() -> list:  # type: ignore[type-arg]
        return [b async for b in venue.market_data(symbols)]

    return asyncio.run(go())


def test_batches_are_whole_messages_in_time_order(syn_file: Path, syn_events: np.ndarray) -> None:
    venue = RecordedVenue([syn_file], name="rec")
    assert isinstance(venue, Venue)
    batches = collect(venue, ["SYNUSD"])
    assert sum(len(b.events) for b in batches) == len(syn_events)
    assert len(batches) == len(message_bounds(syn_events))
    for b in batches[:2000]:
        ts = b.events["local_ts"]
        assert (ts == ts[0]).all()
        assert b.book_state == BOOK_LIVE
    starts = [int(b.events["local_ts"][0]) for b in batches]
    assert starts == sorted(starts)
    with pytest.raises(ValueError, match="no recorded data"):
        collect(RecordedVenue([syn_file]), ["BTCUSDT"])


def test_book_state_follows_gap_marks_and_snapshots() -> None:
    rows = np.zeros(2, dtype=np.dtype([("flags", "<u4")]))
    rows["flags"] = [K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC, 0]
    assert book_state_after(rows[:1], BOOK_LIVE) == BOOK_STALE
    rows["flags"] = [K_CLEAR | F_BID | F_ASK, K_SNAPSHOT | F_ASK | F_LAST]
    assert book_state_after(rows, BOOK_STALE) == BOOK_LIVE
    rows["flags"] = [K_CLEAR | F_BID | F_ASK | F_LAST, K_SNAPSHOT | F_ASK]
    assert book_state_after(rows, BOOK_STALE) == BOOK_STALE
    assert len(message_bounds(np.zeros(0, dtype=np.dtype([("flags", "<u4")])))) == 0


def test_simulated_order_entry_coroutines(syn_file: Path) -> None:
    async def go() -> None:
        venue = RecordedVenue([syn_file], name="rec")
        await venue.connect()
        async for _ in venue.market_data(["SYNUSD"]):
            pass  # the whole recording: the venue's book is the last one
        sim = venue.simulator
        mid = int(sim._rows[sim.cur[1] - 1]["px"])
        request = OrderRequest(
            symbol="SYNUSD",
            client_id="x-1",
            side=BUY,
            qty_lots=5,
            price_ticks=mid - 30,
            tif=TIF_GTX,
        )
        assert (await venue.submit(request)).status == ST_PENDING
        updates = venue.order_updates()
        first = await asyncio.wait_for(anext(updates), 5)
        assert (first.client_id, first.status) == ("x-1", ST_OPEN)
        assert [o.client_id for o in await venue.open_orders("SYNUSD")] == ["x-1"]
        assert (await venue.query_order("SYNUSD", "x-1")).status == ST_OPEN
        await venue.modify("SYNUSD", "x-1", "x-2", mid - 31, 4)
        assert (await asyncio.wait_for(anext(updates), 5)).price_ticks == mid - 31
        assert len(await venue.cancel_all("SYNUSD")) == 1
        assert (await asyncio.wait_for(anext(updates), 5)).status == ST_CANCELED
        assert (await venue.cancel("SYNUSD", "nope")).reason == "venue_unknown_order"
        assert await venue.balances() == []
        assert await venue.positions() == []
        assert await venue.recent_fills("SYNUSD", 0) == []
        assert venue.server_time_offset_ns() == 0
        await updates.aclose()
        await venue.close()

    asyncio.run(go())


def test_wall_clock_loop_runs_and_cancels_at_the_end(
    syn_file: Path, syn_instrument: Instrument
) -> None:
    venue = RecordedVenue([syn_file], name="rec")
    host = StrategyHost(
        "quote_mm",
        strategy_id="q",
        assets=[("rec", "SYNUSD")],
        instruments=[syn_instrument],
        params=QUOTE,
    )
    loop = WallClock(Hub({"rec": venue}, [host]), settle_after_ns=10_000_000)
    asyncio.run(loop.run(final_cancel=True))
    assert loop.batches > 1000
    log = host.orders_log()
    assert (log["status"] == ST_OPEN).any()  # acks came back through the update stream
    sim = venue.simulator
    end = np.iinfo(np.int64).max - 1
    while True:  # let the final cancels reach the venue (reports popped as they fall due)
        sim.exchange_until(end)
        if sim.next_update_ts() > end:
            break
        sim.pop_update()
    assert sim.open_orders() == []
    clock = FeedClock()
    assert clock.now() > 0
    clock.saw(5)
    assert clock.now() >= 5


def with_gap(events: np.ndarray, t_gap: int, t_back: int) -> np.ndarray:
    """Mark the book invalid at ``t_gap`` and resync it with a snapshot at ``t_back``."""
    book = new_l2(1)
    head = events[events["local_ts"] < t_back]
    for r in head:
        l2_apply(book, 0, int(r["flags"]), int(r["px"]), int(r["qty"]))
    levels = []
    for side, flag in ((BID, F_BID), (ASK, F_ASK)):
        ticks = np.zeros(4096, dtype=np.int64)
        qtys = np.zeros(4096, dtype=np.int64)
        n = l2_depth(book, 0, side, ticks, qtys)
        levels += [(K_SNAPSHOT | flag, t, q) for t, q in zip(ticks[:n], qtys[:n], strict=True)]
    snap = np.zeros(len(levels) + 1, dtype=events.dtype)
    snap["flags"][0] = K_CLEAR | F_BID | F_ASK
    snap["px"][0] = NO_PX
    for i, (f, t, q) in enumerate(levels, start=1):
        snap[i]["flags"], snap[i]["px"], snap[i]["qty"] = f, t, q
    snap["flags"][-1] |= F_LAST
    snap["exch_ts"] = snap["local_ts"] = t_back
    gap = np.zeros(1, dtype=events.dtype)
    gap["flags"] = K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC
    gap["px"] = NO_PX
    gap["exch_ts"] = gap["local_ts"] = t_gap
    i_gap = int(np.searchsorted(events["local_ts"], t_gap, "left"))
    i_back = int(np.searchsorted(events["local_ts"], t_back, "left"))
    return np.concatenate((events[:i_gap], gap, events[i_gap:i_back], snap, events[i_back:]))


def test_a_gap_in_the_recording_stops_quoting_until_the_resync(
    syn_events: np.ndarray, syn_instrument: Instrument, tmp_path: Path
) -> None:
    t0 = int(syn_events["local_ts"][0])
    t_gap, t_back = t0 + 3_000_000_000, t0 + 4_000_000_000
    path = tmp_path / "gap.npy"
    write_events(path, iter([with_gap(syn_events, t_gap, t_back)]), syn_instrument)
    paper = PaperVenue(RecordedVenue([path], simulate_orders=False), [syn_instrument])
    host = StrategyHost(
        "market_maker",
        strategy_id="mm",
        assets=[(paper.name, "SYNUSD")],
        instruments=[syn_instrument],
        params=MM,
    )
    asyncio.run(EventClock(Hub({paper.name: paper}, [host])).run())
    log = host.orders_log()
    sent = log[log["status"] == ST_PENDING]["local_ts"]
    assert (sent < t_gap).any()  # it quotes before and after
    assert (sent > t_back).sum() > 10
    assert not ((sent >= t_gap) & (sent < t_back)).any()  # and nothing in between
    live_at_gap = set(log[log["local_ts"] < t_gap]["order_id"]) - set(
        log[(log["local_ts"] < t_gap) & (log["status"] != ST_OPEN) & (log["status"] != ST_PENDING)][
            "order_id"
        ]
    )
    ended = log[(log["local_ts"] >= t_gap) & (log["local_ts"] < t_back)]
    assert live_at_gap <= set(ended["order_id"])  # every order live at the gap was ended
    assert host.summary()["counters"].get("risk_max_order_qty", 0) > 0

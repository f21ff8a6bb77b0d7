"""The numba kernels of the paper/live path, run as plain Python (``py_func``) for coverage.

``hftlib.live.step`` is the template as written (no-op callbacks); the order simulator's
kernels are checked against a numpy reference and the replay venue's rules.
"""

from __future__ import annotations

from collections.abc import Callable

import hftlib.live.step as step
import numpy as np
import pytest
from hftlib.sim import backtest_loop, order_sim, replay
from hftlib.sim.backtest_loop import new_loop
from hftlib.sim.fees import instrument_row
from hftlib.sim.latency import constant
from hftlib.sim.order_sim import C_ROW, C_ROWS, OrderSimulator, venue_times
from hftlib.sim.replay import RS_ACK, RS_DONE, RS_FILL, RS_MODIFIED, RS_REQ_REJECTED

from hftlib.book.l3 import new_l3
from hftlib.engine.actions import submit
from hftlib.engine.context import CLK_NOW, CLK_OUT_N, new_context
from hftlib.engine.types import (
    BUY,
    OT_LIMIT,
    REQ_CANCEL,
    REQ_MODIFY,
    SELL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    TIF_GTC,
    TIF_GTX,
)
from hftlib.instrument import Instrument
from hftlib.risk import default_limits
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_SNAPSHOT,
    K_TRADE,
    NO_PX,
    empty_events,
)
from hftlib.venue.interface import OrderRequest

T0 = 1_000_000_000
MS = 1_000_000


def rows_of(*specs: tuple[int, int, int, int, int]) -> np.ndarray:
    """Rows from ``(flags, px, qty, exch_ts, local_ts)``."""
    out = empty_events(len(specs))
    for i, (flags, px, qty, exch, local) in enumerate(specs):
        out[i]["flags"], out[i]["px"], out[i]["qty"] = flags, px, qty
        out[i]["exch_ts"], out[i]["local_ts"] = exch, local
    return out


def make_engine(inst: Instrument):  # type: ignore[no-untyped-def]
    instr = instrument_row(inst)[None, :]
    l3 = new_l3(1, capacity=64)
    ctx = new_context(instr, default_limits(1), book=l3.l2)
    lp = new_loop(1, 1 << 62, l3, request_capacity=1, log_capacity=256)
    return lp, ctx, np.zeros(1)


def test_step_kernels_as_python(syn_instrument: Instrument) -> None:
    lp, ctx, state = make_engine(syn_instrument)
    book = rows_of(
        (K_CLEAR | F_BID | F_ASK, NO_PX, 0, T0, T0 + 5),
        (K_SNAPSHOT | F_BID, 100, 4, T0, T0 + 5),
        (K_SNAPSHOT | F_ASK | F_LAST, 102, 6, T0, T0 + 5),
        (K_DEPTH | F_BID | F_LAST, 101, 2, T0 + 1, T0 + 7),
        (K_TRADE | F_BID | F_LAST, 102, 1, T0 + 2, T0 + 9),
        (K_BBO | F_BID, 101, 2, T0 + 3, T0 + 10),
        (K_BBO | F_ASK | F_LAST, 102, 5, T0 + 3, T0 + 10),
        (K_L3_ADD | F_BID | F_LAST, 99, 3, T0 + 4, T0 + 11),
        (0, 0, 0, T0 + 4, T0 + 11),  # an unknown kind: ignored
    )
    assert step.start.py_func(lp, ctx, state, T0) == 0
    assert step.feed.py_func(lp, ctx, state, book, 0) == 0
    assert ctx.clock[CLK_NOW] == T0 + 11
    assert ctx.trade[0, 2] == 102
    assert ctx.trade[0, 4] == BUY
    assert ctx.bbo[0].tolist() == [101, 2, 102, 5]
    kinds = [step.apply_local_row.py_func(lp, ctx, r, 0, T0) for r in book]
    assert kinds == [0, 0, 1, 1, 2, 0, 1, 1, 0]
    slot = submit(ctx, 0, BUY, 100, 5, TIF_GTC, OT_LIMIT, -1)
    oid = int(ctx.orders[slot]["order_id"])
    ctx.clock[CLK_OUT_N] = 0
    args = (lp, ctx, state)
    assert step.report.py_func(*args, RS_ACK, slot, oid, 0, 0, 0, 0.0, 0, T0, T0 + 20, 0) == 0
    assert ctx.orders[slot]["status"] == ST_OPEN
    assert step.report.py_func(*args, RS_ACK, slot, oid, 0, 0, 0, 0.0, 0, T0, T0 + 21, 0) == -1
    step.report.py_func(*args, RS_FILL, slot, oid, 0, 100, 2, 0.01, 1, T0, T0 + 22, 0)
    assert ctx.position[0] == 2  # LS_FILL_N: the fill was logged
    assert lp.state[11] == 1
    ctx.orders[slot]["req"] = REQ_MODIFY
    step.report.py_func(*args, RS_MODIFIED, slot, oid, 0, 99, 3, 0.0, 0, T0, T0 + 23, 0)
    assert ctx.orders[slot]["px"] == 99
    assert ctx.orders[slot]["leaves"] == 3
    ctx.orders[slot]["req"] = REQ_CANCEL
    step.report.py_func(*args, RS_REQ_REJECTED, slot, oid, REQ_CANCEL, 0, 0, 0.0, 0, T0, T0, -43)
    assert ctx.orders[slot]["reason"] == -43
    assert step.cancel_asset.py_func(lp, ctx, 0, T0 + 30) == 1
    step.report.py_func(*args, RS_DONE, slot, oid, ST_CANCELED, 0, 0, 0.0, 0, T0, T0 + 31, 0)
    assert ctx.orders[slot]["status"] == ST_CANCELED
    ctx.timers[2, 0], ctx.timers[2, 1] = T0 + 40, 10
    step.fire_timer.py_func(lp, ctx, state, 2)
    assert ctx.timers[2, 0] == T0 + 50
    assert ctx.clock[CLK_NOW] == T0 + 40
    ctx.timers[3, 0], ctx.timers[3, 1] = T0 + 45, 0
    step.fire_timer.py_func(lp, ctx, state, 3)
    assert ctx.timers[3, 0] == np.iinfo(np.int64).max  # one-shot: disarmed
    assert step.end.py_func(lp, ctx, state, T0 + 60) == 0


def test_append_rows_matches_the_numpy_reference() -> None:
    rng = np.random.default_rng(4)
    rows = empty_events(500)
    kinds = rng.choice([K_DEPTH, K_TRADE, K_BBO], size=500)
    rows["flags"] = kinds | F_BID
    local = T0 + np.cumsum(rng.integers(0, 1000, 500))
    rows["local_ts"] = local
    rows["exch_ts"] = local - rng.integers(-50, 2000, 500)  # some exch after local
    for fn in (order_sim.append_rows, order_sim.append_rows.py_func):
        buf = empty_events(600)
        te = np.zeros(600, dtype=np.int64)
        cur = np.zeros(4, dtype=np.int64)
        clock = fn(buf, te, cur, rows, 2, T0 - 10, True)
        np.testing.assert_array_equal(te[:500], venue_times(rows, T0 - 10))
        assert clock == te[499]
        assert cur[C_ROWS] == 500
        assert (buf["asset"][:500] == 2).all()
        fn(buf, te, cur, rows[:50], -1, clock, False)  # live feed: receive times
        assert cur[C_ROWS] == 550
        assert (te[500:550] >= clock).all()


def drive(sim: OrderSimulator, limit: int) -> list[tuple[object, int]]:
    """Move the venue to ``limit``, popping each report as it falls due (the runner's loop)."""
    out: list[tuple[object, int]] = []
    while True:
        sim.exchange_until(limit)
        if sim.next_update_ts() > limit:
            return out
        out.append(sim.pop_update())


def make_sim(inst: Instrument, **kw: object) -> OrderSimulator:
    return OrderSimulator(["SYNUSD"], [inst], constant(MS, MS), **kw)  # type: ignore[arg-type]


def order(cid: str, side: int, px: int, qty: int = 5, tif: int = TIF_GTX) -> OrderRequest:
    return OrderRequest(
        symbol="SYNUSD", client_id=cid, side=side, qty_lots=qty, price_ticks=px, tif=tif
    )


def test_simulator_follows_the_replay_venue_rules(syn_instrument: Instrument) -> None:
    sim = make_sim(syn_instrument)
    sim.append_rows(
        rows_of(
            (K_SNAPSHOT | F_BID, 100, 10, T0, T0 + MS),
            (K_SNAPSHOT | F_ASK | F_LAST, 102, 10, T0, T0 + MS),
        ),
        0,
    )
    assert not sim.ready(T0 + MS) or sim.ready(T0 - 1)
    assert sim.post_new(order("a", BUY, 101), T0 + MS).status == ST_PENDING
    assert sim.post_new(order("b", SELL, 100), T0 + MS).status == ST_PENDING  # crosses: GTX
    assert sim.post_new(order("a", BUY, 101), T0 + MS).status == 5  # duplicate live id
    assert sim.post_new(OrderRequest(symbol="X", client_id="c", side=1, qty_lots=1), 0).reason
    assert sim.post_cancel("SYNUSD", "zzz", T0) is not None  # not an order of this venue
    assert sim.query("SYNUSD", "a").status == ST_PENDING  # not at the venue yet
    sim.append_rows(rows_of((K_TRADE | F_ASK | F_LAST, 100, 3, T0 + 5 * MS, T0 + 6 * MS)), 0)
    sim.end_of_feed()
    assert sim.ready(T0 + 10 * MS)
    seen = [
        (u.client_id, u.status, u.last_fill_lots, req)  # type: ignore[attr-defined]
        for u, req in drive(sim, T0 + 10 * MS)
    ]
    # a rests (ack); b is rejected as it would cross; the trade through 101 fills a
    assert seen == [("a", ST_OPEN, 0, 0), ("b", 5, 0, 0), ("a", ST_FILLED, 5, 0)]
    assert sim.position[0] == 5
    assert sim.next_exchange_ts() == order_sim.NO_TIME
    assert sim.post_cancel("SYNUSD", "a", T0 + 11 * MS) is None  # refused at the venue
    ((upd, req),) = drive(sim, T0 + 20 * MS)
    assert (upd.status, upd.reason, req) == (5, "venue_unknown_order", REQ_CANCEL)
    assert sim.open_orders() == []
    assert sim.live_client_ids("SYNUSD") == []


def test_simulator_modify_cancel_and_buffer_growth(syn_instrument: Instrument) -> None:
    sim = make_sim(syn_instrument, lookahead=False)
    book = rows_of(
        (K_SNAPSHOT | F_BID, 100, 10, T0, T0),
        (K_SNAPSHOT | F_ASK | F_LAST, 105, 10, T0, T0),
    )
    sim.append_rows(book, 0)
    sim.post_new(order("m", BUY, 101, tif=TIF_GTC), T0)
    sim.post_modify("SYNUSD", "m", 102, 4, T0 + MS)
    assert sim.post_modify("SYNUSD", "nope", 1, 1, T0) is not None
    reports = []
    for k in range(3000):  # more rows than the buffer holds: it grows and compacts
        t = T0 + 2 * MS + k * 1000
        sim.append_rows(rows_of((K_DEPTH | F_ASK | F_LAST, 106 + k % 3, 5, t, t)), 0)
        reports += drive(sim, t)
    assert sim.cur[C_ROW] == sim.cur[C_ROWS]
    kinds = [(u.status, u.price_ticks, req) for u, req in reports]  # type: ignore[attr-defined]
    assert kinds == [(ST_OPEN, 101, 0), (ST_OPEN, 102, REQ_MODIFY)]
    assert [o.client_id for o in sim.open_orders("SYNUSD")] == ["m"]
    assert sim.query("SYNUSD", "m").qty_lots == 4
    sim.post_cancel("SYNUSD", "m", T0 + 10 * MS)
    ((upd, _),) = drive(sim, order_sim.NO_TIME - 1)
    assert upd.status == ST_CANCELED
    assert sim.live_client_ids("SYNUSD") == []
    assert sim.query("SYNUSD", "gone").status == 5


def test_exchange_until_as_python(
    syn_instrument: Instrument,
    python_kernels: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    python_kernels(replay, backtest_loop, order_sim)  # the venue kernels, as Python
    for name in ("on_request", "touch", "next_response_ts"):
        fn = getattr(order_sim, name)  # (the fixture may have swapped it already)
        monkeypatch.setattr(order_sim, name, getattr(fn, "py_func", fn))
    sim = make_sim(syn_instrument)
    rows = rows_of(
        (K_BBO | F_BID, 99, 1, T0, T0),
        (K_SNAPSHOT | F_BID, 100, 10, T0, T0),
        (K_SNAPSHOT | F_ASK | F_LAST, 102, 10, T0, T0),
        (K_DEPTH | F_BID | F_LAST, 101, 2, T0 + MS, T0 + MS),
        (K_TRADE | F_ASK | F_LAST, 101, 5, T0 + 3 * MS, T0 + 3 * MS),
        (K_DEPTH | F_ASK | F_LAST, 103, 1, T0 + 2 * MS, T0 + 4 * MS),  # stamped earlier
    )
    sim.append_rows(rows, 0)
    sim.post_new(order("p", BUY, 101, tif=TIF_GTC), T0)
    limit = T0 + 9 * MS
    kernel = order_sim.exchange_until
    kernel = getattr(kernel, "py_func", kernel)
    sts = []
    while True:  # the runner's loop, with the kernel as Python
        args = (sim.lp, sim.venue, sim._rows, sim._floor, sim.cur, sim.rq, limit, True)
        assert kernel(*args) == order_sim.OK_DONE
        if sim.next_update_ts() > limit:
            break
        sts.append(sim.pop_update()[0].status)
    assert sts[0] == ST_OPEN  # 5 traded at 101: the 2 ahead, then ours
    assert ST_FILLED in sts
    assert sim.cur[C_ROW] == len(rows)
    # without the end of the feed the venue cannot look past its last row
    sim2 = make_sim(syn_instrument)
    sim2.append_rows(rows[:3], 0)
    sim2.post_new(order("q", BUY, 101, tif=TIF_GTC), T0)
    args = (sim2.lp, sim2.venue, sim2._rows, sim2._floor, sim2.cur, sim2.rq, limit, False)
    assert kernel(*args) == order_sim.NEED_ROWS
    assert not sim2.ready(T0)
    with pytest.raises(RuntimeError, match="needs rows"):
        sim2.exchange_until(limit)

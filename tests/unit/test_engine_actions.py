"""The strategy context contract: queries, actions, risk gating and venue reports."""

from __future__ import annotations

import numpy as np
import pytest

from hftlib.book.l2 import l2_set
from hftlib.engine import actions as A
from hftlib.engine.apply import (
    apply_ack,
    apply_done,
    apply_fill,
    apply_modified,
    apply_request_rejected,
)
from hftlib.engine.context import (
    AC_BALANCE,
    AC_FEES,
    CLK_NOW,
    CLK_OUT_N,
    OP_BUY_LOTS,
    OP_COUNT,
    OP_SELL_LOTS,
    Ctx,
    new_context,
)
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    E_BAD_ASSET,
    E_BAD_PRICE,
    E_BAD_QTY,
    E_BAD_SIDE,
    E_BAD_TIF,
    E_BAD_TIMER,
    E_DUPLICATE_CLIENT_ID,
    E_NOT_OPEN,
    E_OFF_GRID,
    E_ORDER_BUSY,
    E_TOO_MANY_ORDERS,
    E_UNKNOWN_ORDER,
    N_INSTR,
    OK,
    OT_LIMIT,
    OT_MARKET,
    R_KILL_SWITCH,
    R_MAX_POSITION,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    SELL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    TIF_GTC,
    TIF_GTX,
    V_UNKNOWN_ORDER,
)
from hftlib.risk import RiskLimits, default_limits, limits_array, set_kill
from hftlib.types import NO_PX

INSTR = np.array([[0.1, 0.001, 1.0, 0.0002, 0.0005, 0.0]])


def make_ctx(limits: np.ndarray | None = None, max_orders: int = 8) -> Ctx:
    ctx = new_context(INSTR, default_limits(1) if limits is None else limits, max_orders=max_orders)
    l2_set(ctx.book, 0, BID, 1000, 50)
    l2_set(ctx.book, 0, ASK, 1002, 50)
    ctx.clock[CLK_NOW] = 1_000
    return ctx


def test_queries_read_the_local_book() -> None:
    ctx = make_ctx()
    assert A.best_bid(ctx, 0) == 1000
    assert A.best_ask(ctx, 0) == 1002
    assert A.mid_ticks2(ctx, 0) == 2002
    assert A.mid_price(ctx, 0) == pytest.approx(100.1)
    assert A.qty_at(ctx, 0, ASK, 1002) == 50
    assert A.now(ctx) == 1_000
    empty = new_context(INSTR, default_limits(1))
    assert A.mid_ticks2(empty, 0) == NO_PX
    assert A.mid_price(empty, 0) == 0.0


def test_submit_queues_a_request_and_counts_open_size() -> None:
    ctx = make_ctx()
    slot = A.submit(ctx, 0, BUY, 999, 10, TIF_GTX, OT_LIMIT, 42)
    assert slot >= 0
    o = ctx.orders[slot]
    assert (o["status"], o["req"], o["leaves"], o["client_id"]) == (ST_PENDING, REQ_NEW, 10, 42)
    assert o["order_id"] == 1
    assert ctx.clock[CLK_OUT_N] == 1
    assert ctx.open_state[0, OP_COUNT] == 1
    assert ctx.open_state[0, OP_BUY_LOTS] == 10
    assert A.find_client_id(ctx, 42) == slot
    assert ctx.counters[0] == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((1, BUY, 999, 10, TIF_GTC, OT_LIMIT, -1), E_BAD_ASSET),
        ((0, 0, 999, 10, TIF_GTC, OT_LIMIT, -1), E_BAD_SIDE),
        ((0, BUY, 999, 0, TIF_GTC, OT_LIMIT, -1), E_BAD_QTY),
        ((0, BUY, 999, -5, TIF_GTC, OT_LIMIT, -1), E_BAD_QTY),
        ((0, BUY, 0, 10, TIF_GTC, OT_LIMIT, -1), E_BAD_PRICE),
        ((0, BUY, 999, 10, 9, OT_LIMIT, -1), E_BAD_TIF),
        ((0, BUY, 999, 10, TIF_GTC, 5, -1), E_BAD_TIF),
    ],
)
def test_invalid_submits_return_codes_and_are_counted(args: tuple[int, ...], code: int) -> None:
    ctx = make_ctx()
    assert A.submit(ctx, *args) == code
    assert ctx.counters[-code] == 1
    assert ctx.clock[CLK_OUT_N] == 0
    assert ctx.open_state[0, OP_COUNT] == 0


def test_duplicate_client_id_is_refused_while_the_first_is_live() -> None:
    ctx = make_ctx()
    first = A.submit(ctx, 0, BUY, 999, 10, TIF_GTC, OT_LIMIT, 7)
    assert A.submit(ctx, 0, SELL, 1005, 10, TIF_GTC, OT_LIMIT, 7) == E_DUPLICATE_CLIENT_ID
    oid = ctx.orders[first]["order_id"]
    assert apply_done(ctx, first, oid, ST_CANCELED, OK, 5, 6)
    assert A.submit(ctx, 0, SELL, 1005, 10, TIF_GTC, OT_LIMIT, 7) >= 0


def test_submit_price_checks_the_grid() -> None:
    ctx = make_ctx()
    assert A.submit_price(ctx, 0, BUY, 100.05, 0.01, TIF_GTC, OT_LIMIT, -1) == E_OFF_GRID
    assert A.submit_price(ctx, 0, BUY, 100.0, 0.0105, TIF_GTC, OT_LIMIT, -1) == E_OFF_GRID
    assert A.submit_price(ctx, 0, BUY, -1.0, 0.01, TIF_GTC, OT_LIMIT, -1) == E_BAD_PRICE
    slot = A.submit_price(ctx, 0, BUY, 100.0, 0.01, TIF_GTC, OT_LIMIT, -1)
    assert slot >= 0
    assert (ctx.orders[slot]["px"], ctx.orders[slot]["qty"]) == (1000, 10)
    assert ctx.counters[-E_OFF_GRID] == 2


def test_market_orders_carry_no_price() -> None:
    ctx = make_ctx()
    slot = A.submit(ctx, 0, SELL, 12345, 3, TIF_GTC, OT_MARKET, -1)
    assert ctx.orders[slot]["px"] == 0


def test_risk_denials_return_reason_codes() -> None:
    lim = limits_array([RiskLimits(max_position=0.02)], INSTR)
    ctx = make_ctx(lim)
    assert A.submit(ctx, 0, BUY, 999, 15, TIF_GTC, OT_LIMIT, -1) >= 0
    # the worst case counts the open buy: 15 + 10 lots > 20
    assert A.submit(ctx, 0, BUY, 999, 10, TIF_GTC, OT_LIMIT, -1) == R_MAX_POSITION
    assert ctx.risk.denied[-R_MAX_POSITION] == 1
    set_kill(ctx.risk, True)
    assert A.submit(ctx, 0, SELL, 1005, 1, TIF_GTC, OT_LIMIT, -1) == R_KILL_SWITCH
    assert A.cancel(ctx, 0) == OK  # cancels are never denied


def test_order_table_full() -> None:
    ctx = make_ctx(max_orders=2)
    assert A.submit(ctx, 0, BUY, 990, 1, TIF_GTC, OT_LIMIT, -1) >= 0
    assert A.submit(ctx, 0, BUY, 991, 1, TIF_GTC, OT_LIMIT, -1) >= 0
    assert A.submit(ctx, 0, BUY, 992, 1, TIF_GTC, OT_LIMIT, -1) == E_TOO_MANY_ORDERS


def test_cancel_and_modify_rules() -> None:
    ctx = make_ctx()
    assert A.cancel(ctx, 3) == E_UNKNOWN_ORDER
    assert A.cancel(ctx, -1) == E_UNKNOWN_ORDER
    slot = A.submit(ctx, 0, BUY, 999, 10, TIF_GTC, OT_LIMIT, -1)
    oid = ctx.orders[slot]["order_id"]
    assert A.modify(ctx, slot, 998, 10) == E_NOT_OPEN  # not acknowledged yet
    assert apply_ack(ctx, slot, oid, 1_500, 2_000)
    assert ctx.orders[slot]["status"] == ST_OPEN
    assert A.modify(ctx, slot, 998, 0) == E_BAD_QTY
    assert A.modify(ctx, slot, 998, 8) == OK
    assert ctx.orders[slot]["req"] == REQ_MODIFY
    assert A.modify(ctx, slot, 997, 8) == E_ORDER_BUSY
    assert A.cancel(ctx, slot) == E_ORDER_BUSY
    assert apply_modified(ctx, slot, oid, 998, 8, 2_500, 3_000)
    assert ctx.open_state[0, OP_BUY_LOTS] == 8
    assert (ctx.orders[slot]["px"], ctx.orders[slot]["req"]) == (998, REQ_NONE)
    assert A.cancel(ctx, slot) == OK
    assert ctx.orders[slot]["req"] == REQ_CANCEL
    assert apply_request_rejected(ctx, slot, oid, REQ_CANCEL, V_UNKNOWN_ORDER, 3_500, 4_000)
    assert ctx.orders[slot]["req"] == REQ_NONE
    assert apply_done(ctx, slot, oid, ST_CANCELED, OK, 4_500, 5_000)
    assert A.cancel(ctx, slot) == E_NOT_OPEN
    assert ctx.open_state[0, OP_COUNT] == 0
    assert ctx.open_state[0, OP_BUY_LOTS] == 0


def test_cancel_all_skips_busy_and_other_assets() -> None:
    ctx = make_ctx()
    a = A.submit(ctx, 0, BUY, 999, 1, TIF_GTC, OT_LIMIT, -1)
    b = A.submit(ctx, 0, SELL, 1005, 1, TIF_GTC, OT_LIMIT, -1)
    assert A.cancel(ctx, a) == OK
    assert A.cancel_all(ctx, 0) == 1
    assert ctx.orders[b]["req"] == REQ_CANCEL
    assert A.cancel_all(ctx, -1) == 0


def test_fills_move_position_cash_and_fees() -> None:
    ctx = make_ctx()
    slot = A.submit(ctx, 0, BUY, 1000, 10, TIF_GTC, OT_LIMIT, -1)
    oid = ctx.orders[slot]["order_id"]
    # a fill before the ack also acknowledges the order
    assert apply_fill(ctx, slot, oid, 1_200, 1_400, 1000, 4, 0.02)
    assert ctx.orders[slot]["status"] == ST_OPEN
    assert ctx.position[0] == 4
    assert ctx.account[0, AC_BALANCE] == pytest.approx(-100.0 * 0.004 - 0.02)
    assert ctx.account[0, AC_FEES] == pytest.approx(0.02)
    assert apply_fill(ctx, slot, oid, 1_300, 1_500, 1000, 6, 0.0)
    assert ctx.orders[slot]["status"] == ST_FILLED
    assert ctx.open_state[0, OP_COUNT] == 0
    assert ctx.open_state[0, OP_BUY_LOTS] == 0
    assert not apply_fill(ctx, slot, oid, 1_400, 1_600, 1000, 1, 0.0)  # ended
    assert not apply_fill(ctx, slot, oid + 1, 1_400, 1_600, 1000, 1, 0.0)  # not this order
    assert ctx.position[0] == 10


def test_slots_are_reused_only_after_the_order_ended() -> None:
    ctx = make_ctx(max_orders=1)
    slot = A.submit(ctx, 0, SELL, 1003, 2, TIF_GTC, OT_LIMIT, -1)
    oid = ctx.orders[slot]["order_id"]
    assert A.submit(ctx, 0, SELL, 1004, 2, TIF_GTC, OT_LIMIT, -1) == E_TOO_MANY_ORDERS
    assert apply_done(ctx, slot, oid, ST_CANCELED, OK, 1, 2)
    again = A.submit(ctx, 0, SELL, 1004, 2, TIF_GTC, OT_LIMIT, -1)
    assert again == slot
    assert ctx.orders[again]["order_id"] == oid + 1
    assert ctx.open_state[0, OP_SELL_LOTS] == 2


def test_timers() -> None:
    ctx = make_ctx()
    assert A.set_timer(ctx, 0, 5_000, 100) == OK
    assert tuple(ctx.timers[0]) == (5_000, 100)
    assert A.set_timer(ctx, 0, 10, 0) == OK
    assert ctx.timers[0, 0] == 1_000  # never in the past
    assert A.set_timer(ctx, 99, 5_000, 0) == E_BAD_TIMER
    assert A.set_timer(ctx, 0, 5_000, -1) == E_BAD_TIMER
    assert A.set_timer(ctx, 0, -1, 0) == OK
    assert ctx.timers[0, 0] == np.iinfo(np.int64).max


def test_new_context_validates_shapes() -> None:
    with pytest.raises(ValueError, match="instr"):
        new_context(np.zeros((1, N_INSTR - 1)), default_limits(1))
    with pytest.raises(ValueError, match="limits"):
        new_context(INSTR, default_limits(2))
    with pytest.raises(ValueError, match="max_orders"):
        new_context(INSTR, default_limits(1), max_orders=0)


def test_kernels_run_as_plain_python() -> None:
    ctx = make_ctx()
    slot = A.submit.py_func(ctx, 0, BUY, 999, 10, TIF_GTC, OT_LIMIT, 5)
    assert slot >= 0
    oid = ctx.orders[slot]["order_id"]
    assert A.find_client_id.py_func(ctx, 5) == slot
    assert A.cancel_all.py_func(ctx, -1) == 1
    assert apply_ack.py_func(ctx, slot, oid, 1, 2)
    assert apply_fill.py_func(ctx, slot, oid, 1, 2, 999, 10, 0.0)
    assert ctx.position[0] == 10
    assert A.modify.py_func(ctx, slot, 998, 1) == E_NOT_OPEN
    assert A.price_to_ticks.py_func(ctx, 0, 100.0) == 1000
    assert A.size_to_lots.py_func(ctx, 0, 0.0015) == E_OFF_GRID
    assert A.set_timer.py_func(ctx, 1, 2_000, 0) == OK
    assert A.mid_ticks2.py_func(ctx, 0) == 2002

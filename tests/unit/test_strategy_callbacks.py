"""The shipped strategies' decisions, called directly on a hand-built context.

Each test sets a book and a state, calls a callback, and reads what it queued in
``ctx.orders``; venue reports are applied with :mod:`hftlib.engine.apply` as the engine
would. No backtest loop is compiled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hftlib.sim.fees import instrument_row
from hftlib.strategies import arbitrage, grid, market_maker, template
from hftlib.strategies._models import glft_depths

from hftlib.book.l2 import l2_set
from hftlib.engine.apply import apply_ack, apply_done, apply_fill
from hftlib.engine.context import CLK_NOW, Ctx, new_context
from hftlib.engine.strategy import StrategyError, load_strategy
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    OT_LIMIT,
    OT_MARKET,
    REQ_MODIFY,
    SELL,
    ST_EXPIRED,
    ST_OPEN,
    ST_PENDING,
    TIF_GTX,
    TIF_IOC,
)
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.risk import default_limits

BTC_PERP = lookup_instrument("binance-futures", "BTCUSDT")  # tick 0.1, lot 0.001
ETH_SPOT = lookup_instrument("binance", "ETHUSDT")  # tick 0.01, lot 1e-8
ETH_PERP = lookup_instrument("binance-futures", "ETHUSDT")  # tick 0.01, lot 0.001


def make_ctx(instruments: list[Instrument], taker_fee: float | None = None) -> Ctx:
    rows = np.array([instrument_row(i, taker_fee=taker_fee) for i in instruments])
    ctx = new_context(rows, default_limits(len(instruments)), max_orders=32)
    ctx.clock[CLK_NOW] = 1_000_000_000
    return ctx


def set_book(ctx: Ctx, asset: int, bid: int, ask: int, qty: int = 10**9) -> None:
    l2_set(ctx.book, asset, BID, bid, qty)
    l2_set(ctx.book, asset, ASK, ask, qty)


def live(ctx: Ctx) -> np.ndarray:
    """Orders the strategy has sent (pending or open)."""
    return ctx.orders[np.isin(ctx.orders["status"], [ST_PENDING, ST_OPEN])]


def params(module: Any, **over: Any) -> dict[str, Any]:
    return load_strategy(module).check_params(over)


@pytest.mark.parametrize("name", ["market_maker", "grid", "arbitrage", "template"])
def test_shipped_strategies_load_with_their_params(name: str) -> None:
    strat = load_strategy(name)
    assert strat.name == name
    assert strat.params_spec
    for typ, default, help_text in strat.params_spec.values():
        assert isinstance(default, typ)
        assert help_text


# --- market maker -----------------------------------------------------------------------------
def ready_mm(**over: Any) -> tuple[Ctx, tuple[np.ndarray, ...]]:
    """A market maker whose estimates are in place: sigma 20 ticks/sqrt(s), A 2/s, k 0.1."""
    ctx = make_ctx([BTC_PERP])
    set_book(ctx, 0, 600_000, 600_001)
    state = market_maker.make_state(params(market_maker, **over), [BTC_PERP])
    s = state[0][0]
    s["sigma"], s["a"], s["k"], s["fit_ok"] = 20.0, 2.0, 0.1, 1
    s["n_samples"] = s["warmup_n"]
    return ctx, state


def test_market_maker_quotes_the_glft_depths() -> None:
    ctx, state = ready_mm(gamma=0.05, order_qty=0.01)
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    bid_depth, ask_depth = glft_depths(0.05, 20.0, 2.0, 0.1, 0.0, 1.0)
    mid = 600_000.5
    orders = live(ctx)
    assert len(orders) == 2
    bid = orders[orders["side"] == BUY][0]
    ask = orders[orders["side"] == SELL][0]
    assert bid["px"] == math.floor(mid - bid_depth)
    assert ask["px"] == math.ceil(mid + ask_depth)
    assert bid["qty"] == ask["qty"] == 10
    assert bid["tif"] == ask["tif"] == TIF_GTX


def test_market_maker_skews_with_inventory_and_respects_the_limit() -> None:
    ctx, state = ready_mm(gamma=0.05, order_qty=0.01, max_position=0.03)
    ctx.position[0] = 30  # at the limit, long
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    orders = live(ctx)
    assert orders["side"].tolist() == [SELL]  # no bid: it could only add to the position
    _, ask_depth = glft_depths(0.05, 20.0, 2.0, 0.1, 3.0, 1.0)
    assert orders[0]["px"] == max(math.ceil(600_000.5 + ask_depth), 600_001)
    ctx2, state2 = ready_mm(gamma=0.05, order_qty=0.01, max_position=0.03)
    ctx2.position[0] = 25  # room for 5 lots only
    market_maker.on_timer(ctx2, state2, market_maker.T_REQUOTE)
    bid = live(ctx2)[live(ctx2)["side"] == BUY][0]
    assert bid["qty"] == 5


def test_market_maker_waits_for_estimates() -> None:
    ctx, state = ready_mm()
    state[0][0]["fit_ok"] = 0
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    assert len(live(ctx)) == 0


def test_market_maker_modifies_only_when_the_target_moves() -> None:
    ctx, state = ready_mm(min_move_ticks=2)
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    for slot in np.flatnonzero(ctx.orders["status"] == ST_PENDING):
        assert apply_ack(ctx, slot, ctx.orders[slot]["order_id"], 1, 1)
    before = ctx.orders.copy()
    set_book(ctx, 0, 600_001, 600_002)  # the mid moves one tick: below min_move_ticks
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    assert np.array_equal(ctx.orders, before)
    set_book(ctx, 0, 600_010, 600_011)
    market_maker.on_timer(ctx, state, market_maker.T_REQUOTE)
    assert (ctx.orders["req"] == REQ_MODIFY).sum() == 2
    assert state[0][0]["n_modifies"] == 2
    assert state[0][0]["n_submits"] == 2


def test_market_maker_measures_trade_depth_from_the_interval_start() -> None:
    ctx, state = ready_mm(intensity_window_s=1.0, sample_ms=100, max_depth_ticks=4)
    s, ring, counts = state[0][0], state[2], state[3]
    market_maker.on_timer(ctx, state, market_maker.T_SAMPLE)  # reference mid 600000.5
    assert s["ref_mid2"] == 1_200_001
    ctx.trade[0, 2], ctx.trade[0, 4] = 600_002, BUY  # 1.5 ticks above: 3 half ticks
    market_maker.on_trade(ctx, state, 0)
    ctx.trade[0, 2], ctx.trade[0, 4] = 599_999, SELL  # 1.5 ticks below
    market_maker.on_trade(ctx, state, 0)
    ctx.trade[0, 2], ctx.trade[0, 4] = 600_000, SELL  # 0.5 ticks below: not deeper
    market_maker.on_trade(ctx, state, 0)
    set_book(ctx, 0, 600_002, 600_003)  # the mid rose by 2 ticks
    market_maker.on_timer(ctx, state, market_maker.T_SAMPLE)
    assert ring[:, 0].tolist() == [3, 3]
    assert counts.tolist() == [2, 2, 2, 2, 0, 0, 0, 0, 0]
    assert s["n_samples"] == s["warmup_n"] + 1
    assert s["var_w"] > 0.0
    assert s["var"] / s["var_w"] == pytest.approx(4.0)  # (2 ticks)^2


def test_market_maker_rejects_bad_params_all_at_once() -> None:
    p = params(market_maker, gamma=0.0, order_qty=0.0105, requote_ms=0)
    with pytest.raises(StrategyError) as err:
        market_maker.make_state(p, [BTC_PERP])
    text = str(err.value)
    for word in ("gamma", "order_qty", "requote_ms"):
        assert word in text


# --- grid -------------------------------------------------------------------------------------
def test_grid_places_the_nearest_levels_the_limit_allows() -> None:
    ctx = make_ctx([BTC_PERP])
    set_book(ctx, 0, 1000, 1002)
    state = grid.make_state(
        params(grid, levels=3, spacing_ticks=2, order_qty=0.001, max_position=0.002), [BTC_PERP]
    )
    grid.on_timer(ctx, state, grid.T_UPDATE)
    orders = live(ctx)
    assert sorted(orders[orders["side"] == BUY]["px"].tolist()) == [997, 999]
    assert sorted(orders[orders["side"] == SELL]["px"].tolist()) == [1003, 1005]
    assert set(orders["tif"].tolist()) == {TIF_GTX}
    ctx.position[0] = -2  # short at the limit: no sells, and room for four buys (three levels)
    grid.on_timer(ctx, state, grid.T_UPDATE)
    buys = live(ctx)[live(ctx)["side"] == BUY]
    assert sorted(buys["px"].tolist()) == [995, 997, 999]


def test_grid_recenters_when_the_reference_drifts() -> None:
    ctx = make_ctx([BTC_PERP])
    set_book(ctx, 0, 1000, 1002)
    p = params(grid, levels=1, spacing_ticks=4, half_life_s=0.1, update_ms=100)
    state = grid.make_state(p, [BTC_PERP])
    g = state[0][0]
    grid.on_timer(ctx, state, grid.T_UPDATE)
    assert g["centre"] == 1001
    set_book(ctx, 0, 1010, 1012)  # mid 1011: the reference moves half-way each update
    grid.on_timer(ctx, state, grid.T_UPDATE)
    assert g["ref"] == pytest.approx(1006.0)
    assert g["centre"] == 1006  # 5 ticks > one spacing of 4: re-centred
    assert g["n_recenters"] == 1


def test_grid_needs_a_spacing() -> None:
    with pytest.raises(StrategyError, match="spacing_bps"):
        grid.make_state(params(grid, spacing_ticks=0, spacing_bps=0.0), [BTC_PERP])


# --- arbitrage --------------------------------------------------------------------------------
def arb(
    threshold: float = 2.0, taker: float = 0.0001, **over: Any
) -> tuple[Ctx, tuple[np.ndarray, ...]]:
    """Spot ETH bid 2683.00 against a perpetual ask of 2681.60: 5.22 bps gross."""
    ctx = make_ctx([ETH_SPOT, ETH_PERP], taker_fee=taker)
    set_book(ctx, 0, 268_300, 268_301)
    set_book(ctx, 1, 268_150, 268_160, qty=10**6)
    p = params(arbitrage, threshold_bps=threshold, latency_buffer_bps=0.5, **over)
    return ctx, arbitrage.make_state(p, [ETH_SPOT, ETH_PERP])


def test_arbitrage_takes_both_legs_when_the_edge_pays() -> None:
    ctx, state = arb(threshold=2.0)  # net 5.22 - 2 (fees) - 0.5 (buffer) = 2.72 bps
    arbitrage.on_book(ctx, state, 0)
    orders = live(ctx)
    sell = orders[orders["side"] == SELL][0]
    buy = orders[orders["side"] == BUY][0]
    assert (sell["asset"], sell["px"], sell["qty"]) == (0, 268_300, 5_000_000)  # 0.05 ETH
    assert (buy["asset"], buy["px"], buy["qty"]) == (1, 268_160, 50)
    assert sell["tif"] == buy["tif"] == TIF_IOC
    assert (sell["client_id"], buy["client_id"]) == (0, 1)
    a, log = state[0][0], state[2]
    assert (a["n_seen"], a["n_edge"], a["n_taken"]) == (1, 1, 1)
    gross = (2683.00 - 2681.60) / 2682.30 * 1e4
    assert log[0, arbitrage.LOG_GROSS_BPS] == pytest.approx(gross)
    assert log[0, arbitrage.LOG_NET_BPS] == pytest.approx(gross - 2.0 - 0.5, abs=1e-3)


def test_arbitrage_skips_an_edge_below_costs() -> None:
    ctx, state = arb(threshold=3.0)
    arbitrage.on_book(ctx, state, 0)
    a = state[0][0]
    assert len(live(ctx)) == 0
    assert (a["n_seen"], a["n_edge"], a["n_taken"]) == (1, 0, 0)
    ctx, state = arb(threshold=0.0, taker=0.0005)  # 10 bps of fees eat the 5.22 bps
    arbitrage.on_book(ctx, state, 1)
    assert len(live(ctx)) == 0


def test_arbitrage_sizes_to_the_touch_and_the_limits() -> None:
    ctx, state = arb()
    l2_set(ctx.book, 1, ASK, 268_160, 20)  # the perpetual shows 0.02 ETH
    arbitrage.on_book(ctx, state, 1)
    assert sorted(live(ctx)["qty"].tolist()) == [20, 2_000_000]
    ctx, state = arb(max_position=0.5)
    ctx.position[1] = 480  # room for 0.02 ETH more on the perpetual
    ctx.position[0] = -48_000_000
    arbitrage.on_book(ctx, state, 0)
    assert sorted(live(ctx)["qty"].tolist()) == [20, 2_000_000]
    ctx, state = arb(max_position=0.5)
    ctx.position[1] = 500
    ctx.position[0] = -50_000_000
    arbitrage.on_book(ctx, state, 0)
    assert len(live(ctx)) == 0
    assert state[0][0]["n_blocked"] == 1


def test_arbitrage_hedges_a_leg_that_did_not_fill() -> None:
    ctx, state = arb()
    arbitrage.on_book(ctx, state, 0)
    sell_slot, buy_slot = state[1][arbitrage.LEG_SELL, 0], state[1][arbitrage.LEG_BUY, 0]
    sell_id, buy_id = ctx.orders[sell_slot]["order_id"], ctx.orders[buy_slot]["order_id"]
    assert apply_fill(ctx, sell_slot, sell_id, 1, 2, 268_300, 5_000_000, 0.0)
    arbitrage.on_order(ctx, state, sell_slot)
    assert state[0][0]["phase"] == arbitrage.PH_LEGS  # the buy leg has not ended yet
    assert apply_done(ctx, buy_slot, buy_id, ST_EXPIRED, 0, 3, 4)
    arbitrage.on_order(ctx, state, buy_slot)
    hedge = ctx.orders[state[1][arbitrage.LEG_HEDGE, 0]]
    assert (hedge["asset"], hedge["side"], hedge["qty"]) == (1, BUY, 50)
    assert (hedge["otype"], hedge["tif"], hedge["client_id"]) == (OT_MARKET, TIF_IOC, 2)
    assert state[0][0]["phase"] == arbitrage.PH_HEDGE
    assert arbitrage.imbalance(ctx) == pytest.approx(-0.05)
    slot = state[1][arbitrage.LEG_HEDGE, 0]
    assert apply_fill(ctx, slot, hedge["order_id"], 5, 6, 268_170, 50, 0.0)
    arbitrage.on_order(ctx, state, slot)
    assert state[0][0]["phase"] == arbitrage.PH_IDLE
    assert arbitrage.imbalance(ctx) == pytest.approx(0.0)


def test_arbitrage_needs_two_linear_instruments() -> None:
    with pytest.raises(StrategyError, match="two instruments"):
        arbitrage.make_state(params(arbitrage), [ETH_SPOT])
    with pytest.raises(StrategyError, match="multiple of"):
        arbitrage.make_state(params(arbitrage, order_qty=0.0005), [ETH_SPOT, ETH_PERP])


# --- template ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bid", "ask", "want"),
    [(1000, 1003, (1001, 1002)), (1000, 1002, (1000, 1002)), (1000, 1001, (1000, 1001))],
    ids=["wide", "two-ticks", "one-tick"],
)
def test_template_quotes_inside_the_touch(bid: int, ask: int, want: tuple[int, int]) -> None:
    ctx = make_ctx([BTC_PERP])
    set_book(ctx, 0, bid, ask)
    state = template.make_state(params(template, qty=0.01, max_position=0.02), [BTC_PERP])
    template.on_timer(ctx, state, 0)
    orders = live(ctx)
    assert orders[orders["side"] == BUY][0]["px"] == want[0]
    assert orders[orders["side"] == SELL][0]["px"] == want[1]
    assert set(orders["otype"].tolist()) == {OT_LIMIT}

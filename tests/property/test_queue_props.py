"""Properties of the queue models over generated depth/trade sequences at one price.

Precise statements (``ahead`` = queue ahead of the order, lots; sizes are whole lots):

- every model: after a depth step ``ahead <= new_qty``; every fill is ``<= leaves``;
- ``QM_RISK_AVERSE`` and ``QM_L3_FIFO``: ``ahead >= 0`` after every step and a partial fill
  never exceeds the trade that caused it. Probability models may estimate ``ahead < 0``
  on a depth step (hftbacktest does too), so a later small trade can fill more than its size;
- with non-negative queues the probability models advance at least as fast as risk-averse,
  so risk-averse never fills first (checked while the probability queue stays >= 0, where
  the probabilities are in [0, 1]);
- a larger trade never fills less, and a longer queue at arrival never fills earlier.

When hftbacktest is installed, random sequences are also replayed through it and must give
the same fills.
"""

from __future__ import annotations

import numpy as np
import pytest
from hftlib.sim import queue as Q
from hypothesis import given, settings
from hypothesis import strategies as st

PROB_MODELS = [
    (Q.QM_POWER, 3.0),
    (Q.QM_POWER, 1.0),
    (Q.QM_POWER2, 2.0),
    (Q.QM_POWER3, 3.0),
    (Q.QM_LOG, 0.0),
    (Q.QM_LOG2, 0.0),
]
ALL_MODELS = [(Q.QM_RISK_AVERSE, 0.0), (Q.QM_L3_FIFO, 0.0), *PROB_MODELS]

events_st = st.lists(
    st.tuples(st.sampled_from("dt"), st.integers(0, 40)).map(
        lambda e: (e[0], e[1] if e[0] == "d" else max(1, e[1] // 3))
    ),
    min_size=1,
    max_size=30,
)
SETTINGS = settings(max_examples=150, deadline=None)


def drive(model: int, n: float, level: int, lots: int, events, partial: bool, watch=None):  # type: ignore[no-untyped-def]
    """Replay one resting order; return fills as ``(event index, lots, trade size)``."""
    q = np.zeros(Q.QUEUE_STATE_SIZE)
    Q.queue_on_arrival(model, q, float(level))
    leaves = float(lots)
    fills = []
    for i, (kind, value) in enumerate(events):
        if kind == "d":
            Q.queue_on_depth(model, n, q, float(level), float(value))
            level = value
            if watch is not None:
                watch(kind, q[Q.QS_AHEAD], value)
        else:
            f = Q.queue_on_trade(model, q, float(value), leaves, partial)
            if watch is not None:
                watch(kind, q[Q.QS_AHEAD], value)
            if f > 0.0:
                fills.append((i, f, value))
                leaves -= f
                if leaves <= 0.0:
                    break
    return fills


@SETTINGS
@given(level=st.integers(0, 40), lots=st.integers(1, 10), events=events_st, partial=st.booleans())
def test_depth_caps_the_queue_and_fills_cap_at_leaves(level, lots, events, partial) -> None:  # type: ignore[no-untyped-def]
    for model, n in ALL_MODELS:

        def watch(kind: str, ahead: float, value: int) -> None:
            if kind == "d":
                assert ahead <= value

        fills = drive(model, n, level, lots, events, partial, watch)
        assert sum(f for _, f, _ in fills) <= lots
        assert all(f >= 1.0 for _, f, _ in fills)


@SETTINGS
@given(level=st.integers(0, 40), lots=st.integers(1, 10), events=events_st)
def test_conservative_models_never_go_negative_or_overfill(level, lots, events) -> None:  # type: ignore[no-untyped-def]
    for model in (Q.QM_RISK_AVERSE, Q.QM_L3_FIFO):

        def watch(kind: str, ahead: float, value: int) -> None:
            assert ahead >= 0.0 or kind == "t"

        fills = drive(model, 0.0, level, lots, events, True, watch)
        assert all(f <= trade for _, f, trade in fills)


@SETTINGS
@given(level=st.integers(0, 40), events=events_st)
def test_risk_averse_never_fills_first(level, events) -> None:  # type: ignore[no-untyped-def]
    risk = drive(Q.QM_RISK_AVERSE, 0.0, level, 1, events, False)
    for model, n in PROB_MODELS:
        negative = []

        def watch(kind: str, ahead: float, value: int, negative=negative) -> None:
            if ahead < 0.0 and kind == "d":
                negative.append(True)

        prob = drive(model, n, level, 1, events, False, watch)
        if negative:
            continue
        if risk:
            assert prob, (model, n)
            assert prob[0][0] <= risk[0][0], (model, n)


@SETTINGS
@given(
    ahead=st.floats(-5.0, 50.0),
    t1=st.integers(1, 30),
    extra=st.integers(0, 30),
    leaves=st.integers(1, 20),
)
def test_a_larger_trade_never_fills_less(ahead, t1, extra, leaves) -> None:  # type: ignore[no-untyped-def]
    for model, _ in ALL_MODELS:
        a = np.array([ahead, 0.0])
        b = np.array([ahead, 0.0])
        fa = Q.queue_on_trade(model, a, float(t1), float(leaves), True)
        fb = Q.queue_on_trade(model, b, float(t1 + extra), float(leaves), True)
        assert fb >= fa


@SETTINGS
@given(level=st.integers(0, 40), more=st.integers(1, 20), events=events_st)
def test_a_longer_queue_never_fills_earlier(level, more, events) -> None:  # type: ignore[no-untyped-def]
    short = drive(Q.QM_RISK_AVERSE, 0.0, level, 1, events, False)
    long = drive(Q.QM_RISK_AVERSE, 0.0, level + more, 1, events, False)
    if long:
        assert short
        assert short[0][0] <= long[0][0]


# --- cross-check with hftbacktest -------------------------------------------------------------

HBT_NAMES = {
    Q.QM_RISK_AVERSE: "risk_adverse_queue_model",
    Q.QM_POWER: "power_prob_queue_model",
    Q.QM_POWER2: "power_prob_queue_model2",
    Q.QM_POWER3: "power_prob_queue_model3",
    Q.QM_LOG: "log_prob_queue_model",
    Q.QM_LOG2: "log_prob_queue_model2",
}


def hbt_fills(hbt_mod, model, n, level, lots, events, partial):  # type: ignore[no-untyped-def]
    """Run one resting buy at 100 through hftbacktest; return ``(event index, lots)`` fills."""
    dt = hbt_mod.binding.event_dtype
    depth = hbt_mod.DEPTH_EVENT | hbt_mod.EXCH_EVENT | hbt_mod.LOCAL_EVENT
    trade = hbt_mod.TRADE_EVENT | hbt_mod.EXCH_EVENT | hbt_mod.LOCAL_EVENT
    rows = [
        (depth | hbt_mod.BUY_EVENT, 1, 1, 100.0, float(level), 0, 0, 0.0),
        (depth | hbt_mod.SELL_EVENT, 1, 1, 110.0, 5.0, 0, 0, 0.0),
    ]
    for i, (kind, value) in enumerate(events):
        ts = 20 + 10 * i
        ev = depth | hbt_mod.BUY_EVENT if kind == "d" else trade | hbt_mod.SELL_EVENT
        rows.append((ev, ts, ts, 100.0, float(value), 0, 0, 0.0))
    end = 20 + 10 * len(events) + 1000
    rows.append((depth | hbt_mod.SELL_EVENT, end, end, 1000.0, 1.0, 0, 0, 0.0))
    data = np.array(rows, dtype=dt)
    asset = hbt_mod.BacktestAsset().data(data).linear_asset(1.0).constant_order_latency(1, 1)
    method = getattr(asset, HBT_NAMES[model])
    asset = method(n) if model in (Q.QM_POWER, Q.QM_POWER2, Q.QM_POWER3) else method()
    asset = asset.partial_fill_exchange() if partial else asset.no_partial_fill_exchange()
    asset = asset.trading_value_fee_model(0.0, 0.0).tick_size(1.0).lot_size(1.0)
    bt = hbt_mod.HashMapMarketDepthBacktest([asset])
    bt.elapse(0)
    bt.elapse(9)
    bt.submit_buy_order(0, 1, 100.0, float(lots), 0, 0, False)
    fills = []
    leaves = float(lots)
    for i in range(len(events)):
        bt.elapse(20 + 10 * i + 2 - bt.current_timestamp)
        order = bt.orders(0).get(1)
        if order.leaves_qty != leaves:
            fills.append(((order.exch_timestamp - 20) // 10, leaves - order.leaves_qty))
            leaves = order.leaves_qty
            if leaves <= 0.0:
                break
    bt.close()
    del data  # hftbacktest reads the event buffer through a raw pointer until here
    return fills


@settings(max_examples=25, deadline=None)
@given(level=st.integers(0, 30), lots=st.integers(1, 8), events=events_st)
def test_fills_match_hftbacktest(level, lots, events) -> None:  # type: ignore[no-untyped-def]
    hbt_mod = pytest.importorskip("hftbacktest")
    for model, n in [(Q.QM_RISK_AVERSE, 0.0), *PROB_MODELS]:
        for partial in (False, True):
            ours = [(i, f) for i, f, _ in drive(model, n, level, lots, events, partial)]
            theirs = hbt_fills(hbt_mod, model, n, level, lots, events, partial)
            assert ours == theirs, (model, n, partial)

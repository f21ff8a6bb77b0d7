"""Unit tests of hftlib.risk: each rule, the order of the checks, config and state building.

Every kernel test runs twice, on the compiled kernel (``nb``) and on its Python body (``py``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
import pytest

from hftlib import risk
from hftlib.engine.types import (
    BUY,
    E_NO_MARKET,
    N_CODES,
    N_INSTR,
    OK,
    R_KILL_SWITCH,
    R_MAX_OPEN_ORDERS,
    R_MAX_ORDER_NOTIONAL,
    R_MAX_ORDER_QTY,
    R_MAX_POSITION,
    R_ORDER_RATE,
    R_PRICE_BAND,
    SELL,
)
from hftlib.risk import (
    N_RL,
    RATE_CAP_BOUND,
    RL_MAX_OPEN_ORDERS,
    RL_MAX_ORDER_NOTIONAL,
    RL_MAX_ORDER_QTY,
    RL_MAX_ORDER_RATE,
    RL_MAX_POSITION,
    RL_PRICE_BAND,
    RL_RATE_WINDOW_NS,
    RiskConfigError,
    RiskLimits,
)
from hftlib.types import NO_PX

# tick 0.1, lot 0.001, linear: 100_000 ticks = 10_000.0 and 1_000 lots = 1.0 coin
LINEAR = np.array([[0.1, 0.001, 1.0, 0.0, 0.0, 0.0]])
# tick 0.5, one contract of 100 USD, inverse: 100_000 ticks = 50_000.0
INVERSE = np.array([[0.5, 1.0, 100.0, 0.0, 0.0, 1.0]])
MID2 = 200_000  # bid + ask in ticks: a mid of 100_000 ticks

KERNELS = (
    "check_new",
    "check_modify",
    "record_request",
    "deny",
    "set_kill",
    "is_killed",
    "rate_ok",
    "band_code",
    "notional_code",
    "position_code",
)


@pytest.fixture(params=["py", "nb"])
def k(request: pytest.FixtureRequest) -> SimpleNamespace:
    """Return the risk kernels, compiled (``nb``) or as plain Python (``py``)."""
    fns = {name: getattr(risk, name) for name in KERNELS}
    if request.param == "py":
        fns = {name: f.py_func for name, f in fns.items()}
    return SimpleNamespace(**fns)


def _limits(**cols: float) -> np.ndarray:
    """Return one asset's limits with the given columns (names without the ``RL_`` prefix)."""
    out = risk.default_limits(1)
    for name, value in cols.items():
        out[0, getattr(risk, "RL_" + name.upper())] = value
    return out


def _new(k: SimpleNamespace, limits: np.ndarray, state: Any, **kw: Any) -> int:
    """Check a new order; every argument not given is a harmless default."""
    a: dict[str, Any] = {
        "instr": LINEAR,
        "side": BUY,
        "px": 100_000,
        "qty": 1,
        "is_market": False,
        "mid2": MID2,
        "pos": 0,
        "ob": 0,
        "os": 0,
        "n_open": 0,
        "now": 0,
    }
    a.update(kw)
    return int(
        k.check_new(
            limits,
            state,
            a["instr"],
            0,
            a["side"],
            a["px"],
            a["qty"],
            a["is_market"],
            a["mid2"],
            a["pos"],
            a["ob"],
            a["os"],
            a["n_open"],
            a["now"],
        )
    )


def _mod(k: SimpleNamespace, limits: np.ndarray, state: Any, **kw: Any) -> int:
    """Check a modify; every argument not given is a harmless default."""
    a: dict[str, Any] = {
        "instr": LINEAR,
        "side": BUY,
        "px": 100_000,
        "qty": 1,
        "old": 1,
        "mid2": MID2,
        "pos": 0,
        "ob": 1,
        "os": 0,
        "now": 0,
    }
    a.update(kw)
    return int(
        k.check_modify(
            limits,
            state,
            a["instr"],
            0,
            a["side"],
            a["px"],
            a["qty"],
            a["old"],
            a["mid2"],
            a["pos"],
            a["ob"],
            a["os"],
            a["now"],
        )
    )


def _state(limits: np.ndarray, **kw: Any) -> Any:
    return risk.new_risk_state(limits.shape[0], limits, **kw)


# --- the rules one by one ---------------------------------------------------------------------


def test_no_limits_accept_everything(k: SimpleNamespace) -> None:
    lim = risk.default_limits(1)
    st = _state(lim)
    assert _new(k, lim, st, qty=10**12, pos=10**12, n_open=10**6) == OK
    assert _new(k, lim, st, is_market=True, px=NO_PX, mid2=NO_PX) == OK
    assert _new(k, lim, st, mid2=NO_PX) == OK  # no band: no mid needed
    assert _mod(k, lim, st, qty=10**9, mid2=NO_PX) == OK


def test_kill_switch_denies_new_and_modify_and_is_reversible(k: SimpleNamespace) -> None:
    lim = risk.default_limits(1)
    st = _state(lim)
    assert not k.is_killed(st)
    k.set_kill(st, True)
    assert k.is_killed(st)
    assert _new(k, lim, st) == R_KILL_SWITCH
    assert _new(k, lim, st, is_market=True, side=SELL) == R_KILL_SWITCH
    assert _mod(k, lim, st, qty=0) == R_KILL_SWITCH
    k.set_kill(st, False)
    assert not k.is_killed(st)
    assert _new(k, lim, st) == OK
    assert _mod(k, lim, st) == OK


def test_max_order_qty_is_inclusive(k: SimpleNamespace) -> None:
    lim = _limits(max_order_qty=10)
    st = _state(lim)
    assert _new(k, lim, st, qty=10) == OK
    assert _new(k, lim, st, qty=11) == R_MAX_ORDER_QTY
    assert _new(k, lim, st, qty=11, side=SELL, is_market=True) == R_MAX_ORDER_QTY
    assert _mod(k, lim, st, qty=10, old=20) == OK
    assert _mod(k, lim, st, qty=11, old=1) == R_MAX_ORDER_QTY


def test_notional_limit_linear(k: SimpleNamespace) -> None:
    lim = _limits(max_order_notional=10_000.0)  # 1.0 coin at 10_000.0
    st = _state(lim)
    assert _new(k, lim, st, px=100_000, qty=1_000) == OK
    assert _new(k, lim, st, px=100_000, qty=1_001) == R_MAX_ORDER_NOTIONAL
    assert _new(k, lim, st, px=100_001, qty=1_000) == R_MAX_ORDER_NOTIONAL
    assert _mod(k, lim, st, px=100_000, qty=1_000) == OK
    assert _mod(k, lim, st, px=100_010, qty=1_000) == R_MAX_ORDER_NOTIONAL


def test_notional_limit_inverse_is_in_coins(k: SimpleNamespace) -> None:
    lim = _limits(max_order_notional=0.02)  # 10 contracts of 100 USD at 50_000 = 0.02 coin
    st = _state(lim)
    assert _new(k, lim, st, instr=INVERSE, px=100_000, qty=10) == OK
    assert _new(k, lim, st, instr=INVERSE, px=100_000, qty=11) == R_MAX_ORDER_NOTIONAL
    # a lower price makes the same contracts worth more coins
    assert _new(k, lim, st, instr=INVERSE, px=99_000, qty=10) == R_MAX_ORDER_NOTIONAL


def test_market_notional_uses_mid_then_px(k: SimpleNamespace) -> None:
    lim = _limits(max_order_notional=10_000.0)
    st = _state(lim)
    # at the mid (100_000 ticks) one coin fits whatever protection price is given
    assert _new(k, lim, st, is_market=True, px=NO_PX, qty=1_000) == OK
    assert _new(k, lim, st, is_market=True, px=200_000, qty=1_000) == OK
    # the mid is not rounded: 100_000.5 ticks makes one coin just too much
    assert _new(k, lim, st, is_market=True, mid2=MID2 + 1, qty=1_000) == R_MAX_ORDER_NOTIONAL
    # no mid: the given price decides; no mid and no price: no market to value it
    assert _new(k, lim, st, is_market=True, mid2=NO_PX, px=100_000, qty=1_000) == OK
    assert _new(k, lim, st, is_market=True, mid2=NO_PX, px=100_001, qty=1_000) == (
        R_MAX_ORDER_NOTIONAL
    )
    assert _new(k, lim, st, is_market=True, mid2=NO_PX, px=NO_PX) == E_NO_MARKET


def test_position_counts_open_orders_on_the_same_side(k: SimpleNamespace) -> None:
    lim = _limits(max_position=10)
    st = _state(lim)
    assert _new(k, lim, st, side=BUY, pos=3, ob=4, os=100, qty=3) == OK
    assert _new(k, lim, st, side=BUY, pos=3, ob=4, qty=4) == R_MAX_POSITION
    assert _new(k, lim, st, side=SELL, pos=3, os=5, ob=100, qty=8) == OK  # worst case -10
    assert _new(k, lim, st, side=SELL, pos=3, os=5, qty=9) == R_MAX_POSITION
    assert _new(k, lim, st, side=SELL, is_market=True, pos=-10, qty=1) == R_MAX_POSITION


def test_position_reducing_order_passes_when_over_the_limit(k: SimpleNamespace) -> None:
    lim = _limits(max_position=10)
    st = _state(lim)
    assert _new(k, lim, st, side=SELL, pos=15, qty=3) == OK
    assert _new(k, lim, st, side=SELL, pos=15, qty=25) == OK  # ends at -10
    assert _new(k, lim, st, side=SELL, pos=15, qty=26) == R_MAX_POSITION
    assert _new(k, lim, st, side=BUY, pos=15, qty=1) == R_MAX_POSITION


def test_modify_counts_only_added_size_for_position(k: SimpleNamespace) -> None:
    lim = _limits(max_position=10)
    st = _state(lim)
    # open buys of 8 include this order's 5 lots
    assert _mod(k, lim, st, side=BUY, old=5, qty=7, ob=8) == OK
    assert _mod(k, lim, st, side=BUY, old=5, qty=8, ob=8) == R_MAX_POSITION
    assert _mod(k, lim, st, side=SELL, old=5, qty=8, os=8, pos=-2) == R_MAX_POSITION
    # shrinking (or keeping) the size never fails the position rule, even over the limit
    assert _mod(k, lim, st, side=BUY, old=5, qty=4, ob=8, pos=12) == OK
    assert _mod(k, lim, st, side=BUY, old=5, qty=5, ob=8, pos=12) == OK


def test_position_notional_values_the_worst_case_at_the_order_price(k: SimpleNamespace) -> None:
    lim = _limits(max_position_notional=20_000.0)  # two coins at 10_000.0
    st = _state(lim)
    assert _new(k, lim, st, side=BUY, pos=1_000, ob=500, qty=500) == OK  # 2 coins at 10_000
    assert _new(k, lim, st, side=BUY, pos=1_000, ob=500, qty=501) == R_MAX_POSITION
    assert _new(k, lim, st, side=BUY, pos=1_000, ob=500, qty=500, px=100_001) == R_MAX_POSITION
    # a sell worst case is short: its size counts the same way
    assert _new(k, lim, st, side=SELL, pos=-1_500, qty=500) == OK
    assert _new(k, lim, st, side=SELL, pos=-1_500, qty=501) == R_MAX_POSITION
    # reducing the position passes even over the limit
    assert _new(k, lim, st, side=SELL, pos=5_000, qty=1_000) == OK
    # market orders: at the mid, else the protection price, else no market to value them
    assert _new(k, lim, st, is_market=True, pos=1_500, qty=500) == OK
    assert _new(k, lim, st, is_market=True, mid2=MID2 + 2, pos=1_500, qty=500) == R_MAX_POSITION
    assert _new(k, lim, st, is_market=True, mid2=NO_PX, px=NO_PX, pos=1_500) == E_NO_MARKET
    # a modify counts the size it adds, at its new price
    assert _mod(k, lim, st, side=BUY, old=500, qty=1_000, ob=1_500) == OK
    assert _mod(k, lim, st, side=BUY, old=500, qty=1_001, ob=1_500) == R_MAX_POSITION
    assert _mod(k, lim, st, side=BUY, old=500, qty=400, ob=5_000) == OK  # a shrink
    inverse = _limits(max_position_notional=0.02)  # coins: 10 contracts of 100 USD at 50_000
    assert _new(k, inverse, _state(inverse), instr=INVERSE, qty=10) == OK
    assert _new(k, inverse, _state(inverse), instr=INVERSE, qty=11) == R_MAX_POSITION


def test_max_open_orders_applies_to_new_orders_only(k: SimpleNamespace) -> None:
    lim = _limits(max_open_orders=2)
    st = _state(lim)
    assert _new(k, lim, st, n_open=1) == OK
    assert _new(k, lim, st, n_open=2) == R_MAX_OPEN_ORDERS
    assert _mod(k, lim, st) == OK
    zero = _limits(max_open_orders=0)
    assert _new(k, zero, _state(zero), n_open=0) == R_MAX_OPEN_ORDERS


def test_price_band_around_the_unrounded_mid(k: SimpleNamespace) -> None:
    lim = _limits(price_band=0.05)
    st = _state(lim)
    for px, want in ((105, OK), (106, R_PRICE_BAND), (95, OK), (94, R_PRICE_BAND)):
        assert _new(k, lim, st, px=px, mid2=200) == want
        assert _mod(k, lim, st, px=px, mid2=200) == want
    # mid 100.5: the band is +-5.025 ticks
    assert _new(k, lim, st, px=105, mid2=201) == OK
    assert _new(k, lim, st, px=106, mid2=201) == R_PRICE_BAND
    assert _new(k, lim, st, px=95, mid2=201) == R_PRICE_BAND


def test_price_band_skips_market_orders_and_needs_a_mid(k: SimpleNamespace) -> None:
    lim = _limits(price_band=0.01)
    st = _state(lim)
    assert _new(k, lim, st, is_market=True, px=NO_PX, mid2=200) == OK
    assert _new(k, lim, st, is_market=True, px=NO_PX, mid2=NO_PX) == OK
    assert _new(k, lim, st, px=100, mid2=NO_PX) == E_NO_MARKET
    assert _mod(k, lim, st, px=100, mid2=NO_PX) == E_NO_MARKET


def test_rate_limit_sliding_window(k: SimpleNamespace) -> None:
    lim = _limits(max_order_rate=3, rate_window_ns=1_000)
    st = _state(lim)
    verdicts = []
    for now in (0, 1, 2, 3, 999, 1_000, 1_000, 1_001, 1_002, 1_003):
        code = _new(k, lim, st, now=now)
        if code == OK:
            k.record_request(st, 0, now)
        verdicts.append((now, code))
    assert verdicts == [
        (0, OK),
        (1, OK),
        (2, OK),
        (3, R_ORDER_RATE),
        (999, R_ORDER_RATE),
        (1_000, OK),  # t=0 left the window (0, 1000]
        (1_000, R_ORDER_RATE),
        (1_001, OK),
        (1_002, OK),
        (1_003, R_ORDER_RATE),
    ]
    assert _mod(k, lim, st, now=1_003) == R_ORDER_RATE
    assert _mod(k, lim, st, now=2_001) == OK


def test_rate_limit_is_per_asset(k: SimpleNamespace) -> None:
    lim = risk.default_limits(2)
    lim[:, RL_MAX_ORDER_RATE] = 1
    st = _state(lim)
    k.record_request(st, 0, 5)
    assert not k.rate_ok(lim, st, 0, 6)
    assert k.rate_ok(lim, st, 1, 6)


def test_rate_zero_denies_every_request(k: SimpleNamespace) -> None:
    lim = _limits(max_order_rate=0)
    st = _state(lim)
    assert _new(k, lim, st, now=10**18) == R_ORDER_RATE
    assert _mod(k, lim, st) == R_ORDER_RATE


def test_rate_buffer_smaller_than_the_limit_is_stricter(k: SimpleNamespace) -> None:
    lim = _limits(max_order_rate=5, rate_window_ns=100)
    st = _state(lim, rate_capacity=2)
    for now in (0, 1):
        assert k.rate_ok(lim, st, 0, now)
        k.record_request(st, 0, now)
    assert not k.rate_ok(lim, st, 0, 2)
    assert k.rate_ok(lim, st, 0, 100)
    k.record_request(st, 0, 100)  # overwrites the oldest slot of the full buffer
    assert st.rate_head[0] == 1
    assert st.rate_n[0] == 2
    assert not k.rate_ok(lim, st, 0, 100)
    assert k.rate_ok(lim, st, 0, 101)


def test_ring_buffer_wraps_around(k: SimpleNamespace) -> None:
    lim = _limits(max_order_rate=2, rate_window_ns=10)
    st = _state(lim)
    for i in range(7):
        assert k.rate_ok(lim, st, 0, 10 * i)
        k.record_request(st, 0, 10 * i)
        k.record_request(st, 0, 10 * i + 1)
        assert not k.rate_ok(lim, st, 0, 10 * i + 9)
    assert st.rate_n[0] == 2
    assert sorted(st.rate_ts[0].tolist()) == [60, 61]


# --- precedence ---------------------------------------------------------------------------------


def _all_limits() -> np.ndarray:
    return _limits(
        max_order_qty=5,
        max_order_notional=1.0,
        max_position=5,
        max_open_orders=1,
        max_order_rate=1,
        rate_window_ns=1_000,
        price_band=0.01,
    )


def test_precedence_of_new_order_checks(k: SimpleNamespace) -> None:
    lim = _all_limits()
    st = _state(lim)
    k.record_request(st, 0, 0)
    k.set_kill(st, True)
    bad = {"px": 150_000, "qty": 10, "pos": 5, "n_open": 3, "now": 1}
    want = [
        R_KILL_SWITCH,
        R_MAX_ORDER_QTY,
        R_MAX_ORDER_NOTIONAL,
        R_MAX_POSITION,
        R_MAX_OPEN_ORDERS,
        R_PRICE_BAND,
        R_ORDER_RATE,
        OK,
    ]
    got = [_new(k, lim, st, **bad)]
    k.set_kill(st, False)
    for col in (
        RL_MAX_ORDER_QTY,
        RL_MAX_ORDER_NOTIONAL,
        RL_MAX_POSITION,
        RL_MAX_OPEN_ORDERS,
        RL_PRICE_BAND,
        RL_MAX_ORDER_RATE,
    ):
        got.append(_new(k, lim, st, **bad))
        lim[0, col] = np.inf  # lift the rule that just denied
    got.append(_new(k, lim, st, **bad))
    assert got == want


def test_precedence_of_modify_checks(k: SimpleNamespace) -> None:
    lim = _all_limits()
    st = _state(lim)
    k.record_request(st, 0, 0)
    k.set_kill(st, True)
    bad = {"px": 150_000, "qty": 10, "old": 1, "ob": 1, "pos": 5, "now": 1}
    got = [_mod(k, lim, st, **bad)]
    k.set_kill(st, False)
    for col in (RL_MAX_ORDER_QTY, RL_MAX_ORDER_NOTIONAL, RL_MAX_POSITION, RL_PRICE_BAND):
        got.append(_mod(k, lim, st, **bad))
        lim[0, col] = np.inf
    got.append(_mod(k, lim, st, **bad))
    lim[0, RL_MAX_ORDER_RATE] = np.inf
    got.append(_mod(k, lim, st, **bad))
    assert got == [
        R_KILL_SWITCH,
        R_MAX_ORDER_QTY,
        R_MAX_ORDER_NOTIONAL,
        R_MAX_POSITION,
        R_PRICE_BAND,
        R_ORDER_RATE,
        OK,
    ]


# --- state side effects --------------------------------------------------------------------------


def test_checks_never_change_the_state(k: SimpleNamespace) -> None:
    lim = _all_limits()
    st = _state(lim)
    k.record_request(st, 0, 0)
    before = [a.copy() for a in st]
    for kw in ({}, {"qty": 10}, {"n_open": 5}, {"px": 1}, {"now": 5_000}):
        _new(k, lim, st, **kw)
        _mod(k, lim, st, **kw)
    for a, b in zip(st, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_deny_counts_by_code_and_returns_it(k: SimpleNamespace) -> None:
    st = _state(risk.default_limits(1))
    assert k.deny(st, R_ORDER_RATE) == R_ORDER_RATE
    assert k.deny(st, R_ORDER_RATE) == R_ORDER_RATE
    assert k.deny(st, E_NO_MARKET) == E_NO_MARKET
    assert k.deny(st, OK) == OK  # nothing to count
    assert k.deny(st, -N_CODES) == -N_CODES  # out of range: returned, not counted
    assert st.denied[-R_ORDER_RATE] == 2
    assert st.denied[-E_NO_MARKET] == 1
    assert st.denied.sum() == 3
    assert risk.denial_counts(st) == {"risk_order_rate": 2, "no_market": 1}


def test_helper_kernels_directly(k: SimpleNamespace) -> None:
    lim = _limits(max_order_notional=10_000.0, price_band=0.05)
    assert k.notional_code(lim, LINEAR, 0, 100_000, 1_000, False, NO_PX) == OK
    assert k.notional_code(lim, LINEAR, 0, NO_PX, 1_000, True, NO_PX) == E_NO_MARKET
    assert k.band_code(lim, 0, 105, 200, False) == OK
    assert k.band_code(lim, 0, 106, 200, False) == R_PRICE_BAND
    assert k.band_code(lim, 0, 106, 200, True) == OK  # market orders have no band
    assert k.band_code(lim, 0, 100, NO_PX, False) == E_NO_MARKET
    free = risk.default_limits(1)
    assert k.notional_code(free, LINEAR, 0, NO_PX, 1, True, NO_PX) == OK
    assert k.band_code(free, 0, 10**9, NO_PX, False) == OK
    assert k.rate_ok(free, _state(free), 0, 0)


# --- configuration --------------------------------------------------------------------------------


def test_risk_limits_defaults_are_no_limits() -> None:
    lim = RiskLimits()
    assert lim.max_order_qty == math.inf
    assert lim.max_order_rate == math.inf
    assert lim.rate_window_s == 1.0
    assert lim.price_band == math.inf


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("max_order_qty", -1.0, ">= 0"),
        ("max_position", math.nan, ">= 0"),
        ("max_order_notional", True, "must be a number"),
        ("max_open_orders", 2.5, "whole number"),
        ("max_order_rate", 1.5, "whole number"),
        ("max_order_rate", RATE_CAP_BOUND + 1, "bound"),
        ("rate_window_s", 0.0, "rate_window_s"),
        ("rate_window_s", math.inf, "rate_window_s"),
        ("price_band", 0.0, "price_band"),
        ("price_band", 1.5, "price_band"),
    ],
)
def test_risk_limits_validation(field: str, value: Any, match: str) -> None:
    with pytest.raises(RiskConfigError, match=match):
        RiskLimits(**{field: value})


def test_risk_limits_accepts_edges() -> None:
    RiskLimits(price_band=1.0, max_order_rate=RATE_CAP_BOUND, max_open_orders=0, max_position=0)


def test_from_dict_names_every_unknown_key() -> None:
    with pytest.raises(RiskConfigError, match=r"max_pos, zzz.*known keys: max_order_qty"):
        RiskLimits.from_dict({"max_pos": 1, "zzz": 2, "price_band": 0.1})


def test_from_dict_type_and_range_errors() -> None:
    with pytest.raises(RiskConfigError, match="invalid risk limits"):
        RiskLimits.from_dict({"max_position": "ten"})
    with pytest.raises(RiskConfigError, match="invalid risk limits.*price_band"):
        RiskLimits.from_dict({"price_band": 2})
    with pytest.raises(RiskConfigError, match="mapping"):
        RiskLimits.from_dict([("max_position", 1)])  # type: ignore[arg-type]


def test_from_dict_none_means_no_limit_and_json_round_trip() -> None:
    lim = RiskLimits.from_dict({"max_position": None, "max_order_qty": 2, "price_band": 0.05})
    assert lim.max_position == math.inf
    assert lim.max_order_qty == 2.0
    text = msgspec.json.encode(lim.to_dict())
    assert RiskLimits.from_dict(msgspec.json.decode(text)) == lim
    assert msgspec.json.decode(text)["max_position"] is None


def test_limits_array_converts_base_units_to_lots() -> None:
    rows = np.vstack([LINEAR, INVERSE])
    arr = risk.limits_array(
        [
            RiskLimits(
                max_order_qty=0.3,
                max_position=0.0015,
                max_order_notional=5e4,
                max_position_notional=7e4,
            ),
            RiskLimits(max_position=1_000.0, max_order_qty=250.0, rate_window_s=0.5),
        ],
        rows,
    )
    assert arr.shape == (2, N_RL)
    assert arr[0, RL_MAX_ORDER_QTY] == 300  # 0.3 / 0.001, despite float division
    assert arr[0, RL_MAX_POSITION] == 1  # 1.5 lots rounds down
    assert arr[0, RL_MAX_ORDER_NOTIONAL] == 5e4
    assert arr[0, risk.RL_MAX_POSITION_NOTIONAL] == 7e4
    assert arr[0, RL_RATE_WINDOW_NS] == 1e9
    assert arr[1, RL_MAX_POSITION] == 10  # 1000 USD face = 10 contracts of 100 USD
    assert arr[1, RL_MAX_ORDER_QTY] == 2  # 2.5 contracts round down
    assert arr[1, RL_RATE_WINDOW_NS] == 5e8
    assert np.isinf(arr[1, [RL_MAX_ORDER_NOTIONAL, RL_MAX_OPEN_ORDERS, RL_PRICE_BAND]]).all()


def test_limits_array_rejects_mismatches() -> None:
    with pytest.raises(RiskConfigError, match="one per asset"):
        risk.limits_array([RiskLimits()], np.vstack([LINEAR, LINEAR]))
    with pytest.raises(RiskConfigError, match=f"\\(n_assets, {N_INSTR}\\)"):
        risk.limits_array([RiskLimits()], np.zeros(N_INSTR))
    with pytest.raises(RiskConfigError, match="expected RiskLimits"):
        risk.limits_array([{"max_position": 1}], LINEAR)  # type: ignore[list-item]
    with pytest.raises(RiskConfigError, match="lot size"):
        risk.limits_array([RiskLimits()], np.zeros((1, N_INSTR)))


def test_new_risk_state_shapes_and_capacity() -> None:
    lim = risk.default_limits(3)
    lim[1, RL_MAX_ORDER_RATE] = 7
    lim[2, RL_MAX_ORDER_RATE] = 4
    st = risk.new_risk_state(3, lim)
    assert st.rate_ts.shape == (3, 7)
    assert st.rate_head.shape == st.rate_n.shape == (3,)
    assert st.denied.shape == (N_CODES,)
    assert st.flags.shape == (risk.N_FLAGS,)
    assert all(a.dtype == np.int64 for a in st)
    assert not st.flags.any()
    assert risk.new_risk_state(3, risk.default_limits(3)).rate_ts.shape == (3, 1)
    assert risk.new_risk_state(3, lim, rate_capacity=100).rate_ts.shape == (3, 100)


@pytest.mark.parametrize(
    ("col", "value", "match"),
    [
        (RL_MAX_POSITION, np.nan, "NaN"),
        (RL_MAX_ORDER_QTY, -1.0, "NaN"),
        (RL_RATE_WINDOW_NS, 0.0, "1 ns"),
        (RL_MAX_ORDER_RATE, RATE_CAP_BOUND + 1.0, "rate limits"),
    ],
)
def test_new_risk_state_rejects_bad_limits(col: int, value: float, match: str) -> None:
    lim = risk.default_limits(1)
    lim[0, col] = value
    with pytest.raises(RiskConfigError, match=match):
        risk.new_risk_state(1, lim)


def test_new_risk_state_rejects_bad_shapes_and_capacity() -> None:
    with pytest.raises(RiskConfigError, match="shape|must be"):
        risk.new_risk_state(2, risk.default_limits(1))
    with pytest.raises(RiskConfigError, match="float64"):
        risk.new_risk_state(1, risk.default_limits(1).astype(np.float32))
    with pytest.raises(RiskConfigError, match="rate_capacity"):
        risk.new_risk_state(1, risk.default_limits(1), rate_capacity=0)
    with pytest.raises(RiskConfigError, match="rate_capacity"):
        risk.new_risk_state(1, risk.default_limits(1), rate_capacity=RATE_CAP_BOUND + 1)

"""Property tests of hftlib.risk against a plain-Python model of the rules.

Each property runs on the compiled kernels (``nb``) and on their Python bodies (``py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from hftlib import risk
from hftlib.engine.types import (
    BUY,
    E_NO_MARKET,
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
    RL_MAX_OPEN_ORDERS,
    RL_MAX_ORDER_NOTIONAL,
    RL_MAX_ORDER_QTY,
    RL_MAX_ORDER_RATE,
    RL_MAX_POSITION,
    RL_PRICE_BAND,
    RL_RATE_WINDOW_NS,
)
from hftlib.types import NO_PX

# tick 0.5 and lot 2.0: every notional below is exact in float, so the model needs no slack
INSTR = np.array([[0.5, 2.0, 1.0, 0.0, 0.0, 0.0], [0.5, 2.0, 1.0, 0.0, 0.0, 0.0]])
N_ASSETS = 2
SETTINGS = settings(max_examples=100, deadline=None)

INF = math.inf


def _or_inf(hi: int, step: int = 1) -> st.SearchStrategy[float]:
    """Draw no limit or a limit in ``0, step, ..., hi * step``."""
    return st.one_of(st.just(INF), st.integers(0, hi).map(lambda x: float(x * step)))


BAND = st.sampled_from([0.01, 0.05, 0.1, 0.3, 0.5, 1.0, INF])
# one mid in five is missing
MID2 = st.tuples(st.integers(0, 4), st.integers(180, 220)).map(lambda t: t[1] if t[0] else NO_PX)
SIDE = st.sampled_from([BUY, SELL])


def _kernels(variant: str) -> SimpleNamespace:
    names = ("check_new", "check_modify", "record_request", "deny", "set_kill", "is_killed")
    pick: Callable[[Any], Any] = (lambda f: f.py_func) if variant == "py" else (lambda f: f)
    return SimpleNamespace(**{n: pick(getattr(risk, n)) for n in names})


VARIANTS = pytest.mark.parametrize("variant", ["py", "nb"])


@st.composite
def limit_rows(draw: st.DrawFn) -> np.ndarray:
    out = risk.default_limits(N_ASSETS)
    for a in range(N_ASSETS):
        # ranges chosen so that each rule both passes and fails often
        out[a, RL_MAX_ORDER_QTY] = draw(_or_inf(15))
        out[a, RL_MAX_ORDER_NOTIONAL] = draw(_or_inf(20, step=100))
        out[a, RL_MAX_POSITION] = draw(_or_inf(25))
        out[a, RL_MAX_OPEN_ORDERS] = draw(_or_inf(6))
        out[a, RL_MAX_ORDER_RATE] = draw(_or_inf(5))
        out[a, RL_RATE_WINDOW_NS] = draw(st.integers(1, 50))
        out[a, RL_PRICE_BAND] = draw(BAND)
    return out


REQUEST = st.fixed_dictionaries(
    {
        "modify": st.booleans(),
        "asset": st.integers(0, N_ASSETS - 1),
        "side": SIDE,
        "px": st.integers(90, 110),
        "qty": st.integers(1, 10),
        "old": st.integers(1, 10),
        "market": st.booleans(),
        "market_px": st.one_of(st.just(NO_PX), st.integers(90, 110)),
        "mid2": MID2,
        "pos": st.integers(-15, 15),
        "ob": st.integers(0, 10),
        "os": st.integers(0, 10),
        "n_open": st.integers(0, 5),
        "dt": st.integers(0, 8),
        "toggle_kill": st.integers(0, 19).map(lambda x: x == 0),
    }
)


def model_verdict(
    lim: np.ndarray, killed: bool, accepted: list[int], now: int, r: dict[str, Any]
) -> int:
    """Return the code the rules in hftlib.risk's docstring give, computed independently."""
    row = lim[r["asset"]]
    modify, market = r["modify"], r["market"] and not r["modify"]
    px = r["market_px"] if market else r["px"]
    if killed:
        return R_KILL_SWITCH
    if r["qty"] > row[RL_MAX_ORDER_QTY]:
        return R_MAX_ORDER_QTY
    if row[RL_MAX_ORDER_NOTIONAL] < INF:
        ref = px
        if market and r["mid2"] != NO_PX:
            ref = Fraction(r["mid2"], 2)
        if ref == NO_PX:
            return E_NO_MARKET
        if Fraction(ref) * Fraction(1, 2) * r["qty"] * 2 > row[RL_MAX_ORDER_NOTIONAL]:
            return R_MAX_ORDER_NOTIONAL
    same = r["ob"] if r["side"] == BUY else r["os"]
    added = r["qty"] - r["old"] if modify else r["qty"]
    if added > 0 and r["side"] * r["pos"] + same + added > row[RL_MAX_POSITION]:
        return R_MAX_POSITION
    if not modify and r["n_open"] >= row[RL_MAX_OPEN_ORDERS]:
        return R_MAX_OPEN_ORDERS
    if not market and row[RL_PRICE_BAND] < INF:
        if r["mid2"] == NO_PX:
            return E_NO_MARKET
        # the band as written (0.3 means 3/10, not the float just below it)
        if abs(2 * px - r["mid2"]) > Fraction(repr(float(row[RL_PRICE_BAND]))) * r["mid2"]:
            return R_PRICE_BAND
    window = row[RL_RATE_WINDOW_NS]
    if sum(1 for t in accepted if now - window < t <= now) >= row[RL_MAX_ORDER_RATE]:
        return R_ORDER_RATE
    return OK


def _call(k: SimpleNamespace, lim: np.ndarray, state: Any, now: int, r: dict[str, Any]) -> int:
    a = r["asset"]
    if r["modify"]:
        return int(
            k.check_modify(
                lim,
                state,
                INSTR,
                a,
                r["side"],
                r["px"],
                r["qty"],
                r["old"],
                r["mid2"],
                r["pos"],
                r["ob"],
                r["os"],
                now,
            )
        )
    px = r["market_px"] if r["market"] else r["px"]
    return int(
        k.check_new(
            lim,
            state,
            INSTR,
            a,
            r["side"],
            px,
            r["qty"],
            r["market"],
            r["mid2"],
            r["pos"],
            r["ob"],
            r["os"],
            r["n_open"],
            now,
        )
    )


def _snapshot(state: Any) -> Any:
    return risk.RiskState(*(a.copy() for a in state))


@VARIANTS
@SETTINGS
@given(lim=limit_rows(), requests=st.lists(REQUEST, max_size=40))
def test_kernels_match_the_model_and_denials_leave_no_trace(
    variant: str, lim: np.ndarray, requests: list[dict[str, Any]]
) -> None:
    k = _kernels(variant)
    state = risk.new_risk_state(N_ASSETS, lim)
    accepted: list[list[int]] = [[] for _ in range(N_ASSETS)]
    denied = np.zeros_like(state.denied)
    now = 0
    for r in requests:
        if r["toggle_kill"]:
            k.set_kill(state, not k.is_killed(state))
        now += r["dt"]
        killed = bool(k.is_killed(state))
        before = _snapshot(state)
        code = _call(k, lim, state, now, r)
        for got, want in zip(state, before, strict=True):  # checking writes nothing
            np.testing.assert_array_equal(got, want)
        assert code == model_verdict(lim, killed, accepted[r["asset"]], now, r)
        if code == OK:
            k.record_request(state, r["asset"], now)
            accepted[r["asset"]].append(now)
        else:
            assert k.deny(state, code) == code
            denied[-code] += 1
            # a denied request never changes the rate state
            for name in ("rate_ts", "rate_head", "rate_n"):
                np.testing.assert_array_equal(getattr(state, name), getattr(before, name))
        np.testing.assert_array_equal(state.denied, denied)


@VARIANTS
@SETTINGS
@given(
    rate=st.integers(1, 6),
    window=st.integers(1, 40),
    gaps=st.lists(st.integers(0, 15), min_size=1, max_size=80),
)
def test_rate_limit_allows_exactly_max_rate_per_window(
    variant: str, rate: int, window: int, gaps: list[int]
) -> None:
    k = _kernels(variant)
    lim = risk.default_limits(N_ASSETS)
    lim[0, RL_MAX_ORDER_RATE] = rate
    lim[0, RL_RATE_WINDOW_NS] = window
    state = risk.new_risk_state(N_ASSETS, lim)
    r = {"modify": False, "asset": 0, "side": BUY, "px": 100, "qty": 1, "market": False}
    r |= {"mid2": NO_PX, "pos": 0, "ob": 0, "os": 0, "n_open": 0, "market_px": NO_PX}
    accepted: list[int] = []
    now = 0
    for gap in gaps:
        now += gap
        in_window = sum(1 for t in accepted if now - window < t <= now)
        code = _call(k, lim, state, now, r)
        # accepted exactly when the window ending now has room: never more, never fewer
        assert (code == OK) == (in_window < rate)
        if code == OK:
            k.record_request(state, 0, now)
            accepted.append(now)
    for t in accepted:
        assert sum(1 for u in accepted if t - window < u <= t) <= rate


@VARIANTS
@settings(max_examples=50, deadline=None)  # the model test above also toggles the switch
@given(lim=limit_rows(), requests=st.lists(REQUEST, max_size=40))
def test_kill_switch_denies_everything_and_is_reversible(
    variant: str, lim: np.ndarray, requests: list[dict[str, Any]]
) -> None:
    k = _kernels(variant)
    toggled = risk.new_risk_state(N_ASSETS, lim)  # sees the kill switch
    plain = risk.new_risk_state(N_ASSETS, lim)  # sees only the requests made while it was off
    now = 0
    for r in requests:
        if r["toggle_kill"]:
            k.set_kill(toggled, not k.is_killed(toggled))
        now += r["dt"]
        code = _call(k, lim, toggled, now, r)
        if k.is_killed(toggled):
            assert code == R_KILL_SWITCH
            continue
        assert code == _call(k, lim, plain, now, r)
        if code == OK:
            k.record_request(toggled, r["asset"], now)
            k.record_request(plain, r["asset"], now)
    k.set_kill(toggled, False)
    for name in ("rate_ts", "rate_head", "rate_n"):
        np.testing.assert_array_equal(getattr(toggled, name), getattr(plain, name))


def _position_machine(variant: str, max_position: int) -> type[RuleBasedStateMachine]:
    k = _kernels(variant)
    lim = risk.default_limits(1)
    lim[0, RL_MAX_POSITION] = max_position
    instr = INSTR[:1]

    class PositionMachine(RuleBasedStateMachine):
        """Submit, modify, fill and cancel orders; only accepted requests reach the book."""

        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            self.state = risk.new_risk_state(1, lim)
            self.position = 0
            self.leaves: dict[int, tuple[int, int]] = {}  # order id -> (side, open lots)
            self.next_id = 0

        def _open(self, side: int) -> int:
            return sum(q for s, q in self.leaves.values() if s == side)

        @rule(target=orders, side=SIDE, qty=st.integers(1, 8), market=st.booleans())
        def submit(self, side: int, qty: int, market: bool) -> int:
            code = k.check_new(
                lim,
                self.state,
                instr,
                0,
                side,
                100,
                qty,
                market,
                200,
                self.position,
                self._open(BUY),
                self._open(SELL),
                len(self.leaves),
                0,
            )
            self.next_id += 1
            if code == OK:
                self.leaves[self.next_id] = (side, qty)
            else:
                assert code == R_MAX_POSITION
            return self.next_id

        @rule(oid=orders, qty=st.integers(1, 8))
        def modify(self, oid: int, qty: int) -> None:
            if oid not in self.leaves:
                return
            side, old = self.leaves[oid]
            code = k.check_modify(
                lim,
                self.state,
                instr,
                0,
                side,
                100,
                qty,
                old,
                200,
                self.position,
                self._open(BUY),
                self._open(SELL),
                0,
            )
            if code == OK:
                self.leaves[oid] = (side, qty)
            else:
                assert code == R_MAX_POSITION
                assert qty > old

        @rule(oid=orders, part=st.integers(1, 8))
        def fill(self, oid: int, part: int) -> None:
            if oid not in self.leaves:
                return
            side, left = self.leaves[oid]
            done = min(part, left)
            self.position += side * done
            if done == left:
                del self.leaves[oid]
            else:
                self.leaves[oid] = (side, left - done)

        @rule(oid=consumes(orders))
        def cancel(self, oid: int) -> None:
            self.leaves.pop(oid, None)

        @invariant()
        def worst_case_within_limit(self) -> None:
            assert self.position + self._open(BUY) <= max_position
            assert self.position - self._open(SELL) >= -max_position

    return PositionMachine


@VARIANTS
@pytest.mark.parametrize("max_position", [0, 7])
def test_accepted_orders_keep_the_worst_case_position_within_the_limit(
    variant: str, max_position: int
) -> None:
    run_state_machine_as_test(
        _position_machine(variant, max_position),
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None),
    )

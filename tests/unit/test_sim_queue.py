"""Queue-position models: spec parsing, formulas, and sequences recorded from hftbacktest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hftlib.sim import queue as Q

KERNELS = ("queue_on_arrival", "queue_on_depth", "queue_on_trade", "queue_prob", "fifo_on_change")


@pytest.fixture(params=["py", "nb"])
def k(request: pytest.FixtureRequest) -> dict:
    """The queue kernels, compiled (``nb``) or as plain Python (``py``)."""
    fns = {name: getattr(Q, name) for name in KERNELS}
    if request.param == "py":
        fns = {name: fn.py_func for name, fn in fns.items()}
    return fns


def _state(ahead: float = 0.0) -> np.ndarray:
    q = np.zeros(Q.QUEUE_STATE_SIZE)
    q[Q.QS_AHEAD] = ahead
    return q


# --- parse_queue_model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("risk_averse", (Q.QM_RISK_AVERSE, 0.0)),
        ("power:3", (Q.QM_POWER, 3.0)),
        ("power", (Q.QM_POWER, 3.0)),
        ("POWER2:2", (Q.QM_POWER2, 2.0)),
        ("power3:1.5", (Q.QM_POWER3, 1.5)),
        ("log", (Q.QM_LOG, 0.0)),
        (" log2 ", (Q.QM_LOG2, 0.0)),
        ("l3_fifo", (Q.QM_L3_FIFO, 0.0)),
    ],
)
def test_parse_queue_model_accepts_valid_specs(spec: str, expected: tuple[int, float]) -> None:
    assert Q.parse_queue_model(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fifo", "unknown queue model"),
        ("power:x", "not a number"),
        ("power:-1", "finite number > 0"),
        ("power:inf", "finite number > 0"),
        ("log:2", "takes no parameter"),
    ],
)
def test_parse_queue_model_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        Q.parse_queue_model(spec)
    if "unknown" in message:
        for name in Q.QUEUE_MODEL_NAMES:
            assert name in str(info.value)


def test_queue_model_names_cover_every_id() -> None:
    assert sorted(Q.QUEUE_MODEL_NAMES.values()) == list(range(7))


# --- formulas ---------------------------------------------------------------------------------


def test_arrival_puts_the_whole_level_ahead(k: dict) -> None:
    q = _state(99.0)
    q[Q.QS_CUM_TRADE] = 4.0
    k["queue_on_arrival"](Q.QM_POWER, q, 17.0)
    assert q.tolist() == [17.0, 0.0]


@pytest.mark.parametrize(
    ("model", "n", "front", "back", "expected"),
    [
        (Q.QM_POWER, 3.0, 10.0, 10.0, 0.5),
        (Q.QM_POWER, 2.0, 1.0, 3.0, 9.0 / 10.0),
        (Q.QM_POWER2, 2.0, 1.0, 3.0, 9.0 / 16.0),
        (Q.QM_POWER3, 3.0, 1.0, 3.0, 1.0 - (1.0 / 4.0) ** 3),
        (Q.QM_LOG, 0.0, 1.0, 3.0, math.log(4.0) / (math.log(4.0) + math.log(2.0))),
        (Q.QM_LOG2, 0.0, 1.0, 3.0, math.log(4.0) / math.log(5.0)),
    ],
)
def test_prob_functions(
    k: dict, model: int, n: float, front: float, back: float, expected: float
) -> None:
    assert k["queue_prob"](model, n, front, back) == pytest.approx(expected, rel=1e-15)


def test_prob_functions_give_nan_not_errors_on_degenerate_input(k: dict) -> None:
    assert math.isnan(k["queue_prob"](Q.QM_POWER, 3.0, 0.0, 0.0))
    assert math.isnan(k["queue_prob"](Q.QM_POWER, 2.5, -1.0, 3.0))
    assert math.isnan(k["queue_prob"](Q.QM_LOG, 0.0, -3.0, 3.0))
    assert k["queue_prob"](Q.QM_LOG2, 0.0, -1.0, 0.0) == 0.0


def test_risk_averse_depth_only_caps_the_queue(k: dict) -> None:
    q = _state(5.0)
    k["queue_on_depth"](Q.QM_RISK_AVERSE, 0.0, q, 5.0, 50.0)
    assert q[Q.QS_AHEAD] == 5.0
    k["queue_on_depth"](Q.QM_RISK_AVERSE, 0.0, q, 50.0, 3.0)
    assert q[Q.QS_AHEAD] == 3.0


def test_prob_depth_splits_a_decrease_by_probability(k: dict) -> None:
    # front 10 of a level grown to 20 (back 10, p = 0.5); the level drops to 1 (chg 19):
    # 10 - 0.5 * 19 + min(10 - 9.5, 0) = 0.5
    q = _state(10.0)
    k["queue_on_depth"](Q.QM_POWER, 3.0, q, 10.0, 20.0)
    assert q[Q.QS_AHEAD] == 10.0
    k["queue_on_depth"](Q.QM_POWER, 3.0, q, 20.0, 1.0)
    assert q[Q.QS_AHEAD] == 0.5


def test_prob_depth_discounts_trades_already_counted(k: dict) -> None:
    q = _state(10.0)
    assert k["queue_on_trade"](Q.QM_LOG, q, 4.0, 1.0, False) == 0.0
    assert q.tolist() == [6.0, 4.0]
    # the level shrank by exactly the traded size: no further advance
    k["queue_on_depth"](Q.QM_LOG, 0.0, q, 30.0, 26.0)
    assert q.tolist() == [6.0, 0.0]


def test_prob_depth_nan_estimate_falls_back_to_new_qty(k: dict) -> None:
    q = _state(0.0)
    k["queue_on_depth"](Q.QM_POWER, 3.0, q, 0.0, 0.0)
    assert q[Q.QS_AHEAD] == 0.0
    q = _state(-2.0)
    k["queue_on_depth"](Q.QM_POWER, 2.5, q, 4.0, 3.0)
    assert q[Q.QS_AHEAD] == 3.0


def test_trade_fill_needs_half_a_lot_of_overshoot(k: dict) -> None:
    q = _state(5.0)
    assert k["queue_on_trade"](Q.QM_RISK_AVERSE, q, 3.0, 1.0, False) == 0.0
    assert k["queue_on_trade"](Q.QM_RISK_AVERSE, q, 2.0, 1.0, False) == 0.0
    assert q[Q.QS_AHEAD] == 0.0
    assert k["queue_on_trade"](Q.QM_RISK_AVERSE, q, 1.0, 1.0, False) == 1.0
    assert q[Q.QS_AHEAD] == 0.0
    q = _state(0.49)
    assert k["queue_on_trade"](Q.QM_POWER, q, 0.98, 4.0, True) == 0.0
    assert q[Q.QS_AHEAD] == pytest.approx(-0.49)
    q = _state(0.5)
    assert k["queue_on_trade"](Q.QM_POWER, q, 1.0, 4.0, True) == 1.0
    assert q[Q.QS_AHEAD] == 0.0


def test_partial_fills_take_the_overshoot_and_reset_the_queue(k: dict) -> None:
    # hftbacktest 2.4.4: 10 lots behind 5, trades of 7, 1, 20 fill 2, 1, then the last 7
    q = _state(5.0)
    leaves = 10.0
    fills = []
    for trade in (7.0, 1.0, 20.0):
        f = k["queue_on_trade"](Q.QM_RISK_AVERSE, q, trade, leaves, True)
        fills.append(f)
        leaves -= f
    assert fills == [2.0, 1.0, 7.0]


def test_partial_fill_is_not_capped_by_the_trade(k: dict) -> None:
    q = _state(-4.0)  # a probability model's depth step overshot the queue
    assert k["queue_on_trade"](Q.QM_POWER2, q, 1.0, 10.0, True) == 5.0
    assert q[Q.QS_AHEAD] == 0.0


def test_no_partial_fills_all_leaves(k: dict) -> None:
    q = _state(0.0)
    assert k["queue_on_trade"](Q.QM_LOG2, q, 1.0, 7.0, False) == 7.0


def test_l3_fifo_arithmetic(k: dict) -> None:
    assert k["fifo_on_change"](10.0, -4.0) == 6.0
    assert k["fifo_on_change"](3.0, -4.0) == 0.0
    q = _state(8.0)
    k["queue_on_depth"](Q.QM_L3_FIFO, 0.0, q, 20.0, 5.0)
    assert q[Q.QS_AHEAD] == 5.0
    assert k["queue_on_trade"](Q.QM_L3_FIFO, q, 6.0, 3.0, True) == 1.0


# --- sequences recorded from hftbacktest 2.4.4 ------------------------------------------------

# (model, n, partial, level at arrival, order lots, events, fills as (event index, lots)).
# Recorded by running each sequence through hftbacktest (one resting buy at the level's
# price; "d" = new level size, "t" = sell trade at the price).
HBT_CASES = [
    ("risk_averse", 0.0, False, 9, 6, "d12 t4 t1 d5 d36 d14 t9 d24 t8 d0 t8 t9 d5 d8", [(6, 6.0)]),
    (
        "risk_averse",
        0.0,
        True,
        9,
        6,
        "d12 t4 t1 d5 d36 d14 t9 d24 t8 d0 t8 t9 d5 d8",
        [(6, 5.0), (8, 1.0)],
    ),
    ("power", 3.0, False, 21, 3, "t10 d8 t5 d10 d31 d18 t7 t4 d19 t6 t3 d3 d8 t10", [(6, 3.0)]),
    ("power", 3.0, True, 21, 3, "t10 d8 t5 d10 d31 d18 t7 t4 d19 t6 t3 d3 d8 t10", [(6, 3.0)]),
    ("power2", 2.0, False, 23, 4, "t1 t4 d3 t1 d27 d13 d22 d22 d24 t3 t7 d16 t7 d1", [(9, 4.0)]),
    (
        "power2",
        2.0,
        True,
        23,
        4,
        "t1 t4 d3 t1 d27 d13 d22 d22 d24 t3 t7 d16 t7 d1",
        [(9, 3.0), (10, 1.0)],
    ),
    ("power3", 3.0, False, 18, 5, "t1 d1 d24 d0 d2 d34 t4 t6 d30 d32 d31 d22 d11 t2", [(6, 5.0)]),
    (
        "power3",
        3.0,
        True,
        18,
        5,
        "t1 d1 d24 d0 d2 d34 t4 t6 d30 d32 d31 d22 d11 t2",
        [(6, 4.0), (7, 1.0)],
    ),
    ("log", 0.0, False, 11, 2, "d15 d8 t6 t3 d0 t11 d22 d24 d20 d8 t6 d20 t7 d9", [(3, 2.0)]),
    ("log", 0.0, True, 11, 2, "d15 d8 t6 t3 d0 t11 d22 d24 d20 d8 t6 d20 t7 d9", [(3, 2.0)]),
    ("log2", 0.0, False, 13, 2, "d0 d31 t8 t7 t9 d20 t3 t7 d35 t3 t5 d8 d5 t2", [(2, 2.0)]),
    ("log2", 0.0, True, 13, 2, "d0 d31 t8 t7 t9 d20 t3 t7 d35 t3 t5 d8 d5 t2", [(2, 2.0)]),
    ("power", 3.0, True, 10, 10, "d20 d1 t1", [(2, 1.0)]),
    ("power", 3.0, False, 10, 10, "d20 d1 t1", [(2, 10.0)]),
]


def replay_one_order(
    k: dict, model: int, n: float, partial: bool, level: int, lots: int, events: str
) -> list[tuple[int, float]]:
    """Drive one resting order through ``events`` the way the venue does."""
    q = _state()
    k["queue_on_arrival"](model, q, float(level))
    leaves = float(lots)
    fills = []
    for i, ev in enumerate(events.split()):
        value = float(ev[1:])
        if ev[0] == "d":
            k["queue_on_depth"](model, n, q, float(level), value)
            level = int(value)
        else:
            f = k["queue_on_trade"](model, q, value, leaves, partial)
            if f > 0.0:
                fills.append((i, f))
                leaves -= f
                if leaves <= 0.0:
                    break
    return fills


@pytest.mark.parametrize(("name", "n", "partial", "level", "lots", "events", "expected"), HBT_CASES)
def test_sequences_match_hftbacktest(
    k: dict, name: str, n: float, partial: bool, level: int, lots: int, events: str, expected: list
) -> None:
    model = Q.QUEUE_MODEL_NAMES[name]
    assert replay_one_order(k, model, n, partial, level, lots, events) == expected

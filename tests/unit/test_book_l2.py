"""The numba L2 book: argument checks, edge cases, py_func runs, synthetic replay vs refbook."""

from __future__ import annotations

import numpy as np
import pytest

from hftlib.book import l2 as L2
from hftlib.data.synth import SynthParams, generate_array
from hftlib.engine.types import ASK, BID
from hftlib.refbook import L2Book as RefBook
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    NO_PX,
)


def levels(book: L2.L2Book, b: int, side: int, n: int = 64) -> list[tuple[int, int]]:
    ticks = np.zeros(n, dtype=np.int64)
    qtys = np.zeros(n, dtype=np.int64)
    k = L2.l2_depth(book, b, side, ticks, qtys)
    return list(zip(ticks[:k].tolist(), qtys[:k].tolist(), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_books": 0}, "n_books"),
        ({"n_books": 1.5}, "n_books"),
        ({"n_books": True}, "n_books"),
        ({"n_books": 1, "window": 4}, "window"),
        ({"n_books": 1, "window": 100}, "power of two"),
        ({"n_books": 1, "window": 1 << 31}, "2\\*\\*30"),
        ({"n_books": 1, "overflow": 0}, "overflow"),
        ({"n_books": 1, "overflow": "8"}, "overflow"),
    ],
)
def test_new_l2_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        L2.new_l2(**kwargs)  # type: ignore[arg-type]


def test_new_l2_shapes_and_empty_state() -> None:
    book = L2.new_l2(3, 32, 5)
    assert book.qty.shape == (3, 2, 32)
    assert book.ovf_tick.shape == book.ovf_qty.shape == (3, 2, 5)
    assert book.meta.shape == (3, L2.N_META)
    for b in range(3):
        assert L2.l2_best(book, b, BID) == NO_PX
        assert L2.l2_best(book, b, ASK) == NO_PX
        assert book.meta[b, L2.M_INIT] == 0
        assert levels(book, b, BID) == []


def test_basic_levels_best_and_depth_order() -> None:
    book = L2.new_l2(1, 64, 8)
    for tick, qty in ((100, 5), (98, 7), (99, 1)):
        L2.l2_set(book, 0, BID, tick, qty)
    for tick, qty in ((103, 2), (101, 4)):
        L2.l2_set(book, 0, ASK, tick, qty)
    assert L2.l2_best(book, 0, BID) == 100
    assert L2.l2_best(book, 0, ASK) == 101
    assert levels(book, 0, BID) == [(100, 5), (99, 1), (98, 7)]
    assert levels(book, 0, ASK) == [(101, 4), (103, 2)]
    assert levels(book, 0, BID, 2) == [(100, 5), (99, 1)]
    assert levels(book, 0, BID, 0) == []
    assert L2.l2_qty(book, 0, BID, 99) == 1
    assert L2.l2_qty(book, 0, BID, 97) == 0
    assert L2.l2_qty(book, 0, ASK, 10**12) == 0


def test_delete_best_finds_next_and_negative_qty_deletes() -> None:
    book = L2.new_l2(1, 64, 8)
    for tick in (100, 97, 90):
        L2.l2_set(book, 0, BID, tick, 1)
    L2.l2_set(book, 0, BID, 100, -3)
    assert L2.l2_best(book, 0, BID) == 97
    L2.l2_set(book, 0, BID, 97, 0)
    assert L2.l2_best(book, 0, BID) == 90
    L2.l2_set(book, 0, BID, 50, 0)  # absent level: no-op
    L2.l2_set(book, 0, BID, 90, 0)
    assert L2.l2_best(book, 0, BID) == NO_PX
    assert book.meta[0, L2.M_N_BID] == 0


def test_crossing_removes_stale_levels_and_counts_them() -> None:
    book = L2.new_l2(1, 64, 8)
    for tick in (101, 102, 105):
        L2.l2_set(book, 0, ASK, tick, 3)
    L2.l2_set(book, 0, BID, 102, 9)
    assert levels(book, 0, ASK) == [(105, 3)]
    assert L2.l2_best(book, 0, BID) == 102
    assert book.meta[0, L2.M_CROSS_REMOVED] == 2
    L2.l2_set(book, 0, ASK, 100, 1)
    assert levels(book, 0, BID) == []
    assert book.meta[0, L2.M_CROSS_REMOVED] == 3
    # a delete never crosses
    L2.l2_set(book, 0, BID, 200, 0)
    assert levels(book, 0, ASK) == [(100, 1), (105, 3)]


def test_price_follows_far_jumps_with_recentering() -> None:
    book = L2.new_l2(1, 16, 4)
    L2.l2_set(book, 0, BID, 1_000, 1)
    L2.l2_set(book, 0, ASK, 1_001, 1)
    L2.l2_clear(book, 0, L2.CLEAR_BOTH)
    assert book.meta[0, L2.M_INIT] == 0
    L2.l2_set(book, 0, BID, 10**12, 2)
    L2.l2_set(book, 0, ASK, 10**12 + 1, 3)
    for k in range(1, 40):  # walk the touch 39 ticks down: many re-centres
        L2.l2_set(book, 0, ASK, 10**12 - k + 1, 1)
        L2.l2_set(book, 0, BID, 10**12 - k + 1, 0)
        L2.l2_set(book, 0, BID, 10**12 - k, 1)
    assert L2.l2_best(book, 0, BID) == 10**12 - 39
    assert L2.l2_best(book, 0, ASK) == 10**12 - 38
    assert book.meta[0, L2.M_RECENTERS] > 0
    lo = book.meta[0, L2.M_LO]
    assert lo <= 10**12 - 39 < lo + 16
    assert levels(book, 0, ASK, 3) == [(10**12 - 38, 1), (10**12 - 37, 1), (10**12 - 36, 1)]
    assert book.meta[0, L2.M_DROPPED] > 0  # 41 asks, window 16 + overflow 4


def test_overflow_drops_the_farthest_level() -> None:
    book = L2.new_l2(1, 8, 2)
    L2.l2_set(book, 0, BID, 100, 1)  # window [96, 104)
    L2.l2_set(book, 0, BID, 50, 1)
    L2.l2_set(book, 0, BID, 60, 1)
    L2.l2_set(book, 0, BID, 40, 1)  # worse than both overflow levels: dropped
    assert book.meta[0, L2.M_DROPPED] == 1
    L2.l2_set(book, 0, BID, 70, 1)  # replaces 50
    assert book.meta[0, L2.M_DROPPED] == 2
    assert levels(book, 0, BID) == [(100, 1), (70, 1), (60, 1)]
    assert book.meta[0, L2.M_N_BID] == 3


def test_rejected_ticks_and_sides_are_counted() -> None:
    book = L2.new_l2(1, 16, 4)
    L2.l2_set(book, 0, BID, NO_PX, 1)
    L2.l2_set(book, 0, BID, 2**62 + 1, 1)
    L2.l2_set(book, 0, 2, 100, 1)
    assert book.meta[0, L2.M_REJECTED] == 3
    assert book.meta[0, L2.M_INIT] == 0
    L2.l2_set(book, 0, BID, -(2**62), 1)
    assert L2.l2_best(book, 0, BID) == -(2**62)


def test_clear_one_side_keeps_the_other() -> None:
    book = L2.new_l2(2, 32, 4)
    L2.l2_set(book, 1, BID, 10, 1)
    L2.l2_set(book, 1, ASK, 12, 1)
    L2.l2_set(book, 1, ASK, 10_000, 1)  # in the overflow
    L2.l2_clear(book, 1, ASK)
    assert L2.l2_best(book, 1, ASK) == NO_PX
    assert book.meta[1, L2.M_N_OVF_ASK] == 0
    assert levels(book, 1, BID) == [(10, 1)]
    assert book.meta[1, L2.M_INIT] == 1
    L2.l2_clear(book, 1, BID)
    assert book.meta[1, L2.M_INIT] == 0
    assert not book.qty.any()


def test_apply_kinds_and_return_values() -> None:
    book = L2.new_l2(1, 64, 4)
    assert L2.l2_apply(book, 0, K_DEPTH | F_BID, 100, 5) == 1
    assert L2.l2_apply(book, 0, K_DEPTH | F_BID, 100, 5) == 0  # same size
    assert L2.l2_apply(book, 0, K_SNAPSHOT | F_ASK, 102, 2) == 1
    assert L2.l2_apply(book, 0, K_DEPTH | F_ASK, 103, 2) == 1
    assert L2.l2_apply(book, 0, K_DEPTH, 99, 5) == 0  # no side
    assert L2.l2_apply(book, 0, K_DEPTH | F_BID | F_ASK, 99, 5) == 0  # both sides
    assert L2.l2_apply(book, 0, K_TRADE | F_BID, 102, 1) == 0
    assert L2.l2_apply(book, 0, K_DEPTH | F_BID, 98, 0) == 0  # absent level
    assert L2.l2_apply(book, 0, K_CLEAR | F_ASK, 102, 0) == 1  # through 102
    assert levels(book, 0, ASK) == [(103, 2)]
    assert L2.l2_apply(book, 0, K_CLEAR | F_ASK, NO_PX, 0) == 1
    assert L2.l2_apply(book, 0, K_CLEAR | F_ASK, NO_PX, 0) == 0
    assert L2.l2_apply(book, 0, K_CLEAR, NO_PX, 0) == 1
    assert L2.l2_best(book, 0, BID) == NO_PX


def test_py_func_smoke_of_every_kernel() -> None:
    """Run each kernel as plain Python (inner calls stay compiled) through its main branches."""
    book = L2.new_l2(1, 16, 3)
    L2.l2_set.py_func(book, 0, BID, 100, 4)
    L2.l2_set.py_func(book, 0, ASK, 101, 4)
    L2.set_level.py_func(book, 0, BID, 99, 2, False)
    assert L2._set_fast.py_func(book, 0, BID, 98, 1, True) == 1
    assert L2._set_fast.py_func(book, 0, BID, 100, 0, True) == -1
    assert L2._set_slow.py_func(book, 0, ASK, 500, 1, True) == 1
    assert L2._set_slow.py_func(book, 0, ASK, NO_PX, 1, True) == 0
    assert L2.l2_qty.py_func(book, 0, ASK, 500) == 1
    assert L2.l2_best.py_func(book, 0, BID) == 100
    ticks = np.zeros(8, dtype=np.int64)
    qtys = np.zeros(8, dtype=np.int64)
    assert L2.l2_depth.py_func(book, 0, ASK, ticks, qtys) == 2
    assert ticks[:2].tolist() == [101, 500]
    assert L2.l2_apply.py_func(book, 0, K_DEPTH | F_BID, 100, 0) == 1
    assert L2._find_best.py_func(book, 0, BID, 100) is None
    assert L2.l2_best(book, 0, BID) == 99
    L2._recenter.py_func(book, 0, book.meta[0, L2.M_LO] + 5)
    L2._recenter.py_func(book, 0, book.meta[0, L2.M_LO] - 7)
    L2._recenter.py_func(book, 0, book.meta[0, L2.M_LO] + 1000)
    L2._recenter.py_func(book, 0, 91)
    assert levels(book, 0, BID) == [(99, 2), (98, 1)]
    assert levels(book, 0, ASK) == [(101, 4), (500, 1)]
    L2._maybe_recenter.py_func(book, 0, BID)
    L2._ovf_push.py_func(book, 0, BID, 10, 1)
    book.meta[0, L2.M_N_BID] += 1  # _ovf_push stores a level its caller already counted
    assert L2._ovf_find.py_func(book, 0, BID, 10) >= 0
    assert L2._delete.py_func(book, 0, BID, 10) == 1
    assert L2._uncross.py_func(book, 0, BID, 101) == 1
    assert L2._clear_through.py_func(book, 0, BID, 99) == 1
    assert L2._apply_clear.py_func(book, 0, F_BID | F_ASK, NO_PX) == 1
    L2.l2_clear.py_func(book, 0, L2.CLEAR_BOTH)
    assert book.meta[0, L2.M_N_BID] == book.meta[0, L2.M_N_ASK] == 0
    row = np.arange(8, dtype=np.int64)
    L2._rotate_left.py_func(row, 3)
    assert row.tolist() == [3, 4, 5, 6, 7, 0, 1, 2]


def _ref_levels(ref: RefBook, is_bid: bool, n: int) -> list[tuple[int, int]]:
    side = ref.bids if is_bid else ref.asks
    keys = list(reversed(side.keys()[-n:])) if is_bid else list(side.keys()[:n])
    return [(k, side[k]) for k in keys]


@pytest.mark.parametrize(("window", "overflow"), [(1 << 16, 4096), (64, 256)])
def test_synthetic_replay_matches_refbook(window: int, overflow: int) -> None:
    """After every F_LAST row the best prices and top-20 depth equal the reference book's."""
    events = generate_array(SynthParams(seed=11, levels=40), 200_000)
    book = L2.new_l2(1, window, overflow)
    ref = RefBook()
    ticks = np.zeros(20, dtype=np.int64)
    qtys = np.zeros(20, dtype=np.int64)
    checks = 0
    for flags, px, qty in zip(
        events["flags"].tolist(), events["px"].tolist(), events["qty"].tolist(), strict=True
    ):
        L2.l2_apply(book, 0, flags, px, qty)
        ref.apply(flags, px, qty)
        if not flags & F_LAST:
            continue
        checks += 1
        for side, is_bid in ((BID, True), (ASK, False)):
            n = L2.l2_depth(book, 0, side, ticks, qtys)
            want = _ref_levels(ref, is_bid, 20)
            assert list(zip(ticks[:n].tolist(), qtys[:n].tolist(), strict=True)) == want
            assert L2.l2_best(book, 0, side) == (want[0][0] if want else NO_PX)
    assert checks > 50_000
    assert book.meta[0, L2.M_DROPPED] == 0
    assert book.meta[0, L2.M_CROSS_REMOVED] == 0
    if window == 64:
        assert book.meta[0, L2.M_RECENTERS] > 0

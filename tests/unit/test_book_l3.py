"""The numba L3 book: argument checks, status codes, FIFO priority, py_func runs."""

from __future__ import annotations

import pytest

from hftlib.book import l2 as L2
from hftlib.book import l3 as L3
from hftlib.engine.types import ASK, BID
from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    NO_PX,
)


def queue(book: L3.L3Book, b: int, side: int, tick: int) -> list[int]:
    out = []
    slot = L3.l3_head(book, b, side, tick)
    while slot >= 0:
        out.append(int(book.orders[slot, L3.O_ID]))
        slot = L3.l3_next(book, slot)
    return out


@pytest.mark.parametrize("capacity", [0, -1, 1.0, True])
def test_new_l3_rejects_bad_capacity(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        L3.new_l3(1, capacity=capacity)  # type: ignore[arg-type]


def test_new_l3_rejects_bad_l2_sizes() -> None:
    with pytest.raises(ValueError, match="window"):
        L3.new_l3(1, capacity=8, window=12)


def test_add_status_codes() -> None:
    book = L3.new_l3(2, capacity=2, window=64, overflow=8)
    assert L3.l3_add(book, 0, 7, BID, 100, 0) == L3.L3_BAD_QTY
    assert L3.l3_add(book, 0, 7, 3, 100, 1) == L3.L3_BAD_SIDE
    assert L3.l3_add(book, 0, 7, BID, NO_PX, 1) == L3.L3_BAD_TICK
    assert L3.l3_add(book, 0, 7, BID, 100, 5) == L3.L3_OK
    assert L3.l3_add(book, 0, 7, ASK, 101, 5) == L3.L3_DUPLICATE
    assert L3.l3_add(book, 1, 7, ASK, 101, 5) == L3.L3_OK  # same id, other book
    assert L3.l3_add(book, 0, 8, BID, 100, 5) == L3.L3_FULL
    assert book.state[L3.S_FULL] == 1
    assert book.state[L3.S_DUPLICATE] == 1
    assert book.state[L3.S_BAD] == 3
    assert L3.l3_cancel(book, 0, 7, 5) == 5  # frees a slot
    assert L3.l3_add(book, 0, 8, BID, 100, 5) == L3.L3_OK
    assert L2.l2_qty(book.l2, 0, BID, 100) == 5
    assert L2.l2_qty(book.l2, 1, ASK, 101) == 5


def test_fifo_and_priority_rules() -> None:
    book = L3.new_l3(1, capacity=16, window=64, overflow=8)
    for oid in (1, 2, 3):
        assert L3.l3_add(book, 0, oid, BID, 100, 10) == L3.L3_OK
    assert queue(book, 0, BID, 100) == [1, 2, 3]
    seq1 = book.orders[L3.l3_slot(book, 0, 1), L3.O_SEQ]
    assert L3.l3_modify(book, 0, 1, 100, 4) == L3.L3_OK  # smaller: keeps its place
    assert queue(book, 0, BID, 100) == [1, 2, 3]
    assert book.orders[L3.l3_slot(book, 0, 1), L3.O_SEQ] == seq1
    assert L3.l3_modify(book, 0, 1, 100, 6) == L3.L3_OK  # larger: to the tail
    assert queue(book, 0, BID, 100) == [2, 3, 1]
    assert L3.l3_modify(book, 0, 2, 99, 10) == L3.L3_OK  # new price: new level
    assert queue(book, 0, BID, 100) == [3, 1]
    assert queue(book, 0, BID, 99) == [2]
    assert L2.l2_qty(book.l2, 0, BID, 100) == 16
    assert L3.l3_fill(book, 0, 3, 4) == 4
    assert L3.l3_cancel(book, 0, 3, 100) == 6  # more than left: all that is left
    assert queue(book, 0, BID, 100) == [1]
    assert L3.l3_modify(book, 0, 1, 100, 0) == L3.L3_OK  # size 0 removes
    assert L3.l3_head(book, 0, BID, 100) == -1
    assert L2.l2_best(book.l2, 0, BID) == 99
    assert L3.l3_cancel(book, 0, 2, 0) == L3.L3_BAD_QTY
    assert L3.l3_cancel(book, 0, 99, 1) == L3.L3_UNKNOWN
    assert L3.l3_modify(book, 0, 2, NO_PX, 1) == L3.L3_BAD_TICK
    assert book.state[L3.S_N_ORDERS] == 1


def test_crossed_adds_stay_crossed() -> None:
    book = L3.new_l3(1, capacity=8, window=64, overflow=8)
    L3.l3_add(book, 0, 1, ASK, 100, 3)
    L3.l3_add(book, 0, 2, BID, 101, 3)
    assert L2.l2_best(book.l2, 0, BID) == 101
    assert L2.l2_best(book.l2, 0, ASK) == 100
    assert book.l2.meta[0, L2.M_CROSS_REMOVED] == 0


def test_apply_rows_and_clear() -> None:
    book = L3.new_l3(2, capacity=8, window=64, overflow=8)
    assert L3.l3_apply(book, 1, K_L3_ADD | F_BID, 1, 100, 5) == L3.L3_OK
    assert L3.l3_apply(book, 1, K_L3_ADD | F_ASK, 2, 102, 5) == L3.L3_OK
    assert L3.l3_apply(book, 1, K_L3_ADD, 3, 102, 5) == L3.L3_BAD_SIDE
    assert L3.l3_apply(book, 1, K_L3_MODIFY | F_BID, 1, 101, 5) == L3.L3_OK
    assert L3.l3_apply(book, 1, K_L3_FILL | F_BID, 1, 101, 2) == L3.L3_OK
    assert L3.l3_apply(book, 1, K_L3_CANCEL | F_BID, 9, 101, 2) == L3.L3_UNKNOWN
    assert L3.l3_apply(book, 1, K_DEPTH | F_BID, 1, 101, 2) == L3.L3_IGNORED
    assert L2.l2_qty(book.l2, 1, BID, 101) == 3
    assert L3.l3_apply(book, 1, K_CLEAR | F_ASK, -1, NO_PX, 0) == L3.L3_OK
    assert L2.l2_best(book.l2, 1, ASK) == NO_PX
    assert L3.l3_slot(book, 1, 2) == -1
    assert L3.l3_slot(book, 1, 1) >= 0
    assert L3.l3_apply(book, 1, K_CLEAR, -1, NO_PX, 0) == L3.L3_OK
    assert book.state[L3.S_N_ORDERS] == 0
    assert len(book.ids) == 0
    assert len(book.lvmap) == 0


def test_py_func_smoke_of_every_kernel() -> None:
    """Run each kernel as plain Python (inner calls stay compiled) through its main branches."""
    book = L3.new_l3(1, capacity=4, window=16, overflow=4)
    assert L3.l3_add.py_func(book, 0, 1, BID, 100, 5) == L3.L3_OK
    assert L3.l3_add.py_func(book, 0, 1, BID, 100, 5) == L3.L3_DUPLICATE
    assert L3.l3_add.py_func(book, 0, 2, BID, 100, 0) == L3.L3_BAD_QTY
    assert L3.l3_add.py_func(book, 0, 2, ASK, 103, 4) == L3.L3_OK
    assert L3.l3_slot.py_func(book, 0, 1) >= 0
    head = L3.l3_head.py_func(book, 0, BID, 100)
    assert L3.l3_next.py_func(book, head) == -1
    assert L3.l3_modify.py_func(book, 0, 1, 100, 3) == L3.L3_OK
    assert L3.l3_modify.py_func(book, 0, 1, 99, 3) == L3.L3_OK
    assert L3.l3_modify.py_func(book, 0, 5, 99, 3) == L3.L3_UNKNOWN
    assert L3.l3_cancel.py_func(book, 0, 1, 1) == 1
    assert L3.l3_fill.py_func(book, 0, 1, 2) == 2
    assert L3._reduce.py_func(book, 0, 2, 1) == 1
    assert L3.l3_apply.py_func(book, 0, K_L3_ADD | F_BID, 9, 98, 1) == L3.L3_OK
    assert L3.l3_apply.py_func(book, 0, K_L3_CANCEL | F_BID, 9, 98, 1) == L3.L3_OK
    assert L3.l3_clear.py_func(book, 0, -1) == 1
    slot = L3._alloc.py_func(book.orders, book.state, L3.S_FREE, L3.S_HWM, L3.O_NEXT)
    assert slot >= 0
    assert L3._bad_tick.py_func(2**63 - 1)
    assert book.state[L3.S_N_ORDERS] == 0

"""Numba L3 order books: orders queued FIFO per price level, with an aggregate L2 book.

Several books share one :class:`L3Book` (leading book index ``b``, as in
:mod:`hftlib.book.l2`). ``book.l2`` is an :class:`~hftlib.book.l2.L2Book` kept equal to the
sum of the resting orders per level, so best price, size and depth queries are the L2
kernels on ``book.l2``.

Storage
-------
* ``orders`` int64 (capacity, N_O): one slot per resting order, columns ``O_*``: venue id,
  book, side, tick, size, previous / next slot in the level's FIFO list (-1 at the ends),
  priority ``seq`` and the level slot. A free slot has ``O_BOOK = -1``; freed slots are
  chained through ``O_NEXT`` and reused first.
* ``levels`` int64 (capacity, N_LV): head, tail, order count and total size of a level.
* ``ids``: numba typed Dict ``(book, order id) -> order slot``; ``lvmap``: typed Dict
  ``(book, side, tick) -> level slot``. Tuple keys cannot collide, whatever the venue ids
  (up to 2**63 - 1).
* ``state`` int64 (N_S): counters and free-list heads, columns ``S_*``.

The capacity is fixed at creation (numba cannot grow arrays held in a namedtuple): an add
into a full table returns :data:`L3_FULL` and is counted in ``state[S_FULL]``; the caller
decides (e.g. rebuild with a larger capacity). A level never lacks a slot, since there are
as many level slots as order slots.

Priority
--------
``seq`` comes from one counter per :class:`L3Book`, stamped when an order enters a level
(add) or loses its place (a modify that changes the price or raises the size: the order
moves to the tail). A size decrease, a partial cancel or a fill keeps the place.

Crossed books
-------------
Unlike :func:`hftlib.book.l2.l2_set`, the L3 book applies no crossing rule: the order feed
is authoritative, and a venue may publish an aggressive order before the fills that
uncross it. The aggregate L2 then shows the crossed levels until the feed removes them.

Status codes
------------
``L3_OK`` (0), ``L3_IGNORED`` (1: a row of a kind this book does not apply), and negative
errors: ``L3_DUPLICATE``, ``L3_FULL``, ``L3_BAD_QTY``, ``L3_UNKNOWN``, ``L3_BAD_SIDE``,
``L3_BAD_TICK``. Each error is also counted in ``state`` (``S_*`` columns).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
from numba import types
from numba.typed import Dict

from hftlib.book.l2 import TICK_LIMIT, _clear_side, new_l2, set_level
from hftlib.engine.types import ASK, BID
from hftlib.jit import nrt_kernel
from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    KIND_MASK,
)

L3Book = namedtuple("L3Book", "l2 orders levels state ids lvmap")
"""Arrays and maps of several L3 books (module docstring)."""

# --- order columns ---------------------------------------------------------------------------
O_ID = 0
O_BOOK = 1
O_SIDE = 2
O_TICK = 3
O_QTY = 4
O_PREV = 5
O_NEXT = 6
O_SEQ = 7
O_LEVEL = 8
N_O = 9

# --- level columns ---------------------------------------------------------------------------
LV_HEAD = 0
LV_TAIL = 1
LV_COUNT = 2
LV_QTY = 3
N_LV = 4

# --- state columns ---------------------------------------------------------------------------
S_SEQ = 0
"""Last priority sequence handed out."""
S_FREE = 1
"""Head of the free order-slot list (-1: none)."""
S_HWM = 2
"""Order slots ever used; slots at and above it are fresh."""
S_LV_FREE = 3
S_LV_HWM = 4
S_N_ORDERS = 5
"""Orders resting now, all books."""
S_FULL = 6
S_DUPLICATE = 7
S_UNKNOWN = 8
S_BAD = 9
"""Rows rejected for a bad size, side or tick."""
N_S = 10

# --- status codes ------------------------------------------------------------------------------
L3_OK = 0
L3_IGNORED = 1
L3_DUPLICATE = -1
L3_FULL = -2
L3_BAD_QTY = -3
L3_UNKNOWN = -4
L3_BAD_SIDE = -5
L3_BAD_TICK = -6

_ID_KEY = types.UniTuple(types.int64, 2)  # type: ignore[no-untyped-call]
_LV_KEY = types.UniTuple(types.int64, 3)  # type: ignore[no-untyped-call]


@nrt_kernel
def _new_maps() -> tuple[Any, Any]:
    """Return the empty id and level maps (built in compiled code, so cached: creating a
    typed Dict from Python compiles its constructor in every process, about a second)."""
    return (
        Dict.empty(key_type=_ID_KEY, value_type=types.int64),
        Dict.empty(key_type=_LV_KEY, value_type=types.int64),
    )


def new_l3(
    n_books: int, capacity: int = 1 << 20, window: int = 1 << 16, overflow: int = 4096
) -> L3Book:
    """Return ``n_books`` empty L3 books sharing a table of ``capacity`` order slots.

    Parameters
    ----------
    n_books : int
        Number of books (>= 1).
    capacity : int
        Resting orders the table holds, all books together (>= 1).
    window, overflow : int
        Sizes of the aggregate L2 books (see :func:`hftlib.book.l2.new_l2`).

    Raises
    ------
    ValueError
        When an argument is out of range.
    """
    if not isinstance(capacity, int | np.integer) or isinstance(capacity, bool) or capacity < 1:
        raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
    l2 = new_l2(n_books, window, overflow)
    orders = np.full((capacity, N_O), -1, dtype=np.int64)
    levels = np.full((capacity, N_LV), -1, dtype=np.int64)
    state = np.zeros(N_S, dtype=np.int64)
    state[S_FREE] = -1
    state[S_LV_FREE] = -1
    ids, lvmap = _new_maps()
    return L3Book(l2, orders, levels, state, ids, lvmap)


# --- slots and levels ----------------------------------------------------------------------------


@nrt_kernel
def _alloc(table: np.ndarray, state: np.ndarray, free_col: int, hwm_col: int, link: int) -> int:
    """Pop a free slot of ``table`` (or a fresh one); -1 when full."""
    slot = state[free_col]
    if slot >= 0:
        state[free_col] = table[slot, link]
        return int(slot)
    slot = state[hwm_col]
    if slot >= table.shape[0]:
        return -1
    state[hwm_col] = slot + 1
    return int(slot)


@nrt_kernel
def _level_sync(book: L3Book, b: int, side: int, tick: int, lv: int) -> None:
    """Write a level's total size into the aggregate L2 (no crossing rule)."""
    set_level(book.l2, b, side, tick, book.levels[lv, LV_QTY], False)


@nrt_kernel
def _link_tail(book: L3Book, b: int, slot: int) -> None:
    """Append order ``slot`` (fields set) to its level's FIFO, creating the level."""
    o = book.orders
    side = o[slot, O_SIDE]
    tick = o[slot, O_TICK]
    key = (np.int64(b), np.int64(side), np.int64(tick))
    if key in book.lvmap:
        lv = book.lvmap[key]
    else:
        lv = _alloc(book.levels, book.state, S_LV_FREE, S_LV_HWM, LV_HEAD)
        book.levels[lv, LV_HEAD] = -1
        book.levels[lv, LV_TAIL] = -1
        book.levels[lv, LV_COUNT] = 0
        book.levels[lv, LV_QTY] = 0
        book.lvmap[key] = lv
    tail = book.levels[lv, LV_TAIL]
    o[slot, O_PREV] = tail
    o[slot, O_NEXT] = -1
    o[slot, O_LEVEL] = lv
    if tail >= 0:
        o[tail, O_NEXT] = slot
    else:
        book.levels[lv, LV_HEAD] = slot
    book.levels[lv, LV_TAIL] = slot
    book.levels[lv, LV_COUNT] += 1
    book.levels[lv, LV_QTY] += o[slot, O_QTY]
    book.state[S_SEQ] += 1
    o[slot, O_SEQ] = book.state[S_SEQ]
    _level_sync(book, b, side, tick, lv)


@nrt_kernel
def _unlink(book: L3Book, b: int, slot: int) -> None:
    """Take order ``slot`` out of its level's FIFO; drop the level when it empties."""
    o = book.orders
    lv = o[slot, O_LEVEL]
    prev = o[slot, O_PREV]
    nxt = o[slot, O_NEXT]
    if prev >= 0:
        o[prev, O_NEXT] = nxt
    else:
        book.levels[lv, LV_HEAD] = nxt
    if nxt >= 0:
        o[nxt, O_PREV] = prev
    else:
        book.levels[lv, LV_TAIL] = prev
    book.levels[lv, LV_COUNT] -= 1
    book.levels[lv, LV_QTY] -= o[slot, O_QTY]
    side = o[slot, O_SIDE]
    tick = o[slot, O_TICK]
    _level_sync(book, b, side, tick, lv)
    if book.levels[lv, LV_COUNT] == 0:
        del book.lvmap[(np.int64(b), np.int64(side), np.int64(tick))]
        book.levels[lv, LV_HEAD] = book.state[S_LV_FREE]
        book.state[S_LV_FREE] = lv
    o[slot, O_LEVEL] = -1


@nrt_kernel
def _remove(book: L3Book, b: int, slot: int) -> None:
    """Remove order ``slot`` from the book entirely and free the slot."""
    _unlink(book, b, slot)
    o = book.orders
    del book.ids[(np.int64(b), o[slot, O_ID])]
    o[slot, O_BOOK] = -1
    o[slot, O_QTY] = 0
    o[slot, O_NEXT] = book.state[S_FREE]
    book.state[S_FREE] = slot
    book.state[S_N_ORDERS] -= 1


@nrt_kernel
def _bad_tick(tick: int) -> bool:
    return tick < -TICK_LIMIT or tick > TICK_LIMIT


# --- public kernels ----------------------------------------------------------------------------


@nrt_kernel
def l3_slot(book: L3Book, b: int, order_id: int) -> int:
    """Return the slot of order ``order_id`` in book ``b``, or -1."""
    key = (np.int64(b), np.int64(order_id))
    if key in book.ids:
        return int(book.ids[key])
    return -1


@nrt_kernel
def l3_head(book: L3Book, b: int, side: int, tick: int) -> int:
    """Return the slot of the first order queued at ``tick`` on ``side``, or -1."""
    key = (np.int64(b), np.int64(side), np.int64(tick))
    if key in book.lvmap:
        return int(book.levels[book.lvmap[key], LV_HEAD])
    return -1


@nrt_kernel
def l3_next(book: L3Book, slot: int) -> int:
    """Return the slot queued behind ``slot`` at its level, or -1."""
    return int(book.orders[slot, O_NEXT])


@nrt_kernel
def l3_add(book: L3Book, b: int, order_id: int, side: int, tick: int, qty: int) -> int:
    """Queue a new order at the tail of its level; return a status code."""
    st = book.state
    if qty <= 0:
        st[S_BAD] += 1
        return L3_BAD_QTY
    if side not in (BID, ASK):
        st[S_BAD] += 1
        return L3_BAD_SIDE
    if _bad_tick(tick):
        st[S_BAD] += 1
        return L3_BAD_TICK
    key = (np.int64(b), np.int64(order_id))
    if key in book.ids:
        st[S_DUPLICATE] += 1
        return L3_DUPLICATE
    slot = _alloc(book.orders, st, S_FREE, S_HWM, O_NEXT)
    if slot < 0:
        st[S_FULL] += 1
        return L3_FULL
    o = book.orders
    o[slot, O_ID] = order_id
    o[slot, O_BOOK] = b
    o[slot, O_SIDE] = side
    o[slot, O_TICK] = tick
    o[slot, O_QTY] = qty
    book.ids[key] = slot
    st[S_N_ORDERS] += 1
    _link_tail(book, b, slot)
    return L3_OK


@nrt_kernel
def l3_modify(book: L3Book, b: int, order_id: int, tick: int, qty: int) -> int:
    """Set an order's price and remaining size; return a status code.

    A new price or a larger size sends the order to the tail of its (new) level with a new
    ``seq``; a smaller size keeps its place; ``qty <= 0`` removes it.
    """
    slot = l3_slot(book, b, order_id)
    if slot < 0:
        book.state[S_UNKNOWN] += 1
        return L3_UNKNOWN
    if qty <= 0:
        _remove(book, b, slot)
        return L3_OK
    if _bad_tick(tick):
        book.state[S_BAD] += 1
        return L3_BAD_TICK
    o = book.orders
    old_qty = o[slot, O_QTY]
    if tick != o[slot, O_TICK] or qty > old_qty:
        _unlink(book, b, slot)
        o[slot, O_TICK] = tick
        o[slot, O_QTY] = qty
        _link_tail(book, b, slot)
    elif qty < old_qty:
        lv = o[slot, O_LEVEL]
        o[slot, O_QTY] = qty
        book.levels[lv, LV_QTY] -= old_qty - qty
        _level_sync(book, b, o[slot, O_SIDE], tick, lv)
    return L3_OK


@nrt_kernel
def _reduce(book: L3Book, b: int, order_id: int, qty: int) -> int:
    """Take up to ``qty`` lots from an order; return the lots taken or a negative code."""
    if qty <= 0:
        book.state[S_BAD] += 1
        return L3_BAD_QTY
    slot = l3_slot(book, b, order_id)
    if slot < 0:
        book.state[S_UNKNOWN] += 1
        return L3_UNKNOWN
    o = book.orders
    left = o[slot, O_QTY]
    if qty >= left:
        _remove(book, b, slot)
        return int(left)
    lv = o[slot, O_LEVEL]
    o[slot, O_QTY] = left - qty
    book.levels[lv, LV_QTY] -= qty
    _level_sync(book, b, o[slot, O_SIDE], o[slot, O_TICK], lv)
    return qty


@nrt_kernel
def l3_cancel(book: L3Book, b: int, order_id: int, qty: int) -> int:
    """Cancel ``qty`` lots of an order (all that is left removes it); return lots removed.

    Negative codes: ``L3_BAD_QTY`` for ``qty <= 0``, ``L3_UNKNOWN`` for an unknown id.
    """
    return _reduce(book, b, order_id, qty)


@nrt_kernel
def l3_fill(book: L3Book, b: int, order_id: int, qty: int) -> int:
    """Execute ``qty`` lots of a resting order; return the lots executed (as l3_cancel)."""
    return _reduce(book, b, order_id, qty)


@nrt_kernel
def l3_clear(book: L3Book, b: int, side: int) -> int:
    """Remove every order of ``side`` (``-1``: both) of book ``b``; return how many.

    Scans the slots in use (O(slots ever used)): clears are rare (a snapshot's start).
    """
    o = book.orders
    removed = 0
    for slot in range(book.state[S_HWM]):
        if o[slot, O_BOOK] == b and (side < 0 or o[slot, O_SIDE] == side):
            _remove(book, b, slot)
            removed += 1
    for s in range(2):
        if side < 0 or side == s:
            _clear_side(book.l2, b, s)
    return removed


@nrt_kernel
def l3_apply(book: L3Book, b: int, flags: int, order_id: int, px: int, qty: int) -> int:
    """Apply one event row to book ``b``; return a status code.

    ``K_L3_ADD`` (side from ``F_BID`` / ``F_ASK``), ``K_L3_MODIFY``, ``K_L3_CANCEL`` and
    ``K_L3_FILL`` return ``L3_OK`` or a negative code; ``K_CLEAR`` removes the orders of the
    flagged side (both flags or none: the whole book). Other kinds return ``L3_IGNORED``.
    """
    kind = flags & KIND_MASK
    sides = flags & (F_BID | F_ASK)
    if kind == K_L3_ADD:
        if sides != F_BID and sides != F_ASK:
            book.state[S_BAD] += 1
            return L3_BAD_SIDE
        return l3_add(book, b, order_id, BID if sides == F_BID else ASK, px, qty)
    if kind == K_L3_MODIFY:
        return l3_modify(book, b, order_id, px, qty)
    if kind in (K_L3_CANCEL, K_L3_FILL):
        r = _reduce(book, b, order_id, qty)
        return r if r < 0 else L3_OK
    if kind == K_CLEAR:
        side = BID if sides == F_BID else ASK if sides == F_ASK else -1
        l3_clear(book, b, side)
        return L3_OK
    return L3_IGNORED

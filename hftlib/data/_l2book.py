"""A compact L2 book in numba for the validator (private; :class:`hftlib.refbook.L2Book` is
the oracle it is property-tested against).

Each side is a sorted array of keys with a parallel array of sizes, best level last: the
key is the tick on the bid side and minus the tick on the ask side, so both sides sort
ascending and the touch sits at index ``n - 1``. Updates cluster near the touch, so the
tail that an insert or delete shifts is short; a lookup is a binary search.

The book is three arrays: ``keys`` and ``qtys`` of shape ``(2, capacity)`` and ``n`` of
shape ``(2,)`` (levels in use per side; row 0 is the bid side, row 1 the ask side). An
insert into a full side changes nothing and returns :data:`BOOK_FULL`; the caller grows
the arrays with :func:`grow` and repeats the row.
"""

from __future__ import annotations

import numba
import numpy as np

from hftlib.types import F_ASK, F_BID, K_CLEAR, K_DEPTH, K_SNAPSHOT, KIND_MASK, NO_PX

BID = 0
ASK = 1

_WALK = 8  # levels from the touch searched linearly before the binary search

BOOK_OK = 0
BOOK_FULL = 1
"""Status codes of :func:`apply` and :func:`set_level`."""


def new_book(capacity: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return empty ``(keys, qtys, n)`` arrays with room for ``capacity`` levels a side."""
    return (
        np.zeros((2, capacity), dtype=np.int64),
        np.zeros((2, capacity), dtype=np.int64),
        np.zeros(2, dtype=np.int64),
    )


def grow(keys: np.ndarray, qtys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return copies of ``keys`` and ``qtys`` with twice the capacity."""
    cap = keys.shape[1]
    new_keys = np.zeros((2, 2 * cap), dtype=np.int64)
    new_qtys = np.zeros((2, 2 * cap), dtype=np.int64)
    new_keys[:, :cap] = keys
    new_qtys[:, :cap] = qtys
    return new_keys, new_qtys


@numba.njit(cache=True, inline="always")
def _key(side: int, px: int) -> int:
    return px if side == BID else -px


@numba.njit(cache=True, inline="always")
def _lower_bound(keys: np.ndarray, side: int, n: int, key: int) -> int:
    """Return the first index in ``keys[side, :n]`` whose key is >= ``key``.

    Most rows touch levels near the best price, at the end of the array: a short linear
    walk from there finds them without the branch misses of a binary search, which takes
    over for deeper levels.
    """
    hi = n
    stop = max(n - _WALK, 0)
    while hi > stop and keys[side, hi - 1] >= key:
        hi -= 1
    if hi > stop or hi == 0:
        return hi
    lo = 0
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[side, mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, inline="always")
def set_level(
    keys: np.ndarray, qtys: np.ndarray, n: np.ndarray, side: int, px: int, qty: int
) -> int:
    """Set the absolute size at ``px`` on ``side``; ``qty <= 0`` removes the level."""
    key = _key(side, px)
    m = n[side]
    i = _lower_bound(keys, side, m, key)
    found = i < m and keys[side, i] == key
    if qty > 0:
        if found:
            qtys[side, i] = qty
            return BOOK_OK
        if m == keys.shape[1]:
            return BOOK_FULL
        for j in range(m, i, -1):
            keys[side, j] = keys[side, j - 1]
            qtys[side, j] = qtys[side, j - 1]
        keys[side, i] = key
        qtys[side, i] = qty
        n[side] = m + 1
    elif found:
        for j in range(i, m - 1):
            keys[side, j] = keys[side, j + 1]
            qtys[side, j] = qtys[side, j + 1]
        n[side] = m - 1
    return BOOK_OK


@numba.njit(cache=True, inline="always")
def clear_through(keys: np.ndarray, n: np.ndarray, side: int, px: int) -> None:
    """Remove one side's levels from the touch up to and including ``px``."""
    n[side] = _lower_bound(keys, side, n[side], _key(side, px))


@numba.njit(cache=True, inline="always")
def apply(keys: np.ndarray, qtys: np.ndarray, n: np.ndarray, flags: int, px: int, qty: int) -> int:
    """Apply one L2 row exactly as :meth:`hftlib.refbook.L2Book.apply` does.

    Depth and snapshot rows set a level (a row without F_BID goes to the ask side, as in
    the reference); a clear with both or no side flags, or without a price, clears whole
    sides, and a one-sided clear with a price clears through it. Other kinds are ignored.
    Return :data:`BOOK_OK` or :data:`BOOK_FULL`.
    """
    kind = flags & KIND_MASK
    if kind in (K_DEPTH, K_SNAPSHOT):
        return set_level(keys, qtys, n, BID if flags & F_BID else ASK, px, qty)
    if kind == K_CLEAR:
        has_bid = (flags & F_BID) != 0
        has_ask = (flags & F_ASK) != 0
        if has_bid == has_ask:
            n[BID] = 0
            n[ASK] = 0
        elif px == NO_PX:
            n[BID if has_bid else ASK] = 0
        else:
            clear_through(keys, n, BID if has_bid else ASK, px)
    return BOOK_OK


@numba.njit(cache=True, inline="always")
def best_px(keys: np.ndarray, n: np.ndarray, side: int) -> int:
    """Return the best tick of ``side``, or ``NO_PX`` when it is empty."""
    m = n[side]
    if m == 0:
        return NO_PX
    return int(keys[side, m - 1] if side == BID else -keys[side, m - 1])


@numba.njit(cache=True, inline="always")
def best_qty(qtys: np.ndarray, n: np.ndarray, side: int) -> int:
    """Return the size at the best level of ``side`` (0 when it is empty)."""
    m = n[side]
    return int(qtys[side, m - 1]) if m > 0 else 0


@numba.njit(cache=True, inline="always")
def crossed(keys: np.ndarray, n: np.ndarray) -> bool:
    """Return True when both sides are non-empty and the best bid is >= the best ask."""
    if n[BID] == 0 or n[ASK] == 0:
        return False
    return bool(keys[BID, n[BID] - 1] >= -keys[ASK, n[ASK] - 1])

"""Numba L2 order books that follow the price anywhere with O(1) level updates.

Several books live in one :class:`L2Book` (a leading book index ``b``: assets x venues).
Each book keeps a dense *window* of ``W`` ticks (a power of two) holding absolute sizes in
lots, ``qty[b, side, i]`` for tick ``meta[b, M_LO] + i``, plus a small unsorted *overflow*
store per side for the levels outside the window. No price range is configured: the
window is placed around the first level seen and moves with the market.

Updates
-------
* A level inside the window is one store and one compare with the best price.
* A level outside the window goes to the overflow store (a linear scan of its few
  entries). When the overflow of a side is full, the level farthest from the touch (the
  lowest bid / highest ask among the overflow and the new level) is dropped and counted in
  ``meta[b, M_DROPPED]``; the best level is never the one dropped. A dropped level is a
  hole in the deep book until the venue sends it again: size the overflow so it stays 0.
* When a best price leaves the inner 3/4 of the window, the window re-centres on the
  touch (the mid when both sides fit in half a window, else the best of the side that
  moved), moving levels between the window and the overflow: O(W + C), rare.
* Deleting the best level scans the window from the old best away from the touch (the
  gap is small in practice); the overflow is searched only when the window holds no level
  of that side or an overflow level lies beyond the window on the touch side.

Crossing rule
-------------
Setting a bid of positive size at a tick ``>=`` the best ask removes every ask level at or
below that tick (and symmetrically for an ask at or below the best bid): those levels are
stale, since a venue never leaves a crossed book. Each removed level is counted in
``meta[b, M_CROSS_REMOVED]``. The internal :func:`set_level` can skip the rule (the L3
book's aggregate follows its orders, see :mod:`hftlib.book.l3`).

Ticks
-----
Ticks must lie in ``[-TICK_LIMIT, TICK_LIMIT]`` (``TICK_LIMIT = 2**62``) so that window
arithmetic cannot overflow int64; other ticks (``NO_PX`` included) are ignored and
counted in ``meta[b, M_REJECTED]``. The book index ``b`` and ``side`` are not
bounds-checked by the numba kernels beyond ``side`` being ``BID`` or ``ASK``: callers pass
indices validated once at set-up.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from hftlib.engine.types import ASK, BID
from hftlib.jit import nrt_free, nrt_free_inline
from hftlib.types import F_ASK, F_BID, K_CLEAR, K_DEPTH, K_SNAPSHOT, KIND_MASK, NO_PX

L2Book = namedtuple("L2Book", "qty meta ovf_tick ovf_qty")
"""Arrays of several L2 books.

qty : int64 (n_books, 2, W)
    Dense window of sizes; row ``BID`` / ``ASK``; index ``i`` is tick ``meta[b, M_LO] + i``.
meta : int64 (n_books, N_META)
    Per-book state, columns ``M_*``.
ovf_tick, ovf_qty : int64 (n_books, 2, C)
    Levels outside the window, the first ``meta[b, M_N_OVF_BID + side]`` entries in use.
"""

# --- meta columns (the per-side pairs are adjacent: column + side) ----------------------
M_LO = 0
"""Tick of window index 0."""
M_BEST_BID = 1
M_BEST_ASK = 2
"""Best tick per side, ``NO_PX`` when the side is empty."""
M_N_BID = 3
M_N_ASK = 4
"""Levels with size > 0 per side (window and overflow)."""
M_N_OVF_BID = 5
M_N_OVF_ASK = 6
"""Levels per side held in the overflow store."""
M_OUT_BID = 7
M_OUT_ASK = 8
"""Overflow levels beyond the window on the touch side (bids above it, asks below it)."""
M_DROPPED = 9
"""Levels dropped because the overflow store of their side was full."""
M_RECENTERS = 10
"""Times the window moved."""
M_CROSS_REMOVED = 11
"""Levels removed by the crossing rule."""
M_INIT = 12
"""0 until the window is placed (and again once a clear empties the book)."""
M_REJECTED = 13
"""Updates ignored because their tick is outside ``[-TICK_LIMIT, TICK_LIMIT]``."""
N_META = 14

TICK_LIMIT = 1 << 62
"""Largest absolute tick the book accepts."""

CLEAR_BOTH = -1
"""``side`` argument of :func:`l2_clear` that clears both sides."""


def new_l2(n_books: int, window: int = 1 << 16, overflow: int = 4096) -> L2Book:
    """Return ``n_books`` empty L2 books.

    Parameters
    ----------
    n_books : int
        Number of books (>= 1), indexed by ``b`` in every kernel.
    window : int
        Ticks in the dense window; a power of two >= 8. Memory is ``16 * window`` bytes a
        book; the window must be wider than the spread for updates to stay O(1).
    overflow : int
        Levels per side kept outside the window (>= 1).

    Returns
    -------
    L2Book
        Zeroed sizes, both sides empty, window not yet placed.

    Raises
    ------
    ValueError
        When an argument is not an int in range or ``window`` is not a power of two.
    """
    for name, value, low in (
        ("n_books", n_books, 1),
        ("window", window, 8),
        ("overflow", overflow, 1),
    ):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise ValueError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if window & (window - 1):
        raise ValueError(f"window must be a power of two, got {window}")
    if window > 1 << 30:
        raise ValueError(f"window must be <= 2**30, got {window}")
    meta = np.zeros((n_books, N_META), dtype=np.int64)
    meta[:, M_BEST_BID] = NO_PX
    meta[:, M_BEST_ASK] = NO_PX
    return L2Book(
        np.zeros((n_books, 2, window), dtype=np.int64),
        meta,
        np.zeros((n_books, 2, overflow), dtype=np.int64),
        np.zeros((n_books, 2, overflow), dtype=np.int64),
    )


# Every kernel runs without numba's reference counting (NRT): none allocates or keeps an
# array, and the counts numba would add for the namedtuple's arrays (atomic increments it
# cannot prune across branches and loops) cost ~50 ns a call, ten times a level update.
# The entry points that take one update (set_level, l2_set, l2_apply) are numba-inlined
# two-call wrappers: the fast path (_set_fast, call-free) is then inlined by LLVM into the
# caller, and only the rare general path pays a real call, whose by-value namedtuple
# (44 words) costs ~10-20 ns. In a caller compiled with NRT, numba adds 4 refcount pairs
# around the inlined wrapper; a caller compiled with ``_nrt=False`` gets the ~2-5 ns path.


# --- small helpers ----------------------------------------------------------------------------


@nrt_free_inline
def _better(side: int, a: int, b: int) -> bool:
    """True when tick ``a`` is nearer the touch than tick ``b`` on ``side``."""
    return a > b if side == BID else a < b


@nrt_free_inline
def _beyond(side: int, lo: int, width: int, tick: int) -> bool:
    """True when ``tick`` is outside the window on the touch side of ``side``."""
    return tick >= lo + width if side == BID else tick < lo


@nrt_free_inline
def _ovf_find(book: L2Book, b: int, side: int, tick: int) -> int:
    """Return the overflow index of ``tick`` on ``side``, or -1."""
    for j in range(book.meta[b, M_N_OVF_BID + side]):
        if book.ovf_tick[b, side, j] == tick:
            return j
    return -1


@nrt_free
def _ovf_remove(book: L2Book, b: int, side: int, j: int) -> None:
    """Remove overflow entry ``j`` (swap with the last); the level count is the caller's."""
    meta = book.meta
    if _beyond(side, meta[b, M_LO], book.qty.shape[2], book.ovf_tick[b, side, j]):
        meta[b, M_OUT_BID + side] -= 1
    last = meta[b, M_N_OVF_BID + side] - 1
    book.ovf_tick[b, side, j] = book.ovf_tick[b, side, last]
    book.ovf_qty[b, side, j] = book.ovf_qty[b, side, last]
    meta[b, M_N_OVF_BID + side] = last


@nrt_free
def _ovf_push(book: L2Book, b: int, side: int, tick: int, q: int) -> int:
    """Store a level already counted in ``M_N_*`` in the overflow; return 1 if it stayed.

    When the store is full the level farthest from the touch among the entries and the new
    one is dropped (its count undone, ``M_DROPPED`` incremented).
    """
    meta = book.meta
    n = meta[b, M_N_OVF_BID + side]
    if n == book.ovf_tick.shape[2]:
        meta[b, M_DROPPED] += 1
        meta[b, M_N_BID + side] -= 1
        worst = 0
        for j in range(1, n):
            if _better(side, book.ovf_tick[b, side, worst], book.ovf_tick[b, side, j]):
                worst = j
        if not _better(side, tick, book.ovf_tick[b, side, worst]):
            return 0
        _ovf_remove(book, b, side, worst)
        n -= 1
    book.ovf_tick[b, side, n] = tick
    book.ovf_qty[b, side, n] = q
    meta[b, M_N_OVF_BID + side] = n + 1
    if _beyond(side, meta[b, M_LO], book.qty.shape[2], tick):
        meta[b, M_OUT_BID + side] += 1
    return 1


# --- re-centring ------------------------------------------------------------------------------


@nrt_free
def _rotate_left(row: np.ndarray, r: int) -> None:
    """Rotate ``row`` left by ``r`` in place (three reversals: no scratch memory)."""
    n = len(row)
    for lo, hi in ((0, r - 1), (r, n - 1), (0, n - 1)):
        while lo < hi:
            row[lo], row[hi] = row[hi], row[lo]
            lo += 1
            hi -= 1


@nrt_free
def _recenter(book: L2Book, b: int, new_lo: int) -> None:
    """Move the window of book ``b`` to start at ``new_lo``: O(W + C), no allocation.

    The window is rotated left by ``r = (new_lo - old_lo) mod W``, which maps the slots of
    the levels leaving the window onto the slots of the ticks entering it. So an overflow
    level entering the window first swaps places with the leaving level in its slot (kept
    negative as a mark until the leaving levels are pushed out): overflow room is freed
    before it is needed and nothing is dropped needlessly.
    """
    meta = book.meta
    old_lo = meta[b, M_LO]
    d = new_lo - old_lo
    if d == 0:
        return
    width = book.qty.shape[2]
    r = d & (width - 1)  # the window is a power of two: the non-negative d mod W
    if d >= width or d <= -width:
        leave_lo, leave_hi = 0, width
    elif d > 0:
        leave_lo, leave_hi = 0, d
    else:
        leave_lo, leave_hi = width + d, width
    meta[b, M_RECENTERS] += 1
    for side in range(2):
        row = book.qty[b, side]
        n = meta[b, M_N_OVF_BID + side]
        j = 0
        while j < n:
            t = book.ovf_tick[b, side, j]
            if new_lo <= t < new_lo + width:
                p = (t - new_lo + r) & (width - 1)
                if row[p] > 0:
                    book.ovf_tick[b, side, j] = old_lo + p
                    q = book.ovf_qty[b, side, j]
                    book.ovf_qty[b, side, j] = row[p]
                    row[p] = -q
                    j += 1
                else:
                    row[p] = -book.ovf_qty[b, side, j]
                    n -= 1
                    book.ovf_tick[b, side, j] = book.ovf_tick[b, side, n]
                    book.ovf_qty[b, side, j] = book.ovf_qty[b, side, n]
            else:
                j += 1
        meta[b, M_N_OVF_BID + side] = n
        for i in range(leave_lo, leave_hi):
            q = row[i]
            if q > 0:
                _ovf_push(book, b, side, old_lo + i, q)
                row[i] = 0
            elif q < 0:
                row[i] = -q
        if r:
            _rotate_left(row, r)
    meta[b, M_LO] = new_lo
    for side in range(2):
        out = 0
        for j in range(meta[b, M_N_OVF_BID + side]):
            if _beyond(side, new_lo, width, book.ovf_tick[b, side, j]):
                out += 1
        meta[b, M_OUT_BID + side] = out


@nrt_free
def _maybe_recenter(book: L2Book, b: int, side: int) -> None:
    """Re-centre the window when the best of ``side`` (which just moved) left its inner 3/4.

    The new centre is the mid when the other side's best is within half a window, else the
    best of ``side`` itself: with a wider spread both cannot sit in the inner part, and
    chasing the other side as well would move the window back and forth.
    """
    meta = book.meta
    width = book.qty.shape[2]
    margin = width >> 3
    s = meta[b, M_BEST_BID + side]
    if s == NO_PX or margin <= s - meta[b, M_LO] < width - margin:
        return
    other = meta[b, M_BEST_BID + 1 - side]
    center = s
    if other != NO_PX and abs(other - s) < width >> 1:
        center = min(s, other) + (abs(other - s) >> 1)
    _recenter(book, b, center - (width >> 1))


# --- level updates ----------------------------------------------------------------------------


@nrt_free
def _find_best(book: L2Book, b: int, side: int, old: int) -> None:
    """Set the best of ``side`` after its best level at tick ``old`` was removed."""
    meta = book.meta
    width = book.qty.shape[2]
    lo = meta[b, M_LO]
    row = book.qty[b, side]
    cand = NO_PX
    if meta[b, M_N_BID + side] - meta[b, M_N_OVF_BID + side] > 0:
        if side == BID:
            for i in range(min(old - lo - 1, width - 1), -1, -1):
                if row[i] > 0:
                    cand = lo + i
                    break
        else:
            for i in range(max(old - lo + 1, 0), width):
                if row[i] > 0:
                    cand = lo + i
                    break
    # Overflow levels are all deeper than the window unless some lie beyond it (M_OUT).
    n = meta[b, M_N_OVF_BID + side]
    if n > 0 and (cand == NO_PX or meta[b, M_OUT_BID + side] > 0):
        for j in range(n):
            t = book.ovf_tick[b, side, j]
            if cand == NO_PX or _better(side, t, cand):
                cand = t
    meta[b, M_BEST_BID + side] = cand


@nrt_free
def _delete(book: L2Book, b: int, side: int, tick: int) -> int:
    """Remove the level at ``tick``; return 1 if there was one. No re-centring."""
    meta = book.meta
    i = tick - meta[b, M_LO]
    if 0 <= i < book.qty.shape[2]:
        if book.qty[b, side, i] == 0:
            return 0
        book.qty[b, side, i] = 0
    else:
        j = _ovf_find(book, b, side, tick)
        if j < 0:
            return 0
        _ovf_remove(book, b, side, j)
    meta[b, M_N_BID + side] -= 1
    if tick == meta[b, M_BEST_BID + side]:
        _find_best(book, b, side, tick)
    return 1


@nrt_free
def _uncross(book: L2Book, b: int, side: int, tick: int) -> int:
    """Remove the opposite side's levels crossed by a level of ``side`` at ``tick``."""
    opp = 1 - side
    meta = book.meta
    removed = 0
    best = meta[b, M_BEST_BID + opp]
    while best != NO_PX and not _better(opp, tick, best):
        _delete(book, b, opp, best)
        removed += 1
        best = meta[b, M_BEST_BID + opp]
    meta[b, M_CROSS_REMOVED] += removed
    return removed


@nrt_free
def _set_fast(book: L2Book, b: int, side: int, tick: int, qty: int, uncross: bool) -> int:
    """Try the common update: return 1 / 0 (changed or not), or -1 for the general path.

    It handles a level inside the window that neither crosses, nor deletes the best, nor
    moves the best out of the inner part of the window: a few loads, compares and stores.
    When it returns -1 it has modified nothing. It calls nothing, so LLVM inlines it.
    """
    meta = book.meta
    width = book.qty.shape[2]
    if (side != BID and side != ASK) or tick < -TICK_LIMIT or tick > TICK_LIMIT:
        return -1
    lo = meta[b, M_LO]
    i = tick - lo
    if i < 0 or i >= width:
        return -1
    old = book.qty[b, side, i]
    best = meta[b, M_BEST_BID + side]
    if qty <= 0:
        # An empty book has an all-zero window, so M_INIT needs no check here.
        if old == 0:
            return 0
        if tick == best:
            return -1
        book.qty[b, side, i] = 0
        meta[b, M_N_BID + side] -= 1
        return 1
    if meta[b, M_INIT] == 0:
        return -1
    if uncross:
        opp = meta[b, M_BEST_BID + 1 - side]
        if opp != NO_PX and (opp <= tick if side == BID else opp >= tick):
            return -1
    if best == NO_PX or (tick > best if side == BID else tick < best):
        margin = width >> 3
        if i < margin or i >= width - margin:
            return -1
        meta[b, M_BEST_BID + side] = tick
    book.qty[b, side, i] = qty
    if old == 0:
        meta[b, M_N_BID + side] += 1
    return 1 if old != qty else 0


@nrt_free
def _set_slow(book: L2Book, b: int, side: int, tick: int, qty: int, uncross: bool) -> int:
    """Set a level in the general case (see :func:`set_level`)."""
    meta = book.meta
    if (side != BID and side != ASK) or tick < -TICK_LIMIT or tick > TICK_LIMIT:
        meta[b, M_REJECTED] += 1
        return 0
    if qty <= 0:
        was_best = meta[b, M_BEST_BID + side] == tick
        if meta[b, M_BEST_BID + side] == NO_PX or _delete(book, b, side, tick) == 0:
            return 0
        if was_best:
            _maybe_recenter(book, b, side)
        return 1
    width = book.qty.shape[2]
    if meta[b, M_INIT] == 0:
        meta[b, M_LO] = tick - (width >> 1)
        meta[b, M_INIT] = 1
    removed = 0
    if uncross:
        opp = meta[b, M_BEST_BID + 1 - side]
        if opp != NO_PX and not _better(side, opp, tick):
            removed = _uncross(book, b, side, tick)
    changed = 1 if removed else 0
    i = tick - meta[b, M_LO]
    if 0 <= i < width:
        old = book.qty[b, side, i]
        book.qty[b, side, i] = qty
        if old == 0:
            meta[b, M_N_BID + side] += 1
        if old != qty:
            changed = 1
    else:
        j = _ovf_find(book, b, side, tick)
        if j >= 0:
            if book.ovf_qty[b, side, j] != qty:
                book.ovf_qty[b, side, j] = qty
                changed = 1
        else:
            meta[b, M_N_BID + side] += 1
            if _ovf_push(book, b, side, tick, qty) == 1:
                changed = 1
    best = meta[b, M_BEST_BID + side]
    if best == NO_PX or _better(side, tick, best):
        meta[b, M_BEST_BID + side] = tick
        _maybe_recenter(book, b, side)
    if removed:
        _maybe_recenter(book, b, 1 - side)
    return changed


@nrt_free_inline
def set_level(book: L2Book, b: int, side: int, tick: int, qty: int, uncross: bool) -> int:
    """Set the absolute size at ``tick`` (``qty <= 0`` deletes); return 1 if the book changed.

    ``uncross`` applies the crossing rule of the module docstring.
    """
    r = _set_fast(book, b, side, tick, qty, uncross)
    if r >= 0:
        return int(r)
    return int(_set_slow(book, b, side, tick, qty, uncross))


@nrt_free
def _clear_side(book: L2Book, b: int, side: int) -> int:
    """Empty one side of book ``b``; return 1 if it had levels."""
    meta = book.meta
    had = meta[b, M_N_BID + side] > 0
    if meta[b, M_N_BID + side] - meta[b, M_N_OVF_BID + side] > 0:
        book.qty[b, side, :] = 0
    meta[b, M_N_BID + side] = 0
    meta[b, M_N_OVF_BID + side] = 0
    meta[b, M_OUT_BID + side] = 0
    meta[b, M_BEST_BID + side] = NO_PX
    if meta[b, M_N_BID] == 0 and meta[b, M_N_ASK] == 0:
        meta[b, M_INIT] = 0  # the next level places the window afresh, no re-centring
    return 1 if had else 0


@nrt_free
def _clear_through(book: L2Book, b: int, side: int, tick: int) -> int:
    """Remove the levels of ``side`` from the touch to ``tick`` inclusive; return 1 if any."""
    meta = book.meta
    changed = 0
    best = meta[b, M_BEST_BID + side]
    while best != NO_PX and not _better(side, tick, best):
        _delete(book, b, side, best)
        changed = 1
        best = meta[b, M_BEST_BID + side]
    if changed:
        _maybe_recenter(book, b, side)
    return changed


@nrt_free
def _apply_clear(book: L2Book, b: int, sides: int, px: int) -> int:
    """Apply a ``K_CLEAR`` row with side bits ``sides`` (see :func:`l2_apply`)."""
    if sides in (F_BID, F_ASK):
        side = BID if sides == F_BID else ASK
        if px == NO_PX:
            return int(_clear_side(book, b, side))
        return int(_clear_through(book, b, side, px))
    return int(_clear_side(book, b, BID) | _clear_side(book, b, ASK))


# --- public kernels ---------------------------------------------------------------------------


@nrt_free_inline
def l2_set(book: L2Book, b: int, side: int, tick: int, qty: int) -> None:
    """Set the absolute size ``qty`` lots at ``tick`` on ``side`` of book ``b``.

    ``qty <= 0`` deletes the level (deleting an absent level is a no-op). A positive size
    that crosses the other side removes the crossed levels (module docstring).
    """
    if _set_fast(book, b, side, tick, qty, True) < 0:
        _set_slow(book, b, side, tick, qty, True)


@nrt_free
def l2_clear(book: L2Book, b: int, side: int) -> None:
    """Remove every level of ``side`` (``BID``, ``ASK``, or ``CLEAR_BOTH`` = -1) of book ``b``."""
    if side in (BID, CLEAR_BOTH):
        _clear_side(book, b, BID)
    if side in (ASK, CLEAR_BOTH):
        _clear_side(book, b, ASK)


@nrt_free
def l2_best(book: L2Book, b: int, side: int) -> int:
    """Return the best tick of ``side`` of book ``b``, or ``NO_PX`` when it is empty."""
    return int(book.meta[b, M_BEST_BID + side])


@nrt_free
def l2_qty(book: L2Book, b: int, side: int, tick: int) -> int:
    """Return the lots resting at ``tick`` on ``side`` of book ``b`` (0 if none)."""
    i = tick - book.meta[b, M_LO]
    if 0 <= i < book.qty.shape[2]:
        return int(book.qty[b, side, i])
    j = _ovf_find(book, b, side, tick)
    return book.ovf_qty[b, side, j] if j >= 0 else 0


@nrt_free_inline
def _ovf_next(book: L2Book, b: int, side: int, after: int) -> int:
    """Return the overflow index of the best level worse than tick ``after`` (any if NO_PX)."""
    pick = -1
    for j in range(book.meta[b, M_N_OVF_BID + side]):
        t = book.ovf_tick[b, side, j]
        if (after == NO_PX or _better(side, after, t)) and (
            pick < 0 or _better(side, t, book.ovf_tick[b, side, pick])
        ):
            pick = j
    return pick


@nrt_free
def l2_depth(book: L2Book, b: int, side: int, out_tick: np.ndarray, out_qty: np.ndarray) -> int:
    """Write the levels of ``side`` from the touch outward; return how many were written.

    At most ``len(out_tick)`` levels are written to ``out_tick`` / ``out_qty``.
    """
    meta = book.meta
    cap = min(len(out_tick), len(out_qty))
    best = meta[b, M_BEST_BID + side]
    if cap == 0 or best == NO_PX:
        return 0
    width = book.qty.shape[2]
    lo = meta[b, M_LO]
    row = book.qty[b, side]
    win_left = meta[b, M_N_BID + side] - meta[b, M_N_OVF_BID + side]
    ovf_left = meta[b, M_N_OVF_BID + side]
    # Overflow levels come after the whole window unless some lie beyond it (M_OUT > 0):
    # only then is the overflow searched before the window runs out.
    ovf_first = meta[b, M_OUT_BID + side] > 0
    step = -1 if side == BID else 1
    i = min(best - lo, width - 1) if side == BID else max(best - lo, 0)
    last_ovf = NO_PX
    pick = -1
    k = 0
    while k < cap and (win_left > 0 or ovf_left > 0):
        if pick < 0 and ovf_left > 0 and (ovf_first or win_left == 0):
            pick = _ovf_next(book, b, side, last_ovf)
        if win_left > 0:
            while row[i] == 0:  # win_left > 0 guarantees a level further out
                i += step
            if pick < 0 or _better(side, lo + i, book.ovf_tick[b, side, pick]):
                out_tick[k] = lo + i
                out_qty[k] = row[i]
                k += 1
                win_left -= 1
                i += step
                continue
        last_ovf = book.ovf_tick[b, side, pick]
        out_tick[k] = last_ovf
        out_qty[k] = book.ovf_qty[b, side, pick]
        k += 1
        ovf_left -= 1
        pick = -1
    return k


@nrt_free_inline
def l2_apply(book: L2Book, b: int, flags: int, px: int, qty: int) -> int:
    """Apply one event row to book ``b``; return 1 if the book changed.

    ``K_DEPTH`` / ``K_SNAPSHOT`` set the level ``px`` on the side flagged ``F_BID`` or
    ``F_ASK`` (a row with neither or both is ignored). ``K_CLEAR`` with one side flag clears
    that side, through ``px`` only when ``px != NO_PX`` (from the touch to ``px``
    inclusive); both flags or none clear the whole book. Other kinds are ignored (0).
    """
    kind = flags & KIND_MASK
    sides = flags & (F_BID | F_ASK)
    if kind in (K_DEPTH, K_SNAPSHOT):
        if sides != F_BID and sides != F_ASK:
            return 0
        side = BID if sides == F_BID else ASK
        r = _set_fast(book, b, side, px, qty, True)
        return int(r if r >= 0 else _set_slow(book, b, side, px, qty, True))
    if kind == K_CLEAR:
        return int(_apply_clear(book, b, sides, px))
    return 0

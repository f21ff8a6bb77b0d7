"""The validator's pass over a chunk, in numba (private; the API is :mod:`hftlib.data.validate`).

Every check compares a row with the rows before it (the running maximum of ``local_ts``,
the previous row, the open message, the depth-sequence chain, the replayed book), so one
sequential loop does them all and reads each 64-byte row once. The state that crosses
chunk boundaries lives in ``st`` (indices ``R_*``) and the book arrays; each problem has a
counter in ``counts`` and its first examples in ``ex`` as ``(row, a, b)`` (see ``P_*``).
"""

from __future__ import annotations

import numba
import numpy as np

from hftlib.data import _l2book as book
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_REPAIRED_TS,
    F_SYNTHETIC,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    KIND_NAMES,
    NO_ID,
    NO_PX,
    SIDE_MASK,
)

# --- problems, in reporting order; example values (a, b) after each --------------------------
P_LOCAL_TS_BACKWARDS = 0  # local_ts, the largest local_ts before it
P_NEGATIVE_LATENCY = 1  # local_ts, exch_ts
P_UNKNOWN_KIND = 2  # flags, 0
P_BAD_FLAGS = 3  # flags, one of the FLAGS_* reasons
P_BAD_PRICE = 4  # flags, px
P_BAD_SIZE = 5  # flags, qty
P_DUPLICATE = 6  # seq, local_ts
P_MISSING_LAST = 7  # seq, local_ts of the row left without F_LAST
P_SPLIT_MESSAGE = 8  # seq, local_ts
P_SEQ_GAP = 9  # seq the message should chain from, aux it has
P_CROSSED_BOOK = 10  # best bid, best ask
N_PROBLEMS = 11

FLAGS_UNKNOWN_BITS = 1
FLAGS_NO_SIDE = 2
FLAGS_BOTH_SIDES = 3
FLAGS_CLEAR_NO_SIDE = 4

# --- per-kind rules ----------------------------------------------------------------------------
RULE_KNOWN = 1
RULE_ONE_SIDE = 2  # exactly one of F_BID / F_ASK
RULE_NEEDS_PX = 4  # NO_PX is not allowed
RULE_BOOK = 8  # replayed into the L2 book

KNOWN_FLAG_BITS = KIND_MASK | F_BID | F_ASK | F_LAST | F_REPAIRED_TS | F_SYNTHETIC
UNKNOWN_FLAG_BITS = 0xFFFFFFFF & ~KNOWN_FLAG_BITS
NO_RULE = np.iinfo(np.int64).min


def _rules() -> np.ndarray:
    rules = np.zeros(256, dtype=np.uint8)
    for kind in KIND_NAMES:
        rules[kind] |= RULE_KNOWN
    for kind in (K_DEPTH, K_TRADE, K_SNAPSHOT, K_BBO, K_L3_ADD):
        rules[kind] |= RULE_ONE_SIDE
    for kind in (K_DEPTH, K_SNAPSHOT, K_TRADE, K_BBO, K_L3_ADD, K_L3_MODIFY):
        rules[kind] |= RULE_NEEDS_PX
    for kind in (K_DEPTH, K_SNAPSHOT, K_CLEAR):
        rules[kind] |= RULE_BOOK
    return rules


def _min_qty() -> np.ndarray:
    """Smallest allowed qty per kind: 0 where 0 deletes, 1 where a size must be positive."""
    table = np.full(256, NO_RULE, dtype=np.int64)
    for kind in (K_DEPTH, K_BBO, K_L3_MODIFY):
        table[kind] = 0
    for kind in (K_TRADE, K_SNAPSHOT, K_L3_ADD, K_L3_CANCEL, K_L3_FILL):
        table[kind] = 1
    return table


RULES = _rules()
MIN_QTY = _min_qty()

# --- state vector ``st`` (int64) ---------------------------------------------------------------
R_HAVE_PREV = 0  # 1 once a row was seen
R_MAX_LOCAL = 1  # largest local_ts so far
R_PREV = 2  # R_PREV .. R_PREV + 8: the previous row's nine fields, in dtype order
R_LAST_SEQ = 11  # seq of the last depth or snapshot message
R_HAVE_LAST = 12  # 1 when R_LAST_SEQ is known
R_AFTER_SNAPSHOT = 13  # 1 until the first depth message after a snapshot
R_DIRTY = 14  # 1 when a book row was applied since the last F_LAST row
R_MESSAGES = 15  # F_LAST rows seen
R_RESUME = 16  # row to continue at after ST_GROW / ST_PROBLEM
R_SIZE = 17

ST_DONE = 0  # the whole chunk was checked
ST_GROW = 1  # the book is full: grow it and call again at st[R_RESUME]
ST_PROBLEM = 2  # strict mode: the row before st[R_RESUME] had a problem


@numba.njit(cache=True, inline="always")
def _hit(counts: np.ndarray, ex: np.ndarray, p: int, row: int, a: int, b: int) -> int:
    k = counts[p]
    if k < ex.shape[1]:
        ex[p, k, 0] = row
        ex[p, k, 1] = a
        ex[p, k, 2] = b
    counts[p] = k + 1
    return 1 << p


@numba.njit(cache=True, inline="always")
def _flags_problem(flags: int, kind: int, rule: int) -> int:
    """Return the FLAGS_* reason why ``flags`` is malformed for a known kind, or 0."""
    side = flags & SIDE_MASK
    if flags & UNKNOWN_FLAG_BITS:
        return FLAGS_UNKNOWN_BITS
    if side == SIDE_MASK and kind != K_CLEAR:
        return FLAGS_BOTH_SIDES
    if rule & RULE_ONE_SIDE and side == 0:
        return FLAGS_NO_SIDE
    if side == 0 and kind == K_CLEAR:
        return FLAGS_CLEAR_NO_SIDE
    return 0


@numba.njit(cache=True, inline="always")
def _chain(seq: int, aux: int, st: np.ndarray, counts: np.ndarray, ex: np.ndarray, row: int) -> int:
    """Check a depth row against the sequence chain and advance it; return its problem bit."""
    if st[R_HAVE_LAST] == 1 and seq == st[R_LAST_SEQ]:
        return 0  # a later row of a message already checked
    bit = 0
    if aux != NO_ID and st[R_HAVE_LAST] == 1:
        last = st[R_LAST_SEQ]
        # After a snapshot, Binance's bridging rule: the first update covers the snapshot id.
        gap = not (aux <= last < seq) if st[R_AFTER_SNAPSHOT] == 1 else aux != last
        if gap:
            bit = _hit(counts, ex, P_SEQ_GAP, row, last, aux)
    st[R_LAST_SEQ] = seq
    st[R_HAVE_LAST] = 1 if seq != NO_ID else 0
    st[R_AFTER_SNAPSHOT] = 0
    return bit


@numba.njit(cache=True)
def check(
    ev: np.ndarray,
    keys: np.ndarray,
    qtys: np.ndarray,
    nlev: np.ndarray,
    st: np.ndarray,
    counts: np.ndarray,
    kinds: np.ndarray,
    ex: np.ndarray,
    start: int,
    offset: int,
    strict: bool,
) -> int:
    """Check rows ``start:`` of the chunk ``ev``, carrying state in ``st`` and the book.

    Parameters
    ----------
    ev : ndarray of EVENT_DTYPE
        The chunk (read only).
    keys, qtys, nlev : ndarray
        The L2 book (see :mod:`hftlib.data._l2book`).
    st : ndarray of int64
        Carried state (``R_*``).
    counts : ndarray of int64, shape (N_PROBLEMS,)
        Rows per problem, incremented.
    kinds : ndarray of int64, shape (256,)
        Rows per kind, incremented.
    ex : ndarray of int64, shape (N_PROBLEMS, max_examples, 3)
        First examples ``(stream row, a, b)`` of each problem.
    start : int
        First chunk row to check.
    offset : int
        Stream row number of ``ev[0]``.
    strict : bool
        Stop after the first row with a problem.

    Returns
    -------
    int
        ``ST_DONE``, ``ST_GROW`` (nothing of row ``st[R_RESUME]`` was done yet) or
        ``ST_PROBLEM`` (row ``st[R_RESUME] - 1`` had one; it was fully processed).
    """
    cap = keys.shape[1]
    for i in range(start, ev.shape[0]):
        if nlev[0] >= cap or nlev[1] >= cap:
            st[R_RESUME] = i
            return ST_GROW
        r = ev[i]
        flags = r["flags"]
        exch = r["exch_ts"]
        local = r["local_ts"]
        px = r["px"]
        qty = r["qty"]
        seq = r["seq"]
        row = offset + i
        kind = flags & KIND_MASK
        rule = RULES[kind]
        hits = 0

        # --- timestamps
        if st[R_HAVE_PREV] == 1 and local < st[R_MAX_LOCAL]:
            hits |= _hit(counts, ex, P_LOCAL_TS_BACKWARDS, row, local, st[R_MAX_LOCAL])
        if st[R_HAVE_PREV] == 0 or local > st[R_MAX_LOCAL]:
            st[R_MAX_LOCAL] = local
        if local < exch:
            hits |= _hit(counts, ex, P_NEGATIVE_LATENCY, row, local, exch)

        # --- the row on its own
        if rule & RULE_KNOWN == 0:
            hits |= _hit(counts, ex, P_UNKNOWN_KIND, row, flags, 0)
        else:
            why = _flags_problem(flags, kind, rule)
            if why != 0:
                hits |= _hit(counts, ex, P_BAD_FLAGS, row, flags, why)
            if (px < 0 and px != NO_PX) or (px == NO_PX and rule & RULE_NEEDS_PX):
                hits |= _hit(counts, ex, P_BAD_PRICE, row, flags, px)
            if qty < MIN_QTY[kind]:
                hits |= _hit(counts, ex, P_BAD_SIZE, row, flags, qty)
        row_ok = (hits & ~((1 << P_LOCAL_TS_BACKWARDS) | (1 << P_NEGATIVE_LATENCY))) == 0

        # --- against the previous row
        if st[R_HAVE_PREV] == 1:
            p = R_PREV
            prev_seq = st[p + 7]
            prev_local = st[p + 3]
            if (
                flags == st[p]
                and r["asset"] == st[p + 1]
                and exch == st[p + 2]
                and local == prev_local
                and px == st[p + 4]
                and qty == st[p + 5]
                and r["order_id"] == st[p + 6]
                and seq == prev_seq
                and r["aux"] == st[p + 8]
            ):
                hits |= _hit(counts, ex, P_DUPLICATE, row, seq, local)
            same_message = seq == prev_seq and local == prev_local
            if st[p] & F_LAST:
                # A message of another kind may share the id and arrival time: Binance USD-M
                # diffs ending at the snapshot's id are released with the snapshot.
                if same_message and kind == st[p] & KIND_MASK:
                    hits |= _hit(counts, ex, P_SPLIT_MESSAGE, row, seq, local)
            elif not same_message:
                hits |= _hit(counts, ex, P_MISSING_LAST, row, prev_seq, prev_local)

        # --- book and chain (rows that failed a row check are left out)
        if row_ok and rule & RULE_BOOK:
            book.apply(keys, qtys, nlev, flags, px, qty)  # room was checked above
            st[R_DIRTY] = 1
            if kind == K_DEPTH:
                hits |= _chain(seq, r["aux"], st, counts, ex, row)
            elif kind == K_SNAPSHOT:
                st[R_LAST_SEQ] = seq
                st[R_HAVE_LAST] = 1 if seq != NO_ID else 0
                st[R_AFTER_SNAPSHOT] = 1
        if flags & F_LAST:
            st[R_MESSAGES] += 1
            if st[R_DIRTY] == 1:
                st[R_DIRTY] = 0
                if book.crossed(keys, nlev):
                    hits |= _hit(
                        counts,
                        ex,
                        P_CROSSED_BOOK,
                        row,
                        book.best_px(keys, nlev, book.BID),
                        book.best_px(keys, nlev, book.ASK),
                    )

        kinds[kind] += 1
        st[R_HAVE_PREV] = 1
        st[R_PREV] = flags
        st[R_PREV + 1] = r["asset"]
        st[R_PREV + 2] = exch
        st[R_PREV + 3] = local
        st[R_PREV + 4] = px
        st[R_PREV + 5] = qty
        st[R_PREV + 6] = r["order_id"]
        st[R_PREV + 7] = seq
        st[R_PREV + 8] = r["aux"]
        if strict and hits != 0:
            st[R_RESUME] = i + 1
            return ST_PROBLEM
    st[R_RESUME] = ev.shape[0]
    return ST_DONE

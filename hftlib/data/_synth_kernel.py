"""Numba kernels of the synthetic market (private; the API is :mod:`hftlib.data.synth`).

The market state is a handful of int64 scalars in ``st`` (indices ``S_*``) and two rings of
``levels`` sizes, one per side. The bid ring holds ticks ``bid - levels + 1 .. bid`` and the
ask ring ``ask .. ask + levels - 1``; a tick lives in slot ``tick % levels``, so when the
touch moves by one tick the level that leaves the window and the level that enters it share
a slot and nothing is shifted. Every level inside the window is non-empty, so the book is
exactly the window and never crosses.

Messages are generated whole into a small buffer ``msg`` and copied out row by row; rows
that do not fit in the current chunk wait there for the next call. The random draws
therefore never depend on the chunk size, which makes the output chunk-size invariant.
"""

from __future__ import annotations

import numba
import numpy as np

from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
)

# --- state vector ``st`` (int64) ------------------------------------------------------------
S_BID = 0  # best bid tick
S_ASK = 1  # best ask tick
S_EXCH = 2  # exchange time of the last message
S_LOCAL = 3  # local time of the last message (local_ts never goes back)
S_DEPTH_SEQ = 4  # seq of the last depth/snapshot message (the next one chains from it)
S_TRADE_ID = 5  # id of the last trade
S_POS = 6  # next row of ``msg`` to copy out
S_END = 7  # rows held in ``msg``
S_EMITTED = 8  # rows emitted so far
S_STARTED = 9  # 1 once the opening snapshot is generated
S_SIZE = 10

# --- parameter vector ``pf`` (float64; the integers here are small enough to be exact) -------
P_MEAN_GAP_NS = 0
P_LATENCY_MIN_NS = 1
P_LATENCY_JITTER_NS = 2
P_TRADE_PROB = 3
P_CANCEL_PROB = 4
P_REFILL_PROB = 5
P_MAX_SPREAD = 6
P_TOUCH_FOCUS = 7
P_QTY_MEAN = 8
P_TRADE_QTY_MEAN = 9
P_BATCH_MEAN = 10
P_ASSET = 11
P_SIZE = 12

MAX_BATCH = 16
"""Most level updates in one depth message."""

DEPTH_SEQ0 = 1_000_000_000_000
"""Seq of the opening snapshot; depth seqs count up from it, far from the trade ids."""


def msg_capacity(levels: int) -> int:
    """Return the rows the message buffer needs: the snapshot, a batch or a trade + update."""
    return max(1 + 2 * levels, MAX_BATCH, 3)


@numba.njit(cache=True, inline="always")
def _put(
    msg: np.ndarray,
    j: int,
    flags: int,
    exch: int,
    local: int,
    px: int,
    qty: int,
    seq: int,
    aux: int,
    asset: int,
) -> None:
    row = msg[j]
    row["flags"] = flags
    row["asset"] = asset
    row["exch_ts"] = exch
    row["local_ts"] = local
    row["px"] = px
    row["qty"] = qty
    row["order_id"] = NO_ID
    row["seq"] = seq
    row["aux"] = aux


@numba.njit(cache=True, inline="always")
def _stamp(st: np.ndarray, rng: np.random.Generator, pf: np.ndarray) -> int:
    """Draw a feed latency and return the message's local_ts (never before the last one)."""
    lat = int(pf[P_LATENCY_MIN_NS]) + int(rng.standard_exponential() * pf[P_LATENCY_JITTER_NS])
    local = int(max(st[S_LOCAL], st[S_EXCH] + lat))
    st[S_LOCAL] = local
    return local


@numba.njit(cache=True, inline="always")
def _draw_qty(rng: np.random.Generator, mean: float) -> int:
    """Draw a size in lots >= 1 with the given mean (geometric)."""
    return int(rng.geometric(1.0 / mean))


@numba.njit(cache=True, inline="always")
def _end_depth_message(msg: np.ndarray, first: int, end: int, st: np.ndarray) -> None:
    """Give rows ``first:end`` the next depth seq, chain them to the last one, mark F_LAST."""
    prev = st[S_DEPTH_SEQ]
    seq = prev + (end - first)
    for j in range(first, end):
        msg[j]["seq"] = seq
        msg[j]["aux"] = prev
    msg[end - 1]["flags"] |= F_LAST
    st[S_DEPTH_SEQ] = seq


@numba.njit(cache=True, inline="always")
def _snapshot(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Write the opening whole-book snapshot: one K_CLEAR, then every level of each side.

    The snapshot is stamped with the start time already in ``st[S_EXCH]``.
    """
    levels = bid_q.shape[0]
    asset = int(pf[P_ASSET])
    local = _stamp(st, rng, pf)
    seq = st[S_DEPTH_SEQ]
    bid = st[S_BID]
    ask = st[S_ASK]
    _put(msg, 0, K_CLEAR | F_BID | F_ASK, st[S_EXCH], local, NO_PX, 0, seq, NO_ID, asset)
    j = 1
    for d in range(levels):
        q = _draw_qty(rng, pf[P_QTY_MEAN])
        bid_q[(bid - d) % levels] = q
        _put(msg, j, K_SNAPSHOT | F_BID, st[S_EXCH], local, bid - d, q, seq, NO_ID, asset)
        j += 1
    for d in range(levels):
        q = _draw_qty(rng, pf[P_QTY_MEAN])
        ask_q[(ask + d) % levels] = q
        _put(msg, j, K_SNAPSHOT | F_ASK, st[S_EXCH], local, ask + d, q, seq, NO_ID, asset)
        j += 1
    msg[j - 1]["flags"] |= F_LAST
    return j


@numba.njit(cache=True, inline="always")
def _remove_touch(
    msg: np.ndarray,
    j: int,
    is_bid: bool,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
    local: int,
) -> int:
    """Delete one side's touch and admit the level that enters the window at the far end.

    Writes two rows from ``j`` (seq/aux/F_LAST are set by the caller) and returns the
    next free row. The spread widens by one tick.
    """
    levels = bid_q.shape[0]
    asset = int(pf[P_ASSET])
    q = _draw_qty(rng, pf[P_QTY_MEAN])
    if is_bid:
        touch = st[S_BID]
        far = touch - levels  # the slot of ``touch`` is the slot of ``far``
        bid_q[touch % levels] = q
        st[S_BID] = touch - 1
        side = F_BID
    else:
        touch = st[S_ASK]
        far = touch + levels
        ask_q[touch % levels] = q
        st[S_ASK] = touch + 1
        side = F_ASK
    _put(msg, j, K_DEPTH | side, st[S_EXCH], local, touch, 0, 0, 0, asset)
    _put(msg, j + 1, K_DEPTH | side, st[S_EXCH], local, far, q, 0, 0, asset)
    return j + 2


@numba.njit(cache=True, inline="always")
def _refill(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Place a new level one tick inside the spread; the far level of that side leaves."""
    levels = bid_q.shape[0]
    asset = int(pf[P_ASSET])
    # A fair coin makes the mid a martingale; near tick 0 only the bid may step in (up).
    is_bid = rng.random() < 0.5 or st[S_BID] - levels < 1
    q = _draw_qty(rng, pf[P_QTY_MEAN])
    local = _stamp(st, rng, pf)
    if is_bid:
        touch = st[S_BID] + 1
        far = touch - levels
        bid_q[touch % levels] = q
        st[S_BID] = touch
        side = F_BID
    else:
        touch = st[S_ASK] - 1
        far = touch + levels
        ask_q[touch % levels] = q
        st[S_ASK] = touch
        side = F_ASK
    _put(msg, 0, K_DEPTH | side, st[S_EXCH], local, touch, q, 0, 0, asset)
    _put(msg, 1, K_DEPTH | side, st[S_EXCH], local, far, 0, 0, 0, asset)
    _end_depth_message(msg, 0, 2, st)
    return 2


@numba.njit(cache=True, inline="always")
def _trade(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Write a trade message and the depth message that shows the touch it consumed."""
    levels = bid_q.shape[0]
    asset = int(pf[P_ASSET])
    buy = rng.random() < 0.5
    q = _draw_qty(rng, pf[P_TRADE_QTY_MEAN])
    # A sell that empties the bid touch would push the bid window below tick 1.
    if not buy and q >= bid_q[st[S_BID] % levels] and st[S_BID] - levels < 1:
        buy = True
    # The aggressor's side flags the trade; the level it hits is on the other side.
    if buy:
        touch = st[S_ASK]
        rest = ask_q[touch % levels]
        aggressor = F_BID
        resting = F_ASK
    else:
        touch = st[S_BID]
        rest = bid_q[touch % levels]
        aggressor = F_ASK
        resting = F_BID
    q = min(q, rest)
    st[S_TRADE_ID] += 1
    local = _stamp(st, rng, pf)
    tid = st[S_TRADE_ID]
    _put(msg, 0, K_TRADE | aggressor | F_LAST, st[S_EXCH], local, touch, q, tid, NO_ID, asset)
    local = _stamp(st, rng, pf)
    if q == rest:
        end = _remove_touch(msg, 1, not buy, st, bid_q, ask_q, rng, pf, local)
    else:
        if buy:
            ask_q[touch % levels] = rest - q
        else:
            bid_q[touch % levels] = rest - q
        _put(msg, 1, K_DEPTH | resting, st[S_EXCH], local, touch, rest - q, 0, 0, asset)
        end = 2
    _end_depth_message(msg, 1, end, st)
    return end


@numba.njit(cache=True, inline="always")
def _cancel_touch(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Pull one side's touch without a trade (the spread widens by one tick)."""
    levels = bid_q.shape[0]
    is_bid = rng.random() < 0.5 and st[S_BID] - levels >= 1
    local = _stamp(st, rng, pf)
    end = _remove_touch(msg, 0, is_bid, st, bid_q, ask_q, rng, pf, local)
    _end_depth_message(msg, 0, end, st)
    return end


@numba.njit(cache=True, inline="always")
def _depth_batch(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Write 1..MAX_BATCH absolute level updates, geometric in distance from the touch."""
    levels = bid_q.shape[0]
    asset = int(pf[P_ASSET])
    rows = min(int(rng.geometric(1.0 / pf[P_BATCH_MEAN])), MAX_BATCH)
    local = _stamp(st, rng, pf)
    prev_side = 0
    prev_d = -1
    for j in range(rows):
        is_bid = rng.random() < 0.5
        d = min(int(rng.geometric(pf[P_TOUCH_FOCUS])) - 1, levels - 1)
        side = F_BID if is_bid else F_ASK
        if side == prev_side and d == prev_d:
            # Two updates of one level in a row could repeat a whole row (a "duplicate").
            d = (d + 1) % levels
        q = _draw_qty(rng, pf[P_QTY_MEAN])
        if is_bid:
            px = st[S_BID] - d
            bid_q[px % levels] = q
        else:
            px = st[S_ASK] + d
            ask_q[px % levels] = q
        _put(msg, j, K_DEPTH | side, st[S_EXCH], local, px, q, 0, 0, asset)
        prev_side = side
        prev_d = d
    _end_depth_message(msg, 0, rows, st)
    return rows


@numba.njit(cache=True)
def next_message(
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
) -> int:
    """Generate the next message(s) into ``msg`` and return the number of rows written."""
    if st[S_STARTED] == 0:
        st[S_STARTED] = 1
        return _snapshot(msg, st, bid_q, ask_q, rng, pf)
    # Exponential gaps: Poisson arrivals; +1 keeps exchange time strictly increasing.
    st[S_EXCH] += 1 + int(rng.standard_exponential() * pf[P_MEAN_GAP_NS])
    spread = st[S_ASK] - st[S_BID]
    if spread > 1 and (spread >= int(pf[P_MAX_SPREAD]) or rng.random() < pf[P_REFILL_PROB]):
        return _refill(msg, st, bid_q, ask_q, rng, pf)
    u = rng.random()
    if u < pf[P_TRADE_PROB]:
        return _trade(msg, st, bid_q, ask_q, rng, pf)
    if u < pf[P_TRADE_PROB] + pf[P_CANCEL_PROB]:
        return _cancel_touch(msg, st, bid_q, ask_q, rng, pf)
    return _depth_batch(msg, st, bid_q, ask_q, rng, pf)


@numba.njit(cache=True)
def fill_chunk(
    out: np.ndarray,
    msg: np.ndarray,
    st: np.ndarray,
    bid_q: np.ndarray,
    ask_q: np.ndarray,
    rng: np.random.Generator,
    pf: np.ndarray,
    limit: int,
) -> int:
    """Copy generated rows into ``out`` until it is full or ``limit`` rows exist in all.

    The row that reaches ``limit`` gets F_LAST, so a stream cut inside a message still
    ends on a consistent book. Return the number of rows written.
    """
    n = 0
    cap = out.shape[0]
    while n < cap and st[S_EMITTED] < limit:
        if st[S_POS] == st[S_END]:
            st[S_END] = next_message(msg, st, bid_q, ask_q, rng, pf)
            st[S_POS] = 0
        out[n] = msg[st[S_POS]]
        st[S_POS] += 1
        st[S_EMITTED] += 1
        n += 1
    if n > 0 and st[S_EMITTED] == limit:
        out[n - 1]["flags"] |= F_LAST
    return n

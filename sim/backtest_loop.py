"""The backtest event loop: one pass over a merged event stream (numba).

This module is also the template the engine specialises per strategy
(:mod:`hftlib.engine.codegen`): the "strategy binding" block is replaced by an import of
the strategy's callbacks, so :func:`run` calls them as compiled globals and numba can cache
the whole loop on disk (a dispatcher passed as an argument cannot be cached). As written
it runs the no-op callbacks: a pure replay.

Two timelines are kept apart. The venue sees each row at its exchange timestamp (updating
its book, queues and fills); the strategy sees the same row at its local timestamp,
``exch_ts`` + feed latency. Requests travel to the venue with the entry latency and reports
come back with the response latency. Each step handles the earliest of: the next row at
the venue, the next request arrival, the next row at the strategy, the next report, the
next timer, the next recorder sample; ties go in that order.

The loop works on a buffer of rows and returns to the host when it needs more data
(``NEED_DATA``: the venue cursor reached the end of a buffer that is not the last), when
a log buffer is nearly full (``LOGS_FULL``) or at the end (``DONE``). The host keeps the
rows the strategy has not seen yet, appends the next chunk and calls again, so memory
stays flat however long the stream.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Final

import numpy as np
from hftlib.sim.latency import entry_latency
from hftlib.sim.replay import (
    N_RQ,
    RQ_ARRIVE_TS,
    RQ_ASSET,
    RQ_KIND,
    RQ_ORDER_ID,
    RQ_OTYPE,
    RQ_PX,
    RQ_QTY,
    RQ_SIDE,
    RQ_SLOT,
    RQ_TIF,
    RS_ACK,
    RS_DONE,
    RS_FILL,
    RS_MODIFIED,
    RS_REQ_REJECTED,
    TOUCH_FULL,
    TOUCH_NONE,
    TOUCH_QUEUE,
    VS_LIVE_N,
    VS_NOW,
    VS_QUEUE_MODEL,
    Venue,
    depth_at_our_level,
    l3_row,
    market_row,
    next_response_ts,
    on_request,
    pop_response,
    touch,
)
from numba import njit

from hftlib.book.l2 import L2Book, l2_apply, l2_best
from hftlib.book.l3 import L3Book, l3_apply
from hftlib.engine.apply import (
    apply_ack,
    apply_done,
    apply_fill,
    apply_modified,
    apply_request_rejected,
)
from hftlib.engine.context import (
    AC_BALANCE,
    AC_FEES,
    AC_FILLS,
    AC_VOLUME,
    CLK_NOW,
    CLK_OUT_N,
    LT_FEED,
    OP_COUNT,
    OUT_KIND,
    OUT_SLOT,
    TR_EXCH_TS,
    TR_LOCAL_TS,
    TR_PX,
    TR_QTY,
    TR_SIDE,
    Ctx,
)
from hftlib.engine.contract import position_value
from hftlib.engine.noop import on_book, on_end, on_order, on_start, on_timer, on_trade
from hftlib.engine.types import (
    ASK,
    BID,
    BUY,
    INSTR_LOT,
    INSTR_MULT,
    INSTR_TICK,
    REQ_MODIFY,
    REQ_NEW,
    SELL,
    ST_PENDING,
)
from hftlib.jit import nrt_free, nrt_free_internal, nrt_free_internal_inline, nrt_kernel
from hftlib.types import (
    F_BID,
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_FILL,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
)

# --- strategy binding: hftlib.engine.codegen puts the strategy's imports here -----------------
HAS_ON_BOOK = False
HAS_ON_TRADE = False
HAS_ON_ORDER = False
# --- end of strategy binding ------------------------------------------------------------------


# The loop runs without reference counting (nrt_free_internal); strategy code may allocate,
# so each callback is entered through a trampoline compiled with it: numba compiles a callee
# with its caller's reference-counting setting unless the callee sets one itself.
@nrt_kernel
def _cb_start(ctx: Ctx, state: Any) -> None:
    on_start(ctx, state)


@nrt_kernel
def _cb_book(ctx: Ctx, state: Any, asset: int) -> None:
    on_book(ctx, state, asset)


@nrt_kernel
def _cb_trade(ctx: Ctx, state: Any, asset: int) -> None:
    on_trade(ctx, state, asset)


@nrt_kernel
def _cb_order(ctx: Ctx, state: Any, slot: int) -> None:
    on_order(ctx, state, slot)


@nrt_kernel
def _cb_timer(ctx: Ctx, state: Any, timer_id: int) -> None:
    on_timer(ctx, state, timer_id)


@nrt_kernel
def _cb_end(ctx: Ctx, state: Any) -> None:
    on_end(ctx, state)


DONE: Final = 0
NEED_DATA: Final = 1
LOGS_FULL: Final = 2
BAD_CURSOR: Final = 3

# loop state (int64 columns of ``Loop.state``)
LS_IE: Final = 0  # venue cursor into the buffer
LS_IL: Final = 1  # strategy cursor into the buffer
LS_VENUE_CLOCK: Final = 2  # latest exchange time handed to the venue (rows are clamped to it)
LS_STARTED: Final = 3
LS_ENDED: Final = 4
LS_REC_NEXT: Final = 5  # next sample time
LS_REC_INTERVAL: Final = 6
LS_RQ_HEAD: Final = 7
LS_RQ_N: Final = 8
LS_RQ_LAST: Final = 9  # latest request arrival time (requests arrive in the order sent)
LS_REC_N: Final = 10
LS_FILL_N: Final = 11
LS_OLOG_N: Final = 12
LS_ROWS: Final = 13  # rows the strategy has seen
LS_RQ_DROPPED: Final = 14
LS_LAST_TS: Final = 15
LS_AHEAD_N: Final = 16  # rows the venue handled ahead of its cursor, not yet passed
N_LS: Final = 17

CAUGHT_UP: Final = 0
TOOK: Final = 1
NEED_MORE: Final = 2

AHEAD_ROWS: Final = 4096
"""How far (rows) the venue looks past its cursor for rows of an earlier exchange time."""
AHEAD_NS: Final = 100_000_000
"""...and how far in local time (100 ms): rows received later than that are taken in the
order received. (On the Binance USD-M recording, rows arrive at most 86 ms out of exchange
order, median 6 ms.)"""

Loop = namedtuple("Loop", ["state", "rq", "rec", "fills", "olog", "l3", "ahead"])
"""Loop state: cursors and clocks, the request queue, log buffers, the strategy-side L3
book whose aggregate ``l3.l2`` is ``ctx.book`` (L3 rows keep the strategy's L2 view), and
``ahead``: positions of rows the venue handled before its cursor reached them (keyed by
position modulo ``AHEAD_ROWS``, -1 when free)."""

_MAX: Final = np.iinfo(np.int64).max


def new_loop(
    n_assets: int,
    record_interval_ns: int,
    l3: L3Book,
    *,
    request_capacity: int = 1 << 14,
    log_capacity: int = 1 << 16,
) -> Loop:
    """Return the loop state with empty log buffers; ``l3.l2`` must be the context's book."""
    from hftlib.engine.types import FILL_DTYPE, ORDER_LOG_DTYPE, RECORD_DTYPE

    if record_interval_ns <= 0:
        raise ValueError(f"record interval must be > 0 ns, got {record_interval_ns}")
    state = np.zeros(N_LS, dtype=np.int64)
    state[LS_REC_INTERVAL] = record_interval_ns
    state[LS_VENUE_CLOCK] = np.iinfo(np.int64).min
    return Loop(
        state=state,
        rq=np.zeros((request_capacity, N_RQ), dtype=np.int64),
        rec=np.zeros(max(log_capacity, 4 * n_assets), dtype=RECORD_DTYPE),
        fills=np.zeros(log_capacity, dtype=FILL_DTYPE),
        olog=np.zeros(log_capacity, dtype=ORDER_LOG_DTYPE),
        l3=l3,
        ahead=np.full(AHEAD_ROWS, -1, dtype=np.int64),
    )


def rebase(lp: Loop, shift: int) -> None:
    """Move the cursors (and rows taken ahead) back by ``shift`` rows: the host dropped them."""
    lp.state[LS_IE] -= shift
    lp.state[LS_IL] -= shift
    taken = lp.ahead[lp.ahead >= 0] - shift
    lp.ahead[:] = -1
    lp.ahead[taken % lp.ahead.shape[0]] = taken


# --- logs -------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def log_order(lp: Loop, ctx: Ctx, slot: int) -> None:
    n = lp.state[LS_OLOG_N]
    if n >= lp.olog.shape[0]:
        return
    o = ctx.orders[slot]
    r = lp.olog[n]
    r["local_ts"] = ctx.clock[CLK_NOW]
    r["exch_ts"] = o["exch_ts"]
    r["order_id"] = o["order_id"]
    r["client_id"] = o["client_id"]
    r["asset"] = o["asset"]
    r["side"] = o["side"]
    r["px"] = o["px"]
    r["qty"] = o["qty"]
    r["leaves"] = o["leaves"]
    r["otype"] = o["otype"]
    r["tif"] = o["tif"]
    r["status"] = o["status"]
    r["reason"] = o["reason"]
    lp.state[LS_OLOG_N] = n + 1


@njit(cache=True, inline="always")
def log_fill(
    lp: Loop, ctx: Ctx, slot: int, exch_ts: int, px: int, qty: int, maker: int, fee: float
) -> None:
    n = lp.state[LS_FILL_N]
    if n >= lp.fills.shape[0]:
        return
    o = ctx.orders[slot]
    r = lp.fills[n]
    r["exch_ts"] = exch_ts
    r["local_ts"] = ctx.clock[CLK_NOW]
    r["order_id"] = o["order_id"]
    r["client_id"] = o["client_id"]
    r["asset"] = o["asset"]
    r["side"] = o["side"]
    r["px"] = px
    r["qty"] = qty
    r["maker"] = maker
    r["fee"] = fee
    r["position"] = ctx.position[o["asset"]]
    lp.state[LS_FILL_N] = n + 1


@nrt_free_internal
def _record(lp: Loop, ctx: Ctx, ts: int) -> None:
    n_assets = ctx.instr.shape[0]
    n = lp.state[LS_REC_N]
    for a in range(n_assets):
        r = lp.rec[n + a]
        instr = ctx.instr[a]
        bid = l2_best(ctx.book, a, BID)
        ask = l2_best(ctx.book, a, ASK)
        r["ts"] = ts
        r["asset"] = a
        acct = ctx.account[a]
        if bid != NO_PX and ask != NO_PX:
            mid = 0.5 * (bid + ask) * instr[INSTR_TICK]
            r["mid"] = mid
            r["equity"] = acct[AC_BALANCE] + position_value(instr, ctx.position[a], mid)
        else:
            r["mid"] = np.nan
            r["equity"] = acct[AC_BALANCE]
        r["position"] = ctx.position[a] * instr[INSTR_LOT] * instr[INSTR_MULT]
        r["balance"] = acct[AC_BALANCE]
        r["fees"] = acct[AC_FEES]
        r["volume"] = acct[AC_VOLUME]
        r["trades"] = int(acct[AC_FILLS])
        r["open_orders"] = ctx.open_state[a, OP_COUNT]
    lp.state[LS_REC_N] = n + n_assets


# --- requests out -----------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _drain(lp: Loop, ctx: Ctx, v: Venue) -> None:
    """Send every request the strategy queued, with the entry latency."""
    n_out = ctx.clock[CLK_OUT_N]
    if n_out == 0:
        return
    now = ctx.clock[CLK_NOW]
    st = lp.state
    cap = lp.rq.shape[0]
    for k in range(n_out):
        kind = ctx.outbox[k, OUT_KIND]
        slot = ctx.outbox[k, OUT_SLOT]
        o = ctx.orders[slot]
        if st[LS_RQ_N] >= cap:
            st[LS_RQ_DROPPED] += 1
            continue
        arrive = now + entry_latency(v.lat, now)
        if arrive < st[LS_RQ_LAST]:
            arrive = st[LS_RQ_LAST]  # requests reach the venue in the order they were sent
        st[LS_RQ_LAST] = arrive
        rq = lp.rq[(st[LS_RQ_HEAD] + st[LS_RQ_N]) % cap]
        st[LS_RQ_N] += 1
        rq[RQ_ARRIVE_TS] = arrive
        rq[RQ_KIND] = kind
        rq[RQ_SLOT] = slot
        rq[RQ_ORDER_ID] = o["order_id"]
        rq[RQ_ASSET] = o["asset"]
        rq[RQ_SIDE] = o["side"]
        rq[RQ_TIF] = o["tif"]
        rq[RQ_OTYPE] = o["otype"]
        if kind == REQ_MODIFY:
            rq[RQ_PX] = o["req_px"]
            rq[RQ_QTY] = o["req_qty"]
        else:
            rq[RQ_PX] = o["px"]
            rq[RQ_QTY] = o["qty"]
        if kind == REQ_NEW and o["status"] == ST_PENDING:
            log_order(lp, ctx, slot)
    ctx.clock[CLK_OUT_N] = 0


# --- reports in -------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _deliver(lp: Loop, ctx: Ctx, v: Venue, state: Any) -> None:
    i = pop_response(v)
    r = v.resp[i]
    slot = r["slot"]
    oid = r["order_id"]
    kind = r["kind"]
    exch_ts = r["exch_ts"]
    local_ts = ctx.clock[CLK_NOW]
    changed = False
    if kind == RS_ACK:
        changed = apply_ack(ctx, slot, oid, exch_ts, local_ts)
    elif kind == RS_FILL:
        changed = apply_fill(ctx, slot, oid, exch_ts, local_ts, r["px"], r["qty"], r["fee"])
        if changed:
            log_fill(lp, ctx, slot, exch_ts, r["px"], r["qty"], r["maker"], r["fee"])
    elif kind == RS_DONE:
        changed = apply_done(ctx, slot, oid, r["status"], r["reason"], exch_ts, local_ts)
    elif kind == RS_MODIFIED:
        changed = apply_modified(ctx, slot, oid, r["px"], r["qty"], exch_ts, local_ts)
    elif kind == RS_REQ_REJECTED:
        changed = apply_request_rejected(
            ctx, slot, oid, r["status"], r["reason"], exch_ts, local_ts
        )
    if changed:
        log_order(lp, ctx, slot)
        if HAS_ON_ORDER:
            _cb_order(ctx, state, slot)
            _drain(lp, ctx, v)


# --- market data at the strategy --------------------------------------------------------------
@nrt_free_internal
def _local_row(lp: Loop, ctx: Ctx, v: Venue, state: Any, row: Any) -> None:
    """Rows other than L2 levels and trades: clears, order-by-order rows, top of book."""
    flags = row["flags"]
    asset = row["asset"]
    kind = flags & KIND_MASK
    if kind == K_BBO:
        col = 0 if (flags & F_BID) != 0 else 2
        ctx.bbo[asset, col] = row["px"]
        ctx.bbo[asset, col + 1] = row["qty"]
    elif kind == K_CLEAR:  # a whole side (with its L3 orders), or one side through a price
        if row["px"] == NO_PX:
            l3_apply(lp.l3, asset, flags, -1, NO_PX, 0)
        l2_apply(ctx.book, asset, flags, row["px"], 0)
    elif kind >= K_L3_ADD and kind <= K_L3_FILL:
        l3_apply(lp.l3, asset, flags, row["order_id"], row["px"], row["qty"])
    else:
        return
    if flags & F_LAST:
        ctx.latency[asset, LT_FEED] = row["local_ts"] - row["exch_ts"]
        _cb_book(ctx, state, asset)
        _drain(lp, ctx, v)


@nrt_free
def _fast_forward(
    ev: np.ndarray,
    n_pre: int,
    ie: int,
    il: int,
    t_pre: int,
    t_post: int,
    xbook: L2Book,
    lbook: L2Book,
    xorders: np.ndarray,
    xlive: np.ndarray,
    xqueue: np.ndarray,
    qparam: float,
    vstate: np.ndarray,
    trade: np.ndarray,
    bbo: np.ndarray,
    latency: np.ndarray,
    st: np.ndarray,
    has_on_book: bool,
    has_on_trade: bool,
) -> tuple[int, int]:
    """Handle rows that only update books, trades and clocks; return the new cursors.

    Stops at the first event that needs more: a row that touches one of our orders, a
    callback, another kind of row, the end of the buffer, or a request, report, timer or
    sample that is due (``t_pre`` / ``t_post``). Compiled without reference counting: this
    is where a backtest spends its time.
    """
    n = n_pre + ev.shape[0]
    while ie < n and il < n:
        row_e = ev[ie - n_pre]
        if row_e["flags"] & KIND_MASK == K_BBO:
            # the venue matches against its depth book, not the top-of-book feed: skip it
            # now, so neither its timestamp nor its place in the stream holds back depth rows
            ie += 1
            continue
        te = row_e["exch_ts"]
        if te > row_e["local_ts"]:
            te = row_e["local_ts"]
        if te < st[LS_VENUE_CLOCK]:
            te = st[LS_VENUE_CLOCK]
        row_l = ev[il - n_pre]
        tl = row_l["local_ts"]
        if te <= t_pre and te <= tl and te <= t_post:
            flags = row_e["flags"]
            kind = flags & KIND_MASK
            asset = row_e["asset"]
            if not (kind == K_DEPTH or kind == K_SNAPSHOT or kind == K_TRADE):
                break
            n_live = vstate[VS_LIVE_N]
            how = touch(xorders, xlive, n_live, asset, flags, row_e["px"], row_e["qty"])
            if how == TOUCH_FULL:
                break
            st[LS_VENUE_CLOCK] = te
            if te > vstate[VS_NOW]:
                vstate[VS_NOW] = te
            if how == TOUCH_QUEUE:
                depth_at_our_level(
                    xbook,
                    xorders,
                    xlive,
                    n_live,
                    xqueue,
                    vstate[VS_QUEUE_MODEL],
                    qparam,
                    asset,
                    flags,
                    row_e["px"],
                    row_e["qty"],
                )
            elif kind != K_TRADE:
                l2_apply(xbook, asset, flags, row_e["px"], row_e["qty"])
            ie += 1
        elif tl < t_pre and tl <= t_post:
            flags = row_l["flags"]
            kind = flags & KIND_MASK
            asset = row_l["asset"]
            if kind == K_DEPTH or kind == K_SNAPSHOT:
                last = (flags & F_LAST) != 0
                if last and has_on_book:
                    break
                l2_apply(lbook, asset, flags, row_l["px"], row_l["qty"])
                if last:
                    latency[asset, LT_FEED] = tl - row_l["exch_ts"]
            elif kind == K_TRADE and not has_on_trade:
                tr = trade[asset]
                tr[TR_LOCAL_TS] = tl
                tr[TR_EXCH_TS] = row_l["exch_ts"]
                tr[TR_PX] = row_l["px"]
                tr[TR_QTY] = row_l["qty"]
                tr[TR_SIDE] = BUY if (flags & F_BID) != 0 else SELL
                latency[asset, LT_FEED] = tl - row_l["exch_ts"]
            elif kind == K_BBO and not ((flags & F_LAST) != 0 and has_on_book):
                col = 0 if (flags & F_BID) != 0 else 2
                bbo[asset, col] = row_l["px"]
                bbo[asset, col + 1] = row_l["qty"]
            else:
                break
            st[LS_LAST_TS] = tl
            st[LS_ROWS] += 1
            il += 1
        else:
            break
    return ie, il


# --- the venue's rows -----------------------------------------------------------------------
@nrt_free_internal_inline
def venue_row(v: Venue, row: Any, te: int) -> bool:
    """Hand one row to the venue at exchange time ``te``; return whether reports may follow."""
    flags = row["flags"]
    kind = flags & KIND_MASK
    asset = row["asset"]
    if kind == K_BBO:
        return False  # see _fast_forward: the venue ignores the BBO feed, clock included
    if kind == K_DEPTH or kind == K_SNAPSHOT or kind == K_TRADE:
        vstate = v.state
        if touch(v.orders, v.live, vstate[VS_LIVE_N], asset, flags, row["px"], row["qty"]) != (
            TOUCH_NONE
        ):
            market_row(v, asset, flags, te, row["px"], row["qty"])
            return True
        # the row changes none of our orders: the venue only keeps its book
        if te > vstate[VS_NOW]:
            vstate[VS_NOW] = te
        if kind != K_TRADE:
            l2_apply(v.book, asset, flags, row["px"], row["qty"])
        return False
    if kind >= K_L3_ADD and kind <= K_L3_FILL:
        l3_row(v, asset, flags, te, row["order_id"], row["px"], row["qty"])
        return True
    market_row(v, asset, flags, te, row["px"], row["qty"])
    return True


@njit(cache=True, inline="always")
def _venue_time(row: Any) -> int:
    """Return a row's time at the venue: its exchange time, never after its receipt."""
    t: int = min(row["exch_ts"], row["local_ts"])
    return t


@njit(cache=True, nogil=True)
def venue_time_floor(ev: np.ndarray, out: np.ndarray) -> None:
    """Write into ``out[k]`` the earliest venue time of the depth and trade rows ``k:``.

    :func:`catch_up` stops looking ahead at the first row past which no row happened by
    its time, instead of reading the whole 100 ms window on every request. Computed per
    buffer, in the reader thread.
    """
    floor = _MAX
    for k in range(ev.shape[0] - 1, -1, -1):
        kind = ev[k]["flags"] & KIND_MASK
        if kind == K_DEPTH or kind == K_TRADE:
            floor = min(floor, _venue_time(ev[k]))
        out[k] = floor


@njit(cache=True, inline="always")
def _row_at(pre: np.ndarray, ev: np.ndarray, n_pre: int, k: int) -> Any:
    """Return row ``k`` of ``pre`` followed by ``ev`` (the venue may still be in ``pre``)."""
    return pre[k] if k < n_pre else ev[k - n_pre]


@njit(cache=True, inline="always")
def _floor_at(pre_floor: np.ndarray, floor: np.ndarray, n_pre: int, k: int) -> int:
    f: int = pre_floor[k] if k < n_pre else floor[k - n_pre]
    return f


@nrt_free_internal
def catch_up(
    lp: Loop,
    v: Venue,
    pre: np.ndarray,
    pre_floor: np.ndarray,
    ev: np.ndarray,
    floor: np.ndarray,
    ie: int,
    final: bool,
    limit: int,
) -> int:
    """Hand the venue the rows past its cursor whose exchange time is before ``limit``.

    The stream is in receipt order; two feeds (trades, depth) reach us with different
    delays, so a row received later may have happened earlier. Before the venue acts (a
    request arrives at ``t``: ``limit = t + 1``; a row stamped ``t`` reaches our orders:
    ``limit = t``, so rows stamped at the same time keep their stream order), it takes such
    rows first, as an exchange would have. Only depth and trade rows are taken, in stream
    order per asset and kind (a row is not taken ahead of an untaken one of its asset and
    kind), and the scan stops at snapshots, clears and L3 rows. Return ``CAUGHT_UP``
    (nothing to take), ``TOOK`` (rows taken: look again) or ``NEED_MORE`` (the buffer ends
    inside the window and more data follows: the same rows are taken whatever the chunk
    size).
    """
    st = lp.state
    ahead = lp.ahead
    cap = ahead.shape[0]
    n_pre = pre.shape[0]
    n = n_pre + ev.shape[0]
    first = _row_at(pre, ev, n_pre, ie)
    blocked_depth = np.int64(0)
    blocked_trade = np.int64(0)
    if first["asset"] < 63:
        bit = np.int64(1) << first["asset"]
        if first["flags"] & KIND_MASK == K_TRADE:
            blocked_trade |= bit
        else:
            blocked_depth |= bit
    took = False
    last = min(n, ie + cap)
    horizon = limit + AHEAD_NS
    complete = last < n or final  # the window ends before the buffer does
    for k in range(ie + 1, last):
        if _floor_at(pre_floor, floor, n_pre, k) >= limit:
            # nothing from here to the buffer's end happened before ``limit``; the answer is final
            # unless the next buffer may still hold rows of the window
            complete = complete or _row_at(pre, ev, n_pre, n - 1)["local_ts"] > horizon
            break
        row = _row_at(pre, ev, n_pre, k)
        if row["local_ts"] > horizon:
            complete = True
            break
        kind = row["flags"] & KIND_MASK
        if kind == K_BBO:
            continue
        if kind != K_DEPTH and kind != K_TRADE:
            complete = True
            break
        if ahead[k % cap] == k:
            continue  # taken before
        asset = row["asset"]
        if asset >= 63:
            complete = True
            break
        bit = np.int64(1) << asset
        blocked = blocked_trade if kind == K_TRADE else blocked_depth
        if (blocked & bit) == 0 and _venue_time(row) < limit:
            te = max(_venue_time(row), st[LS_VENUE_CLOCK])
            venue_row(v, row, te)
            st[LS_VENUE_CLOCK] = te
            ahead[k % cap] = k
            st[LS_AHEAD_N] += 1
            took = True
        elif kind == K_TRADE:
            blocked_trade |= bit
        else:
            blocked_depth |= bit
    if not complete:
        return NEED_MORE
    return TOOK if took else CAUGHT_UP


# --- the loop ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def run(
    pre: np.ndarray,
    pre_floor: np.ndarray,
    ev: np.ndarray,
    floor: np.ndarray,
    final: bool,
    lp: Loop,
    ctx: Ctx,
    v: Venue,
    state: Any,
) -> int:
    """Advance the backtest over the rows of ``pre`` then ``ev`` (see :func:`_run`)."""
    return _run(pre, pre_floor, ev, floor, final, lp, ctx, v, state)


@nrt_free_internal
def _run(
    pre: np.ndarray,
    pre_floor: np.ndarray,
    ev: np.ndarray,
    floor: np.ndarray,
    final: bool,
    lp: Loop,
    ctx: Ctx,
    v: Venue,
    state: Any,
) -> int:
    """Advance the backtest over the rows of ``pre`` then ``ev``.

    ``floor`` is :func:`venue_time_floor` of ``ev``, and ``pre_floor`` that of ``pre``
    continued into ``ev``. The venue usually reads ``ev`` only; when it stopped inside the
    previous buffer (looking ahead for rows of an earlier exchange time) it starts in ``pre``.

    ``pre`` holds the rows of the previous buffer the strategy has not seen yet, so a new
    chunk is used in place, never copied. Cursors count rows of the two arrays together.
    Return ``DONE``, ``NEED_DATA`` or ``LOGS_FULL``.
    """
    n_pre = pre.shape[0]
    n = n_pre + ev.shape[0]
    if lp.state[LS_IE] < lp.state[LS_IL]:
        return BAD_CURSOR  # the venue is never behind the strategy; the host broke a rule
    # the strategy reads ``pre`` until it catches up with ``ev``
    lrows = pre if lp.state[LS_IL] < n_pre else ev
    loff = 0 if lp.state[LS_IL] < n_pre else n_pre
    st = lp.state
    ie = st[LS_IE]
    il = st[LS_IL]
    n_assets = ctx.instr.shape[0]
    rq_cap = lp.rq.shape[0]
    margin = ctx.outbox.shape[0] + 16
    clock = ctx.clock
    lbook = ctx.book
    xbook = v.book
    xorders = v.orders
    xlive = v.live
    vstate = v.state
    timers = ctx.timers
    n_timers = timers.shape[0]
    if st[LS_STARTED] == 0:
        if n == 0:
            return DONE if final else NEED_DATA
        t0 = lrows[0]["local_ts"]
        ctx.clock[CLK_NOW] = t0
        interval = st[LS_REC_INTERVAL]
        st[LS_REC_NEXT] = ((t0 + interval - 1) // interval) * interval
        st[LS_STARTED] = 1
        _cb_start(ctx, state)
        _drain(lp, ctx, v)
    result = DONE
    # times of the non-data events: requests reach the venue before a local row at the same
    # time (t_pre); reports, timers and samples come after it (t_post). They change only when
    # something other than a plain book row was handled, so they are recomputed then.
    stale = True
    t_pre = _MAX
    t_post = _MAX
    while True:
        if stale:
            if (
                lp.rec.shape[0] - st[LS_REC_N] < n_assets
                or lp.fills.shape[0] - st[LS_FILL_N] < margin
                or lp.olog.shape[0] - st[LS_OLOG_N] < margin
            ):
                result = LOGS_FULL
                break
            t_pre = lp.rq[st[LS_RQ_HEAD], RQ_ARRIVE_TS] if st[LS_RQ_N] > 0 else _MAX
            t_post = min(next_response_ts(v), st[LS_REC_NEXT])
            for k in range(n_timers):
                t_post = min(t_post, timers[k, 0])
            stale = False
        if il >= n_pre and st[LS_AHEAD_N] == 0:
            # plain book rows and trades on both timelines, without calls or refcounts
            ie, il = _fast_forward(
                ev,
                n_pre,
                ie,
                il,
                t_pre,
                t_post,
                xbook,
                lbook,
                xorders,
                xlive,
                v.queue,
                v.qparam[0],
                vstate,
                ctx.trade,
                ctx.bbo,
                ctx.latency,
                st,
                HAS_ON_BOOK,
                HAS_ON_TRADE,
            )
        # rows the venue already took ahead of its cursor are passed over
        while st[LS_AHEAD_N] > 0 and ie < n and lp.ahead[ie % lp.ahead.shape[0]] == ie:
            lp.ahead[ie % lp.ahead.shape[0]] = -1
            st[LS_AHEAD_N] -= 1
            ie += 1
        # the venue's next row (exchange time, clamped so the venue clock never runs back)
        if ie < n:
            row_e = _row_at(pre, ev, n_pre, ie)
            te = row_e["exch_ts"]
            tl_ie = row_e["local_ts"]
            if te > tl_ie:
                te = tl_ie  # a row the venue cannot have seen after the strategy did
            if te < st[LS_VENUE_CLOCK] or row_e["flags"] & KIND_MASK == K_BBO:
                te = st[LS_VENUE_CLOCK]  # (the venue skips BBO rows at once: _fast_forward)
        elif final:
            te = _MAX
        else:
            result = NEED_DATA
            break
        if il < n:
            tl = lrows[il - loff]["local_ts"]
        elif final:
            result = DONE
            break
        else:
            tl = _MAX
        if te <= t_pre and te <= tl and te <= t_post:
            kind = row_e["flags"] & KIND_MASK
            if (
                vstate[VS_LIVE_N] > 0
                and kind != K_BBO
                and touch(
                    xorders,
                    xlive,
                    vstate[VS_LIVE_N],
                    row_e["asset"],
                    row_e["flags"],
                    row_e["px"],
                    row_e["qty"],
                )
                == TOUCH_FULL
            ):
                # a row that may fill our orders: rows that happened before it go first (a
                # row that only moves our queues does not wait, here as in _fast_forward)
                caught = catch_up(lp, v, pre, pre_floor, ev, floor, ie, final, te)
                if caught == NEED_MORE:
                    result = NEED_DATA
                    break
                if caught == TOOK:
                    stale = True
                    continue  # rows that happened first went first; look again
            if venue_row(v, row_e, te):
                stale = True
            if kind != K_BBO:
                st[LS_VENUE_CLOCK] = te
            ie += 1
        elif t_pre <= tl and t_pre <= t_post:
            caught = CAUGHT_UP
            if ie < n:
                caught = catch_up(lp, v, pre, pre_floor, ev, floor, ie, final, t_pre + 1)
            if caught == NEED_MORE:
                result = NEED_DATA
                break
            if caught == TOOK:
                stale = True
                continue  # rows that happened before the request went first
            h = st[LS_RQ_HEAD]
            on_request(v, lp.rq[h])
            st[LS_RQ_HEAD] = (h + 1) % rq_cap
            st[LS_RQ_N] -= 1
            stale = True
        elif tl <= t_post:
            clock[CLK_NOW] = tl
            row = lrows[il - loff]
            flags = row["flags"]
            kind = flags & KIND_MASK
            asset = row["asset"]
            if kind == K_DEPTH or kind == K_SNAPSHOT:
                l2_apply(lbook, asset, flags, row["px"], row["qty"])
                if flags & F_LAST:
                    ctx.latency[asset, LT_FEED] = tl - row["exch_ts"]
                    if HAS_ON_BOOK:
                        _cb_book(ctx, state, asset)
                        _drain(lp, ctx, v)
                        stale = True
            elif kind == K_TRADE:
                tr = ctx.trade[asset]
                tr[TR_LOCAL_TS] = tl
                tr[TR_EXCH_TS] = row["exch_ts"]
                tr[TR_PX] = row["px"]
                tr[TR_QTY] = row["qty"]
                tr[TR_SIDE] = BUY if (flags & F_BID) != 0 else SELL
                ctx.latency[asset, LT_FEED] = tl - row["exch_ts"]
                if HAS_ON_TRADE:
                    _cb_trade(ctx, state, asset)
                    _drain(lp, ctx, v)
                    stale = True
            else:
                _local_row(lp, ctx, v, state, row)
                stale = True
            st[LS_LAST_TS] = tl
            il += 1
            if il == n_pre:
                lrows = ev  # the strategy caught up with the new chunk
                loff = n_pre
            st[LS_ROWS] += 1
        else:
            stale = True
            ts = next_response_ts(v)
            tt = _MAX
            tid = -1
            for k in range(n_timers):
                if timers[k, 0] < tt:
                    tt = timers[k, 0]
                    tid = k
            trec = st[LS_REC_NEXT]
            if ts <= tt and ts <= trec:
                clock[CLK_NOW] = ts
                _deliver(lp, ctx, v, state)
            elif tt <= trec:
                clock[CLK_NOW] = tt
                interval = timers[tid, 1]
                timers[tid, 0] = tt + interval if interval > 0 else _MAX
                _cb_timer(ctx, state, tid)
                _drain(lp, ctx, v)
            else:
                _record(lp, ctx, trec)
                st[LS_REC_NEXT] = trec + st[LS_REC_INTERVAL]
    st[LS_IE] = ie
    st[LS_IL] = il
    if result == DONE and st[LS_ENDED] == 0:
        st[LS_ENDED] = 1
        end_ts = st[LS_LAST_TS]
        ctx.clock[CLK_NOW] = end_ts
        _cb_end(ctx, state)
        ctx.clock[CLK_OUT_N] = 0  # nothing sent after the last event can reach the venue
        _record(lp, ctx, end_ts)
    return result

"""Simulate our orders against a market feed: the replay venue behind a Venue's order entry.

:class:`OrderSimulator` is the exchange side of the paper venue (``hftlib.live.paper``) and
of the recorded venue (:mod:`hftlib.sim.recorded_venue`). It runs the backtest's simulated
venue (:mod:`hftlib.sim.replay`: queue models, GTX/IOC/FOK/market semantics, fees) with
the backtest's latency models (:mod:`hftlib.sim.latency`), on the venue's *exchange
timeline*, exactly as :mod:`hftlib.sim.backtest_loop` does:

- each market row reaches the venue at ``te = min(exch_ts, local_ts)``, never earlier than
  the previous row (the venue clock does not run back); top-of-book rows are skipped;
- before a request arrives or a row reaches our orders, the venue takes rows stamped
  earlier but received up to ``AHEAD_NS`` later (the backtest loop's ``catch_up``);
- a request sent at local time ``t`` reaches the venue at ``t + entry_latency`` (requests
  arrive in the order they were sent);
- each venue change is reported back at ``venue time + response_latency``.

The simulator is driven in *event time* by its owner: rows are appended as the feed
delivers them (:meth:`OrderSimulator.append_rows`), requests are posted with their send
time, :meth:`OrderSimulator.exchange_until` moves the venue to a time and
:meth:`OrderSimulator.pop_update` hands out the reports due. Ties go as in the backtest
loop: a venue row before a request arriving at the same time, both before a local row or a
report at that time.

Lookahead. The backtest venue sees a row at its exchange time, which is earlier than the
strategy receives it (feed latency), and looks ``AHEAD_NS`` past it. To reproduce that, a
local row at ``t`` may only be handed to the strategy once everything the venue does up to
``t`` is decidable: :meth:`OrderSimulator.ready` says so once a later row with ``te > t``
and a row received after ``t + AHEAD_NS`` have been appended (or the feed ended). Without
lookahead (a live feed) rows reach the venue when they arrive and nothing is waited for.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import numpy as np
from hftlib.sim.backtest_loop import (
    AHEAD_NS,
    LS_AHEAD_N,
    LS_VENUE_CLOCK,
    NEED_MORE,
    TOOK,
    Loop,
    catch_up,
    new_loop,
    rebase,
    venue_row,
)
from hftlib.sim.fees import instrument_row
from hftlib.sim.latency import LatencyModel, entry_latency
from hftlib.sim.queue import parse_queue_model
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
    VS_LIVE_N,
    VS_RESP_HEAD,
    VS_RESP_N,
    Venue,
    new_venue,
    next_response_ts,
    on_request,
    touch,
)
from numba import njit

from hftlib.engine.types import (
    CODE_NAMES,
    N_INSTR,
    OT_MARKET,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    ST_FILLED,
    ST_OPEN,
    ST_PENDING,
    ST_REJECTED,
)
from hftlib.instrument import Instrument
from hftlib.jit import entry_point
from hftlib.types import EVENT_DTYPE, K_BBO
from hftlib.types import KIND_MASK as _KIND_MASK
from hftlib.venue.interface import Balance, OrderRequest, OrderUpdate, Position

NO_TIME: Final = np.iinfo(np.int64).max
"""A time that never comes: nothing pending."""
_MIN: Final = np.iinfo(np.int64).min

# cursor state (int64 columns of ``OrderSimulator.cur``)
C_ROW: Final = 0  # next row the venue has not seen
C_ROWS: Final = 1  # rows in the buffer
C_RQ_HEAD: Final = 2
C_RQ_N: Final = 3
N_C: Final = 4

KEEP_DONE: Final = 1 << 16
"""Ended orders (and fills) the simulator remembers for queries."""

REASON_CODES: Final = {name: code for code, name in CODE_NAMES.items()}
"""Reason text of an :class:`OrderUpdate` -> engine code (``venue_would_cross`` -> -40)."""


# --- kernels ------------------------------------------------------------------------------------
OK_DONE: Final = 0
NEED_ROWS: Final = 1


@njit(cache=True)
def exchange_until(
    lp: Loop,
    v: Venue,
    rows: np.ndarray,
    floor: np.ndarray,
    cur: np.ndarray,
    rq: np.ndarray,
    limit: int,
    final: bool,
) -> int:
    """Process rows and request arrivals at the venue up to ``limit`` (inclusive).

    The venue half of :func:`hftlib.sim.backtest_loop._run`, with its kernels: a row reaches
    the venue at ``min(exch_ts, local_ts)``, never before the venue clock; before a request
    arrives or a row reaches our orders, the venue takes earlier-stamped rows received up to
    ``AHEAD_NS`` later (``catch_up``). Stops at the delivery time of the first pending
    report. Returns ``NEED_ROWS`` when it cannot go on without rows not yet appended
    (never with ``final``: the feed ended, or a live feed that is not waited for).
    """
    st = lp.state
    ahead = lp.ahead
    acap = ahead.shape[0]
    cap = rq.shape[0]
    n = cur[C_ROWS]
    ev = rows[:n]
    no_pre = rows[:0]
    no_floor = floor[:0]
    while True:
        ie = cur[C_ROW]
        # rows the venue already took ahead of its cursor are passed over
        while st[LS_AHEAD_N] > 0 and ie < n and ahead[ie % acap] == ie:
            ahead[ie % acap] = -1
            st[LS_AHEAD_N] -= 1
            ie += 1
        cur[C_ROW] = ie
        lim = min(limit, next_response_ts(v))
        t_rq = rq[cur[C_RQ_HEAD], RQ_ARRIVE_TS] if cur[C_RQ_N] > 0 else NO_TIME
        if ie < n:
            row = ev[ie]
            te = min(row["exch_ts"], row["local_ts"])
            if te < st[LS_VENUE_CLOCK] or row["flags"] & _KIND_MASK == K_BBO:
                te = st[LS_VENUE_CLOCK]
        elif final:
            if t_rq == NO_TIME:
                return OK_DONE
            row = rows[0]  # not used: no row is left, only requests
            te = NO_TIME
        else:
            # a request due before the next (unseen) row could tell which goes first
            return NEED_ROWS if t_rq <= lim else OK_DONE
        if te <= t_rq:
            if te > lim:
                return OK_DONE
            kind = row["flags"] & _KIND_MASK
            how = TOUCH_NONE
            if v.state[VS_LIVE_N] > 0 and kind != K_BBO:
                how = touch(
                    v.orders,
                    v.live,
                    v.state[VS_LIVE_N],
                    row["asset"],
                    row["flags"],
                    row["px"],
                    row["qty"],
                )
            # the backtest looks ahead before a row that may fill our orders
            if how == TOUCH_FULL:
                caught = catch_up(lp, v, no_pre, no_floor, ev, floor, ie, final, te)
                if caught == NEED_MORE:
                    return NEED_ROWS
                if caught == TOOK:
                    continue
            venue_row(v, row, te)
            if kind != K_BBO:
                st[LS_VENUE_CLOCK] = te
            cur[C_ROW] = ie + 1
        else:
            if t_rq > lim:
                return OK_DONE
            if ie < n:
                caught = catch_up(lp, v, no_pre, no_floor, ev, floor, ie, final, t_rq + 1)
                if caught == NEED_MORE:
                    return NEED_ROWS
                if caught == TOOK:
                    continue
            h = cur[C_RQ_HEAD]
            on_request(v, rq[h])
            cur[C_RQ_HEAD] = (h + 1) % cap
            cur[C_RQ_N] -= 1


@njit(cache=True)
def append_rows(
    buf: np.ndarray,
    te: np.ndarray,
    cur: np.ndarray,
    rows: np.ndarray,
    asset: int,
    clock: int,
    lookahead: bool,
) -> int:
    """Copy ``rows`` to the end of the buffer with their venue times; return the new clock.

    With lookahead a row reaches the venue at ``min(exch_ts, local_ts)``, else at its
    ``local_ts``; never before the previous row, and top-of-book rows do not move the clock
    (see :func:`venue_times`).
    """
    n = cur[C_ROWS]
    for j in range(rows.shape[0]):
        buf[n + j] = rows[j]
        if asset >= 0:
            buf[n + j]["asset"] = asset
        r = rows[j]
        if (r["flags"] & _KIND_MASK) != K_BBO:
            t = r["local_ts"]
            if lookahead and r["exch_ts"] < t:
                t = r["exch_ts"]
            if t > clock:
                clock = t
        te[n + j] = clock
    cur[C_ROWS] = n + rows.shape[0]
    return clock


def venue_times(rows: np.ndarray, clock: int) -> np.ndarray:
    """Return the venue time of each row after a venue clock at ``clock``.

    ``min(exch_ts, local_ts)``, raised to the previous row's (the clock never runs back);
    top-of-book rows take the clock as it is and do not move it.
    """
    t = np.minimum(rows["exch_ts"], rows["local_ts"])
    t[(rows["flags"] & _KIND_MASK) == K_BBO] = _MIN
    return np.maximum.accumulate(np.concatenate((np.array([clock], dtype=np.int64), t)))[1:]


# --- the simulator ------------------------------------------------------------------------------
class _Order:
    """The simulator's Python view of one order (for reports and queries)."""

    __slots__ = (
        "client_id",
        "symbol",
        "asset",
        "slot",
        "order_id",
        "side",
        "qty",
        "filled",
        "done",
    )

    def __init__(
        self, client_id: str, symbol: str, asset: int, slot: int, order_id: int, side: int, qty: int
    ) -> None:
        self.client_id = client_id
        self.symbol = symbol
        self.asset = asset
        self.slot = slot
        self.order_id = order_id
        self.side = side
        self.qty = qty
        self.filled = 0
        self.done = False


class OrderSimulator:
    """Fills our orders from a market feed with the backtest's venue (see the module doc).

    Parameters
    ----------
    symbols : sequence of str
        The venue's symbols; asset ``i`` of the replay venue is ``symbols[i]``.
    instruments : sequence of Instrument
        Their specs (tick, lot, fees), same order.
    latency : LatencyModel
        Order entry and response latency (its random stream is consumed in call order).
    queue : str
        Queue position model (:func:`hftlib.sim.queue.parse_queue_model`).
    partial_fills : bool
        Partial fills from queue overshoot and book walks, as in the backtest.
    fees : tuple of float, optional
        (maker, taker) rates overriding the instruments'.
    lookahead : bool
        Hold local rows until the venue timeline passed them (exact backtest replay; see
        the module doc). Off for a live feed.
    max_orders : int
        Orders the venue can hold at once (live or awaiting their last report).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        instruments: Sequence[Instrument],
        latency: LatencyModel,
        *,
        queue: str = "risk_averse",
        partial_fills: bool = False,
        fees: tuple[float, float] | None = None,
        lookahead: bool = True,
        max_orders: int = 4096,
        request_capacity: int = 1 << 12,
    ) -> None:
        if len(symbols) != len(instruments) or not symbols:
            raise ValueError("give one instrument per symbol, at least one")
        self.symbols = list(symbols)
        self.assets = {s: i for i, s in enumerate(self.symbols)}
        self.instruments = list(instruments)
        instr = np.zeros((len(symbols), N_INSTR), dtype=np.float64)
        maker, taker = fees if fees is not None else (None, None)
        for i, inst in enumerate(instruments):
            instr[i] = instrument_row(inst, maker_fee=maker, taker_fee=taker)
        self.instr = instr
        qmodel, qparam = parse_queue_model(queue)
        self.lat = latency
        self.venue = new_venue(
            instr,
            latency,
            queue_model=qmodel,
            queue_param=qparam,
            partial_fills=partial_fills,
            max_orders=max_orders,
        )
        self.lookahead = lookahead
        self.cur = np.zeros(N_C, dtype=np.int64)
        self.rq = np.zeros((request_capacity, N_RQ), dtype=np.int64)
        self._rows = np.zeros(1024, dtype=EVENT_DTYPE)
        self._te = np.zeros(1024, dtype=np.int64)
        self._floor = np.full(1024, _MIN, dtype=np.int64)
        # the backtest loop's venue-side state: venue clock and rows taken ahead
        self.lp = new_loop(len(symbols), 1 << 62, self.venue.l3, request_capacity=1, log_capacity=1)
        self._last_local = _MIN
        self._clock = _MIN
        self._ended = False
        self._last_arrive = _MIN
        self._next_oid = 1
        self._trade_id = 0
        self._free = list(range(max_orders - 1, -1, -1))
        self._orders: dict[str, _Order] = {}
        self._by_oid: dict[int, _Order] = {}
        self.now = 0
        """Latest local time the venue's consumer saw (messages, requests, reports)."""
        self.position = np.zeros(len(symbols), dtype=np.int64)
        self.fills: deque[OrderUpdate] = deque(maxlen=KEEP_DONE)
        """The latest fills reported (for ``recent_fills``)."""
        self._done: deque[_Order] = deque()
        self._run = exchange_until
        self._run_typed = False
        self._append: Any = None

    # --- market side ---------------------------------------------------------------------------
    def append_rows(self, rows: np.ndarray, asset: int = -1) -> None:
        """Append feed rows to the venue timeline, as asset ``asset`` (-1: as the rows say)."""
        k = len(rows)
        if k == 0:
            return
        self._make_room(k)
        if not rows.flags.c_contiguous:
            rows = np.ascontiguousarray(rows)
        args = (self._rows, self._te, self.cur, rows, asset, self._clock, self.lookahead)
        if self._append is None:
            self._clock = int(append_rows(*args))
            self._append = entry_point(append_rows, args)
        else:
            self._clock = int(self._append(*args))
        self._last_local = max(self._last_local, int(rows[k - 1]["local_ts"]))

    def delivered(self, local_ts: int) -> None:
        """Note that the feed handed its consumer a message received at ``local_ts``."""
        if local_ts > self.now:
            self.now = local_ts

    def _make_room(self, k: int) -> None:
        n = int(self.cur[C_ROWS])
        if n + k <= len(self._rows):
            return
        done = int(self.cur[C_ROW])
        keep = n - done
        cap = len(self._rows)
        while keep + k > cap // 2:
            cap *= 2
        rows = np.zeros(cap, dtype=EVENT_DTYPE)
        te = np.zeros(cap, dtype=np.int64)
        rows[:keep] = self._rows[done:n]
        te[:keep] = self._te[done:n]
        self._rows, self._te = rows, te
        if len(self._floor) != cap:
            self._floor = np.full(cap, _MIN, dtype=np.int64)
        rebase(self.lp, done)  # rows taken ahead keep their new positions
        self.cur[C_ROW] = 0
        self.cur[C_ROWS] = keep

    def end_of_feed(self) -> None:
        """Say that no more rows will come (every held local row is ready)."""
        self._ended = True

    def ready(self, local_ts: int) -> bool:
        """Return whether a local row at ``local_ts`` may go to the strategy (lookahead).

        Everything the venue does up to ``local_ts`` must be decidable from the rows
        appended: a row that reaches the venue later, and rows received more than the
        venue's look-ahead window (``AHEAD_NS``) after it.
        """
        if self._ended or not self.lookahead:
            return True
        return self._clock > local_ts and self._last_local > local_ts + AHEAD_NS

    def ready_until(self) -> int:
        """Return the latest local time up to which the venue can be moved (see :meth:`ready`)."""
        if self._ended or not self.lookahead:
            return self._last_local
        return min(self._clock - 1, self._last_local - AHEAD_NS - 1)

    # --- the venue timeline --------------------------------------------------------------------
    def next_exchange_ts(self) -> int:
        """Return the venue time of the next row or request arrival (``NO_TIME``: none)."""
        i = int(self.cur[C_ROW])
        t_row = int(self._te[i]) if i < self.cur[C_ROWS] else NO_TIME
        t_rq = int(self.rq[self.cur[C_RQ_HEAD], RQ_ARRIVE_TS]) if self.cur[C_RQ_N] > 0 else NO_TIME
        return min(t_row, t_rq)

    def exchange_until(self, limit: int) -> None:
        """Move the venue up to ``limit`` (or the first report due before it).

        Raises
        ------
        RuntimeError
            With lookahead, when the venue needs rows not appended yet: the caller handed
            the strategy a message before :meth:`ready` said so.
        """
        final = self._ended or not self.lookahead
        args = (self.lp, self.venue, self._rows, self._floor, self.cur, self.rq, limit, final)
        if not self._run_typed:
            status = exchange_until(*args)
            self._run = entry_point(exchange_until, args)
            self._run_typed = True
        else:
            status = self._run(*args)
        if status == NEED_ROWS:
            raise RuntimeError(f"simulated venue needs rows past {self._last_local} for {limit}")

    def next_update_ts(self) -> int:
        """Return the local time the next report is delivered (``NO_TIME``: none pending)."""
        st = self.venue.state
        if st[VS_RESP_N] == 0:
            return NO_TIME
        return int(self.venue.resp[st[VS_RESP_HEAD]]["deliver_ts"])

    def pop_update(self) -> tuple[OrderUpdate, int]:
        """Remove the next report; return it and the request it answers.

        The request kind is ``REQ_MODIFY`` for a modify's confirmation, ``REQ_CANCEL`` /
        ``REQ_MODIFY`` for a refused cancel or modify (status ``ST_REJECTED`` there means
        the *request* was refused, not the order), and ``REQ_NONE`` otherwise.
        """
        v = self.venue
        st = v.state
        i = int(st[VS_RESP_HEAD])
        st[VS_RESP_HEAD] = (i + 1) % v.resp.shape[0]
        st[VS_RESP_N] -= 1
        r = v.resp[i]
        kind = int(r["kind"])
        o = self._by_oid.get(int(r["order_id"]))
        if o is None:  # a refusal for an order forgotten long ago (see _release)
            return _refused("", "", "venue_unknown_order", int(r["deliver_ts"])), REQ_NONE
        local_ts = int(r["deliver_ts"])
        if local_ts > self.now:
            self.now = local_ts
        common: dict[str, Any] = {
            "symbol": o.symbol,
            "client_id": o.client_id,
            "venue_order_id": str(o.order_id),
            "side": o.side,
            "exch_ts": int(r["exch_ts"]),
            "local_ts": local_ts,
        }
        req = REQ_NONE
        if kind == RS_FILL:
            qty = int(r["qty"])
            o.filled += qty
            self._trade_id += 1
            self.position[o.asset] += o.side * qty
            upd = OrderUpdate(
                status=int(r["status"]),
                price_ticks=int(r["px"]),
                qty_lots=o.qty,
                filled_lots=o.filled,
                last_fill_lots=qty,
                last_fill_ticks=int(r["px"]),
                fee=float(r["fee"]),
                trade_id=self._trade_id,
                maker=bool(r["maker"]),
                **common,
            )
            self.fills.append(upd)
            if upd.status == ST_FILLED:
                self._release(o)
        elif kind == RS_ACK:
            upd = OrderUpdate(status=ST_OPEN, price_ticks=int(r["px"]), qty_lots=o.qty, **common)
        elif kind == RS_MODIFIED:
            o.qty = o.filled + int(r["qty"])
            upd = OrderUpdate(
                status=ST_OPEN,
                price_ticks=int(r["px"]),
                qty_lots=o.qty,
                filled_lots=o.filled,
                **common,
            )
            req = REQ_MODIFY
        elif kind == RS_DONE:
            upd = OrderUpdate(
                status=int(r["status"]),
                price_ticks=int(r["px"]),
                qty_lots=o.qty,
                filled_lots=o.filled,
                reason=CODE_NAMES.get(int(r["reason"]), "") if r["reason"] else "",
                **common,
            )
            self._release(o)
        elif kind == RS_REQ_REJECTED:
            upd = OrderUpdate(
                status=ST_REJECTED,
                qty_lots=o.qty,
                filled_lots=o.filled,
                reason=CODE_NAMES.get(int(r["reason"]), ""),
                **common,
            )
            req = int(r["status"])
        else:  # pragma: no cover - the replay venue has no other report kind
            raise RuntimeError(f"unknown replay report kind {kind}")
        return upd, req

    def _release(self, o: _Order) -> None:
        """The order ended and its last report went out: its venue slot may be reused.

        The simulator remembers the last :data:`KEEP_DONE` ended orders (for queries and late
        refusals of a cancel); older ones are forgotten.
        """
        o.done = True
        self._free.append(o.slot)
        self._done.append(o)
        if len(self._done) > KEEP_DONE:
            old = self._done.popleft()
            if self._orders.get(old.client_id) is old:
                del self._orders[old.client_id]
            self._by_oid.pop(old.order_id, None)

    # --- requests ------------------------------------------------------------------------------
    def _push(
        self, kind: int, o: _Order, px: int, qty: int, tif: int, otype: int, now: int
    ) -> None:
        if now > self.now:
            self.now = now
        cap = self.rq.shape[0]
        if self.cur[C_RQ_N] >= cap:
            raise RuntimeError(f"simulated venue request queue full ({cap} in flight)")
        arrive = now + int(entry_latency(self.lat, now))
        arrive = max(arrive, self._last_arrive)  # requests reach the venue in the order sent
        self._last_arrive = arrive
        row = self.rq[(self.cur[C_RQ_HEAD] + self.cur[C_RQ_N]) % cap]
        self.cur[C_RQ_N] += 1
        row[RQ_ARRIVE_TS] = arrive
        row[RQ_KIND] = kind
        row[RQ_SLOT] = o.slot
        row[RQ_ORDER_ID] = o.order_id
        row[RQ_ASSET] = o.asset
        row[RQ_SIDE] = o.side
        row[RQ_PX] = px
        row[RQ_QTY] = qty
        row[RQ_TIF] = tif
        row[RQ_OTYPE] = otype

    def post_new(self, request: OrderRequest, now: int) -> OrderUpdate:
        """Send a new order at local time ``now``; return its state (pending, or rejected).

        An unknown symbol, a duplicate live client id or a full venue is rejected at once
        (a real venue's immediate error); anything else is answered through the reports.
        """
        asset = self.assets.get(request.symbol, -1)
        reason = ""
        if asset < 0:
            reason = f"unknown symbol {request.symbol}"
        elif request.client_id in self._orders and self._is_live(self._orders[request.client_id]):
            reason = f"duplicate client id {request.client_id}"
        elif not self._free:
            reason = "simulated venue order table full"
        if reason:
            return OrderUpdate(
                symbol=request.symbol,
                client_id=request.client_id,
                status=ST_REJECTED,
                side=request.side,
                price_ticks=request.price_ticks,
                qty_lots=request.qty_lots,
                reason=reason,
                local_ts=now,
            )
        slot = self._free.pop()
        o = _Order(
            request.client_id,
            request.symbol,
            asset,
            slot,
            self._next_oid,
            request.side,
            request.qty_lots,
        )
        self._next_oid += 1
        self._orders[o.client_id] = o
        self._by_oid[o.order_id] = o
        px = 0 if request.order_type == OT_MARKET else request.price_ticks
        self._push(REQ_NEW, o, px, request.qty_lots, request.tif, request.order_type, now)
        return OrderUpdate(
            symbol=o.symbol,
            client_id=o.client_id,
            status=ST_PENDING,
            venue_order_id=str(o.order_id),
            side=o.side,
            price_ticks=px,
            qty_lots=o.qty,
            local_ts=now,
        )

    @staticmethod
    def _is_live(o: _Order) -> bool:
        return not o.done

    def post_cancel(self, symbol: str, client_id: str, now: int) -> OrderUpdate | None:
        """Send a cancel at ``now``; return an immediate refusal for an unknown client id."""
        o = self._orders.get(client_id)
        if o is None or o.symbol != symbol:
            return _refused(symbol, client_id, "venue_unknown_order", now)
        self._push(REQ_CANCEL, o, 0, 0, 0, 0, now)
        return None

    def post_modify(
        self, symbol: str, client_id: str, price_ticks: int, qty_lots: int, now: int
    ) -> OrderUpdate | None:
        """Send a modify (amend in place: the client id stays) at ``now``."""
        o = self._orders.get(client_id)
        if o is None or o.symbol != symbol:
            return _refused(symbol, client_id, "venue_unknown_order", now)
        self._push(REQ_MODIFY, o, price_ticks, qty_lots, 0, 0, now)
        return None

    # --- queries -------------------------------------------------------------------------------
    def query(self, symbol: str, client_id: str) -> OrderUpdate:
        """Return the venue's current view of an order (``ST_REJECTED`` if it has none)."""
        o = self._orders.get(client_id)
        if o is None or o.symbol != symbol:
            return _refused(symbol, client_id, "venue_unknown_order", self.now, ST_REJECTED)
        x = self.venue.orders[o.slot]
        if x["order_id"] != o.order_id:  # the new request has not reached the venue yet
            return OrderUpdate(
                symbol=symbol,
                client_id=client_id,
                status=ST_PENDING,
                venue_order_id=str(o.order_id),
                side=o.side,
                qty_lots=o.qty,
                local_ts=self.now,
            )
        return OrderUpdate(
            symbol=symbol,
            client_id=client_id,
            status=int(x["status"]),
            venue_order_id=str(o.order_id),
            side=o.side,
            price_ticks=int(x["px"]),
            qty_lots=int(x["qty"]),
            filled_lots=int(x["filled"]),
            exch_ts=int(x["exch_ts"]),
            local_ts=self.now,
        )

    def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the venue's resting orders (of one symbol or all)."""
        out = []
        for o in self._orders.values():
            if symbol is not None and o.symbol != symbol:
                continue
            x = self.venue.orders[o.slot]
            if x["order_id"] == o.order_id and x["status"] == ST_OPEN:
                out.append(self.query(o.symbol, o.client_id))
        return out

    def live_client_ids(self, symbol: str) -> list[str]:
        """Return the client ids of orders sent on ``symbol`` whose last report is not out."""
        return [
            o.client_id for o in self._orders.values() if o.symbol == symbol and self._is_live(o)
        ]


def _refused(
    symbol: str, client_id: str, reason: str, now: int, status: int = ST_REJECTED
) -> OrderUpdate:
    return OrderUpdate(
        symbol=symbol, client_id=client_id, status=status, reason=reason, local_ts=now
    )


class SimulatedOrders:
    """The order side of the :class:`~hftlib.venue.interface.Venue` protocol over a simulator.

    Mixed into the recorded and paper venues, whose ``simulator`` attribute it uses. The
    paper and live runner drives such venues in event time through their simulator
    (``hftlib.live.cosim``); these coroutines serve other callers: requests leave at the
    simulator's current time and are answered through :meth:`order_updates` once the venue
    timeline passed them.
    """

    simulator: OrderSimulator
    name: str

    # --- event-time interface (hftlib.live.cosim) --------------------------------------------
    def post(
        self,
        kind: int,
        symbol: str,
        client_id: str,
        now: int,
        order: OrderRequest | None = None,
        price_ticks: int = 0,
        qty_lots: int = 0,
    ) -> OrderUpdate | None:
        """Send a ``REQ_*`` request at local time ``now``; return an immediate answer or None.

        A new order is answered at once (pending, or rejected by the venue's own checks);
        a cancel or modify only when the venue does not know the order.
        """
        sim = self.simulator
        if kind == REQ_NEW:
            if order is None:
                raise ValueError("a new order request needs its order")
            return sim.post_new(order, now)
        if kind == REQ_CANCEL:
            return sim.post_cancel(symbol, client_id, now)
        if kind == REQ_MODIFY:
            return sim.post_modify(symbol, client_id, price_ticks, qty_lots, now)
        raise ValueError(f"unknown request kind {kind}")

    def pop_update(self) -> tuple[OrderUpdate, int]:
        """Remove and return the next due report and the request it answers."""
        return self.simulator.pop_update()

    # --- the Venue protocol ------------------------------------------------------------------
    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Send a new order; return it pending (the ack comes through the updates)."""
        sim = self.simulator
        answer = self.post(REQ_NEW, request.symbol, request.client_id, sim.now, order=request)
        assert answer is not None  # noqa: S101 - post always answers a new order
        return answer

    async def cancel(self, symbol: str, client_id: str) -> OrderUpdate:
        """Send a cancel; return the order's current view (or the refusal)."""
        sim = self.simulator
        refused = self.post(REQ_CANCEL, symbol, client_id, sim.now)
        return refused if refused is not None else sim.query(symbol, client_id)

    async def modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> OrderUpdate:
        """Amend an order in place (the client id stays; ``new_client_id`` is not used)."""
        sim = self.simulator
        refused = self.post(REQ_MODIFY, symbol, client_id, sim.now, None, price_ticks, qty_lots)
        return refused if refused is not None else sim.query(symbol, client_id)

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        """Send a cancel for every live order on ``symbol``; return their current views."""
        sim = self.simulator
        ids = sim.live_client_ids(symbol)
        for cid in ids:
            sim.post_cancel(symbol, cid, sim.now)
        return [sim.query(symbol, cid) for cid in ids]

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate:
        """Return the simulated venue's current view of one order."""
        return self.simulator.query(symbol, client_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the orders resting at the simulated venue."""
        return self.simulator.open_orders(symbol)

    async def balances(self) -> list[Balance]:
        """Return no balances: the simulator books cash in the strategy's own accounts."""
        return []

    async def positions(self) -> list[Position]:
        """Return the net position of each symbol from the simulated fills reported so far."""
        sim = self.simulator
        return [
            Position(symbol=s, lots=int(sim.position[i]), entry_price=0.0)
            for i, s in enumerate(sim.symbols)
            if sim.position[i] != 0
        ]

    async def recent_fills(self, symbol: str, since_ns: int) -> list[OrderUpdate]:
        """Return the simulated fills of ``symbol`` reported at or after ``since_ns``."""
        return [f for f in self.simulator.fills if f.symbol == symbol and f.local_ts >= since_ns]

    def server_time_offset_ns(self) -> int:
        """Return 0: the simulated venue shares the feed's clock."""
        return 0

    async def order_updates(self) -> AsyncIterator[OrderUpdate]:
        """Yield the reports whose delivery time the feed has reached.

        The venue timeline moves as far as the market data appended so far allows (see
        :meth:`OrderSimulator.ready_until`); this polls every millisecond of wall time for
        reports that became due.
        """
        sim = self.simulator
        while True:
            t = sim.ready_until()
            while True:
                sim.exchange_until(t)
                if sim.next_update_ts() > t:
                    break
                yield self.pop_update()[0]
            await asyncio.sleep(0.001)

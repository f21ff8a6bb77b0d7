"""Host one strategy in paper or live mode: numba steps on one side, venue messages on the other.

:class:`StrategyHost` owns a strategy's context (``ctx``: books, orders, positions, risk
limits), its state and its logs, over the strategy's assets (``(venue, symbol)`` pairs in
the engine's asset order). The runner hands it what the venues say and sends what it
returns:

- :meth:`StrategyHost.feed` a :class:`~hftlib.venue.interface.MarketBatch`,
- :meth:`StrategyHost.report` an :class:`~hftlib.venue.interface.OrderUpdate`,
- :meth:`StrategyHost.fire_next_timer` / :meth:`StrategyHost.timers` when timers are due,

each returning the venue requests (:class:`HostRequest`) the strategy queued. All strategy
work runs in the compiled steps of :mod:`hftlib.live.step`; this class maps engine order
slots to venue client ids (:mod:`hftlib.live.ids`) and venue reports to engine reports.

Outcome policy. An ``ST_UNKNOWN`` update leaves the order as it was (pending, or with its
cancel/modify in flight): the strategy sees it in flight and does not act on it, and the id
waits in :attr:`StrategyHost.unsettled` until a query or a user-data event settles it. It
is never taken as a rejection.

Book integrity. A batch whose ``book_state`` is not ``BOOK_LIVE`` (a gap, a resync) gates
its asset: every live order there is cancelled and the asset's largest order size becomes
0, so the risk checks deny any new order or modify (``risk_max_order_qty``) until a
``BOOK_LIVE`` batch restores the limit.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import numba
import numba.core.errors
import numba.typed
import numpy as np
from hftlib.live.ids import ClientIds
from hftlib.sim.backtest import _risk_limits
from hftlib.sim.backtest_loop import LS_FILL_N, LS_OLOG_N, new_loop
from hftlib.sim.fees import instrument_row
from hftlib.sim.replay import RS_ACK, RS_DONE, RS_FILL, RS_MODIFIED, RS_REQ_REJECTED

from hftlib.book.l3 import new_l3
from hftlib.engine import codegen
from hftlib.engine.context import CLK_NOW, CLK_OUT_N, new_context
from hftlib.engine.strategy import Strategy, load_strategy
from hftlib.engine.types import (
    CODE_NAMES,
    FILL_DTYPE,
    N_INSTR,
    ORDER_DTYPE,
    ORDER_LOG_DTYPE,
    REQ_CANCEL,
    REQ_MODIFY,
    REQ_NEW,
    REQ_NONE,
    ST_CANCELED,
    ST_EXPIRED,
    ST_OPEN,
    ST_PENDING,
    ST_REJECTED,
    ST_UNKNOWN,
)
from hftlib.instrument import Instrument
from hftlib.jit import entry_point
from hftlib.risk import RL_MAX_ORDER_QTY, set_kill
from hftlib.types import EVENT_DTYPE
from hftlib.venue.interface import BOOK_LIVE, MarketBatch, OrderRequest, OrderUpdate

log = logging.getLogger("hftlib.live.host")

STEP_MODULE: Final = "hftlib.live.step"
NO_TIME: Final = np.iinfo(np.int64).max
_REASONS: Final = {name: code for code, name in CODE_NAMES.items()}
_DONE_STATUSES: Final = frozenset({ST_CANCELED, ST_EXPIRED, ST_REJECTED})
_F = ORDER_DTYPE.names or ()
_O_ID, _O_ASSET, _O_SIDE, _O_PX, _O_QTY = (
    _F.index(k) for k in ("order_id", "asset", "side", "px", "qty")
)
_O_OTYPE, _O_TIF, _O_REQ_PX, _O_REQ_QTY = (
    _F.index(k) for k in ("otype", "tif", "req_px", "req_qty")
)
_SEEN_FILLS: Final = 1 << 16
"""Fill ids remembered to drop duplicates (the same fill by REST and by the stream)."""


class HostRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request for a venue: a new order, a cancel or a modify (``kind`` ``REQ_*``)."""

    kind: int
    venue: str
    symbol: str
    client_id: str
    sent_ns: int
    """The strategy's local time when it acted (ns)."""
    order: OrderRequest | None = None
    """The order of a ``REQ_NEW``."""
    new_client_id: str = ""
    """``REQ_MODIFY``: the id the order takes at venues that replace it."""
    price_ticks: int = 0
    qty_lots: int = 0
    """``REQ_MODIFY``: the new price and open size."""


def reason_code(reason: str) -> int:
    """Return the engine code of an update's reason text (0 for none or a free text)."""
    return _REASONS.get(reason, 0) if reason else 0


_HELD_FEEDS: dict[Any, Any] = {}
"""Compiled ``feed`` wrappers taking the engine state in a typed list, by step dispatcher."""


def _held_feed(step: Any) -> Any:
    """Return a compiled ``held(box, rows, asset)`` that calls ``step(*box[0], rows, asset)``.

    Passing ``(lp, ctx, state)`` as one typed list (a pointer) instead of a tuple of some
    forty arrays spares numba unboxing every array on each call; the list holds the very
    same arrays, so the step writes the host's context. One wrapper per strategy per
    process (it is a closure over the strategy's step, so not cached on disk).
    """
    held = _HELD_FEEDS.get(step)
    if held is None:

        @numba.njit
        def held(box: Any, rows: np.ndarray, asset: int) -> int:  # pragma: no cover - numba
            lp, ctx, state = box[0]
            return step(lp, ctx, state, rows, asset)

        _HELD_FEEDS[step] = held
    return held


class _Kernels:
    """The strategy's compiled steps, called without numba's per-call type dispatch.

    Typing a context (a named tuple of many arrays) costs more than the step itself, so
    after the first call of each step the compiled entry point for those argument types is
    called directly. Event rows must then be C-contiguous EVENT_DTYPE arrays (``feed``
    makes sure). ``feed``, the hot one, goes further: unboxing the context's arrays on
    every call still costs about 10 us, so it is called through :func:`_held_feed` with the
    engine state boxed once in a typed list.
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        self._fast: dict[str, Any] = {}
        self._box: Any = None
        self._held: Any = None

    def hold(self, lp: Any, ctx: Any, state: Any, rows: np.ndarray) -> None:
        """Box ``(lp, ctx, state)`` once for :meth:`feed` (compile its wrapper now)."""
        step = self.module.feed
        if not hasattr(step, "overloads"):  # run as plain Python: nothing to spare
            return
        try:
            box = numba.typed.List()
            box.append((lp, ctx, state))
            held = _held_feed(step)
            held(box, rows[:0], 0)  # compiles (or finds) the wrapper for these types
        except (numba.core.errors.NumbaError, TypeError, ValueError) as exc:  # not holdable
            log.warning("feed keeps unboxing the context per call: %s", exc)
            return
        self._box, self._held = box, entry_point(held, (box, rows[:0], 0))

    def feed(self, lp: Any, ctx: Any, state: Any, rows: np.ndarray, asset: int) -> int:
        """Call the ``feed`` step (through the boxed state once :meth:`hold` ran)."""
        held = self._held
        if held is not None:
            return int(held(self._box, rows, asset))
        return self.call("feed", lp, ctx, state, rows, asset)

    def call(self, name: str, *args: Any) -> int:
        fn = self._fast.get(name)
        if fn is None:
            dispatcher = getattr(self.module, name)
            out = dispatcher(*args)
            self._fast[name] = entry_point(dispatcher, args)
            return int(out)
        return int(fn(*args))


class StrategyHost:
    """One strategy's engine state in paper or live mode (see the module doc).

    Parameters
    ----------
    strategy : str, module or Strategy
        As for :func:`hftlib.backtest`: a name in ``hftlib.strategies``, a module, a file.
    strategy_id : str
        Id in client order ids and logs (lower case letters, digits, ``_``).
    assets : sequence of (venue, symbol)
        The strategy's assets in engine order; ``venue`` is the runner's venue name.
    instruments : sequence of Instrument
        Their specs, same order.
    params : mapping, optional
        Strategy parameters (checked against its ``PARAMS``).
    risk : RiskLimits, dict or list, optional
        Pre-trade limits as for :func:`hftlib.backtest` (one per asset, or one for all).
    session : int
        Run number in client ids (keeps ids of different runs apart).
    fees : (maker, taker), optional
        Fee rates overriding the instruments'.
    initial_balance : float
        Cash per asset at the start.
    max_orders : int
        Order table size.
    """

    def __init__(
        self,
        strategy: str | Any,
        *,
        strategy_id: str,
        assets: Sequence[tuple[str, str]],
        instruments: Sequence[Instrument],
        params: Mapping[str, Any] | None = None,
        risk: Any = None,
        session: int = 0,
        fees: tuple[float, float] | None = None,
        initial_balance: float = 0.0,
        max_orders: int = 256,
        log_capacity: int = 1 << 14,
    ) -> None:
        if len(assets) != len(instruments) or not assets:
            raise ValueError("give one instrument per asset, at least one")
        self.strategy: Strategy = (
            strategy if isinstance(strategy, Strategy) else load_strategy(strategy)
        )
        self.strategy_id = strategy_id
        self.params = self.strategy.check_params(params)
        self.assets = [(str(v), str(s)) for v, s in assets]
        self.instruments = list(instruments)
        n = len(assets)
        instr = np.zeros((n, N_INSTR), dtype=np.float64)
        maker, taker = fees if fees is not None else (None, None)
        for i, inst in enumerate(instruments):
            instr[i] = instrument_row(inst, maker_fee=maker, taker_fee=taker)
        limits = _risk_limits(risk, n, instr)
        self.state = self.strategy.make_state(self.params, self.instruments)
        l3 = new_l3(n, capacity=64)
        self.ctx = new_context(
            instr,
            limits,
            max_orders=max_orders,
            initial_balance=np.full(n, initial_balance),
            book=l3.l2,
        )
        self.lp = new_loop(n, 1 << 62, l3, request_capacity=1, log_capacity=log_capacity)
        self._log_high = log_capacity - self.ctx.outbox.shape[0] - 64
        if self._log_high <= 0:
            raise ValueError(f"log_capacity must exceed the outbox size + 64, got {log_capacity}")
        self._k = _Kernels(codegen.engine_module(STEP_MODULE, self.strategy))
        self._index = {a: i for i, a in enumerate(self.assets)}
        self.ids = ClientIds(strategy_id, session)
        self._timer_col = self.ctx.timers[:, 0]
        self.gated = np.zeros(n, dtype=bool)
        self._saved_qty = limits[:, RL_MAX_ORDER_QTY].copy()
        self.unsettled: dict[str, tuple[int, int]] = {}
        """Client id -> (request in flight, local ns when its outcome became unknown)."""
        self._seen: set[tuple[str, int]] = set()
        self._seen_order: deque[tuple[str, int]] = deque()
        self._fills: list[np.ndarray] = []
        self._olog: list[np.ndarray] = []
        self.started = False
        self.unknown_outcomes = 0
        """Requests whose outcome a venue reported unknown."""
        self.foreign_reports = 0
        """Reports for client ids this host does not (or no longer) know."""

    # --- clock --------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """The strategy's local time (ns)."""
        return int(self.ctx.clock[CLK_NOW])

    def asset_of(self, venue: str, symbol: str) -> int:
        """Return the asset index of ``(venue, symbol)``, or -1 if not traded."""
        return self._index.get((venue, symbol), -1)

    def locate(self, client_id: str) -> tuple[str, str] | None:
        """Return ``(venue, symbol)`` of one of our orders by client id, or None."""
        hit = self.ids.lookup(client_id)
        if hit is None:
            return None
        return self.assets[int(self.ctx.orders[hit[0]]["asset"])]

    def symbols(self, venue: str) -> list[str]:
        """Return the strategy's symbols on ``venue``."""
        return [s for v, s in self.assets if v == venue]

    def hold_state(self) -> None:
        """Make :meth:`feed` cheaper for the rest of the run (compiles a wrapper: call early).

        The engine state is boxed once for the compiled ``feed`` step instead of on every
        call (see ``_Kernels``); the live runner calls this before market data starts.
        """
        self._k.hold(self.lp, self.ctx, self.state, np.zeros(0, dtype=EVENT_DTYPE))

    # --- events in ----------------------------------------------------------------------------
    def start(self, now_ns: int) -> list[HostRequest]:
        """Call the strategy's ``on_start`` at ``now_ns`` (once)."""
        if self.started:
            return []
        self.started = True
        self._k.call("start", self.lp, self.ctx, self.state, now_ns)
        return self.drain()

    def feed(self, venue: str, batch: MarketBatch) -> list[HostRequest]:
        """Apply one market message; return the requests the strategy made."""
        asset = self._index.get((venue, batch.symbol), -1)
        if asset < 0:
            return []
        rows = batch.events
        if self.gated[asset] != (batch.book_state != BOOK_LIVE):
            now = int(rows["local_ts"][0]) if len(rows) else self.now
            self._gate(asset, batch.book_state != BOOK_LIVE, now)
        if len(rows):
            if not (rows.flags.c_contiguous and rows.flags.writeable):
                rows = np.array(rows)  # the compiled step takes writable C arrays only
            self._k.feed(self.lp, self.ctx, self.state, rows, asset)
        return self.drain()

    def report(self, update: OrderUpdate, req: int = REQ_NONE) -> list[HostRequest]:
        """Apply a venue's view of one of our orders; return the requests the strategy made.

        ``req`` is the request the update answers when it is a request's direct response
        (``REQ_CANCEL`` / ``REQ_MODIFY``: an ``ST_REJECTED`` status then refuses the
        request, not the order); ``REQ_NONE`` for user-data events and queries.
        """
        hit = self.ids.lookup(update.client_id)
        if hit is None:
            self.foreign_reports += 1
            return []
        slot, oid = hit
        cid = update.client_id
        self.ids.seen(cid)
        t = update.local_ts if update.local_ts > 0 else time.time_ns()
        status = update.status
        if status == ST_UNKNOWN:
            if cid not in self.unsettled:
                self.unknown_outcomes += 1
                self.unsettled[cid] = (req if req != REQ_NONE else self._in_flight(slot), t)
                log.warning(
                    "%s: outcome of %s unknown (%s); kept in flight until settled",
                    self.strategy_id,
                    cid,
                    update.reason or "no reason given",
                )
            return []
        if status == ST_PENDING:
            return []
        pending = self.unsettled.pop(cid, None)
        if req == REQ_NONE and pending is not None:
            req = pending[0]
        if req != REQ_NEW and req != REQ_NONE and status == ST_REJECTED:
            self._call(RS_REQ_REJECTED, slot, oid, req, 0, 0, 0.0, 0, update, t)
            return self.drain()
        o = self.ctx.orders[slot]
        if update.last_fill_lots > 0:
            key = (update.venue_order_id or cid, update.trade_id)
            if update.trade_id < 0 or key not in self._seen:
                if update.trade_id >= 0:
                    self._remember(key)
                self._call(
                    RS_FILL,
                    slot,
                    oid,
                    0,
                    update.last_fill_ticks,
                    update.last_fill_lots,
                    update.fee,
                    int(update.maker),
                    update,
                    t,
                )
        elif update.filled_lots > o["filled"] and o["order_id"] == oid:
            # a query shows fills the stream did not itemise: book them at the order price
            # (fees unknown) and say so; reconciliation replaces them with the venue's fills
            qty = update.filled_lots - int(o["filled"])
            log.warning("%s: %s has %d unreported lots filled", self.strategy_id, cid, qty)
            self._call(RS_FILL, slot, oid, 0, update.price_ticks, qty, 0.0, 0, update, t)
        if status == ST_OPEN:
            if req == REQ_MODIFY:
                o = self.ctx.orders[slot]
                applied = update.price_ticks == o["req_px"] or pending is None
                if applied:
                    leaves = update.qty_lots - update.filled_lots
                    self._call(
                        RS_MODIFIED, slot, oid, 0, update.price_ticks, leaves, 0.0, 0, update, t
                    )
                else:
                    self._call(RS_REQ_REJECTED, slot, oid, req, 0, 0, 0.0, 0, update, t)
            elif req == REQ_CANCEL:  # settled by a query: the cancel did not happen
                self._call(RS_REQ_REJECTED, slot, oid, req, 0, 0, 0.0, 0, update, t)
            else:
                self._call(RS_ACK, slot, oid, 0, 0, 0, 0.0, 0, update, t)
        elif status in _DONE_STATUSES:
            self._call(RS_DONE, slot, oid, status, 0, 0, 0.0, 0, update, t)
        return self.drain()

    def _in_flight(self, slot: int) -> int:
        return int(self.ctx.orders[slot]["req"])

    def _remember(self, key: tuple[str, int]) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > _SEEN_FILLS:
            self._seen.discard(self._seen_order.popleft())

    def _call(
        self,
        kind: int,
        slot: int,
        oid: int,
        status: int,
        px: int,
        qty: int,
        fee: float,
        maker: int,
        update: OrderUpdate,
        t: int,
    ) -> None:
        self._k.call(
            "report",
            self.lp,
            self.ctx,
            self.state,
            kind,
            slot,
            oid,
            status,
            px,
            qty,
            fee,
            maker,
            update.exch_ts,
            t,
            reason_code(update.reason),
        )

    def next_timer_ns(self) -> int:
        """Return the local time of the next timer (``NO_TIME`` when none is armed)."""
        return min(self._timer_col.tolist())

    def fire_next_timer(self) -> list[HostRequest]:
        """Fire the earliest timer (the lowest id on a tie), as the backtest loop does."""
        tid = int(np.argmin(self.ctx.timers[:, 0]))
        if self.ctx.timers[tid, 0] == NO_TIME:
            return []
        self._k.call("fire_timer", self.lp, self.ctx, self.state, tid)
        return self.drain()

    def timers(self, now_ns: int) -> list[HostRequest]:
        """Fire every timer due at or before ``now_ns``, in time order."""
        out: list[HostRequest] = []
        while self.next_timer_ns() <= now_ns:
            out += self.fire_next_timer()
        return out

    # --- controls -----------------------------------------------------------------------------
    def _gate(self, asset: int, stale: bool, now: int) -> None:
        venue, symbol = self.assets[asset]
        if stale:
            self.gated[asset] = True
            self.ctx.limits[asset, RL_MAX_ORDER_QTY] = 0.0
            self._k.call("cancel_asset", self.lp, self.ctx, asset, now)
            log.warning(
                "%s: book %s on %s is not live: orders cancelled, quoting stopped",
                self.strategy_id,
                symbol,
                venue,
            )
        else:
            self.gated[asset] = False
            self.ctx.limits[asset, RL_MAX_ORDER_QTY] = self._saved_qty[asset]
            log.info(
                "%s: book %s on %s is live again: quoting resumed", self.strategy_id, symbol, venue
            )

    def stop(self, now_ns: int) -> list[HostRequest]:
        """Turn the kill switch on (no new orders or modifies) and cancel every live order."""
        set_kill(self.ctx.risk, True)
        self._k.call("cancel_asset", self.lp, self.ctx, -1, now_ns)
        return self.drain()

    def end(self, now_ns: int) -> None:
        """Call the strategy's ``on_end`` (its requests are dropped)."""
        self._k.call("end", self.lp, self.ctx, self.state, now_ns)

    # --- requests out -------------------------------------------------------------------------
    def drain(self) -> list[HostRequest]:
        """Return the requests queued in the context's outbox and clear it."""
        ctx = self.ctx
        n = int(ctx.clock[CLK_OUT_N])
        st = self.lp.state
        if st[LS_FILL_N] > self._log_high or st[LS_OLOG_N] > self._log_high:
            self._collect_logs()
        if n == 0:
            return []
        now = int(ctx.clock[CLK_NOW])
        out: list[HostRequest] = []
        for kind, slot in ctx.outbox[:n].tolist():
            # one tuple of Python ints: much cheaper than reading record fields one by one
            o = ctx.orders[slot].item()
            venue, symbol = self.assets[o[_O_ASSET]]
            if kind == REQ_NEW:
                cid = self.ids.new_order(slot, o[_O_ID])
                order = OrderRequest(
                    symbol=symbol,
                    client_id=cid,
                    side=o[_O_SIDE],
                    qty_lots=o[_O_QTY],
                    price_ticks=o[_O_PX],
                    order_type=o[_O_OTYPE],
                    tif=o[_O_TIF],
                )
                out.append(
                    HostRequest(
                        kind=kind,
                        venue=venue,
                        symbol=symbol,
                        client_id=cid,
                        sent_ns=now,
                        order=order,
                    )
                )
            elif kind == REQ_CANCEL:
                cid = self.ids.current(slot)
                out.append(
                    HostRequest(kind=kind, venue=venue, symbol=symbol, client_id=cid, sent_ns=now)
                )
            elif kind == REQ_MODIFY:
                cid = self.ids.current(slot)
                new_cid = self.ids.next_id()
                self.ids.alias(slot, new_cid)
                out.append(
                    HostRequest(
                        kind=kind,
                        venue=venue,
                        symbol=symbol,
                        client_id=cid,
                        sent_ns=now,
                        new_client_id=new_cid,
                        price_ticks=o[_O_REQ_PX],
                        qty_lots=o[_O_REQ_QTY],
                    )
                )
        ctx.clock[CLK_OUT_N] = 0
        return out

    # --- results ------------------------------------------------------------------------------
    def _collect_logs(self, force: bool = False) -> None:
        st = self.lp.state
        margin = self.ctx.outbox.shape[0] + 64
        for buf, out, col in (
            (self.lp.fills, self._fills, LS_FILL_N),
            (self.lp.olog, self._olog, LS_OLOG_N),
        ):
            n = int(st[col])
            if n and (force or buf.shape[0] - n < margin):
                out.append(buf[:n].copy())
                st[col] = 0

    def fills(self) -> np.ndarray:
        """Return every fill so far (``FILL_DTYPE``, the backtest's fill table)."""
        self._collect_logs(force=True)
        return np.concatenate(self._fills) if self._fills else np.zeros(0, dtype=FILL_DTYPE)

    def orders_log(self) -> np.ndarray:
        """Return every order state change so far (``ORDER_LOG_DTYPE``)."""
        self._collect_logs(force=True)
        return np.concatenate(self._olog) if self._olog else np.zeros(0, dtype=ORDER_LOG_DTYPE)

    def live_orders(self) -> list[tuple[str, str, str]]:
        """Return ``(venue, symbol, client id)`` of every order still live in the engine."""
        out = []
        orders = self.ctx.orders
        live = np.flatnonzero(
            (orders["status"] == ST_PENDING)
            | (orders["status"] == ST_OPEN)
            | (orders["status"] == ST_UNKNOWN)
        )
        for slot in live:
            venue, symbol = self.assets[int(orders[slot]["asset"])]
            try:
                out.append((venue, symbol, self.ids.current(int(slot))))
            except KeyError:
                continue
        return out

    def summary(self) -> dict[str, Any]:
        """Return positions, fills and counters for logs and the CLI."""
        counters = {
            CODE_NAMES.get(-i if i else 0, f"code_{-i}"): int(c)
            for i, c in enumerate(self.ctx.counters)
            if c
        }
        fills = self.fills()
        return {
            "strategy_id": self.strategy_id,
            "strategy": self.strategy.name,
            "fills": len(fills),
            "positions": {
                f"{v}:{s}": int(p) for (v, s), p in zip(self.assets, self.ctx.position, strict=True)
            },
            "open_orders": len(self.live_orders()),
            "unsettled": len(self.unsettled),
            "counters": counters,
        }

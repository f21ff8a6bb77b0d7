"""State-machine test of the matching engine against a brute-force reference model.

The reference keeps each price level as an explicit FIFO list of entries (``["R", lots]``
recorded chunks and ``["O", order id]`` participant orders) and re-sorts the whole book on
every step. Fills (price, lots, maker order, taker order), order states and the public book
must agree exactly after every rule; invariants check the book is never crossed, sizes never
go negative, filled never exceeds ordered and traded lots balance between both sides.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hftlib.sim.matching import (
    RECORDED,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    EngineError,
    Fees,
    MatchingEngine,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hftlib.engine.types import BUY, OT_LIMIT, OT_MARKET, SELL, TIF_FOK, TIF_GTC, TIF_GTX, TIF_IOC

PRICES = st.integers(95, 105)
LOTS = st.integers(1, 8)
ACCOUNTS = st.integers(1, 3)
SIDES = st.sampled_from([BUY, SELL])
TIFS = st.sampled_from([TIF_GTC, TIF_GTC, TIF_IOC, TIF_FOK, TIF_GTX])
STPS = st.sampled_from([STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH, STP_NONE])


class RefBook:
    """The reference: explicit FIFO queues, brute-force ordering."""

    def __init__(self) -> None:
        self.levels: dict[tuple[bool, int], list[list[Any]]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.depleted: dict[tuple[bool, int], int] = {}
        self.fills: list[tuple[int, int, int, int]] = []
        self.next_id = 1

    # --- views -----------------------------------------------------------------------------
    def size(self, key: tuple[bool, int]) -> int:
        total = 0
        for kind, v in self.levels.get(key, []):
            total += v if kind == "R" else self.orders[v]["qty"] - self.orders[v]["filled"]
        return total

    def recorded(self, key: tuple[bool, int]) -> int:
        return sum(v for kind, v in self.levels.get(key, []) if kind == "R")

    def public(self) -> dict[tuple[bool, int], int]:
        out = {k: self.size(k) for k in self.levels}
        return {k: v for k, v in out.items() if v}

    def crossing(self, side: int, price: int | None) -> list[tuple[bool, int]]:
        """Opposite levels an order reaches, best first."""
        is_bid = side != BUY
        keys = [k for k in self.public() if k[0] == is_bid]
        if price is not None:
            keys = [k for k in keys if (k[1] >= price if is_bid else k[1] <= price)]
        return sorted(keys, key=lambda k: -k[1] if is_bid else k[1])

    # --- helpers ---------------------------------------------------------------------------
    def fill(self, price: int, qty: int, maker: int, taker: int) -> None:
        self.fills.append((price, qty, maker, taker))
        for oid in (maker, taker):
            if oid > 0:
                o = self.orders[oid]
                o["filled"] += qty
                o["status"] = "FILLED" if o["filled"] == o["qty"] else "PARTIALLY_FILLED"

    def remove(self, key: tuple[bool, int], oid: int) -> None:
        self.levels[key] = [e for e in self.levels[key] if e != ["O", oid]]

    def tidy(self) -> None:
        for key in list(self.levels):
            entries = [
                e
                for e in self.levels[key]
                if (e[0] == "R" and e[1] > 0)
                or (e[0] == "O" and self.orders[e[1]]["status"] in ("NEW", "PARTIALLY_FILLED"))
            ]
            merged: list[list[Any]] = []
            for e in entries:  # adjacent recorded chunks are one chunk
                if merged and e[0] == "R" and merged[-1][0] == "R":
                    merged[-1][1] += e[1]
                else:
                    merged.append(e)
            if merged:
                self.levels[key] = merged
            else:
                del self.levels[key]

    # --- participant requests --------------------------------------------------------------
    def submit(self, acct: int, side: int, qty: int, px: int | None, tif: int, stp: int) -> str:
        if px is not None and tif == TIF_GTX and self.crossing(side, px):
            return "REJECTED"
        oid = self.next_id
        self.next_id += 1
        o = {"acct": acct, "side": side, "px": px, "qty": qty, "filled": 0, "status": "NEW"}
        self.orders[oid] = o
        if tif == TIF_FOK:
            trial = copy.deepcopy(self)
            trial.match(oid, stp)
            if trial.orders[oid]["filled"] < qty:
                o["status"] = "EXPIRED"
                return "EXPIRED"
        self.match(oid, stp)
        if o["status"] in ("NEW", "PARTIALLY_FILLED") and o["filled"] < qty:
            if px is None or tif in (TIF_IOC, TIF_FOK):
                o["status"] = "EXPIRED"
            else:
                self.levels.setdefault((side == BUY, px), []).append(["O", oid])
        self.tidy()
        return o["status"]

    def match(self, oid: int, stp: int) -> None:
        o = self.orders[oid]
        for key in self.crossing(o["side"], o["px"]):
            for entry in list(self.levels.get(key, [])):
                left = o["qty"] - o["filled"]
                if not left or o["status"] == "EXPIRED_IN_MATCH":
                    return
                if entry[0] == "R":
                    take = min(entry[1], left)
                    entry[1] -= take
                    if take:
                        self.depleted[key] = self.depleted.get(key, 0) + take
                        self.fill(key[1], take, -1, oid)
                    continue
                maker = self.orders[entry[1]]
                if maker["status"] not in ("NEW", "PARTIALLY_FILLED"):
                    continue
                if maker["acct"] == o["acct"] and stp != STP_NONE:
                    if stp in (STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
                        maker["status"] = "EXPIRED_IN_MATCH"
                    if stp in (STP_EXPIRE_TAKER, STP_EXPIRE_BOTH):
                        o["status"] = "EXPIRED_IN_MATCH"
                        return
                    continue
                take = min(maker["qty"] - maker["filled"], left)
                self.fill(key[1], take, entry[1], oid)
            self.tidy()

    def cancel(self, oid: int) -> None:
        o = self.orders[oid]
        o["status"] = "CANCELED"
        self.tidy()

    def amend(self, oid: int, qty: int) -> None:
        self.orders[oid]["qty"] = qty

    # --- recorded market -------------------------------------------------------------------
    def through(self, key: tuple[bool, int], budget: int) -> int:
        for kind, v in list(self.levels.get(key, [])):
            if kind == "O" and budget:
                m = self.orders[v]
                take = min(m["qty"] - m["filled"], budget)
                budget -= take
                self.fill(key[1], take, v, -1)
        self.tidy()
        return budget

    def feed(self, rows: list[tuple[bool, int, int]]) -> None:
        latest = {(b, p): q for b, p, q in rows}
        ups = []
        for key, n in latest.items():
            d = min(self.depleted.get(key, 0), n)
            self.depleted[key] = d
            delta = n - d - self.recorded(key)
            if delta < 0:
                cut = -delta
                for entry in reversed(self.levels[key]):
                    if entry[0] == "R" and cut:
                        take = min(entry[1], cut)
                        entry[1] -= take
                        cut -= take
            elif delta > 0:
                ups.append((key, delta))
        self.tidy()
        for key, delta in ups:
            is_bid, px = key
            left = delta
            opp = [k for k in self.public() if k[0] != is_bid]
            opp = [k for k in opp if (k[1] <= px if is_bid else k[1] >= px)]
            for k in sorted(opp, key=lambda k: k[1] if is_bid else -k[1]):
                left = self.through(k, left)
            self.depleted[key] = self.depleted.get(key, 0) + delta - left
            if left:
                self.levels.setdefault(key, []).append(["R", left])
        self.tidy()

    def trade(self, taker_side: int, px: int, qty: int) -> None:
        makers_bid = taker_side != BUY
        keys = [k for k in self.public() if k[0] == makers_bid]
        keys = [k for k in keys if (k[1] >= px if makers_bid else k[1] <= px)]
        budget = qty
        for key in sorted(keys, key=lambda k: -k[1] if makers_bid else k[1]):
            if key[1] != px:
                budget = self.through(key, budget)
                continue
            used = min(self.depleted.get(key, 0), budget)
            self.depleted[key] = self.depleted.get(key, 0) - used
            budget -= used
            for entry in self.levels.get(key, []):
                if not budget:
                    break
                if entry[0] == "R":
                    take = min(entry[1], budget)
                    entry[1] -= take
                    budget -= take
                else:
                    m = self.orders[entry[1]]
                    take = min(m["qty"] - m["filled"], budget)
                    budget -= take
                    self.fill(px, take, entry[1], -1)
        self.tidy()


class MatchingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = MatchingEngine(
            Fees(Decimal("0.0002"), Decimal("0.0005")), Decimal(1), Decimal(1)
        )
        self.ref = RefBook()
        self.fills: list[tuple[int, int, int, int]] = []
        self.filled_by_order: dict[int, int] = {}
        self.feed_book: dict[tuple[bool, int], int] = {}
        self.all_orders: dict[int, Any] = {}

    def _collect(self, reports: list[Any]) -> None:
        seen = set()
        for r in reports:
            assert r.qty >= r.filled >= 0
            if r.fill is not None and r.fill.trade_id not in seen:
                seen.add(r.fill.trade_id)
                f = r.fill
                assert f.qty > 0
                self.fills.append((f.price, f.qty, f.maker_order, f.taker_order))
            if r.fill is not None:
                oid = r.order.order_id
                self.filled_by_order[oid] = self.filled_by_order.get(oid, 0) + r.fill.qty
            self.all_orders[r.order.order_id] = r.order

    @rule(acct=ACCOUNTS, side=SIDES, qty=LOTS, px=PRICES, tif=TIFS, stp=STPS, market=st.booleans())
    def submit(
        self, acct: int, side: int, qty: int, px: int, tif: int, stp: int, market: bool
    ) -> None:
        market = market and tif == TIF_IOC
        order, reports = self.engine.submit(
            acct,
            side,
            qty,
            None if market else px,
            order_type=OT_MARKET if market else OT_LIMIT,
            tif=tif,
            stp=stp,
        )
        self._collect(reports)
        want = self.ref.submit(acct, side, qty, None if market else px, tif, stp)
        assert order.status == want

    @precondition(lambda self: bool(self.engine.orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.engine.orders)))
        report = self.engine.cancel(oid)
        assert report.status == "CANCELED"
        self.ref.cancel(oid)

    @precondition(lambda self: bool(self.engine.orders))
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.engine.orders)))
        order = self.engine.orders[oid]
        new = data.draw(st.integers(0, order.qty))
        if order.filled < new < order.qty:
            self.engine.amend_down(oid, new)
            self.ref.amend(oid, new)
        else:
            try:
                self.engine.amend_down(oid, new)
            except EngineError:
                return
            raise AssertionError("a bad amend was accepted")

    @rule(acct=ACCOUNTS)
    def cancel_all(self, acct: int) -> None:
        for report in self.engine.cancel_all(acct):
            self.ref.cancel(report.order.order_id)

    @rule(
        rows=st.lists(st.tuples(st.booleans(), PRICES, st.integers(0, 8)), min_size=1, max_size=4)
    )
    def feed(self, rows: list[tuple[bool, int, int]]) -> None:
        # keep the recorded feed itself uncrossed, as a real one is after each message:
        # a level entering the other side's prices removes the crossed levels in the message
        message = []
        for is_bid, px, qty in rows:
            if qty:
                for (b, p), q in list(self.feed_book.items()):
                    if b != is_bid and q and (p <= px if is_bid else p >= px):
                        message.append((b, p, 0))
                        self.feed_book[(b, p)] = 0
            message.append((is_bid, px, qty))
            self.feed_book[(is_bid, px)] = qty
        self._collect(self.engine.update_recorded(message))
        self.ref.feed(message)

    @rule(side=SIDES, px=PRICES, qty=LOTS)
    def trade(self, side: int, px: int, qty: int) -> None:
        self._collect(self.engine.recorded_trade(side, px, qty))
        self.ref.trade(side, px, qty)

    @invariant()
    def same_as_reference(self) -> None:
        assert self.fills == self.ref.fills
        got = {(b, p): q for b, p, q in self._book()}
        assert got == self.ref.public()
        for oid, order in self.engine.orders.items():
            ref = self.ref.orders[oid]
            assert (order.qty, order.filled, order.status) == (
                ref["qty"],
                ref["filled"],
                ref["status"],
            )

    @invariant()
    def book_is_sane(self) -> None:
        bid, ask = self.engine.best(True), self.engine.best(False)
        assert bid is None or ask is None or bid < ask
        for side in (self.engine.bids, self.engine.asks):
            for px, level in side.items():
                assert level.total > 0
                assert level.recorded >= 0
                assert level.tail >= 0
                assert level.own == sum(o.remaining for o in level.orders)
                assert level.recorded == level.tail + sum(o.ahead for o in level.orders)
                assert all(o.ahead >= 0 and o.price == px for o in level.orders)

    @invariant()
    def fills_balance(self) -> None:
        for oid, order in self.all_orders.items():
            assert 0 <= order.filled <= order.qty
            assert self.filled_by_order.get(oid, 0) == order.filled
        taker = sum(q for _, q, _, t in self.fills if t != -1)
        maker = sum(q for _, q, m, _ in self.fills if m != -1)
        recorded = sum(q for _, q, m, t in self.fills if -1 in (m, t))
        both = sum(q for _, q, m, t in self.fills if -1 not in (m, t))
        assert taker + maker == recorded + 2 * both
        assert RECORDED not in {o.account for o in self.engine.orders.values()}

    def _book(self) -> list[tuple[bool, int, int]]:
        bids, asks = self.engine.depth()
        return [(True, p, q) for p, q in bids] + [(False, p, q) for p, q in asks]


MatchingMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_matching_engine_matches_reference = MatchingMachine.TestCase

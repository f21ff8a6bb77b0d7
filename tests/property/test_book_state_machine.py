"""State machines: the numba L2 and L3 books against dict reference models."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from hftlib.book import l2 as L2
from hftlib.book import l3 as L3
from hftlib.engine.types import ASK, BID
from hftlib.types import NO_PX

MACHINE = settings(
    max_examples=120,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Ticks: a crowded band (collisions, crossing, re-centring in small windows) plus far jumps.
NEAR = st.integers(960, 1040)
FAR = st.sampled_from([0, 1, 5, 300, 5_000, 10**9, 10**12 - 3, 10**12, -(10**6), 2**62])
TICKS = st.one_of(NEAR, NEAR, NEAR, FAR)
SIDES = st.sampled_from([BID, ASK])


def book_levels(book: L2.L2Book, b: int, side: int) -> list[tuple[int, int]]:
    """Return every level of one side from the touch outward, via ``l2_depth``."""
    cap = int(book.meta[b, L2.M_N_BID + side]) + 1
    ticks = np.zeros(cap, dtype=np.int64)
    qtys = np.zeros(cap, dtype=np.int64)
    n = L2.l2_depth(book, b, side, ticks, qtys)
    return list(zip(ticks[:n].tolist(), qtys[:n].tolist(), strict=True))


def check_internal(book: L2.L2Book, b: int) -> None:
    """Check the bookkeeping columns against the arrays themselves."""
    meta = book.meta[b]
    width = book.qty.shape[2]
    lo = int(meta[L2.M_LO])
    for side in (BID, ASK):
        n_ovf = int(meta[L2.M_N_OVF_BID + side])
        ovf = book.ovf_tick[b, side, :n_ovf].tolist()
        assert len(set(ovf)) == n_ovf
        assert all(not lo <= t < lo + width for t in ovf), "overflow level inside the window"
        assert (book.ovf_qty[b, side, :n_ovf] > 0).all()
        n_win = int((book.qty[b, side] > 0).sum())
        assert n_win + n_ovf == meta[L2.M_N_BID + side]
        beyond = [t for t in ovf if (t >= lo + width if side == BID else t < lo)]
        assert len(beyond) == meta[L2.M_OUT_BID + side]
        assert (book.qty[b, side] >= 0).all()


class L2Machine(RuleBasedStateMachine):
    """Two books in one L2Book (the second must never change) against dict models."""

    @initialize(window=st.sampled_from([8, 16, 64, 1024]), overflow=st.sampled_from([1, 3, 8, 64]))
    def setup(self, window: int, overflow: int) -> None:
        self.book = L2.new_l2(2, window, overflow)
        self.model: list[dict[int, int]] = [{}, {}]
        self.b = 1  # book 0 stays empty: kernels must only touch their own book

    def _set_model(self, side: int, tick: int, qty: int) -> None:
        levels = self.model[side]
        if qty <= 0:
            levels.pop(tick, None)
            return
        other = self.model[1 - side]
        crossed = [t for t in other if (t <= tick if side == BID else t >= tick)]
        for t in crossed:
            del other[t]
        levels[tick] = qty

    def _resync_after_drops(self, dropped_before: int) -> None:
        """Levels may vanish only by an overflow drop; each drop removes exactly one."""
        dropped = int(self.book.meta[self.b, L2.M_DROPPED]) - dropped_before
        have = [dict(book_levels(self.book, self.b, s)) for s in (BID, ASK)]
        if dropped == 0:
            return
        missing = 0
        for side in (BID, ASK):
            for tick, qty in have[side].items():
                assert self.model[side].get(tick) == qty
            missing += len(self.model[side]) - len(have[side])
            if self.model[side]:
                best = max(self.model[side]) if side == BID else min(self.model[side])
                assert best in have[side], "the best level was dropped"
        assert missing == dropped
        self.model = have

    @rule(side=SIDES, tick=TICKS, qty=st.integers(-2, 50))
    def set_level(self, side: int, tick: int, qty: int) -> None:
        before = int(self.book.meta[self.b, L2.M_DROPPED])
        L2.l2_set(self.book, self.b, side, tick, qty)
        self._set_model(side, tick, qty)
        self._resync_after_drops(before)

    @rule(side=SIDES, data=st.data())
    def delete_existing(self, side: int, data: st.DataObject) -> None:
        if self.model[side]:
            tick = data.draw(st.sampled_from(sorted(self.model[side])))
            L2.l2_set(self.book, self.b, side, tick, 0)
            del self.model[side][tick]

    @rule(side=SIDES)
    def delete_best(self, side: int) -> None:
        best = L2.l2_best(self.book, self.b, side)
        if best != NO_PX:
            L2.l2_set(self.book, self.b, side, best, 0)
            del self.model[side][best]

    @rule(side=st.sampled_from([BID, ASK, L2.CLEAR_BOTH]))
    def clear(self, side: int) -> None:
        L2.l2_clear(self.book, self.b, side)
        for s in (BID, ASK):
            if side in (s, L2.CLEAR_BOTH):
                self.model[s].clear()

    @rule(side=SIDES, tick=NEAR)
    def clear_through(self, side: int, tick: int) -> None:
        flags = L2.K_CLEAR | (L2.F_BID if side == BID else L2.F_ASK)
        changed = L2.l2_apply(self.book, self.b, flags, tick, 0)
        doomed = [t for t in self.model[side] if (t >= tick if side == BID else t <= tick)]
        for t in doomed:
            del self.model[side][t]
        assert changed == (1 if doomed else 0)

    @invariant()
    def matches_model(self) -> None:
        book, b = self.book, self.b
        for side in (BID, ASK):
            levels = self.model[side]
            want = sorted(levels.items(), reverse=side == BID)
            assert book_levels(book, b, side) == want
            best = want[0][0] if want else NO_PX
            assert L2.l2_best(book, b, side) == best
            assert book.meta[b, L2.M_N_BID + side] == len(levels)
            for tick in (*list(levels)[:5], 1000, 0, 10**12):
                assert L2.l2_qty(book, b, side, tick) == levels.get(tick, 0)
        check_internal(book, b)
        assert book.meta[0].tolist() == L2.new_l2(1).meta[0].tolist()
        assert not book.qty[0].any()


TestL2Machine = L2Machine.TestCase
TestL2Machine.settings = MACHINE


# --- L3 ---------------------------------------------------------------------------------------

IDS = st.sampled_from([1, 2, 3, 5, 8, 13, 2**62 + 7, 2**63 - 1])
L3_TICKS = st.one_of(st.integers(995, 1005), st.sampled_from([0, 10**12]))


class L3Machine(RuleBasedStateMachine):
    """One L3 book (index 1 of 2) against a dict of orders with explicit FIFO queues."""

    @initialize(capacity=st.sampled_from([3, 6, 64]), window=st.sampled_from([8, 64]))
    def setup(self, capacity: int, window: int) -> None:
        self.book = L3.new_l3(2, capacity=capacity, window=window, overflow=16)
        self.capacity = capacity
        self.b = 1
        self.orders: dict[int, tuple[int, int, int]] = {}  # id -> (side, tick, qty)
        self.queues: dict[tuple[int, int], list[int]] = {}  # (side, tick) -> ids, FIFO

    def _enqueue(self, oid: int, side: int, tick: int, qty: int) -> None:
        self.orders[oid] = (side, tick, qty)
        self.queues.setdefault((side, tick), []).append(oid)

    def _dequeue(self, oid: int) -> None:
        side, tick, _ = self.orders.pop(oid)
        queue = self.queues[(side, tick)]
        queue.remove(oid)
        if not queue:
            del self.queues[(side, tick)]

    @rule(oid=IDS, side=SIDES, tick=L3_TICKS, qty=st.integers(-1, 9))
    def add(self, oid: int, side: int, tick: int, qty: int) -> None:
        status = L3.l3_add(self.book, self.b, oid, side, tick, qty)
        if qty <= 0:
            assert status == L3.L3_BAD_QTY
        elif oid in self.orders:
            assert status == L3.L3_DUPLICATE
        elif len(self.orders) >= self.capacity:
            assert status == L3.L3_FULL
        else:
            assert status == L3.L3_OK
            self._enqueue(oid, side, tick, qty)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), tick=L3_TICKS, qty=st.integers(0, 12), same_tick=st.booleans())
    def modify(self, data: st.DataObject, tick: int, qty: int, same_tick: bool) -> None:
        oid = data.draw(st.sampled_from(sorted(self.orders)))
        side, old_tick, old_qty = self.orders[oid]
        if same_tick:
            tick = old_tick
        seq_before = self._seq(oid)
        assert L3.l3_modify(self.book, self.b, oid, tick, qty) == L3.L3_OK
        if qty <= 0:
            self._dequeue(oid)
        elif tick != old_tick or qty > old_qty:
            self._dequeue(oid)
            self._enqueue(oid, side, tick, qty)
            assert self._seq(oid) > seq_before
        else:
            self.orders[oid] = (side, tick, qty)
            assert self._seq(oid) == seq_before

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), qty=st.integers(1, 12), fill=st.booleans())
    def reduce(self, data: st.DataObject, qty: int, fill: bool) -> None:
        oid = data.draw(st.sampled_from(sorted(self.orders)))
        side, tick, left = self.orders[oid]
        seq_before = self._seq(oid)
        fn = L3.l3_fill if fill else L3.l3_cancel
        assert fn(self.book, self.b, oid, qty) == min(qty, left)
        if qty >= left:
            self._dequeue(oid)
        else:
            self.orders[oid] = (side, tick, left - qty)
            assert self._seq(oid) == seq_before

    @rule(oid=IDS, qty=st.integers(1, 5))
    def unknown_ids(self, oid: int, qty: int) -> None:
        if oid in self.orders:
            return
        assert L3.l3_cancel(self.book, self.b, oid, qty) == L3.L3_UNKNOWN
        assert L3.l3_fill(self.book, self.b, oid, qty) == L3.L3_UNKNOWN
        assert L3.l3_modify(self.book, self.b, oid, 1000, qty) == L3.L3_UNKNOWN
        assert L3.l3_slot(self.book, self.b, oid) == -1
        assert L3.l3_slot(self.book, 0, oid) == -1

    @rule(side=st.sampled_from([BID, ASK, L2.CLEAR_BOTH]))
    def clear(self, side: int) -> None:
        flags = L3.K_CLEAR
        if side != L2.CLEAR_BOTH:
            flags |= L3.F_BID if side == BID else L3.F_ASK
        assert L3.l3_apply(self.book, self.b, flags, -1, NO_PX, 0) == L3.L3_OK
        for oid in [o for o, (s, _, _) in self.orders.items() if side in (s, L2.CLEAR_BOTH)]:
            self._dequeue(oid)

    def _seq(self, oid: int) -> int:
        slot = L3.l3_slot(self.book, self.b, oid)
        return int(self.book.orders[slot, L3.O_SEQ])

    @invariant()
    def matches_model(self) -> None:
        book, b = self.book, self.b
        assert book.state[L3.S_N_ORDERS] == len(self.orders)
        agg: dict[tuple[int, int], int] = {}
        for (side, tick), queue in self.queues.items():
            slot = L3.l3_head(book, b, side, tick)
            got = []
            seqs = []
            while slot >= 0:
                got.append(int(book.orders[slot, L3.O_ID]))
                seqs.append(int(book.orders[slot, L3.O_SEQ]))
                slot = L3.l3_next(book, slot)
            assert got == queue
            assert seqs == sorted(seqs)
            agg[(side, tick)] = sum(self.orders[o][2] for o in queue)
        for side in (BID, ASK):
            want = sorted(((t, q) for (s, t), q in agg.items() if s == side), reverse=side == BID)
            assert book_levels(book.l2, b, side) == want
            assert L2.l2_best(book.l2, b, side) == (want[0][0] if want else NO_PX)
        for oid, (side, tick, qty) in self.orders.items():
            slot = L3.l3_slot(book, b, oid)
            assert slot >= 0
            row = book.orders[slot]
            assert (row[L3.O_SIDE], row[L3.O_TICK], row[L3.O_QTY]) == (side, tick, qty)
            assert row[L3.O_BOOK] == b
        assert L2.l2_best(book.l2, 0, BID) == NO_PX
        assert L2.l2_best(book.l2, 0, ASK) == NO_PX


TestL3Machine = L3Machine.TestCase
TestL3Machine.settings = MACHINE

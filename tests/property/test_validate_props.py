"""Property tests of the validator: its numba book against the reference book, chunking,
repair, strict mode and arbitrary bytes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hftlib.data import _l2book, _validate_kernel
from hftlib.data.validate import PROBLEMS, ValidationReport, validate
from hftlib.errors import DataError
from hftlib.refbook import L2Book
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    F_REPAIRED_TS,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_CANCEL,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
    empty_events,
)

TICKS = st.integers(95, 105)  # narrow, so levels collide and sides cross
SIDE = st.sampled_from([F_BID, F_ASK])


def _py(fn: Callable[..., int]) -> Callable[..., int]:
    """Return an njit function's plain-Python body (the function itself without JIT)."""
    return getattr(fn, "py_func", fn)


# --- the numba L2 book against hftlib.refbook.L2Book ---------------------------------------------


def _book_machine(apply_fn: Callable[..., int]) -> type[RuleBasedStateMachine]:
    class BookMachine(RuleBasedStateMachine):
        """Drive both books with the same rows; they must agree after every step."""

        def __init__(self) -> None:
            super().__init__()
            self.ref = L2Book()
            # A tiny capacity makes the grow-and-retry path run often.
            self.keys, self.qtys, self.n = _l2book.new_book(capacity=2)

        def _apply(self, flags: int, px: int, qty: int) -> None:
            self.ref.apply(flags, px, qty)
            while apply_fn(self.keys, self.qtys, self.n, flags, px, qty) == _l2book.BOOK_FULL:
                self.keys, self.qtys = _l2book.grow(self.keys, self.qtys)

        @rule(side=SIDE, px=TICKS, qty=st.integers(0, 3))
        def depth(self, side: int, px: int, qty: int) -> None:
            self._apply(K_DEPTH | side, px, qty)

        @rule(side=SIDE, px=st.one_of(TICKS, st.just(NO_PX)))
        def clear_side(self, side: int, px: int) -> None:
            self._apply(K_CLEAR | side, px, 0)

        @rule()
        def clear_all(self) -> None:
            self._apply(K_CLEAR | F_BID | F_ASK, NO_PX, 0)

        @rule(levels=st.lists(st.tuples(SIDE, TICKS, st.integers(1, 3)), max_size=12))
        def snapshot(self, levels: list[tuple[int, int, int]]) -> None:
            self._apply(K_CLEAR | F_BID | F_ASK, NO_PX, 0)
            for side, px, qty in levels:
                self._apply(K_SNAPSHOT | side, px, qty)

        @invariant()
        def same_levels(self) -> None:
            n_bid, n_ask = int(self.n[_l2book.BID]), int(self.n[_l2book.ASK])
            bids = list(
                zip(self.keys[0, :n_bid].tolist(), self.qtys[0, :n_bid].tolist(), strict=True)
            )
            asks = [
                (-k, q)
                for k, q in zip(
                    self.keys[1, :n_ask].tolist(), self.qtys[1, :n_ask].tolist(), strict=True
                )
            ]
            assert bids == list(self.ref.bids.items())  # ascending ticks, best last
            assert asks == list(reversed(self.ref.asks.items()))  # descending ticks, best last
            assert all(q > 0 for _, q in bids + asks)

        @invariant()
        def same_touch(self) -> None:
            bid, ask = self.ref.best_bid(), self.ref.best_ask()
            assert _l2book.best_px(self.keys, self.n, _l2book.BID) == (bid[0] if bid else NO_PX)
            assert _l2book.best_px(self.keys, self.n, _l2book.ASK) == (ask[0] if ask else NO_PX)
            assert _l2book.best_qty(self.qtys, self.n, _l2book.BID) == (bid[1] if bid else 0)
            assert _l2book.crossed(self.keys, self.n) == self.ref.crossed()

    return BookMachine


@pytest.mark.parametrize("apply_fn", [_py(_l2book.apply), _l2book.apply], ids=["py", "nb"])
def test_numba_book_matches_the_reference_book(apply_fn: Callable[..., int]) -> None:
    run_state_machine_as_test(
        _book_machine(apply_fn),
        settings=settings(max_examples=150, stateful_step_count=40, deadline=None),
    )


# --- arbitrary streams ---------------------------------------------------------------------------

_ROW = st.tuples(
    st.sampled_from([K_DEPTH, K_TRADE, K_SNAPSHOT, K_CLEAR, K_BBO, K_L3_ADD, K_L3_CANCEL, 0, 42]),
    st.sampled_from([F_BID, F_ASK, F_BID, F_ASK, 0, F_BID | F_ASK]),
    st.integers(0, 3),  # 0: no F_LAST
    st.sampled_from([0, 0, 0, 0, 0, 0, 0, 1 << 20]),  # an unknown flag bit, rarely
    st.integers(0, 3),  # exch_ts step
    st.integers(-2, 6),  # feed latency
    st.one_of(TICKS, TICKS, TICKS, st.just(NO_PX), st.integers(-3, -1)),
    st.integers(-1, 3),
    st.integers(0, 6),
    st.one_of(st.just(NO_ID), st.integers(0, 6)),
    st.integers(0, 12),  # 0: repeat the previous row
)


@st.composite
def streams(draw: st.DrawFn, max_size: int = 60) -> np.ndarray:
    """Streams of small, often malformed rows: every check fires now and then."""
    rows = draw(st.lists(_ROW, min_size=1, max_size=max_size))
    ev = empty_events(len(rows))
    exch = 1_000
    for i, (kind, side, last, extra, step, lat, px, qty, seq, aux, repeat) in enumerate(rows):
        if repeat == 0 and i > 0:
            ev[i] = ev[i - 1]
            continue
        exch += step
        ev[i]["flags"] = kind | side | extra | (F_LAST if last else 0)
        ev[i]["exch_ts"] = exch
        ev[i]["local_ts"] = exch + lat
        ev[i]["px"] = px
        ev[i]["qty"] = qty
        ev[i]["seq"] = seq
        ev[i]["aux"] = aux
    return ev


def _cuts(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n), max_size=6).map(sorted)


def _run(
    chunks: list[np.ndarray],
    kernel: Callable[..., int] = _validate_kernel.check,
    *,
    repair: bool = True,
    strict: bool = False,
) -> tuple[ValidationReport, np.ndarray]:
    report = ValidationReport(strict=strict)
    out = list(validate(chunks, report, repair=repair, kernel=kernel))
    return report, (np.concatenate(out) if out else empty_events(0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_chunking_and_kernel_variant_change_nothing(data: st.DataObject) -> None:
    ev = data.draw(streams())
    cuts = data.draw(_cuts(len(ev)))
    whole, whole_out = _run([ev])
    chunked, chunked_out = _run(np.split(ev, cuts), _py(_validate_kernel.check))
    assert chunked.to_dict() == whole.to_dict()
    assert chunked_out.tobytes() == whole_out.tobytes()


@settings(max_examples=150, deadline=None)
@given(ev=streams())
def test_repair_orders_local_time_and_flags_exactly_the_changed_rows(ev: np.ndarray) -> None:
    report, out = _run([ev])
    local, exch = out["local_ts"], out["exch_ts"]
    assert (np.diff(local) >= 0).all()
    assert (local >= exch).all()
    changed = local != ev["local_ts"]
    assert ((out["flags"] & F_REPAIRED_TS) != 0).tolist() == (
        changed | ((ev["flags"] & F_REPAIRED_TS) != 0)
    ).tolist()
    assert report.repaired["rows"] == int(changed.sum())
    assert (local >= ev["local_ts"]).all()
    for name in EVENT_DTYPE.names or ():
        if name not in ("local_ts", "flags"):
            assert (out[name] == ev[name]).all()
    # The input's own time problems are counted exactly.
    running = np.maximum.accumulate(ev["local_ts"])
    assert report.problems["local_ts_backwards"] == int((ev["local_ts"][1:] < running[:-1]).sum())
    assert report.problems["negative_latency"] == int((ev["local_ts"] < ev["exch_ts"]).sum())
    again, twice = _run([out])
    assert again.problems["local_ts_backwards"] == again.problems["negative_latency"] == 0
    assert again.repaired["rows"] == 0
    assert twice.tobytes() == out.tobytes()


@settings(max_examples=150, deadline=None)
@given(ev=streams())
def test_strict_mode_stops_at_the_first_problem_the_report_shows(ev: np.ndarray) -> None:
    report, _ = _run([ev], repair=False)
    rows = [e["row"] for name in PROBLEMS for e in report.examples[name]]
    if report.ok:
        _run([ev], repair=False, strict=True)
        return
    with pytest.raises(DataError) as info:
        _run([ev[:3], ev[3:]], repair=False, strict=True)
    assert info.value.line == min(rows) + 1


@st.composite
def l2_streams(draw: st.DrawFn) -> np.ndarray:
    """Well-formed L2 rows (every row passes the row checks), messages of 1-3 rows."""
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from([K_DEPTH, K_DEPTH, K_DEPTH, K_SNAPSHOT, K_CLEAR, K_TRADE]),
                SIDE,
                TICKS,
                st.integers(0, 3),
                st.integers(0, 2),  # 0: the row ends a message
            ),
            min_size=1,
            max_size=80,
        )
    )
    ev = empty_events(len(ops))
    for i, (kind, side, px, qty, more) in enumerate(ops):
        if kind in (K_SNAPSHOT, K_TRADE):
            qty = max(qty, 1)
        if kind == K_CLEAR and px == 100:
            px = NO_PX
        ev[i]["flags"] = kind | side | (F_LAST if more == 0 or i == len(ops) - 1 else 0)
        ev[i]["px"] = px
        ev[i]["qty"] = qty
    ends = np.concatenate([[0], np.flatnonzero(ev["flags"] & F_LAST)[:-1] + 1])
    msg = np.cumsum(np.isin(np.arange(len(ev)), ends))
    ev["seq"] = msg  # rows of a message share seq and time
    ev["exch_ts"] = msg * 10
    ev["local_ts"] = msg * 10 + 5
    return ev


def _crossed_by_reference(ev: np.ndarray) -> int:
    book = L2Book()
    dirty = False
    crossed = 0
    for row in ev:
        flags = int(row["flags"])
        if flags & 0xFF in (K_DEPTH, K_SNAPSHOT, K_CLEAR):
            book.apply(flags, int(row["px"]), int(row["qty"]))
            dirty = True
        if flags & F_LAST and dirty:
            dirty = False
            crossed += book.crossed()
    return crossed


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_crossed_states_match_a_replay_into_the_reference_book(data: st.DataObject) -> None:
    ev = data.draw(l2_streams())
    cuts = data.draw(_cuts(len(ev)))
    report, _ = _run(np.split(ev, cuts), repair=False)
    assert report.problems["crossed_book"] == _crossed_by_reference(ev)
    assert report.messages == int(np.count_nonzero(ev["flags"] & F_LAST))
    others = {k: v for k, v in report.problems.items() if k not in ("crossed_book", "duplicate")}
    assert sum(others.values()) == 0, others


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(min_size=0, max_size=64 * 40), cut=st.integers(0, 40))
def test_arbitrary_bytes_never_crash(raw: bytes, cut: int) -> None:
    ev = np.frombuffer(raw[: len(raw) // 64 * 64], dtype=EVENT_DTYPE)
    report, out = _run([ev[:cut], ev[cut:]])
    assert report.rows == len(ev) == len(out)
    if report.ok:
        _run([ev], repair=False, strict=True)
    else:
        with pytest.raises(DataError):
            _run([ev], repair=False, strict=True)

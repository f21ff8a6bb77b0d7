"""The validator: each check and repair on tiny hand-built streams, strict mode, chunking."""

from __future__ import annotations

import json
from collections.abc import Callable

import numba
import numpy as np
import pytest

from hftlib.data import _validate_kernel
from hftlib.data.synth import SynthParams, generate, generate_array
from hftlib.data.validate import MAX_EXAMPLES, PROBLEMS, ValidationReport, scan, validate, warm_up
from hftlib.errors import DataError
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_REPAIRED_TS,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
    empty_events,
)

Row = tuple[int, int, int, int, int, int, int]  # flags, exch_ts, local_ts, px, qty, seq, aux

# Book after it: bids {99: 5, 100: 3}, asks {101: 3, 102: 3}.
CLEAN: list[Row] = [
    (K_CLEAR | F_BID | F_ASK, 10, 20, NO_PX, 0, 100, NO_ID),
    (K_SNAPSHOT | F_BID, 10, 20, 99, 5, 100, NO_ID),
    (K_SNAPSHOT | F_ASK | F_LAST, 10, 20, 101, 5, 100, NO_ID),
    (K_DEPTH | F_BID, 30, 40, 100, 3, 102, 100),
    (K_DEPTH | F_ASK | F_LAST, 30, 40, 102, 3, 102, 100),
    (K_TRADE | F_BID | F_LAST, 50, 60, 101, 2, 7, NO_ID),
    (K_DEPTH | F_ASK | F_LAST, 50, 70, 101, 3, 103, 102),
]


def events(rows: list[Row]) -> np.ndarray:
    """Build an event array from ``(flags, exch_ts, local_ts, px, qty, seq, aux)`` tuples."""
    ev = empty_events(len(rows))
    for i, (flags, exch, local, px, qty, seq, aux) in enumerate(rows):
        ev[i]["flags"] = flags
        ev[i]["exch_ts"] = exch
        ev[i]["local_ts"] = local
        ev[i]["px"] = px
        ev[i]["qty"] = qty
        ev[i]["seq"] = seq
        ev[i]["aux"] = aux
    return ev


def _py(fn: Callable[..., int]) -> Callable[..., int]:
    """Return an njit function's plain-Python body (the function itself without JIT)."""
    return getattr(fn, "py_func", fn)


def with_row(flags: int, px: int = 100, qty: int = 1, aux: int = NO_ID) -> np.ndarray:
    """CLEAN plus one single-row message at the end."""
    return events([*CLEAN, (flags, 80, 90, px, qty, 500, aux)])


@pytest.fixture(params=[_py(_validate_kernel.check), _validate_kernel.check], ids=["py", "nb"])
def kernel(request: pytest.FixtureRequest) -> Callable[..., int]:
    """The chunk kernel as plain Python and compiled."""
    return request.param


def run(
    ev: np.ndarray | list[np.ndarray],
    kernel: Callable[..., int] = _validate_kernel.check,
    *,
    repair: bool = False,
    strict: bool = False,
) -> tuple[ValidationReport, np.ndarray]:
    chunks = ev if isinstance(ev, list) else [ev]
    report = ValidationReport(path="t.npy", strict=strict)
    out = list(validate(chunks, report, repair=repair, kernel=kernel))
    return report, (np.concatenate(out) if out else empty_events(0))


def only(report: ValidationReport, **expected: int) -> None:
    """Assert the problem counts are exactly ``expected`` (all others zero)."""
    assert report.problems == {name: expected.get(name, 0) for name in PROBLEMS}


# --- a clean stream ------------------------------------------------------------------------------


def test_clean_stream_passes_and_is_counted(kernel: Callable[..., int]) -> None:
    ev = events(CLEAN)
    report, out = run(ev, kernel, repair=True)
    assert report.ok
    assert (report.rows, report.messages) == (7, 4)
    assert report.kinds == {"clear": 1, "snapshot": 2, "depth": 3, "trade": 1}
    assert (report.first_local_ts, report.last_local_ts) == (20, 70)
    assert report.repaired == {"rows": 0, "negative_latency": 0, "local_ts_backwards": 0}
    assert out.tobytes() == ev.tobytes()


def test_without_repair_the_input_chunks_are_yielded_as_they_are() -> None:
    chunks = [events(CLEAN[:3]), events(CLEAN[3:])]
    report = ValidationReport()
    assert [c is d for c, d in zip(validate(chunks, report), chunks, strict=True)] == [True, True]


def test_an_empty_stream_is_clean() -> None:
    report = scan([empty_events(0), empty_events(0)])
    assert report.ok
    assert report.rows == 0
    assert report.to_dict()["first_local_ts"] is None


def test_a_chunk_of_another_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        scan([np.zeros(3, dtype=np.int64)])


# --- timestamps --------------------------------------------------------------------------------


def test_local_ts_going_back_is_counted_and_raised_to_the_running_max(
    kernel: Callable[..., int],
) -> None:
    rows = list(CLEAN)
    rows[5] = (K_TRADE | F_BID | F_LAST, 30, 35, 101, 2, 7, NO_ID)  # 35 < 40 seen before
    ev = events(rows)
    before = ev.copy()
    report, out = run(ev, kernel, repair=True)
    only(report, local_ts_backwards=1)
    assert report.examples["local_ts_backwards"] == [
        {"row": 5, "detail": "local_ts 35 < 40, the largest local_ts before it"}
    ]
    assert out["local_ts"].tolist() == [20, 20, 20, 40, 40, 40, 70]
    assert [bool(f & F_REPAIRED_TS) for f in out["flags"]] == [False] * 5 + [True, False]
    assert report.repaired == {"rows": 1, "negative_latency": 0, "local_ts_backwards": 1}
    assert ev.tobytes() == before.tobytes()  # the input is never modified


def test_negative_latency_is_counted_and_local_ts_raised_to_exch_ts(
    kernel: Callable[..., int],
) -> None:
    rows = [
        *CLEAN,
        (K_DEPTH | F_BID | F_LAST, 95, 90, 98, 1, 104, 103),  # 5 ns before the venue stamp
        (K_DEPTH | F_BID | F_LAST, 91, 92, 97, 1, 105, 104),  # fine, but behind the raised row
    ]
    report, out = run(events(rows), kernel, repair=True)
    only(report, negative_latency=1)
    assert report.examples["negative_latency"][0] == {
        "row": 7,
        "detail": "local_ts 90 < exch_ts 95 (feed latency -5 ns)",
    }
    assert out["local_ts"][-2:].tolist() == [95, 95]
    assert (out["flags"][-2:] & F_REPAIRED_TS).all()
    assert report.repaired == {"rows": 2, "negative_latency": 1, "local_ts_backwards": 1}
    again, _ = run(out, kernel)
    assert again.ok


def test_read_only_input_can_be_repaired() -> None:
    rows = list(CLEAN)
    rows[6] = (K_DEPTH | F_ASK | F_LAST, 75, 70, 101, 3, 103, 102)
    ev = events(rows)
    ev.setflags(write=False)
    report, out = run(ev, repair=True)
    assert out["local_ts"][-1] == 75
    assert report.repaired["rows"] == 1


# --- one row on its own ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [0, 10, 42, 255])
def test_unknown_kinds(kernel: Callable[..., int], kind: int) -> None:
    report, _ = run(with_row(kind | F_BID | F_LAST), kernel)
    only(report, unknown_kind=1)
    assert report.examples["unknown_kind"][0]["detail"].startswith(f"kind {kind} ")
    assert report.kinds[f"kind{kind}"] == 1


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (K_DEPTH | F_LAST, "depth|last: no side"),
        (K_SNAPSHOT | F_LAST, "no side"),
        (K_TRADE | F_BID | F_ASK | F_LAST, "trade|bid|ask|last: both sides"),
        (K_L3_CANCEL | F_BID | F_ASK | F_LAST, "both sides"),
        (K_DEPTH | F_BID | F_LAST | (1 << 20), "unknown flag bits"),
        (K_CLEAR | F_LAST, "a clear needs a side"),
    ],
)
def test_bad_flag_combinations(kernel: Callable[..., int], flags: int, reason: str) -> None:
    report, _ = run(with_row(flags), kernel)
    only(report, bad_flags=1)
    assert reason in report.examples["bad_flags"][0]["detail"]


@pytest.mark.parametrize(
    "flags",
    [
        K_L3_CANCEL | F_LAST,  # L3 rows may leave the side out
        K_CLEAR | F_BID | F_ASK | F_LAST,
        K_CLEAR | F_ASK | F_LAST,
        K_BBO | F_ASK | F_LAST,
    ],
)
def test_good_flag_combinations(kernel: Callable[..., int], flags: int) -> None:
    px = NO_PX if flags & 0xFF == K_CLEAR else 105
    report, _ = run(with_row(flags, px=px), kernel)
    assert report.ok, report.problems


@pytest.mark.parametrize(
    ("flags", "px", "ok"),
    [
        (K_DEPTH | F_BID | F_LAST, -1, False),
        (K_TRADE | F_ASK | F_LAST, NO_PX, False),
        (K_SNAPSHOT | F_ASK | F_LAST, NO_PX, False),
        (K_L3_MODIFY | F_LAST, NO_PX, False),
        (K_L3_CANCEL | F_LAST, NO_PX, True),
        (K_CLEAR | F_BID | F_LAST, NO_PX, True),
        (K_CLEAR | F_BID | F_LAST, -5, False),
        (K_DEPTH | F_BID | F_LAST, 0, True),
    ],
)
def test_prices(kernel: Callable[..., int], flags: int, px: int, ok: bool) -> None:
    report, _ = run(with_row(flags, px=px), kernel)
    if ok:
        assert report.ok, report.problems
    else:
        only(report, bad_price=1)


@pytest.mark.parametrize(
    ("flags", "qty", "ok"),
    [
        (K_TRADE | F_BID | F_LAST, 0, False),
        (K_DEPTH | F_BID | F_LAST, -1, False),
        (K_DEPTH | F_BID | F_LAST, 0, True),
        (K_SNAPSHOT | F_BID | F_LAST, 0, False),
        (K_L3_MODIFY | F_LAST, 0, True),
        (K_L3_FILL | F_LAST, 0, False),
        (K_BBO | F_BID | F_LAST, 0, True),
        (K_CLEAR | F_BID | F_LAST, -3, True),
    ],
)
def test_sizes(kernel: Callable[..., int], flags: int, qty: int, ok: bool) -> None:
    px = NO_PX if flags & 0xFF == K_CLEAR else 98
    report, _ = run(with_row(flags, px=px, qty=qty), kernel)
    if ok:
        assert report.ok, report.problems
    else:
        only(report, bad_size=1)
        assert "must be" in report.examples["bad_size"][0]["detail"]


# --- rows against the rows before them ----------------------------------------------------------


def test_a_repeated_row_is_a_duplicate(kernel: Callable[..., int]) -> None:
    report, _ = run(events([*CLEAN, CLEAN[-1]]), kernel)
    # It also repeats an F_LAST row's seq and local_ts, so it splits that message.
    only(report, duplicate=1, split_message=1)
    assert report.examples["duplicate"][0]["row"] == 7


def test_rows_differing_in_one_field_are_not_duplicates(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows.insert(4, (K_DEPTH | F_BID, 30, 40, 100, 4, 102, 100))  # qty differs from row 3
    report, _ = run(events(rows), kernel)
    assert report.ok


def test_a_message_left_open_is_missing_its_last_flag(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows[4] = (K_DEPTH | F_ASK, 30, 40, 102, 3, 102, 100)
    report, _ = run(events(rows), kernel)
    only(report, missing_last=1)
    assert report.examples["missing_last"][0] == {
        "row": 5,
        "detail": "row 4 (seq 102, local_ts 40) ends a message without F_LAST",
    }


def test_a_stream_ending_inside_a_message(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows[6] = (K_DEPTH | F_ASK, 50, 70, 101, 3, 103, 102)
    report, _ = run(events(rows), kernel)
    only(report, missing_last=1)
    assert report.examples["missing_last"][0]["row"] == 6
    assert "stream ends" in report.examples["missing_last"][0]["detail"]


def test_interleaved_messages_are_missing_their_last_flag(kernel: Callable[..., int]) -> None:
    rows = [
        *CLEAN,
        (K_DEPTH | F_BID, 80, 90, 98, 1, 104, 103),
        (K_DEPTH | F_BID, 81, 91, 97, 1, 105, 104),
        (K_DEPTH | F_BID | F_LAST, 80, 90, 96, 1, 104, 103),
        (K_DEPTH | F_BID | F_LAST, 81, 91, 95, 1, 105, 104),
    ]
    report, _ = run(events(rows), kernel)
    # Rows 8 and 9 each start a message while the one before is open; 9 also goes back in
    # time and breaks the chain (104 after 105).
    assert report.problems["missing_last"] == 2
    assert report.problems["seq_gap"] == 1
    assert report.problems["local_ts_backwards"] == 1
    assert [e["row"] for e in report.examples["missing_last"]] == [8, 9]


def test_f_last_inside_a_message_splits_it(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows[3] = (K_DEPTH | F_BID | F_LAST, 30, 40, 100, 3, 102, 100)
    report, _ = run(events(rows), kernel)
    only(report, split_message=1)
    assert report.examples["split_message"][0]["row"] == 4


# --- the sequence chain ------------------------------------------------------------------------


def test_a_depth_message_that_skips_one_is_a_gap(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows[6] = (K_DEPTH | F_ASK | F_LAST, 50, 70, 101, 3, 103, 101)
    report, _ = run(events(rows), kernel)
    only(report, seq_gap=1)
    assert report.examples["seq_gap"][0] == {
        "row": 6,
        "detail": "aux 101 does not chain from the last depth seq 102",
    }


@pytest.mark.parametrize(("aux", "gap"), [(95, False), (100, False), (101, True), (NO_ID, False)])
def test_the_first_update_after_a_snapshot_may_overlap_it(
    kernel: Callable[..., int], aux: int, gap: bool
) -> None:
    rows = list(CLEAN)
    rows[3] = (K_DEPTH | F_BID, 30, 40, 100, 3, 102, aux)
    rows[4] = (K_DEPTH | F_ASK | F_LAST, 30, 40, 102, 3, 102, aux)
    report, _ = run(events(rows), kernel)
    assert report.problems["seq_gap"] == int(gap)


def test_the_chain_ignores_trades_and_unchained_venues(kernel: Callable[..., int]) -> None:
    rows = [
        (K_DEPTH | F_BID | F_LAST, 1, 2, 100, 1, 10, NO_ID),
        (K_TRADE | F_BID | F_LAST, 3, 4, 101, 1, 99, NO_ID),
        (K_DEPTH | F_BID | F_LAST, 5, 6, 100, 2, 11, 10),
        (K_DEPTH | F_BID | F_LAST, 7, 8, 100, 3, 12, NO_ID),
        (K_DEPTH | F_BID | F_LAST, 9, 10, 100, 4, 13, 12),
    ]
    report, _ = run(events(rows), kernel)
    assert report.ok


def test_a_gap_resyncs_the_chain(kernel: Callable[..., int]) -> None:
    rows = [
        (K_DEPTH | F_BID | F_LAST, 1, 2, 100, 1, 10, 9),
        (K_DEPTH | F_BID | F_LAST, 3, 4, 100, 2, 20, 15),
        (K_DEPTH | F_BID | F_LAST, 5, 6, 100, 3, 21, 20),
    ]
    report, _ = run(events(rows), kernel)
    only(report, seq_gap=1)


# --- crossed books -----------------------------------------------------------------------------


def test_a_message_that_leaves_the_book_crossed(kernel: Callable[..., int]) -> None:
    rows = [
        *CLEAN,
        (K_DEPTH | F_BID | F_LAST, 80, 90, 101, 1, 104, 103),
        (K_TRADE | F_BID | F_LAST, 81, 91, 101, 1, 8, NO_ID),  # no book change: not counted
        (K_DEPTH | F_ASK | F_LAST, 82, 92, 103, 1, 105, 104),  # still crossed: counted
        (K_DEPTH | F_BID | F_LAST, 83, 93, 101, 0, 106, 105),  # uncrossed
    ]
    report, _ = run(events(rows), kernel)
    only(report, crossed_book=2)
    assert report.examples["crossed_book"] == [
        {"row": 7, "detail": "best bid 101 >= best ask 101 after this message"},
        {"row": 9, "detail": "best bid 101 >= best ask 101 after this message"},
    ]


def test_a_book_crossed_only_inside_a_message_is_fine(kernel: Callable[..., int]) -> None:
    rows = [
        *CLEAN,
        (K_DEPTH | F_BID, 80, 90, 102, 1, 104, 103),
        (K_DEPTH | F_ASK, 80, 90, 103, 1, 104, 103),
        (K_DEPTH | F_ASK, 80, 90, 102, 0, 104, 103),
        (K_DEPTH | F_ASK | F_LAST, 80, 90, 101, 0, 104, 103),
    ]
    report, _ = run(events(rows), kernel)
    assert report.ok


def test_rows_failing_a_check_are_not_replayed(kernel: Callable[..., int]) -> None:
    report, _ = run(with_row(K_DEPTH | F_BID | F_ASK | F_LAST, px=150), kernel)
    only(report, bad_flags=1)


def test_clears_replay_like_the_reference_book(kernel: Callable[..., int]) -> None:
    rows = [
        *CLEAN,
        (K_CLEAR | F_ASK | F_LAST, 80, 90, 101, 0, 104, NO_ID),  # asks through 101 go
        (K_DEPTH | F_BID | F_LAST, 81, 91, 101, 1, 105, 103),  # bid 101 < ask 102
        (K_DEPTH | F_BID | F_LAST, 82, 92, 102, 1, 106, 105),  # bid 102 >= ask 102
    ]
    report, _ = run(events(rows), kernel)
    only(report, crossed_book=1)
    assert report.examples["crossed_book"][0]["row"] == 9


def test_a_deep_book_grows_its_arrays() -> None:
    n = 3_000
    ev = empty_events(2 * n + 2)
    ev["flags"][0] = K_CLEAR | F_BID | F_ASK
    ev["px"][0] = NO_PX
    ev["flags"][1 : n + 1] = K_SNAPSHOT | F_BID
    ev["px"][1 : n + 1] = np.arange(n)
    ev["flags"][n + 1 : 2 * n + 1] = K_SNAPSHOT | F_ASK
    ev["px"][n + 1 : 2 * n + 1] = np.arange(n, 2 * n)
    ev["qty"][1:] = 1
    ev["flags"][2 * n] |= F_LAST
    ev["flags"][-1] = K_DEPTH | F_BID | F_LAST
    ev["px"][-1] = n  # at the best ask
    ev["seq"][-1] = 1
    report = scan(np.array_split(ev, 5))
    only(report, crossed_book=1)
    assert report.examples["crossed_book"][0]["detail"].startswith(f"best bid {n} >= best ask {n}")


# --- strict mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "mutation", "reason"),
    [
        (5, (K_TRADE | F_BID | F_LAST, 30, 35, 101, 2, 7, NO_ID), "local_ts_backwards"),
        (6, (K_DEPTH | F_ASK | F_LAST, 50, 70, 101, 3, 103, 101), "seq_gap"),
        (3, (K_DEPTH | F_BID | F_LAST, 30, 40, 100, 3, 102, 100), "split_message"),
        (6, (K_DEPTH | F_ASK | F_LAST, 50, 70, 99, 3, 103, 102), "crossed_book"),
    ],
)
def test_strict_mode_raises_at_the_first_problem(
    kernel: Callable[..., int], row: int, mutation: Row, reason: str
) -> None:
    rows = list(CLEAN)
    rows[row] = mutation
    rows.append((K_DEPTH | F_LAST, 90, 95, 100, 1, 200, NO_ID))  # a later problem, never reached
    ev = events(rows)
    first = row + 1 if reason == "split_message" else row
    with pytest.raises(DataError) as info:
        run([ev[:2], ev[2:]], kernel, strict=True)
    assert info.value.path == "t.npy"
    assert info.value.line == first + 1
    assert f"row {first}: {reason}: " in str(info.value)


def test_strict_mode_names_every_problem_of_the_row(kernel: Callable[..., int]) -> None:
    with pytest.raises(DataError) as info:
        run(with_row(K_TRADE | F_LAST, px=-1, qty=0), kernel, strict=True)
    message = str(info.value)
    assert "row 7: bad_flags: " in message
    assert "; bad_price: " in message
    assert "; bad_size: " in message


def test_strict_mode_checks_the_end_of_the_stream(kernel: Callable[..., int]) -> None:
    rows = list(CLEAN)
    rows[6] = (K_DEPTH | F_ASK, 50, 70, 101, 3, 103, 102)
    with pytest.raises(DataError, match="row 6: missing_last: the stream ends inside a message"):
        run(events(rows), kernel, strict=True)


def test_strict_mode_passes_a_clean_stream(kernel: Callable[..., int]) -> None:
    report, _ = run(events(CLEAN), kernel, strict=True)
    assert report.ok


# --- report --------------------------------------------------------------------------------------


def test_examples_stop_at_the_limit_but_counts_go_on() -> None:
    rows = [(K_DEPTH | F_BID | F_LAST, 10 + i, 5 + i, 100, 1, i, NO_ID) for i in range(12)]
    report, _ = run(events(rows))
    only(report, negative_latency=12)
    assert [e["row"] for e in report.examples["negative_latency"]] == list(range(MAX_EXAMPLES))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["problems"]["negative_latency"] == 12
    assert data["total_problems"] == 12
    assert data["ok"] is False
    assert list(data["examples"]) == ["negative_latency"]


# --- the synthetic market and chunking ----------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_synthetic_market_validates_clean(seed: int) -> None:
    params = SynthParams(seed=seed, levels=10 + 10 * seed)
    chunks = list(generate(params, 150_000, chunk_rows=40_000))
    report = ValidationReport(strict=True)
    out = list(validate(chunks, report, repair=True))
    assert all(a is b for a, b in zip(out, chunks, strict=True))  # nothing needed repair
    assert report.ok
    assert report.rows == 150_000
    assert report.repaired["rows"] == 0
    assert report.kinds["trade"] > 1_000


def _dirty_stream() -> np.ndarray:
    """A synthetic stream with every kind of problem injected."""
    ev = generate_array(SynthParams(seed=4, levels=6), 20_000)
    rng = np.random.default_rng(0)
    rows = rng.choice(np.arange(100, len(ev)), size=600, replace=False)
    for k, i in enumerate(rows):
        what = k % 10
        if what == 0:
            ev["local_ts"][i] -= 10_000_000
        elif what == 1:
            ev["exch_ts"][i] = ev["local_ts"][i] + 1_000
        elif what == 2:
            ev["flags"][i] |= F_BID | F_ASK
        elif what == 3:
            ev["aux"][i] += 1
        elif what == 4:
            ev[i] = ev[i - 1]
        elif what == 5:
            ev["px"][i] += 3 if ev["flags"][i] & F_BID else -3
        elif what == 6:
            ev["qty"][i] = -1
        elif what == 7:
            ev["flags"][i] = (ev["flags"][i] & ~np.uint32(0xFF)) | 77
        elif what == 8:
            ev["flags"][i] ^= F_LAST
        else:
            ev["px"][i] = -7
    return ev


def test_dirty_stream_finds_every_problem() -> None:
    report = scan([_dirty_stream()])
    assert all(report.problems[name] > 0 for name in PROBLEMS), report.problems


@pytest.mark.parametrize("chunk_rows", [1, 3, 64, 1_000, 7_777])
def test_report_and_repair_do_not_depend_on_chunking(chunk_rows: int) -> None:
    ev = _dirty_stream()
    whole, whole_out = run(ev, repair=True)
    parts = [ev[i : i + chunk_rows] for i in range(0, len(ev), chunk_rows)]
    chunked, chunked_out = run(parts, repair=True)
    assert chunked.to_dict() == whole.to_dict()
    assert chunked_out.tobytes() == whole_out.tobytes()


def test_python_and_compiled_kernels_agree_on_a_dirty_stream() -> None:
    ev = _dirty_stream()[:4_000]
    py, py_out = run(np.array_split(ev, 3), _py(_validate_kernel.check), repair=True)
    nb, nb_out = run(ev, _validate_kernel.check, repair=True)
    assert py.to_dict() == nb.to_dict()
    assert py_out.tobytes() == nb_out.tobytes()


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing compiles without JIT")
def test_warm_up_compiles_the_kernel() -> None:
    warm_up()
    assert _validate_kernel.check.signatures


def test_message_of_another_kind_with_the_same_id_and_time_is_not_a_split() -> None:
    # Binance USD-M: the buffered diff whose u equals the snapshot's lastUpdateId is
    # released at the snapshot's local time, so both messages share (seq, local_ts).
    ev = empty_events(3)
    ev["flags"] = [K_SNAPSHOT | F_BID, K_SNAPSHOT | F_ASK | F_LAST, K_DEPTH | F_BID | F_LAST]
    ev["local_ts"] = ev["exch_ts"] = 10
    ev["seq"] = 7
    ev["px"] = [99, 101, 98]
    ev["qty"] = [1, 1, 2]
    ev["aux"][2] = 5
    report = scan([ev])
    assert report.problems["split_message"] == 0
    assert report.ok

"""Property tests for the Binance converter: generated diffs vs a dict book; mutated input."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hftlib.convert import binance_ws as bw
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.refbook import L2Book
from hftlib.types import F_SYNTHETIC, K_CLEAR, KIND_MASK

SPOT = Instrument(
    venue="binance", symbol="BTCUSDT", kind=InstrumentKind.SPOT, tick_size=0.01, lot_size=0.001
)
FUT = Instrument(
    venue="binance-futures",
    symbol="BTCUSDT",
    kind=InstrumentKind.LINEAR_PERPETUAL,
    tick_size=0.01,
    lot_size=0.001,
)
T0 = 1_723_161_253_000_000_000
E0 = 1_723_161_255_000
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_files = itertools.count()

Side = dict[int, int]  # tick -> lots
Update = tuple[bool, int, int]  # (is bid, tick, lots); 0 lots deletes


def px(tick: int) -> str:
    return f"{tick / 100:.2f}"


def qty(lots: int) -> str:
    return f"{lots / 1000:.3f}"


def apply(book: tuple[Side, Side], updates: list[Update]) -> None:
    for is_bid, tick, lots in updates:
        side = book[0] if is_bid else book[1]
        if lots:
            side[tick] = lots
        else:
            side.pop(tick, None)


def levels(side: Side) -> list[list[str]]:
    return [[px(t), qty(q)] for t, q in sorted(side.items())]


def diff_msg(first: int, last: int, prev: int, updates: list[Update], futures: bool) -> bytes:
    data: dict[str, Any] = {"e": "depthUpdate", "E": E0, "s": "BTCUSDT", "U": first, "u": last}
    if futures:
        data.update(T=E0, pu=prev)
    data["b"] = [[px(t), qty(q)] for b, t, q in updates if b]
    data["a"] = [[px(t), qty(q)] for b, t, q in updates if not b]
    return orjson.dumps({"stream": "btcusdt@depth@0ms", "data": data})


def snapshot_msg(lid: int, book: tuple[Side, Side]) -> bytes:
    return orjson.dumps({"lastUpdateId": lid, "bids": levels(book[0]), "asks": levels(book[1])})


def write(directory: Path, payloads: list[bytes]) -> Path:
    path = directory / f"capture{next(_files)}.txt"
    path.write_bytes(b"".join(b"%d %s\n" % (T0 + i, p) for i, p in enumerate(payloads)))
    return path


def convert(
    path: Path, instrument: Instrument, *, strict: bool = False, lane: bool = True
) -> tuple[Any, Any]:
    report = ConvertReport("binance", [str(path)], strict=strict)
    chunks = list(bw.convert([path], instrument, report, chunk_rows=7, lane=lane))
    return (np.concatenate(chunks) if chunks else None), report


def replay(events: Any) -> tuple[Side, Side]:
    book = L2Book()
    if events is not None:
        for flags, tick, lots in zip(
            events["flags"].tolist(), events["px"].tolist(), events["qty"].tolist(), strict=True
        ):
            book.apply(flags, tick, lots)
    return dict(book.bids), dict(book.asks)


updates_st = st.lists(
    st.tuples(st.booleans(), st.integers(9_990, 10_010), st.integers(0, 3)), max_size=5
)


@st.composite
def streams(draw: st.DrawFn) -> dict[str, Any]:
    """A diff stream with ids, one snapshot that bridges diff ``j``, written after ``k`` diffs."""
    futures = draw(st.booleans())
    base = (
        draw(st.dictionaries(st.integers(9_990, 10_000), st.integers(1, 5), max_size=6)),
        draw(st.dictionaries(st.integers(10_001, 10_010), st.integers(1, 5), max_size=6)),
    )
    n = draw(st.integers(1, 25))
    diffs = []
    last = draw(st.integers(1_000, 10**12))
    for _ in range(n):
        first = last + 1 + (draw(st.integers(0, 3)) if futures else 0)
        diffs.append((first, first + draw(st.integers(0, 3)), last, draw(updates_st)))
        last = diffs[-1][1]
    j = draw(st.integers(0, n - 1))
    first_j, last_j = diffs[j][0], diffs[j][1]
    # Bridging: spot U <= lid + 1 <= u; futures U <= lid <= u.
    lid = draw(
        st.integers(first_j - 1, last_j - 1) if not futures else st.integers(first_j, last_j)
    )
    return {
        "futures": futures,
        "base": base,
        "diffs": diffs,
        "j": j,
        "lid": lid,
        "k": draw(st.integers(0, n)),
    }


@SETTINGS
@given(stream=streams())
def test_generated_diff_stream_gives_the_model_book(tmp_path: Path, stream: dict[str, Any]) -> None:
    futures, diffs, j, k = stream["futures"], stream["diffs"], stream["j"], stream["k"]
    model = (dict(stream["base"][0]), dict(stream["base"][1]))
    for _, _, _, updates in diffs[:j]:
        apply(model, updates)
    snap = snapshot_msg(stream["lid"], model)
    for _, _, _, updates in diffs[j:]:
        apply(model, updates)
    payloads = [diff_msg(U, u, p, ups, futures) for U, u, p, ups in diffs]
    payloads.insert(k, snap)
    path = write(tmp_path, payloads)
    events, report = convert(path, FUT if futures else SPOT)
    assert report.gaps == 0
    assert report.skipped_total == 0
    assert report.counts["depthUpdate.applied"] == len(diffs) - j
    assert report.counts["depthUpdate.discarded"] == j
    assert replay(events) == model
    assert (np.diff(events["local_ts"]) >= 0).all()
    general, _ = convert(path, FUT if futures else SPOT, lane=False)
    assert general.tobytes() == events.tobytes()


@SETTINGS
@given(stream=streams(), data=st.data())
def test_gap_clears_the_book_and_a_later_snapshot_rebuilds_it(
    tmp_path: Path, stream: dict[str, Any], data: st.DataObject
) -> None:
    futures, diffs = stream["futures"], stream["diffs"]
    # Snapshot first, then drop one diff after the bridging one: a gap; resync at diff m.
    lid, j = stream["lid"], stream["j"]
    assume(len(diffs) - j >= 3)
    g = data.draw(st.integers(j + 1, len(diffs) - 2), label="dropped")
    m = data.draw(st.integers(g + 1, len(diffs) - 1), label="resync at")
    model = (dict(stream["base"][0]), dict(stream["base"][1]))
    for _, _, _, updates in diffs[:j]:
        apply(model, updates)
    payloads = [snapshot_msg(lid, model)]
    payloads += [
        diff_msg(U, u, p, ups, futures) for i, (U, u, p, ups) in enumerate(diffs) if i != g
    ]
    for _, _, _, updates in diffs[j:m]:
        apply(model, updates)
    second_lid = diffs[m][0] - (1 if not futures else 0)  # bridges diff m exactly at its start
    payloads.append(snapshot_msg(second_lid, model))
    for _, _, _, updates in diffs[m:]:
        apply(model, updates)
    events, report = convert(write(tmp_path, payloads), FUT if futures else SPOT)
    assert report.gaps == 1
    assert report.resyncs == 1
    gap_clears = (events["flags"] & (KIND_MASK | F_SYNTHETIC)) == (K_CLEAR | F_SYNTHETIC)
    assert gap_clears.sum() == 1
    assert replay(events) == model


def capture() -> list[bytes]:
    """A small valid spot capture with every message kind (the seed for mutations)."""
    book = ({9_999: 2, 9_998: 1}, {10_001: 3})
    trade = {
        "e": "trade",
        "E": E0,
        "s": "BTCUSDT",
        "t": 5,
        "p": "100.00",
        "q": "0.001",
        "T": E0,
        "m": True,
        "M": True,
    }
    ticker = {"u": 12, "s": "BTCUSDT", "b": "99.99", "B": "0.002", "a": "100.01", "A": "0.003"}
    return [
        diff_msg(8, 10, 7, [(True, 9_999, 1)], False),
        snapshot_msg(10, book),
        orjson.dumps({"stream": "btcusdt@trade", "data": trade}),
        diff_msg(11, 12, 10, [(True, 9_999, 0), (False, 10_002, 4)], False),
        orjson.dumps({"stream": "btcusdt@bookTicker", "data": ticker}),
        diff_msg(13, 15, 12, [(False, 10_001, 0)], False),
    ]


MESSAGE_COUNTS = ("depthUpdate", "trade", "bookTicker", "snapshot", "control", "trade.non_market")


JSON_BITS = [
    b'"',
    b"[",
    b"]",
    b",",
    b"0",
    b"-",
    b"e",
    b" ",
    b"{",
    b"}",
    b"1.5",
    b"\\",
    b"null",
    b"\xff",
    b"\xc3\xa9",
]


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    lines = [b"%d %s" % (T0 + i, p) for i, p in enumerate(capture())]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        a = draw(st.integers(0, len(line)))
        b = draw(st.integers(a, min(len(line), a + 8)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "binary"]))
        if action == "delete":
            lines[i] = line[:a] + line[b:]
        elif action == "insert":
            lines[i] = line[:a] + draw(st.sampled_from(JSON_BITS)) + line[a:]
        elif action == "replace":
            lines[i] = line[:a] + draw(st.binary(max_size=4)) + line[b:]
        elif action == "duplicate":
            lines.insert(i, line)
        else:
            lines[i] = draw(st.binary(max_size=40))
    return lines


@SETTINGS
@given(lines=mutated())
def test_mutated_lines_never_crash_and_every_line_is_accounted(
    tmp_path: Path, lines: list[bytes]
) -> None:
    path = tmp_path / f"mut{next(_files)}.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    events, report = convert(path, SPOT)
    # Line count after iter_lines' own split (a mutation may add a newline or blank a line).
    nonblank = sum(1 for raw in path.read_bytes().split(b"\n") if raw.rstrip(b"\r"))
    assert report.lines == nonblank
    accepted = sum(report.counts[key] for key in MESSAGE_COUNTS)
    assert accepted + report.skipped_total >= report.lines
    if events is not None:
        assert set(np.unique(events["flags"] & KIND_MASK)) <= {1, 2, 3, 4, 5}
    # The compiled lane only changes speed: the general path alone gives the same result.
    general, general_report = convert(path, SPOT, lane=False)
    assert (events is None) == (general is None)
    if events is not None:
        assert events.tobytes() == general.tobytes()
    assert (report.counts, report.skipped, report.gaps) == (
        general_report.counts,
        general_report.skipped,
        general_report.gaps,
    )
    check_strict(path, report)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / f"blob{next(_files)}.txt"
    path.write_bytes(blob)
    _, report = convert(path, SPOT)
    assert report.skipped_total + sum(report.counts[k] for k in MESSAGE_COUNTS) >= report.lines
    check_strict(path, report)


def check_strict(path: Path, report: ConvertReport) -> None:
    """Strict mode raises DataError (and nothing else) exactly when default mode reported."""
    if report.skipped_total or report.gaps:
        with pytest.raises(DataError):
            convert(path, SPOT, strict=True)
    else:
        convert(path, SPOT, strict=True)

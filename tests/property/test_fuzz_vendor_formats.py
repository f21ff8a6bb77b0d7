"""Fuzz the tardis, Binance T_DEPTH and Bybit converters.

Random valid books written in each format must come back as the same book (checked with the
reference :class:`hftlib.refbook.L2Book` against a dict model); inserted garbage lines are each
counted once and change nothing else; mutated real files never crash (default mode) and only
raise :class:`DataError` (strict mode).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hftlib.convert import binance_tdepth, bybit_ob, tardis
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.refbook import L2Book
from hftlib.types import (
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
    empty_events,
)

INSTRUMENT = Instrument(
    venue="fuzz", symbol="FUZZ", kind=InstrumentKind.SPOT, tick_size=0.01, lot_size=0.001
)
TICK, LOT = Decimal("0.01"), Decimal("0.001")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A message is ("snap", bids, asks) with {tick: lots} sides, or ("delta", [(is_bid, tick,
# lots)], gap) where lots 0 deletes and gap asks the writer to break the id chain before it.
Message = tuple[str, Any, Any]
Book = tuple[dict[int, int], dict[int, int]]

_sides = st.dictionaries(st.integers(1, 12), st.integers(1, 5), max_size=5)
_snapshot = st.tuples(
    st.just("snap"),
    st.dictionaries(st.integers(1, 12), st.integers(1, 5), min_size=1, max_size=5),
    _sides,
)
_delta = st.tuples(
    st.just("delta"),
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 12), st.integers(0, 5)), min_size=1, max_size=5
    ),
    st.booleans(),
)
_messages = st.lists(st.one_of(_snapshot, _delta), min_size=1, max_size=12)
_garbage = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\n", b"x").replace(b"\r", b"x").replace(b",", b";")
)


def px(tick: int) -> str:
    return str(tick * TICK)


def qty(lots: int) -> str:
    return str(lots * LOT)


def expected_book(msgs: list[Message], fmt: str) -> tuple[Book, int]:
    """Return the book the messages describe and the number of chain gaps in them."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    gaps = 0
    prev: str | None = None
    for kind, a, b in msgs:
        if kind == "snap":
            # tardis: a snapshot right after a snapshot continues the same run.
            if not (fmt == "tardis" and prev == "snap"):
                bids.clear()
                asks.clear()
            bids.update(a)
            asks.update(b)
        else:
            if b and prev is not None and fmt != "tardis":
                gaps += 1  # the converter drops the book (synthetic clear) on a gap
                bids.clear()
                asks.clear()
            for is_bid, tick, lots in a:
                side = bids if is_bid else asks
                if lots:
                    side[tick] = lots
                else:
                    side.pop(tick, None)
        prev = kind
    return (bids, asks), gaps


def write_tardis(msgs: list[Message], folder: Path) -> list[Path]:
    lines = ["exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"]
    for i, (kind, a, b) in enumerate(msgs):
        ts = f"fuzz,FUZZ,{1000 + i},{2000 + i}"
        if kind == "snap":
            rows = [(True, t, n) for t, n in a.items()] + [(False, t, n) for t, n in b.items()]
            lines += [f"{ts},true,{'bid' if s else 'ask'},{px(t)},{qty(n)}" for s, t, n in rows]
        else:
            lines += [f"{ts},false,{'bid' if s else 'ask'},{px(t)},{qty(n)}" for s, t, n in a]
    path = folder / "tardis.csv"
    path.write_text("\n".join(lines) + "\n")
    return [path]


def write_tdepth(msgs: list[Message], folder: Path) -> list[Path]:
    header = ",".join(binance_tdepth.HEADER)
    snaps, updates = [header], [header]
    cur = last_u = 1000
    for i, (kind, a, b) in enumerate(msgs):
        ts = 1_600_000_000_000 + i
        if kind == "snap":
            cur += 1  # the next update starts at or below this id: it bridges the snapshot
            rows = [("b", t, n) for t, n in a.items()] + [("a", t, n) for t, n in b.items()]
            snaps += [f"FUZZ,{ts},{cur},{cur},{s},snap,{px(t)},{qty(n)},-1" for s, t, n in rows]
            continue
        if b:
            pu, first = cur + 2, cur + 3
        else:
            pu, first = last_u, last_u + 1
        last_u = cur = max(first, cur) + 1
        updates += [
            f"FUZZ,{ts},{first},{cur},{'b' if s else 'a'},set,{px(t)},{qty(n)},{pu}"
            for s, t, n in a
        ]
    snap_path, update_path = folder / "depth_snap.csv", folder / "depth_update.csv"
    snap_path.write_text("\n".join(snaps) + "\n")
    update_path.write_text("\n".join(updates) + "\n")
    return [update_path, snap_path]


def write_bybit(msgs: list[Message], folder: Path) -> list[Path]:
    lines = []
    u = 100
    for i, (kind, a, b) in enumerate(msgs):
        u += 3 if kind == "delta" and b else 1
        if kind == "snap":
            bids = [[px(t), qty(n)] for t, n in a.items()]
            asks = [[px(t), qty(n)] for t, n in b.items()]
        else:
            bids = [[px(t), qty(n)] for s, t, n in a if s]
            asks = [[px(t), qty(n)] for s, t, n in a if not s]
        data = {"s": "FUZZ", "b": bids, "a": asks, "u": u, "seq": u}
        msg = {
            "topic": "orderbook.500.FUZZ",
            "type": "snapshot" if kind == "snap" else "delta",
            "ts": 1000 + i,
            "cts": 999 + i,
            "data": data,
        }
        lines.append(orjson.dumps(msg).decode())
    path = folder / "fuzz_ob500.data"
    path.write_text("\n".join(lines) + "\n")
    return [path]


FORMATS: dict[str, tuple[ModuleType, Callable[[list[Message], Path], list[Path]]]] = {
    "tardis": (tardis, write_tardis),
    "binance-tdepth": (binance_tdepth, write_tdepth),
    "bybit": (bybit_ob, write_bybit),
}


def convert(
    fmt: str, paths: list[Path], *, strict: bool = False, chunk_rows: int = 16
) -> tuple[np.ndarray, ConvertReport]:
    module = FORMATS[fmt][0]
    report = ConvertReport(fmt, [str(p) for p in paths], strict=strict)
    chunks = list(module.convert(paths, INSTRUMENT, report, chunk_rows=chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    events = np.concatenate(chunks) if chunks else empty_events()
    assert report.events == len(events)
    return events, report


def replay(events: np.ndarray) -> Book:
    book = L2Book()
    for row in events:
        book.apply(int(row["flags"]), int(row["px"]), int(row["qty"]))
    return dict(book.bids), dict(book.asks)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@pytest.mark.parametrize("fmt", list(FORMATS))
@FUZZ
@given(msgs=_messages)
def test_valid_input_gives_the_model_book(fmt: str, msgs: list[Message]) -> None:
    with scratch() as folder:
        paths = FORMATS[fmt][1](msgs, folder)
        events, report = convert(fmt, paths)
    book, gaps = expected_book(msgs, fmt)
    assert replay(events) == book
    assert report.skipped_total == 0
    assert report.gaps == gaps
    assert report.resyncs == gaps
    if fmt != "tardis":
        # One F_LAST per message (a tardis snapshot run may span several).
        assert int((events["flags"] & F_LAST != 0).sum()) == len(msgs)


@pytest.mark.parametrize("fmt", list(FORMATS))
@FUZZ
@given(
    msgs=_messages,
    garbage=st.lists(st.tuples(st.integers(0, 10**6), _garbage), min_size=1, max_size=4),
)
def test_garbage_lines_are_counted_and_change_nothing(
    fmt: str, msgs: list[Message], garbage: list[tuple[int, bytes]]
) -> None:
    with scratch() as folder:
        paths = FORMATS[fmt][1](msgs, folder)
        clean, _ = convert(fmt, paths)
        target = paths[0]
        lines = target.read_bytes().splitlines()
        keep = 0 if fmt == "bybit" else 1  # never in front of a CSV header
        for where, text in garbage:
            lines.insert(keep + where % (len(lines) + 1 - keep), text)
        target.write_bytes(b"\n".join(lines) + b"\n")
        dirty, report = convert(fmt, paths)
        with pytest.raises(DataError):
            convert(fmt, paths, strict=True)
    assert report.skipped_total == len(garbage)
    assert dirty.tobytes() == clean.tobytes()


REAL = {
    "deribit_incremental_book_L2_BTC-PERPETUAL.csv": ("tardis", "tardis"),
    "bitmex_trades_XBTUSD.csv": ("tardis", "tardis"),
    "huobi-dm-swap_quotes_BTC-USD.csv": ("tardis", "tardis"),
    "binance-futures_book_snapshot_5_BTCUSDT.csv": ("tardis", "tardis"),
    "btcusdt-depth-update.csv": ("binance-tdepth", "binance-futures-tdepth"),
    "btcusdt-depth-snap.csv": ("binance-tdepth", "binance-futures-tdepth"),
    "xrpusdt-ob500.data.zip": ("bybit", "bybit"),
}
"""Real fixture -> (format, folder under format-fixtures)."""


@functools.cache
def real_bytes(shared: Path, name: str) -> bytes:
    """Return a fixture's bytes; the Bybit zip gives its first 8 (plain) lines."""
    path = shared / "format-fixtures" / REAL[name][1] / name
    if path.suffix != ".zip":
        return path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        # 8 messages keep each example fast; the mutations still reach every field.
        return b"\n".join(archive.read(archive.namelist()[0]).splitlines()[:8]) + b"\n"


KINDS = {
    "tardis": {K_CLEAR, K_SNAPSHOT, K_DEPTH, K_TRADE, K_BBO},
    "binance-tdepth": {K_CLEAR, K_SNAPSHOT, K_DEPTH},
    "bybit": {K_CLEAR, K_SNAPSHOT, K_DEPTH},
}

_mutation = st.tuples(
    st.integers(0, 10**7),
    st.sampled_from(["set", "insert", "delete"]),
    st.binary(min_size=1, max_size=3),
)


def mutate(data: bytes, mutations: list[tuple[int, str, bytes]]) -> bytes:
    buf = bytearray(data)
    for where, how, new in mutations:
        i = where % (len(buf) + 1)
        if how == "insert":
            buf[i:i] = new
        elif how == "delete":
            del buf[i : i + len(new)]
        else:
            buf[i : i + len(new)] = new
    return bytes(buf)


@pytest.mark.parametrize("name", REAL)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_real_files_never_crash(
    shared_data: Path, name: str, mutations: list[tuple[int, str, bytes]]
) -> None:
    fmt, data = REAL[name][0], real_bytes(shared_data, name)
    with scratch() as folder:
        path = folder / name.removesuffix(".zip")
        path.write_bytes(mutate(data, mutations))
        events, report = convert(fmt, [path], chunk_rows=64)
        try:
            strict_events, _ = convert(fmt, [path], strict=True, chunk_rows=64)
        except DataError:
            strict_events = None
    # Strict mode raises exactly when default mode skipped or found a gap, and otherwise
    # gives the same events.
    assert (strict_events is None) == (report.skipped_total + report.gaps > 0)
    if strict_events is not None:
        assert strict_events.tobytes() == events.tobytes()
    kinds = events["flags"] & KIND_MASK
    assert set(kinds.tolist()) <= KINDS[fmt]
    assert (events["qty"] >= 0).all()
    assert ((events["px"] == NO_PX) == (kinds == K_CLEAR)).all()

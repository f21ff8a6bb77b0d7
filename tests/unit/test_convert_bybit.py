"""Bybit ob500 converter: the real file, the u chain, resets and bad input."""

from __future__ import annotations

import gzip
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from hftlib.convert import bybit_ob
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    KIND_MASK,
    NO_ID,
    NO_PX,
)

SMALL = Instrument(
    venue="bybit",
    symbol="XRPUSDT",
    kind=InstrumentKind.LINEAR_PERPETUAL,
    tick_size=0.0001,
    lot_size=1.0,
)


@pytest.fixture
def zipped(shared_data: Path) -> Path:
    return shared_data / "format-fixtures" / "bybit" / "xrpusdt-ob500.data.zip"


@pytest.fixture
def messages(zipped: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(zipped) as archive:
        text = archive.read(archive.namelist()[0])
    return [orjson.loads(line) for line in text.splitlines() if line]


def run(
    paths: list[Path],
    instrument: Instrument = SMALL,
    *,
    strict: bool = False,
    chunk_rows: int = 1 << 20,
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("bybit", [str(p) for p in paths], strict=strict)
    chunks = list(bybit_ob.convert(paths, instrument, report, chunk_rows=chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    return np.concatenate(chunks), report


def kinds(events: np.ndarray) -> np.ndarray:
    return events["flags"] & KIND_MASK


def model_book(msgs: list[dict[str, Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """Apply the raw messages with Decimal arithmetic: the book the file describes."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for msg in msgs:
        if msg["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for side, key in ((bids, "b"), (asks, "a")):
            for px, qty in msg["data"][key]:
                tick = int(Decimal(px) / Decimal("0.0001"))
                if Decimal(qty) == 0:
                    side.pop(tick, None)
                else:
                    side[tick] = int(Decimal(qty))
    return bids, asks


def test_real_file_counts_and_chain(zipped: Path, messages: list[dict[str, Any]]) -> None:
    assert bybit_ob.detect_instrument([zipped]) == ("bybit", "XRPUSDT")
    events, report = run([zipped], lookup_instrument("bybit", "XRPUSDT"))
    assert [m["type"] for m in messages] == ["snapshot"] + ["delta"] * 49
    n_snapshot = sum(len(messages[0]["data"][k]) for k in "ba")
    n_delta = sum(len(m["data"][k]) for m in messages[1:] for k in "ba")
    assert (n_snapshot, n_delta) == (1000, 2966)
    assert len(events) == 1 + n_snapshot + n_delta == 3967
    assert report.skipped_total == 0
    assert report.events == 3967
    assert int((kinds(events) == K_CLEAR).sum()) == 1
    assert int((kinds(events) == K_SNAPSHOT).sum()) == 1000
    assert int((kinds(events) == K_DEPTH).sum()) == 2966
    # u rises by exactly 1 on every delta of the recording: no gap.
    us = [m["data"]["u"] for m in messages]
    assert np.diff(us).tolist() == [1] * 49
    assert (us[0], us[-1]) == (20254869, 20254918)
    assert report.gaps == 0
    assert report.resyncs == 0
    lasts = np.flatnonzero(events["flags"] & F_LAST)
    assert len(lasts) == 50
    assert events["seq"][lasts].tolist() == us
    depth = kinds(events) == K_DEPTH
    assert np.array_equal(events["aux"][depth], events["seq"][depth] - 1)
    assert (events["aux"][~depth] == NO_ID).all()


def test_real_file_values(zipped: Path, messages: list[dict[str, Any]]) -> None:
    events, _ = run([zipped])
    snap = messages[0]
    clear = events[0]
    assert clear["flags"] == K_CLEAR | F_BID | F_ASK
    assert clear["px"] == NO_PX
    # exch_ts is the matching engine's cts, local_ts the publish time ts.
    assert clear["exch_ts"] == snap["cts"] * 1_000_000
    assert clear["local_ts"] == snap["ts"] * 1_000_000
    first = events[1]
    assert first["flags"] == K_SNAPSHOT | F_BID
    px, qty = snap["data"]["b"][0]
    assert (px, qty) == ("1.9531", "6203")
    assert (first["px"], first["qty"]) == (19531, 6203)
    assert events[1000]["flags"] == K_SNAPSHOT | F_ASK | F_LAST
    last_msg, last = messages[-1], events[-1]
    px, qty = last_msg["data"]["a"][-1]
    assert last["flags"] == K_DEPTH | F_ASK | F_LAST
    assert (last["px"], last["qty"]) == (int(Decimal(px) / Decimal("0.0001")), int(qty))
    assert last["exch_ts"] == last_msg["cts"] * 1_000_000
    assert last["local_ts"] == last_msg["ts"] * 1_000_000
    assert (events["local_ts"] >= events["exch_ts"]).all()
    assert (np.diff(events["local_ts"]) >= 0).all()


def test_real_file_book(zipped: Path, messages: list[dict[str, Any]]) -> None:
    events, _ = run([zipped])
    book = L2Book.from_events(events)
    bids, asks = model_book(messages)
    assert dict(book.bids) == bids
    assert dict(book.asks) == asks
    assert not book.crossed()
    assert book.best_bid() == max(bids.items())
    assert book.best_ask() == min(asks.items())
    assert len(book.bids) + len(book.asks) > 900
    # The first snapshot alone is the top 500 per side as published.
    snapshot = L2Book.from_events(events[:1001])
    assert len(snapshot.bids) == len(snapshot.asks) == 500
    assert snapshot.best_bid() == (19531, 6203)


def line(
    kind: str,
    u: int,
    ts: int,
    bids: list[list[Any]],
    asks: list[list[Any]],
    symbol: str = "XRPUSDT",
    **extra: Any,
) -> str:
    data = {"s": symbol, "b": bids, "a": asks, "u": u, "seq": u * 10}
    msg = {"topic": f"orderbook.500.{symbol}", "type": kind, "ts": ts, "data": data, **extra}
    return orjson.dumps(msg).decode()


def test_resets_gaps_and_bad_messages(tmp_path: Path) -> None:
    path = tmp_path / "ob.data"
    path.write_text(
        "\n".join(
            [
                line("delta", 7, 1, [["1.0000", "5"]], []),  # before any snapshot
                line("snapshot", 8, 2, [["1.0000", "1"]], [["1.0002", "2"]], cts=1),
                line("delta", 9, 3, [["1.0001", "3"]], []),
                line("delta", 9, 4, [["1.0001", "4"]], []),  # u does not increase
                line("delta", 12, 5, [], [["1.0003", "1"]]),  # 10 and 11 missing
                '{"topic":"orderbook.500.XRPUSDT","type":"delta"',  # truncated JSON
                line("delta", 13, 6, [], [], symbol="BTCUSDT"),
                line("update", 13, 6, [], []),
                line("delta", 13, 6, [["1.0000", 1]], []),  # size as a number, not a string
                # u == 1: Bybit's service restarted, the message resets the book
                line("delta", 1, 7, [["0.9000", "9"]], [["1.1000", "9"]]),
                line("delta", 2, 8, [["0.9000", "0"]], []),
            ]
        )
        + "\n"
    )
    events, report = run([path])
    assert report.counts["deltas before first snapshot"] == 1
    assert report.counts["snapshots"] == 2
    assert report.gaps == 1
    assert report.resyncs == 1
    assert report.skipped == {
        "non-monotonic u": 1,
        "malformed json": 1,
        "other symbol": 1,
        "unknown message type": 1,
        "malformed message": 1,
    }
    assert report.examples[1] == f"{path}:5: sequence gap: u 12 after 9: 2 updates missing"
    k = kinds(events).tolist()
    assert k == [
        K_DEPTH,
        K_CLEAR,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_DEPTH,
        K_CLEAR,
        K_DEPTH,
        K_CLEAR,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_DEPTH,
    ]
    assert events["flags"][5] & F_SYNTHETIC
    assert events["flags"][1] & F_SYNTHETIC == 0
    assert events["seq"].tolist() == [7, 8, 8, 8, 9, 12, 12, 1, 1, 1, 2]
    assert events["exch_ts"][1] == 1_000_000  # cts
    assert events["local_ts"][1] == 2_000_000  # ts
    book = L2Book.from_events(events)
    assert dict(book.bids) == {}
    assert dict(book.asks) == {11000: 9}
    with pytest.raises(DataError) as caught:
        run([path], strict=True)
    assert (caught.value.path, caught.value.line) == (str(path), 4)


def rezip(lines: list[bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2024-12-01_XRPUSDT_ob500.data", b"\n".join(lines) + b"\n")
    return path


def test_corrupted_copy_strict_and_default(
    zipped: Path, messages: list[dict[str, Any]], tmp_path: Path
) -> None:
    lines = [orjson.dumps(m) for m in messages]
    lines[9] = lines[9][:-40]  # file line 10: cut short
    bad = rezip(lines, tmp_path / "bad.data.zip")
    with pytest.raises(DataError) as caught:
        run([bad], strict=True)
    assert (caught.value.path, caught.value.line) == (str(bad), 10)
    assert caught.value.reason.startswith("malformed json")
    events, report = run([bad])
    assert report.skipped == {"malformed json": 1}
    # Losing line 10 breaks the u chain: the next delta is reported as a gap.
    assert report.gaps == 1
    assert (
        report.examples[1] == f"{bad}:11: sequence gap: u 20254879 after 20254877: "
        "1 updates missing"
    )
    lost = sum(len(messages[9]["data"][k]) for k in "ba")
    assert len(events) == 3967 - lost + 1  # minus line 10's levels, plus the synthetic clear
    assert int((events["flags"] & F_SYNTHETIC != 0).sum()) == 1


def test_truncated_gzip_is_counted(messages: list[dict[str, Any]], tmp_path: Path) -> None:
    blob = gzip.compress(b"\n".join(orjson.dumps(m) for m in messages) + b"\n")
    path = tmp_path / "ob.data.gz"
    path.write_bytes(blob[: len(blob) // 2])
    events, report = run([path])
    assert report.skipped == {"truncated input": 1}
    assert 0 < report.lines < 50
    assert len(events) > 1000


def test_deterministic_and_chunked(zipped: Path) -> None:
    first, _ = run([zipped])
    again, _ = run([zipped])
    small, _ = run([zipped], chunk_rows=64)
    assert first.tobytes() == again.tobytes() == small.tobytes()


def test_files_read_in_time_order(
    messages: list[dict[str, Any]], zipped: Path, tmp_path: Path
) -> None:
    lines = [orjson.dumps(m) for m in messages]
    early, late = tmp_path / "z.data", tmp_path / "a.data"
    early.write_bytes(b"\n".join(lines[:20]) + b"\n")
    late.write_bytes(b"\n".join(lines[20:]) + b"\n")
    whole, _ = run([zipped])
    split, report = run([late, early])
    assert split.tobytes() == whole.tobytes()
    assert report.gaps == 0

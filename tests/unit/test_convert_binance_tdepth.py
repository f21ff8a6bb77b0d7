"""Binance futures T_DEPTH converter: real fixtures, merge order, the pu chain, bad input."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hftlib.convert import binance_tdepth
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

SNAP_ID = 2098021528332
UPDATE_ID = 2098041696700
UPDATE_PU = 2098041693400
HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"

SMALL = Instrument(
    venue="binance-futures",
    symbol="BTCUSDT",
    kind=InstrumentKind.LINEAR_PERPETUAL,
    tick_size=0.1,
    lot_size=0.001,
)


@pytest.fixture
def files(shared_data: Path) -> tuple[Path, Path]:
    folder = shared_data / "format-fixtures" / "binance-futures-tdepth"
    return folder / "btcusdt-depth-snap.csv", folder / "btcusdt-depth-update.csv"


def run(
    paths: list[Path],
    instrument: Instrument = SMALL,
    *,
    strict: bool = False,
    chunk_rows: int = 1 << 20,
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("binance-tdepth", [str(p) for p in paths], strict=strict)
    chunks = list(binance_tdepth.convert(paths, instrument, report, chunk_rows=chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    return np.concatenate(chunks), report


def kinds(events: np.ndarray) -> list[int]:
    return [int(f) & KIND_MASK for f in events["flags"]]


def raw(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def grid(text: str, step: str) -> int:
    value = Decimal(text) / Decimal(step)
    assert value == value.to_integral_value()
    return int(value)


def test_builtin_spec_fits_the_2022_data(files: tuple[Path, Path]) -> None:
    assert binance_tdepth.detect_instrument(list(files)) == ("binance-futures", "BTCUSDT")
    spec = lookup_instrument("binance-futures", "BTCUSDT")
    events, report = run(list(files), spec)
    assert report.skipped_total == 0
    assert len(events) == 202


def test_real_files_in_either_order(files: tuple[Path, Path]) -> None:
    snap, update = files
    forward, report = run([snap, update])
    backward, _ = run([update, snap])
    assert forward.tobytes() == backward.tobytes()
    # Snapshot message: clear + 100 levels; then a synthetic clear (the gap) + 100 updates.
    assert len(forward) == 202
    assert kinds(forward) == [K_CLEAR] + [K_SNAPSHOT] * 100 + [K_CLEAR] + [K_DEPTH] * 100
    assert report.skipped_total == 0
    assert report.counts["snapshots"] == 1
    assert np.flatnonzero(forward["flags"] & F_LAST).tolist() == [100, 201]
    assert forward["flags"][0] & F_SYNTHETIC == 0
    assert forward["flags"][101] & F_SYNTHETIC
    assert (forward["px"][[0, 101]] == NO_PX).all()
    # The format has one timestamp: local_ts is the exchange time.
    assert np.array_equal(forward["local_ts"], forward["exch_ts"])


def test_gap_between_snapshot_and_updates_is_reported(files: tuple[Path, Path]) -> None:
    snap, update = files
    snap_rows, update_rows = raw(snap), raw(update)
    assert {r["last_update_id"] for r in snap_rows} == {str(SNAP_ID)}
    assert {(r["first_update_id"], r["last_update_id"], r["pu"]) for r in update_rows} == {
        ("2098041693435", str(UPDATE_ID), str(UPDATE_PU))
    }
    # The excerpts are 10 min 20.8 s apart (23:49:39.146 and 23:59:59.939 UTC): the update
    # neither chains from nor bridges the snapshot.
    gap_ms = int(update_rows[0]["timestamp"]) - int(snap_rows[0]["timestamp"])
    assert gap_ms == 620_793
    _, report = run([snap, update])
    assert report.gaps == 1
    assert report.resyncs == 1
    assert report.examples == [
        f"{update}:2: sequence gap: update [2098041693435, {UPDATE_ID}] (pu {UPDATE_PU}) does "
        f"not bridge snapshot {SNAP_ID}: it starts 20165103 ids and 620.793 s after the snapshot"
    ]
    with pytest.raises(DataError) as caught:
        run([snap, update], strict=True)
    assert (caught.value.path, caught.value.line) == (str(update), 2)
    assert caught.value.reason.startswith("sequence gap: ")


def test_row_values_against_the_raw_text(files: tuple[Path, Path]) -> None:
    snap, update = files
    events, _ = run([snap, update])
    snap_rows, update_rows = raw(snap), raw(update)
    first = events[1]
    assert first["flags"] == K_SNAPSHOT | F_BID
    assert first["px"] == grid(snap_rows[0]["price"], "0.1") == 203770
    assert first["qty"] == grid(snap_rows[0]["qty"], "0.001") == 1770
    assert first["exch_ts"] == int(snap_rows[0]["timestamp"]) * 1_000_000
    assert first["seq"] == SNAP_ID
    assert first["aux"] == NO_ID
    last = events[-1]
    assert last["flags"] == K_DEPTH | F_ASK | F_LAST  # the file ends with ask 20879.10
    assert last["px"] == grid(update_rows[-1]["price"], "0.1") == 208791
    assert last["qty"] == grid(update_rows[-1]["qty"], "0.001") == 10249
    assert last["exch_ts"] == int(update_rows[-1]["timestamp"]) * 1_000_000
    assert (events["seq"][102:] == UPDATE_ID).all()
    assert (events["aux"][102:] == UPDATE_PU).all()
    sides = [F_BID if r["side"] == "b" else F_ASK for r in update_rows]
    assert (events["flags"][102:] & (F_BID | F_ASK)).tolist() == sides


def test_book_after_each_message(files: tuple[Path, Path]) -> None:
    snap, update = files
    events, _ = run([snap, update])
    after_snapshot = L2Book.from_events(events[:101])
    assert dict(after_snapshot.bids) == {
        grid(r["price"], "0.1"): grid(r["qty"], "0.001") for r in raw(snap)
    }
    assert after_snapshot.best_bid() == (203770, 1770)
    assert after_snapshot.best_ask() is None  # the excerpt holds only the bid half
    book = L2Book.from_events(events)
    # After the gap the stale snapshot is gone; the update's non-zero levels remain.
    want: dict[str, dict[int, int]] = {"b": {}, "a": {}}
    for r in raw(update):
        if Decimal(r["qty"]) > 0:
            want[r["side"]][grid(r["price"], "0.1")] = grid(r["qty"], "0.001")
    assert dict(book.bids) == want["b"]
    assert dict(book.asks) == want["a"]
    assert not book.crossed()
    assert book.best_bid() == (204721, 22276)  # 20472.10 x 22.276
    assert book.best_ask() == (204722, 4211)  # 20472.20 x 4.211


def write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"BTCUSDT,{r}\n" for r in rows))
    return path


def test_chain_bridging_and_merge_order(tmp_path: Path) -> None:
    # Snapshot id 100 in its own file; updates 90 (older), then a bridge, then a chain.
    snap = write(
        tmp_path / "s.csv",
        ["2000,100,100,b,snap,10.0,1.000,-1", "2000,100,100,a,snap,11.0,2.000,-1"],
    )
    upd = write(
        tmp_path / "u.csv",
        [
            "1000,80,90,b,set,9.0,1.000,79",
            "3000,95,104,b,set,10.0,0.000,90",
            "3000,95,104,b,set,10.5,3.000,90",
            "4000,105,110,a,set,11.0,0.000,104",
            "5000,111,120,a,set,12.0,5.000,110",
        ],
    )
    events, report = run([upd, snap])
    assert report.gaps == 0
    assert report.skipped_total == 0
    assert report.counts["updates before first snapshot"] == 1
    assert events["seq"].tolist() == [90, 100, 100, 100, 104, 104, 110, 120]
    assert kinds(events) == [K_DEPTH, K_CLEAR, K_SNAPSHOT, K_SNAPSHOT] + [K_DEPTH] * 4
    assert np.flatnonzero(events["flags"] & F_LAST).tolist() == [0, 3, 5, 6, 7]
    assert events["exch_ts"].tolist() == [
        t * 1_000_000 for t in (1000, 2000, 2000, 2000, 3000, 3000, 4000, 5000)
    ]
    book = L2Book.from_events(events)
    assert dict(book.bids) == {105: 3000}
    assert dict(book.asks) == {120: 5000}


def test_chain_break_and_non_monotonic_ids(tmp_path: Path) -> None:
    upd = write(
        tmp_path / "u.csv",
        [
            "1000,1,10,b,set,10.0,1.000,0",
            "2000,11,20,b,set,9.0,1.000,10",
            "3000,31,40,a,set,12.0,1.000,30",  # pu 30, previous u 20: gap
            "4000,15,18,a,set,13.0,1.000,14",  # u 18 < 40: goes backwards
            "5000,41,50,a,set,12.5,1.000,40",
        ],
    )
    events, report = run([upd])
    assert report.gaps == 1
    assert report.resyncs == 1
    assert report.skipped == {"non-monotonic update id": 1}
    assert report.counts["updates before first snapshot"] == 4
    assert (
        report.examples[0] == f"{upd}:4: sequence gap: update 40 has pu 30, previous update "
        "ended at 20"
    )
    assert report.examples[1].startswith(f"{upd}:5: update id 18 after 40")
    assert kinds(events) == [K_DEPTH, K_DEPTH, K_CLEAR, K_DEPTH, K_DEPTH]
    assert events["flags"][2] & F_SYNTHETIC
    book = L2Book.from_events(events)
    assert dict(book.bids) == {}
    assert dict(book.asks) == {120: 1000, 125: 1000}
    with pytest.raises(DataError) as caught:
        run([upd], strict=True)
    assert caught.value.line == 4


def test_corrupted_copy_strict_and_default(files: tuple[Path, Path], tmp_path: Path) -> None:
    snap, update = files
    lines = snap.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("20376.90", "20376.9x")  # file line 3: malformed price
    lines[5] = lines[5].replace(",snap,", ",snap,,")  # file line 6: one field too many
    bad = tmp_path / "snap.csv"
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as caught:
        run([bad], strict=True)
    assert (caught.value.path, caught.value.line) == (str(bad), 6)
    assert caught.value.reason == "expected 9 fields, got 10"
    lines[5] = snap.read_text().splitlines(keepends=True)[5]
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as caught:
        run([bad], strict=True)
    assert (caught.value.path, caught.value.line) == (str(bad), 3)
    assert "'20376.9x'" in caught.value.reason
    events, report = run([bad, update])
    assert report.skipped == {"off-grid or malformed price": 1}
    assert report.gaps == 1
    assert len(events) == 201


def test_bad_rows_are_counted(tmp_path: Path) -> None:
    upd = write(
        tmp_path / "u.csv",
        [
            "1000,1,10,b,set,10.0,1.000,0",
            "1000,1,10,x,set,10.0,1.000,0",
            "1000,1,10,b,bogus,10.0,1.000,0",
            "1000,1,1O,b,set,10.0,1.000,0",
            "1000,1,10,b,set,-10.0,1.000,0",
            "1000,1,10,b,set,10.1,1.000,9",
            "2000,11,20,a,set,11.0,1.000,10",
        ],
    )
    upd.write_text(upd.read_text() + "ETHUSDT,2000,21,30,a,set,11.0,1.000,20\n")
    events, report = run([upd])
    assert report.skipped == {
        "bad side": 1,
        "unknown update type": 1,
        "bad id or timestamp": 1,
        "negative value": 1,
        "inconsistent message row": 1,
        "other symbol": 1,
    }
    assert len(events) == 2
    assert report.gaps == 0


def test_deterministic_and_chunked(files: tuple[Path, Path]) -> None:
    first, _ = run(list(files))
    again, _ = run(list(files))
    small, _ = run(list(files), chunk_rows=9)
    assert first.tobytes() == again.tobytes() == small.tobytes()

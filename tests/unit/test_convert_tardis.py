"""tardis.dev CSV converter: real fixtures, snapshot semantics, bad input."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hftlib.convert import tardis
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
)

DERIBIT = "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
BITMEX = "bitmex_trades_XBTUSD.csv"
HUOBI = "huobi-dm-swap_quotes_BTC-USD.csv"
SNAP5 = "binance-futures_book_snapshot_5_BTCUSDT.csv"
SNAP25 = "binance-futures_book_snapshot_25_BTCUSDT.csv"

BTCUSDT_2020 = Instrument(
    venue="binance-futures",
    symbol="BTCUSDT",
    kind=InstrumentKind.LINEAR_PERPETUAL,
    tick_size=0.01,
    lot_size=0.001,
)
"""Binance futures BTCUSDT as it was in 2020 (0.01 tick); the built-in spec is today's 0.1."""

SMALL = Instrument(venue="test", symbol="X", kind=InstrumentKind.SPOT, tick_size=0.5, lot_size=1.0)


@pytest.fixture
def tardis_dir(shared_data: Path) -> Path:
    return shared_data / "format-fixtures" / "tardis"


def run(
    paths: list[Path], instrument: Instrument, *, strict: bool = False, chunk_rows: int = 1 << 20
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("tardis", [str(p) for p in paths], strict=strict)
    chunks = list(tardis.convert(paths, instrument, report, chunk_rows=chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.dtype("V64"))
    return events, report


def builtin(path: Path) -> Instrument:
    detected = tardis.detect_instrument([path])
    assert detected is not None
    return lookup_instrument(*detected)


def kinds(events: np.ndarray) -> np.ndarray:
    return events["flags"] & KIND_MASK


def raw_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


def ticks(text: str, step: str) -> int:
    value = Decimal(text) / Decimal(step)
    assert value == value.to_integral_value()
    return int(value)


@pytest.mark.parametrize(
    ("name", "dataset", "venue_symbol"),
    [
        (DERIBIT, "incremental_book_L2", ("deribit", "BTC-PERPETUAL")),
        (BITMEX, "trades", ("bitmex", "XBTUSD")),
        (HUOBI, "quotes", ("huobi-dm-swap", "BTC-USD")),
        (SNAP5, "book_snapshot_5", ("binance-futures", "BTCUSDT")),
        (SNAP25, "book_snapshot_25", ("binance-futures", "BTCUSDT")),
    ],
)
def test_detects_dataset_and_instrument(
    tardis_dir: Path, name: str, dataset: str, venue_symbol: tuple[str, str]
) -> None:
    path = tardis_dir / name
    header = path.read_text().splitlines()[0].split(",")
    assert tardis.dataset_of(header) == dataset
    assert tardis.detect_instrument([path]) == venue_symbol


def test_deribit_incremental_snapshot(tardis_dir: Path) -> None:
    path = tardis_dir / DERIBIT
    events, report = run([path], builtin(path))
    raw = raw_rows(path)
    assert len(raw) == 15
    assert len(events) == 16
    assert report.skipped_total == 0
    assert report.events == 16
    # Every row is a snapshot row: one clear, then 15 snapshot levels, one message.
    assert kinds(events)[0] == K_CLEAR
    assert events["px"][0] == NO_PX
    assert events["flags"][0] & (F_BID | F_ASK) == F_BID | F_ASK
    assert (kinds(events)[1:] == K_SNAPSHOT).all()
    assert np.flatnonzero(events["flags"] & F_LAST).tolist() == [15]
    assert (events["seq"] == 1).all()
    first, last = events[1], events[-1]
    assert first["exch_ts"] == int(raw[0][2]) * 1000
    assert first["local_ts"] == int(raw[0][3]) * 1000
    assert first["flags"] & F_ASK
    assert (first["px"], first["qty"]) == (ticks(raw[0][6], "0.5"), ticks(raw[0][7], "10"))
    assert (first["px"], first["qty"]) == (12843, 1864)
    assert (last["px"], last["qty"]) == (ticks(raw[-1][6], "0.5"), ticks(raw[-1][7], "10"))
    book = L2Book.from_events(events)
    assert not book.crossed()
    assert book.best_bid() is None  # the excerpt holds only the ask half of the snapshot
    assert book.best_ask() == (12843, 1864)
    assert dict(book.asks) == {ticks(r[6], "0.5"): ticks(r[7], "10") for r in raw}


def test_bitmex_trades_hash_string_ids(tardis_dir: Path) -> None:
    path = tardis_dir / BITMEX
    events, report = run([path], builtin(path))
    raw = raw_rows(path)
    assert len(events) == 10
    assert report.skipped_total == 0
    assert (kinds(events) == K_TRADE).all()
    # Every trade is its own message; "sell" is a sell aggressor, the ask side flag.
    assert (events["flags"] & F_LAST).all()
    assert (events["flags"] & (F_BID | F_ASK) == F_ASK).all()
    expected_seq = [
        int.from_bytes(hashlib.blake2b(r[4].encode(), digest_size=8).digest(), "big") % (1 << 63)
        for r in raw
    ]
    assert events["seq"].tolist() == expected_seq
    assert len(set(expected_seq)) == 10
    assert events["px"].tolist() == [ticks(r[6], "0.5") for r in raw]
    assert events["qty"].tolist() == [int(r[7]) for r in raw]
    assert events["qty"][0] == 2152
    assert events["exch_ts"][-1] == int(raw[-1][2]) * 1000
    assert events["local_ts"][-1] == int(raw[-1][3]) * 1000


def test_trade_seq_numeric_and_empty() -> None:
    assert tardis.trade_seq("12345") == 12345
    assert tardis.trade_seq("") == -1
    big = str(1 << 63)  # numeric but too large for int64: hashed like any string id
    assert 0 <= tardis.trade_seq(big) < 1 << 63
    assert tardis.trade_seq(big) != tardis.trade_seq(str((1 << 63) + 1))


def test_unknown_trade_side_has_no_side_flag(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "x,X,1,2,7,unknown,10.5,3\n"
        "x,X,3,4,8,buy,11,1\n"
    )
    events, report = run([path], SMALL)
    assert events["flags"][0] & (F_BID | F_ASK) == 0
    assert events["flags"][1] & (F_BID | F_ASK) == F_BID
    assert events["seq"].tolist() == [7, 8]
    assert report.counts["trade side unknown"] == 1


def test_huobi_quotes(tardis_dir: Path) -> None:
    path = tardis_dir / HUOBI
    events, report = run([path], builtin(path))
    raw = raw_rows(path)
    assert len(events) == 20
    assert report.skipped_total == 0
    assert (kinds(events) == K_BBO).all()
    assert (events["flags"][0::2] & F_BID).all()
    assert (events["flags"][1::2] & F_ASK).all()
    assert np.array_equal(np.flatnonzero(events["flags"] & F_LAST), np.arange(1, 20, 2))
    # ask_amount,ask_price,bid_price,bid_amount
    for i in (0, -1):
        bid, ask = events[2 * i], events[2 * i + 1]
        row = raw[i]
        assert (bid["px"], bid["qty"]) == (ticks(row[6], "0.1"), int(row[7]))
        assert (ask["px"], ask["qty"]) == (ticks(row[5], "0.1"), int(row[4]))
    assert (events["px"][-2], events["qty"][-2]) == (86292, 847)


def test_empty_quote_side_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
        "x,X,1,2,,,10,4\n"
    )
    events, report = run([path], SMALL)
    assert len(events) == 1
    assert events["flags"][0] == K_BBO | F_BID | F_LAST
    assert report.counts["quote side empty"] == 1


def snapshot_levels(row: list[str], header: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """The book a book_snapshot row describes, straight from the raw text."""
    cells = dict(zip(header, row, strict=True))
    sides: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for side, name in ((0, "bids"), (1, "asks")):
        i = 0
        while f"{name}[{i}].price" in cells:
            price, amount = cells[f"{name}[{i}].price"], cells[f"{name}[{i}].amount"]
            if price:
                sides[side][ticks(price, "0.01")] = ticks(amount, "0.001")
            i += 1
    return sides


@pytest.mark.parametrize(("name", "depth"), [(SNAP5, 5), (SNAP25, 25)])
def test_book_snapshots_with_the_2020_tick(tardis_dir: Path, name: str, depth: int) -> None:
    path = tardis_dir / name
    events, report = run([path], BTCUSDT_2020)
    header = path.read_text().splitlines()[0].split(",")
    raw = raw_rows(path)
    assert report.skipped_total == 0
    assert len(events) == 10 * (1 + 2 * depth)
    clears = np.flatnonzero(kinds(events) == K_CLEAR)
    assert clears.tolist() == list(range(0, len(events), 1 + 2 * depth))
    lasts = np.flatnonzero(events["flags"] & F_LAST)
    assert lasts.tolist() == [c + 2 * depth for c in clears]
    assert events["seq"].tolist() == [k for k in range(1, 11) for _ in range(1 + 2 * depth)]
    # Bids first (best first), then asks.
    assert events["px"][1] == ticks(raw[0][6], "0.01")
    assert events["qty"][1] == ticks(raw[0][7], "0.001")
    assert events["flags"][1] == K_SNAPSHOT | F_BID
    assert events["flags"][-1] == K_SNAPSHOT | F_ASK | F_LAST
    book = L2Book.from_events(events)
    bids, asks = snapshot_levels(raw[-1], header)
    assert dict(book.bids) == bids
    assert dict(book.asks) == asks
    assert not book.crossed()
    assert book.best_bid() == (ticks(raw[-1][6], "0.01"), ticks(raw[-1][7], "0.001"))
    assert book.best_ask() == (ticks(raw[-1][4], "0.01"), ticks(raw[-1][5], "0.001"))


def test_book_snapshot_off_grid_with_builtin_spec(tardis_dir: Path) -> None:
    path = tardis_dir / SNAP5
    spec = builtin(path)
    assert spec.tick_size == 0.1  # today's tick; the 2020 data has 0.01 steps
    with pytest.raises(DataError) as caught:
        run([path], spec, strict=True)
    assert caught.value.path == str(path)
    assert caught.value.line == 2
    assert "0.1 grid" in caught.value.reason
    # Default mode: every off-grid level is counted, never rounded onto the grid.
    events, report = run([path], spec)
    header = path.read_text().splitlines()[0].split(",")
    off_grid = sum(
        1
        for row in raw_rows(path)
        for name, cell in zip(header, row, strict=True)
        if name.endswith(".price") and Decimal(cell) % Decimal("0.1") != 0
    )
    assert off_grid == 98
    assert report.skipped == {"off-grid or malformed price": off_grid}
    assert len(events) == 10 * 11 - off_grid
    # What is left of the last row's snapshot is exactly its on-grid levels.
    on_grid = {
        ticks(p, "0.1") for p in raw_rows(path)[-1][4::2] if Decimal(p) % Decimal("0.1") == 0
    }
    last = events[events["seq"] == 10]
    assert set(last["px"][kinds(last) == K_SNAPSHOT].tolist()) == on_grid
    assert last["flags"][-1] & F_LAST


def test_book_snapshot_empty_levels_skipped(tmp_path: Path) -> None:
    path = tmp_path / "snap.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,"
        "bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
        "x,X,1,2,11,1,10,2,,,9.5,3\n"
        "x,X,3,4,11,1,,,,,,\n"
        "x,X,5,6,11,1,10,,,,,\n"
    )
    events, report = run([path], SMALL)
    assert report.skipped == {"half-empty level": 1}
    assert [int(f & KIND_MASK) for f in events["flags"]] == [K_CLEAR, 3, 3, 3, K_CLEAR, 3]
    assert events["px"][1:4].tolist() == [20, 19, 22]
    book = L2Book.from_events(events)
    assert dict(book.bids) == {}
    assert dict(book.asks) == {22: 1}


INCREMENTAL_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"


def test_incremental_resnapshot_replaces_book(tmp_path: Path) -> None:
    path = tmp_path / "l2.csv"
    path.write_text(
        INCREMENTAL_HEADER
        # initial snapshot spread over two timestamps: still one snapshot, one message
        + "x,X,1,10,true,bid,10,5\n"
        "x,X,2,11,true,ask,11,6\n"
        # two updates in one message, one in the next
        "x,X,3,12,false,bid,10,0\n"
        "x,X,3,12,false,bid,9.5,2\n"
        "x,X,4,13,false,ask,12,1\n"
        # reconnect: a new snapshot replaces everything
        "x,X,5,14,true,bid,8,1\n"
        "x,X,5,14,true,ask,13,1\n"
        "x,X,6,15,false,ask,13,4\n"
    )
    events, report = run([path], SMALL)
    assert report.skipped_total == 0
    k = kinds(events).tolist()
    assert k == [
        K_CLEAR,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_DEPTH,
        K_DEPTH,
        K_DEPTH,
        K_CLEAR,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_DEPTH,
    ]
    assert np.flatnonzero(events["flags"] & F_LAST).tolist() == [2, 4, 5, 8, 9]
    assert events["seq"].tolist() == [1, 1, 1, 2, 2, 3, 4, 4, 4, 5]
    assert events["exch_ts"][0] == 1000
    assert events["local_ts"][-1] == 15000
    book = L2Book.from_events(events)
    assert dict(book.bids) == {16: 1}
    assert dict(book.asks) == {26: 4}
    # Replaying only up to the end of the first snapshot message gives the first book.
    assert dict(L2Book.from_events(events[:3]).bids) == {20: 5}


def test_files_read_in_time_order(tardis_dir: Path, tmp_path: Path) -> None:
    path = tardis_dir / HUOBI
    lines = path.read_text().splitlines(keepends=True)
    early, late = tmp_path / "a_late.csv", tmp_path / "b_early.csv"
    late.write_text(lines[0] + "".join(lines[6:]))
    early.write_text(lines[0] + "".join(lines[1:6]))
    whole, _ = run([path], builtin(path))
    split, report = run([late, early], builtin(path))
    assert split.tobytes() == whole.tobytes()
    assert report.counts["dataset quotes"] == 2


def test_mixed_datasets_and_unsupported_files_are_rejected(
    tardis_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "liquidations.csv"
    other.write_text("exchange,symbol,timestamp,local_timestamp,id,price\nx,X,1,2,3,4\n")
    events, report = run(
        [tardis_dir / HUOBI, tardis_dir / BITMEX, other], builtin(tardis_dir / HUOBI)
    )
    # Files are taken in time order: the unsupported one (local_timestamp 2) is rejected,
    # then the BitMEX trades (2020-03) set the dataset and the Huobi quotes (2020-05) differ.
    assert len(events) == 10
    assert (kinds(events) == K_TRADE).all()
    assert report.skipped == {"mixed tardis datasets": 1, "unsupported tardis dataset": 1}
    assert report.examples[1].startswith(f"{tardis_dir / HUOBI}:1: file is quotes")


def test_corrupted_copy_strict_and_default(tardis_dir: Path, tmp_path: Path) -> None:
    src = tardis_dir / DERIBIT
    spec = builtin(src)
    bad = tmp_path / DERIBIT
    lines = src.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace(",1400", ",14x0")  # file line 5: malformed amount
    lines[7] = lines[7].replace(",true,ask,", ",true,")  # file line 8: a field missing
    lines[9] = lines[9].replace(",6425.5,", ",6425.2,")  # file line 10: off the 0.5 grid
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as caught:
        run([bad], spec, strict=True)
    assert (caught.value.path, caught.value.line) == (str(bad), 8)
    assert str(caught.value).startswith(f"{bad}:8: expected 8 fields")
    events, report = run([bad], spec)
    assert report.skipped == {
        "malformed row": 1,
        "off-grid or malformed size": 1,
        "off-grid or malformed price": 1,
    }
    assert len(events) == 16 - 3
    assert report.examples[0] == f"{bad}:8: expected 8 fields, got 7"
    assert any(e.startswith(f"{bad}:5: size '14x0'") for e in report.examples)
    assert any(e.startswith(f"{bad}:10: price '6425.2'") for e in report.examples)
    # F_LAST survives the dropped rows; the book has the 12 good levels.
    assert events["flags"][-1] & F_LAST
    assert len(L2Book.from_events(events).asks) == 12
    shutil.copy(src, tmp_path / "clean.csv")
    clean, clean_report = run([tmp_path / "clean.csv"], spec, strict=True)
    assert len(clean) == 16
    assert clean_report.skipped_total == 0


def test_deterministic_and_chunked(tardis_dir: Path) -> None:
    path = tardis_dir / SNAP25
    first, _ = run([path], BTCUSDT_2020)
    second, _ = run([path], BTCUSDT_2020)
    assert first.tobytes() == second.tobytes()
    small, _ = run([path], BTCUSDT_2020, chunk_rows=7)
    assert small.tobytes() == first.tobytes()

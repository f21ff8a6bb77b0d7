"""LOBSTER message files -> L3 events: real samples, timestamps, grid, bad input."""

from __future__ import annotations

import calendar
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hftlib.convert import lobster
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import lookup_instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    KIND_NAMES,
    NO_ID,
)

LOBSTER_DIR = "lobster-nasdaq-2012-06-21"
AMZN_MSG = "AMZN_2012-06-21_34200000_57600000_message_1.csv.gz"
AMZN_BOOK = "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv.gz"
AAPL_MSG = "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
AAPL_BOOK = "AAPL_2012-06-21_34200000_57600000_orderbook_10_first999.csv"
AAPL = lookup_instrument("nasdaq", "AAPL")


def run(
    paths: list[Path], *, strict: bool = False, chunk_rows: int = 1 << 20, instrument: object = AAPL
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("lobster", [str(p) for p in paths], strict=strict)
    chunks = list(lobster.convert(paths, instrument, report, chunk_rows=chunk_rows))  # type: ignore[arg-type]
    assert all(len(c) <= chunk_rows for c in chunks)
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    return events, report


def kinds(events: np.ndarray) -> Counter[str]:
    return Counter(KIND_NAMES[int(k)] for k in events["flags"] & KIND_MASK)


def write_messages(
    tmp_path: Path, lines: list[str], *, day: str = "2012-06-21", newline_at_end: bool = True
) -> Path:
    path = tmp_path / f"TEST_{day}_34200000_57600000_message_1.csv"
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""))
    return path


def epoch_ns(y: int, mo: int, d: int, h: int, mi: int, s: int, ns: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, s)) * 1_000_000_000 + ns


# --- real data --------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_amzn_counts_match_the_readme(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    events, report = run(
        [folder / AMZN_MSG, folder / AMZN_BOOK], instrument=lookup_instrument("nasdaq", "AMZN")
    )
    # README: 57,515 rows; types 1: 27,845, 2: 16, 3: 18,235, 4: 8,974, 5: 2,445.
    # 63 hidden executions are at half-cent (midpoint) prices, off the 0.01 grid: rejected.
    assert report.lines == 57_515 + 1  # + the orderbook row read for the initial book
    assert dict(report.skipped) == {"off-grid price": 63}
    assert kinds(events) == {
        "clear": 1,
        "snapshot": 2,
        "l3_add": 27_845,
        "l3_cancel": 16 + 18_235,
        "l3_fill": 8_974,
        "trade": 8_974 + 2_445 - 63,
    }
    assert report.counts["unknown-id execution"] == 3_071
    assert report.counts["unknown-id delete"] == 4_392
    assert report.counts["unknown-id partial cancel"] == 4
    assert report.events == len(events)
    assert np.all(np.diff(events["local_ts"]) >= 0)
    assert np.array_equal(events["local_ts"], events["exch_ts"])


@pytest.mark.shared_data
def test_amzn_first_rows(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    events, _ = run(
        [folder / AMZN_MSG, folder / AMZN_BOOK], instrument=lookup_instrument("nasdaq", "AMZN")
    )
    # 2012-06-21 is EDT (UTC-4): 34200.017459617 s after midnight = 13:30:00.017459617 UTC
    t0 = epoch_ns(2012, 6, 21, 13, 30, 0, 17_459_617)
    clear, bid, ask, hidden = events[:4]
    assert clear["flags"] == K_CLEAR | F_BID | F_ASK | F_SYNTHETIC
    assert clear["local_ts"] == t0
    # orderbook row 1 "2239500,100,2231800,100"; message 1 is a hidden execution (no effect)
    assert (bid["flags"], bid["px"], bid["qty"]) == (K_SNAPSHOT | F_BID | F_SYNTHETIC, 22318, 100)
    assert (ask["flags"], ask["px"], ask["qty"]) == (
        K_SNAPSHOT | F_ASK | F_SYNTHETIC | F_LAST,
        22395,
        100,
    )
    # message 1: "34200.017459617,5,0,1,2238200,-1": hidden sell order hit by a buyer
    assert hidden["flags"] == K_TRADE | F_BID | F_LAST
    assert (hidden["px"], hidden["qty"], hidden["order_id"], hidden["seq"]) == (22382, 1, NO_ID, 1)
    # message 3: "34200.190226476,4,11885113,21,2238100,1": trade then fill of the buy order
    trade, fill = events[5], events[6]
    assert trade["flags"] == K_TRADE | F_ASK
    assert fill["flags"] == K_L3_FILL | F_BID | F_LAST
    for row in (trade, fill):
        assert (row["px"], row["qty"], row["order_id"], row["seq"]) == (22381, 21, 11885113, 3)
        assert row["local_ts"] == epoch_ns(2012, 6, 21, 13, 30, 0, 190_226_476)


@pytest.mark.shared_data
def test_aapl_counts_and_initial_book(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    events, report = run([folder / AAPL_MSG, folder / AAPL_BOOK])
    assert report.lines == 999 + 1  # + the orderbook row read for the initial book
    assert report.skipped_total == 0
    # README: 1: 471, 3: 369, 4: 98, 5: 61. Orderbook row 1 minus message 1 (a new best bid
    # of 18 at 585.33, the whole level) leaves 9 bid and 10 ask levels.
    assert kinds(events) == {
        "clear": 1,
        "snapshot": 19,
        "l3_add": 471,
        "l3_cancel": 369,
        "l3_fill": 98,
        "trade": 98 + 61,
    }
    snap = events[1:20]
    bids = snap[(snap["flags"] & F_BID) != 0]
    assert bids["px"][0] == 58530
    assert bids["qty"][0] == 150
    assert 58533 not in bids["px"]
    assert np.all(snap["seq"] == 0)


@pytest.mark.shared_data
def test_aapl_last_line_without_newline_is_read(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    raw = (folder / AAPL_MSG).read_bytes()
    assert not raw.endswith(b"\n")
    events, _ = run([folder / AAPL_MSG])
    last = events[-1]
    # line 999: "...,1,18259338,18,5853500,1"
    assert last["flags"] == K_L3_ADD | F_BID | F_LAST
    assert (last["order_id"], last["px"], last["qty"], last["seq"]) == (18259338, 58535, 18, 999)
    with_newline = tmp_path / AAPL_MSG
    with_newline.write_bytes(raw + b"\n")
    again, _ = run([with_newline])
    assert again.tobytes() == events.tobytes()


@pytest.mark.shared_data
def test_conversion_is_deterministic_and_chunk_independent(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    paths = [folder / AAPL_MSG, folder / AAPL_BOOK]
    a, _ = run(paths)
    b, _ = run(paths, chunk_rows=7)
    assert a.tobytes() == b.tobytes()


@pytest.mark.shared_data
def test_strict_mode_names_file_and_line(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / LOBSTER_DIR / AAPL_MSG
    lines = src.read_text().split("\n")
    lines[4] = "34200.1,1,123,18,58533.5,1"  # line 5: a dollar price instead of x10000
    bad = tmp_path / AAPL_MSG
    bad.write_text("\n".join(lines))
    with pytest.raises(DataError) as exc:
        run([bad], strict=True)
    assert exc.value.line == 5
    assert exc.value.path == str(bad)
    events, report = run([bad])
    assert dict(report.skipped) == {"malformed line": 1}
    assert 5 not in set(events["seq"].tolist())
    assert len(set(events["seq"].tolist())) == 998


@pytest.mark.shared_data
def test_detect_instrument_from_name(shared_data: Path) -> None:
    assert lobster.detect_instrument([shared_data / LOBSTER_DIR / AMZN_MSG]) == ("nasdaq", "AMZN")
    assert lobster.detect_instrument(["message.csv"]) is None


# --- hand-made files ---------------------------------------------------------------------------


def test_message_types_map_to_kinds(tmp_path: Path) -> None:
    path = write_messages(
        tmp_path,
        [
            "34200.5,1,10,100,1000000,-1",  # add ask 100 @ 100.00
            "34200.6,2,10,30,1000000,-1",  # partial cancel 30
            "34200.7,4,10,20,1000000,-1",  # visible execution of 20: a buyer lifted the ask
            "34200.8,5,0,7,999900,1",  # hidden buy order executed (seller initiated)
            "34200.9,3,10,50,1000000,-1",  # delete the remaining 50
            "34201,7,0,0,-1,-1",  # halt
            "34202,7,0,0,0,-1",  # quote resume
            "34203,7,0,0,1,-1",  # trade resume
        ],
    )
    events, report = run([path])
    got = [
        (int(e["flags"]), int(e["px"]), int(e["qty"]), int(e["order_id"]), int(e["seq"]))
        for e in events
    ]
    assert got == [
        (K_L3_ADD | F_ASK | F_LAST, 10000, 100, 10, 1),
        (K_L3_CANCEL | F_ASK | F_LAST, 10000, 30, 10, 2),
        (K_TRADE | F_BID, 10000, 20, 10, 3),
        (K_L3_FILL | F_ASK | F_LAST, 10000, 20, 10, 3),
        (K_TRADE | F_ASK | F_LAST, 9999, 7, NO_ID, 4),
        (K_L3_CANCEL | F_ASK | F_LAST, 10000, 50, 10, 5),
    ]
    assert report.counts["type 7 halt"] == 1
    assert report.counts["type 7 quote resume"] == 1
    assert report.counts["type 7 trade resume"] == 1
    assert report.skipped_total == 0
    assert events["local_ts"][0] == epoch_ns(2012, 6, 21, 13, 30, 0, 500_000_000)


def test_unknown_ids_are_emitted_and_counted(tmp_path: Path) -> None:
    path = write_messages(
        tmp_path,
        [
            "34200.5,4,77,10,1000000,1",
            "34200.6,2,77,5,1000000,1",
            "34200.7,3,77,5,1000000,1",
        ],
    )
    events, report = run([path])
    assert [int(k) for k in events["flags"] & KIND_MASK] == [
        K_TRADE,
        K_L3_FILL,
        K_L3_CANCEL,
        K_L3_CANCEL,
    ]
    assert report.counts["unknown-id execution"] == 1
    assert report.counts["unknown-id partial cancel"] == 1
    assert report.counts["unknown-id delete"] == 1


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [("2012-03-09", 14), ("2012-03-11", 13), ("2012-11-04", 14), ("2012-06-21", 13)],
)
def test_new_york_wall_clock_across_daylight_saving(
    tmp_path: Path, day: str, utc_hour: int
) -> None:
    path = write_messages(tmp_path, ["34200,1,1,1,1000000,1"], day=day)
    events, _ = run([path])
    y, m, d = (int(v) for v in day.split("-"))
    assert events["local_ts"][0] == epoch_ns(y, m, d, utc_hour, 30, 0)


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("34200.5,1,10,100,1000050,-1", "off-grid price"),  # $100.005
        ("34200.5,6,0,100,1000000,-1", "unknown message type"),  # cross trade
        ("34200.5,1,10,0,1000000,-1", "invalid field"),
        ("34200.5,1,10,100,1000000,2", "invalid field"),
        ("34200.5,7,0,0,5,-1", "invalid field"),
        ("34200.5,1,10,100,1000000", "malformed line"),
        ("34200.5.1,1,10,100,1000000,1", "malformed line"),
        ("34200.1234567891,1,10,100,1000000,1", "malformed line"),
        ("86400,1,10,100,1000000,1", "invalid field"),
    ],
)
def test_bad_lines_are_counted_or_raised(tmp_path: Path, line: str, category: str) -> None:
    path = write_messages(tmp_path, ["34200.1,1,1,1,1000000,1", line, "34200.9,3,1,1,1000000,1"])
    events, report = run([path])
    assert dict(report.skipped) == {category: 1}
    assert sorted(set(events["seq"].tolist())) == [1, 3]
    with pytest.raises(DataError) as exc:
        run([path], strict=True)
    assert exc.value.line == 2


def test_duplicate_add_is_rejected(tmp_path: Path) -> None:
    path = write_messages(tmp_path, ["34200.1,1,5,1,1000000,1", "34200.2,1,5,1,1000000,1"])
    events, report = run([path])
    assert len(events) == 1
    assert dict(report.skipped) == {"duplicate order id": 1}
    with pytest.raises(DataError):
        run([path], strict=True)


def test_initial_book_undoes_the_first_message(tmp_path: Path) -> None:
    msg = write_messages(tmp_path, ["34200.1,3,9,40,1000000,1", "34200.2,1,11,5,1000100,-1"])
    book = tmp_path / "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"
    book.write_text(
        "1000200,10,999900,7,9999999999,0,-9999999999,0\n"
        "1000100,5,999900,7,1000200,10,-9999999999,0\n"
    )
    events, _ = run([msg, book])
    snap = events[:4]
    # the delete of 40 at 100.00 removed that whole bid level: it is restored
    assert [(int(r["flags"]), int(r["px"]), int(r["qty"])) for r in snap] == [
        (K_CLEAR | F_BID | F_ASK | F_SYNTHETIC, int(snap["px"][0]), 0),
        (K_SNAPSHOT | F_BID | F_SYNTHETIC, 10000, 40),
        (K_SNAPSHOT | F_BID | F_SYNTHETIC, 9999, 7),
        (K_SNAPSHOT | F_ASK | F_SYNTHETIC | F_LAST, 10002, 10),
    ]


def test_name_without_a_date_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "messages.csv"
    path.write_text("34200,1,1,1,1000000,1\n")
    with pytest.raises(DataError):
        run([path])


def test_orderbook_first_is_refused(tmp_path: Path) -> None:
    msg = write_messages(tmp_path, ["34200,1,1,1,1000000,1"])
    book = tmp_path / "TEST_2012-06-21_34200000_57600000_orderbook_1.csv"
    shutil.copy(msg, book)
    with pytest.raises(ValueError, match="orderbook"):
        run([book, msg])

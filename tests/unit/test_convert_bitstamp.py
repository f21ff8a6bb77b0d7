"""Bitstamp live_orders + live_trades captures -> L3 events: real capture and hand-made files."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from hftlib.convert import bitstamp
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
    K_TRADE,
    KIND_MASK,
    KIND_NAMES,
    NO_ID,
)

BTCUSD = lookup_instrument("bitstamp", "BTCUSD")
ORDERS_HEADER = "id,timestamp,exchange_timestamp,price,volume,action,direction"
TRADES_HEADER = "trade_id,timestamp,exchange_timestamp,price,amount,buy_order_id,sell_order_id,side"
MS = 1_000_000


def run(
    paths: list[Path], *, strict: bool = False, chunk_rows: int = 1 << 20
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("bitstamp", [str(p) for p in paths], strict=strict)
    chunks = list(bitstamp.convert(paths, BTCUSD, report, chunk_rows=chunk_rows))
    assert all(len(c) <= chunk_rows for c in chunks)
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    return events, report


def kinds(events: np.ndarray) -> Counter[str]:
    return Counter(KIND_NAMES[int(k)] for k in events["flags"] & KIND_MASK)


def write_capture(
    folder: Path, orders: list[str], trades: list[str], meta: dict[str, object] | None = None
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    o, t = folder / "orders.csv", folder / "trades.csv"
    o.write_text("\n".join([ORDERS_HEADER, *orders]) + "\n")
    t.write_text("\n".join([TRADES_HEADER, *trades]) + "\n")
    if meta is not None:
        (folder / "meta.json").write_bytes(orjson.dumps(meta))
    return [o, t]


def rows(events: np.ndarray) -> list[tuple[int, ...]]:
    return [
        (
            int(e["flags"]),
            int(e["local_ts"]) // MS,
            int(e["px"]),
            int(e["qty"]),
            int(e["order_id"]),
            int(e["seq"]),
            int(e["aux"]),
        )
        for e in events
    ]


# --- the real capture --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capture(shared_data: Path) -> list[Path]:
    folder = shared_data / "bitstamp-l3-2026"
    return [folder / "orders.csv.gz", folder / "trades.csv"]


@pytest.fixture(scope="module")
def converted(capture: list[Path]) -> tuple[np.ndarray, ConvertReport]:
    return run(capture)


@pytest.mark.shared_data
def test_counts_match_the_readme(converted: tuple[np.ndarray, ConvertReport]) -> None:
    events, report = converted
    assert report.lines == 314_057 + 1 + 284 + 1  # rows + headers
    assert report.skipped_total == 0
    # README: created 156,889, deleted 156,902, changed 266, trades 284. Each trade has one
    # taker and one maker row (all 266 changed rows and 302 deleted rows are fills).
    assert kinds(events) == {
        "clear": 1,
        "l3_add": 156_889,
        "l3_cancel": 156_902 - 302,
        "l3_fill": 266 + 302,
        "trade": 284,
    }
    synthetic = events[(events["flags"] & F_SYNTHETIC) != 0]
    assert kinds(synthetic) == {"clear": 1, "l3_add": 6_512, "l3_cancel": 6_518}
    assert report.counts["maker fill rows"] == 284
    assert report.counts["taker fill rows"] == 284
    assert report.counts["delete price differs from the resting price (replace)"] == 2_043
    assert report.counts["delete of an unknown id"] == 15
    assert report.counts["instant order created with volume 0"] == 2
    assert "trade without a maker fill row" not in report.counts
    assert report.events == len(events)


@pytest.mark.shared_data
def test_stream_order_and_start_book(converted: tuple[np.ndarray, ConvertReport]) -> None:
    events, _ = converted
    assert np.all(np.diff(events["local_ts"]) >= 0)
    assert np.all(events["exch_ts"] <= events["local_ts"])
    start = events[:6513]
    assert start["flags"][0] == K_CLEAR | F_BID | F_ASK | F_SYNTHETIC
    assert np.all(start["seq"] == 0)
    assert np.count_nonzero(start["flags"] & F_LAST) == 1
    assert start["flags"][-1] & F_LAST
    # the REST book describes exchange time 1777689380521 ms; it arrived at 1777689383201 ms,
    # after live rows from 1777689381332 ms, so it is placed first at that local time
    assert np.all(start["exch_ts"] == 1777689380521 * MS)
    assert np.all(start["local_ts"] == 1777689381332 * MS)
    # 2.6e-06 BTC at 98562100 USD: exact lots from scientific notation
    row = events[events["order_id"] == 1625574131032064][0]
    assert (row["px"], row["qty"]) == (98562100, 260)


@pytest.mark.shared_data
def test_first_trade_and_its_fills(converted: tuple[np.ndarray, ConvertReport]) -> None:
    events, _ = converted
    trade = events[events["seq"] == 568694537]
    assert len(trade) == 1
    assert trade["flags"][0] == K_TRADE | F_BID | F_LAST
    assert (trade["order_id"][0], trade["aux"][0]) == (2002347637526531, 2002347659919360)
    fills = events[((events["flags"] & KIND_MASK) == K_L3_FILL) & (events["aux"] == 568694537)]
    assert sorted(fills["order_id"].tolist()) == [2002347637526531, 2002347659919360]
    assert np.all(fills["qty"] == 12_100_000)
    assert np.all(fills["px"] == 78319)
    # trades are placed by local time: this one arrived 6 ms before its fill rows
    assert trade["local_ts"][0] < fills["local_ts"].min()


@pytest.mark.shared_data
def test_conversion_is_deterministic(
    capture: list[Path], converted: tuple[np.ndarray, ConvertReport]
) -> None:
    again, _ = run(capture, chunk_rows=50_000)
    assert again.tobytes() == converted[0].tobytes()


@pytest.mark.shared_data
def test_detect_instrument_reads_meta(capture: list[Path], tmp_path: Path) -> None:
    assert bitstamp.detect_instrument(capture) == ("bitstamp", "BTCUSD")
    assert bitstamp.detect_instrument([tmp_path / "orders.csv"]) is None


@pytest.mark.shared_data
def test_strict_mode_names_file_and_line(capture: list[Path], tmp_path: Path) -> None:
    with gzip.open(capture[0], "rt") as f:
        head = [next(f).rstrip("\n") for _ in range(3000)]
    head[99] = head[99].replace(",created,", ",created,,")  # line 100: one field too many
    orders = tmp_path / "orders.csv.gz"
    with gzip.open(orders, "wt") as f:
        f.write("\n".join(head) + "\n")
    paths = [orders, capture[1]]
    with pytest.raises(DataError) as exc:
        run(paths, strict=True)
    assert (exc.value.path, exc.value.line) == (str(orders), 100)
    events, report = run(paths)
    assert dict(report.skipped) == {"malformed line": 1}
    assert report.counts["no meta.json: no row flagged synthetic"] == 1
    assert not np.any(events["flags"] & F_SYNTHETIC)


@pytest.mark.shared_data
def test_truncated_gzip_keeps_the_lines_before(capture: list[Path], tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv.gz"
    data = capture[0].read_bytes()
    orders.write_bytes(data[: len(data) // 10])
    events, report = run([orders, capture[1]])
    assert report.skipped["truncated input"] == 1
    assert len(events) > 20_000
    with pytest.raises(DataError, match="truncated"):
        run([orders, capture[1]], strict=True)


# --- hand-made captures ----------------------------------------------------------------------


def test_match_cancel_and_replace(tmp_path: Path) -> None:
    paths = write_capture(
        tmp_path,
        [
            "1,1000,950,100.0,0.5,created,ask",  # line 2: maker
            "2,1001,951,99.0,0.3,created,bid",  # line 3
            "3,1010,960,101.0,0.2,created,bid",  # line 4: aggressive buy, crosses the ask
            "3,1010,960,100.0,0.0,deleted,bid",  # line 5: taker filled (Bitstamp: fill price)
            "1,1011,960,100.0,0.3,changed,ask",  # line 6: maker partially filled
            "2,1020,970,98.0,0.3,deleted,bid",  # line 7: replaced; delete shows the new price
            "4,1020,970,98.0,0.3,created,bid",  # line 8: the replacement
        ],
        ["7,1011,960,100.0,0.2,3,1,buy"],
    )
    events, report = run(paths)
    assert rows(events) == [
        (K_L3_ADD | F_ASK | F_LAST, 1000, 100, 50_000_000, 1, 2, NO_ID),
        (K_L3_ADD | F_BID | F_LAST, 1001, 99, 30_000_000, 2, 3, NO_ID),
        (K_L3_ADD | F_BID | F_LAST, 1010, 101, 20_000_000, 3, 4, NO_ID),
        (K_L3_FILL | F_BID | F_LAST, 1010, 100, 20_000_000, 3, 5, 7),
        # same local ms as the maker's fill row: the trade goes first
        (K_TRADE | F_BID | F_LAST, 1011, 100, 20_000_000, 1, 7, 3),
        (K_L3_FILL | F_ASK | F_LAST, 1011, 100, 20_000_000, 1, 6, 7),
        (K_L3_CANCEL | F_BID | F_LAST, 1020, 99, 30_000_000, 2, 7, NO_ID),
        (K_L3_ADD | F_BID | F_LAST, 1020, 98, 30_000_000, 4, 8, NO_ID),
    ]
    assert report.counts["delete price differs from the resting price (replace)"] == 1
    assert report.counts["maker fill rows"] == 1
    assert report.counts["taker fill rows"] == 1


def test_ioc_remainder_is_a_cancel_and_late_trade_goes_after(tmp_path: Path) -> None:
    paths = write_capture(
        tmp_path,
        [
            "1,1000,900,100.0,0.1,created,ask",
            "2,1005,905,102.0,0.5,created,bid",  # IOC buy for 0.5 at 102
            "2,1005,905,100.0,0.4,changed,bid",  # taker: 0.1 filled
            "1,1005,905,100.0,0.0,deleted,ask",  # maker: filled
            "2,1006,905,102.0,0.4,deleted,bid",  # remainder cancelled
        ],
        ["9,1030,905,100.0,0.1,2,1,buy"],
    )  # the trade arrives 25 ms later
    events, _ = run(paths)
    assert [int(f) & KIND_MASK for f in events["flags"]] == [
        K_L3_ADD,
        K_L3_ADD,
        K_L3_FILL,
        K_L3_FILL,
        K_L3_CANCEL,
        K_TRADE,
    ]
    cancel = events[4]
    assert (cancel["px"], cancel["qty"]) == (102, 40_000_000)


def test_synthetic_rows_follow_meta_json(tmp_path: Path) -> None:
    orders = [
        "10,2000,1500,100.0,1.0,created,ask",  # REST book, received at 2000
        "11,2000,1500,99.0,1.0,created,bid",
        "12,1800,1700,98.0,0.1,created,bid",  # live rows buffered before the book arrived
        "12,1900,1800,98.0,0.1,deleted,bid",
        "10,2100,2100,100.0,1.0,deleted,ask",  # end deletes
        "11,2100,2100,99.0,1.0,deleted,bid",
    ]
    meta = {"synthetic_created": 2, "synthetic_deleted": 2, "pair": "btcusd"}
    paths = write_capture(tmp_path / "ok", orders, [], meta)
    events, report = run(paths)
    assert report.skipped_total == 0
    S = F_SYNTHETIC
    assert rows(events) == [
        (K_CLEAR | F_BID | F_ASK | S, 1800, int(events["px"][0]), 0, NO_ID, 0, NO_ID),
        (K_L3_ADD | F_ASK | S, 1800, 100, 100_000_000, 10, 0, NO_ID),
        (K_L3_ADD | F_BID | S | F_LAST, 1800, 99, 100_000_000, 11, 0, NO_ID),
        (K_L3_ADD | F_BID | F_LAST, 1800, 98, 10_000_000, 12, 4, NO_ID),
        (K_L3_CANCEL | F_BID | F_LAST, 1900, 98, 10_000_000, 12, 5, NO_ID),
        (K_L3_CANCEL | F_ASK | S | F_LAST, 2100, 100, 100_000_000, 10, 6, NO_ID),
        (K_L3_CANCEL | F_BID | S | F_LAST, 2100, 99, 100_000_000, 11, 7, NO_ID),
    ]
    assert events["exch_ts"][0] == 1500 * MS
    assert bitstamp.detect_instrument(paths) == ("bitstamp", "BTCUSD")

    wrong = dict(meta, synthetic_created=3)
    events, report = run(write_capture(tmp_path / "wrong", orders, [], wrong))
    assert report.skipped["bad meta.json"] == 1
    assert np.count_nonzero(events["flags"] & F_SYNTHETIC) == 2  # only the end block
    with pytest.raises(DataError, match="synthetic_created=3"):
        run(write_capture(tmp_path / "wrong", orders, [], wrong), strict=True)


def test_unknown_ids_are_emitted_with_the_rows_values(tmp_path: Path) -> None:
    paths = write_capture(tmp_path, ["5,1000,900,100.0,0.25,deleted,ask"], [])
    events, report = run(paths)
    assert rows(events) == [(K_L3_CANCEL | F_ASK | F_LAST, 1000, 100, 25_000_000, 5, 2, NO_ID)]
    assert report.counts["delete of an unknown id"] == 1


@pytest.mark.parametrize(
    ("order_line", "category"),
    [
        ("1,1000,900,100.5,0.1,created,ask", "malformed or off-grid field"),  # tick is 1 USD
        ("1,1000,900,100.0,0.000000001,created,ask", "malformed or off-grid field"),
        ("1,1000,900,100.0,abc,created,ask", "malformed or off-grid field"),
        ("1,1000,900,100.0,0.1,amended,ask", "unknown action or direction"),
        ("1,1000,900,100.0,0.1,created,buy", "unknown action or direction"),
        ("1,1000,900,-100.0,0.1,created,ask", "invalid field"),
        ("1,1000,900,100.0,0.1,created", "malformed line"),
    ],
)
def test_bad_order_lines(tmp_path: Path, order_line: str, category: str) -> None:
    paths = write_capture(tmp_path, ["7,999,900,100.0,0.1,created,ask", order_line], [])
    events, report = run(paths)
    assert dict(report.skipped) == {category: 1}
    assert len(events) == 1
    with pytest.raises(DataError) as exc:
        run(paths, strict=True)
    assert exc.value.line == 3


def test_bad_trade_lines(tmp_path: Path) -> None:
    paths = write_capture(
        tmp_path,
        [],
        [
            "5,1000,900,100.0,0.1,1,2,buy",
            "5,1001,900,100.0,0.1,1,2,buy",  # id does not increase
            "6,1002,900,100.0,0.1,1,2,both",
            "7,1003,900,100.0,0,1,2,sell",
        ],
    )
    events, report = run(paths)
    assert dict(report.skipped) == {"non-monotonic trade id": 1, "invalid field": 2}
    assert kinds(events) == {"trade": 1}
    assert report.counts["trade without a maker fill row"] == 1


def test_duplicate_created_is_rejected(tmp_path: Path) -> None:
    paths = write_capture(
        tmp_path, ["1,1000,900,100.0,0.1,created,ask", "1,1001,901,100.0,0.1,created,ask"], []
    )
    events, report = run(paths)
    assert len(events) == 1
    assert dict(report.skipped) == {"duplicate order id": 1}


def test_missing_column_is_an_error(tmp_path: Path) -> None:
    o, t = write_capture(tmp_path, [], [])
    o.write_text("id,timestamp,price,volume,action,direction\n")
    with pytest.raises(DataError, match="exchange_timestamp"):
        run([o, t])

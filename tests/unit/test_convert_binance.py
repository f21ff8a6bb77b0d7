"""Tests for the Binance raw WebSocket converter (hftlib.convert.binance_ws) and its book sync."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from hftlib.convert import binance_json as bj
from hftlib.convert import binance_lane as bl
from hftlib.convert import binance_sync as bs
from hftlib.convert import binance_ws as bw
from hftlib.convert.base import ConvertReport
from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_ID,
    NO_PX,
    empty_events,
)

SPOT = Instrument(
    venue="binance", symbol="BTCUSDT", kind=InstrumentKind.SPOT, tick_size=0.01, lot_size=0.001
)
FUT = Instrument(
    venue="binance-futures",
    symbol="BTCUSDT",
    kind=InstrumentKind.LINEAR_PERPETUAL,
    tick_size=0.1,
    lot_size=0.001,
)
T0 = 1_723_161_253_000_000_000  # local ns
E0 = 1_723_161_255_000  # exchange ms


# --- capture builders --------------------------------------------------------------------------


def depth(
    first: int,
    last: int,
    bids: list[list[Any]],
    asks: list[list[Any]],
    *,
    prev: int | None = None,
    e_ms: int = E0,
) -> dict[str, Any]:
    """Return a depth diff envelope: spot without ``prev``, USD-M (``pu``, ``T``) with it."""
    data: dict[str, Any] = {"e": "depthUpdate", "E": e_ms, "s": "BTCUSDT", "U": first, "u": last}
    stream = "btcusdt@depth@100ms"
    if prev is not None:
        data.update(T=e_ms - 1, pu=prev)
        stream = "btcusdt@depth@0ms"
    data.update(b=bids, a=asks)
    return {"stream": stream, "data": data}


def snapshot(
    lid: int, bids: list[list[Any]], asks: list[list[Any]], *, t_ms: int | None = None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"lastUpdateId": lid}
    if t_ms is not None:
        msg.update(E=t_ms + 1, T=t_ms)
    msg.update(bids=bids, asks=asks)
    return msg


def trade(
    tid: int,
    px: str,
    qty: str,
    maker_buys: bool,
    *,
    t_ms: int = E0,
    futures: bool = False,
    kind: str = "MARKET",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "e": "trade",
        "E": t_ms + 1,
        "s": "BTCUSDT",
        "t": tid,
        "p": px,
        "q": qty,
        "T": t_ms,
        "m": maker_buys,
    }
    if futures:
        data["X"] = kind
    else:
        data["M"] = True
    return {"stream": "btcusdt@trade", "data": data}


def ticker(
    uid: int, bid: Any, bid_qty: Any, ask: Any, ask_qty: Any, *, t_ms: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "u": uid,
        "s": "BTCUSDT",
        "b": bid,
        "B": bid_qty,
        "a": ask,
        "A": ask_qty,
    }
    if t_ms is not None:
        data.update(e="bookTicker", T=t_ms, E=t_ms + 1)
    return {"stream": "btcusdt@bookTicker", "data": data}


def write(path: Path, messages: list[Any], *, start: int = T0, step: int = 1_000_000) -> Path:
    """Write ``<local_ns> <json>`` lines (strings are written verbatim); gzip for ``.gz``."""
    lines = []
    for i, msg in enumerate(messages):
        if isinstance(msg, bytes):  # a whole raw line
            lines.append(msg)
            continue
        body = msg.encode() if isinstance(msg, str) else orjson.dumps(msg)
        lines.append(b"%d %s" % (start + i * step, body))
    raw = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def run(
    paths: list[Path],
    instrument: Instrument = SPOT,
    *,
    strict: bool = False,
    chunk_rows: int = 1 << 20,
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("binance", [str(p) for p in paths], strict=strict)
    chunks = list(bw.convert(paths, instrument, report, chunk_rows=chunk_rows))
    return (np.concatenate(chunks) if chunks else empty_events()), report


def kinds(events: np.ndarray) -> list[int]:
    return [int(k) for k in events["flags"] & KIND_MASK]


def levels(book: L2Book) -> tuple[dict[int, int], dict[int, int]]:
    return dict(book.bids), dict(book.asks)


# --- book sync ---------------------------------------------------------------------------------


def test_snapshot_releases_bridging_buffered_diffs_at_its_local_time(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.gz",
        [
            depth(1, 5, [["100.00", "1.000"]], []),
            depth(6, 10, [["100.00", "2.000"]], [["101.00", "1.500"]]),
            snapshot(7, [["100.00", "3.000"], ["99.00", "1.000"]], [["101.00", "4.000"]]),
            depth(11, 12, [], [["101.00", "0.000"], ["102.00", "0.500"]]),
        ],
    )
    events, report = run([path])
    assert kinds(events) == [
        K_CLEAR,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_SNAPSHOT,
        K_DEPTH,
        K_DEPTH,
        K_DEPTH,
        K_DEPTH,
    ]
    clear = events[0]
    assert clear["flags"] == K_CLEAR | F_BID | F_ASK
    assert clear["px"] == NO_PX
    assert clear["seq"] == 7
    assert [bool(f & F_LAST) for f in events["flags"]] == [
        False,
        False,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    snap_local = T0 + 2 * 1_000_000
    released = events[4:6]
    assert (released["local_ts"] == snap_local).all()
    assert (released["exch_ts"] == E0 * 1_000_000).all()
    assert released["seq"].tolist() == [10, 10]
    assert released["aux"].tolist() == [5, 5]  # U - 1
    assert events[6]["aux"] == 10
    assert events[6]["local_ts"] == T0 + 3 * 1_000_000
    assert report.counts["depthUpdate.discarded"] == 1
    assert report.counts["depthUpdate.discarded_levels"] == 1
    assert report.counts["depthUpdate.applied"] == 2
    assert report.gaps == 0
    assert levels(L2Book.from_events(events)) == ({10000: 2000, 9900: 1000}, {10200: 500})
    assert (np.diff(events["local_ts"]) >= 0).all()


def test_spot_bridge_accepts_first_diff_starting_at_snapshot_plus_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            depth(8, 10, [["1.00", "1.000"]], []),  # u == lastUpdateId: discarded on spot
            snapshot(10, [["1.00", "5.000"]], []),
            depth(11, 15, [["1.00", "2.000"]], []),
        ],
    )
    events, report = run([path])
    depth_rows = events[(events["flags"] & KIND_MASK) == K_DEPTH]
    assert depth_rows["seq"].tolist() == [15]
    assert report.counts["depthUpdate.discarded"] == 1
    assert report.gaps == 0


def test_spot_first_diff_after_snapshot_that_skips_an_id_is_a_gap(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], []),
            depth(12, 15, [["1.00", "2.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.gaps == 1
    assert events[-1]["flags"] == K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC
    assert levels(L2Book.from_events(events)) == ({}, {})


def test_futures_bridge_applies_diff_ending_at_snapshot_and_chains_on_pu(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            depth(100, 140, [["1.0", "1.000"]], [], prev=90),  # u < lastUpdateId: discarded
            depth(141, 150, [["1.0", "2.000"]], [], prev=140),  # U <= 150 <= u: applied
            snapshot(150, [["1.0", "9.000"]], [["2.0", "1.000"]], t_ms=E0 + 5),
            depth(160, 170, [], [["2.0", "3.000"]], prev=150),  # pu chain, U jumps: fine
        ],
    )
    events, report = run([path], FUT)
    depth_rows = events[(events["flags"] & KIND_MASK) == K_DEPTH]
    assert depth_rows["seq"].tolist() == [150, 170]
    assert depth_rows["aux"].tolist() == [140, 150]  # pu
    assert depth_rows["exch_ts"].tolist() == [(E0 - 1) * 1_000_000] * 2  # transaction time T
    assert events[0]["exch_ts"] == (E0 + 5) * 1_000_000  # snapshot T
    assert report.counts["depthUpdate.discarded"] == 1
    assert report.gaps == 0
    assert levels(L2Book.from_events(events)) == ({10: 2000}, {20: 3000})


def test_futures_pu_break_is_a_gap_even_when_ids_increase(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(150, [["1.0", "9.000"]], [], t_ms=E0),
            depth(141, 155, [["1.0", "2.000"]], [], prev=140),
            depth(160, 170, [["1.0", "3.000"]], [], prev=158),
        ],
    )
    events, report = run([path], FUT)
    assert report.gaps == 1
    assert kinds(events)[-1] == K_CLEAR


def test_gap_clears_book_then_later_snapshot_resyncs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.gz",
        [
            snapshot(10, [["1.00", "5.000"]], [["2.00", "5.000"]]),
            depth(11, 12, [["1.00", "4.000"]], []),
            depth(15, 16, [["1.00", "3.000"]], []),  # 13..14 missing: gap
            depth(17, 18, [], [["2.00", "1.000"]]),  # buffered
            snapshot(16, [["1.00", "7.000"], ["0.50", "1.000"]], [["2.00", "6.000"]]),
            depth(19, 20, [["0.50", "0.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.gaps == 1
    assert report.resyncs == 1
    clears = events[(events["flags"] & KIND_MASK) == K_CLEAR]
    assert clears["flags"].tolist() == [
        K_CLEAR | F_BID | F_ASK,
        K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC,
        K_CLEAR | F_BID | F_ASK,
    ]
    assert clears["seq"].tolist() == [10, 16, 16]
    depth_rows = events[(events["flags"] & KIND_MASK) == K_DEPTH]
    assert depth_rows["seq"].tolist() == [12, 18, 20]  # 16 was folded into the new snapshot
    assert report.counts["depthUpdate.discarded"] == 1
    assert levels(L2Book.from_events(events)) == ({100: 7000}, {200: 1000})
    assert any("sequence gap" in e for e in report.examples)


def test_gap_in_strict_mode_raises_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], []),
            depth(11, 12, [], []),
            depth(15, 16, [], []),
        ],
    )
    with pytest.raises(DataError, match=r"a\.txt:3: sequence gap"):
        run([path], strict=True)


def test_stale_snapshot_is_rejected_and_a_later_one_bridges(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            depth(20, 25, [["1.00", "1.000"]], []),
            snapshot(10, [["1.00", "9.000"]], []),  # older than U=20: cannot bridge
            snapshot(22, [["1.00", "8.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.skipped["stale snapshot"] == 1
    assert report.counts["snapshot.applied"] == 1
    assert events[0]["seq"] == 22
    assert levels(L2Book.from_events(events)) == ({100: 1000}, {})


def test_snapshot_while_synced_is_counted_and_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], []),
            depth(11, 12, [["1.00", "4.000"]], []),
            snapshot(12, [["1.00", "4.000"]], []),
            depth(13, 14, [["1.00", "3.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.counts["snapshot.ignored"] == 1
    assert kinds(events).count(K_SNAPSHOT) == 1
    assert report.gaps == 0


def test_replayed_diff_is_rejected_as_non_monotonic(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [], []),
            depth(11, 12, [["1.00", "4.000"]], []),
            depth(11, 12, [["1.00", "4.000"]], []),
            depth(13, 13, [["1.00", "5.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.skipped["non-monotonic id"] == 1
    assert report.gaps == 0
    assert levels(L2Book.from_events(events)) == ({100: 5000}, {})


def test_empty_diff_keeps_the_chain(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "1.000"]], []),
            depth(11, 11, [], []),
            depth(12, 12, [["1.00", "2.000"]], []),
        ],
    )
    events, report = run([path])
    assert report.counts["depthUpdate.empty"] == 1
    assert report.gaps == 0
    assert events[(events["flags"] & KIND_MASK) == K_DEPTH]["aux"].tolist() == [11]


def test_diffs_without_any_snapshot_are_rejected_at_the_end(tmp_path: Path) -> None:
    messages = [depth(1, 2, [["1.00", "1.000"]], []), trade(7, "1.00", "1.000", True)]
    path = write(tmp_path / "a.txt", messages)
    events, report = run([path])
    assert kinds(events) == [K_TRADE]
    assert report.skipped["depth without book"] == 1
    with pytest.raises(DataError, match="never applied"):
        run([path], strict=True)


def test_sync_continues_across_files_and_wrong_order_gaps(tmp_path: Path) -> None:
    first = write(
        tmp_path / "d1.gz",
        [snapshot(10, [["1.00", "1.000"]], []), depth(11, 12, [["1.00", "2.000"]], [])],
    )
    second = write(tmp_path / "d2.gz", [depth(13, 14, [["1.00", "3.000"]], [])], start=T0 + 10**9)
    events, report = run([first, second])
    assert report.gaps == 0
    assert events[(events["flags"] & KIND_MASK) == K_DEPTH]["seq"].tolist() == [12, 14]
    _, reverse = run([second, first])  # d1's snapshot cannot bridge d2's later diff
    assert reverse.skipped == {"stale snapshot": 1, "depth without book": 2}


# --- other messages ------------------------------------------------------------------------------


def test_trade_side_is_the_aggressor_and_seq_is_the_trade_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [trade(7, "100.01", "0.500", True), trade(8, "100.02", "0.250", False, t_ms=E0 + 3)],
    )
    events, report = run([path])
    assert events["flags"].tolist() == [K_TRADE | F_ASK | F_LAST, K_TRADE | F_BID | F_LAST]
    assert events["seq"].tolist() == [7, 8]
    assert events["px"].tolist() == [10001, 10002]
    assert events["qty"].tolist() == [500, 250]
    assert events["exch_ts"].tolist() == [E0 * 1_000_000, (E0 + 3) * 1_000_000]
    assert events["order_id"].tolist() == [NO_ID, NO_ID]
    assert report.counts["trade"] == 2


def test_futures_non_market_trades_are_counted_not_emitted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            trade(7, "1.0", "1.000", True, futures=True),
            trade(8, "1.0", "1.000", True, futures=True, kind="INSURANCE_FUND"),
        ],
    )
    events, report = run([path], FUT)
    assert events["seq"].tolist() == [7]
    assert report.counts["trade.non_market"] == 1


def test_book_ticker_rows_and_spot_exchange_time(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            ticker(5, "1.00", "2.000", "1.01", "3.000"),  # nothing timed yet: local time
            trade(9, "1.00", "1.000", True, t_ms=E0),  # E = E0 + 1
            ticker(6, "1.00", "1.000", "1.01", "3.000"),
        ],
    )
    events, _ = run([path])
    bbo = events[(events["flags"] & KIND_MASK) == K_BBO]
    assert bbo["flags"].tolist() == [K_BBO | F_BID, K_BBO | F_ASK | F_LAST] * 2
    assert bbo["seq"].tolist() == [5, 5, 6, 6]
    assert bbo["px"].tolist() == [100, 101, 100, 101]
    assert bbo["exch_ts"].tolist()[:2] == [T0, T0]
    assert bbo["exch_ts"].tolist()[2:] == [(E0 + 1) * 1_000_000] * 2


def test_futures_book_ticker_uses_transaction_time(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", [ticker(5, "1.0", "2.000", "1.1", "3.000", t_ms=E0)])
    events, report = run([path], FUT)
    assert events["exch_ts"].tolist() == [E0 * 1_000_000] * 2
    assert report.counts["bookTicker"] == 1


def test_spot_depth_uses_event_time_and_spot_snapshot_the_latest_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            depth(1, 5, [["1.00", "1.000"]], [], e_ms=E0 + 7),
            snapshot(6, [["1.00", "2.000"]], []),
            depth(7, 8, [["1.00", "3.000"]], [], e_ms=E0 + 9),
        ],
    )
    events, _ = run([path])
    assert events[0]["exch_ts"] == (E0 + 7) * 1_000_000
    assert events[-1]["exch_ts"] == (E0 + 9) * 1_000_000


# --- bad input -----------------------------------------------------------------------------------


BAD_LINES: list[tuple[Any, str]] = [
    (b"no-space-here", "malformed line"),
    (b"12x {}", "malformed line"),
    (b"1723161253 {}", "bad local timestamp"),
    ("{not json", "malformed json"),
    ("[1, 2]", "malformed message"),
    ({"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade"}}, "unknown stream"),
    ({"stream": "ethusdt@trade", "data": {"e": "trade"}}, "symbol mismatch"),
    ({"code": -1003, "msg": "Too many requests"}, "venue error"),
    ({"hello": 1}, "unknown message"),
    ({"stream": "btcusdt@trade", "data": {"e": "trade", "s": "BTCUSDT"}}, "malformed message"),
    (depth(20, 10, [], []), "malformed message"),
    (depth(11, 12, [["1.00"]], []), "malformed message"),
    (depth(11, 12, [["1.00", 5, 6]], []), "malformed message"),
    (depth(11, 12, [[True, "1.000"]], []), "malformed message"),
    (depth(11, 12, [], [], prev=10), "wrong market"),
    (trade(3, "1.00", "1.000", True), "non-monotonic id"),
    (ticker(-1, "1.00", "1.000", "1.01", "1.000"), "malformed message"),
    (ticker(4, "1.00", "1.000", "1.01", 1), "malformed message"),
    (snapshot(2**63, [], []), "malformed message"),
    (  # invalid UTF-8 in a key the converter ignores: orjson (not the lane) must judge it
        b"%d %s"
        % (
            T0,
            orjson.dumps(
                {
                    "stream": "btcusdt@bookTicker",
                    "data": {
                        **ticker(30, "1.00", "1.000", "1.01", "1.000")["data"],
                        "note": "cafe",
                    },
                }
            ).replace(b"cafe", b"caf\xff"),
        ),
        "malformed json",
    ),
]


@pytest.mark.parametrize(("line", "category"), BAD_LINES, ids=[c for _, c in BAD_LINES])
def test_bad_lines_are_counted_by_category_and_raise_in_strict_mode(
    tmp_path: Path, line: Any, category: str
) -> None:
    messages = [
        snapshot(10, [["1.00", "1.000"]], []),
        trade(5, "1.00", "1.000", True),
        line,
        depth(11, 12, [["1.00", "2.000"]], []),
    ]
    if isinstance(line, bytes):
        messages[2] = line
    path = write(tmp_path / "a.txt", messages)
    events, report = run([path])
    assert dict(report.skipped) == {category: 1}
    assert report.counts["depthUpdate.applied"] == 1  # the good lines around it still convert
    assert levels(L2Book.from_events(events)) == ({100: 2000}, {})
    with pytest.raises(DataError, match=r"a\.txt:3: "):
        run([path], strict=True)


def test_subscription_ack_is_counted_as_control(tmp_path: Path) -> None:
    events, report = run([write(tmp_path / "a.txt", [{"result": None, "id": 1}])])
    assert len(events) == 0
    assert report.counts["control"] == 1
    assert report.skipped_total == 0


def test_off_grid_level_is_rejected_and_the_message_keeps_its_last_flag(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [], []),
            depth(11, 12, [["1.00", "1.000"]], [["1.005", "1.000"]]),
        ],
    )
    events, report = run([path])
    assert report.skipped["off-grid or malformed price"] == 1
    assert events[-1]["flags"] == K_DEPTH | F_BID | F_LAST


def test_truncated_gzip_keeps_whole_lines_and_reports_it(tmp_path: Path) -> None:
    messages = [trade(i, "1.00", "1.000", True) for i in range(1, 2001)]
    full = write(tmp_path / "full.gz", messages)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    events, report = run([cut])
    assert report.skipped["truncated input"] == 1
    assert 0 < len(events) < 2000
    assert events["seq"].tolist() == list(range(1, len(events) + 1))
    with pytest.raises(DataError, match="truncated"):
        run([cut], strict=True)


def test_chunks_never_exceed_chunk_rows_and_concatenate_to_the_same(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            depth(1, 5, [["1.00", "1.000"]], []),
            snapshot(5, [["1.00", "1.000"], ["0.99", "1.000"]], [["1.01", "1.000"]]),
            *[ticker(u, "1.00", "1.000", "1.01", "1.000") for u in range(6, 30)],
            depth(6, 9, [["1.00", "2.000"], ["0.98", "1.000"]], [["1.02", "1.000"]]),
        ],
    )
    whole, _ = run([path])
    report = ConvertReport("binance", [str(path)])
    chunks = list(bw.convert([path], SPOT, report, chunk_rows=3))
    assert max(len(c) for c in chunks) <= 3
    assert np.concatenate(chunks).tobytes() == whole.tobytes()


def test_detect_instrument_tells_spot_from_futures(tmp_path: Path) -> None:
    spot = write(tmp_path / "s.txt", ["garbage", ticker(1, "1.00", "1.000", "1.01", "1.000")])
    fut = write(tmp_path / "f.txt", [depth(1, 2, [], [], prev=0)])
    nothing = write(tmp_path / "n.txt", [{"result": None, "id": 1}])
    assert bw.detect_instrument([spot]) == ("binance", "BTCUSDT")
    assert bw.detect_instrument([fut]) == ("binance-futures", "BTCUSDT")
    assert bw.detect_instrument([nothing]) is None
    assert bw.detect_instrument([]) is None


def test_bare_stream_payloads_convert_like_envelopes(tmp_path: Path) -> None:
    messages = [
        snapshot(10, [["1.00", "1.000"]], []),
        depth(11, 12, [["1.00", "2.000"]], []),
        trade(5, "1.00", "1.000", False),
        ticker(12, "1.00", "2.000", "1.01", "1.000"),
    ]
    wrapped, _ = run([write(tmp_path / "w.txt", messages)])
    bare = [m.get("data", m) for m in messages]
    unwrapped, report = run([write(tmp_path / "b.txt", bare)])
    assert unwrapped.tobytes() == wrapped.tobytes()
    assert report.skipped_total == 0


def test_numeric_level_fast_path_matches_plain_parse_or_declines() -> None:
    good = orjson.dumps(
        depth(1, 2, [["61837.63", "0.00100000"], ["1e2", "0"]], [["61837.64", "3.5"]])
    )
    cut = good.find(b'"b":[')
    fast = bj.loads_numeric_levels(good, cut, bj.DIFF_LEVELS)
    plain = orjson.loads(good)
    assert fast is not None
    for side in ("b", "a"):
        assert fast["data"][side] == [[float(p), float(q)] for p, q in plain["data"][side]]
    for bad in (
        b'[["1","2","3"],["4"]]',
        b'[["true","1"]]',
        b'[["1",["2","3"]]]',
        b'[["1,2"]]',
        b'[["NaN","1"]]',
        b'[[1,"2"]]',
    ):
        payload = good[:cut] + b'"b":' + bad + b',"a":[]}}'
        assert bj.loads_numeric_levels(payload, cut, bj.DIFF_LEVELS) is None, bad
    snap = orjson.dumps(snapshot(9, [["1.5", "2"]], [["1.6", "0.001"]], t_ms=E0))
    fast = bj.loads_numeric_levels(snap, snap.find(b'"bids":['), bj.SNAPSHOT_LEVELS)
    assert fast == {**orjson.loads(snap), "bids": [[1.5, 2]], "asks": [[1.6, 0.001]]}


# --- the compiled lane ----------------------------------------------------------------------

TS = b"1723161254087891268"  # a 19-digit local ns time


def lane_line(msg: dict[str, Any]) -> bytes:
    return TS + b" " + orjson.dumps(msg)


@pytest.fixture(params=["py", "nb"])
def lane_kernel(request: pytest.FixtureRequest) -> Any:
    """The lane's kernel as plain Python and compiled (STYLE: test kernels both ways)."""
    # Under NUMBA_DISABLE_JIT=1 the kernel is already the plain function (no py_func).
    plain = getattr(bl.parse_run, "py_func", bl.parse_run)
    return plain if request.param == "py" else bl.parse_run


def lane_parse(
    kernel: Any,
    lines: list[bytes],
    *,
    futures: bool = False,
    state: tuple[int, ...] = (-1, -1, 0, 0, 0),
) -> tuple[Any, ...]:
    """Run the lane over ``lines``; return (stop, done, counts, events, state)."""
    inst = FUT if futures else SPOT
    lane = bl.Lane("BTCUSDT", futures, inst.tick_size, inst.lot_size, kernel)
    lane.use_depth_stream("btcusdt@depth@0ms" if futures else "btcusdt@depth@100ms")
    lane.start(b"\n".join(lines) + b"\n", len(lines))
    lane.state[:] = state
    stop, done, rows = lane.parse(0, 0)
    return stop, done, tuple(lane.counts.tolist()), lane.events(rows), tuple(lane.state.tolist())


def test_lane_writes_spot_ticker_and_trade_rows(lane_kernel: Any) -> None:
    lines = [
        lane_line(ticker(12, "61837.63000000", "3.78800000", "61837.64000000", "0.00100000")),
        lane_line(trade(7, "61837.63", "0.02000000", True, t_ms=E0)),
        lane_line(ticker(13, "0.10", "1", "0.20", "2.5")),
    ]
    stop, done, counts, events, state = lane_parse(lane_kernel, lines)
    assert (stop, done, counts) == (sum(len(x) + 1 for x in lines), 3, (2, 1, 0))
    assert events["flags"].tolist() == [
        K_BBO | F_BID,
        K_BBO | F_ASK | F_LAST,
        K_TRADE | F_ASK | F_LAST,
        K_BBO | F_BID,
        K_BBO | F_ASK | F_LAST,
    ]
    ts = int(TS)
    exch = [ts, ts, E0 * 1_000_000, (E0 + 1) * 1_000_000, (E0 + 1) * 1_000_000]
    assert events["exch_ts"].tolist() == exch
    assert events["local_ts"].tolist() == [ts] * 5
    assert events["px"].tolist() == [6183763, 6183764, 6183763, 10, 20]
    assert events["qty"].tolist() == [3788, 1, 20, 1000, 2500]
    assert events["seq"].tolist() == [12, 12, 7, 13, 13]
    assert events["aux"].tolist() == [NO_ID] * 5
    assert events["order_id"].tolist() == [NO_ID] * 5
    assert state[:3] == (7, 13, E0 + 1)


def test_lane_futures_ticker_uses_t_and_trade_needs_market(lane_kernel: Any) -> None:
    lines = [
        lane_line(ticker(5, "1.0", "2.000", "1.1", "3.000", t_ms=E0)),
        lane_line(trade(9, "1.0", "0.001", False, t_ms=E0 + 2, futures=True)),
        lane_line(trade(10, "1.0", "0.001", False, futures=True, kind="ADL")),
    ]
    stop, done, counts, events, state = lane_parse(lane_kernel, lines, futures=True)
    assert (done, counts) == (2, (1, 1, 0))
    assert stop == len(lines[0]) + len(lines[1]) + 2  # where the declined line starts
    assert events["flags"].tolist() == [
        K_BBO | F_BID,
        K_BBO | F_ASK | F_LAST,
        K_TRADE | F_BID | F_LAST,
    ]
    assert events["exch_ts"].tolist() == [E0 * 1_000_000] * 2 + [(E0 + 2) * 1_000_000]
    assert state[:3] == (9, 5, 0)


def test_lane_applies_chaining_diffs_of_a_synced_book_only(lane_kernel: Any) -> None:
    lines = [
        lane_line(depth(11, 12, [["1.00", "1.000"], ["0.99", "0.000"]], [["1.01", "2.500"]])),
        lane_line(depth(13, 13, [], [["1.02", "1.000"]], e_ms=E0 + 4)),
        lane_line(depth(15, 16, [["1.00", "2.000"]], [])),  # 14 is missing: a gap
    ]
    synced = (-1, -1, 0, 10, 1)
    stop, done, counts, events, state = lane_parse(lane_kernel, lines, state=synced)
    assert (done, counts) == (2, (0, 0, 2))
    bid, ask = K_DEPTH | F_BID, K_DEPTH | F_ASK
    assert events["flags"].tolist() == [bid, bid, ask | F_LAST, ask | F_LAST]
    assert events["px"].tolist() == [100, 99, 101, 102]
    assert events["qty"].tolist() == [1000, 0, 2500, 1000]
    assert events["seq"].tolist() == [12, 12, 12, 13]
    assert events["aux"].tolist() == [10, 10, 10, 12]
    assert events["exch_ts"].tolist() == [E0 * 1_000_000] * 3 + [(E0 + 4) * 1_000_000]
    assert state == (-1, -1, E0 + 4, 13, 1)
    # Not synced: the general path must see even a chaining diff.
    assert lane_parse(lane_kernel, lines, state=(-1, -1, 0, 10, 0))[1] == 0
    # USD-M: pu chains, U may jump.
    fut = [lane_line(depth(20, 25, [["1.0", "1.000"]], [], prev=10))]
    _, done, counts, events, state = lane_parse(lane_kernel, fut, futures=True, state=synced)
    assert (done, counts, state[3]) == (1, (0, 0, 1), 25)
    assert events["aux"].tolist() == [10]


def _retype(msg: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**msg, "data": {**msg["data"], **changes}}


GOOD_TICKER = ticker(20, "1.00", "1.000", "1.01", "1.000")
GOOD_TRADE = trade(20, "1.00", "1.000", True)
DECLINED: dict[str, bytes] = {
    "whitespace": TS + b' {"stream": "btcusdt@bookTicker","data":{}}',
    "escape": lane_line(_retype(GOOD_TICKER, s=r"BTC\u0055SDT")),
    "non-ascii": lane_line(_retype(GOOD_TICKER, note="caf\u00e9")),
    "bad utf-8": lane_line(_retype(GOOD_TICKER, note="cafe")).replace(b"cafe", b"caf\xff"),
    "duplicate key": lane_line(GOOD_TICKER).replace(b'"u":20', b'"u":20,"u":21'),
    "18-digit time": lane_line(GOOD_TICKER)[1:],
    "time >= 9e18": b"9" + lane_line(GOOD_TICKER)[1:],
    "id not rising": lane_line(_retype(GOOD_TICKER, u=3)),
    "symbol": lane_line(_retype(GOOD_TICKER, s="ETHUSDT")),
    "exponent": lane_line(_retype(GOOD_TICKER, b="1e5")),
    "17 digits": lane_line(_retype(GOOD_TICKER, b="1.2345678901234567")),
    "no digit after dot": lane_line(_retype(GOOD_TICKER, b="1.")),
    "negative id": lane_line(_retype(GOOD_TICKER, u=-21)),
    "float id": lane_line(_retype(GOOD_TICKER, u=21.0)),
    "missing B": lane_line(
        {**GOOD_TICKER, "data": {k: v for k, v in GOOD_TICKER["data"].items() if k != "B"}}
    ),
    "number price": lane_line(_retype(GOOD_TICKER, b=1.5)),
    "garbage after": lane_line(GOOD_TICKER) + b"x",
    "m as string": lane_line(_retype(GOOD_TRADE, m="true")),
    "event not trade": lane_line(_retype(GOOD_TRADE, e="aggTrade")),
    "trade time 0": lane_line(_retype(GOOD_TRADE, T=0)),
    "other stream": lane_line({"stream": "btcusdt@aggTrade", "data": GOOD_TRADE["data"]}),
    "off grid": lane_line(_retype(GOOD_TICKER, b="1.005")),
    "empty diff": lane_line(depth(11, 11, [], [])),
    "diff level not pair": lane_line(depth(11, 11, [["1.00"]], [])),
    "diff level number": lane_line(depth(11, 11, [[1.0, "1.000"]], [])),
    "diff off grid": lane_line(depth(11, 11, [["1.00", "0.0001"]], [])),
    "diff asks first": lane_line(depth(11, 11, [["1.00", "1.000"]], [])).replace(
        b'"b":[["1.00","1.000"]],"a":[]', b'"a":[],"b":[["1.00","1.000"]]'
    ),
    "diff with pu on spot": lane_line(depth(11, 11, [["1.00", "1.000"]], [], prev=10)).replace(
        b"depth@0ms", b"depth@100ms"
    ),
    "diff gap": lane_line(depth(12, 12, [["1.00", "1.000"]], [])),
    "diff replayed": lane_line(depth(9, 10, [["1.00", "1.000"]], [])),
}


@pytest.mark.parametrize("name", list(DECLINED))
def test_lane_declines_what_it_cannot_read_with_certainty(lane_kernel: Any, name: str) -> None:
    good = lane_line(ticker(19, "1.00", "1.000", "1.01", "1.000"))
    stop, done, counts, _, state = lane_parse(
        lane_kernel, [good, DECLINED[name], good], state=(10, 10, 0, 10, 1)
    )
    assert (stop, done, counts) == (len(good) + 1, 1, (1, 0, 0))
    assert state == (10, 19, 0, 10, 1)


# --- the sync state machine alone ---------------------------------------------------------------


def test_book_sync_buffers_evicts_and_drains() -> None:
    sync = bs.BookSync(futures=False)
    assert sync.diff(1, 2, 0, "a") == bs.BUFFER
    assert sync.diff(3, 4, 2, "b") == bs.BUFFER
    assert sync.evict_oldest() == "a"
    assert sync.drain() == ["b"]
    assert sync.snapshot(4) == (bs.ACCEPTED, [], [])
    assert sync.diff(5, 6, 4) == bs.APPLY
    assert sync.snapshot(9) == (bs.IGNORED, [], [])


# --- real captures -----------------------------------------------------------------------------

REAL = {
    # name: (files, venue, symbol, rows per kind, depth messages applied, discarded)
    "spot-btc-0808": (
        ["spot/btcusdt_20240808.gz"],
        "binance",
        "BTCUSDT",
        {"depth": 124073, "trade": 9757, "snapshot": 2000, "clear": 1, "bbo": 56080},
        3449,
        2,
    ),
    "spot-eth-0808": (
        ["spot/ethusdt_20240808.gz"],
        "binance",
        "ETHUSDT",
        {"depth": 106802, "trade": 6106, "snapshot": 2000, "clear": 1, "bbo": 48154},
        3432,
        2,
    ),
    "spot-btc-0808+0809": (
        ["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"],
        "binance",
        "BTCUSDT",
        {"depth": 298094, "trade": 19904, "snapshot": 2000, "clear": 1, "bbo": 146348},
        6493,
        2,
    ),
    "spot-eth-0808+0809": (
        ["spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"],
        "binance",
        "ETHUSDT",
        {"depth": 272752, "trade": 14515, "snapshot": 2000, "clear": 1, "bbo": 117516},
        6468,
        2,
    ),
    "usdm-btc-0808": (
        ["usdm/btcusdt_20240808.gz"],
        "binance-futures",
        "BTCUSDT",
        {"depth": 443262, "trade": 21313, "snapshot": 2000, "clear": 1, "bbo": 132178},
        6547,
        4,
    ),
    "usdm-eth-0808": (
        ["usdm/ethusdt_20240808.gz"],
        "binance-futures",
        "ETHUSDT",
        {"depth": 428411, "trade": 14076, "snapshot": 2000, "clear": 1, "bbo": 107984},
        6581,
        5,
    ),
}
# Spot book sizes are finer than Binance's order step (0.00001 BTC, 0.0001 ETH): partial fills
# leave remainders such as 25.426189 BTC. These lots hold every size in the captures.
KIND_KEYS = {
    K_DEPTH: "depth",
    K_TRADE: "trade",
    K_SNAPSHOT: "snapshot",
    K_CLEAR: "clear",
    K_BBO: "bbo",
}


@pytest.mark.parametrize("name", list(REAL))
def test_real_capture_counts_sync_and_chain(shared_data: Path, name: str) -> None:
    files, venue, symbol, rows, applied, discarded = REAL[name]
    paths = [shared_data / "binance-l2-hftbacktest" / f for f in files]
    assert bw.detect_instrument(paths) == (venue, symbol)
    events, report = run(paths, lookup_instrument(venue, symbol))
    counts = np.bincount(events["flags"] & KIND_MASK, minlength=16)
    assert {key: int(counts[k]) for k, key in KIND_KEYS.items()} == rows
    assert report.skipped_total == 0
    assert report.gaps == 0
    assert report.counts["snapshot.applied"] == 1
    assert report.counts["depthUpdate.applied"] == applied
    assert report.counts["depthUpdate.discarded"] == discarded
    assert (np.diff(events["local_ts"]) >= 0).all()
    # The chain: after the bridging diff, every depth message starts where the last one ended.
    last = events[((events["flags"] & KIND_MASK) == K_DEPTH) & ((events["flags"] & F_LAST) != 0)]
    assert (last["aux"][1:] == last["seq"][:-1]).all()
    lid = int(events[(events["flags"] & KIND_MASK) == K_SNAPSHOT][0]["seq"])
    if venue == "binance":  # U <= lastUpdateId + 1 <= u, with aux = U - 1
        assert last["aux"][0] <= lid < last["seq"][0]
    else:  # pu < U <= lastUpdateId <= u
        assert last["aux"][0] < lid <= last["seq"][0]


def test_real_day_without_snapshot_converts_trades_and_tickers_only(shared_data: Path) -> None:
    path = shared_data / "binance-l2-hftbacktest" / "spot" / "btcusdt_20240809.gz"
    events, report = run([path], lookup_instrument("binance", "BTCUSDT"))
    assert set(kinds(events)) == {K_TRADE, K_BBO}
    assert report.skipped == {"depth without book": 3044}
    assert report.counts["trade"] == 10147
    assert report.counts["bookTicker"] == 45134


def test_real_order_step_lot_rejects_finer_book_sizes(shared_data: Path) -> None:
    # With the order step (1e-5 BTC) as lot, book sizes left by partial fills are off the
    # grid: rejected and counted, never rounded.
    path = shared_data / "binance-l2-hftbacktest" / "spot" / "btcusdt_20240808.gz"
    spec = lookup_instrument("binance", "BTCUSDT").to_dict() | {"lot_size": 0.00001}
    _, report = run([path], Instrument.from_dict(spec))
    assert report.skipped == {"off-grid or malformed size": 3}
    assert any("size 25.426189 " in e for e in report.examples)


def test_real_conversion_is_deterministic_and_fast_path_is_exact(
    shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "binance-l2-hftbacktest" / "spot" / "ethusdt_20240808.gz"
    inst = lookup_instrument("binance", "ETHUSDT")
    first, first_report = run([src], inst)
    second, _ = run([src], inst)
    assert first.tobytes() == second.tobytes()
    # Spaces keep the compiled lane and the numeric level parse off (neither accepts
    # whitespace): the general orjson/string path must give the same bytes.
    plain = tmp_path / "plain.txt"
    text = gzip.decompress(src.read_bytes())
    for fast, slow in (
        (b'"b":[', b'"b": ['),
        (b'"bids":[', b'"bids": ['),
        (b'{"stream":"', b'{"stream": "'),
    ):
        assert fast in text
        text = text.replace(fast, slow)
    plain.write_bytes(text)
    slow_events, slow_report = run([plain], inst)
    assert slow_events.tobytes() == first.tobytes()
    assert slow_report.counts == first_report.counts

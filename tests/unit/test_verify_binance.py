"""Tests for the Binance verifier (hftlib.verify.binance): our book vs the venue's bookTicker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from hftlib.errors import DataError
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.verify import verifier
from hftlib.verify.binance import VERIFY_HELP, verify

SPOT = Instrument(
    venue="binance", symbol="BTCUSDT", kind=InstrumentKind.SPOT, tick_size=0.01, lot_size=0.001
)
T0 = 1_723_161_253_000_000_000
E0 = 1_723_161_255_000


def depth(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    data = {
        "e": "depthUpdate",
        "E": E0,
        "s": "BTCUSDT",
        "U": first,
        "u": last,
        "b": bids,
        "a": asks,
    }
    return {"stream": "btcusdt@depth@100ms", "data": data}


def ticker(uid: int, bid: str, bid_qty: str, ask: str, ask_qty: str) -> dict[str, Any]:
    data = {"u": uid, "s": "BTCUSDT", "b": bid, "B": bid_qty, "a": ask, "A": ask_qty}
    return {"stream": "btcusdt@bookTicker", "data": data}


def snapshot(lid: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {"lastUpdateId": lid, "bids": bids, "asks": asks}


def write(path: Path, messages: list[dict[str, Any]]) -> Path:
    lines = [b"%d %s" % (T0 + i * 1000, orjson.dumps(m)) for i, m in enumerate(messages)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_registry_names_this_module() -> None:
    assert verifier("binance").verify is verify
    assert "bookTicker" in VERIFY_HELP


def test_ticker_before_and_after_its_diff_both_match(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"], ["0.99", "1.000"]], [["1.01", "2.000"]]),
            ticker(10, "1.00", "5.000", "1.01", "2.000"),  # the snapshot's own state
            ticker(12, "0.99", "1.000", "1.01", "2.000"),  # arrives before diff 12
            depth(11, 12, [["1.00", "0.000"]], []),
            depth(13, 15, [], [["1.01", "1.500"]]),
            ticker(15, "0.99", "1.000", "1.01", "1.500"),  # after diff 15
            ticker(16, "0.99", "1.000", "1.01", "1.000"),  # no diff ends at 16: not compared
        ],
    )
    result = verify([path], SPOT)
    assert result["compared"] == 3
    assert result["matched"] == 3
    assert result["match_rate"] == 1.0
    assert result["compared_by_source"] == {"depth": 2, "snapshot": 1}
    assert result["mismatches"] == []
    assert "reason" not in result


def test_mismatch_names_seq_both_tops_and_times(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], [["1.01", "2.000"]]),
            depth(11, 12, [["1.00", "4.000"]], []),
            ticker(12, "1.00", "3.000", "1.01", "2.000"),  # venue says 3, our book says 4
        ],
    )
    result = verify([path], SPOT)
    assert result["compared"] == 1
    assert result["matched"] == 0
    assert result["mismatches_total"] == 1
    (miss,) = result["mismatches"]
    assert miss["seq"] == 12
    assert miss["source"] == "depth"
    assert miss["ours"] == {"bid": [1.0, 4.0], "ask": [1.01, 2.0]}
    assert miss["venue"] == {"bid": [1.0, 3.0], "ask": [1.01, 2.0]}
    assert miss["local_ts"] == T0 + 2000
    assert miss["book_local_ts"] == T0 + 1000


def test_empty_side_is_compared_as_none(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], []),
            ticker(10, "1.00", "5.000", "1.01", "2.000"),
        ],
    )
    (miss,) = verify([path], SPOT)["mismatches"]
    assert miss["ours"]["ask"] is None


def test_off_grid_ticker_half_is_not_compared(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [
            snapshot(10, [["1.00", "5.000"]], [["1.01", "2.000"]]),
            ticker(10, "1.005", "5.000", "1.01", "2.000"),
        ],
    )
    result = verify([path], SPOT)
    assert result["compared"] == 0
    assert result["report"]["skipped"] == {"off-grid or malformed price": 1}


def test_without_snapshot_nothing_is_compared_and_the_reason_says_why(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        [depth(11, 12, [["1.00", "4.000"]], []), ticker(12, "1.00", "4.000", "1.01", "1.000")],
    )
    result = verify([path], SPOT)
    assert result["compared"] == 0
    assert result["match_rate"] is None
    assert "no snapshot" in result["reason"]
    with pytest.raises(DataError, match="never applied"):
        verify([path], SPOT, strict=True)


def test_instrument_is_detected_when_not_given(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", [snapshot(10, [["1.00", "5.000"]], []), depth(11, 11, [], [])])
    result = verify([path])
    assert result["instrument"] == "binance:BTCUSDT"
    assert result["reason"] == "the input has no bookTicker messages to compare with"


# --- real captures -------------------------------------------------------------------------

REAL = {
    # name: (files, bookTickers compared == matched, off-grid sizes under the built-in spec)
    # The built-in spot lot is Binance's base-asset precision (1e-8), finer than the order
    # step (1e-5 BTC), because book sizes left by partial fills are finer than the step.
    "spot-btc-0808": (["spot/btcusdt_20240808.gz"], 564, 0),
    "spot-btc-0809": (["spot/btcusdt_20240809.gz"], 0, 0),  # its 4 are in unapplied diffs
    "spot-btc-0808+0809": (["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"], 1072, 0),
    "spot-eth-0808": (["spot/ethusdt_20240808.gz"], 577, 0),
    "spot-eth-0809": (["spot/ethusdt_20240809.gz"], 0, 0),
    "spot-eth-0808+0809": (["spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"], 1056, 0),
    "usdm-btc-0808": (["usdm/btcusdt_20240808.gz"], 629, 0),
    "usdm-eth-0808": (["usdm/ethusdt_20240808.gz"], 551, 0),
}


@pytest.mark.parametrize("name", list(REAL))
def test_real_capture_matches_every_comparable_book_ticker(shared_data: Path, name: str) -> None:
    files, compared, off_grid = REAL[name]
    progress: list[int] = []
    result = verify(
        [shared_data / "binance-l2-hftbacktest" / f for f in files], progress=progress.append
    )
    assert result["compared"] == compared
    assert result["matched"] == compared
    assert result["mismatches_total"] == 0
    assert result["report"]["gaps"] == 0
    assert sum(progress) > 0
    skipped = result["report"]["skipped"]
    assert skipped.get("off-grid or malformed size", 0) == off_grid
    if compared == 0:  # a day file that continues the previous day: no snapshot, no book
        assert "no snapshot" in result["reason"]
        assert skipped["depth without book"] > 3000

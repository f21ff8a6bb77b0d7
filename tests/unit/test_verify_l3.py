"""L3 verifiers: LOBSTER against its orderbook file, Bitstamp through the reference L3 book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hftlib.convert.rows import pack_events
from hftlib.errors import DataError
from hftlib.instrument import lookup_instrument
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_TRADE,
    NO_ID,
)
from hftlib.verify import bitstamp as verify_bitstamp
from hftlib.verify import lobster as verify_lobster
from hftlib.verify import verifier

LOBSTER_DIR = "lobster-nasdaq-2012-06-21"
AMZN = (
    "AMZN_2012-06-21_34200000_57600000_message_1.csv.gz",
    "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv.gz",
)
AAPL = (
    "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv",
    "AAPL_2012-06-21_34200000_57600000_orderbook_10_first999.csv",
)


def lobster_files(tmp_path: Path, messages: list[str], book: list[str]) -> list[Path]:
    msg = tmp_path / "TEST_2012-06-21_34200000_57600000_message_1.csv"
    ob = tmp_path / "TEST_2012-06-21_34200000_57600000_orderbook_1.csv"
    msg.write_text("\n".join(messages) + "\n")
    ob.write_text("\n".join(book) + "\n")
    return [msg, ob]


TEST_STOCK = lookup_instrument("nasdaq", "AAPL")  # any 0.01 USD / 1 share spec


# --- LOBSTER -----------------------------------------------------------------------------------


def test_registry_names_both_verifiers() -> None:
    assert verifier("lobster") is verify_lobster
    assert verifier("bitstamp") is verify_bitstamp


@pytest.mark.shared_data
def test_lobster_amzn_level1_golden(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    result = verify_lobster.verify([folder / AMZN[0], folder / AMZN[1]])
    assert result["instrument"] == "nasdaq:AMZN"
    assert result["messages"] == 57_452  # 57,515 rows - 63 off-grid hidden executions
    assert (result["compared"], result["matched"], result["mismatch_count"]) == (57_451, 57_451, 0)
    assert result["mismatches"] == []
    assert result["not_comparable"] == 1
    assert result["not_comparable_reasons"] == {"first message (defines the initial book)": 1}
    assert result["by_kind"] == {
        "add": {"compared": 27_845, "matched": 27_845},
        "cancel": {"compared": 18_251, "matched": 18_251},
        "fill": {"compared": 8_974, "matched": 8_974},
        "hidden trade": {"compared": 2_381, "matched": 2_381, "not_comparable": 1},
    }
    assert result["other_level_changes"] == 0
    assert result["convert"]["skipped"] == {"off-grid price": 63}
    json.dumps(result)  # JSON-ready


@pytest.mark.shared_data
def test_lobster_aapl_level10_golden(shared_data: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    result = verify_lobster.verify([folder / AAPL[0], folder / AAPL[1]])
    assert (result["compared"], result["matched"], result["mismatch_count"]) == (998, 998, 0)
    assert result["not_comparable_reasons"] == {"first message (defines the initial book)": 1}
    assert result["by_kind"] == {
        "add": {"compared": 470, "matched": 470, "not_comparable": 1},
        "cancel": {"compared": 369, "matched": 369},
        "fill": {"compared": 98, "matched": 98},
        "hidden trade": {"compared": 61, "matched": 61},
    }
    assert result["other_level_changes"] == 0
    assert result["orderbook_rows_rejected"] == 0


@pytest.mark.shared_data
def test_lobster_strict_verify_raises_on_a_corrupt_line(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / LOBSTER_DIR
    lines = (folder / AAPL[0]).read_text().split("\n")
    lines[9] = lines[9].replace(",", ";", 1)
    msg = tmp_path / AAPL[0]
    msg.write_text("\n".join(lines))
    with pytest.raises(DataError) as exc:
        verify_lobster.verify([msg, folder / AAPL[1]], strict=True)
    assert exc.value.line == 10
    result = verify_lobster.verify([msg, folder / AAPL[1]])
    assert result["convert"]["skipped"] == {"malformed line": 1}
    assert result["matched"] == result["compared"] == 997


def test_lobster_mismatch_is_explained(tmp_path: Path) -> None:
    paths = lobster_files(
        tmp_path,
        [
            "34200.1,1,1,100,1000000,1",  # bid 100 @ 100.00
            "34200.2,1,2,50,1000100,-1",  # ask 50 @ 100.01
            "34200.3,2,1,30,1000000,1",  # partial cancel 30 of the bid
            "34200.4,5,0,10,1000000,-1",  # hidden execution
        ],
        [
            "9999999999,0,1000000,100",
            "1000100,50,1000000,100",
            "1000100,50,1000000,80",  # the file says 20 left the bid, not 30
            "1000100,50,1000000,80",
        ],
    )
    result = verify_lobster.verify(paths, TEST_STOCK)
    assert (result["compared"], result["matched"], result["mismatch_count"]) == (3, 2, 1)
    (bad,) = result["mismatches"]
    assert bad["line"] == 3
    assert bad["message"] == "34200.3,2,1,30,1000000,1"
    assert (bad["expected_change"], bad["observed_change"]) == (-30, -20)
    assert "by -30, the orderbook file by -20" in bad["explanation"]


def test_lobster_prices_beyond_the_visible_levels_are_not_comparable(tmp_path: Path) -> None:
    paths = lobster_files(
        tmp_path,
        [
            "34200.1,1,1,100,1000000,1",
            "34200.2,1,2,40,999900,1",  # a second bid level, deeper than the level-1 window
            "34200.3,1,3,10,1000100,1",  # a new best bid: level 100.00 drops out of the window
            "34200.4,3,3,10,1000100,1",  # deleted again: 100.00 comes back into view
        ],
        [
            "9999999999,0,1000000,100",
            "9999999999,0,1000000,100",
            "9999999999,0,1000100,10",
            "9999999999,0,1000000,100",
        ],
    )
    result = verify_lobster.verify(paths, TEST_STOCK)
    assert result["not_comparable_reasons"] == {
        "first message (defines the initial book)": 1,
        "price outside the visible levels": 1,
    }
    assert (result["compared"], result["matched"]) == (2, 2)
    assert result["other_level_changes"] == 0


def test_lobster_change_at_another_price_is_reported(tmp_path: Path) -> None:
    paths = lobster_files(
        tmp_path,
        [
            "34200.1,1,1,100,1000000,1",
            "34200.2,1,2,50,1000100,-1",
        ],
        [
            "9999999999,0,1000000,100",
            "1000100,50,1000000,90",  # the bid changed though message 2 is an ask
        ],
    )
    result = verify_lobster.verify(paths, TEST_STOCK)
    assert (result["compared"], result["matched"]) == (1, 1)
    assert result["other_level_changes"] == 1
    (example,) = result["other_level_examples"]
    assert example["changes"] == [{"side": "bid", "px": 10000, "before": 100, "after": 90}]


# --- Bitstamp ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bitstamp_result(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "bitstamp-l3-2026"
    return verify_bitstamp.verify([folder / "orders.csv.gz", folder / "trades.csv"])


@pytest.mark.shared_data
def test_bitstamp_trades_golden(bitstamp_result: dict[str, Any]) -> None:
    r = bitstamp_result
    assert r["instrument"] == "bitstamp:BTCUSD"
    assert (r["compared"], r["matched"], r["mismatch_count"]) == (284, 196, 88)
    # every miss is the two channels' latency: the fill (or the maker's created row) and the
    # trade arrive in the other order
    assert r["mismatch_reasons"] == {
        "maker already filled: its fill row arrived before the trade": 71,
        "maker not yet added: its created row arrived after the trade": 17,
    }
    assert r["maker_resting_at_fill"] == {
        "compared": 284,
        "matched": 284,
        "fill without a trade row": 0,
    }
    assert r["trade_arrival_vs_maker_fill"] == {
        "trade before maker fill": 188,
        "trade in the same ms": 8,
        "trade after maker fill": 88,
    }
    assert r["fills_linked"] == {"compared": 284, "matched": 284, "problems": []}


@pytest.mark.shared_data
def test_bitstamp_book_golden(bitstamp_result: dict[str, Any]) -> None:
    r = bitstamp_result
    assert r["events"] == 314_342
    assert r["message_boundaries"] == 307_830
    assert r["crossed_states"] == 286_591
    assert r["phantom_orders"] == [
        {"order_id": 2002347646152704, "found_at_line": 35262},
        {"order_id": 2002347642003458, "found_at_line": 61247},
    ]
    assert r["crossed_states_without_phantoms"] == 100_954
    assert r["crossed_explained_by_aggressive_order"] == 100_954
    assert r["crossed_episodes"] == 100_686
    assert r["longest_crossed_episode_messages"] == 35
    assert r["longest_crossed_episode_exchange_ms"] == 13.0
    assert r["unknown_id_events"] == 15
    assert r["unknown_id_reasons"] == {
        "l3_cancel: id never added in the capture": 13,
        "l3_cancel: id removed earlier by our book": 2,
    }
    assert r["duplicate_adds"] == 0
    assert (r["ends_empty"], r["resting_at_end"]) == (True, 0)
    json.dumps(r)  # JSON-ready


def event(
    flags: int, px: int, qty: int, oid: int, *, ts: int, seq: int = 0, aux: int = NO_ID
) -> np.ndarray:
    one = [np.array([v]) for v in (flags, ts, ts, px, qty, oid, seq, aux)]
    one[0] = one[0].astype(np.uint32)
    return pack_events(*one)


def test_bitstamp_replay_counts_each_problem() -> None:
    L = F_LAST
    events = np.concatenate(
        [
            event(K_L3_ADD | F_ASK | L, 100, 5, 1, ts=1),
            event(K_L3_ADD | F_ASK | L, 101, 5, 2, ts=2),
            event(K_L3_ADD | F_BID | L, 100, 5, 3, ts=3),  # crosses order 1 only
            event(K_L3_ADD | F_BID | L, 100, 5, 3, ts=4),  # duplicate
            event(K_L3_ADD | F_BID | L, 102, 5, 4, ts=5),  # aggressive: the book is crossed
            # the taker fills against order 2 at 101 while order 1 rests at 100: a phantom
            event(K_L3_FILL | F_BID | L, 101, 5, 4, ts=6, aux=77),
            event(K_L3_FILL | F_ASK | L, 101, 5, 2, ts=6, aux=77),
            event(K_TRADE | F_BID | L, 101, 5, 2, ts=7, seq=77, aux=4),  # maker already filled
            event(K_TRADE | F_BID | L, 100, 1, 9, ts=8, seq=78, aux=4),  # maker never added
            event(K_L3_CANCEL | F_ASK | L, 100, 5, 8, ts=9),  # unknown id
        ]
    )
    r = verify_bitstamp.replay(events)
    assert r["duplicate_adds"] == 1
    assert r["unknown_id_reasons"] == {"l3_cancel: id never added in the capture": 1}
    assert [p["order_id"] for p in r["phantom_orders"]] == [1]
    assert r["crossed_states"] == 8  # from order 3's add to the end, against phantom 1
    assert r["crossed_states_without_phantoms"] == 1  # only while the taker rests
    assert r["crossed_episodes"] == 1
    assert r["crossed_explained_by_aggressive_order"] == 1
    assert (r["compared"], r["matched"]) == (2, 0)
    assert r["mismatch_reasons"] == {
        "maker already filled: its fill row arrived before the trade": 1,
        "maker never added": 1,
    }
    assert r["fills_linked"]["matched"] == 1
    assert r["maker_resting_at_fill"]["matched"] == 1
    assert (r["ends_empty"], r["resting_at_end"]) == (False, 2)

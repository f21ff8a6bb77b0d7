"""Book keeper: spot and USD-M sync rules, gaps, old snapshots, duplicates, cross-checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hftlib.venues.binance import parse as p
from hftlib.venues.binance.book import BookKeeper
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.errors import BinanceMessageError

from hftlib.instrument import lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import F_LAST, F_SYNTHETIC, K_CLEAR, K_DEPTH, K_SNAPSHOT, KIND_MASK
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, BOOK_SYNCING

SPOT = lookup_instrument("binance", "BTCUSDT")
USDM = lookup_instrument("binance-futures", "BTCUSDT")
E0 = 1_723_161_255_000
T = 1_723_161_300_000_000_000

Levels = list[tuple[str, str]]


def diff(first: int, last: int, bids: Levels = (), asks: Levels = (), pu: int | None = None) -> Any:
    data: dict[str, Any] = {"e": "depthUpdate", "E": E0 + last, "s": "BTCUSDT", "U": first,
                            "u": last, "b": list(bids), "a": list(asks)}  # fmt: skip
    market = Market.SPOT
    if pu is not None:
        data.update(pu=pu, T=E0 + last)
        market = Market.USDM
    return p.decode_depth(orjson.dumps(data), market)


def snap(lid: int, bids: Levels, asks: Levels) -> Any:
    raw = orjson.dumps({"lastUpdateId": lid, "bids": bids, "asks": asks})
    return p.decode_snapshot(raw, Market.SPOT)


def kinds(rows: np.ndarray) -> list[int]:
    return (rows["flags"] & KIND_MASK).tolist()


def check_consistent(keeper: BookKeeper, emitted: list[np.ndarray]) -> None:
    """The keeper's levels equal the reference book built from every row it emitted."""
    ref = L2Book.from_events(np.concatenate(emitted)) if emitted else L2Book()
    assert dict(keeper.bids) == dict(ref.bids)
    assert dict(keeper.asks) == dict(ref.asks)


BOOK: tuple[Levels, Levels] = ([("100.00", "1"), ("99.99", "2")], [("100.01", "3")])


def test_spot_buffers_then_bridges_and_discards_older_diffs() -> None:
    k = BookKeeper(SPOT)
    out = [k.on_diff(diff(5, 8, [("99.98", "1")]), T)]
    assert k.state == BOOK_SYNCING
    assert k.needs_snapshot
    out.append(k.on_diff(diff(9, 12, asks=[("100.02", "4")]), T + 1))
    assert all(len(x) == 0 for x in out)
    rows = k.on_snapshot(snap(10, *BOOK), T + 2)
    # clear, 3 snapshot levels, then only the diff bridging 11 (the 5..8 one is older)
    assert kinds(rows) == [K_CLEAR, K_SNAPSHOT, K_SNAPSHOT, K_SNAPSHOT, K_DEPTH]
    assert set(rows["local_ts"].tolist()) == {T + 2}
    assert k.state == BOOK_LIVE
    assert k.book_id == 12
    assert k.counts["diff.discarded"] == 1
    out.append(rows)
    out.append(k.on_diff(diff(13, 13, [("100.00", "0")]), T + 3))
    assert k.best_bid() == (9999, 200_000_000)
    check_consistent(k, out)


def test_spot_gap_makes_the_book_stale_until_a_new_snapshot() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    out = [k.on_snapshot(snap(10, *BOOK), T)]
    rows = k.on_diff(diff(13, 14, [("99.00", "1")]), T + 1)  # 12 is missing
    assert rows["flags"].tolist() == [K_CLEAR | p.F_BID | p.F_ASK | F_LAST | F_SYNTHETIC]
    assert k.state == BOOK_STALE
    assert k.counts["gap"] == 1
    assert k.needs_snapshot
    out.append(rows)
    assert k.best_bid() is None
    out.append(k.on_diff(diff(15, 16, [("98.00", "1")]), T + 2))
    rows = k.on_snapshot(snap(14, *BOOK), T + 3)
    assert kinds(rows)[0] == K_CLEAR
    assert k.state == BOOK_LIVE
    assert k.counts["resync"] == 1
    out.append(rows)
    check_consistent(k, out)
    assert 9800 in k.bids
    assert 9900 not in k.bids  # that diff predates the new snapshot


def test_usdm_chains_on_pu_not_on_u_plus_one() -> None:
    k = BookKeeper(USDM)
    k.on_diff(diff(90, 100, [("99.8", "1")], pu=80), T)
    rows = k.on_snapshot(snap(95, [("100.0", "1")], [("100.1", "1")]), T)
    assert kinds(rows)[-1] == K_DEPTH  # U <= 95 <= u bridges on USD-M
    # U jumps far beyond u + 1 but pu == previous u: no gap on USD-M
    assert len(k.on_diff(diff(150, 160, [("99.9", "2")], pu=100), T + 1)) == 1
    assert k.state == BOOK_LIVE
    rows = k.on_diff(diff(161, 170, pu=159), T + 2)  # pu != 160
    assert kinds(rows) == [K_CLEAR]
    assert k.state == BOOK_STALE


def test_spot_rejects_what_usdm_accepts() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(90, 100), T)
    k.on_snapshot(snap(95, [("100.00", "1")], [("100.10", "1")]), T)
    assert kinds(k.on_diff(diff(150, 160), T + 1)) == [K_CLEAR]  # U != prev u + 1


def test_snapshot_older_than_every_buffered_diff_is_refused() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(100, 110, [("99.00", "1")]), T)
    assert len(k.on_snapshot(snap(50, *BOOK), T + 1)) == 0
    assert k.counts["snapshot.too_old"] == 1
    assert k.state == BOOK_SYNCING
    assert k.needs_snapshot  # fetch another
    assert kinds(k.on_snapshot(snap(105, *BOOK), T + 2))[-1] == K_DEPTH
    assert k.state == BOOK_LIVE


def test_snapshot_while_live_is_ignored() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    k.on_snapshot(snap(10, *BOOK), T)
    assert len(k.on_snapshot(snap(11, [], []), T + 1)) == 0
    assert k.counts["snapshot.ignored"] == 1
    assert k.best_ask() == (10001, 300_000_000)


def test_duplicates_and_late_out_of_order_diffs_never_touch_the_book() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    out = [k.on_snapshot(snap(10, *BOOK), T)]
    out.append(k.on_diff(diff(12, 13, [("99.50", "5")]), T + 1))
    before = (dict(k.bids), dict(k.asks))
    for dup in (diff(12, 13, [("99.50", "7")]), diff(10, 11, [("1.00", "1")])):
        assert len(k.on_diff(dup, T + 2)) == 0
    assert k.counts["diff.stale"] == 2
    assert (dict(k.bids), dict(k.asks)) == before
    assert k.state == BOOK_LIVE
    check_consistent(k, out)


def test_out_of_order_arrival_is_a_gap_then_resyncs_cleanly() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    out = [k.on_snapshot(snap(10, *BOOK), T)]
    out.append(k.on_diff(diff(14, 15, [("99.00", "1")]), T + 1))  # arrives before 12..13
    assert k.state == BOOK_STALE
    out.append(k.on_diff(diff(12, 13, [("98.00", "1")]), T + 2))  # late: buffered
    out.append(k.on_snapshot(snap(13, *BOOK), T + 3))
    assert k.state == BOOK_LIVE
    assert k.book_id == 15
    check_consistent(k, out)
    assert 9900 in k.bids
    assert 9800 not in k.bids


def test_malformed_diff_changes_nothing_and_the_next_diff_is_a_gap() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    k.on_snapshot(snap(10, *BOOK), T)
    bad = diff(12, 12, [("99.995", "1")])  # off grid
    with pytest.raises(BinanceMessageError):
        k.on_diff(bad, T + 1)
    assert k.book_id == 11
    assert kinds(k.on_diff(diff(13, 13), T + 2)) == [K_CLEAR]


def test_book_ticker_cross_check_now_later_and_mismatch() -> None:
    k = BookKeeper(SPOT)
    k.on_diff(diff(10, 11), T)
    k.on_snapshot(snap(11, *BOOK), T)
    good = ((10000, 100_000_000), (10001, 300_000_000))
    assert len(k.check_top(11, *good, T)) == 0  # same id: compared now
    assert k.counts["top.checked"] == 1
    assert len(k.check_top(12, (10000, 100_000_000), (10001, 1), T)) == 0  # ahead: kept
    rows = k.on_diff(diff(12, 12, [("99.00", "1")]), T + 1)  # reaches 12: mismatch
    assert kinds(rows) == [K_DEPTH, K_CLEAR]
    assert k.counts["top.mismatch"] == 1
    assert k.state == BOOK_STALE
    assert len(k.check_top(5, *good, T)) == 0  # not live: nothing to compare


def test_invalidate_on_reconnect_clears_once_and_drops_the_buffer() -> None:
    k = BookKeeper(SPOT)
    assert len(k.invalidate(T)) == 0  # nothing to clear yet
    k.on_diff(diff(10, 11), T)
    k.on_snapshot(snap(10, *BOOK), T)
    assert kinds(k.invalidate(T + 1)) == [K_CLEAR]
    assert k.state == BOOK_STALE
    assert not k.needs_snapshot  # wait for the new connection's first diff
    assert len(k.invalidate(T + 2)) == 0


def test_buffer_is_bounded() -> None:
    k = BookKeeper(SPOT, max_buffer=3)
    for i in range(10):
        k.on_diff(diff(10 + i, 10 + i, [("99.00", str(i + 1))]), T)
    assert len(k.sync.buffer) == 3
    assert k.counts["diff.evicted"] == 7
    assert len(k.on_snapshot(snap(12, *BOOK), T)) == 0  # older than what is left
    assert kinds(k.on_snapshot(snap(16, *BOOK), T))[-1] == K_DEPTH

"""Every real Binance capture through the parsers and the book keeper, checked twice.

1. The keeper's book rows equal, column for column, the converter's
   (:mod:`hftlib.convert.binance_ws`, an independent reading of the same files), and after
   every depth message the keeper's best bid/ask equal those of the reference
   :class:`hftlib.refbook.L2Book` replaying the keeper's own rows.
2. Every bookTicker whose update id is a state the book reaches agrees with the book
   (the keeper's cross-check; a mismatch would make the book stale, and none may happen).

The figures (messages parsed by kind, book states verified, bookTickers compared) are
printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hftlib.venues.binance import account as ac
from hftlib.venues.binance import parse as p
from hftlib.venues.binance.book import BookKeeper
from hftlib.venues.binance.constants import Market

from hftlib.convert.base import ConvertReport
from hftlib.convert.binance_ws import convert
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import F_LAST, K_BBO, K_CLEAR, K_DEPTH, K_SNAPSHOT, K_TRADE, KIND_MASK
from hftlib.venue.interface import BOOK_LIVE

pytestmark = pytest.mark.shared_data

_BOOK_KINDS = (K_DEPTH, K_SNAPSHOT, K_CLEAR)
_COLUMNS = ("flags", "px", "qty", "seq", "aux", "local_ts")


class Replay:
    """Parse one symbol's messages, keep its book, verify against the refbook as it goes."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.market = Market.SPOT if instrument.kind == "spot" else Market.USDM
        self.keeper = BookKeeper(instrument)
        self.ref = L2Book()
        self.rows: list[np.ndarray] = []
        self.counts: Counter[str] = Counter()

    def snapshot(self, raw: bytes, local: int) -> None:
        self.counts["snapshot"] += 1
        self._book(self.keeper.on_snapshot(p.decode_snapshot(raw, self.market), local))

    def frame(self, frame: p.Frame, local: int) -> None:
        kind = frame.kind
        market, ins = self.market, self.instrument
        self.counts[kind] += 1
        if kind == p.DEPTH:
            self._book(self.keeper.on_diff(p.decode_depth(frame.data, market), local))
        elif kind == p.TRADE:
            self.rows.append(p.trade_rows(p.decode_trade(frame.data, market), ins, local))
        elif kind == p.AGG_TRADE:
            self.rows.append(p.agg_trade_rows(p.decode_agg_trade(frame.data, market), ins, local))
        elif kind == p.BOOK_TICKER:
            msg = p.decode_book_ticker(frame.data, market)
            self.rows.append(p.book_ticker_rows(msg, ins, local, self.keeper.last_exch_ns))
            bid, ask = p.book_ticker_top(msg, ins)
            self._book(self.keeper.check_top(msg.update_id, bid, ask, local))

    def _book(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        self.rows.append(rows)
        ref = self.ref
        for flags, px, qty in zip(*(rows[c].tolist() for c in ("flags", "px", "qty")), strict=True):
            ref.apply(flags, px, qty)
        k = self.keeper
        assert (ref.best_bid(), ref.best_ask()) == (k.best_bid(), k.best_ask())
        self.counts["book states verified"] += 1

    def finish(self) -> np.ndarray:
        k = self.keeper
        assert dict(k.bids) == dict(self.ref.bids)
        assert dict(k.asks) == dict(self.ref.asks)
        assert k.state == BOOK_LIVE
        assert k.counts["gap"] == 0
        assert k.counts["top.mismatch"] == 0
        return np.concatenate(self.rows)


def _compare_with_converter(ours: np.ndarray, theirs: np.ndarray) -> int:
    for kinds in (_BOOK_KINDS, (K_TRADE,), (K_BBO,)):
        a = ours[np.isin(ours["flags"] & KIND_MASK, kinds)]
        b = theirs[np.isin(theirs["flags"] & KIND_MASK, kinds)]
        assert len(a) == len(b), kinds
        for column in _COLUMNS:
            assert np.array_equal(a[column], b[column]), (kinds, column)
    return int(np.count_nonzero(ours["flags"] & F_LAST))


HFTBACKTEST = {
    "spot-btcusdt": (
        "binance",
        "BTCUSDT",
        ["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"],
    ),
    "spot-ethusdt": (
        "binance",
        "ETHUSDT",
        ["spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"],
    ),
    "usdm-btcusdt": ("binance-futures", "BTCUSDT", ["usdm/btcusdt_20240808.gz"]),
    "usdm-ethusdt": ("binance-futures", "ETHUSDT", ["usdm/ethusdt_20240808.gz"]),
}


@pytest.mark.parametrize("name", sorted(HFTBACKTEST))
def test_hftbacktest_capture(shared_data: Path, name: str) -> None:
    venue, symbol, files = HFTBACKTEST[name]
    paths = [shared_data / "binance-l2-hftbacktest" / f for f in files]
    instrument = lookup_instrument(venue, symbol)
    replay = Replay(instrument)
    for path in paths:
        with gzip.open(path, "rb") as f:
            for line in f:
                stamp, _, raw = line.rstrip(b"\n").partition(b" ")
                if raw.startswith(b'{"lastUpdateId"'):
                    replay.snapshot(raw, int(stamp))
                else:
                    replay.frame(p.parse_frame(raw, replay.market), int(stamp))
    ours = replay.finish()
    theirs = np.concatenate(list(convert(paths, instrument, ConvertReport("binance", paths))))
    messages = _compare_with_converter(ours, theirs)
    counts = replay.counts
    k = replay.keeper.counts
    print(
        f"\n{name}: parsed {sum(counts[x] for x in (p.DEPTH, p.TRADE, p.BOOK_TICKER, 'snapshot'))} "
        f"messages ({counts[p.DEPTH]} depth, {counts[p.TRADE]} trade, "
        f"{counts[p.BOOK_TICKER]} bookTicker, {counts['snapshot']} snapshot); "
        f"{counts['book states verified']} book states verified against the refbook; "
        f"{k['top.checked']} bookTickers matched the book; {messages} messages' rows equal "
        "the converter's"
    )
    assert counts[p.DEPTH] == k["diff"]
    assert k["top.checked"] > 500


def _cryptofeed_stamp(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


@pytest.mark.parametrize("venue", ["BINANCE", "BINANCE_FUTURES"])
def test_cryptofeed_capture(shared_data: Path, venue: str, tmp_path: Path) -> None:
    folder = shared_data / "cryptofeed-captures"
    market = Market.SPOT if venue == "BINANCE" else Market.USDM
    with gzip.open(folder / f"{venue}.0.gz", "rt") as f:
        info_raw = f.readline().split(": ", 1)[1].encode()
    rules = ac.symbol_rules(ac.decode_exchange_info(info_raw, market), market)
    events: list[tuple[int, int, str, bytes]] = []  # (local ns, order, symbol, raw)
    with gzip.open(folder / f"{venue}.http.0.0.gz", "rt") as f:
        for line in f:
            if " -> " not in line:
                continue
            head, _, body = line.partition(": ")
            symbol = head.split("symbol=")[1].split("&")[0]
            events.append(
                (_cryptofeed_stamp(head.split(" -> ")[1]), 0, symbol, body.strip().encode())
            )
    with gzip.open(folder / f"{venue}.ws.1.0.gz", "rt") as f:
        for line in f:
            stamp, sep, body = line.partition(": ")
            if sep and stamp[:1].isdigit():
                events.append((_cryptofeed_stamp(stamp), 1, "", body.strip().encode()))
    events.sort(key=lambda e: (e[0], e[1]))
    replays: dict[str, Replay] = {}
    lines: dict[str, list[bytes]] = {}  # per symbol, in the converter's input format
    other = 0
    for local, _, symbol, raw in events:
        if symbol:  # a REST snapshot
            _replay(replays, rules[symbol], market).snapshot(raw, local)
        else:
            frame = p.parse_frame(raw, market)
            if frame.kind == p.OTHER_STREAM:
                other += 1
                continue
            symbol = frame.symbol
            _replay(replays, rules[symbol], market).frame(frame, local)
            if frame.kind == p.AGG_TRADE:
                continue  # not a converter input
        lines.setdefault(symbol, []).append(b"%d %s\n" % (local, raw))
    parsed = Counter[str]()
    verified = checked = 0
    for symbol, replay in sorted(replays.items()):
        parsed.update(replay.counts)
        if replay.keeper.counts["snapshot.applied"] == 0:
            continue  # a symbol whose snapshot came after its last diff: nothing to verify
        ours = replay.finish()
        path = tmp_path / f"{symbol}.txt"
        path.write_bytes(b"".join(lines[symbol]))
        theirs = np.concatenate(
            list(convert([path], replay.instrument, ConvertReport("binance", [path])))
        )
        ours = ours[(ours["flags"] & KIND_MASK) != K_TRADE]  # aggTrade: not a converter input
        theirs = theirs[(theirs["flags"] & KIND_MASK) != K_TRADE]
        _compare_with_converter(ours, theirs)
        verified += replay.counts["book states verified"]
        checked += replay.keeper.counts["top.checked"]
    total = sum(parsed[x] for x in (p.DEPTH, p.AGG_TRADE, p.BOOK_TICKER, "snapshot"))
    print(
        f"\n{venue}: parsed {total} "
        f"messages ({parsed[p.DEPTH]} depth, {parsed[p.AGG_TRADE]} aggTrade, "
        f"{parsed[p.BOOK_TICKER]} bookTicker, {parsed['snapshot']} snapshot; {other} kline "
        f"counted, not converted) for {len(replays)} symbols; {verified} book states verified "
        f"against the refbook; {checked} bookTickers matched the book"
    )
    assert verified > 0
    assert parsed[p.DEPTH] > 0


def _replay(replays: dict[str, Replay], rules: Any, market: Market) -> Replay:
    """Return the symbol's replay, made on first use.

    The instrument's tick and lot are the wire precision (1e-8), not exchangeInfo's
    ``tickSize``/``stepSize``: these books hold orders resting off the grid published at
    capture time (NKNUSDT price 0.25974 at tick 0.0001 and size 11979.3 at step 1; CTKUSDT
    0.50579 at tick 0.001: orders placed before a grid change keep their price and size), and
    off-grid values are refused, never rounded.
    """
    if rules.symbol not in replays:
        spec = ac.instrument_from_rules(rules, market)
        replays[rules.symbol] = Replay(msgspec.structs.replace(spec, tick_size=1e-8, lot_size=1e-8))
    return replays[rules.symbol]

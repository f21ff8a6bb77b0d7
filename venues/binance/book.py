"""The live local order book of one Binance symbol: sync, gap detection, events to emit.

Built on :class:`hftlib.convert.binance_sync.BookSync` (the official buffer / snapshot /
``U``-``u``-``pu`` procedure, shared with the converter), so live and converted data follow
the same rules. The keeper holds the levels in ticks/lots and returns, for every message,
the event rows the engine must apply (the converter's layout, :mod:`.parse`).

States (:mod:`hftlib.venue.interface`)
--------------------------------------
``BOOK_SYNCING``
    No book yet: diffs are buffered until a snapshot bridges them. :attr:`BookKeeper.needs_snapshot`
    tells the client to fetch one (after the first diff is buffered, as the procedure says).
``BOOK_LIVE``
    The book is valid at :attr:`BookKeeper.book_id`.
``BOOK_STALE``
    The book was valid and no longer is: a gap (spot ``U != prev u + 1``, USD-M
    ``pu != prev u``), a top-of-book mismatch with bookTicker, a reconnect or a caller's
    :meth:`BookKeeper.invalidate`. One whole-book clear row (``CLEAR_FLAGS``) is emitted, diffs
    are buffered, and the next bridging snapshot makes the book live again (clear row, then
    the snapshot's levels, then the buffered diffs that follow it).

Defined outcomes
----------------
- a snapshot older than every buffered diff it would need: rejected (``snapshot.too_old``),
  :attr:`needs_snapshot` stays true: fetch another.
- a snapshot while live: ignored (``snapshot.ignored``).
- a diff at or below the book id (duplicate, replay, late out-of-order): ignored and
  counted (``diff.stale``); it never touches the book.
- a diff older than the snapshot right after it: dropped (``diff.discarded``), as the
  procedure says.
- a malformed diff raises from the parser before the keeper sees it; the next diff then does
  not chain, which is a gap.
- more than ``max_buffer`` diffs buffered while waiting: the oldest is dropped
  (``diff.evicted``); a snapshot can then only bridge the newer ones.

Cross-check: Binance's bookTicker carries the update id of the book state it shows. When a
bookTicker's ``u`` equals the id of a state the keeper reaches, the best bid and ask (price and
size) must agree; a mismatch makes the book stale (``top.mismatch``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import numpy as np
from hftlib.venues.binance import parse
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.decoding import market_of
from hftlib.venues.binance.schemas import DepthSnapshot, DepthUpdate
from sortedcontainers import SortedDict

from hftlib.convert import binance_sync as bs
from hftlib.instrument import Instrument
from hftlib.types import EVENT_DTYPE, F_BID, K_CLEAR, KIND_MASK
from hftlib.venue.interface import BOOK_LIVE, BOOK_STALE, BOOK_SYNCING

DEFAULT_MAX_BUFFER: Final = 20_000
MAX_PENDING_TOPS: Final = 256
"""bookTickers kept while they are ahead of the book (the depth stream may lag)."""

Top = tuple[int, int] | None
_EMPTY: Final = np.empty(0, dtype=EVENT_DTYPE)


class BookKeeper:
    """Keep one symbol's Binance book in sync and say which events to emit.

    Parameters
    ----------
    instrument : Instrument
        The symbol's spec; its kind picks the spot or USD-M rules.
    max_buffer : int
        Diffs kept while waiting for a snapshot. Default :data:`DEFAULT_MAX_BUFFER`.
    """

    def __init__(self, instrument: Instrument, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.instrument = instrument
        self.market: Market = market_of(instrument)
        self.max_buffer = max_buffer
        self.sync = bs.BookSync(futures=self.market == Market.USDM)
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.counts: Counter[str] = Counter()
        self.last_exch_ns = 0
        """The latest diff's exchange time (the time given to untimed spot messages)."""
        self._had_book = False
        self._pending_tops: dict[int, tuple[Top, Top]] = {}

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> int:
        """Return ``BOOK_SYNCING``, ``BOOK_LIVE`` or ``BOOK_STALE``."""
        if self.sync.state != bs.WAITING:
            return BOOK_LIVE
        return BOOK_STALE if self._had_book else BOOK_SYNCING

    @property
    def needs_snapshot(self) -> bool:
        """True when a REST snapshot should be fetched (no book and diffs are buffered)."""
        return self.sync.state == bs.WAITING and bool(self.sync.buffer)

    @property
    def book_id(self) -> int:
        """Return the update id the book is valid at (-1 before the first snapshot)."""
        return self.sync.book_id

    def best_bid(self) -> Top:
        """Return ``(ticks, lots)`` of the best bid, None when the side is empty."""
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask(self) -> Top:
        """Return ``(ticks, lots)`` of the best ask, None when the side is empty."""
        return self.asks.peekitem(0) if self.asks else None

    # --- messages ---------------------------------------------------------------------------

    def on_diff(self, msg: DepthUpdate, local_ts: int) -> np.ndarray:
        """Take one decoded diff; return the rows to emit (possibly none)."""
        rows = parse.depth_rows(msg, self.instrument, local_ts)  # raises before any change
        self.counts["diff"] += 1
        if msg.transact_time is None:
            self.last_exch_ns = max(self.last_exch_ns, msg.event_time * 1_000_000)
        return self._diff(msg, rows, local_ts)

    def _diff(self, msg: DepthUpdate, rows: np.ndarray, local_ts: int) -> np.ndarray:
        sync = self.sync
        book_id = sync.book_id
        verdict = sync.diff(msg.first_id, msg.last_id, parse.depth_chain(msg), (msg, rows))
        if verdict == bs.APPLY:
            self.counts["diff.applied"] += 1
            self._apply(rows)
            clear = self._check_pending(rows, local_ts)
            return np.concatenate((rows, clear)) if len(clear) else rows
        if verdict == bs.BUFFER:
            self.counts["diff.buffered"] += 1
            if len(sync.buffer) > self.max_buffer:
                sync.evict_oldest()
                self.counts["diff.evicted"] += 1
            return _EMPTY
        if verdict == bs.DISCARD:
            self.counts["diff.discarded"] += 1
            return _EMPTY
        if verdict == bs.STALE:
            self.counts["diff.stale"] += 1
            return _EMPTY
        self.counts["gap"] += 1  # GAP: the sync buffered this diff for the next snapshot
        return self._drop_book(parse.depth_exch_ns(msg), local_ts, max(book_id, 0))

    def on_snapshot(self, snap: DepthSnapshot, local_ts: int) -> np.ndarray:
        """Take a decoded REST snapshot; return the rows to emit (none if not used)."""
        rows = parse.snapshot_rows(snap, self.instrument, local_ts, self.last_exch_ns)
        self.counts["snapshot"] += 1
        verdict, release, old = self.sync.snapshot(snap.last_update_id)
        if verdict == bs.IGNORED:
            self.counts["snapshot.ignored"] += 1
            return _EMPTY
        if verdict == bs.TOO_OLD:
            self.counts["snapshot.too_old"] += 1
            return _EMPTY
        self.counts["snapshot.applied"] += 1
        if self._had_book:
            self.counts["resync"] += 1
        self.counts["diff.discarded"] += len(old)
        self._had_book = True
        self.bids.clear()
        self.asks.clear()
        self._apply(rows)
        out = [rows, self._check_pending(rows, local_ts)]
        for msg, diff_rows in release:
            diff_rows["local_ts"] = local_ts  # applied now, when a live client could
            out.append(self._diff(msg, diff_rows, local_ts))
        return np.concatenate(out)

    def check_top(self, update_id: int, bid: Top, ask: Top, local_ts: int) -> np.ndarray:
        """Compare a bookTicker's top of book with the book's; return rows to emit.

        ``bid``/``ask`` are ``(ticks, lots)`` (None or zero size: empty side). The check
        runs when the book reaches ``update_id`` (now, or when that diff arrives); a
        mismatch makes the book stale and returns its clear row.
        """
        if self.sync.state == bs.WAITING:
            return _EMPTY
        top = (_side(bid), _side(ask))
        if update_id == self.sync.book_id:
            return self._compare(update_id, top, local_ts)
        if update_id < self.sync.book_id:
            self.counts["top.behind"] += 1
            return _EMPTY
        if len(self._pending_tops) >= MAX_PENDING_TOPS:
            self._pending_tops.pop(next(iter(self._pending_tops)))
        self._pending_tops[update_id] = top
        return _EMPTY

    def invalidate(self, local_ts: int, exch_ts: int = 0) -> np.ndarray:
        """Drop the book (reconnect, lost message); return the clear row if it was live.

        Everything buffered is dropped too: after a reconnect the old stream's diffs can
        never chain onto the new one's.
        """
        self.counts["invalidated"] += 1
        was_live = self.state == BOOK_LIVE
        self.sync = bs.BookSync(futures=self.market == Market.USDM)
        return self._drop_book(exch_ts or local_ts, local_ts, 0) if was_live else _EMPTY

    # --- internals ---------------------------------------------------------------------------

    def _drop_book(self, exch_ts: int, local_ts: int, seq: int) -> np.ndarray:
        self.bids.clear()
        self.asks.clear()
        self._pending_tops.clear()
        return parse.clear_row(exch_ts, local_ts, seq)

    def _apply(self, rows: np.ndarray) -> None:
        bids, asks = self.bids, self.asks
        for flags, px, qty in zip(
            rows["flags"].tolist(), rows["px"].tolist(), rows["qty"].tolist(), strict=True
        ):
            if flags & KIND_MASK == K_CLEAR:
                bids.clear()
                asks.clear()
                continue
            side = bids if flags & F_BID else asks
            if qty:
                side[px] = qty
            else:
                side.pop(px, None)

    def _check_pending(self, rows: np.ndarray, local_ts: int) -> np.ndarray:
        pending = self._pending_tops
        if not pending or not len(rows):
            return _EMPTY
        book_id = self.sync.book_id
        top = pending.pop(book_id, None)
        for uid in [u for u in pending if u < book_id]:
            del pending[uid]
            self.counts["top.unmatched"] += 1
        return _EMPTY if top is None else self._compare(book_id, top, local_ts)

    def _compare(self, update_id: int, top: tuple[Top, Top], local_ts: int) -> np.ndarray:
        self.counts["top.checked"] += 1
        if top == (self.best_bid(), self.best_ask()):
            return _EMPTY
        self.counts["top.mismatch"] += 1
        self.sync = bs.BookSync(futures=self.market == Market.USDM)
        return self._drop_book(local_ts, local_ts, update_id)


def _side(level: Any) -> Top:
    if level is None or level[1] == 0:
        return None
    return (int(level[0]), int(level[1]))

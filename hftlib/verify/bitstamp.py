"""Replay our Bitstamp conversion through the reference L3 book and check it hangs together.

The converted events (not the CSV files) are applied in stream order to
:class:`hftlib.refbook.L3Book`. Checked:

* **trades**: at each ``K_TRADE`` row, is its maker order (``order_id``) resting in the book?
  (``compared``/``matched``). A trade that finds its maker gone is explained from the
  events: Bitstamp's trades channel and orders channel have different latencies, so the
  maker's fill row (``K_L3_FILL`` with ``aux`` = the trade id) can arrive first and remove
  a fully filled maker before the trade row is seen.
* **makers at their fill**: when the maker's ``K_L3_FILL`` is applied, the maker must be
  resting with at least the filled size (``maker_resting_at_fill``).
* **fill links**: every trade has exactly one maker and one taker fill carrying its id,
  with the trade's size (``fills_linked``).
* **phantom orders**: orders our book holds that the venue's book cannot have held: when a
  maker fill executes at price P, any same-side order resting at a better price than P
  would have had priority, so it was not really there (its delete was missed, e.g. in the
  gap between the REST snapshot and the first live row). Found in a first replay.
* **crossed states**: after every message (row with ``F_LAST``), is best bid >= best ask?
  Counted as is, and again on a book without the phantom orders, where each crossed state
  is *explained* when an order that crossed that book when it was added (an aggressive
  order, which Bitstamp publishes as ``created`` before the fills or the cancel that
  remove it) sits at the best bid or best ask. Episodes of consecutive crossed states are
  measured in messages and exchange time.
* **unknown ids**: L3 rows whose id is not in the book, split into ids never added and ids
  our book had already removed; duplicate adds.
* **end state**: the book must end empty (the capture ends with synthetic deletes).

``ok`` is true when every maker rests at its fill, every trade links to its two fills,
every trade-row mismatch is explained by feed timing or a missing venue row (never by the
conversion), and the book ends empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hftlib.convert import bitstamp
from hftlib.convert.base import ConvertReport
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.refbook import L3Book
from hftlib.types import (
    EVENT_DTYPE,
    F_BID,
    F_LAST,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_TRADE,
    KIND_MASK,
    KIND_NAMES,
)

VERIFY_HELP = """\
Bitstamp: convert orders + trades, replay the events through the reference L3 book and
check that each trade's maker is resting, fills link to trades, the book ends empty; count
crossed states and events for unknown order ids. Takes [orders_file, trades_file]."""

MAX_DETAILED = 200
"""Mismatches and unknown-id examples kept with full detail; the rest are only counted."""

_MS = 1_000_000


@dataclass
class _Trade:
    maker: int
    taker: int
    qty: int
    px: int
    local_ts: int
    fills: list[tuple[int, int, int]] = field(default_factory=list)  # (order id, qty, ts)


def verify(
    paths: Sequence[str | Path],
    instrument: Instrument | None = None,
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Convert ``[orders_file, trades_file]`` and replay the events through an L3 book.

    Parameters
    ----------
    paths : sequence of path
        The Bitstamp orders file and trades file.
    instrument : Instrument or None
        Tick and lot size; None reads the pair from ``meta.json`` (built-in spec).
    strict : bool
        Raise :class:`hftlib.errors.DataError` on the first bad input line. Default False.
    progress : callable or None
        Receives input bytes consumed. Default None.

    Returns
    -------
    dict
        JSON-ready results (see the module docstring for each check).
    """
    orders_path, trades_path = bitstamp.split_paths(paths)
    if instrument is None:
        detected = bitstamp.detect_instrument([orders_path])
        if detected is None:
            raise ValueError("no pair in meta.json beside the orders file; pass an instrument")
        instrument = lookup_instrument(*detected)
    report = ConvertReport(
        "bitstamp", [str(orders_path), str(trades_path)], strict=strict, progress=progress
    )
    chunks = list(bitstamp.convert([orders_path, trades_path], instrument, report))
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    result = replay(events)
    result.update(
        verifier="bitstamp",
        instrument=instrument.key,
        paths=[str(orders_path), str(trades_path)],
        convert=report.to_dict(),
    )
    return result


_COLUMNS = ("flags", "exch_ts", "local_ts", "px", "qty", "order_id", "seq", "aux")


def replay(events: np.ndarray) -> dict[str, Any]:
    """Replay converted Bitstamp events through :class:`L3Book` and return the checks."""
    trades = _index_trades(events)
    cols = [events[name].tolist() for name in _COLUMNS]
    phantoms = find_phantoms(cols, trades)
    state = _Replay(trades, phantoms, _first_adds(events))
    for flags, exch_ts, local_ts, px, qty, oid, seq, aux in zip(*cols, strict=True):
        state.apply(flags, local_ts, px, qty, oid, seq, aux)
        if flags & F_LAST:
            state.boundary(exch_ts)
    return state.result(len(events))


def _index_trades(events: np.ndarray) -> dict[int, _Trade]:
    rows = events[(events["flags"] & KIND_MASK) == K_TRADE]
    return {
        int(r["seq"]): _Trade(
            int(r["order_id"]), int(r["aux"]), int(r["qty"]), int(r["px"]), int(r["local_ts"])
        )
        for r in rows
    }


def _first_adds(events: np.ndarray) -> dict[int, int]:
    """Return ``order id -> local_ts`` of its first ``K_L3_ADD``."""
    adds = events[(events["flags"] & KIND_MASK) == K_L3_ADD]
    ids, first = np.unique(adds["order_id"], return_index=True)
    return dict(zip(ids.tolist(), adds["local_ts"][first].tolist(), strict=True))


def _apply_l3(book: L3Book, flags: int, px: int, qty: int, oid: int) -> bool:
    """Apply one L3 or clear row to ``book``; return False for an unknown id or a duplicate."""
    kind = flags & KIND_MASK
    if kind == K_L3_ADD:
        if oid in book.orders:
            return False
    elif kind in (K_L3_CANCEL, K_L3_FILL, K_L3_MODIFY):
        if oid not in book.orders:
            return False
    elif kind != K_CLEAR:
        return True
    book.apply(flags, oid, px, qty)
    return True


def find_phantoms(cols: Sequence[list[int]], trades: dict[int, _Trade]) -> dict[int, int]:
    """Return ``order id -> line`` of orders that a maker fill proves were not in the venue's book.

    When a maker fill executes at P, a same-side order resting at a better price (an ask
    below P, a bid above P) would have had price priority, so the venue did not hold it.
    """
    book = L3Book()
    phantoms: dict[int, int] = {}
    for flags, _exch, _local, px, qty, oid, seq, aux in zip(*cols, strict=True):
        if flags & KIND_MASK == K_L3_FILL:
            trade = trades.get(aux)
            order = book.orders.get(oid)
            if trade is not None and trade.maker == oid and order is not None:
                for other in _better_than(book, order.is_bid, px):
                    phantoms.setdefault(other, seq)
        _apply_l3(book, flags, px, qty, oid)
    return phantoms


def _better_than(book: L3Book, is_bid: bool, px: int) -> list[int]:
    """Return the ids resting on one side at a strictly better price than ``px``."""
    levels = (
        book.levels.bids.irange(minimum=px + 1)
        if is_bid
        else book.levels.asks.irange(maximum=px - 1)
    )
    prices = set(levels)
    if not prices:
        return []
    return [oid for oid, o in book.orders.items() if o.is_bid == is_bid and o.px in prices]


class _Replay:
    """The books and every tally of one replay."""

    def __init__(
        self, trades: dict[int, _Trade], phantoms: dict[int, int], first_add: dict[int, int]
    ) -> None:
        self.book = L3Book()
        self.clean = L3Book()  # the same book without the phantom orders
        self.trades = trades
        self.phantoms = phantoms
        self.first_add = first_add
        self.ever_added: set[int] = set()
        self.aggressive: set[int] = set()
        self.aggressive_at: Counter[tuple[bool, int]] = Counter()  # in the clean book
        self.compared = self.matched = 0
        self.mismatch_reasons: Counter[str] = Counter()
        self.mismatches: list[dict[str, Any]] = []
        self.at_fill = Counter[str]()
        self.unknown: Counter[str] = Counter()
        self.unknown_examples: list[dict[str, Any]] = []
        self.duplicates = 0
        self.boundaries = 0
        self.crossed = self.crossed_clean = self.crossed_explained = 0
        self.episodes: list[tuple[int, int]] = []  # (messages, exchange ns) per clean episode
        self.episode: list[int] | None = None  # [first exch_ts, last exch_ts, messages]
        self.arrival = Counter[str]()

    # -- events --------------------------------------------------------------------------------

    def apply(
        self, flags: int, local_ts: int, px: int, qty: int, oid: int, seq: int, aux: int
    ) -> None:
        kind = flags & KIND_MASK
        if kind == K_TRADE:
            self._trade(seq, oid, local_ts)
            return
        if kind == K_L3_FILL:
            self._fill(oid, qty, local_ts, aux)
        if kind == K_L3_ADD:
            self._mark_aggressive(oid, bool(flags & F_BID), px)
        if not _apply_l3(self.book, flags, px, qty, oid):
            if kind == K_L3_ADD:
                self.duplicates += 1
            else:
                self._unknown(kind, oid, seq)
            return
        if kind == K_L3_ADD:
            self.ever_added.add(oid)
        if oid not in self.phantoms:
            self._apply_clean(flags, px, qty, oid)

    def _apply_clean(self, flags: int, px: int, qty: int, oid: int) -> None:
        """Apply a row to the clean book, keeping the aggressive-order count per level."""
        if flags & KIND_MASK == K_CLEAR:
            self.aggressive.clear()
            self.aggressive_at.clear()
        tracked = oid in self.aggressive
        before = self.clean.orders.get(oid) if tracked else None
        if before is not None:
            self._count_aggressive(before.is_bid, before.px, -1)
        _apply_l3(self.clean, flags, px, qty, oid)
        after = self.clean.orders.get(oid) if tracked else None
        if after is not None:
            self._count_aggressive(after.is_bid, after.px, 1)

    def _count_aggressive(self, is_bid: bool, px: int, delta: int) -> None:
        key = (is_bid, px)
        self.aggressive_at[key] += delta
        if self.aggressive_at[key] <= 0:
            del self.aggressive_at[key]

    def _mark_aggressive(self, oid: int, is_bid: bool, px: int) -> None:
        levels = self.clean.levels
        opposite = levels.best_ask() if is_bid else levels.best_bid()
        if opposite is not None and (px >= opposite[0] if is_bid else px <= opposite[0]):
            self.aggressive.add(oid)

    def _trade(self, tid: int, maker: int, local_ts: int) -> None:
        self.compared += 1
        if maker in self.book.orders:
            self.matched += 1
            return
        trade = self.trades[tid]
        fill = next((f for f in trade.fills if f[0] == maker), None)
        added = self.first_add.get(maker)
        if fill is not None:
            reason = "maker already filled: its fill row arrived before the trade"
            why = (
                f"the orders channel delivered the maker's fill {(local_ts - fill[2]) / _MS:g}"
                " ms before the trades channel delivered the trade; the fill emptied it"
            )
        elif maker not in self.ever_added and added is not None and added > local_ts:
            reason = "maker not yet added: its created row arrived after the trade"
            why = (
                f"the maker's created row arrived on the orders channel "
                f"{(added - local_ts) / _MS:g} ms after the trade on the trades channel"
            )
        elif maker not in self.ever_added:
            reason = "maker never added"
            why = "the maker's created row is not in the capture"
        else:
            reason = "maker removed before its fill (unexplained)"
            why = "the maker left the book without a fill carrying this trade id"
        self.mismatch_reasons[reason] += 1
        if len(self.mismatches) < MAX_DETAILED:
            self.mismatches.append(
                {
                    "trade_id": tid,
                    "maker": maker,
                    "local_ts": local_ts,
                    "reason": reason,
                    "explanation": why,
                }
            )

    def _fill(self, oid: int, qty: int, local_ts: int, tid: int) -> None:
        trade = self.trades.get(tid)
        if trade is None:
            self.at_fill["fill without a trade row"] += 1
            return
        trade.fills.append((oid, qty, local_ts))
        if oid != trade.maker:
            return
        self.at_fill["compared"] += 1
        order = self.book.orders.get(oid)
        if order is not None and order.qty >= qty:
            self.at_fill["matched"] += 1
        gap = trade.local_ts - local_ts
        self.arrival[
            "trade before maker fill"
            if gap < 0
            else "trade in the same ms"
            if gap < _MS
            else "trade after maker fill"
        ] += 1

    def _unknown(self, kind: int, oid: int, seq: int) -> None:
        why = (
            "id removed earlier by our book"
            if oid in self.ever_added
            else "id never added in the capture"
        )
        self.unknown[f"{KIND_NAMES[kind]}: {why}"] += 1
        if len(self.unknown_examples) < MAX_DETAILED:
            self.unknown_examples.append(
                {"order_id": oid, "line": seq, "kind": KIND_NAMES[kind], "reason": why}
            )

    # -- message boundaries --------------------------------------------------------------------

    def boundary(self, exch_ts: int) -> None:
        self.boundaries += 1
        if self.book.levels.crossed():
            self.crossed += 1
        if not self.clean.levels.crossed():
            if self.episode is not None:
                first, last, messages = self.episode
                self.episodes.append((messages, last - first))
                self.episode = None
            return
        self.crossed_clean += 1
        if self._touch_is_aggressive():
            self.crossed_explained += 1
        if self.episode is None:
            self.episode = [exch_ts, exch_ts, 0]
        self.episode[1] = exch_ts
        self.episode[2] += 1

    def _touch_is_aggressive(self) -> bool:
        bid, ask = self.clean.levels.best_bid(), self.clean.levels.best_ask()
        if bid is None or ask is None:
            return False
        return (True, bid[0]) in self.aggressive_at or (False, ask[0]) in self.aggressive_at

    # -- summary -------------------------------------------------------------------------------

    def result(self, n_events: int) -> dict[str, Any]:
        if self.episode is not None:
            first, last, messages = self.episode
            self.episodes.append((messages, last - first))
            self.episode = None
        linked = 0
        problems: list[dict[str, Any]] = []
        for tid, trade in self.trades.items():
            maker = [f for f in trade.fills if f[0] == trade.maker]
            taker = [f for f in trade.fills if f[0] == trade.taker]
            if len(maker) == 1 and len(taker) == 1 and maker[0][1] == taker[0][1] == trade.qty:
                linked += 1
            elif len(problems) < MAX_DETAILED:
                problems.append(
                    {
                        "trade_id": tid,
                        "maker_fills": len(maker),
                        "taker_fills": len(taker),
                        "fills": trade.fills,
                    }
                )
        at_fill_ok = self.at_fill["compared"] == self.at_fill["matched"] == len(self.trades)
        explained = all("unexplained" not in reason for reason in self.mismatch_reasons)
        return {
            "ok": at_fill_ok and linked == len(self.trades) and explained and not self.book.orders,
            "events": n_events,
            "compared": self.compared,
            "matched": self.matched,
            "mismatch_count": self.compared - self.matched,
            "mismatch_reasons": dict(self.mismatch_reasons),
            "mismatches": self.mismatches,
            "maker_resting_at_fill": {
                "compared": self.at_fill["compared"],
                "matched": self.at_fill["matched"],
                "fill without a trade row": self.at_fill["fill without a trade row"],
            },
            "trade_arrival_vs_maker_fill": dict(self.arrival),
            "fills_linked": {"compared": len(self.trades), "matched": linked, "problems": problems},
            "message_boundaries": self.boundaries,
            "crossed_states": self.crossed,
            "phantom_orders": [
                {"order_id": k, "found_at_line": v} for k, v in self.phantoms.items()
            ],
            "crossed_states_without_phantoms": self.crossed_clean,
            "crossed_explained_by_aggressive_order": self.crossed_explained,
            "crossed_episodes": len(self.episodes),
            "longest_crossed_episode_messages": max((e[0] for e in self.episodes), default=0),
            "longest_crossed_episode_exchange_ms": max((e[1] for e in self.episodes), default=0)
            / _MS,
            "unknown_id_events": sum(self.unknown.values()),
            "unknown_id_reasons": dict(self.unknown),
            "unknown_id_examples": self.unknown_examples,
            "duplicate_adds": self.duplicates,
            "resting_at_end": len(self.book.orders),
            "ends_empty": not self.book.orders
            and not self.book.levels.bids
            and not self.book.levels.asks,
        }

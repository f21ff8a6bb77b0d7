"""Verify Binance conversions: rebuild the book from our events, check it against bookTicker.

The converter (:mod:`hftlib.convert.binance_ws`) turns a capture into events; this module
replays them into the reference :class:`hftlib.refbook.L2Book` and records the best bid and
ask (price *and* size) after each depth message (at its ``F_LAST`` row, keyed by the message's
final update id ``u``) and after each snapshot (keyed by ``lastUpdateId``). Binance's
bookTicker carries the update id of the book state it shows, so every bookTicker whose ``u``
equals one of those ids is an independent check of our book at that exact state. The
bookTicker for a given ``u`` may arrive before or after the depth message with that ``u``
(they are separate streams), so both sides are collected first and joined at the end.

Spot ``depth@100ms`` diffs batch many updates, so only the bookTickers that land on a batch's
final id can be compared; USD-M ``depth@0ms`` diffs are finer and more of them match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from hftlib.convert.base import ConvertReport
from hftlib.convert.binance_ws import convert, detect_instrument
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.refbook import L2Book
from hftlib.types import F_BID, F_LAST, K_BBO, K_CLEAR, K_DEPTH, K_SNAPSHOT, KIND_MASK

VERIFY_HELP = """\
Binance spot / USD-M captures (the `binance` converter's input): rebuild the L2 book from the
converted events and compare best bid/ask price and size with every bookTicker whose update
id equals the final update id of an applied depth message (or of the snapshot). Give the same
files, in the same order, as to the converter; a file without a snapshot compares nothing
unless the file holding the snapshot comes first.
"""

_BOOK_KINDS: Final = (K_DEPTH, K_SNAPSHOT)

MAX_MISMATCHES: Final = 100
"""Mismatches listed in full; the rest are only counted."""

Top = tuple[tuple[int, int] | None, tuple[int, int] | None]
"""Best bid and best ask as ``(ticks, lots)``, None for an empty side."""


def verify(
    paths: Sequence[str | Path],
    instrument: Instrument | None = None,
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Convert ``paths``, rebuild the book and compare it with the venue's bookTicker.

    Parameters
    ----------
    paths : sequence of path
        Consecutive capture files of one symbol, in time order.
    instrument : Instrument or None
        Spec to convert with; None reads venue and symbol off the input and uses the
        built-in spec.
    strict : bool
        Raise :class:`hftlib.errors.DataError` on the first bad input. Default False.
    progress : callable or None
        Receives input bytes consumed. Default None.

    Returns
    -------
    dict
        ``compared``, ``matched``, ``match_rate``, ``mismatches`` (the first
        :data:`MAX_MISMATCHES`, each with ``seq``, ``ours``, ``venue``, ``local_ts``),
        ``mismatches_total``, ``compared_by_source``, ``reason`` when nothing could be
        compared, and the conversion ``report``.
    """
    if instrument is None:
        detected = detect_instrument(paths)
        if detected is None:
            raise ValueError(f"cannot tell the instrument from {paths[0] if paths else paths}")
        instrument = lookup_instrument(*detected)
    report = ConvertReport("binance", [str(p) for p in paths], strict=strict, progress=progress)
    replay = _Replay()
    for chunk in convert(paths, instrument, report):
        replay.feed(chunk)
    return _result(replay, instrument, report)


class _Replay:
    """Replays event chunks into an :class:`L2Book`, keeping the tops to compare."""

    __slots__ = ("book", "ours", "pending_bid", "venue")

    def __init__(self) -> None:
        self.book = L2Book()
        # update id -> (our top, local_ts, source) and (venue top, local_ts)
        self.ours: dict[int, tuple[Top, int, str]] = {}
        self.venue: dict[int, tuple[Top, int]] = {}
        self.pending_bid: tuple[int, int, int] | None = None

    def feed(self, chunk: np.ndarray) -> None:
        """Apply one chunk of events in order."""
        book = self.book
        set_level = book.set_level
        ours = self.ours
        columns = (chunk[name].tolist() for name in ("flags", "px", "qty", "seq", "local_ts"))
        for flags, px, qty, seq, local in zip(*columns, strict=True):
            kind = flags & KIND_MASK
            if kind in _BOOK_KINDS:
                set_level(flags & F_BID != 0, px, qty)
                if flags & F_LAST:
                    source = "depth" if kind == K_DEPTH else "snapshot"
                    ours[seq] = ((book.best_bid(), book.best_ask()), local, source)
            elif kind == K_CLEAR:
                book.apply(flags, px, qty)
            elif kind == K_BBO:
                self._bbo(flags, px, qty, seq, local)

    def _bbo(self, flags: int, px: int, qty: int, seq: int, local: int) -> None:
        # A bookTicker is a bid row then an ask row with the same seq; a row the converter
        # dropped (off-grid) leaves an unpaired half, which is not compared.
        if flags & F_BID:
            self.pending_bid = (seq, px, qty)
            return
        bid = self.pending_bid
        self.pending_bid = None
        if bid is not None and bid[0] == seq:
            self.venue[seq] = (((bid[1], bid[2]), (px, qty)), local)


def _result(replay: _Replay, instrument: Instrument, report: ConvertReport) -> dict[str, Any]:
    ours, venue = replay.ours, replay.venue
    common = sorted(ours.keys() & venue.keys())
    mismatches: list[dict[str, Any]] = []
    by_source = {"depth": 0, "snapshot": 0}
    matched = 0
    for seq in common:
        our_top, our_local, source = ours[seq]
        venue_top, venue_local = venue[seq]
        by_source[source] += 1
        if our_top == venue_top:
            matched += 1
        else:
            mismatches.append(
                {
                    "seq": seq,
                    "source": source,
                    "ours": _readable(our_top, instrument),
                    "venue": _readable(venue_top, instrument),
                    "local_ts": venue_local,
                    "book_local_ts": our_local,
                }
            )
    out: dict[str, Any] = {
        "instrument": instrument.key,
        "paths": list(report.paths),
        "compared": len(common),
        "matched": matched,
        "match_rate": matched / len(common) if common else None,
        "mismatches": mismatches[:MAX_MISMATCHES],
        "mismatches_total": len(mismatches),
        "compared_by_source": by_source,
        "book_states": len(ours),
        "bbo_messages": len(venue),
        "report": report.to_dict(),
    }
    if not common:
        out["reason"] = _why_nothing(report, ours, venue)
    return out


def _why_nothing(report: ConvertReport, ours: dict[int, Any], venue: dict[int, Any]) -> str:
    if not report.counts.get("snapshot.applied"):
        unapplied = report.skipped.get("depth without book", 0)
        return (
            f"no snapshot bridged the depth diffs, so no book was built ({unapplied} diffs "
            "never applied); give the file that holds the snapshot first"
        )
    if not venue:
        return "the input has no bookTicker messages to compare with"
    return (
        f"none of the {len(venue)} bookTicker update ids equals the final update id of one "
        f"of the {len(ours)} book states"
    )


def _readable(top: Top, instrument: Instrument) -> dict[str, list[float] | None]:
    def side(level: tuple[int, int] | None) -> list[float] | None:
        if level is None:
            return None
        return [
            float(instrument.ticks_to_price(level[0])),
            float(instrument.lots_to_size(level[1])),
        ]

    return {"bid": side(top[0]), "ask": side(top[1])}

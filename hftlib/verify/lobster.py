"""Check our LOBSTER conversion against LOBSTER's own orderbook file, message by message.

Row *k* of a LOBSTER orderbook file is the visible book after message *k*. For every message
we take the size change it makes at its price from *our converted events* (``K_L3_ADD``
adds its qty, ``K_L3_CANCEL``/``K_L3_FILL`` remove theirs; a message that only produced a
``K_TRADE``, a hidden execution, changes nothing) and compare it with the change between
orderbook rows *k-1* and *k* at that price, on the resting side. Going through the
converter's output rather than the raw message file means the check covers the converter.

A message is *comparable* when both rows show the size at its price: the price is at or
better than the deepest level a row lists (a side listing fewer levels than the file's depth
is complete). A price inside the spread is known to hold 0. A price beyond the deepest
listed level in either row is *not comparable*, like the first message (it defines the
initial book) and messages whose orderbook row or predecessor row is missing or rejected.

Beyond the message's own price, every other price that both rows show must be unchanged;
rows where that fails are counted as ``other_level_changes`` (with examples).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hftlib.convert import lobster
from hftlib.convert.base import ConvertReport, iter_lines
from hftlib.convert.lobster_book import BookRow, Grid, iter_orderbook
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_BID,
    F_SYNTHETIC,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_TRADE,
    KIND_MASK,
)

VERIFY_HELP = """\
LOBSTER: convert the message file, then check every message's size change at its price
(from the converted events) against the change between consecutive rows of the orderbook
file, where both rows show that price. Takes [message_file, orderbook_file]."""

MAX_DETAILED = 200
"""Mismatches (and other-level changes) kept with full detail; the rest are only counted."""

_LABEL = {K_L3_ADD: "add", K_L3_CANCEL: "cancel", K_L3_FILL: "fill", K_TRADE: "hidden trade"}


@dataclass(frozen=True)
class Effect:
    """The visible change one converted message makes: ``delta`` lots at ``px``."""

    is_bid: bool
    px: int
    delta: int
    label: str


def message_effects(events: np.ndarray) -> dict[int, Effect]:
    """Return ``seq -> Effect`` for every message in ``events`` (synthetic rows skipped).

    An L3 row gives the effect; a message with only a ``K_TRADE`` (a hidden execution) has
    effect 0 on the resting side, the side opposite the trade's aggressor flag.
    """
    live = events[(events["flags"] & F_SYNTHETIC) == 0]
    kinds = live["flags"] & KIND_MASK
    effects: dict[int, Effect] = {}
    for row, kind in zip(live, kinds, strict=True):
        seq = int(row["seq"])
        bid = bool(row["flags"] & F_BID)
        if kind == K_TRADE:
            effects.setdefault(seq, Effect(not bid, int(row["px"]), 0, _LABEL[K_TRADE]))
        elif kind in (K_L3_ADD, K_L3_CANCEL, K_L3_FILL):
            sign = 1 if kind == K_L3_ADD else -1
            effects[seq] = Effect(bid, int(row["px"]), sign * int(row["qty"]), _LABEL[int(kind)])
    return effects


def verify(
    paths: Sequence[str | Path],
    instrument: Instrument | None = None,
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Convert ``[message_file, orderbook_file]`` and check it against the orderbook file.

    Parameters
    ----------
    paths : sequence of path
        The LOBSTER message file and its orderbook file.
    instrument : Instrument or None
        Tick and lot size; None looks up the built-in spec for the ticker in the file name.
    strict : bool
        Raise :class:`hftlib.errors.DataError` on the first bad input line. Default False.
    progress : callable or None
        Receives input bytes consumed. Default None.

    Returns
    -------
    dict
        JSON-ready: ``compared``, ``matched``, ``mismatches`` (each explained),
        ``mismatch_count``, ``not_comparable`` and its ``not_comparable_reasons``,
        ``by_kind``, ``other_level_changes``, and the conversion report.
    """
    msg_path, book_path = lobster.split_paths(paths)
    if book_path is None:
        raise ValueError("lobster verify needs [message_file, orderbook_file]")
    if instrument is None:
        detected = lobster.detect_instrument([msg_path])
        if detected is None:
            raise ValueError(f"cannot tell the ticker from {msg_path.name}; pass an instrument")
        instrument = lookup_instrument(*detected)
    report = ConvertReport(
        "lobster", [str(msg_path), str(book_path)], strict=strict, progress=progress
    )
    chunks = list(lobster.convert([msg_path, book_path], instrument, report))
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    effects = message_effects(events)
    book_report = ConvertReport("lobster-orderbook", [str(book_path)], strict=strict)
    checker = _Checker(effects, instrument)
    first_seq = min(effects) if effects else 0
    prev: BookRow | None = None
    for row in iter_orderbook(book_path, Grid(instrument), book_report):
        checker.check(row, prev, first_seq)
        prev = row
    result = checker.result()
    _quote_lines(msg_path, result["mismatches"] + result["other_level_examples"])
    result.update(
        verifier="lobster",
        instrument=instrument.key,
        paths=[str(msg_path), str(book_path)],
        messages=len(effects),
        orderbook_rows_rejected=book_report.skipped_total,
        convert=report.to_dict(),
    )
    return result


def _quote_lines(path: Path, details: list[dict[str, Any]]) -> None:
    """Fill each detail's ``message`` with the raw message line it refers to."""
    wanted = {d["line"] for d in details}
    if not wanted:
        return
    quiet = ConvertReport("lobster", [str(path)])
    raw = {n: line.decode("ascii", "replace") for n, line in iter_lines(path, quiet) if n in wanted}
    for d in details:
        d["message"] = raw.get(d["line"])


class _Checker:
    """Accumulates the comparison of each message with its orderbook rows."""

    def __init__(self, effects: dict[int, Effect], instrument: Instrument) -> None:
        self.effects = effects
        self.tick = instrument.tick_size
        self.compared = 0
        self.matched = 0
        self.mismatch_count = 0
        self.mismatches: list[dict[str, Any]] = []
        self.not_comparable: Counter[str] = Counter()
        self.by_kind: dict[str, Counter[str]] = {}
        self.other_changes = 0
        self.other_examples: list[dict[str, Any]] = []
        self.seen: set[int] = set()

    def check(self, row: BookRow, prev: BookRow | None, first_seq: int) -> None:
        effect = self.effects.get(row.line)
        if effect is None:
            return
        self.seen.add(row.line)
        tally = self.by_kind.setdefault(effect.label, Counter())
        reason = self._not_comparable(row, prev, effect, first_seq)
        if prev is None or reason is not None:
            self.not_comparable[reason or "no previous orderbook row"] += 1
            tally["not_comparable"] += 1
            return
        self.compared += 1
        tally["compared"] += 1
        before = (prev.bids if effect.is_bid else prev.asks).get(effect.px, 0)
        after = (row.bids if effect.is_bid else row.asks).get(effect.px, 0)
        if after - before == effect.delta:
            self.matched += 1
            tally["matched"] += 1
        else:
            self.mismatch_count += 1
            if len(self.mismatches) < MAX_DETAILED:
                self.mismatches.append(self._explain(row, prev, effect, before, after))
        self._other_levels(row, prev, effect)

    @staticmethod
    def _not_comparable(
        row: BookRow, prev: BookRow | None, effect: Effect, first_seq: int
    ) -> str | None:
        if row.line == first_seq:
            return "first message (defines the initial book)"
        if prev is None or prev.line != row.line - 1:
            return "previous orderbook row missing or rejected"
        if not (prev.known(effect.is_bid, effect.px) and row.known(effect.is_bid, effect.px)):
            return "price outside the visible levels"
        return None

    def _other_levels(self, row: BookRow, prev: BookRow, effect: Effect) -> None:
        changed = []
        for is_bid, a, b in ((True, prev.bids, row.bids), (False, prev.asks, row.asks)):
            for px in set(a) | set(b):
                if is_bid == effect.is_bid and px == effect.px:
                    continue
                if (
                    a.get(px, 0) != b.get(px, 0)
                    and prev.known(is_bid, px)
                    and row.known(is_bid, px)
                ):
                    changed.append(
                        {
                            "side": "bid" if is_bid else "ask",
                            "px": px,
                            "before": a.get(px, 0),
                            "after": b.get(px, 0),
                        }
                    )
        if changed:
            self.other_changes += 1
            if len(self.other_examples) < MAX_DETAILED:
                self.other_examples.append({"line": row.line, "message": None, "changes": changed})

    def _explain(
        self, row: BookRow, prev: BookRow, effect: Effect, before: int, after: int
    ) -> dict[str, Any]:
        side = "bid" if effect.is_bid else "ask"
        observed = after - before
        if effect.label == "hidden trade":
            why = (
                f"a hidden execution should leave the book unchanged, but the {side} size "
                f"at {effect.px} went {before} -> {after}"
            )
        elif observed == 0:
            why = (
                f"our {effect.label} of {abs(effect.delta)} at {effect.px} left no trace in "
                f"the orderbook file ({side} size stays {before})"
            )
        else:
            why = (
                f"our {effect.label} changes the {side} size at {effect.px} by "
                f"{effect.delta:+d}, the orderbook file by {observed:+d} "
                f"({before} -> {after})"
            )
        return {
            "line": row.line,
            "message": None,
            "kind": effect.label,
            "side": side,
            "px": effect.px,
            "price": round(effect.px * self.tick, 10),
            "expected_change": effect.delta,
            "observed_change": observed,
            "explanation": why,
        }

    def result(self) -> dict[str, Any]:
        missing = len(set(self.effects) - self.seen)
        if missing:
            self.not_comparable["no orderbook row for the message"] += missing
        return {
            "compared": self.compared,
            "matched": self.matched,
            "mismatch_count": self.mismatch_count,
            "mismatches": self.mismatches,
            "not_comparable": sum(self.not_comparable.values()),
            "not_comparable_reasons": dict(self.not_comparable),
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
            "other_level_changes": self.other_changes,
            "other_level_examples": self.other_examples,
        }

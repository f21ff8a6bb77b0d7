"""LOBSTER orderbook files and the exact LOBSTER-units -> ticks/lots conversion.

Row *k* of an orderbook file is the visible book after message *k*: ``ask_px1, ask_sz1,
bid_px1, bid_sz1, ask_px2, ...`` for N levels, with dummy levels (size 0, price
+-9999999999) where a side has fewer. The converter reads its first row for the initial
book; the verifier reads all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from hftlib.convert.base import ConvertReport, iter_lines
from hftlib.convert.exact import parse_int, scaled_int_ratio
from hftlib.instrument import Instrument

PRICE_UNIT = Fraction(1, 10000)
"""Value of one LOBSTER price unit, in dollars."""

DUMMY_PRICE = 9999999999
"""Magnitude of the price LOBSTER writes into empty book levels (with size 0)."""


class Grid:
    """Exact LOBSTER price/size -> tick/lot conversion for one instrument."""

    __slots__ = ("lot_den", "lot_num", "px_den", "px_num")

    def __init__(self, instrument: Instrument) -> None:
        self.px_num, self.px_den = scaled_int_ratio(PRICE_UNIT, instrument.tick_size)
        self.lot_num, self.lot_den = scaled_int_ratio(Fraction(1), instrument.lot_size)

    def ticks(self, price: int) -> int | None:
        """Return ``price`` (dollars x 10000) in ticks, or None when off the grid."""
        scaled = price * self.px_num
        return None if scaled % self.px_den else scaled // self.px_den

    def lots(self, size: int) -> int | None:
        """Return ``size`` (shares) in lots, or None when not a whole number of lots."""
        scaled = size * self.lot_num
        return None if scaled % self.lot_den else scaled // self.lot_den


Levels = dict[int, int]
"""One side of a visible book: ``tick -> lots``."""


@dataclass
class BookRow:
    """One orderbook-file row: the visible levels after one message.

    ``asks``/``bids`` hold the real levels only (dummy levels dropped); ``depth`` is the
    number of levels the file lists per side.
    """

    line: int
    depth: int
    asks: Levels
    bids: Levels

    def known(self, is_bid: bool, px: int) -> bool:
        """True when this row shows the visible size at ``px`` (0 when no level is there).

        A side showing fewer than ``depth`` real levels is complete; otherwise every price
        at or better than its deepest listed level is known and deeper prices are not.
        """
        levels = self.bids if is_bid else self.asks
        if len(levels) < self.depth:
            return True
        return px >= min(levels) if is_bid else px <= max(levels)


def iter_orderbook(
    path: Path, grid: Grid, report: ConvertReport, *, stop_after: int | None = None
) -> Iterator[BookRow]:
    """Yield the rows of a LOBSTER orderbook file (bad rows are rejected and skipped)."""
    for n, raw in iter_lines(path, report):
        if stop_after is not None and n > stop_after:
            return
        row = _parse_book_row(path, n, raw, grid, report)
        if row is not None:
            yield row


def _parse_book_row(
    path: Path, n: int, raw: bytes, grid: Grid, report: ConvertReport
) -> BookRow | None:
    try:
        values = [parse_int(v) for v in raw.split(b",")]
    except ValueError:
        report.reject(
            path,
            n,
            f"orderbook row has a non-integer field: {raw[:80]!r}",
            category="malformed orderbook row",
        )
        return None
    if not values or len(values) % 4:
        report.reject(
            path,
            n,
            f"orderbook row has {len(values)} fields, not a multiple of 4",
            category="malformed orderbook row",
        )
        return None
    sides: tuple[Levels, Levels] = ({}, {})
    for j in range(0, len(values), 2):
        price, size = values[j], values[j + 1]
        if size == 0 and abs(price) == DUMMY_PRICE:
            continue
        ticks, lots = grid.ticks(price), grid.lots(size)
        if ticks is None or lots is None or lots <= 0:
            report.reject(
                path,
                n,
                f"orderbook level {price}/{size} is off the grid or empty",
                category="off-grid orderbook level",
            )
            return None
        sides[(j // 2) % 2][ticks] = lots
    return BookRow(n, len(values) // 4, asks=sides[0], bids=sides[1])

"""tardis.dev CSV datasets -> hftlib events (format ``tardis``).

The dataset type is read off each file's header:

``incremental_book_L2``
    ``K_DEPTH`` rows with absolute amounts (0 deletes). Rows sharing ``(timestamp,
    local_timestamp)`` form one message; its last row gets ``F_LAST``. A run of
    ``is_snapshot=true`` rows that starts the file or follows non-snapshot rows is a new
    snapshot (tardis: a snapshot after a reconnect replaces the book): a whole-book
    ``K_CLEAR`` comes first and the run's rows are ``K_SNAPSHOT``. The run is one message
    even if its timestamps differ, because the book is only whole at its end.
``trades``
    One ``K_TRADE`` per row, each its own message (``F_LAST``). The side flag is the
    aggressor: ``buy`` -> ``F_BID``, ``sell`` -> ``F_ASK``, ``unknown`` -> no side flag
    (counted in ``report.counts["trade side unknown"]``). ``seq`` is the trade id when it is a
    plain number below 2**63; any other id (BitMEX UUIDs, ...) becomes :func:`trade_seq`, a
    stable 63-bit BLAKE2b hash, so conversions stay deterministic. An empty id gives
    ``NO_ID``.
``book_snapshot_N``
    Each row is one message: a whole-book ``K_CLEAR`` then one ``K_SNAPSHOT`` per level (bids
    then asks, best first); empty levels (fewer than N) are skipped.
``quotes``
    Two ``K_BBO`` rows per row (bid then ask, ``F_LAST`` on the second); an empty side is
    skipped and counted in ``report.counts["quote side empty"]``.

Timestamps are µs: ``exch_ts = timestamp * 1000``, ``local_ts = local_timestamp * 1000``.
Tardis has no venue sequence for book and quote rows, so their ``seq`` is the message
number within the conversion (1, 2, ...); ``aux`` is ``NO_ID`` (no chain to check).

Several files (e.g. consecutive days) are read in order of their first ``local_timestamp``,
whatever the argument order. They must be one dataset type and one symbol: a file of
another dataset type is rejected whole (category ``"mixed tardis datasets"``), a row of
another symbol is rejected (category ``"other symbol"``); convert datasets separately and
merge the event files. Other tardis datasets (derivative_ticker, liquidations, options_chain,
...) are rejected whole as ``"unsupported tardis dataset"``. Malformed rows, negative sizes
and off-grid prices are rejected per line through the report.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport, EventBuilder
from hftlib.convert.csvio import (
    Record,
    column_index,
    first_data_record,
    is_negative,
    parse_int,
    read_header,
)
from hftlib.convert.emit import add_clear, drain
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, F_LAST, K_BBO, K_DEPTH, K_SNAPSHOT, K_TRADE, NO_ID

FORMAT_HELP = """\
tardis.dev CSV datasets (plain or .gz), one dataset type per conversion, detected from
the header: incremental_book_L2, trades, book_snapshot_N (any N) or quotes. Timestamps are
µs; exch_ts = timestamp, local_ts = local_timestamp. Give one or more files of the same
dataset and symbol (e.g. consecutive days); they are read in time order.
incremental_book_L2: absolute amounts, snapshot runs become K_CLEAR + K_SNAPSHOT.
trades: K_TRADE with the aggressor side (unknown -> no side); seq = numeric id or a stable
63-bit BLAKE2b hash of a string id. book_snapshot_N: K_CLEAR + K_SNAPSHOT per row.
quotes: two K_BBO rows per row.
Example: hft data convert tardis deribit_incremental_book_L2_2020-04-01_BTC-PERPETUAL.csv.gz
"""

_BASE = ("exchange", "symbol", "timestamp", "local_timestamp")
_INCREMENTAL = (*_BASE, "is_snapshot", "side", "price", "amount")
_TRADES = (*_BASE, "id", "side", "price", "amount")
_QUOTES = (*_BASE, "ask_amount", "ask_price", "bid_price", "bid_amount")
_LEVEL_COLUMN = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")
_MAX_ID = (1 << 63) - 1
_TRADE_SIDES = {"buy": F_BID, "sell": F_ASK, "unknown": 0}
_BOOK_SIDES = {"bid": F_BID, "ask": F_ASK}
_SNAPSHOT_FLAGS = {"true": True, "false": False}


def dataset_of(header: Sequence[str]) -> str | None:
    """Return the tardis dataset type a CSV header belongs to, or None if unsupported."""
    names = set(header)
    if not set(_BASE) <= names:
        return None
    if set(_INCREMENTAL) <= names:
        return "incremental_book_L2"
    if set(_TRADES) <= names:
        return "trades"
    if set(_QUOTES) <= names:
        return "quotes"
    depth = _snapshot_depth(header)
    return f"book_snapshot_{depth}" if depth else None


def _snapshot_depth(header: Sequence[str]) -> int:
    """Return N when ``header`` has all 4N level columns of ``book_snapshot_N``, else 0."""
    found = {m.groups() for m in map(_LEVEL_COLUMN.match, header) if m}
    depth = sum(1 for side, _, part in found if side == "asks" and part == "price")
    wanted = {
        (s, str(i), p) for s in ("asks", "bids") for i in range(depth) for p in ("price", "amount")
    }
    return depth if depth and found == wanted else 0


def trade_seq(trade_id: str) -> int:
    """Return the ``seq`` of a tardis trade id.

    A plain decimal id below 2**63 is used as is. Any other non-empty id (e.g. a BitMEX
    UUID) maps to its 8-byte BLAKE2b digest (``hashlib.blake2b(id, digest_size=8)``, read
    big endian) with the top bit cleared: a stable, platform-independent 63-bit value. An
    empty id gives ``NO_ID``.
    """
    if not trade_id:
        return NO_ID
    if trade_id.isascii() and trade_id.isdigit() and int(trade_id) <= _MAX_ID:
        return int(trade_id)
    digest = hashlib.blake2b(trade_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MAX_ID


def detect_instrument(paths: Sequence[Path]) -> tuple[str, str] | None:
    """Return ``(exchange, symbol)`` of the earliest file's first row, or None."""
    ordered = _ordered(paths)
    if not ordered:
        return None
    first = first_data_record(ordered[0], "tardis")
    if first is None:
        return None
    header, fields = first
    cols = column_index(header, ("exchange", "symbol"))
    if cols is None:
        return None
    return fields[cols["exchange"]], fields[cols["symbol"]]


def _first_local_ts(path: Path) -> int | None:
    first = first_data_record(path, "tardis")
    if first is None:
        return None
    header, fields = first
    cols = column_index(header, ("local_timestamp",))
    try:
        return parse_int(fields[cols["local_timestamp"]]) if cols else None
    except ValueError:
        return None


def _ordered(paths: Sequence[Path]) -> list[Path]:
    """Order files by their first local timestamp; unreadable files go last, as given."""
    keyed = [(_first_local_ts(Path(p)), i, Path(p)) for i, p in enumerate(paths)]
    keyed.sort(key=lambda k: (k[0] is None, k[0] or 0, k[1]))
    return [p for _, _, p in keyed]


@dataclass
class _Run:
    """State carried across the files of one conversion."""

    builder: EventBuilder
    report: ConvertReport
    dataset: str | None = None
    symbol: str | None = None
    msg: int = 0


def convert(
    paths: Sequence[Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Convert tardis.dev CSV files into event chunks of at most ``chunk_rows`` rows.

    Parameters
    ----------
    paths : sequence of Path
        Files of one dataset type and symbol, in any order (read in time order).
    instrument : Instrument
        Tick and lot size for the fixed-point conversion.
    report : ConvertReport
        Receives counts and rejections; strict mode raises on the first bad input.
    chunk_rows : int
        Largest chunk yielded.

    Yields
    ------
    numpy.ndarray
        Arrays of :data:`hftlib.types.EVENT_DTYPE`.
    """
    run = _Run(EventBuilder(instrument, report, chunk_rows), report)
    for path in _ordered(paths):
        run.builder.path = str(path)
        yield from _convert_file(path, run)
        run.builder.mark_last()
        yield from drain(run.builder)


def _convert_file(path: Path, run: _Run) -> Iterator[np.ndarray]:
    opened = read_header(path, run.report)
    if opened is None:
        return
    header, records = opened
    dataset = dataset_of(header)
    if dataset is None:
        run.report.reject(
            path,
            1,
            f"unsupported tardis dataset, header {','.join(header)!r}",
            category="unsupported tardis dataset",
        )
        return
    if run.dataset is None:
        run.dataset = dataset
    elif dataset != run.dataset:
        run.report.reject(
            path,
            1,
            f"file is {dataset}, the conversion is {run.dataset}",
            category="mixed tardis datasets",
        )
        return
    run.report.counts[f"dataset {dataset}"] += 1
    rows = _Rows(path, header, run)
    if dataset == "incremental_book_L2":
        yield from _incremental(rows, records)
    elif dataset == "trades":
        yield from _trades(rows, records)
    elif dataset == "quotes":
        yield from _quotes(rows, records)
    else:
        yield from _book_snapshots(rows, records, _snapshot_depth(header))


class _Rows:
    """Checks the columns every tardis row shares and reports bad rows with their line."""

    __slots__ = ("_last", "cols", "i_lts", "i_sym", "i_ts", "path", "run", "width")

    def __init__(self, path: Path, header: list[str], run: _Run) -> None:
        self.path = path
        self.run = run
        self.width = len(header)
        self.cols = {name: i for i, name in enumerate(header)}
        self.i_sym, self.i_ts = self.cols["symbol"], self.cols["timestamp"]
        self.i_lts = self.cols["local_timestamp"]
        # Rows of one message repeat their timestamps: parse each pair once.
        self._last: tuple[str, str, tuple[int, int]] = ("", "", (0, 0))

    def reject(self, n: int, reason: str, category: str) -> None:
        self.run.report.reject(self.path, n, reason, category=category)

    def times(self, n: int, fields: list[str]) -> tuple[int, int] | None:
        """Check width and symbol; return ``(exch_ts, local_ts)`` in ns, or None if rejected."""
        if len(fields) != self.width:
            self.reject(n, f"expected {self.width} fields, got {len(fields)}", "malformed row")
            return None
        symbol = fields[self.i_sym]
        if symbol != self.run.symbol:
            if self.run.symbol is not None:
                self.reject(
                    n, f"symbol {symbol!r}, the conversion is {self.run.symbol!r}", "other symbol"
                )
                return None
            self.run.symbol = symbol
        ts, lts = fields[self.i_ts], fields[self.i_lts]
        last = self._last
        if ts == last[0] and lts == last[1]:
            return last[2]
        try:
            times = parse_int(ts, 1000), parse_int(lts, 1000)
        except ValueError as exc:
            self.reject(n, f"bad timestamp ({exc})", "bad timestamp")
            return None
        self._last = (ts, lts, times)
        return times

    def level(self, n: int, price: str, amount: str) -> bool:
        """True if a price/amount pair may go to the builder (which checks the grid)."""
        if is_negative(price) or is_negative(amount):
            self.reject(n, f"negative price or amount ({price!r}, {amount!r})", "negative value")
            return False
        return True


def _incremental(rows: _Rows, records: Iterator[Record]) -> Iterator[np.ndarray]:
    run, b = rows.run, rows.run.builder
    c = rows.cols
    i_snap, i_side, i_px, i_qty = c["is_snapshot"], c["side"], c["price"], c["amount"]
    prev_key: tuple[int, int] | None = None
    prev_snap = False
    for n, fields in records:
        times = rows.times(n, fields)
        if times is None:
            continue
        snap = _SNAPSHOT_FLAGS.get(fields[i_snap])
        side = _BOOK_SIDES.get(fields[i_side])
        if snap is None or side is None:
            rows.reject(
                n,
                f"bad is_snapshot/side {fields[i_snap]!r}/{fields[i_side]!r}",
                "bad side or snapshot flag",
            )
            continue
        price, amount = fields[i_px], fields[i_qty]
        if not rows.level(n, price, amount):
            continue
        starts_snapshot = snap and not prev_snap
        # Rows of one snapshot run stay one message even across timestamps.
        if prev_key is None or starts_snapshot or (times != prev_key and not (snap and prev_snap)):
            b.mark_last()
            if b.full:
                yield from drain(b)
            run.msg += 1
        if starts_snapshot:
            add_clear(b, *times, seq=run.msg, line=n)
        kind = K_SNAPSHOT if snap else K_DEPTH
        b.add(kind | side, times[0], times[1], price, amount, seq=run.msg, line=n)
        prev_key, prev_snap = times, snap


def _trades(rows: _Rows, records: Iterator[Record]) -> Iterator[np.ndarray]:
    run, b = rows.run, rows.run.builder
    c = rows.cols
    i_id, i_side, i_px, i_qty = c["id"], c["side"], c["price"], c["amount"]
    for n, fields in records:
        times = rows.times(n, fields)
        if times is None:
            continue
        side = _TRADE_SIDES.get(fields[i_side])
        if side is None:
            rows.reject(n, f"bad trade side {fields[i_side]!r}", "bad side")
            continue
        price, amount = fields[i_px], fields[i_qty]
        if not rows.level(n, price, amount):
            continue
        if side == 0:
            run.report.counts["trade side unknown"] += 1
        b.add(
            K_TRADE | side | F_LAST,
            times[0],
            times[1],
            price,
            amount,
            seq=trade_seq(fields[i_id]),
            line=n,
        )
        if b.full:
            yield from drain(b)


def _quotes(rows: _Rows, records: Iterator[Record]) -> Iterator[np.ndarray]:
    run, b = rows.run, rows.run.builder
    c = rows.cols
    sides = ((F_BID, c["bid_price"], c["bid_amount"]), (F_ASK, c["ask_price"], c["ask_amount"]))
    for n, fields in records:
        times = rows.times(n, fields)
        if times is None:
            continue
        levels = _levels(rows, n, fields, sides)
        if levels is None:
            continue
        run.msg += 1
        if len(levels) < 2:
            run.report.counts["quote side empty"] += 2 - len(levels)
        for side, price, amount in levels:
            b.add(K_BBO | side, times[0], times[1], price, amount, seq=run.msg, line=n)
        b.mark_last()
        if b.full:
            yield from drain(b)


def _book_snapshots(rows: _Rows, records: Iterator[Record], depth: int) -> Iterator[np.ndarray]:
    run, b = rows.run, rows.run.builder
    c = rows.cols
    sides = tuple(
        (flag, c[f"{name}[{i}].price"], c[f"{name}[{i}].amount"])
        for flag, name in ((F_BID, "bids"), (F_ASK, "asks"))
        for i in range(depth)
    )
    for n, fields in records:
        times = rows.times(n, fields)
        if times is None:
            continue
        levels = _levels(rows, n, fields, sides)
        if levels is None:
            continue
        run.msg += 1
        add_clear(b, *times, seq=run.msg, line=n)
        for side, price, amount in levels:
            b.add(K_SNAPSHOT | side, times[0], times[1], price, amount, seq=run.msg, line=n)
        b.mark_last()
        if b.full:
            yield from drain(b)


def _levels(
    rows: _Rows, n: int, fields: list[str], sides: Sequence[tuple[int, int, int]]
) -> list[tuple[int, str, str]] | None:
    """Return the non-empty ``(side, price, amount)`` levels of a row, or None if rejected.

    Tardis leaves both cells empty for a missing level; one empty cell of a pair is malformed.
    """
    out = []
    for side, i_px, i_qty in sides:
        price, amount = fields[i_px], fields[i_qty]
        if not price and not amount:
            continue
        if not price or not amount:
            rows.reject(n, f"level with price {price!r} and amount {amount!r}", "half-empty level")
            return None
        if not rows.level(n, price, amount):
            return None
        out.append((side, price, amount))
    return out

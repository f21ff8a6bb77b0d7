"""LOBSTER (lobsterdata.com) NASDAQ message files -> L3 events.

Input
-----
``paths = [message_file]`` or ``[message_file, orderbook_file]`` (plain, ``.gz``, ``.xz`` or
``.zip``), named as LOBSTER names them: ``TICKER_YYYY-MM-DD_start_end_message_LEVEL.csv``.
The message columns are ``time, type, order_id, size, price, direction``: time in seconds
after midnight (New York wall clock, up to nanosecond decimals), price in dollars x 10000,
direction 1 buy / -1 sell (the side of the *resting* order for executions).

Output, per message (all rows of one message share ``seq`` = its line number; the last row
carries ``F_LAST``; ``exch_ts == local_ts`` since LOBSTER has one clock)
-----------------------------------------------------------------------------------------
* type 1 (submission) -> ``K_L3_ADD`` (qty = size).
* type 2 (partial cancel) -> ``K_L3_CANCEL`` (qty = the cancelled size).
* type 3 (deletion) -> ``K_L3_CANCEL`` (qty = the size removed, as the message states it).
* type 4 (visible execution) -> ``K_TRADE`` then ``K_L3_FILL``: both with qty = executed size,
  px = the resting order's price, order_id = the resting order; the trade's side flag is the
  aggressor, i.e. the *opposite* of the message's direction. LOBSTER has no trade id, so
  ``aux`` is ``NO_ID`` on both; the shared ``seq`` links them.
* type 5 (hidden execution) -> ``K_TRADE`` only (a hidden order leaves no visible trace);
  order_id is the message's id, or ``NO_ID`` when LOBSTER gives 0.
* type 7 (trading halt / quote resume / trade resume, price -1 / 0 / 1) -> no event; counted
  in ``report.counts`` as ``"type 7 halt"``, ``"type 7 quote resume"``,
  ``"type 7 trade resume"``. A consumer that needs them reads the message file.

Orders that were resting before the file starts (and, in a level-N file, orders that were
added outside the N visible levels) have no type 1 message. Their later cancels, deletions
and executions are still real events and are emitted exactly like the others, with the
message's price, side and size; consumers that keep an order map apply them to the L2 level
at ``px`` (the initial book below already holds their size). They are counted in
``report.counts`` (``"unknown-id partial cancel"``, ``"unknown-id delete"``,
``"unknown-id execution"``).

A level-N file only holds the messages that touch the N visible levels (the level-1 AMZN
sample: 4,392 deletes and 3,071 executions of ids never added). An order that drifts out of
the window changes unseen, so a later delete can state another size than we hold (counted),
and a level that comes into view when a better one empties has no snapshot row: an L2 view
built from these events alone is exact only inside the window; the orderbook file is the
reference beyond it.

Initial book: when the orderbook file is given, its row for the first message, minus that
message's own effect, is the visible book before the file starts. It is emitted first, at
the first message's timestamp with ``seq = 0``, as a whole-book ``K_CLEAR`` and one
``K_SNAPSHOT`` row per level, all flagged ``F_SYNTHETIC``. LOBSTER's dummy levels (size 0,
price +-9999999999) are left out.

Timestamps: the date comes from the file name; time of day is New York wall-clock time
(``zoneinfo`` "America/New_York"), converted to ns since the Unix epoch.

Prices convert exactly with integer arithmetic (dollars x 10000 -> ticks); a price or size
that is not a whole number of ticks or lots is rejected, never rounded. (NASDAQ midpoint
executions happen at half cents: 63 hidden executions of the AMZN sample are off the 0.01
grid; a finer tick in the instrument keeps them.) Malformed lines,
unknown message types (including type 6, the cross/auction trade of newer LOBSTER files,
which this format does not define), sizes <= 0 and a type 1 for an id that is already
resting are rejected through ``report.reject``. Other oddities are counted in
``report.counts``: ``"price or side differs from the order"`` (a message for a known order
at another price or side), ``"delete size differs from remaining"``, ``"removes more than
remaining"``, and ``"orders resting at end"``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numba
import numpy as np
from numba import types as nbt

from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport, iter_lines
from hftlib.convert.exact import parse_int
from hftlib.convert.lobster_book import Grid, iter_orderbook
from hftlib.convert.rows import ChunkQueue, pack_events
from hftlib.errors import DataError
from hftlib.instrument import Instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
)

FORMAT_HELP = """\
LOBSTER NASDAQ sample/academic files: the message file, optionally followed by the matching
orderbook file (its first row gives the book resting before the file starts).
Types 1/2/3/4/5 become L3 add / cancel / cancel / fill+trade / trade; type 7 is counted.
Example: hft data convert lobster AMZN_2012-06-21_34200000_57600000_message_1.csv.gz \\
         AMZN_2012-06-21_34200000_57600000_orderbook_1.csv.gz -o amzn.npy"""

TIMEZONE = "America/New_York"
"""LOBSTER times are seconds after midnight on the exchange's wall clock."""

BATCH_ROWS = 1 << 16
"""Messages parsed per kernel call (bounds memory independently of ``chunk_rows``)."""

_NAME_RE = re.compile(r"^([A-Za-z0-9.\-]+?)_(\d{4}-\d{2}-\d{2})_")
_NS = 1_000_000_000
_HALT_NAMES = {-1: "type 7 halt", 0: "type 7 quote resume", 1: "type 7 trade resume"}

# kernel counters (index -> report.counts key)
_C_UNKNOWN_CANCEL, _C_UNKNOWN_DELETE, _C_UNKNOWN_EXEC = 0, 1, 2
_C_PX_SIDE, _C_DELETE_SIZE, _C_OVER = 3, 4, 5
_COUNTER_NAMES = (
    "unknown-id partial cancel",
    "unknown-id delete",
    "unknown-id execution",
    "price or side differs from the order",
    "delete size differs from remaining",
    "removes more than remaining",
)
_BAD_DUPLICATE = 1


def detect_instrument(paths: Sequence[str | Path]) -> tuple[str, str] | None:
    """Return ``("nasdaq", TICKER)`` from a LOBSTER file name, or None."""
    if not paths:
        return None
    match = _NAME_RE.match(Path(paths[0]).name)
    return ("nasdaq", match.group(1).upper()) if match else None


def trading_day(path: Path) -> dt.date:
    """Return the date in a LOBSTER file name; raise :class:`DataError` without one."""
    match = _NAME_RE.match(path.name)
    if match is None:
        raise DataError(
            str(path),
            0,
            "file name has no TICKER_YYYY-MM-DD_ prefix (LOBSTER "
            "times are seconds after midnight, so the date must come from the name)",
        )
    try:
        return dt.date.fromisoformat(match.group(2))
    except ValueError:
        raise DataError(str(path), 0, f"invalid date {match.group(2)!r} in file name") from None


@dataclass(frozen=True)
class DayClock:
    """Turns New York wall-clock ns after midnight of one day into Unix-epoch ns.

    The UTC offset is looked up per wall-clock hour, so a daylight-saving day (the change
    happens at 02:00, long before the 09:30 open) converts correctly too.
    """

    midnight_as_utc_ns: int
    hour_offset_ns: np.ndarray

    @classmethod
    def for_day(cls, day: dt.date) -> DayClock:
        """Build the clock for ``day`` in :data:`TIMEZONE`."""
        zone = ZoneInfo(TIMEZONE)
        offsets = np.empty(25, dtype=np.int64)
        for hour in range(24):
            local = dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone)
            offset = local.utcoffset() or dt.timedelta(0)  # a ZoneInfo always gives one
            offsets[hour] = int(offset.total_seconds()) * _NS
        offsets[24] = offsets[23]
        midnight = calendar.timegm((day.year, day.month, day.day, 0, 0, 0)) * _NS
        return cls(midnight, offsets)

    def to_epoch_ns(self, wall_ns: np.ndarray) -> np.ndarray:
        """Convert wall-clock ns after midnight to ns since the Unix epoch."""
        hours = np.clip(wall_ns // (3600 * _NS), 0, 24)
        epoch: np.ndarray = self.midnight_as_utc_ns + wall_ns - self.hour_offset_ns[hours]
        return epoch


def parse_time_ns(field: bytes) -> int:
    """Return LOBSTER seconds-after-midnight (``b"34200.18960767"``) as integer ns, exactly."""
    whole, dot, frac = field.strip().partition(b".")
    if not whole.isdigit() or (dot and not frac.isdigit()) or len(whole) > 9:
        raise ValueError(f"time {field!r} is not a decimal number of seconds")
    if len(frac) > 9:
        if frac[9:].strip(b"0"):
            raise ValueError(f"time {field!r} has more than nanosecond precision")
        frac = frac[:9]
    return int(whole) * _NS + (int(frac.ljust(9, b"0")) if frac else 0)


@dataclass
class _Batch:
    wall_ns: list[int]
    mtype: list[int]
    oid: list[int]
    qty: list[int]
    px: list[int]
    side: list[int]
    line: list[int]

    @classmethod
    def empty(cls) -> _Batch:
        return cls([], [], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.line)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(
            np.asarray(col, dtype=np.int64)
            for col in (self.wall_ns, self.mtype, self.oid, self.qty, self.px, self.side, self.line)
        )


def _parse_messages(
    path: Path, grid: Grid, report: ConvertReport, batch_rows: int
) -> Iterator[_Batch]:
    """Yield batches of valid messages (type 7 is counted here and not passed on)."""
    batch = _Batch.empty()
    for n, raw in iter_lines(path, report):
        parts = raw.split(b",")
        if len(parts) != 6:
            report.reject(
                path,
                n,
                f"expected 6 fields, got {len(parts)}: {raw[:80]!r}",
                category="malformed line",
            )
            continue
        try:
            wall = parse_time_ns(parts[0])
            mtype, oid, size, price, direction = (parse_int(p) for p in parts[1:])
        except ValueError as exc:
            report.reject(path, n, f"malformed field ({exc})", category="malformed line")
            continue
        reason = _message_problem(wall, mtype, oid, size, price, direction)
        if reason is not None:
            category = "unknown message type" if reason.startswith("unknown") else "invalid field"
            report.reject(path, n, reason, category=category)
            continue
        if mtype == 7:
            report.counts[_HALT_NAMES[price]] += 1
            continue
        ticks = grid.ticks(price)
        if ticks is None:
            report.reject(
                path,
                n,
                f"price {price} (x1e-4 USD) is off the tick grid",
                category="off-grid price",
            )
            continue
        lots = grid.lots(size)
        if lots is None:
            report.reject(
                path, n, f"size {size} is not a whole number of lots", category="off-grid size"
            )
            continue
        batch.wall_ns.append(wall)
        batch.mtype.append(mtype)
        batch.oid.append(oid)
        batch.qty.append(lots)
        batch.px.append(ticks)
        batch.side.append(direction)
        batch.line.append(n)
        if len(batch) >= batch_rows:
            yield batch
            batch = _Batch.empty()
    if len(batch):
        yield batch


def _message_problem(
    wall: int, mtype: int, oid: int, size: int, price: int, direction: int
) -> str | None:
    """Return why a parsed message is invalid, or None."""
    if not 0 <= wall < 86400 * _NS:
        return f"time {wall / _NS} s is outside the day"
    if mtype not in (1, 2, 3, 4, 5, 7):
        extra = " (cross/auction trade, not part of this format)" if mtype == 6 else ""
        return f"unknown message type {mtype}{extra}"
    if direction not in (1, -1):
        return f"direction {direction} is not 1 or -1"
    if mtype == 7:
        if price not in _HALT_NAMES or direction != -1:
            return f"type 7 with price {price} / direction {direction} (expected -1/0/1, -1)"
        return None
    if oid < 0:
        return f"negative order id {oid}"
    if size <= 0:
        return f"size {size} must be positive"
    if price <= 0:
        return f"price {price} must be positive"
    return None


# --- the per-message state machine ---------------------------------------------------------


def new_order_state() -> numba.typed.Dict:
    """Return an empty order map ``id -> (direction, px, remaining)`` for :func:`_emit`."""
    return numba.typed.Dict.empty(
        key_type=nbt.int64,
        value_type=nbt.UniTuple(nbt.int64, 3),  # type: ignore[no-untyped-call]
    )


@numba.njit(cache=True)
def _emit(
    ts: np.ndarray,
    mtype: np.ndarray,
    oid: np.ndarray,
    qty: np.ndarray,
    px: np.ndarray,
    side: np.ndarray,
    line: np.ndarray,
    orders: Any,
    out: np.ndarray,
    counters: np.ndarray,
    bad: np.ndarray,
) -> int:
    """Turn one batch of messages into event rows; return the number of rows written.

    ``out`` is a (7, 2n) int64 matrix: flags, ts, px, qty, order_id, seq, aux.
    """
    k = 0
    for i in range(len(ts)):
        t = mtype[i]
        sflag = F_BID if side[i] == 1 else F_ASK
        oflag = F_ASK if side[i] == 1 else F_BID
        o = oid[i]
        if t == 1:
            if o in orders:
                bad[i] = _BAD_DUPLICATE
                continue
            orders[o] = (side[i], px[i], qty[i])
            k = _row(out, k, K_L3_ADD | sflag | F_LAST, ts[i], px[i], qty[i], o, line[i], NO_ID)
            continue
        if t == 5:
            tid = o if o != 0 else NO_ID
            k = _row(out, k, K_TRADE | oflag | F_LAST, ts[i], px[i], qty[i], tid, line[i], NO_ID)
            continue
        # types 2, 3, 4 take size from an order
        if o in orders:
            d, p, rem = orders[o]
            if d != side[i] or p != px[i]:
                counters[_C_PX_SIDE] += 1
            if t == 3:
                if rem != qty[i]:
                    counters[_C_DELETE_SIZE] += 1
                del orders[o]
            else:
                rem -= qty[i]
                if rem < 0:
                    counters[_C_OVER] += 1
                if rem <= 0:
                    del orders[o]
                else:
                    orders[o] = (d, p, rem)
        elif t == 2:
            counters[_C_UNKNOWN_CANCEL] += 1
        elif t == 3:
            counters[_C_UNKNOWN_DELETE] += 1
        else:
            counters[_C_UNKNOWN_EXEC] += 1
        if t == 4:
            k = _row(out, k, K_TRADE | oflag, ts[i], px[i], qty[i], o, line[i], NO_ID)
            k = _row(out, k, K_L3_FILL | sflag | F_LAST, ts[i], px[i], qty[i], o, line[i], NO_ID)
        else:
            k = _row(out, k, K_L3_CANCEL | sflag | F_LAST, ts[i], px[i], qty[i], o, line[i], NO_ID)
    return k


@numba.njit(cache=True, inline="always")
def _row(
    out: np.ndarray, k: int, flags: int, ts: int, px: int, qty: int, oid: int, seq: int, aux: int
) -> int:
    out[0, k] = flags
    out[1, k] = ts
    out[2, k] = px
    out[3, k] = qty
    out[4, k] = oid
    out[5, k] = seq
    out[6, k] = aux
    return k + 1


def _batch_events(
    batch: _Batch,
    clock: DayClock,
    orders: numba.typed.Dict,
    path: Path,
    report: ConvertReport,
    counters: np.ndarray,
) -> np.ndarray:
    wall, mtype, oid, qty, px, side, line = batch.arrays()
    ts = clock.to_epoch_ns(wall)
    out = np.empty((7, 2 * len(ts)), dtype=np.int64)
    bad = np.zeros(len(ts), dtype=np.int8)
    k = _emit(ts, mtype, oid, qty, px, side, line, orders, out, counters, bad)
    for i in np.flatnonzero(bad):
        report.reject(
            path,
            int(line[i]),
            f"order id {int(oid[i])} is already resting",
            category="duplicate order id",
        )
    o = out[:, :k]
    return pack_events(o[0], o[1], o[1], o[2], o[3], o[4], o[5], o[6])


def _initial_book(
    book_path: Path,
    first_line: int,
    first: tuple[int, ...],
    ts: int,
    grid: Grid,
    report: ConvertReport,
) -> np.ndarray:
    """Return the synthetic clear + snapshot rows: the book before the first message."""
    rows = iter_orderbook(book_path, grid, report, stop_after=first_line)
    row = next((r for r in rows if r.line == first_line), None)
    if row is None:
        report.reject(
            book_path,
            first_line,
            "no valid orderbook row for the first message; no initial book emitted",
            category="no initial book",
        )
        return np.empty(0, dtype=EVENT_DTYPE)
    mtype, px, qty, side = first
    levels = row.bids if side == 1 else row.asks
    if mtype in (1, 2, 3, 4):
        # undo the first message: a submission added its size, the others removed it
        size = levels.get(px, 0) + (-qty if mtype == 1 else qty)
        if size > 0:
            levels[px] = size
        else:
            levels.pop(px, None)
            if size < 0:
                report.counts["initial book: first message not in its orderbook row"] += 1
    flags = [K_CLEAR | F_BID | F_ASK | F_SYNTHETIC]
    prices, sizes = [NO_PX], [0]
    for is_bid, lv in ((True, row.bids), (False, row.asks)):
        for tick in sorted(lv, reverse=is_bid):
            flags.append(K_SNAPSHOT | (F_BID if is_bid else F_ASK) | F_SYNTHETIC)
            prices.append(tick)
            sizes.append(lv[tick])
    flags[-1] |= F_LAST
    n = len(flags)
    stamps = np.full(n, ts, dtype=np.int64)
    return pack_events(
        np.asarray(flags, dtype=np.uint32),
        stamps,
        stamps,
        np.asarray(prices, dtype=np.int64),
        np.asarray(sizes, dtype=np.int64),
        np.full(n, NO_ID, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.full(n, NO_ID, dtype=np.int64),
    )


# --- entry point ---------------------------------------------------------------------------


def split_paths(paths: Sequence[str | Path]) -> tuple[Path, Path | None]:
    """Return ``(message_file, orderbook_file or None)``; raise ``ValueError`` otherwise."""
    if len(paths) not in (1, 2):
        raise ValueError(
            f"lobster takes [message_file] or [message_file, orderbook_file], "
            f"got {len(paths)} paths"
        )
    msg = Path(paths[0])
    book = Path(paths[1]) if len(paths) == 2 else None
    if "orderbook" in msg.name and (book is None or "message" in book.name):
        raise ValueError(f"{msg.name} looks like an orderbook file; give the message file first")
    return msg, book


def convert(
    paths: Sequence[str | Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Yield event chunks for a LOBSTER message file (see the module docstring).

    Parameters
    ----------
    paths : sequence of path
        ``[message_file]`` or ``[message_file, orderbook_file]``.
    instrument : Instrument
        Tick and lot size (NASDAQ stocks: 0.01 USD and 1 share).
    report : ConvertReport
        Receives rejections and counts.
    chunk_rows : int
        Maximum rows per yielded chunk.
    """
    msg_path, book_path = split_paths(paths)
    clock = DayClock.for_day(trading_day(msg_path))
    for chunk in _convert(msg_path, book_path, clock, Grid(instrument), report, chunk_rows):
        report.events += len(chunk)
        yield chunk


def _convert(
    msg_path: Path,
    book_path: Path | None,
    clock: DayClock,
    grid: Grid,
    report: ConvertReport,
    chunk_rows: int,
) -> Iterator[np.ndarray]:
    queue = ChunkQueue(chunk_rows)
    orders = new_order_state()
    counters = np.zeros(len(_COUNTER_NAMES), dtype=np.int64)
    first = True
    for batch in _parse_messages(msg_path, grid, report, BATCH_ROWS):
        if first and book_path is not None:
            ts = int(clock.to_epoch_ns(np.asarray(batch.wall_ns[:1], dtype=np.int64))[0])
            head = (batch.mtype[0], batch.px[0], batch.qty[0], batch.side[0])
            yield from queue.push(_initial_book(book_path, batch.line[0], head, ts, grid, report))
        first = False
        yield from queue.push(_batch_events(batch, clock, orders, msg_path, report, counters))
    yield from queue.flush()
    for name, value in zip(_COUNTER_NAMES, counters, strict=True):
        if value:
            report.counts[name] += int(value)
    if len(orders):
        report.counts["orders resting at end"] += len(orders)

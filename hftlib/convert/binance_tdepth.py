"""Binance futures historical order book CSV (T_DEPTH) -> hftlib events (format ``binance-tdepth``).

Columns: ``symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu``
(``timestamp`` in ms, ``side`` ``a``/``b``). Consecutive rows sharing ``last_update_id`` and
``update_type`` form one message; its last row gets ``F_LAST``.

``snap`` messages
    A whole-book ``K_CLEAR`` then one ``K_SNAPSHOT`` per row; ``seq`` = ``last_update_id``.
``set`` messages
    One ``K_DEPTH`` per row (absolute size, 0 deletes); ``seq`` = ``last_update_id`` (``u``),
    ``aux`` = ``pu`` (the ``u`` it chains from, as on the USD-M stream).

The files (a snapshot file and one or more update files, in any argument order) are merged
by update id: a snapshot with id S comes before every update with ``u >= S`` and after every
update with ``u < S``, so a snapshot file's rows come first when it is older than the updates.

Chain check (venue-protocols.md section 2, USD-M): after a snapshot S the first update must
bridge it, ``pu == S`` or ``first_update_id <= S <= last_update_id``; every later update must
have ``pu`` equal to the previous ``last_update_id``. A break is reported with
:meth:`ConvertReport.gap` (strict mode raises). A historical file cannot be re-synced from a
fresh snapshot, so after a gap the converter emits a whole-book ``K_CLEAR`` flagged
``F_SYNTHETIC`` (counted in ``report.resyncs``) and keeps the venue's updates: levels the
missing updates would have changed are gone instead of stale, and the book holds only what
later updates touch until the next snapshot. An update whose ``last_update_id`` does not
increase is rejected (category ``"non-monotonic update id"``). Updates before the first
snapshot are emitted and counted in ``report.counts["updates before first snapshot"]``.

The format has only an exchange timestamp, so ``local_ts = exch_ts`` (no feed latency can
be derived from it).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport, EventBuilder
from hftlib.convert.csvio import first_data_record, is_negative, parse_int, read_header
from hftlib.convert.emit import add_clear, drain
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, K_DEPTH, K_SNAPSHOT

FORMAT_HELP = """\
Binance futures historical order book CSV (T_DEPTH, from data.binance.vision / the
historical data API): symbol,timestamp,first_update_id,last_update_id,side,update_type,
price,qty,pu. Give the depth_snap file and the depth_update file(s), plain or .gz, in any
order: they are merged by update id. snap -> K_CLEAR + K_SNAPSHOT; set -> K_DEPTH with
seq = last_update_id, aux = pu. The pu chain is checked (USD-M rule; the first update after
a snapshot must bridge its id); gaps are reported and followed by a synthetic K_CLEAR.
The format has only the exchange timestamp (ms): local_ts = exch_ts.
Example: hft data convert binance-tdepth BTCUSDT_T_DEPTH_2022-11-01_depth_snap.csv
BTCUSDT_T_DEPTH_2022-11-01_depth_update.csv
"""

HEADER = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
"""The T_DEPTH columns, in file order."""

_SIDES = {"b": F_BID, "a": F_ASK}
_TYPES = ("snap", "set")
_MS = 1_000_000


def detect_instrument(paths: Sequence[Path]) -> tuple[str, str] | None:
    """Return ``("binance-futures", symbol)`` from the first readable file, or None.

    COIN-M T_DEPTH files have the same layout; give their spec explicitly.
    """
    for path in paths:
        first = first_data_record(Path(path), "binance-tdepth")
        if first is not None and tuple(first[0]) == HEADER:
            return "binance-futures", first[1][0]
    return None


@dataclass
class _Message:
    """Rows of one T_DEPTH message, as read."""

    path: Path
    line: int
    is_snap: bool
    ts: int
    first_id: int
    last_id: int
    pu: int
    rows: list[tuple[int, int, str, str]] = field(default_factory=list)
    """``(line, side flag, price, qty)`` per row."""

    @property
    def key(self) -> tuple[int, int]:
        """Merge order: by id, a snapshot before the update that ends at its id."""
        return self.last_id, 0 if self.is_snap else 1


class _Symbol:
    """The one symbol of a conversion: set by the first row, other symbols are rejected."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name: str | None = None


def _messages(path: Path, report: ConvertReport, symbol: _Symbol) -> Iterator[_Message]:
    """Yield the messages of one file; bad rows are rejected with their line."""
    opened = read_header(path, report)
    if opened is None:
        return
    header, records = opened
    if tuple(header) != HEADER:
        report.reject(
            path, 1, f"not a T_DEPTH header: {','.join(header)!r}", category="unknown header"
        )
        return
    msg: _Message | None = None
    for n, fields in records:
        row = _parse_row(path, n, fields, report, symbol)
        if row is None:
            continue
        is_snap, ts, first_id, last_id, pu, side, price, qty = row
        if msg is not None and (msg.last_id != last_id or msg.is_snap != is_snap):
            yield msg
            msg = None
        if msg is None:
            msg = _Message(path, n, is_snap, ts, first_id, last_id, pu)
        elif (msg.ts, msg.first_id, msg.pu) != (ts, first_id, pu):
            report.reject(
                path,
                n,
                f"row of update {last_id} disagrees with its first row "
                f"(line {msg.line}) on timestamp, first_update_id or pu",
                category="inconsistent message row",
            )
            continue
        msg.rows.append((n, side, price, qty))
    if msg is not None:
        yield msg


def _parse_row(
    path: Path, n: int, fields: list[str], report: ConvertReport, symbol: _Symbol
) -> tuple[bool, int, int, int, int, int, str, str] | None:
    if len(fields) != len(HEADER):
        report.reject(
            path, n, f"expected {len(HEADER)} fields, got {len(fields)}", category="malformed row"
        )
        return None
    sym, ts, first_id, last_id, side, kind, price, qty, pu = fields
    if symbol.name is None:
        symbol.name = sym
    elif sym != symbol.name:
        report.reject(
            path, n, f"symbol {sym!r}, the conversion is {symbol.name!r}", category="other symbol"
        )
        return None
    if kind not in _TYPES:
        report.reject(path, n, f"unknown update_type {kind!r}", category="unknown update type")
        return None
    flag = _SIDES.get(side)
    if flag is None:
        report.reject(path, n, f"bad side {side!r}", category="bad side")
        return None
    if is_negative(price) or is_negative(qty):
        report.reject(
            path, n, f"negative price or qty ({price!r}, {qty!r})", category="negative value"
        )
        return None
    try:
        ints = parse_int(ts, _MS), parse_int(first_id), parse_int(last_id), parse_int(pu)
    except ValueError as exc:
        report.reject(path, n, f"bad timestamp or id ({exc})", category="bad id or timestamp")
        return None
    return kind == "snap", *ints, flag, price, qty


def _ordered_messages(paths: Sequence[Path], report: ConvertReport) -> Iterator[_Message]:
    """Merge the files' messages by update id (each file is in id order already)."""
    symbol = _Symbol()
    streams = [_messages(Path(p), report, symbol) for p in paths]
    return heapq.merge(*streams, key=lambda m: m.key)


def convert(
    paths: Sequence[Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Convert T_DEPTH snapshot and update files into event chunks.

    Parameters
    ----------
    paths : sequence of Path
        Snapshot and update files of one symbol, in any order.
    instrument : Instrument
        Tick and lot size for the fixed-point conversion.
    report : ConvertReport
        Receives counts, gaps and rejections; strict mode raises on the first one.
    chunk_rows : int
        Largest chunk yielded.

    Yields
    ------
    numpy.ndarray
        Arrays of :data:`hftlib.types.EVENT_DTYPE`.
    """
    b = EventBuilder(instrument, report, chunk_rows)
    chain = _Chain(report)
    for msg in _ordered_messages(paths, report):
        if b.path != str(msg.path):
            # Rejections of a converted batch name the builder's path: one file per batch.
            yield from drain(b)
            b.path = str(msg.path)
        if msg.is_snap:
            chain.snapshot(msg)
            add_clear(b, msg.ts, msg.ts, seq=msg.last_id, line=msg.line)
            for n, side, price, qty in msg.rows:
                b.add(K_SNAPSHOT | side, msg.ts, msg.ts, price, qty, seq=msg.last_id, line=n)
        else:
            verdict = chain.update(msg)
            if verdict is None:
                continue
            if verdict == "gap":
                add_clear(b, msg.ts, msg.ts, seq=msg.last_id, line=msg.line, synthetic=True)
            for n, side, price, qty in msg.rows:
                b.add(
                    K_DEPTH | side, msg.ts, msg.ts, price, qty, seq=msg.last_id, aux=msg.pu, line=n
                )
        b.mark_last()
        if b.full:
            yield from drain(b)
    yield from drain(b)


class _Chain:
    """The USD-M update-id chain: bridging after a snapshot, then ``pu == previous u``."""

    __slots__ = ("after_snapshot", "book_id", "book_ts", "report", "synced")

    def __init__(self, report: ConvertReport) -> None:
        self.report = report
        self.book_id: int | None = None
        self.book_ts = 0
        self.after_snapshot = False
        self.synced = False

    def snapshot(self, msg: _Message) -> None:
        """Take a snapshot's id as the book id."""
        self.book_id = msg.last_id
        self.book_ts = msg.ts
        self.after_snapshot = True
        self.synced = True
        self.report.counts["snapshots"] += 1

    def update(self, msg: _Message) -> str | None:
        """Check an update; return ``"ok"``, ``"gap"`` (after reporting it) or None (rejected)."""
        book_id = self.book_id
        # The update that ends at a snapshot's id is re-applied after it (sizes are absolute).
        if book_id is not None and (
            msg.last_id < book_id or (msg.last_id == book_id and not self.after_snapshot)
        ):
            self.report.reject(
                msg.path,
                msg.line,
                f"update id {msg.last_id} after {book_id} does not increase",
                category="non-monotonic update id",
            )
            return None
        verdict = "ok"
        if book_id is None:
            pass
        elif self.after_snapshot:
            if not (msg.pu == book_id or msg.first_id <= book_id <= msg.last_id):
                verdict = self._gap(
                    msg,
                    f"update [{msg.first_id}, {msg.last_id}] (pu {msg.pu}) does not bridge "
                    f"snapshot {book_id}: it starts {msg.first_id - book_id} ids and "
                    f"{(msg.ts - self.book_ts) / 1e9:.3f} s after the snapshot",
                )
        elif msg.pu != book_id:
            verdict = self._gap(
                msg, f"update {msg.last_id} has pu {msg.pu}, previous update ended at {book_id}"
            )
        if not self.synced:
            self.report.counts["updates before first snapshot"] += 1
        self.book_id = msg.last_id
        self.book_ts = msg.ts
        self.after_snapshot = False
        return verdict

    def _gap(self, msg: _Message, reason: str) -> str:
        self.report.gap(msg.path, msg.line, reason)
        self.report.resyncs += 1
        return "gap"

"""Reading a Bitstamp capture in ob-analytics' CSV layout: orders, trades and ``meta.json``.

Parsing only: every bad line is rejected through the report with its file and line, prices
and sizes are converted exactly (:class:`hftlib.convert.exact.DecimalGrid`), and the
synthetic rows that ``meta.json`` declares are located. What the rows mean is
:mod:`hftlib.convert.bitstamp`'s job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hftlib.convert.base import ConvertReport, iter_lines
from hftlib.convert.exact import DecimalGrid, parse_int
from hftlib.convert.rows import pack_events
from hftlib.errors import DataError
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, F_LAST, K_TRADE

ORDER_COLUMNS = ("id", "timestamp", "exchange_timestamp", "price", "volume", "action", "direction")
TRADE_COLUMNS = (
    "trade_id",
    "timestamp",
    "exchange_timestamp",
    "price",
    "amount",
    "buy_order_id",
    "sell_order_id",
    "side",
)

BATCH_ROWS = 1 << 16
"""Order rows parsed per kernel call."""

_MS = 1_000_000
MAX_MS = (2**63 - 1) // _MS
"""Largest millisecond timestamp whose nanosecond value fits in int64."""
CREATED, CHANGED, DELETED = 0, 1, 2
"""Action codes of parsed order rows."""
_ACTIONS = {"created": CREATED, "changed": CHANGED, "deleted": DELETED}
_DIRECTIONS = {"bid": 1, "ask": -1}
_SIDES = {"buy": 1, "sell": -1}


def _iter_records(
    path: Path, columns: Sequence[str], report: ConvertReport
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, fields in the order of columns)`` after checking the header."""
    lines = iter_lines(path, report)
    header = next(lines, None)
    if header is None:
        raise DataError(str(path), 0, "empty file (no header line)")
    names = [h.strip().decode("utf-8", "replace") for h in header[1].split(b",")]
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(str(path), header[0], f"missing column(s) {missing}; header is {names}")
    index = [names.index(c) for c in columns]
    width = len(names)
    for n, raw in lines:
        try:
            parts = raw.decode("utf-8").split(",")
        except UnicodeDecodeError:
            report.reject(path, n, "line is not UTF-8", category="malformed line")
            continue
        if len(parts) != width:
            report.reject(
                path,
                n,
                f"expected {width} fields, got {len(parts)}: {raw[:80]!r}",
                category="malformed line",
            )
            continue
        yield n, [parts[i] for i in index]


@dataclass
class Grids:
    """Exact price and size parsers for one instrument."""

    price: DecimalGrid
    size: DecimalGrid

    @classmethod
    def for_instrument(cls, instrument: Instrument) -> Grids:
        """Build the parsers from the instrument's tick and lot size."""
        return cls(DecimalGrid(instrument.tick_size), DecimalGrid(instrument.lot_size))


@dataclass
class Trades:
    """The whole trades file as columns, in file order."""

    trade_id: np.ndarray
    local_ms: np.ndarray
    exch_ms: np.ndarray
    px: np.ndarray
    qty: np.ndarray
    maker: np.ndarray
    taker: np.ndarray
    side: np.ndarray

    def __len__(self) -> int:
        return len(self.trade_id)

    def events(self) -> np.ndarray:
        """Return one ``K_TRADE`` row per trade (side flag = aggressor)."""
        flags = np.where(self.side == 1, K_TRADE | F_BID, K_TRADE | F_ASK) | F_LAST
        return pack_events(
            flags.astype(np.uint32),
            self.exch_ms * _MS,
            self.local_ms * _MS,
            self.px,
            self.qty,
            self.maker,
            self.trade_id,
            self.taker,
        )


def read_trades(path: Path, grids: Grids, report: ConvertReport) -> Trades:
    """Read and check the trades file (bad lines are rejected through ``report``)."""
    cols: list[list[int]] = [[] for _ in range(8)]
    last_id = -1
    for n, f in _iter_records(path, TRADE_COLUMNS, report):
        try:
            tid, local, exch, buy, sell = (parse_int(f[i]) for i in (0, 1, 2, 5, 6))
            px, qty = grids.price(f[3]), grids.size(f[4])
        except ValueError as exc:
            report.reject(
                path,
                n,
                f"malformed or off-grid field ({exc})",
                category="malformed or off-grid field",
            )
            continue
        side = _SIDES.get(f[7].strip())
        reason = None
        if side is None:
            reason = f"side {f[7]!r} is not buy or sell"
        elif not (0 <= local < MAX_MS and 0 <= exch < MAX_MS) or min(tid, buy, sell) < 0:
            reason = f"negative id or timestamp out of range ({f[0]}, {f[1]}, {f[2]})"
        elif px <= 0 or qty <= 0:
            reason = f"price and amount must be positive (got {f[3]}, {f[4]})"
        elif tid <= last_id:
            reason = f"trade id {tid} does not increase (previous {last_id})"
        if reason is not None or side is None:
            reason = reason or "no side"
            category = "non-monotonic trade id" if "increase" in reason else "invalid field"
            report.reject(path, n, reason, category=category)
            continue
        last_id = tid
        maker, taker = (sell, buy) if side == 1 else (buy, sell)
        for col, value in zip(cols, (tid, local, exch, px, qty, maker, taker, side), strict=True):
            col.append(value)
    arrays = [np.asarray(c, dtype=np.int64) for c in cols]
    return Trades(*arrays)


OrderRow = tuple[int, int, int, int, int, int, int, int]
"""One parsed order row: id, local ms, exchange ms, px, qty, action, direction, line."""
_ID, _LOCAL, _EXCH, _PX, _QTY, _ACTION, _SIDE, _LINE = range(8)


def columns(rows: list[OrderRow]) -> np.ndarray:
    """Return parsed rows as an (8, n) int64 matrix, one column per field."""
    if not rows:
        return np.empty((8, 0), dtype=np.int64)
    return np.array(rows, dtype=np.int64).T.copy()


def _parse_order(
    path: Path, n: int, f: list[str], grids: Grids, report: ConvertReport
) -> OrderRow | None:
    try:
        oid, local, exch = parse_int(f[0]), parse_int(f[1]), parse_int(f[2])
        px, qty = grids.price(f[3]), grids.size(f[4])
    except ValueError as exc:
        report.reject(
            path, n, f"malformed or off-grid field ({exc})", category="malformed or off-grid field"
        )
        return None
    action = _ACTIONS.get(f[5].strip())
    side = _DIRECTIONS.get(f[6].strip())
    if action is None or side is None:
        report.reject(
            path,
            n,
            f"unknown action/direction {f[5]!r}/{f[6]!r}",
            category="unknown action or direction",
        )
        return None
    if px < 0 or qty < 0 or oid < 0 or not (0 <= local < MAX_MS and 0 <= exch < MAX_MS):
        report.reject(
            path,
            n,
            f"negative id, price or volume, or timestamp out of range ({', '.join(f[:5])})",
            category="invalid field",
        )
        return None
    return oid, local, exch, px, qty, action, side, n


# --- synthetic rows -----------------------------------------------------------------------


@dataclass
class Meta:
    """How many synthetic rows ob-analytics' ``meta.json`` declares (0 without the file)."""

    synthetic_created: int = 0
    synthetic_deleted: int = 0
    path: Path | None = None


def read_meta(orders_path: Path, report: ConvertReport) -> Meta:
    """Read ``meta.json`` beside the orders file; without it no row is flagged synthetic."""
    path = orders_path.parent / "meta.json"
    if not path.is_file():
        report.counts["no meta.json: no row flagged synthetic"] += 1
        return Meta()
    try:
        data: Any = orjson.loads(path.read_bytes())
        created, deleted = data["synthetic_created"], data["synthetic_deleted"]
        if not all(isinstance(v, int) and v >= 0 for v in (created, deleted)):
            raise TypeError("synthetic counts must be non-negative integers")
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        report.reject(
            path,
            0,
            f"unusable meta.json ({exc!r}); no row flagged synthetic",
            category="bad meta.json",
        )
        return Meta()
    return Meta(created, deleted, path)


def _check_start(rows: list[OrderRow], meta: Meta, report: ConvertReport) -> int:
    """Return the start block's length once ``rows`` is known to begin with it (else 0).

    The block must be ``created`` rows sharing one (local, exchange) timestamp pair: the
    REST book written in one go.
    """
    n = meta.synthetic_created
    if n == 0:
        return 0
    block = rows[:n]
    stamp = (block[0][_LOCAL], block[0][_EXCH]) if block else None
    if len(block) == n and all(
        r[_ACTION] == CREATED and (r[_LOCAL], r[_EXCH]) == stamp for r in block
    ):
        return n
    report.reject(
        meta.path or "meta.json",
        0,
        f"synthetic_created={n} but the orders file "
        f"does not start with {n} created rows sharing one timestamp; start rows "
        "not flagged synthetic",
        category="bad meta.json",
    )
    return 0


def _check_end(rows: list[OrderRow], start: int, meta: Meta, report: ConvertReport) -> int:
    """Return the end block's length: the last ``synthetic_deleted`` rows (else 0).

    The block must be ``deleted`` rows stamped with equal local and exchange time (the
    recorder wrote them at capture end; live rows always have some feed latency).
    """
    n = meta.synthetic_deleted
    if n == 0:
        return 0
    if len(rows) - start >= n and all(
        r[_ACTION] == DELETED and r[_LOCAL] == r[_EXCH] for r in rows[len(rows) - n :]
    ):
        return n
    report.reject(
        meta.path or "meta.json",
        0,
        f"synthetic_deleted={n} but the orders file "
        f"does not end with {n} deletes stamped at capture end; end rows not "
        "flagged synthetic",
        category="bad meta.json",
    )
    return 0


def order_batches(
    path: Path, grids: Grids, meta: Meta, report: ConvertReport
) -> Iterator[tuple[list[OrderRow], int, int]]:
    """Yield ``(rows, start_synthetic, end_synthetic)`` batches of parsed order rows.

    The first batch holds the whole start block, and the last ``synthetic_deleted`` rows
    are held back so that the final batch holds the whole end block.
    """
    rows: list[OrderRow] = []
    hold = meta.synthetic_deleted
    first = True
    for n, f in _iter_records(path, ORDER_COLUMNS, report):
        row = _parse_order(path, n, f, grids, report)
        if row is None:
            continue
        rows.append(row)
        need = max(BATCH_ROWS, meta.synthetic_created + 1) if first else BATCH_ROWS
        if len(rows) - hold < need:
            continue
        cut = len(rows) - hold
        batch, rows = rows[:cut], rows[cut:]
        yield batch, _check_start(batch, meta, report) if first else 0, 0
        first = False
    start = _check_start(rows, meta, report) if first else 0
    yield rows, start, _check_end(rows, start, meta, report)

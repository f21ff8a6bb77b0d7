"""Bybit historical order book files (``*_ob500.data[.zip]``) -> events (format ``bybit``).

One JSON message per line: ``{"topic": "orderbook.<depth>.<symbol>", "type": "snapshot" |
"delta", "ts": ms, "cts": ms (optional), "data": {"s", "b": [[px, qty]], "a": [...], "u",
"seq"}}``, the same messages as the v5 public ``orderbook`` stream.

``snapshot``
    A whole-book ``K_CLEAR`` then one ``K_SNAPSHOT`` per level (bids then asks).
``delta``
    One ``K_DEPTH`` per level, absolute size (``"0"`` deletes).

Every row of a message has ``seq = u``. Deltas have ``aux = u - 1``: the ``u`` they follow
under the +1 rule, so downstream ``aux != previous seq`` marks a gap exactly as for Binance.
The last row of a message gets ``F_LAST``. ``exch_ts`` is ``cts`` (the matching engine's
time) when present, else ``ts``; ``local_ts`` is ``ts`` (the time Bybit's system published
the message, the closest thing to a receive time the file has).

Chain check: a snapshot, or any message with ``u == 1`` (Bybit's service restarted), resets
the book. Each delta should have ``u == previous u + 1`` (the recorded file shows exactly
that); a larger jump is reported with :meth:`ConvertReport.gap`, followed by a whole-book
``K_CLEAR`` flagged ``F_SYNTHETIC`` (counted in ``report.resyncs``): levels the missing
deltas would have changed are gone instead of stale until the next snapshot. A ``u`` that
does not increase is rejected (category ``"non-monotonic u"``). Deltas before the first
snapshot are emitted and counted in ``report.counts["deltas before first snapshot"]``;
deltas without levels only advance ``u`` and are counted in ``report.counts["empty deltas"]``.

Malformed JSON, a message of the wrong shape, another topic or symbol, an unknown ``type``
and off-grid prices are rejected per line through the report. Several files (e.g.
consecutive days) are read in order of their first message's ``ts``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import orjson

from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport, EventBuilder, iter_lines
from hftlib.convert.emit import add_clear, drain
from hftlib.errors import DataError
from hftlib.instrument import Instrument
from hftlib.types import F_ASK, F_BID, K_DEPTH, K_SNAPSHOT, NO_ID

FORMAT_HELP = """\
Bybit historical order book files from the Bybit history-data page
(<date>_<SYMBOL>_ob500.data and the like, usually zipped): one JSON message a line, as on
the v5 orderbook stream. snapshot -> K_CLEAR + K_SNAPSHOT; delta -> K_DEPTH (qty "0"
deletes). seq = u, aux = u - 1 on deltas; u must rise by 1 (u == 1 or a snapshot resets);
gaps are reported and followed by a synthetic K_CLEAR. exch_ts = cts if present else ts;
local_ts = ts. Give one or more files of one symbol, in any order (read in time order).
Example: hft data convert bybit 2024-12-01_XRPUSDT_ob500.data.zip
"""

_MS = 1_000_000
_MAX_ID = 1 << 63
_MAX_MS = _MAX_ID // _MS  # ms timestamps whose ns value fits int64
_TYPES = ("snapshot", "delta")


@dataclass(frozen=True, slots=True)
class BookMessage:
    """One order-book message, checked for shape.

    Parameters
    ----------
    is_snapshot : bool
        ``type == "snapshot"``.
    symbol : str
        ``data.s``.
    exch_ts, local_ts : int
        Timestamps in ns (``cts`` or ``ts``; ``ts``).
    u : int
        Update id.
    bids, asks : list
        ``[price, size]`` string pairs.
    """

    is_snapshot: bool
    symbol: str
    exch_ts: int
    local_ts: int
    u: int
    bids: list[list[str]]
    asks: list[list[str]]


def parse_message(raw: bytes) -> BookMessage | str:
    """Decode one line; return the message, or the reason it is malformed."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"malformed json ({exc})"
    if not isinstance(msg, dict):
        return "message is not a JSON object"
    topic, kind, data = msg.get("topic"), msg.get("type"), msg.get("data")
    if not isinstance(topic, str) or not topic.startswith("orderbook."):
        return f"not an orderbook topic: {topic!r}"
    if kind not in _TYPES:
        return f"unknown message type {kind!r}"
    if not isinstance(data, dict):
        return "data is not an object"
    ts, cts, u, symbol = msg.get("ts"), msg.get("cts", msg.get("ts")), data.get("u"), data.get("s")
    if not (_in_range(ts, 0, _MAX_MS) and _in_range(cts, 0, _MAX_MS) and _in_range(u, 1, _MAX_ID)):
        return f"bad ts/cts/u ({ts!r}, {cts!r}, {u!r})"
    if not isinstance(symbol, str) or not topic.endswith("." + symbol):
        return f"data.s {symbol!r} does not match topic {topic!r}"
    bids, asks = data.get("b"), data.get("a")
    if not (_is_levels(bids) and _is_levels(asks)):
        return "b/a are not lists of [price, size] strings"
    return BookMessage(kind == "snapshot", symbol, cts * _MS, ts * _MS, u, bids, asks)


def _in_range(value: Any, low: int, high: int) -> TypeGuard[int]:
    """True for a JSON integer (not a boolean) with ``low <= value < high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _is_levels(levels: Any) -> TypeGuard[list[list[str]]]:
    # Prices and sizes arrive as decimal strings; a number or boolean here is not Bybit's
    # format (and a boolean would otherwise read as 1.0), a leading minus is never valid.
    return isinstance(levels, list) and all(
        isinstance(lv, list)
        and len(lv) == 2
        and isinstance(lv[0], str)
        and isinstance(lv[1], str)
        and not lv[0].lstrip().startswith("-")
        and not lv[1].lstrip().startswith("-")
        for lv in levels
    )


def _first_message(path: Path) -> BookMessage | None:
    scratch = ConvertReport("bybit", [str(path)])
    try:
        for _, raw in iter_lines(path, scratch):
            parsed = parse_message(raw)
            if isinstance(parsed, BookMessage):
                return parsed
    except (OSError, DataError):
        return None
    return None


def _ordered(paths: Sequence[Path]) -> list[Path]:
    """Order files by their first message's ``ts``; unreadable files go last, as given."""
    keyed = []
    for i, p in enumerate(paths):
        first = _first_message(Path(p))
        keyed.append((first is None, first.local_ts if first else 0, i, Path(p)))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def detect_instrument(paths: Sequence[Path]) -> tuple[str, str] | None:
    """Return ``("bybit", symbol)`` from the first readable message, or None."""
    for path in paths:
        first = _first_message(Path(path))
        if first is not None:
            return "bybit", first.symbol
    return None


def convert(
    paths: Sequence[Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Convert Bybit order book files into event chunks of at most ``chunk_rows`` rows.

    Parameters
    ----------
    paths : sequence of Path
        ``.data`` files (plain, ``.zip``, ``.gz``) of one symbol, in any order.
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
    symbol: str | None = None
    prev_u: int | None = None
    for path in _ordered(paths):
        b.path = str(path)
        for n, raw in iter_lines(path, report):
            msg = parse_message(raw)
            if isinstance(msg, str):
                report.reject(path, n, msg, category=_category(msg))
                continue
            if symbol is None:
                symbol = msg.symbol
            elif msg.symbol != symbol:
                report.reject(
                    path,
                    n,
                    f"symbol {msg.symbol!r}, the conversion is {symbol!r}",
                    category="other symbol",
                )
                continue
            if msg.is_snapshot or msg.u == 1:
                report.counts["snapshots"] += 1
                add_clear(b, msg.exch_ts, msg.local_ts, seq=msg.u, line=n)
                kind, aux = K_SNAPSHOT, NO_ID
            else:
                if prev_u is None:
                    report.counts["deltas before first snapshot"] += 1
                elif msg.u <= prev_u:
                    report.reject(
                        path,
                        n,
                        f"u {msg.u} after {prev_u} does not increase",
                        category="non-monotonic u",
                    )
                    continue
                elif msg.u != prev_u + 1:
                    report.gap(
                        path, n, f"u {msg.u} after {prev_u}: {msg.u - prev_u - 1} updates missing"
                    )
                    report.resyncs += 1
                    add_clear(b, msg.exch_ts, msg.local_ts, seq=msg.u, line=n, synthetic=True)
                kind, aux = K_DEPTH, msg.u - 1
                if not msg.bids and not msg.asks:
                    report.counts["empty deltas"] += 1
            prev_u = msg.u
            b.add_levels(
                kind | F_BID, msg.exch_ts, msg.local_ts, msg.bids, seq=msg.u, aux=aux, line=n
            )
            b.add_levels(
                kind | F_ASK, msg.exch_ts, msg.local_ts, msg.asks, seq=msg.u, aux=aux, line=n
            )
            b.mark_last()
            if b.full:
                yield from drain(b)
        yield from drain(b)


def _category(reason: str) -> str:
    """Group a :func:`parse_message` reason for the report's counts."""
    for prefix in ("malformed json", "unknown message type", "not an orderbook topic"):
        if reason.startswith(prefix):
            return prefix
    return "malformed message"

"""Binance spot and USD-M raw WebSocket captures -> hftlib events, with full book sync.

Input lines are ``<local_receive_ns> <json>``. The JSON is a combined-stream envelope
``{"stream": "<sym>@<name>", "data": {...}}`` (``depth``/``depth@100ms``/``depth@0ms`` diffs,
``trade``, ``bookTicker``), a bare stream payload (the same ``data`` without the envelope), or a
bare REST depth snapshot ``{"lastUpdateId", "bids", "asks"}`` (USD-M ones also carry ``E``/``T``).
Several paths are consecutive files of one capture (e.g. one day after another): the book
sync carries on across the boundary.

Book sync follows the official procedure (:mod:`hftlib.convert.binance_sync`): diffs are
buffered until a snapshot bridges them; a diff that does not chain is a gap, reported through
:meth:`ConvertReport.gap`, after which one whole-book ``K_CLEAR`` (both side flags,
``F_LAST``, ``F_SYNTHETIC``) tells consumers the book is invalid, and diffs are buffered until
a later snapshot bridges them again (``report.resyncs`` counts those recoveries). Spot or
futures rules follow the instrument: ``kind == spot`` uses the spot rules, any other kind the
USD-M ``pu`` rules.

Output
------
snapshot
    One ``K_CLEAR`` (both sides, ``px = NO_PX``) then one ``K_SNAPSHOT`` row per level, bids
    then asks, ``F_LAST`` on the last; ``seq = lastUpdateId``. A snapshot that arrives while
    the book is synced adds nothing and is only counted (``snapshot.ignored``).
depth diff
    ``K_DEPTH`` rows, bids then asks, ``seq = u``, ``aux = U - 1`` (spot) or ``pu`` (USD-M),
    ``F_LAST`` on the last row of the message. Consumers check the chain with
    ``aux == previous seq``; the first diff after a snapshot instead bridges it:
    ``aux < snapshot seq < seq`` on spot, ``aux < U <= snapshot seq <= seq`` on USD-M.
    Diffs applied from the buffer when a snapshot arrives are released at the snapshot's
    ``local_ts`` (that is when a live client could apply them), which keeps the output in
    ``local_ts`` order; their ``exch_ts`` is their own.
trade
    One ``K_TRADE`` row with ``F_LAST``; the side flag is the aggressor: ``m = true`` means
    the buyer is the maker, so the taker sold (``F_ASK``). ``seq`` = trade id ``t``. USD-M
    trades whose ``X`` is not ``MARKET`` (insurance-fund and ADL prints, which do not take
    liquidity from the public book) are not emitted and are counted as ``trade.non_market``.
bookTicker
    Two ``K_BBO`` rows, bid then ask (``F_LAST``), ``seq = u``.

Timestamps
----------
Binance times are ms; they become ns here. ``exch_ts`` is the transaction time ``T`` where
the venue sends one (USD-M depth, USD-M bookTicker, USD-M snapshot, all trades) and the event
time ``E`` for spot depth. Spot bookTicker messages and spot snapshots carry no time at all:
they get the latest ``E`` received on the capture before them (the venue produced them after
that instant, so it is a lower bound in the exchange's clock), or their own ``local_ts`` when
nothing timed came before them.

Speed
-----
Two paths give the same rows. The general path parses a line with orjson (a diff's or
snapshot's level arrays unquoted so that prices and sizes arrive as numbers, see
:func:`hftlib.convert.binance_json.loads_numeric_levels`), checks it in Python and adds rows
through :class:`EventBuilder` (``add_levels`` for diffs and snapshots). The compiled lane
(:mod:`hftlib.convert.binance_lane`) reads runs of bookTicker, trade and chaining depth lines
(all but a handful of lines once the book is synced) straight from the bytes and writes
finished rows with the same grid arithmetic; it declines every line it cannot read with
certainty (and every diff that does not simply chain onto a synced book), which then takes the
general path. ``convert(..., lane=False)`` uses the general path alone; tests compare the two
byte for byte.

Counting
--------
``report.counts`` holds each message type read and accepted (``depthUpdate``, ``trade``,
``bookTicker``, ``snapshot``), subscription acknowledgements (``control``, harmless, no rows)
and the sync outcomes: ``depthUpdate.applied``, ``depthUpdate.discarded`` (older than the
snapshot, dropped as the procedure says) with their ``depthUpdate.discarded_levels``,
``depthUpdate.empty``, ``snapshot.applied``, ``snapshot.ignored``, ``trade.non_market``.
Everything else goes through :meth:`ConvertReport.reject`, by category: ``malformed line``,
``bad local timestamp``, ``malformed json``, ``malformed message``, ``unknown stream``,
``unknown message``, ``venue error``, ``symbol mismatch``, ``wrong market``,
``non-monotonic id``, ``stale snapshot`` (too old to bridge the buffered diffs),
``depth without book`` (never bridged by any snapshot, e.g. a day file read without the
file holding the snapshot), plus the builder's off-grid categories and ``truncated input``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Final

import numba
import numpy as np
import orjson

from hftlib.convert import binance_json as bj
from hftlib.convert import binance_sync as bs
from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport, EventBuilder, iter_lines
from hftlib.convert.binance_lane import RUN_BYTES, RUN_LINES, Lane
from hftlib.instrument import Instrument, InstrumentKind
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
)

FORMAT_HELP = """\
Binance spot / USD-M raw WebSocket capture (hftbacktest's collector format).

One message a line: `<local_receive_ns> <json>`, where the JSON is a combined-stream
envelope {"stream": "btcusdt@depth@100ms", "data": {...}} for depth diffs, trades and
bookTicker, or a bare REST depth snapshot {"lastUpdateId": ..., "bids": [...], "asks": [...]}
recorded after the first diffs. Plain, .gz, .xz or .zip files. Give consecutive files of one
capture in time order; the book sync continues across them (a file without a snapshot can only
be converted after the file that holds one). Spot vs USD-M rules follow the instrument,
detected from the stream (`pu` in depth diffs means USD-M).

Example: hft data convert binance spot/btcusdt_20240808.gz spot/btcusdt_20240809.gz -o btc.npy
"""

NS_PER_MS: Final = 1_000_000
MAX_BUFFERED_DIFFS: Final = 200_000
"""Diffs kept while waiting for a snapshot; older ones are rejected as ``depth without book``."""
DETECT_LINES: Final = 5_000
"""Lines :func:`detect_instrument` reads at most before giving up."""

_MIN_LOCAL_NS: Final = 10**18  # 2001-09-09 in ns: anything smaller is s/ms/us, not ns


_BOOK_TICKER_KEYS: Final = frozenset({"u", "b", "B", "a", "A"})
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)

# Stream kinds, from the stream name.
_DEPTH: Final = 1
_TRADE: Final = 2
_BBO: Final = 3

_TAKER_SIDE: Final = {True: F_ASK, False: F_BID}  # m: the buyer is the maker -> the taker sold


class _Bad(Exception):
    """One input message that must be rejected: ``(reason, category)``."""

    def __init__(self, reason: str, category: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


def detect_instrument(paths: Sequence[str | Path]) -> tuple[str, str] | None:
    """Return ``("binance" | "binance-futures", SYMBOL)`` read off the first file, or None.

    USD-M is recognised by ``pu`` in a depth diff, ``X`` in a trade or ``T`` in a bookTicker;
    spot by their absence. Reads at most :data:`DETECT_LINES` lines.
    """
    if not paths:
        return None
    report = ConvertReport("binance", [str(paths[0])])
    for _, line in islice(iter_lines(Path(paths[0]), report), DETECT_LINES):
        _, _, payload = line.partition(b" ")
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(msg, dict):
            continue
        data = msg.get("data", msg)
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            continue
        futures = _looks_futures(data)
        if futures is not None:
            return ("binance-futures" if futures else "binance", data["s"].upper())
    return None


def _looks_futures(data: dict[str, Any]) -> bool | None:
    event = data.get("e")
    if event == "depthUpdate":
        return "pu" in data
    if event == "trade":
        return "X" in data or "M" not in data
    if event == "bookTicker" or data.keys() >= _BOOK_TICKER_KEYS:
        return "T" in data
    return None


def convert(
    paths: Sequence[str | Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    lane: bool = True,
) -> Iterator[np.ndarray]:
    """Yield event chunks of at most ``chunk_rows`` rows converted from Binance captures.

    Parameters
    ----------
    paths : sequence of path
        Consecutive capture files of one symbol, in time order.
    instrument : Instrument
        Spec for prices and sizes; its kind selects the spot or the futures sync rules.
    report : ConvertReport
        Receives counts, rejections, gaps and resyncs.
    chunk_rows : int
        Most rows per yielded array. Default :data:`DEFAULT_CHUNK_ROWS`.
    lane : bool
        Read regular lines in the compiled lane (:mod:`hftlib.convert.binance_lane`). False
        sends every line through the general path, which gives the same output more slowly;
        tests compare the two. With numba's JIT disabled (``NUMBA_DISABLE_JIT=1``) the lane
        would be slower than the general path and is not used. Default True.

    Yields
    ------
    numpy.ndarray
        Arrays of :data:`hftlib.types.EVENT_DTYPE` in ``local_ts`` order.
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    jit = not numba.config.DISABLE_JIT  # type: ignore[attr-defined]
    conv = _Converter(instrument, report, chunk_rows, lane and jit)
    for path in paths:
        yield from conv.run(str(path))
    conv.finish()
    yield from conv.flush(final=True)


class _Converter:
    """State of one conversion: the builder, the book sync, the spot clock and the last ids."""

    __slots__ = (
        "builder",
        "chunk_rows",
        "clock_ms",
        "counts",
        "futures",
        "lane",
        "lane_prefixes",
        "out_rows",
        "use_lane",
        "last_bbo",
        "last_trade",
        "out",
        "report",
        "resync_pending",
        "streams",
        "symbol",
        "sync",
    )

    def __init__(
        self, instrument: Instrument, report: ConvertReport, chunk_rows: int, lane: bool
    ) -> None:
        self.report = report
        self.counts = report.counts
        self.chunk_rows = chunk_rows
        self.builder = EventBuilder(instrument, report, chunk_rows)
        self.futures = instrument.kind != InstrumentKind.SPOT
        self.symbol = instrument.symbol.upper()
        self.sync = bs.BookSync(self.futures)
        self.lane = Lane(self.symbol, self.futures, instrument.tick_size, instrument.lot_size)
        self.use_lane = lane
        # No line starts with the empty tuple of prefixes: without the lane all go to _line.
        self.lane_prefixes = self.lane.prefixes if lane else ()
        self.out_rows = 0
        # stream name -> kind, or (reason, category) for a stream that is rejected
        self.streams: dict[Any, int | tuple[str, str]] = {}
        self.out: list[np.ndarray] = []
        self.clock_ms = 0  # latest spot event time E seen (see the module docstring)
        self.last_trade = -1
        self.last_bbo = -1
        self.resync_pending = False

    # --- driving ---------------------------------------------------------------------------

    def run(self, path: str) -> Iterator[np.ndarray]:
        """Convert one file, yielding chunks whenever the builder fills.

        Runs of bookTicker/trade lines go through the compiled lane
        (:mod:`hftlib.convert.binance_lane`); every other line, and any line the lane
        declines, through :meth:`_line`.
        """
        self.set_path(path)
        builder = self.builder
        chunk_rows = self.chunk_rows
        run_lines: list[bytes] = []
        run_numbers: list[int] = []
        run_bytes = 0
        for n, line in iter_lines(Path(path), self.report):
            # A 19-digit ns time and a space come first; the lane checks them again.
            if line.startswith(self.lane_prefixes, 20):
                run_lines.append(line)
                run_numbers.append(n)
                run_bytes += len(line)
                if len(run_lines) < RUN_LINES and run_bytes < RUN_BYTES:
                    continue
                self._lane(path, run_lines, run_numbers)
                run_lines = []
                run_numbers = []
                run_bytes = 0
            else:
                if run_lines:
                    self._lane(path, run_lines, run_numbers)
                    run_lines = []
                    run_numbers = []
                    run_bytes = 0
                self._line(path, n, line)
            # The builder's size is a Python call; every 64 lines is enough (flush slices).
            if self.out_rows >= chunk_rows or (not n & 63 and len(builder) >= chunk_rows):
                yield from self.flush()
        if run_lines:
            self._lane(path, run_lines, run_numbers)
        if self.out_rows >= chunk_rows or len(builder) >= chunk_rows:
            yield from self.flush()

    def _line(self, path: str, n: int, line: bytes) -> None:
        """Convert one input line (the general path)."""
        report = self.report
        sp = line.find(b" ")
        try:
            local = int(line[:sp]) if sp > 0 else -1
        except ValueError:
            local = -1
        if not _MIN_LOCAL_NS <= local <= bj.MAX_ID:
            self._reject_prefix(path, n, line, local)
            return
        payload = line[sp + 1 :]
        try:
            cut = payload.find(b'"b":[')
            if cut > 0:
                msg = bj.loads_numeric_levels(payload, cut, bj.DIFF_LEVELS)
            else:
                cut = payload.find(b'"bids":[')
                msg = bj.loads_numeric_levels(payload, cut, bj.SNAPSHOT_LEVELS) if cut > 0 else None
            checked = msg is not None
            if not checked:
                msg = orjson.loads(payload)
            data = msg.get("data") if type(msg) is dict else None
            if data is None:
                self._other(path, n, local, msg)
                return
            kind = self.streams.get(msg["stream"])
            if kind is None:
                kind = self.streams[msg["stream"]] = self._classify(msg["stream"])
            if type(data) is not dict:
                raise _Bad("stream payload is not an object", "malformed message")
            if isinstance(kind, tuple):  # a stream that is rejected, with its reason
                raise _Bad(*kind)
            if kind == _BBO:
                self._bbo(n, local, data)
            elif kind == _DEPTH:
                self._depth(path, n, local, data, checked)
            else:
                self._trade(n, local, data)
        except orjson.JSONDecodeError as exc:
            report.reject(path, n, f"malformed JSON ({exc})", category="malformed json")
        except _Bad as bad:
            report.reject(path, n, bad.reason, category=bad.category)
        except _MALFORMED as exc:
            report.reject(
                path,
                n,
                f"malformed message ({type(exc).__name__}: {exc})",
                category="malformed message",
            )

    def _lane(self, path: str, lines: list[bytes], numbers: list[int]) -> None:
        """Convert a run of lane lines in the compiled lane, in order.

        The lane shares the converter's state (last ids, spot clock, the synced book's id)
        through its state array; a line it declines goes to :meth:`_line`, after which the
        lane resumes with the state that line left.
        """
        joined = b"\n".join(lines) + b"\n"
        lane = self.lane
        lane.start(joined, len(lines))
        state = lane.state
        sync = self.sync
        counts = self.counts
        first = 0
        pos = 0
        while first < len(lines):
            synced = sync.state == bs.SYNCED
            state[:] = (self.last_trade, self.last_bbo, self.clock_ms, sync.book_id, synced)
            pos, done, rows = lane.parse(pos, first)
            self.last_trade, self.last_bbo, self.clock_ms, book_id, _ = state.tolist()
            if done:
                bbos, trades, diffs = lane.counts.tolist()
                counts["bookTicker"] += bbos
                counts["trade"] += trades
                if diffs:
                    counts["depthUpdate"] += diffs
                    counts["depthUpdate.applied"] += diffs
                    sync.chained(book_id)
                if rows:
                    self._emit(lane.events(rows))
            first += done
            if first < len(lines):  # the lane declined this line: the general path decides
                self._line(path, numbers[first], lines[first])
                pos = joined.index(b"\n", pos) + 1
                first += 1

    def _emit(self, events: np.ndarray) -> None:
        """Queue finished rows, after the rows still in the builder (which come first)."""
        if len(self.builder):
            self._take()
        self.out.append(events)
        self.out_rows += len(events)
        self.report.events += len(events)

    def set_path(self, path: str) -> None:
        """Make ``path`` the file of the rows added next (finishing rows of another file)."""
        builder = self.builder
        if path != builder.path:
            if len(builder):
                self._take()
            builder.path = path

    def finish(self) -> None:
        """Reject the diffs that no snapshot ever bridged."""
        for path, n, _, first, last, *_ in self.sync.drain():
            self.report.reject(
                path,
                n,
                f"depth diff U={first} u={last} never applied: no snapshot bridged it",
                category="depth without book",
            )

    def flush(self, *, final: bool = False) -> Iterator[np.ndarray]:
        """Yield the queued rows in chunks of at most ``chunk_rows`` rows."""
        chunk_rows = self.chunk_rows
        if final or len(self.builder) >= chunk_rows:
            self._take()
        out, self.out, self.out_rows = self.out, [], 0
        if out:
            events = out[0] if len(out) == 1 else np.concatenate(out)
            for start in range(0, len(events), chunk_rows):
                yield events[start : start + chunk_rows]

    def _take(self) -> None:
        events = self.builder.take()
        if len(events):
            self.out.append(events)
            self.out_rows += len(events)

    def _reject_prefix(self, path: str, n: int, line: bytes, local: int) -> None:
        if local < 0:
            reason, category = f"expected '<local_ns> <json>', got {line[:60]!r}", "malformed line"
        else:
            reason, category = f"local timestamp {local} is not ns", "bad local timestamp"
        self.report.reject(path, n, reason, category=category)

    # --- messages -----------------------------------------------------------------------------

    def _other(self, path: str, n: int, local: int, msg: Any) -> None:
        """Handle a line that is not a combined-stream envelope."""
        if type(msg) is not dict:
            raise _Bad(f"expected a JSON object, got {type(msg).__name__}", "malformed message")
        if "lastUpdateId" in msg:
            self._snapshot(path, n, local, msg)
        elif "e" in msg or "u" in msg:  # a raw (single-stream) payload
            event = msg.get("e")
            if event == "depthUpdate":
                self._depth(path, n, local, msg, False)
            elif event == "trade":
                self._trade(n, local, msg)
            elif event == "bookTicker" or (event is None and msg.keys() >= _BOOK_TICKER_KEYS):
                self._bbo(n, local, msg)
            else:
                raise _Bad(f"unknown message type {str(event)[:40]!r}", "unknown message")
        elif "code" in msg:
            raise _Bad(f"venue error message {str(msg)[:120]}", "venue error")
        elif "result" in msg and "id" in msg:
            self.counts["control"] += 1
        else:
            raise _Bad(f"unknown message with keys {sorted(map(str, msg))[:8]}", "unknown message")

    def _classify(self, stream: Any) -> int | tuple[str, str]:
        if type(stream) is not str:
            raise _Bad(f"stream name {stream!r} is not a string", "malformed message")
        sym, at, name = stream.partition("@")
        if not at:
            return (f"unknown stream {stream!r}", "unknown stream")
        if sym.upper() != self.symbol:
            return (f"stream {stream!r} is not for {self.symbol}", "symbol mismatch")
        if name == "depth" or name.startswith("depth@"):
            if self.use_lane:
                self.lane.use_depth_stream(stream)
                self.lane_prefixes = self.lane.prefixes
            return _DEPTH
        if name == "trade":
            return _TRADE
        if name == "bookTicker":
            return _BBO
        return (
            f"unknown stream {stream!r} (converted: depth, trade, bookTicker)",
            "unknown stream",
        )

    def _check_symbol(self, data: dict[str, Any]) -> None:
        if data["s"] != self.symbol:
            raise _Bad(f"symbol {str(data['s'])[:40]!r} is not {self.symbol}", "symbol mismatch")

    def _depth(self, path: str, n: int, local: int, d: dict[str, Any], checked: bool) -> None:
        """Validate one diff (``checked``: its levels already are) and pass it to the sync."""
        if d["e"] != "depthUpdate":
            raise _Bad(f"depth stream carries event {str(d['e'])[:40]!r}", "malformed message")
        self._check_symbol(d)
        first = d["U"]
        last = d["u"]
        bids = d["b"]
        asks = d["a"]
        if self.futures:
            prev = d["pu"]
            ts = d["T"]
        else:
            if "pu" in d:
                raise _Bad(
                    "USD-M depth diff (has 'pu') read with a spot instrument", "wrong market"
                )
            prev = first - 1 if type(first) is int else None
            ts = d["E"]
        if not (bj.id_ok(first) and bj.id_ok(last) and bj.id_ok(prev) and prev < first <= last):
            raise _Bad(f"bad update ids U={first!r} u={last!r} prev={prev!r}", "malformed message")
        if not (bj.ms_ok(ts) and (checked or (bj.levels_ok(bids) and bj.levels_ok(asks)))):
            raise _Bad("bad event time or price levels", "malformed message")
        if not self.futures and ts > self.clock_ms:
            self.clock_ms = ts
        self.counts["depthUpdate"] += 1
        self._diff((path, n, ts * NS_PER_MS, first, last, prev, bids, asks), local)

    def _diff(self, diff: tuple[Any, ...], local: int) -> None:
        """Pass one validated diff through the book sync and act on the verdict."""
        path, n, exch, first, last, prev, bids, asks = diff
        verdict = self.sync.diff(first, last, prev, diff)
        if verdict == bs.APPLY:
            self.counts["depthUpdate.applied"] += 1
            if path != self.builder.path:
                self.set_path(path)
            add = self.builder.add_levels
            if bids:
                add(K_DEPTH | F_BID, exch, local, bids, seq=last, aux=prev, line=n, last=not asks)
            if asks:
                add(K_DEPTH | F_ASK, exch, local, asks, seq=last, aux=prev, line=n, last=True)
            if not bids and not asks:
                self.counts["depthUpdate.empty"] += 1
        elif verdict == bs.BUFFER:
            if len(self.sync.buffer) > MAX_BUFFERED_DIFFS:
                old_path, old_n, _, old_first, old_last, *_ = self.sync.evict_oldest()
                self.report.reject(
                    old_path,
                    old_n,
                    f"depth diff U={old_first} u={old_last} never applied: "
                    f"no snapshot within {MAX_BUFFERED_DIFFS} diffs",
                    category="depth without book",
                )
        elif verdict == bs.DISCARD:
            self._count_discarded(diff)
        elif verdict == bs.STALE:
            self.report.reject(
                path,
                n,
                f"depth diff u={last} is not after the book's update id "
                f"{self.sync.book_id} (duplicate or out of order)",
                category="non-monotonic id",
            )
        else:  # GAP: the sync buffered this diff for the next snapshot
            # After a GAP verdict the sync still holds the id it had before this diff.
            self.report.gap(
                path,
                n,
                f"depth diff U={first} u={last} prev={prev} does not "
                f"follow update id {self.sync.book_id}",
            )
            self.resync_pending = True
            if path != self.builder.path:
                self.set_path(path)
            flags = K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC
            self.builder.add_clear(flags, exch, local, seq=last, line=n)

    def _count_discarded(self, diff: tuple[Any, ...]) -> None:
        self.counts["depthUpdate.discarded"] += 1
        self.counts["depthUpdate.discarded_levels"] += len(diff[6]) + len(diff[7])

    def _snapshot(self, path: str, n: int, local: int, msg: dict[str, Any]) -> None:
        lid = msg["lastUpdateId"]
        bids = msg["bids"]
        asks = msg["asks"]
        if not (bj.id_ok(lid) and bj.levels_ok(bids) and bj.levels_ok(asks)):
            raise _Bad("snapshot with a bad lastUpdateId or price levels", "malformed message")
        ts = msg.get("T")
        if ts is not None and not bj.ms_ok(ts):
            raise _Bad(f"snapshot time T={ts!r} is not ms since the epoch", "malformed message")
        self.counts["snapshot"] += 1
        verdict, release, old = self.sync.snapshot(lid)
        if verdict == bs.IGNORED:
            self.counts["snapshot.ignored"] += 1
            return
        if verdict == bs.TOO_OLD:
            first = self.sync.buffer[0][0]
            self.report.reject(
                path,
                n,
                f"snapshot lastUpdateId={lid} is older than the first "
                f"buffered diff U={first}: cannot bridge",
                category="stale snapshot",
            )
            return
        self.counts["snapshot.applied"] += 1
        if self.resync_pending:
            self.report.resyncs += 1
            self.resync_pending = False
        for diff in old:
            self._count_discarded(diff)
        exch = ts * NS_PER_MS if ts is not None else self._spot_time(local)
        self.set_path(path)
        builder = self.builder
        builder.add_clear(K_CLEAR | F_BID | F_ASK, exch, local, seq=lid, line=n)
        builder.add_levels(K_SNAPSHOT | F_BID, exch, local, bids, seq=lid, line=n, last=not asks)
        builder.add_levels(K_SNAPSHOT | F_ASK, exch, local, asks, seq=lid, line=n, last=True)
        if not bids and not asks:
            builder.mark_last()
        for diff in release:
            self._diff(diff, local)

    def _trade(self, n: int, local: int, d: dict[str, Any]) -> None:
        if d["e"] != "trade":
            raise _Bad(f"trade stream carries event {str(d['e'])[:40]!r}", "malformed message")
        self._check_symbol(d)
        tid = d["t"]
        ts = d["T"]
        px = d["p"]
        qty = d["q"]
        maker_buys = d["m"]
        if not (
            bj.id_ok(tid)
            and bj.ms_ok(ts)
            and type(px) is str
            and type(qty) is str
            and type(maker_buys) is bool
        ):
            raise _Bad("trade with a bad id, time, price, size or side", "malformed message")
        if not self.futures:
            event_ms = d["E"]
            if not bj.ms_ok(event_ms):
                raise _Bad(f"trade event time E={event_ms!r} is not ms", "malformed message")
            if event_ms > self.clock_ms:
                self.clock_ms = event_ms
        elif d.get("X", "MARKET") != "MARKET":
            self.counts["trade.non_market"] += 1
            return
        if tid <= self.last_trade:
            raise _Bad(f"trade id {tid} is not after {self.last_trade}", "non-monotonic id")
        self.last_trade = tid
        self.counts["trade"] += 1
        flags = K_TRADE | _TAKER_SIDE[maker_buys] | F_LAST
        self.builder.add(flags, ts * NS_PER_MS, local, px, qty, seq=tid, line=n)

    def _bbo(self, n: int, local: int, d: dict[str, Any]) -> None:
        if d["s"] != self.symbol:
            self._check_symbol(d)
        uid = d["u"]
        bid = d["b"]
        bid_qty = d["B"]
        ask = d["a"]
        ask_qty = d["A"]
        if not (
            bj.id_ok(uid)
            and type(bid) is str
            and type(bid_qty) is str
            and type(ask) is str
            and type(ask_qty) is str
        ):
            raise _Bad("bookTicker with a bad id, price or size", "malformed message")
        if self.futures:
            ts = d["T"]
            if not bj.ms_ok(ts):
                raise _Bad(f"bookTicker time T={ts!r} is not ms", "malformed message")
            exch = ts * NS_PER_MS
        else:
            exch = self._spot_time(local)
        if uid <= self.last_bbo:
            raise _Bad(f"bookTicker id {uid} is not after {self.last_bbo}", "non-monotonic id")
        self.last_bbo = uid
        self.counts["bookTicker"] += 1
        add = self.builder.add
        add(K_BBO | F_BID, exch, local, bid, bid_qty, seq=uid, line=n)
        add(K_BBO | F_ASK | F_LAST, exch, local, ask, ask_qty, seq=uid, line=n)

    def _spot_time(self, local: int) -> int:
        """Return the exchange time for an untimed spot message (see the module docstring)."""
        return self.clock_ms * NS_PER_MS if self.clock_ms else local

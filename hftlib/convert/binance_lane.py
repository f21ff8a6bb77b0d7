"""A compiled fast lane for the Binance converter's regular lines: bookTicker, trade, depth.

Almost every capture line is a bookTicker, a trade or (once the book is synced) a depth diff
that chains onto the previous one. The converter collects runs of such lines and hands them to
:func:`parse_run`, which reads the bytes directly and writes finished event rows: prices and
sizes as int64 ticks and lots, put on the grid exactly as :func:`hftlib.instrument.grid_values`
does (the decimal is first read as the double ``float(str)`` gives, then divided and rounded
with the same IEEE operations).

The lane accepts only what it can read with certainty: ``<19-digit ns> {"stream":"<name>",
"data":{...}}`` with no whitespace; members that are plain ASCII strings without escapes,
unsigned integers, booleans or null, plus the ``b``/``a`` arrays of ``["price","size"]`` pairs
of a depth diff; plain decimals (``123.456``, mantissa below 2**53) on the grid; every check
of the general path passing (symbol, event type, ids, times, ``X``); and for a diff, a book
that is synced and a diff that chains (spot ``U == previous u + 1``, USD-M ``pu == previous
u``). It stops at the first line that is anything else and says where; the converter hands
that line to its general path (orjson + :class:`EventBuilder`, which buffers, bridges, reports
gaps and rejects with the proper reason) and resumes the lane after it. So the lane changes
speed, never output; tests compare the two paths byte for byte.
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np

from hftlib.instrument import GRID_RELATIVE_TOLERANCE, GRID_TOLERANCE
from hftlib.types import EVENT_DTYPE, F_ASK, F_BID, F_LAST, K_BBO, K_DEPTH, K_TRADE, NO_ID

RUN_LINES: Final = 4096
"""Most lines the converter collects before running the lane on them."""
RUN_BYTES: Final = 1 << 20
"""Most bytes of lines the converter collects before running the lane (bounds the buffers)."""

# How a member's value was written on the current line.
_NONE: Final = 0
_STR: Final = 1
_INT: Final = 2
_TRUE: Final = 3
_FALSE: Final = 4
_NULL: Final = 5
_LEVELS: Final = 6  # a depth diff's b/a array, already written as rows

_PU: Final = 1  # table slot of the one two-character key the lane reads ("pu")
_MAX_MANTISSA: Final = 1 << 53  # below this a decimal's mantissa is an exact double
_MAX_DIGITS: Final = 18  # an unsigned int of at most 18 digits fits int64
_MAX_MS: Final = ((1 << 63) - 1) // 1_000_000
_MIN_LOCAL_NS: Final = 10**18
_MAX_STEPS: Final = 2.0**62  # grid_values' bound on ticks and lots
_POW10: Final = np.array([10.0**k for k in range(23)])  # exact doubles up to 1e22

# state[]: what the lane reads and updates between runs
S_LAST_TRADE: Final = 0
S_LAST_BBO: Final = 1
S_CLOCK_MS: Final = 2
S_BOOK_ID: Final = 3
S_SYNCED: Final = 4

# counts[]: messages converted by the last call
C_BBO: Final = 0
C_TRADE: Final = 1
C_DEPTH: Final = 2


def _lit(text: bytes) -> np.ndarray:
    return np.frombuffer(text, dtype=np.uint8).copy()


_STREAM_OPEN: Final = _lit(b'{"stream":"')
_DATA_OPEN: Final = _lit(b'","data":{')
_TRUE_LIT: Final = _lit(b"true")
_FALSE_LIT: Final = _lit(b"false")
_NULL_LIT: Final = _lit(b"null")
_TRADE_EVENT: Final = _lit(b"trade")
_DEPTH_EVENT: Final = _lit(b"depthUpdate")
_MARKET: Final = _lit(b"MARKET")


class Lane:
    """The lane's buffers for one conversion: stream names, state, counts and output rows.

    Parameters
    ----------
    symbol : str
        The instrument's symbol, upper case (``BTCUSDT``).
    futures : bool
        USD-M rules: ``pu`` chain, times ``T``, trade ``X`` must be ``MARKET``.
    tick_size, lot_size : float
        The instrument's grid.
    kernel : callable or None
        The parser; default :func:`parse_run` (tests also run its ``py_func``).
    """

    def __init__(
        self, symbol: str, futures: bool, tick_size: float, lot_size: float, kernel: Any = None
    ) -> None:
        self.kernel = parse_run if kernel is None else kernel
        self.futures = futures
        self.grid = np.array([tick_size, lot_size], dtype=np.float64)
        self._lower = symbol.lower().encode()
        self._symbol = _lit(symbol.encode())
        self._bbo = _lit(self._lower + b"@bookTicker")
        self._trade = _lit(self._lower + b"@trade")
        self._depth = _lit(b"")  # set by use_depth_stream once a diff stream is seen
        self.prefixes: tuple[bytes, ...] = (self._prefix(self._bbo), self._prefix(self._trade))
        self.state = np.zeros(5, dtype=np.int64)
        self.counts = np.zeros(3, dtype=np.int64)
        self._buf = np.empty(0, dtype=np.uint8)
        self._cols = tuple(np.empty(0, dtype=np.int64) for _ in range(7))

    @staticmethod
    def _prefix(stream: np.ndarray) -> bytes:
        return b'{"stream":"' + stream.tobytes() + b'","data":{'

    def use_depth_stream(self, stream: str) -> None:
        """Also take diffs of ``stream`` (the exact name, e.g. ``btcusdt@depth@100ms``)."""
        name = stream.encode()
        if not self._depth.size and stream.isascii() and name.startswith(self._lower + b"@"):
            self._depth = _lit(name)
            self.prefixes = (*self.prefixes, self._prefix(self._depth))

    def start(self, joined: bytes, lines: int) -> None:
        """Take a run: ``lines`` lines joined by (and ending in) ``\\n``."""
        self._buf = np.frombuffer(joined, dtype=np.uint8)
        # A row needs at least 9 bytes of a level (["1","1"]) or a whole line.
        rows = len(joined) // 9 + 2 * lines
        if self._cols[0].size < rows:
            self._cols = tuple(np.empty(rows, dtype=np.int64) for _ in range(7))

    def parse(self, pos: int, first: int) -> tuple[int, int, int]:
        """Parse from byte ``pos`` (line ``first`` of the run) until a line is declined.

        Returns ``(stop_pos, lines_done, rows)``; :attr:`state` and :attr:`counts` are
        updated and :meth:`events` holds the rows.
        """
        flags, exch, local, px, qty, seq, aux = self._cols
        return self.kernel(
            self._buf,
            pos,
            self._bbo,
            self._trade,
            self._depth,
            self._symbol,
            self.futures,
            self.grid,
            self.state,
            self.counts,
            first,
            flags,
            exch,
            local,
            px,
            qty,
            seq,
            aux,
        )

    def events(self, rows: int) -> np.ndarray:
        """Return the first ``rows`` rows of the last :meth:`parse` as an event array."""
        flags, exch, local, px, qty, seq, aux = self._cols
        out = np.empty(rows, dtype=EVENT_DTYPE)
        out["flags"] = flags[:rows]
        out["asset"] = 0
        out["exch_ts"] = exch[:rows]
        out["local_ts"] = local[:rows]
        out["px"] = px[:rows]
        out["qty"] = qty[:rows]
        out["order_id"] = NO_ID
        out["seq"] = seq[:rows]
        out["aux"] = aux[:rows]
        return out


@numba.njit(cache=True)
def parse_run(
    buf: np.ndarray,
    pos: int,
    stream_bbo: np.ndarray,
    stream_trade: np.ndarray,
    stream_depth: np.ndarray,
    symbol: np.ndarray,
    futures: bool,
    grid: np.ndarray,
    state: np.ndarray,
    counts: np.ndarray,
    first_line: int,
    flags: np.ndarray,
    exch: np.ndarray,
    local: np.ndarray,
    px: np.ndarray,
    qty: np.ndarray,
    seq: np.ndarray,
    aux: np.ndarray,
) -> tuple[int, int, int]:
    """Parse ``\\n``-separated lines of ``buf`` from byte ``pos`` into event rows.

    ``state`` (``S_*``) is read and updated; ``counts`` (``C_*``) receives the messages
    converted; ``first_line`` is the index in the run of the line at ``pos``.

    Returns
    -------
    tuple
        ``(stop_pos, lines_done, rows)``: the byte offset of the first line not parsed
        (``len(buf)`` when all were), and how many lines and rows were written.
    """
    n = buf.size
    key_kind = np.zeros(128, np.int8)
    key_seen = np.full(128, -1, np.int64)
    key_start = np.zeros(128, np.int64)
    key_end = np.zeros(128, np.int64)
    key_int = np.zeros(128, np.int64)
    counts[:] = 0
    rows = 0
    lines = 0
    last_trade = state[S_LAST_TRADE]
    last_bbo = state[S_LAST_BBO]
    clock = state[S_CLOCK_MS]
    book_id = state[S_BOOK_ID]
    synced = state[S_SYNCED] != 0
    while pos < n:
        line = first_line + lines
        p = pos
        # <local_ns>: exactly 19 digits below 9e18 (no int64 overflow), then one space
        ts = 0
        digits = 0
        while p < n and 48 <= buf[p] <= 57 and digits < 20:
            ts = ts * 10 + (int(buf[p]) - 48)
            p += 1
            digits += 1
        if digits != 19 or buf[pos] == 57 or ts < _MIN_LOCAL_NS or p >= n or buf[p] != 32:
            break
        p += 1
        # {"stream":"<name>","data":{
        p = _literal(buf, p, _STREAM_OPEN)
        if p < 0:
            break
        kind = 0
        if _match(buf, p, stream_bbo) and _match(buf, p + stream_bbo.size, _DATA_OPEN):
            kind = K_BBO
            p += stream_bbo.size
        elif _match(buf, p, stream_trade) and _match(buf, p + stream_trade.size, _DATA_OPEN):
            kind = K_TRADE
            p += stream_trade.size
        elif (
            stream_depth.size
            and _match(buf, p, stream_depth)
            and _match(buf, p + stream_depth.size, _DATA_OPEN)
        ):
            kind = K_DEPTH
            p += stream_depth.size
        else:
            break
        p += _DATA_OPEN.size
        # flat members (and a diff's level arrays) up to "}}" and the end of the line
        levels = 0  # depth rows written at rows, rows + 1, ... (committed only at the end)
        ok = True
        if p < n and buf[p] == 125:  # an empty object
            ok = False
        while ok:
            if p >= n or buf[p] != 34:
                ok = False
                break
            k0 = p + 1
            k1 = _string_end(buf, k0)
            if k1 < 0 or k1 + 1 >= n or buf[k1 + 1] != 58:
                ok = False
                break
            key = -1
            if k1 == k0 + 1:
                key = buf[k0]
            elif k1 == k0 + 2 and buf[k0] == 112 and buf[k0 + 1] == 117:  # "pu"
                key = _PU
            p = k1 + 2
            if p >= n:
                ok = False
                break
            c = buf[p]
            vkind = _NONE
            v0 = p
            v1 = p
            vint = 0
            if c == 34:
                v0 = p + 1
                v1 = _string_end(buf, v0)
                if v1 < 0:
                    ok = False
                    break
                vkind = _STR
                p = v1 + 1
            elif 48 <= c <= 57:
                d = 0
                while p < n and 48 <= buf[p] <= 57 and d <= _MAX_DIGITS:
                    vint = vint * 10 + (int(buf[p]) - 48)
                    p += 1
                    d += 1
                if d > _MAX_DIGITS or (p < n and (buf[p] == 46 or buf[p] == 101 or buf[p] == 69)):
                    ok = False  # too long, or a fraction/exponent: not an id or a time
                    break
                vkind = _INT
            elif c == 91 and kind == K_DEPTH and (key == 98 or key == 97):  # b / a
                if key == 97 and key_seen[98] != line:  # bid rows must come first
                    ok = False
                    break
                side = F_BID if key == 98 else F_ASK
                p, written = _levels(buf, p, side, grid, rows + levels, flags, px, qty)
                if p < 0:
                    ok = False
                    break
                levels += written
                vkind = _LEVELS
            elif _match(buf, p, _TRUE_LIT):
                vkind = _TRUE
                p += 4
            elif _match(buf, p, _FALSE_LIT):
                vkind = _FALSE
                p += 5
            elif _match(buf, p, _NULL_LIT):
                vkind = _NULL
                p += 4
            else:
                ok = False
                break
            if key >= 0:
                if key_seen[key] == line:  # a duplicate key: orjson keeps the last one
                    ok = False
                    break
                key_seen[key] = line
                key_kind[key] = vkind
                key_start[key] = v0
                key_end[key] = v1
                key_int[key] = vint
            if p < n and buf[p] == 44:
                p += 1
            elif p < n and buf[p] == 125:
                break
            else:
                ok = False
        if not ok or p + 1 >= n or buf[p] != 125 or buf[p + 1] != 125:
            break
        p += 2
        if p < n and buf[p] != 10:
            break
        # the checks of the general path, by message kind
        if not _str_is(buf, key_seen, key_kind, key_start, key_end, line, 115, symbol):  # s
            break
        if kind == K_BBO:
            uid = _int_of(key_seen, key_kind, key_int, line, 117)  # u
            if uid < 0 or uid <= last_bbo:
                break
            bpx = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 98, grid[0])  # b
            bqty = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 66, grid[1])  # B
            apx = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 97, grid[0])  # a
            aqty = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 65, grid[1])  # A
            if bpx < 0 or bqty < 0 or apx < 0 or aqty < 0:
                break
            if futures:
                t_ms = _int_of(key_seen, key_kind, key_int, line, 84)  # T
                if t_ms <= 0 or t_ms > _MAX_MS:
                    break
                when = t_ms * 1_000_000
            else:
                when = clock * 1_000_000 if clock else ts
            for s in range(2):
                flags[rows] = K_BBO | F_BID if s == 0 else K_BBO | F_ASK | F_LAST
                px[rows] = bpx if s == 0 else apx
                qty[rows] = bqty if s == 0 else aqty
                _stamp(rows, when, ts, uid, NO_ID, exch, local, seq, aux)
                rows += 1
            last_bbo = uid
            counts[C_BBO] += 1
        elif kind == K_TRADE:
            if not _str_is(buf, key_seen, key_kind, key_start, key_end, line, 101, _TRADE_EVENT):
                break  # e
            tid = _int_of(key_seen, key_kind, key_int, line, 116)  # t
            t_ms = _int_of(key_seen, key_kind, key_int, line, 84)  # T
            tpx = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 112, grid[0])  # p
            tqty = _ticks(buf, key_seen, key_kind, key_start, key_end, line, 113, grid[1])  # q
            maker = key_kind[109] if key_seen[109] == line else _NONE  # m
            e_ms = 0
            if tid < 0 or t_ms <= 0 or t_ms > _MAX_MS or tpx < 0 or tqty < 0:
                break
            if maker != _TRUE and maker != _FALSE:
                break
            if futures:
                if key_seen[88] == line and not _str_is(  # X
                    buf, key_seen, key_kind, key_start, key_end, line, 88, _MARKET
                ):
                    break
            else:
                e_ms = _int_of(key_seen, key_kind, key_int, line, 69)  # E
                if e_ms <= 0 or e_ms > _MAX_MS:
                    break
            if tid <= last_trade:
                break
            if e_ms > clock:
                clock = e_ms
            flags[rows] = K_TRADE | (F_ASK if maker == _TRUE else F_BID) | F_LAST
            px[rows] = tpx
            qty[rows] = tqty
            _stamp(rows, t_ms * 1_000_000, ts, tid, NO_ID, exch, local, seq, aux)
            rows += 1
            last_trade = tid
            counts[C_TRADE] += 1
        else:
            if not _str_is(buf, key_seen, key_kind, key_start, key_end, line, 101, _DEPTH_EVENT):
                break  # e
            first = _int_of(key_seen, key_kind, key_int, line, 85)  # U
            last = _int_of(key_seen, key_kind, key_int, line, 117)  # u
            if futures:
                prev = _int_of(key_seen, key_kind, key_int, line, _PU)
                t_ms = _int_of(key_seen, key_kind, key_int, line, 84)  # T
            else:
                if key_seen[_PU] == line:  # a USD-M diff read with spot rules
                    break
                prev = first - 1
                t_ms = _int_of(key_seen, key_kind, key_int, line, 69)  # E
            if first < 0 or last < 0 or prev < 0 or not prev < first <= last:
                break
            if t_ms <= 0 or t_ms > _MAX_MS or levels == 0:
                break
            if key_kind[98] != _LEVELS or key_seen[97] != line or key_kind[97] != _LEVELS:
                break
            if not synced or (prev != book_id if futures else first != book_id + 1):
                break  # not a plain chain step: the general path syncs, buffers or gaps
            if not futures and t_ms > clock:
                clock = t_ms
            for r in range(rows, rows + levels):
                _stamp(r, t_ms * 1_000_000, ts, last, prev, exch, local, seq, aux)
            flags[rows + levels - 1] |= F_LAST
            rows += levels
            book_id = last
            counts[C_DEPTH] += 1
        lines += 1
        pos = p + 1 if p < n else n
    state[S_LAST_TRADE] = last_trade
    state[S_LAST_BBO] = last_bbo
    state[S_CLOCK_MS] = clock
    state[S_BOOK_ID] = book_id
    return pos, lines, rows


@numba.njit(cache=True, inline="always")
def _stamp(
    r: int,
    when: int,
    ts: int,
    sq: int,
    ax: int,
    exch: np.ndarray,
    local: np.ndarray,
    seq: np.ndarray,
    aux: np.ndarray,
) -> None:
    exch[r] = when
    local[r] = ts
    seq[r] = sq
    aux[r] = ax


@numba.njit(cache=True)
def _levels(
    buf: np.ndarray,
    p: int,
    side: int,
    grid: np.ndarray,
    row: int,
    flags: np.ndarray,
    px: np.ndarray,
    qty: np.ndarray,
) -> tuple[int, int]:
    """Read ``[["px","qty"],...]`` at ``p`` into rows ``row, row + 1, ...``.

    Returns ``(position after the array, rows written)``, or ``(-1, 0)`` when any level is
    not a pair of plain decimal strings on the grid.
    """
    n = buf.size
    start = row
    p += 1  # past the outer "["
    if p < n and buf[p] == 93:
        return p + 1, 0
    while p < n:
        if buf[p] != 91 or p + 1 >= n or buf[p + 1] != 34:
            return -1, 0
        s0 = p + 2
        s1 = _string_end(buf, s0)
        if s1 < 0 or s1 + 2 >= n or buf[s1 + 1] != 44 or buf[s1 + 2] != 34:
            return -1, 0
        q0 = s1 + 3
        q1 = _string_end(buf, q0)
        if q1 < 0 or q1 + 1 >= n or buf[q1 + 1] != 93:
            return -1, 0
        tick = _grid(_decimal(buf, s0, s1), grid[0])
        lots = _grid(_decimal(buf, q0, q1), grid[1])
        if tick < 0 or lots < 0:
            return -1, 0
        flags[row] = K_DEPTH | side
        px[row] = tick
        qty[row] = lots
        row += 1
        p = q1 + 2
        if p < n and buf[p] == 44:
            p += 1
        elif p < n and buf[p] == 93:
            return p + 1, row - start
        else:
            return -1, 0
    return -1, 0


@numba.njit(cache=True, inline="always")
def _match(buf: np.ndarray, p: int, lit: np.ndarray) -> bool:
    m = lit.size
    if p + m > buf.size:
        return False
    for i in range(m):  # noqa: SIM110 - numba compiles loops, not generator expressions
        if buf[p + i] != lit[i]:
            return False
    return True


@numba.njit(cache=True, inline="always")
def _literal(buf: np.ndarray, p: int, lit: np.ndarray) -> int:
    return p + lit.size if _match(buf, p, lit) else -1


@numba.njit(cache=True)
def _string_end(buf: np.ndarray, p: int) -> int:
    """Return the index of the closing quote of a string starting at ``p``, or -1.

    -1 also for an escape, a control character or any non-ASCII byte: Binance writes plain
    ASCII, and declining the rest leaves UTF-8 validation to orjson on the general path.
    """
    n = buf.size
    while p < n:
        c = buf[p]
        if c == 34:
            return p
        if c == 92 or c < 32 or c >= 128:
            return -1
        p += 1
    return -1


@numba.njit(cache=True)
def _str_is(
    buf: np.ndarray,
    seen: np.ndarray,
    kind: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    line: int,
    key: int,
    want: np.ndarray,
) -> bool:
    if seen[key] != line or kind[key] != _STR or end[key] - start[key] != want.size:
        return False
    s = start[key]
    for i in range(want.size):  # noqa: SIM110 - numba compiles loops, not generator expressions
        if buf[s + i] != want[i]:
            return False
    return True


@numba.njit(cache=True)
def _int_of(seen: np.ndarray, kind: np.ndarray, value: np.ndarray, line: int, key: int) -> int:
    """Return the unsigned integer of ``key`` on this line, or -1."""
    if seen[key] != line or kind[key] != _INT:
        return -1
    return int(value[key])


@numba.njit(cache=True)
def _ticks(
    buf: np.ndarray,
    seen: np.ndarray,
    kind: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    line: int,
    key: int,
    step: float,
) -> int:
    """Return the decimal string of ``key`` in grid steps, or -1 (absent, not plain, off grid)."""
    if seen[key] != line or kind[key] != _STR:
        return -1
    return _grid(_decimal(buf, start[key], end[key]), step)


@numba.njit(cache=True)
def _decimal(buf: np.ndarray, s: int, e: int) -> float:
    """Return the plain decimal ``buf[s:e]`` as the nearest double, or -1.0."""
    mantissa = 0
    decimals = 0
    digits = 0
    dot = False
    for i in range(s, e):
        c = buf[i]
        if c == 46:
            if dot or i == s or i == e - 1:
                return -1.0
            dot = True
        elif 48 <= c <= 57:
            mantissa = mantissa * 10 + (int(c) - 48)
            digits += 1
            if dot:
                decimals += 1
            if mantissa >= _MAX_MANTISSA or digits > 17:
                return -1.0
        else:
            return -1.0
    if digits == 0 or decimals >= _POW10.size:
        return -1.0
    # Both operands are exact doubles, so IEEE division rounds exactly like float(str).
    return float(mantissa / _POW10[decimals])


@numba.njit(cache=True)
def _grid(value: float, step: float) -> int:
    """Return ``value`` in whole steps as grid_values computes it, or -1 when off the grid."""
    if value < 0.0:
        return -1
    scaled = value / step
    steps = np.rint(scaled)
    allowed = max(GRID_TOLERANCE, abs(scaled) * GRID_RELATIVE_TOLERANCE)
    if abs(scaled - steps) > allowed or abs(steps) >= _MAX_STEPS:
        return -1
    return int(steps)

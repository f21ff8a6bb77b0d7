"""Validate an event stream and repair its timestamps, chunk by chunk, with flat memory.

:func:`validate` reads chunks of :data:`hftlib.types.EVENT_DTYPE`, yields them back (repaired
when asked) and fills a :class:`ValidationReport`. State crosses chunk boundaries, so the
report and the output do not depend on how the stream is cut. Every check compares a row
with what came before it, so they all run in one numba pass that reads each row once
(:mod:`hftlib.data._validate_kernel`); the repair is vectorised numpy per chunk.

Checks (the report's problem names; each counts rows and keeps the first examples)
---------------------------------------------------------------------------------
local_ts_backwards
    ``local_ts`` below the largest ``local_ts`` of the rows before it (input values).
negative_latency
    ``local_ts < exch_ts`` (the row arrived before the venue stamped it).
unknown_kind
    Kind bits not one of the ``K_*`` constants.
bad_flags
    Flag bits hftlib does not define; no side, or both, on a row that needs exactly one
    (depth, trade, snapshot, bbo, l3_add); both sides on any kind but a clear; a clear
    with no side (whole-book clears carry both flags).
bad_price
    A negative ``px`` (other than ``NO_PX``), or ``NO_PX`` on a kind that needs a price
    (depth, snapshot, trade, bbo, l3_add, l3_modify).
bad_size
    ``qty < 0`` on depth/bbo/l3_modify (0 deletes there) or ``qty <= 0`` on trade,
    snapshot, l3_add, l3_cancel, l3_fill.
duplicate
    A row identical in every field to the row before it.
missing_last
    A row whose ``(seq, local_ts)`` differs from the previous row's while the previous row
    has no ``F_LAST`` (a message left open, or interleaved with another); also the last row
    of the stream when it has no ``F_LAST``.
split_message
    A row with the same ``(seq, local_ts)`` and kind as the previous row although that row
    ended a message with ``F_LAST`` (F_LAST in the middle of a message). A row of another
    kind starts a new message (a USD-M diff ending at the snapshot's id shares both).
seq_gap
    A ``K_DEPTH`` message whose ``aux`` (the id it chains from) is not ``NO_ID`` and is not
    the ``seq`` of the previous depth message. Right after a snapshot the first depth
    message passes when ``aux <= snapshot seq < seq`` (Binance's bridging rule). Trades
    and other kinds have their own ids and are not part of the chain.
crossed_book
    After a message (its ``F_LAST`` row) that changed the L2 book, the best bid is at or
    above the best ask. Depth, snapshot and clear rows are replayed; rows that failed a row
    check (kind, flags, price, size) are left out. L3 kinds are not replayed, and the
    stream is taken to be one instrument (``asset`` is not looked at).

Repair (``repair=True``)
------------------------
Only timestamps change: ``local_ts`` becomes the running maximum of ``max(local_ts,
exch_ts)``, so it never goes back and never precedes ``exch_ts``; every changed row gets
``F_REPAIRED_TS``. The report counts the changed rows, split by cause: a row below its
own ``exch_ts`` counts as ``negative_latency``, the others as ``local_ts_backwards`` (these
can include rows that were in order in the input but fall behind a raised row). Rows are
never dropped or reordered, so row numbers in the report hold for input and output alike.
Checks describe the input, repaired or not.

A recorder whose clock runs behind the venue's makes *every* row's latency negative; the
per-row repair would then erase the feed latency altogether. The report's
``min_latency_ns`` lets a caller shift the whole stream instead, before repairing
(:mod:`hftlib.data.clock`).

Strict mode (``ValidationReport(strict=True)``) raises :class:`hftlib.errors.DataError` at
the first row with a problem (``line`` is the 1-based row number; the reason names the
0-based row index and every problem of that row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hftlib.data import _l2book
from hftlib.data import _validate_kernel as _vk
from hftlib.errors import DataError
from hftlib.types import (
    EVENT_DTYPE,
    F_BID,
    F_LAST,
    F_REPAIRED_TS,
    K_CLEAR,
    K_DEPTH,
    KIND_MASK,
    KIND_NAMES,
    NO_PX,
    describe_flags,
    empty_events,
)

PROBLEMS: tuple[str, ...] = (
    "local_ts_backwards",
    "negative_latency",
    "unknown_kind",
    "bad_flags",
    "bad_price",
    "bad_size",
    "duplicate",
    "missing_last",
    "split_message",
    "seq_gap",
    "crossed_book",
)
"""Problem names in reporting order (index = the kernel's ``P_*`` number)."""

MAX_EXAMPLES = 5
"""First examples kept per problem."""

CheckFn = Callable[..., int]
"""The chunk kernel, :func:`hftlib.data._validate_kernel.check` or its ``py_func``."""

_FLAGS_REASONS = {
    _vk.FLAGS_UNKNOWN_BITS: "unknown flag bits",
    _vk.FLAGS_NO_SIDE: "no side",
    _vk.FLAGS_BOTH_SIDES: "both sides",
    _vk.FLAGS_CLEAR_NO_SIDE: "a clear needs a side (both flags clear the whole book)",
}


@dataclass
class ValidationReport:
    """What :func:`validate` found (and repaired) in one stream; JSON-ready via :meth:`to_dict`.

    Parameters
    ----------
    path : str
        Name of the stream in messages and errors (usually its file). Default ``"<events>"``.
    strict : bool
        Raise :class:`hftlib.errors.DataError` at the first problem. Default False.
    """

    path: str = "<events>"
    strict: bool = False
    rows: int = 0
    messages: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in PROBLEMS}
    )
    repaired: dict[str, int] = field(
        default_factory=lambda: {"rows": 0, "negative_latency": 0, "local_ts_backwards": 0}
    )
    first_local_ts: int | None = None
    last_local_ts: int | None = None
    min_latency_ns: int | None = None

    @property
    def total_problems(self) -> int:
        """Problem rows summed over problems (one row can count under several)."""
        return sum(self.problems.values())

    @property
    def ok(self) -> bool:
        """True when no check found anything."""
        return self.total_problems == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "path": self.path,
            "strict": self.strict,
            "rows": self.rows,
            "messages": self.messages,
            "kinds": dict(self.kinds),
            "problems": dict(self.problems),
            "total_problems": self.total_problems,
            "ok": self.ok,
            "examples": {k: [dict(e) for e in v] for k, v in self.examples.items() if v},
            "repaired": dict(self.repaired),
            "first_local_ts": self.first_local_ts,
            "last_local_ts": self.last_local_ts,
            "min_latency_ns": self.min_latency_ns,
        }


def validate(
    chunks: Iterable[np.ndarray],
    report: ValidationReport,
    *,
    repair: bool = False,
    kernel: CheckFn = _vk.check,
) -> Iterator[np.ndarray]:
    """Check a stream chunk by chunk, yielding each chunk (repaired if ``repair``).

    Parameters
    ----------
    chunks : iterable of numpy.ndarray
        Arrays of :data:`hftlib.types.EVENT_DTYPE` in stream order (never modified).
    report : ValidationReport
        Filled as the chunks pass; complete once the iterator is exhausted (the end-of-stream
        check runs then).
    repair : bool
        Yield copies with ``local_ts`` repaired (see the module docstring) where a chunk
        needs it; otherwise yield the input chunks themselves. Default False.
    kernel : callable
        The chunk kernel; ``_validate_kernel.check.py_func`` runs its loop as plain Python.

    Yields
    ------
    numpy.ndarray
        One array per non-empty input chunk, of the same length.

    Raises
    ------
    DataError
        In strict mode, at the first problem.
    TypeError
        When a chunk is not an array of EVENT_DTYPE.
    """
    state = _StreamState(report, repair, kernel)
    for chunk in chunks:
        if not isinstance(chunk, np.ndarray) or chunk.dtype != EVENT_DTYPE or chunk.ndim != 1:
            raise TypeError(
                f"expected a 1-d array of EVENT_DTYPE, got {type(chunk).__name__} "
                f"{getattr(chunk, 'dtype', '')}"
            )
        if len(chunk):
            yield state.process(chunk)
    state.finish()


def scan(chunks: Iterable[np.ndarray], report: ValidationReport | None = None) -> ValidationReport:
    """Run every check over ``chunks`` without repairing and return the filled report."""
    report = report if report is not None else ValidationReport()
    for _ in validate(chunks, report, repair=False):
        pass
    return report


def warm_up() -> None:
    """Compile (or load from the numba cache) the validator's kernels."""
    ev = empty_events(2)
    ev["flags"] = [K_CLEAR | F_BID | F_LAST, K_DEPTH | F_BID | F_LAST]
    ev["px"] = [NO_PX, 1]
    ev["qty"] = [0, 1]
    ev["seq"] = [1, 2]
    scan([ev])


class _StreamState:
    """Everything carried from one chunk to the next."""

    def __init__(self, report: ValidationReport, repair: bool, kernel: CheckFn) -> None:
        self.report = report
        self.repair = repair
        self.kernel = kernel
        self.offset = 0
        self.max_repaired = np.iinfo(np.int64).min  # running max of output local_ts
        self.keys, self.qtys, self.nlev = _l2book.new_book()
        self.st = np.zeros(_vk.R_SIZE, dtype=np.int64)
        self.counts = np.zeros(_vk.N_PROBLEMS, dtype=np.int64)
        self.kinds = np.zeros(256, dtype=np.int64)
        self.ex = np.zeros((_vk.N_PROBLEMS, MAX_EXAMPLES, 3), dtype=np.int64)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        ev = np.ascontiguousarray(chunk)
        start = 0
        while True:
            status = self.kernel(
                ev,
                self.keys,
                self.qtys,
                self.nlev,
                self.st,
                self.counts,
                self.kinds,
                self.ex,
                start,
                self.offset,
                self.report.strict,
            )
            start = int(self.st[_vk.R_RESUME])
            if status == _vk.ST_DONE:
                break
            if status == _vk.ST_PROBLEM:
                self._raise(self.offset + start - 1)
            self.keys, self.qtys = _l2book.grow(self.keys, self.qtys)
        out = self._repair(ev, chunk) if self.repair else chunk
        local = ev["local_ts"]
        lowest = int((local - ev["exch_ts"]).min())
        if self.report.min_latency_ns is None or lowest < self.report.min_latency_ns:
            self.report.min_latency_ns = lowest
        if self.report.first_local_ts is None:
            self.report.first_local_ts = int(local[0])
        self.report.last_local_ts = int(local[-1])
        self.offset += len(ev)
        self._sync_report()
        return out

    def _repair(self, ev: np.ndarray, chunk: np.ndarray) -> np.ndarray:
        local = ev["local_ts"]
        exch = ev["exch_ts"]
        fixed = np.maximum(local, exch)
        np.maximum.accumulate(fixed, out=fixed)
        np.maximum(fixed, self.max_repaired, out=fixed)
        self.max_repaired = int(fixed[-1])
        changed = fixed != local
        n_changed = int(np.count_nonzero(changed))
        if n_changed == 0:
            return chunk
        n_late = int(np.count_nonzero(changed & (local < exch)))
        repaired = self.report.repaired
        repaired["rows"] += n_changed
        repaired["negative_latency"] += n_late
        repaired["local_ts_backwards"] += n_changed - n_late
        out = ev.copy()
        out["local_ts"] = fixed
        out["flags"][changed] |= np.uint32(F_REPAIRED_TS)
        return out

    def _sync_report(self) -> None:
        """Copy the kernel's counters and new examples into the report."""
        report = self.report
        report.rows = self.offset
        report.messages = int(self.st[_vk.R_MESSAGES])
        for k in np.flatnonzero(self.kinds):
            report.kinds[KIND_NAMES.get(int(k), f"kind{int(k)}")] = int(self.kinds[k])
        for p, name in enumerate(PROBLEMS):
            report.problems[name] = int(self.counts[p])
            kept = report.examples[name]
            for j in range(len(kept), min(int(self.counts[p]), MAX_EXAMPLES)):
                row, a, b = (int(v) for v in self.ex[p, j])
                kept.append({"row": row, "detail": _detail(p, row, a, b)})

    def _raise(self, row: int) -> None:
        reasons = []
        for p, name in enumerate(PROBLEMS):
            for j in range(min(int(self.counts[p]), MAX_EXAMPLES)):
                ex_row, a, b = (int(v) for v in self.ex[p, j])
                if ex_row == row:
                    reasons.append(f"{name}: {_detail(p, row, a, b)}")
        raise DataError(self.report.path, row + 1, f"row {row}: " + "; ".join(reasons))

    def finish(self) -> None:
        """Run the end-of-stream check: the last row must close its message."""
        if self.offset == 0 or int(self.st[_vk.R_PREV]) & F_LAST:
            return
        row = self.offset - 1
        detail = "the stream ends inside a message (the last row has no F_LAST)"
        report = self.report
        if report.strict:
            raise DataError(report.path, row + 1, f"row {row}: missing_last: {detail}")
        report.problems["missing_last"] += 1
        if len(report.examples["missing_last"]) < MAX_EXAMPLES:
            report.examples["missing_last"].append({"row": row, "detail": detail})


def _detail(p: int, row: int, a: int, b: int) -> str:
    """Describe problem ``p`` at stream row ``row`` from the kernel's example values."""
    if p == _vk.P_LOCAL_TS_BACKWARDS:
        return f"local_ts {a} < {b}, the largest local_ts before it"
    if p == _vk.P_NEGATIVE_LATENCY:
        return f"local_ts {a} < exch_ts {b} (feed latency {a - b} ns)"
    if p == _vk.P_UNKNOWN_KIND:
        return f"kind {a & KIND_MASK} (flags {a:#x})"
    if p == _vk.P_BAD_FLAGS:
        return f"{describe_flags(a)}: {_FLAGS_REASONS.get(b, 'bad flags')} (flags {a:#x})"
    if p == _vk.P_BAD_PRICE:
        return f"{describe_flags(a)} px {'NO_PX' if b == NO_PX else b}"
    if p == _vk.P_BAD_SIZE:
        rule = ">= 0" if _vk.MIN_QTY[a & KIND_MASK] == 0 else "> 0"
        return f"{describe_flags(a)} qty {b} (must be {rule})"
    if p == _vk.P_DUPLICATE:
        return f"identical to row {row - 1} (seq {a}, local_ts {b})"
    if p == _vk.P_MISSING_LAST:
        return f"row {row - 1} (seq {a}, local_ts {b}) ends a message without F_LAST"
    if p == _vk.P_SPLIT_MESSAGE:
        return f"seq {a} and local_ts {b} continue the message row {row - 1} ended with F_LAST"
    if p == _vk.P_SEQ_GAP:
        return f"aux {b} does not chain from the last depth seq {a}"
    return f"best bid {a} >= best ask {b} after this message"

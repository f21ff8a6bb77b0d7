"""What every converter shares: input opening, the bad-input policy, the row builder.

A converter is a generator ``convert(paths, instrument, report, *, chunk_rows)`` that
yields arrays of :data:`hftlib.types.EVENT_DTYPE` of at most ``chunk_rows`` rows (so memory
stays flat whatever the input length) and records everything it skipped in ``report``.

Bad input (a malformed line, an unknown message, an off-grid price, a truncated gzip, a
non-monotonic id) goes through :meth:`ConvertReport.reject`: in the default mode it is
skipped and counted by reason with the first examples kept; in strict mode it raises
:class:`hftlib.errors.DataError` naming the file, line and reason. Nothing is dropped or
rounded silently.
"""

from __future__ import annotations

import gzip
import io
import lzma
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hftlib.errors import DataError
from hftlib.instrument import Instrument, grid_values
from hftlib.types import EVENT_DTYPE, F_LAST, K_CLEAR, KIND_MASK, NO_ID, NO_PX

DEFAULT_CHUNK_ROWS = 1 << 20
"""Rows per yielded chunk (64 MiB of events)."""

MAX_EXAMPLES = 20
"""Rejected lines kept verbatim in a report; the rest are only counted."""

ProgressFn = Callable[[int], None]
"""Called with the number of input bytes consumed since the last call."""


@dataclass
class ConvertReport:
    """What a conversion read, wrote and skipped; JSON-ready through :meth:`to_dict`.

    Parameters
    ----------
    fmt : str
        Converter format name.
    paths : list of str
        Input files, in the order read.
    strict : bool
        Raise on the first bad input instead of skipping it. Default False.
    progress : callable or None
        Receives input bytes consumed (for a progress bar). Default None.
    """

    fmt: str
    paths: list[str]
    strict: bool = False
    progress: ProgressFn | None = None
    lines: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    gaps: int = 0
    resyncs: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def reject(
        self, path: str | Path, line: int, reason: str, *, category: str | None = None
    ) -> None:
        """Record one bad input (or raise it in strict mode).

        ``category`` groups the count (default: ``reason`` itself); keep it short and
        stable, e.g. ``"malformed json"``, ``"off-grid price"``.
        """
        if self.strict:
            raise DataError(str(path), line, reason)
        self.skipped[category or reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{path}:{line}: {reason}" if line > 0 else f"{path}: {reason}")

    def gap(self, path: str | Path, line: int, reason: str) -> None:
        """Record a sequence gap; strict mode raises, default mode counts it and resyncs."""
        if self.strict:
            raise DataError(str(path), line, f"sequence gap: {reason}")
        self.gaps += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{path}:{line}: sequence gap: {reason}")

    @property
    def skipped_total(self) -> int:
        """Number of input records skipped, all reasons together."""
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "format": self.fmt,
            "paths": list(self.paths),
            "lines": self.lines,
            "events": self.events,
            "skipped": dict(self.skipped),
            "skipped_total": self.skipped_total,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
            "counts": dict(self.counts),
            "examples": list(self.examples),
        }


# --- input -----------------------------------------------------------------------------------


def iter_lines(path: Path, report: ConvertReport) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line_bytes)`` of a plain, ``.gz``, ``.xz`` or ``.zip`` file.

    Line numbers start at 1; the trailing newline is stripped; blank lines are skipped.
    A truncated or corrupt compressed file ends the iteration with one rejection
    ("truncated gzip ...") after the last whole line, so the lines before it still count.
    """
    raw = open(path, "rb")  # noqa: SIM115 - closed in finally; wrapped by a decompressor
    try:
        last_pos = 0
        n = 0
        try:
            stream = _decompressing(path, raw)
            for n, line in enumerate(stream, start=1):
                if report.progress is not None and n % 4096 == 0:
                    pos = raw.tell()
                    report.progress(pos - last_pos)
                    last_pos = pos
                line = line.rstrip(b"\r\n")
                if line:
                    report.lines += 1
                    yield n, line
        except (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as exc:
            report.reject(
                path,
                n + 1,
                f"truncated or corrupt compressed input ({exc})",
                category="truncated input",
            )
        if report.progress is not None:
            report.progress(max(0, _size(path) - last_pos))
    finally:
        raw.close()


def _decompressing(path: Path, raw: io.BufferedReader) -> Any:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if name.endswith(".xz"):
        return lzma.LZMAFile(raw, mode="rb")
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(raw)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise DataError(str(path), 0, f"zip must hold exactly one file, found {members}")
        return archive.open(members[0])
    return raw


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --- output ----------------------------------------------------------------------------------


class EventBuilder:
    """Collects rows column by column and turns them into event chunks.

    Prices and sizes are given as they were read (decimal strings or floats) and are
    converted to ticks/lots in one vectorised step per chunk; a row whose price or size is
    malformed or off the grid is rejected through the report with its file and line.

    Parameters
    ----------
    instrument : Instrument
        Tick and lot size for the conversion.
    report : ConvertReport
        Receives rejections and the count of emitted events.
    chunk_rows : int
        Preferred rows per chunk; :attr:`full` turns true at this size.
    """

    __slots__ = ("_cols", "_whole_side_clears", "chunk_rows", "instrument", "path", "report")

    def __init__(
        self, instrument: Instrument, report: ConvertReport, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> None:
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.instrument = instrument
        self.report = report
        self.chunk_rows = chunk_rows
        self.path = ""
        self._cols: tuple[list[Any], ...] = tuple([] for _ in range(9))
        self._whole_side_clears: list[int] = []

    def __len__(self) -> int:
        return len(self._cols[0])

    @property
    def full(self) -> bool:
        """True once the pending rows reach ``chunk_rows``."""
        return len(self._cols[0]) >= self.chunk_rows

    def add(
        self,
        flags: int,
        exch_ts: int,
        local_ts: int,
        px: Any,
        qty: Any,
        *,
        order_id: int = NO_ID,
        seq: int = 0,
        aux: int = NO_ID,
        line: int = 0,
    ) -> None:
        """Add one row; ``px``/``qty`` as read (string or float)."""
        c = self._cols
        c[0].append(flags)
        c[1].append(exch_ts)
        c[2].append(local_ts)
        c[3].append(px)
        c[4].append(qty)
        c[5].append(order_id)
        c[6].append(seq)
        c[7].append(aux)
        c[8].append(line)

    def add_levels(
        self,
        flags: int,
        exch_ts: int,
        local_ts: int,
        levels: Sequence[Sequence[Any]],
        *,
        seq: int = 0,
        aux: int = NO_ID,
        line: int = 0,
        last: bool = False,
    ) -> None:
        """Add one row per ``[price, size]`` pair of ``levels`` (extra items are ignored).

        With ``last=True`` the final row gets :data:`F_LAST` (the message ends here).
        """
        n = len(levels)
        if n == 0:
            return
        c = self._cols
        c[0].extend([flags] * n)
        if last:
            c[0][-1] = flags | F_LAST
        c[1].extend([exch_ts] * n)
        c[2].extend([local_ts] * n)
        c[3].extend([lv[0] for lv in levels])
        c[4].extend([lv[1] for lv in levels])
        c[5].extend([NO_ID] * n)
        c[6].extend([seq] * n)
        c[7].extend([aux] * n)
        c[8].extend([line] * n)

    def add_clear(
        self,
        flags: int,
        exch_ts: int,
        local_ts: int,
        *,
        px: Any = None,
        seq: int = 0,
        line: int = 0,
    ) -> None:
        """Add a ``K_CLEAR`` row; ``flags`` give the side(s), ``px=None`` clears the whole side.

        A clear through a price (``px`` given) removes the levels from the touch to ``px``.
        """
        if flags & KIND_MASK != K_CLEAR:
            raise ValueError(f"add_clear needs K_CLEAR flags, got {flags:#x}")
        if px is None:
            self._whole_side_clears.append(len(self._cols[0]))
        self.add(flags, exch_ts, local_ts, 0 if px is None else px, 0, seq=seq, line=line)

    def mark_last(self) -> None:
        """Set :data:`F_LAST` on the most recent row (no-op when empty)."""
        if self._cols[0]:
            self._cols[0][-1] |= F_LAST

    def take(self) -> np.ndarray:
        """Convert and return the pending rows as an event array, and clear them."""
        c = self._cols
        n = len(c[0])
        out = np.empty(n, dtype=EVENT_DTYPE)
        if n == 0:
            return out
        whole_side = self._whole_side_clears
        px, px_bad = self._grid(c[3], self.instrument.tick_size, "price")
        px[whole_side] = NO_PX
        qty, qty_bad = self._grid(c[4], self.instrument.lot_size, "size")
        out["flags"] = c[0]
        out["asset"] = 0
        out["exch_ts"] = c[1]
        out["local_ts"] = c[2]
        out["px"] = px
        out["qty"] = qty
        out["order_id"] = c[5]
        out["seq"] = c[6]
        out["aux"] = c[7]
        bad = px_bad | qty_bad
        if bad.any():
            lines = c[8]
            for i in np.flatnonzero(bad):
                what, raw = ("price", c[3][i]) if px_bad[i] else ("size", c[4][i])
                step = self.instrument.tick_size if what == "price" else self.instrument.lot_size
                self.report.reject(
                    self.path,
                    lines[i],
                    f"{what} {raw!r} is not a number on the {step!r} grid of {self.instrument.key}",
                    category=f"off-grid or malformed {what}",
                )
            out = _drop_keep_last(out, bad)
        for col in c:
            col.clear()
        self._whole_side_clears = []
        self.report.events += len(out)
        return out

    def _grid(self, raw: list[Any], step: float, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Convert one column to steps in bulk; fall back to item by item only on bad input."""
        plain = _plain_strings(raw)
        if plain is None and not any(v is True or v is False for v in raw):
            values = np.array(raw)  # numbers as read (e.g. by orjson): convert in one go
            if values.dtype.kind in "fiu":
                return grid_values(values.astype(np.float64, copy=False), step)
        elif plain:
            try:
                return grid_values(np.array(raw, dtype=np.float64), step)
            except ValueError:
                pass  # e.g. "1.2.3": find the bad items one by one
        return grid_values(np.array([_to_float(v) for v in raw], dtype=np.float64), step)


_NUMBER = re.compile(rb"-?(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+")
_NUMBER_BYTES = b"0123456789.-+eE"


def _plain_strings(raw: list[Any]) -> bool | None:
    """Whether every item is an ASCII decimal string of digits, sign, dot and exponent.

    None when some item is not a string. A fast charset gate (one ``bytes.translate``);
    numpy's float parsing then rejects bad structure such as ``"1.2.3"`` by raising.
    Without the gate numpy would accept ``"1_0"``, ``" 5 "``, ``"nan"`` or non-ASCII digits.
    """
    try:
        text = "\n".join(raw).encode("ascii")
    except TypeError:
        return None
    except UnicodeEncodeError:
        return False
    return not text.translate(None, _NUMBER_BYTES + b"\n") and b"\n\n" not in text


def _to_float(v: Any) -> float:
    """Read one value as a venue would write it; anything else becomes NaN (off-grid)."""
    if isinstance(v, bool):
        return float("nan")
    if isinstance(v, int | float | np.integer | np.floating):
        return float(v)
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    if isinstance(v, str) and _NUMBER.fullmatch(v.encode("ascii", "replace")):
        return float(v)
    return float("nan")


def _drop_keep_last(out: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Drop ``bad`` rows; a dropped row's F_LAST moves to the kept row before it."""
    last_lost = np.flatnonzero(bad & ((out["flags"] & F_LAST) != 0))
    for i in last_lost:
        j = i - 1
        while j >= 0 and bad[j]:
            j -= 1
        if j >= 0 and out["seq"][j] == out["seq"][i]:
            out["flags"][j] |= F_LAST
    kept: np.ndarray = out[~bad]
    return kept

"""The streaming reader: many event files, several instruments, one stream in local time.

Each *source* is one instrument's sequence of files (e.g. one file a day). Its files are
walked in time order; sources are merged by ``local_ts``. Ties are broken by source order,
then by row order, so the merged stream is deterministic. Output chunks hold at most
``chunk_rows`` rows and the reader keeps about one chunk per source in memory, whatever
the data's length; ``.npy`` files are read through memory maps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hftlib.data.storage import NPY_SUFFIX, PARQUET_SUFFIXES, EventFileMeta, iter_events, read_meta
from hftlib.errors import StorageError
from hftlib.instrument import Instrument
from hftlib.types import EVENT_DTYPE

DEFAULT_CHUNK_ROWS = 1 << 18


@dataclass(frozen=True)
class Source:
    """One instrument's files, in time order, and their metadata."""

    instrument: Instrument
    files: tuple[Path, ...]
    metas: tuple[EventFileMeta, ...]

    @property
    def rows(self) -> int:
        """Total events over all files."""
        return sum(m.rows for m in self.metas)


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Expand directories to the event files they hold (sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.suffix.lower() in (*PARQUET_SUFFIXES, NPY_SUFFIX) and f.is_file()
            )
            if not found:
                raise StorageError(f"{p}: no .parquet or .npy event files in this folder")
            out.extend(found)
        else:
            out.append(p)
    return out


def make_source(paths: Sequence[str | Path]) -> Source:
    """Build a source from one instrument's files; order them by first local timestamp.

    Raises :class:`StorageError` when the files are of different instruments or their time
    ranges overlap (they would not form one time-ordered sequence).
    """
    files = expand_paths(paths)
    if not files:
        raise StorageError("a source needs at least one event file")
    metas = [read_meta(f) for f in files]
    keyed = sorted(
        zip(metas, files, strict=True), key=lambda mf: (mf[0].first_local_ts, str(mf[1]))
    )
    first = keyed[0][0].instrument
    for meta, f in keyed:
        if meta.instrument != first:
            raise StorageError(
                f"{f}: instrument {meta.instrument.key} differs from {first.key}; give each "
                "instrument as its own source"
            )
    for (m1, f1), (m2, f2) in zip(keyed, keyed[1:], strict=False):
        if m1.rows and m2.rows and m2.first_local_ts < m1.last_local_ts:
            raise StorageError(f"{f2}: starts before {f1} ends; the files overlap in time")
    return Source(first, tuple(f for _, f in keyed), tuple(m for m, _ in keyed))


def group_sources(paths: Sequence[str | Path]) -> list[Source]:
    """Group files into one source per instrument (first-seen order of instruments)."""
    groups: dict[str, list[Path]] = {}
    for f in expand_paths(paths):
        groups.setdefault(read_meta(f).instrument.key, []).append(f)
    return [make_source(files) for files in groups.values()]


class EventStream:
    """Iterate the merged events of several sources in local-timestamp order.

    Parameters
    ----------
    sources : sequence of Source
        One per instrument; a row's ``asset`` field is set to its source's index.
    chunk_rows : int
        Maximum rows per yielded chunk and per read from each file. Default 262,144.

    Examples
    --------
    >>> stream = EventStream.from_paths(["btc_day1.npy", "btc_day2.npy", "eth.parquet"])
    >>> for chunk in stream:   # doctest: +SKIP
    ...     process(chunk)
    """

    def __init__(self, sources: Sequence[Source], chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        if not sources:
            raise StorageError("an event stream needs at least one source")
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.sources = list(sources)
        self.chunk_rows = chunk_rows

    @classmethod
    def from_paths(
        cls, paths: Sequence[str | Path], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> EventStream:
        """Group ``paths`` by instrument (from file metadata) and stream them merged."""
        return cls(group_sources(paths), chunk_rows)

    @property
    def instruments(self) -> list[Instrument]:
        """Instrument of each asset index."""
        return [s.instrument for s in self.sources]

    @property
    def rows(self) -> int:
        """Total events over all sources."""
        return sum(s.rows for s in self.sources)

    def __iter__(self) -> Iterator[np.ndarray]:
        feeds = [_SourceFeed(s, i, self.chunk_rows) for i, s in enumerate(self.sources)]
        if len(feeds) == 1:
            yield from feeds[0].drain()
            return
        yield from _merge(feeds, self.chunk_rows)


class _SourceFeed:
    """One source's rows, pulled a chunk at a time, checked for time order."""

    def __init__(self, source: Source, asset: int, chunk_rows: int) -> None:
        self.source = source
        self.asset = asset
        self._chunks = self._walk(chunk_rows)
        self.buf = np.empty(0, dtype=EVENT_DTYPE)
        self.done = False
        self._last_ts = np.iinfo(np.int64).min

    def _walk(self, chunk_rows: int) -> Iterator[tuple[Path, np.ndarray]]:
        for f in self.source.files:
            for chunk in iter_events(f, chunk_rows):
                yield f, chunk

    def pull(self) -> bool:
        """Append the next chunk to the buffer; False when the source is exhausted."""
        for f, chunk in self._chunks:
            if not len(chunk):
                continue
            ts = chunk["local_ts"]
            if ts[0] < self._last_ts or (len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1]))):
                raise StorageError(
                    f"{f}: local timestamps go backwards; run 'hft data validate --repair' first"
                )
            self._last_ts = int(ts[-1])
            # chunks from iter_events are fresh arrays, tagged in place (a view is copied first)
            tagged = chunk if chunk.flags.writeable and chunk.base is None else chunk.copy()
            tagged["asset"] = self.asset
            self.buf = tagged if not len(self.buf) else np.concatenate([self.buf, tagged])
            return True
        self.done = True
        return False

    def drain(self) -> Iterator[np.ndarray]:
        """Yield this source alone (the single-source fast path)."""
        while self.pull():
            yield self.buf
            self.buf = self.buf[:0]


def _merge(feeds: list[_SourceFeed], chunk_rows: int) -> Iterator[np.ndarray]:
    """K-way merge by local_ts in bounded steps.

    Rows strictly earlier than the smallest *last buffered* timestamp among live sources
    can be released: no source can later produce anything earlier. When nothing can be
    released, the source that holds the bound reads one more chunk.
    """
    for feed in feeds:
        feed.pull()
    while True:
        live = [f for f in feeds if not f.done]
        if not live and not any(len(f.buf) for f in feeds):
            return
        if live:
            holder = min(live, key=lambda f: int(f.buf["local_ts"][-1]) if len(f.buf) else -(2**63))
            if not len(holder.buf):
                holder.pull()
                continue
            bound = int(holder.buf["local_ts"][-1])
        else:
            bound = None
        parts = []
        for feed in feeds:
            if not len(feed.buf):
                continue
            n = (
                len(feed.buf)
                if bound is None
                else int(np.searchsorted(feed.buf["local_ts"], bound, "left"))
            )
            if n:
                parts.append(feed.buf[:n])
                feed.buf = feed.buf[n:]
        if not parts:
            holder.pull()
            continue
        merged = np.concatenate(parts)
        merged = merged[np.argsort(merged["local_ts"], kind="stable")]
        for start in range(0, len(merged), chunk_rows):
            yield merged[start : start + chunk_rows]

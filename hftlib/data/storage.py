"""Event files: Parquet for interchange, memory-mapped ``.npy`` for speed.

Both carry the same metadata (:class:`EventFileMeta`: instrument spec, provenance, row
count, first/last local timestamp): Parquet in its key-value metadata under ``hftlib``,
``.npy`` in a sidecar ``<file>.npy.json``. Writers take an iterable of event chunks and
stream them to disk, so a file of any length is written with one chunk in memory.
Nothing time-of-day dependent is written: the same events give byte-identical files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hftlib.errors import StorageError
from hftlib.instrument import Instrument
from hftlib.types import EVENT_DTYPE, EVENT_FIELDS

FORMAT_VERSION = 1
"""Bumped when the event dtype or metadata layout changes incompatibly."""

METADATA_KEY = b"hftlib"
SIDECAR_SUFFIX = ".json"
PARQUET_SUFFIXES = (".parquet", ".pq")
NPY_SUFFIX = ".npy"
DEFAULT_ROW_GROUP_ROWS = 1 << 20

_ARROW_SCHEMA = pa.schema([(name, pa.from_numpy_dtype(EVENT_DTYPE[name])) for name in EVENT_FIELDS])


@dataclass
class EventFileMeta:
    """What an event file says about itself.

    Parameters
    ----------
    instrument : Instrument
        The spec its ticks and lots refer to.
    provenance : dict
        Where the events came from: converter format, input files, reports.
    rows : int
        Number of events.
    first_local_ts, last_local_ts : int
        Local timestamps of the first and last rows (0 when empty).
    format_version : int
        :data:`FORMAT_VERSION` of the writer.
    """

    instrument: Instrument
    provenance: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    first_local_ts: int = 0
    last_local_ts: int = 0
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready metadata."""
        return {
            "format_version": self.format_version,
            "instrument": self.instrument.to_dict(),
            "rows": self.rows,
            "first_local_ts": self.first_local_ts,
            "last_local_ts": self.last_local_ts,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> EventFileMeta:
        """Parse metadata read from ``where``; raise :class:`StorageError` when unusable."""
        try:
            version = int(data["format_version"])
            if version > FORMAT_VERSION:
                raise StorageError(
                    f"{where}: written by a newer hftlib (format {version} > {FORMAT_VERSION})"
                )
            return cls(
                instrument=Instrument.from_dict(data["instrument"]),
                provenance=dict(data.get("provenance", {})),
                rows=int(data["rows"]),
                first_local_ts=int(data["first_local_ts"]),
                last_local_ts=int(data["last_local_ts"]),
                format_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"{where}: unreadable hftlib metadata ({exc})") from exc


class _Tally:
    """Counts rows and remembers the first/last local timestamp while chunks stream past."""

    def __init__(self) -> None:
        self.rows = 0
        self.first = 0
        self.last = 0

    def see(self, chunk: np.ndarray) -> np.ndarray:
        if chunk.dtype != EVENT_DTYPE:
            raise StorageError(f"chunk dtype {chunk.dtype} is not the hftlib event dtype")
        if len(chunk):
            if self.rows == 0:
                self.first = int(chunk["local_ts"][0])
            self.last = int(chunk["local_ts"][-1])
            self.rows += len(chunk)
        return chunk

    def meta(self, instrument: Instrument, provenance: dict[str, Any]) -> EventFileMeta:
        return EventFileMeta(instrument, provenance, self.rows, self.first, self.last)


# --- writing -------------------------------------------------------------------------------


def write_events(
    path: str | Path,
    chunks: Iterable[np.ndarray],
    instrument: Instrument,
    provenance: dict[str, Any] | None = None,
) -> EventFileMeta:
    """Write event chunks to ``path`` (Parquet or ``.npy`` by suffix) and return its metadata.

    The file appears atomically: it is written under a temporary name and renamed at the
    end, so an interrupted write never leaves a truncated file behind.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*PARQUET_SUFFIXES, NPY_SUFFIX):
        raise StorageError(f"{path}: unknown event file type (use .parquet or .npy)")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if suffix == NPY_SUFFIX:
            meta = _write_npy(tmp, chunks, instrument, provenance or {})
            _write_sidecar(path, meta)
        else:
            meta = _write_parquet(tmp, chunks, instrument, provenance or {})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return meta


def _write_parquet(
    path: Path, chunks: Iterable[np.ndarray], instrument: Instrument, provenance: dict[str, Any]
) -> EventFileMeta:
    tally = _Tally()
    with pq.ParquetWriter(path, _ARROW_SCHEMA, compression="zstd") as writer:
        for chunk in chunks:
            if len(tally.see(chunk)):
                writer.write_table(_to_table(chunk), row_group_size=DEFAULT_ROW_GROUP_ROWS)
        meta = tally.meta(instrument, provenance)
        writer.add_key_value_metadata({METADATA_KEY: _encode_meta(meta)})
    return meta


def _to_table(chunk: np.ndarray) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(chunk[name]) for name in EVENT_FIELDS], schema=_ARROW_SCHEMA
    )


def _write_npy(
    path: Path, chunks: Iterable[np.ndarray], instrument: Instrument, provenance: dict[str, Any]
) -> EventFileMeta:
    tally = _Tally()
    with open(path, "wb") as fh:
        header_len = _write_npy_header(fh, 10**18)  # reserve room for any row count
        for chunk in chunks:
            fh.write(np.ascontiguousarray(tally.see(chunk)).tobytes())
        fh.seek(0)
        if _write_npy_header(fh, tally.rows, pad_to=header_len) != header_len:
            raise StorageError(f"{path}: npy header size changed while finishing the file")
    return tally.meta(instrument, provenance)


def _write_npy_header(fh: BinaryIO, rows: int, pad_to: int = 0) -> int:
    """Write an npy v1.0 header for ``rows`` events, space-padded to ``pad_to`` bytes."""
    descr = np.lib.format.dtype_to_descr(EVENT_DTYPE)
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({rows},), }}"
    prefix = 10  # magic (6) + version (2) + header length (2)
    total = pad_to or -(-(prefix + len(text) + 1) // 64) * 64
    body = text + " " * (total - prefix - len(text) - 1) + "\n"
    if len(body) > 0xFFFF or prefix + len(body) != total:
        raise StorageError("npy header does not fit")
    fh.write(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1"))
    return total


def _write_sidecar(path: Path, meta: EventFileMeta) -> None:
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    tmp = side.with_name(f".{side.name}.partial")
    tmp.write_bytes(_encode_meta(meta))
    os.replace(tmp, side)


def _encode_meta(meta: EventFileMeta) -> bytes:
    return json.dumps(meta.to_dict(), sort_keys=True, separators=(",", ":")).encode()


# --- reading -------------------------------------------------------------------------------


def read_meta(path: str | Path) -> EventFileMeta:
    """Return the metadata of an event file without reading its events."""
    path = Path(path)
    _check_exists(path)
    if path.suffix.lower() == NPY_SUFFIX:
        side = path.with_name(path.name + SIDECAR_SUFFIX)
        if not side.is_file():
            raise StorageError(f"{path}: metadata sidecar {side.name} is missing")
        raw = side.read_bytes()
    else:
        try:
            kv = pq.read_metadata(path).metadata or {}
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"{path}: not a readable Parquet file ({exc})") from exc
        if METADATA_KEY not in kv:
            raise StorageError(
                f"{path}: not an hftlib event file (no '{METADATA_KEY.decode()}' metadata)"
            )
        raw = kv[METADATA_KEY]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StorageError(f"{path}: corrupt hftlib metadata ({exc})") from exc
    return EventFileMeta.from_dict(data, str(path))


def open_npy(path: str | Path) -> np.ndarray:
    """Memory-map an ``.npy`` event file read-only (no copy, no parse)."""
    path = Path(path)
    _check_exists(path)
    try:
        arr: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise StorageError(f"{path}: not a readable .npy event file ({exc})") from exc
    if arr.dtype != EVENT_DTYPE or arr.ndim != 1:
        raise StorageError(f"{path}: dtype {arr.dtype} / shape {arr.shape} is not an event array")
    return arr


def iter_events(path: str | Path, chunk_rows: int = DEFAULT_ROW_GROUP_ROWS) -> Iterator[np.ndarray]:
    """Yield the events of a file in chunks of at most ``chunk_rows`` rows.

    ``.npy`` chunks are read from the file into fresh arrays (not views of a memory map:
    pages of a map stay resident and would grow the process with the file); Parquet chunks
    are decoded one batch at a time. Memory stays at one chunk whatever the file length.
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    path = Path(path)
    if path.suffix.lower() == NPY_SUFFIX:
        mapped = open_npy(path)  # checks header, dtype and shape
        rows, offset = len(mapped), int(getattr(mapped, "offset", 0))
        del mapped
        with path.open("rb") as fh:
            fh.seek(offset)
            for start in range(0, rows, chunk_rows):
                chunk = np.fromfile(fh, dtype=EVENT_DTYPE, count=min(chunk_rows, rows - start))
                if len(chunk) == 0:
                    raise StorageError(f"{path}: file ends before its {rows} rows")
                yield chunk
        return
    _check_exists(path)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StorageError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = set(EVENT_FIELDS) - set(pf.schema_arrow.names)
    if missing:
        raise StorageError(f"{path}: missing event columns {sorted(missing)}")
    for batch in pf.iter_batches(batch_size=chunk_rows, columns=list(EVENT_FIELDS)):
        yield _from_batch(batch)


def read_events(path: str | Path) -> np.ndarray:
    """Return all events of a file as one array (a memory map for ``.npy``)."""
    path = Path(path)
    if path.suffix.lower() == NPY_SUFFIX:
        return open_npy(path)
    parts = list(iter_events(path))
    return np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)


def _from_batch(batch: pa.RecordBatch) -> np.ndarray:
    out = np.empty(batch.num_rows, dtype=EVENT_DTYPE)
    for name in EVENT_FIELDS:
        out[name] = batch.column(name).to_numpy(zero_copy_only=False)
    return out


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise StorageError(f"{path}: no such event file")

"""CSV input shared by the CSV converters (tardis.dev datasets, Binance T_DEPTH).

Each line is split on its own: a stray quote in one bad line cannot swallow the lines after
it, so every bad record is reported with its own line number. Lines without quotes (all of
the vendors' data) take a plain ``str.split`` fast path; quoted lines go through
:mod:`csv`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from hftlib.convert.base import ConvertReport, iter_lines
from hftlib.errors import DataError

INT64_LIMIT = 1 << 63
"""Integers stored in event fields must lie in ``[-INT64_LIMIT, INT64_LIMIT)``."""

Record = tuple[int, list[str]]
"""``(line_number, fields)`` of one CSV line."""


def iter_csv(path: Path, report: ConvertReport) -> Iterator[Record]:
    """Yield ``(line_number, fields)`` for every line of a CSV file, the header included.

    A line that is not UTF-8 or not valid CSV is rejected through ``report`` and skipped.
    A byte-order mark before the first field is dropped.
    """
    first = True
    for n, raw in iter_lines(path, report):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.reject(
                path, n, f"line is not UTF-8 (byte {exc.start}: {exc.reason})", category="not utf-8"
            )
            continue
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        if '"' not in text:
            yield n, text.split(",")
            continue
        try:
            fields = next(csv.reader((text,), strict=True), [])
        except csv.Error as exc:
            report.reject(path, n, f"malformed CSV ({exc})", category="malformed csv")
            continue
        yield n, fields


def read_header(path: Path, report: ConvertReport) -> tuple[list[str], Iterator[Record]] | None:
    """Return the header fields and an iterator over the data records after it.

    An empty file is rejected through ``report`` and gives None.
    """
    records = iter_csv(path, report)
    for _, header in records:
        return [name.strip() for name in header], records
    report.reject(path, 0, "file has no header line", category="empty file")
    return None


def first_data_record(path: Path, fmt: str) -> tuple[list[str], list[str]] | None:
    """Return ``(header, first data fields)`` of a file without touching any real report.

    Used to order input files and to detect the instrument; a file that cannot be read
    this far gives None (the conversion itself then reports why).
    """
    scratch = ConvertReport(fmt, [str(path)])
    try:
        opened = read_header(path, scratch)
        if opened is None:
            return None
        header, records = opened
        for _, fields in records:
            if len(fields) == len(header):
                return header, fields
    except (OSError, DataError):
        return None
    return None


def column_index(header: Sequence[str], names: Sequence[str]) -> dict[str, int] | None:
    """Return ``{name: position}`` of ``names`` in ``header``, or None if one is missing."""
    where = {name: i for i, name in enumerate(header)}
    if any(name not in where for name in names):
        return None
    return {name: where[name] for name in names}


def parse_int(text: str, scale: int = 1) -> int:
    """Parse a plain decimal integer (optional leading ``-``, digits only) times ``scale``.

    Python's ``int`` also accepts ``"1_000"``, ``" 7"`` and non-ASCII digits; a data file
    holding those is malformed, so they raise ``ValueError`` here, as does a result that
    does not fit the int64 event fields.
    """
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not an integer: {text!r}")
    value = int(text) * scale
    if not -INT64_LIMIT <= value < INT64_LIMIT:
        raise ValueError(f"{text!r} is out of the int64 range")
    return value


def is_negative(text: str) -> bool:
    """True for a number written with a leading minus sign (sizes and prices never are)."""
    return text.lstrip().startswith("-")

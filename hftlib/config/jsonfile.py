"""Read one configuration file as JSON, reporting every problem with its location.

The standard library parser is used on purpose (these files are small): its errors carry
line and column, and its hooks catch what a JSON object silently forgives — a key written
twice (the later value would win unseen) and ``NaN`` / ``Infinity`` or numbers too large
for a float.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hftlib.config.issues import ConfigIssue, json_path

MAX_FILE_BYTES = 1 << 20
"""Largest configuration file read (1 MiB): a larger one is not a configuration."""


class _Object(dict[str, Any]):
    """A JSON object that remembers keys written more than once."""

    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True)
class _BadNumber:
    """Placeholder for a literal that is not a finite number (NaN, Infinity, 1e999)."""

    text: str


@dataclass
class JsonDocument:
    """A file's data and the problems found while reading it."""

    data: Any
    """The parsed value (plain dicts and lists); None when the file could not be parsed."""
    parsed: bool = True
    """False when the file is missing, unreadable or not JSON (then ``issues`` says why)."""
    issues: list[ConfigIssue] = field(default_factory=list)
    bad_paths: list[str] = field(default_factory=list)
    """JSON paths already reported here; schema checks skip them and what lies below."""


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dups: list[str] = []
        for key, _value in pairs:
            if key in seen:
                dups.append(key)
            seen.add(key)
        obj.duplicates = tuple(dups)
    return obj


def _float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _constant(text: str) -> _BadNumber:
    return _BadNumber(text)


def read_json(path: str | Path, display: str | None = None) -> JsonDocument:
    """Read ``path`` and return its document; never raises for bad input.

    Parameters
    ----------
    path : str or Path
        The file to read.
    display : str, optional
        The file's name in issues. Default: ``str(path)``.
    """
    name = display if display is not None else str(path)

    def fail(reason: str) -> JsonDocument:
        return JsonDocument(None, parsed=False, issues=[ConfigIssue(name, "$", reason)])

    p = Path(path)
    try:
        if not p.exists():
            return fail("file not found")
        if p.is_dir():
            return fail("is a folder, not a file")
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        return fail("file is not readable (permission denied)")
    except OSError as exc:
        return fail(f"file cannot be read ({exc.strerror or exc})")
    if len(raw) > MAX_FILE_BYTES:
        return fail(f"file is larger than {MAX_FILE_BYTES} bytes; not a configuration file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return fail(f"not UTF-8 text (bad byte at offset {exc.start})")
    try:
        data = json.loads(
            text, object_pairs_hook=_pairs, parse_float=_float, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        return fail(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except RecursionError:
        return fail("malformed JSON: nested too deeply")
    doc = JsonDocument(None)
    doc.data = _clean(data, name, doc)
    return doc


def _clean(data: Any, name: str, doc: JsonDocument) -> Any:
    """Return ``data`` as plain dicts/lists, recording duplicates and bad numbers in ``doc``.

    Walks with an explicit stack (a deep file must not exhaust the interpreter's recursion);
    a bad number becomes None, its path recorded in ``doc.bad_paths``.
    """
    root: list[Any] = [data]
    stack: list[tuple[Any, Any, tuple[str | int, ...]]] = [(root, 0, ())]
    while stack:
        parent, key, parts = stack.pop()
        value = parent[key]
        if isinstance(value, _BadNumber):
            where = json_path(parts)
            doc.issues.append(
                ConfigIssue(
                    name, where, f"{value.text} is not a finite number (JSON has no NaN/Infinity)"
                )
            )
            doc.bad_paths.append(where)
            parent[key] = None
        elif isinstance(value, dict):
            for dup in dict.fromkeys(getattr(value, "duplicates", ())):
                doc.issues.append(
                    ConfigIssue(name, json_path((*parts, dup)), "key is written more than once")
                )
            plain = dict(value)
            parent[key] = plain
            stack.extend((plain, k, (*parts, k)) for k in reversed(list(plain)))
        elif isinstance(value, list):
            stack.extend((value, i, (*parts, i)) for i in reversed(range(len(value))))
    return root[0]

"""Reading Binance JSON messages: fast numeric level parsing and the field checks.

Shared by the converter (:mod:`hftlib.convert.binance_ws`); pure functions over bytes and
parsed values, no state.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Final, NamedTuple

import orjson

MAX_ID: Final = (1 << 63) - 1
"""Largest update or trade id (and local ns time) that fits the int64 event fields."""
MAX_MS: Final = MAX_ID // 1_000_000
"""Largest ms time that still fits int64 once in ns."""

_LIST: Final = frozenset({list})
_PAIR: Final = frozenset({2})
_SCALARS: Final = frozenset({str, float, int})


class Levels(NamedTuple):
    """Where a message keeps its two level arrays, for :func:`loads_numeric_levels`."""

    first: str
    second: str
    skeletons: tuple[bytes, ...]  # what is left once the number characters go


_NUMERIC_JSON: Final = b"0123456789.-+eE[], \t\r\n"
DIFF_LEVELS: Final = Levels("b", "a", (b'"b":"a":}}', b'"b":"a":}'))
SNAPSHOT_LEVELS: Final = Levels("bids", "asks", (b'"bids":"asks":}',))


def loads_numeric_levels(payload: bytes, cut: int, layout: Levels) -> Any:
    """Parse a diff or snapshot whose two level arrays end the payload, reading numbers.

    Binance sends each price and size as a decimal string. Unquoting the level arrays lets
    orjson parse the numbers in C (correctly rounded, the same double as ``float(str)``), which
    is several times faster than making string objects and parsing them later. Return None,
    so that the caller parses the payload as it is, unless each side is a list of number
    pairs exactly as quoted strings would give. The checks run over bytes in C: past the
    first side's key (``"b":`` / ``"bids":``) the text holds nothing but numbers, brackets,
    commas, the second side's key and the closing braces; one ``[`` per level plus the two
    sides; four quotes gone per level.
    """
    tail = payload[cut:]
    plain = tail.replace(b'["', b"[").replace(b'","', b",").replace(b'"]', b"]")
    if plain.translate(None, _NUMERIC_JSON) not in layout.skeletons:
        return None
    try:
        msg = orjson.loads(payload[:cut] + plain)
        data = msg.get("data", msg)
        bids = data[layout.first]
        asks = data[layout.second]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return None
    if type(bids) is not list or type(asks) is not list:
        return None
    levels = len(bids) + len(asks)
    if len(tail) - len(plain) != 4 * levels or plain.count(b"[") != levels + 2:
        return None
    if levels and set(map(len, chain(bids, asks))) != _PAIR:
        return None
    return msg


def id_ok(value: Any) -> bool:
    """True for an int id in ``[0, MAX_ID]`` (not a bool, not a float)."""
    return type(value) is int and 0 <= value <= MAX_ID


def ms_ok(value: Any) -> bool:
    """True for an int ms time in ``(0, MAX_MS]``."""
    return type(value) is int and 0 < value <= MAX_MS


def levels_ok(levels: Any) -> bool:
    """True for a list of ``[price, size]`` pairs of strings or numbers (C loops, no bytecode)."""
    return type(levels) is list and (
        not levels
        or (
            set(map(type, levels)) == _LIST
            and set(map(len, levels)) == _PAIR
            and set(map(type, chain.from_iterable(levels))) <= _SCALARS
        )
    )

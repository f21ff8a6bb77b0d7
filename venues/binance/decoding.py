"""Shared decoding steps: bytes -> Struct with typed errors, decimal -> ticks/lots, ms -> ns.

Every failure becomes :class:`~hftlib.venues.binance.errors.BinanceMessageError` naming the
field (msgspec's ``$.path`` for decode errors), so callers handle one exception type.
"""

from __future__ import annotations

import re
from typing import Final, TypeVar

import msgspec
from hftlib.venues.binance.constants import NS_PER_MS, VENUE_NAMES, Market
from hftlib.venues.binance.errors import BinanceMessageError

from hftlib.instrument import (
    GRID_RELATIVE_TOLERANCE,
    GRID_TOLERANCE,
    Instrument,
    InstrumentKind,
)

T = TypeVar("T")

MAX_ID: Final = (1 << 63) - 1
"""Largest id that fits the int64 event fields."""
MAX_MS: Final = MAX_ID // NS_PER_MS
"""Largest ms time that still fits int64 once in ns."""

_MAX_STEPS: Final = 2.0**62
_AT_PATH: Final = re.compile(r" - at `(\$[^`]*)`$")


def market_of(instrument: Instrument) -> Market:
    """Return the Binance market an instrument trades on (spot, or USD-M for the rest)."""
    return Market.SPOT if instrument.kind == InstrumentKind.SPOT else Market.USDM


def decode(decoder: msgspec.json.Decoder[T], raw: bytes, market: Market, what: str) -> T:
    """Decode ``raw`` with ``decoder``; raise :class:`BinanceMessageError` naming the field."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT_PATH.search(text)
        where = match.group(1) if match else "$"
        reason = text[: match.start()] if match else text
        raise BinanceMessageError(VENUE_NAMES[market], what, where, reason) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BinanceMessageError(
            VENUE_NAMES[market], what, "$", str(exc), "malformed json"
        ) from None


def error(market: Market, what: str, field: str, reason: str, category: str = "") -> Exception:
    """Return a :class:`BinanceMessageError` (``category`` defaults to malformed message)."""
    return BinanceMessageError(
        VENUE_NAMES[market], what, field, reason, category or "malformed message"
    )


def check_id(value: int, market: Market, what: str, field: str) -> int:
    """Return ``value`` if it is an id in ``[0, MAX_ID]``."""
    if not 0 <= value <= MAX_ID:
        raise error(market, what, field, f"id {value} is outside [0, 2**63)")
    return value


def ms_to_ns(value: int, market: Market, what: str, field: str) -> int:
    """Return a venue ms time as ns, checking it is a plausible positive time."""
    if not 0 < value <= MAX_MS:
        raise error(market, what, field, f"time {value} is not ms since the epoch")
    return value * NS_PER_MS


def decimal(text: str, market: Market, what: str, field: str) -> float:
    """Return a decimal string as a finite float."""
    try:
        value = float(text)
    except ValueError:
        raise error(market, what, field, f"{text[:40]!r} is not a decimal number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise error(market, what, field, f"{text[:40]!r} is not a finite number")
    return value


def steps(
    value: float, step: float, instrument: Instrument, market: Market, what: str, field: str
) -> int:
    """Return one finite value in whole steps (the rule of ``grid_values``, for a scalar).

    The same tolerances as :func:`hftlib.instrument.grid_values` (absolute
    :data:`GRID_TOLERANCE` steps, relative :data:`GRID_RELATIVE_TOLERANCE`), in plain
    floats: a numpy call per scalar costs more than the whole message.
    """
    scaled = value / step
    whole = round(scaled)  # half to even, like np.rint
    allowed = max(GRID_TOLERANCE, abs(scaled) * GRID_RELATIVE_TOLERANCE)
    if abs(scaled - whole) > allowed or abs(whole) >= _MAX_STEPS:
        raise error(
            market,
            what,
            field,
            f"{value!r} is not a multiple of {step!r} for {instrument.key} "
            "(off the grid; never rounded)",
            "off grid",
        )
    return whole


def price_ticks(text: str, instrument: Instrument, market: Market, what: str, field: str) -> int:
    """Return one decimal price string (>= 0) in ticks."""
    value = decimal(text, market, what, field)
    if value < 0:
        raise error(market, what, field, f"negative price {text[:40]!r}")
    return steps(value, instrument.tick_size, instrument, market, what, field)


def size_lots(text: str, instrument: Instrument, market: Market, what: str, field: str) -> int:
    """Return one decimal size string in lots (signed sizes keep their sign)."""
    value = decimal(text, market, what, field)
    return steps(value, instrument.lot_size, instrument, market, what, field)

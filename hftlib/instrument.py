"""Instrument specs and the one fixed-point conversion (float price/size -> int64 ticks/lots).

A price that is not on the tick grid, or a size that is not a whole number of lots, is an
error naming the offending value: hftlib never rounds market data silently.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import msgspec
import numpy as np

from hftlib.errors import InstrumentError, OffGridError

GRID_TOLERANCE = 1e-6
"""Largest distance from the grid, in steps (ticks or lots), still read as on-grid.

Decimal strings such as ``"61837.63"`` are not exact in binary floating point; dividing by
the tick leaves an error near 1e-9 ticks. Anything further than 1e-6 of a tick is a real
off-grid value.
"""

GRID_RELATIVE_TOLERANCE = 1e-15
"""The same allowance relative to the step count, for values of very many steps.

A double carries about 16 significant digits, so ``25.42618900 / 1e-8`` (2.5e9 lots) is
off its whole number by up to a few 1e-7 lots: rounding error, not an off-grid value. A
value really off the grid differs by at least one unit of a further decimal digit.
"""


class InstrumentKind(enum.StrEnum):
    """Contract type; decides how notional and P&L are computed."""

    SPOT = "spot"
    LINEAR_PERPETUAL = "linear_perpetual"
    INVERSE_PERPETUAL = "inverse_perpetual"


class Instrument(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One tradable instrument at one venue.

    Parameters
    ----------
    venue : str
        Venue id, lower case (``"binance"``, ``"binance-futures"``, ``"bitstamp"``, ...).
    symbol : str
        The venue's symbol (``"BTCUSDT"``).
    kind : InstrumentKind
        ``spot``, ``linear_perpetual`` or ``inverse_perpetual``.
    tick_size : float
        Price increment; prices are stored as ``round(price / tick_size)`` ticks.
    lot_size : float
        Size increment; sizes are stored as ``round(size / lot_size)`` lots.
    contract_multiplier : float
        Quote (linear) or base (inverse) value of one unit of size. Default 1.0.
    maker_fee : float
        Maker fee as a fraction of notional (negative = rebate). Default 0.0.
    taker_fee : float
        Taker fee as a fraction of notional. Default 0.0.
    """

    venue: str
    symbol: str
    kind: InstrumentKind
    tick_size: float
    lot_size: float
    contract_multiplier: float = 1.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "contract_multiplier"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InstrumentError(
                    f"{self.venue}:{self.symbol}: {name} must be > 0, got {value!r}"
                )
        for name in ("maker_fee", "taker_fee"):
            value = getattr(self, name)
            if not (np.isfinite(value) and -0.01 <= value <= 0.01):
                raise InstrumentError(
                    f"{self.venue}:{self.symbol}: {name} must be a fraction in [-0.01, 0.01], "
                    f"got {value!r}"
                )
        if not self.venue or not self.symbol:
            raise InstrumentError("venue and symbol must be non-empty")

    @property
    def key(self) -> str:
        """``venue:symbol``, the instrument's id in registries and file metadata."""
        return f"{self.venue}:{self.symbol}"

    def price_to_ticks(self, prices: Any, *, where: str = "") -> np.ndarray:
        """Convert prices to int64 ticks; raise :class:`OffGridError` on an off-grid price."""
        return _to_grid(prices, self.tick_size, "price", self.key, where)

    def size_to_lots(self, sizes: Any, *, where: str = "") -> np.ndarray:
        """Convert sizes to int64 lots; raise :class:`OffGridError` on a fractional lot."""
        return _to_grid(sizes, self.lot_size, "size", self.key, where)

    def ticks_to_price(self, ticks: Any) -> np.ndarray:
        """Convert ticks back to float prices (for display and reports).

        Rounded to the tick's decimals, so 618002 ticks of 0.1 read 61800.2, not
        61800.200000000004.
        """
        return np.round(
            np.asarray(ticks, dtype=np.float64) * self.tick_size, _decimals(self.tick_size)
        )

    def lots_to_size(self, lots: Any) -> np.ndarray:
        """Convert lots back to float sizes (for display and reports), rounded like prices."""
        return np.round(
            np.asarray(lots, dtype=np.float64) * self.lot_size, _decimals(self.lot_size)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a JSON-ready dict."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    def to_json(self) -> str:
        """Return the spec as a JSON string."""
        return msgspec.json.encode(self).decode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instrument:
        """Build and validate a spec from a dict (e.g. file metadata or a JSON file)."""
        try:
            return msgspec.convert(dict(data), cls)
        except msgspec.ValidationError as exc:
            raise InstrumentError(f"invalid instrument spec: {exc}") from exc


def _decimals(step: float) -> int:
    """Decimal places of a step as written (0.1 -> 1, 0.5 -> 1, 1e-8 -> 8, 10 -> 0)."""
    text = np.format_float_positional(step, trim="-")
    return len(text.split(".")[1]) if "." in text else 0


def grid_values(values: Any, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(int64 steps, off_grid_mask)`` for ``values`` on a grid of ``step``.

    A value is off the grid when it is not finite, further than :data:`GRID_TOLERANCE`
    of a step from a whole number of steps, or too large for int64 arithmetic. Its slot
    in the first array is 0; callers decide whether that is an error or a skip.
    """
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scaled = arr / step
        out = np.rint(scaled)
        allowed = np.maximum(GRID_TOLERANCE, np.abs(scaled) * GRID_RELATIVE_TOLERANCE)
        off = ~np.isfinite(scaled) | (np.abs(scaled - out) > allowed) | (np.abs(out) >= 2.0**62)
    out[off] = 0
    return out.astype(np.int64), off


def _to_grid(values: Any, step: float, what: str, key: str, where: str) -> np.ndarray:
    out, off = grid_values(values, step)
    if off.any():
        bad = int(np.flatnonzero(off.ravel())[0])
        value = float(np.asarray(values, dtype=np.float64).flat[bad])
        raise OffGridError(what, value, step, key, where, bad)
    return out


# --- built-in registry ---------------------------------------------------------------------


def builtin_instruments() -> dict[str, Instrument]:
    """Return the specs shipped with hftlib, keyed by ``venue:symbol``.

    They cover the venues and symbols of the bundled converters' test data; pass your own
    spec (``--instrument FILE`` or :meth:`Instrument.from_dict`) for anything else.
    """
    text = resources.files("hftlib").joinpath("instruments.json").read_text()
    return {f"{d['venue']}:{d['symbol']}": Instrument.from_dict(d) for d in json.loads(text)}


def lookup_instrument(venue: str, symbol: str) -> Instrument:
    """Return the built-in spec for ``venue``/``symbol`` or raise a helpful error."""
    registry = builtin_instruments()
    key = f"{venue.lower()}:{symbol.upper()}"
    if key in registry:
        return registry[key]
    known = ", ".join(sorted(registry))
    raise InstrumentError(
        f"no built-in instrument spec for {key}; give one with --instrument FILE.json or "
        f"--tick-size/--lot-size (built-in: {known})"
    )

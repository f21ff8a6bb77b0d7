"""Exact conversion of venue numbers to whole ticks and lots, with no floating point.

:meth:`hftlib.instrument.Instrument.price_to_ticks` goes through float64 and accepts values
within :data:`hftlib.instrument.GRID_TOLERANCE` of the grid. Venues that publish exact
decimals (Bitstamp's 8-decimal BTC sizes) or scaled integers (LOBSTER's dollars x 10000)
can be converted exactly instead; these helpers do that and refuse anything that is not a
whole number of steps, because hftlib never rounds market data.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation
from fractions import Fraction

MAX_STEPS = 2**62
"""Largest magnitude accepted for a tick or lot count (leaves int64 headroom for sums)."""

_CONTEXT = Context(prec=80, traps=[Inexact, InvalidOperation])
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_INT_STR = re.compile(r"\s*-?\d+\s*")
_INT_BYTES = re.compile(rb"\s*-?\d+\s*")


def parse_int(text: str | bytes) -> int:
    """Return a plain decimal integer (``"-12"``), refusing ``int()``'s extras and huge values.

    ``int`` also takes ``"1_000"`` and unbounded magnitudes; market data has neither, and a
    value past int64 would overflow the event columns later.
    """
    pattern = _INT_BYTES if isinstance(text, bytes) else _INT_STR
    if pattern.fullmatch(text) is None:  # type: ignore[arg-type]
        raise ValueError(f"{text!r} is not an integer")
    value = int(text)
    if abs(value) >= MAX_STEPS:
        raise ValueError(f"{text!r} is out of range")
    return value


def step_fraction(step: float) -> Fraction:
    """Return a tick or lot size as the exact decimal it was written as (``0.01`` -> 1/100).

    ``repr`` of a float is the shortest decimal that reads back to the same float, which is
    how the instrument specs write their steps.
    """
    frac = Fraction(repr(float(step)))
    if frac <= 0:
        raise ValueError(f"step must be positive, got {step!r}")
    return frac


class DecimalGrid:
    """Parse decimal strings (``"78318.0"``, ``"2.6e-06"``) into whole grid steps, exactly.

    Parameters
    ----------
    step : float
        Tick or lot size; parsed values must be whole multiples of it.
    cache_size : int
        Distinct strings remembered (venues repeat prices and sizes a lot). Default 65536.
    """

    __slots__ = ("_cache", "_step", "cache_size")

    def __init__(self, step: float, *, cache_size: int = 65536) -> None:
        frac = step_fraction(step)
        self._step = Decimal(frac.numerator) / Decimal(frac.denominator)
        self._cache: dict[str, int] = {}
        self.cache_size = cache_size

    def __call__(self, text: str) -> int:
        """Return ``text`` in steps; raise ``ValueError`` if malformed or off the grid."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        steps = self._convert(text)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[text] = steps
        return steps

    def _convert(self, text: str) -> int:
        if _DECIMAL.fullmatch(text) is None:
            raise ValueError(f"{text!r} is not a decimal number")
        try:
            value = Decimal(text.strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"{text!r} is not a decimal number") from None
        if not value.is_finite():
            raise ValueError(f"{text!r} is not a finite number")
        try:
            quotient = _CONTEXT.divide(value, self._step)
        except DecimalException:
            raise ValueError(f"{text!r} is not a multiple of {self._step}") from None
        if quotient != quotient.to_integral_value():
            raise ValueError(f"{text!r} is not a multiple of {self._step}")
        steps = int(quotient)
        if abs(steps) >= MAX_STEPS:
            raise ValueError(f"{text!r} is too large for the {self._step} grid")
        return steps


def scaled_int_ratio(unit: Fraction, step: float) -> tuple[int, int]:
    """Return ``(num, den)`` so that ``raw * num / den`` turns raw integer units into steps.

    ``unit`` is what one raw integer is worth (LOBSTER prices: ``Fraction(1, 10000)`` USD);
    a raw value converts exactly when ``raw * num`` is divisible by ``den``.
    """
    ratio = unit / step_fraction(step)
    return ratio.numerator, ratio.denominator

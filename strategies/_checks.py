"""Parameter checks shared by the shipped strategies' ``make_state`` (plain Python).

:class:`Checks` collects every problem with a strategy's parameters and raises one
:class:`~hftlib.engine.strategy.StrategyError` listing them all, so a config with three
mistakes is fixed in one go. Sizes become whole lots here, once, and never in the loop.
"""

from __future__ import annotations

import math
from typing import Any

from hftlib.engine.strategy import StrategyError
from hftlib.instrument import Instrument

LOT_TOLERANCE = 1e-6
"""Largest distance from a whole number of lots accepted as float rounding error."""


class Checks:
    """Collect parameter problems of one strategy and raise them together.

    Parameters
    ----------
    strategy : str
        Strategy type, the prefix of every message.
    params : mapping
        The checked parameters (types already enforced by the loader).
    instruments : list of Instrument
        The run's instruments, by asset index.
    """

    def __init__(self, strategy: str, params: dict[str, Any], instruments: list[Instrument]):
        self.strategy = strategy
        self.params = params
        self.instruments = instruments
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        """Record one problem."""
        self.problems.append(message)

    def require(self, ok: bool, name: str, rule: str) -> None:
        """Record ``name`` breaking ``rule`` unless ``ok``."""
        if not ok:
            self.fail(f"{name} must be {rule}, got {self.params[name]!r}")

    def asset(self, name: str = "asset") -> int:
        """Return the asset index ``params[name]``, recording it when out of range."""
        value = int(self.params[name])
        n = len(self.instruments)
        if not 0 <= value < n:
            self.fail(f"{name} {value} is out of range: the run has {n} instrument(s)")
            return 0
        return value

    def lots(self, name: str, asset: int, *, allow_zero: bool = False) -> int:
        """Return ``params[name]`` (base units) in lots of ``asset``; record if off the grid."""
        value = float(self.params[name])
        inst = self.instruments[asset]
        size = inst.lot_size * inst.contract_multiplier
        if allow_zero and value == 0.0:
            return 0
        lots = value / size
        if not value > 0.0 or not math.isfinite(lots) or abs(lots - round(lots)) > LOT_TOLERANCE:
            zero = "0 or " if allow_zero else ""
            self.fail(
                f"{name} {value!r} must be {zero}a positive multiple of {inst.key}'s lot {size!r}"
            )
            return 0
        return round(lots)

    def done(self) -> None:
        """Raise StrategyError listing every recorded problem, if any."""
        if self.problems:
            raise StrategyError(f"{self.strategy}: " + "; ".join(self.problems))

"""hftlib: simulation-first high-frequency and market-making trading.

Importing hftlib compiles nothing; numba kernels compile (or load from cache) on first use.
``hftlib.backtest`` is :func:`hftlib.sim.backtest.backtest`, imported on first access so
the core package never loads the simulator unless asked to.
"""

from typing import Any

from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.types import EVENT_DTYPE

__version__ = "0.1.0"

__all__ = [
    "EVENT_DTYPE",
    "Instrument",
    "InstrumentKind",
    "__version__",
    "backtest",
    "lookup_instrument",
]


def __getattr__(name: str) -> Any:
    if name == "backtest":
        import importlib

        return importlib.import_module("hftlib.sim.backtest").backtest
    raise AttributeError(f"module 'hftlib' has no attribute {name!r}")

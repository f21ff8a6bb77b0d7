"""hftlib: simulation-first high-frequency and market-making trading.

Importing hftlib compiles nothing; numba kernels compile (or load from cache) on first use.
"""

from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.types import EVENT_DTYPE

__version__ = "0.1.0"

__all__ = ["EVENT_DTYPE", "Instrument", "InstrumentKind", "__version__", "lookup_instrument"]

"""The embedded synthetic market: a deterministic L2 event stream for demos, tests, benchmarks.

The stream is for the built-in instrument ``synthetic:SYNUSD`` (tick 0.1, lot 0.001) and is
a pure function of :class:`SynthParams` (the seed included): the same parameters give the
same bytes, whatever ``chunk_rows`` is, and ``n`` rows are the first ``n`` rows of any longer
run except that the last row always carries ``F_LAST``.

The model
---------
* The book holds ``levels`` consecutive, non-empty ticks a side from each touch; it opens
  with one whole-book snapshot (``K_CLEAR`` of both sides, then ``K_SNAPSHOT`` levels).
* Each later message is one of:

  - a **depth batch** (the common case): 1..16 absolute level updates (``K_DEPTH``), the
    distance from the touch geometric (``touch_focus``), sizes geometric (``qty_mean``);
  - a **trade** (``trade_prob``): a ``K_TRADE`` row whose side is the aggressor, at the
    opposite touch, then a depth message showing what it consumed; a trade as large as the
    touch sweeps it, which widens the spread by one tick;
  - a **touch cancel** (``cancel_prob``): the touch level of one side is pulled;
  - a **refill** (whenever the spread is wider than one tick, with ``refill_prob``, and
    always at ``max_spread``): a new level one tick inside the spread, on a fair coin's
    side. The spread is one tick most of the time and the mid is a random walk in ticks.

  A level that leaves the ``levels`` window is deleted (size 0) and one that enters it is
  created in the same message, so the replayed book is exactly the window.
* Exchange times have exponential gaps (Poisson arrivals, ``mean_gap_ns``); a trade and the
  depth message it causes share one exchange time. ``local_ts = exch_ts + latency`` with
  latency ``latency_min_ns`` + exponential(``latency_jitter_ns``), raised to the previous
  message's local time when needed so that local time never goes back (a FIFO feed).
* Depth messages chain like Binance's diff stream: ``seq`` grows by the number of rows and
  ``aux`` is the previous depth message's ``seq`` (the snapshot's ``seq`` for the first one).
  Trades count their own ids from 1. Every message ends with ``F_LAST``.

Memory stays flat: the generator holds one chunk, a message buffer and the book rings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import numpy as np

from hftlib.convert.base import DEFAULT_CHUNK_ROWS
from hftlib.data import _synth_kernel as _k
from hftlib.errors import HftlibError
from hftlib.instrument import Instrument, lookup_instrument
from hftlib.types import EVENT_DTYPE, empty_events

SYNTH_VENUE = "synthetic"
SYNTH_SYMBOL = "SYNUSD"


class SynthParamsError(HftlibError, ValueError):
    """A :class:`SynthParams` value is out of range or of the wrong type."""


class SynthParams(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Parameters of the synthetic market; every field has a usable default.

    Parameters
    ----------
    seed : int
        Seed of the numpy ``Generator`` (PCG64); >= 0. Default 0.
    start_ns : int
        Exchange time of the opening snapshot, ns since the epoch. Default
        1_704_067_200_000_000_000 (2024-01-01T00:00:00Z).
    start_px : int
        Best bid at the start, in ticks; >= ``levels``. Default 500_000 (50 000.0 USD).
    levels : int
        Levels kept on each side (and sent in the snapshot); 2..10_000. Default 50.
    mean_gap_ns : float
        Mean exchange time between messages, ns; >= 0. Default 200_000 (5 000 msg/s).
    latency_min_ns : int
        Smallest feed latency, ns; >= 1 so local_ts > exch_ts. Default 200_000.
    latency_jitter_ns : float
        Mean of the exponential latency added to ``latency_min_ns``; >= 0. Default 300_000.
    trade_prob : float
        Probability that a message (at a one-tick spread) is a trade. Default 0.1.
    cancel_prob : float
        Probability that a message pulls a touch level; ``trade_prob + cancel_prob <= 1``.
        Default 0.02.
    refill_prob : float
        Probability that a message refills a spread wider than one tick. Default 0.7.
    max_spread : int
        Widest spread in ticks (>= 2); at this width the next message always refills.
        Default 5.
    touch_focus : float
        Parameter p in (0, 1] of the geometric distance of level updates from the touch
        (p = 1: always the touch). Default 0.35.
    qty_mean : float
        Mean resting size of a level, lots; >= 1. Default 2_000 (2.0 SYNUSD).
    trade_qty_mean : float
        Mean trade size before it is capped by the touch, lots; >= 1. Default 400.
    batch_mean : float
        Mean updates per depth message, 1..16. Default 2.0.
    asset : int
        ``asset`` field of every row; 0..2**32-1. Default 0.
    """

    seed: int = 0
    start_ns: int = 1_704_067_200_000_000_000
    start_px: int = 500_000
    levels: int = 50
    mean_gap_ns: float = 200_000.0
    latency_min_ns: int = 200_000
    latency_jitter_ns: float = 300_000.0
    trade_prob: float = 0.1
    cancel_prob: float = 0.02
    refill_prob: float = 0.7
    max_spread: int = 5
    touch_focus: float = 0.35
    qty_mean: float = 2_000.0
    trade_qty_mean: float = 400.0
    batch_mean: float = 2.0
    asset: int = 0

    def __post_init__(self) -> None:
        _check_int(self, "seed", 0, None)
        _check_int(self, "start_ns", 0, 2**62)
        _check_int(self, "levels", 2, 10_000)
        _check_int(self, "start_px", self.levels, 2**53)
        _check_int(self, "latency_min_ns", 1, 10**12)
        _check_int(self, "max_spread", 2, 10_000)
        _check_int(self, "asset", 0, 2**32 - 1)
        _check_float(self, "mean_gap_ns", 0.0, 1e12)
        _check_float(self, "latency_jitter_ns", 0.0, 1e12)
        for name in ("trade_prob", "cancel_prob", "refill_prob"):
            _check_float(self, name, 0.0, 1.0)
        if self.trade_prob + self.cancel_prob > 1.0:
            raise SynthParamsError(
                f"trade_prob + cancel_prob must be <= 1, got {self.trade_prob} + {self.cancel_prob}"
            )
        _check_float(self, "touch_focus", 0.0, 1.0)
        if self.touch_focus == 0.0:
            raise SynthParamsError("touch_focus must be > 0 (p of a geometric distribution)")
        _check_float(self, "qty_mean", 1.0, 1e12)
        _check_float(self, "trade_qty_mean", 1.0, 1e12)
        _check_float(self, "batch_mean", 1.0, float(_k.MAX_BATCH))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-ready dict."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthParams:
        """Build and check parameters from a dict (e.g. decoded JSON or TOML)."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise SynthParamsError(f"invalid synthetic market parameters: {exc}") from exc


def _check_int(params: SynthParams, name: str, lo: int, hi: int | None) -> None:
    value = getattr(params, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SynthParamsError(f"{name} must be an int, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise SynthParamsError(f"{name} must be {bound}, got {value}")


def _check_float(params: SynthParams, name: str, lo: float, hi: float) -> None:
    value = getattr(params, name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SynthParamsError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise SynthParamsError(f"{name} must be in [{lo}, {hi}], got {value}")


def synthetic_instrument() -> Instrument:
    """Return the spec of ``synthetic:SYNUSD``, the instrument the generator's ticks mean."""
    return lookup_instrument(SYNTH_VENUE, SYNTH_SYMBOL)


KernelFn = Callable[..., int]
"""The chunk kernel's signature: :func:`hftlib.data._synth_kernel.fill_chunk`."""


class SynthMarket:
    """The generator's whole state: book rings, clocks, ids, pending rows and the RNG.

    Parameters
    ----------
    params : SynthParams
        Market parameters (the seed included).
    kernel : callable
        The chunk kernel; the njit ``fill_chunk`` by default, ``fill_chunk.py_func`` to run
        the outer loop as plain Python (tests).
    """

    def __init__(self, params: SynthParams, *, kernel: KernelFn = _k.fill_chunk) -> None:
        self.params = params
        self._kernel = kernel
        self._rng = np.random.Generator(np.random.PCG64(params.seed))
        self._bid_q = np.zeros(params.levels, dtype=np.int64)
        self._ask_q = np.zeros(params.levels, dtype=np.int64)
        self._msg = empty_events(_k.msg_capacity(params.levels))
        self._st = np.zeros(_k.S_SIZE, dtype=np.int64)
        self._st[_k.S_BID] = params.start_px
        self._st[_k.S_ASK] = params.start_px + 1
        self._st[_k.S_EXCH] = params.start_ns
        self._st[_k.S_LOCAL] = params.start_ns
        self._st[_k.S_DEPTH_SEQ] = _k.DEPTH_SEQ0
        pf = np.zeros(_k.P_SIZE, dtype=np.float64)
        pf[_k.P_MEAN_GAP_NS] = params.mean_gap_ns
        pf[_k.P_LATENCY_MIN_NS] = params.latency_min_ns
        pf[_k.P_LATENCY_JITTER_NS] = params.latency_jitter_ns
        pf[_k.P_TRADE_PROB] = params.trade_prob
        pf[_k.P_CANCEL_PROB] = params.cancel_prob
        pf[_k.P_REFILL_PROB] = params.refill_prob
        pf[_k.P_MAX_SPREAD] = params.max_spread
        pf[_k.P_TOUCH_FOCUS] = params.touch_focus
        pf[_k.P_QTY_MEAN] = params.qty_mean
        pf[_k.P_TRADE_QTY_MEAN] = params.trade_qty_mean
        pf[_k.P_BATCH_MEAN] = params.batch_mean
        pf[_k.P_ASSET] = params.asset
        self._pf = pf

    @property
    def emitted(self) -> int:
        """Rows produced so far."""
        return int(self._st[_k.S_EMITTED])

    def fill(self, out: np.ndarray, limit: int) -> int:
        """Write the next rows into ``out`` without passing ``limit`` rows in all.

        Return the number of rows written; the row that reaches ``limit`` gets ``F_LAST``.
        """
        return int(
            self._kernel(
                out, self._msg, self._st, self._bid_q, self._ask_q, self._rng, self._pf, limit
            )
        )


def generate(
    params: SynthParams | None = None,
    n_events: int = 1_000_000,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    kernel: KernelFn = _k.fill_chunk,
) -> Iterator[np.ndarray]:
    """Return an iterator over ``n_events`` synthetic rows in chunks of <= ``chunk_rows`` rows.

    The parameters are checked here, before the first chunk is asked for. Every chunk is a
    new array, so memory stays at about two chunks (the one the caller holds and the one
    being filled) whatever ``n_events`` is.

    Parameters
    ----------
    params : SynthParams or None
        Market parameters; None means ``SynthParams()``.
    n_events : int
        Rows to produce in all (>= 0); the last one always carries ``F_LAST``.
    chunk_rows : int
        Largest chunk (>= 1). The concatenated output does not depend on it.
    kernel : callable
        See :class:`SynthMarket`.

    Returns
    -------
    Iterator[numpy.ndarray]
        Arrays of :data:`hftlib.types.EVENT_DTYPE`, in local_ts order.

    Raises
    ------
    SynthParamsError
        When ``n_events`` or ``chunk_rows`` is not a valid count.
    """
    if not _is_int(n_events) or n_events < 0:
        raise SynthParamsError(f"n_events must be an int >= 0, got {n_events!r}")
    if not _is_int(chunk_rows) or chunk_rows < 1:
        raise SynthParamsError(f"chunk_rows must be an int >= 1, got {chunk_rows!r}")
    market = SynthMarket(params if params is not None else SynthParams(), kernel=kernel)
    return _chunks(market, int(n_events), int(chunk_rows))


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _chunks(market: SynthMarket, n_events: int, chunk_rows: int) -> Iterator[np.ndarray]:
    while market.emitted < n_events:
        out = np.empty(min(chunk_rows, n_events - market.emitted), dtype=EVENT_DTYPE)
        market.fill(out, n_events)
        yield out


def generate_array(params: SynthParams | None = None, n_events: int = 100_000) -> np.ndarray:
    """Return ``n_events`` synthetic rows as one array (the same rows :func:`generate` yields)."""
    chunks = list(generate(params, n_events, chunk_rows=max(1, n_events)))
    return chunks[0] if chunks else np.empty(0, dtype=EVENT_DTYPE)


def warm_up() -> None:
    """Compile (or load from the numba cache) the generator's kernels."""
    generate_array(SynthParams(levels=2), 64)

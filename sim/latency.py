"""Order latency models of the simulated venue (numba kernels and Python constructors).

A model is a :data:`LatencyModel` namedtuple of numpy arrays, so compiled code can take it
as an argument and numba's cache works across processes. Two kernels read it:

- :func:`entry_latency` ``(m, local_ts)``: ns from the strategy sending a request at local
  time ``local_ts`` to the venue processing it.
- :func:`response_latency` ``(m, exch_ts)``: ns from the venue acting at ``exch_ts`` to the
  strategy seeing the response.

Both are never negative.

Kinds
-----
``LAT_CONSTANT``
    ``params = [entry_ns, response_ns]``.
``LAT_INTERP``
    A recorded series, as hftbacktest's ``IntpOrderLatency`` (``models/latency.rs``):
    ``series_ts[0]`` holds request times, ``series_ts[1]`` the venue times
    (``request + entry``), ``series_entry`` / ``series_resp`` the latencies. The entry
    latency is interpolated linearly over request times, the response latency over venue
    times, each clamped to the first/last point outside the series. Interpolation is
    hftbacktest's: ``trunc((y2 - y1) / (x2 - x1) * (x - x1)) + y1`` in float64.
``LAT_RANDOM``
    Seeded log-normal draws, ``max(floor, median * exp(sigma * z))`` with ``z`` standard
    normal, ``params = [median_entry, median_response, sigma, floor]``. The generator is a
    splitmix64 stream whose state lives in ``rng[0]``, so runs are byte-identical and do not
    touch numba's global ``np.random`` state. Entry and response draws share the stream in
    call order.
"""

from __future__ import annotations

import math
import re
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hftlib.jit import nrt_free, nrt_free_inline

LAT_CONSTANT = 0
LAT_INTERP = 1
LAT_RANDOM = 2

LatencyModel = namedtuple("LatencyModel", "kind params series_ts series_entry series_resp rng")
"""Order latency model; every field is a numpy array (see the module doc).

``kind`` int64[1]; ``params`` float64[4]; ``series_ts`` int64[2, n] (request times, venue
times); ``series_entry`` / ``series_resp`` int64[n]; ``rng`` uint64[1] (generator state).
"""

_NO_SERIES_TS = np.zeros((2, 0), dtype=np.int64)
_NO_SERIES = np.zeros(0, dtype=np.int64)

_MASK64 = (1 << 64) - 1


def _model(
    kind: int, params: list[float], ts: np.ndarray, entry: np.ndarray, resp: np.ndarray, seed: int
) -> LatencyModel:
    return LatencyModel(
        np.array([kind], dtype=np.int64),
        np.array(params + [0.0] * (4 - len(params)), dtype=np.float64),
        ts,
        entry,
        resp,
        np.array([seed & _MASK64], dtype=np.uint64),
    )


def _check_ns(name: str, value: float) -> int:
    if not (isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number of ns, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 ns, got {value!r}")
    return int(value)


def constant(entry_ns: int, response_ns: int) -> LatencyModel:
    """Return a model with fixed entry and response latencies (ns, >= 0)."""
    e = _check_ns("entry_ns", entry_ns)
    r = _check_ns("response_ns", response_ns)
    return _model(LAT_CONSTANT, [float(e), float(r)], _NO_SERIES_TS, _NO_SERIES, _NO_SERIES, 0)


def interpolated(ts: np.ndarray, entry_ns: np.ndarray, response_ns: np.ndarray) -> LatencyModel:
    """Return a model interpolating a recorded latency series.

    Parameters
    ----------
    ts : array of int
        Request times (local clock, ns), non-decreasing, at least one point.
    entry_ns, response_ns : array of int
        Entry and response latency of each request (ns, >= 0), same length as ``ts``.

    Raises
    ------
    ValueError
        On empty or mismatched arrays, unsorted ``ts`` or negative latencies.

    Notes
    -----
    Response latencies are interpolated over the venue times ``ts + entry_ns``. Where
    those go backwards (a slow request followed by a fast one) their running maximum is
    used, so lookups stay a binary search; hftbacktest walks the rows with a forward-only
    cursor instead, which agrees whenever venue times are sorted.
    """
    t = np.asarray(ts)
    e = np.asarray(entry_ns)
    r = np.asarray(response_ns)
    if t.ndim != 1 or e.ndim != 1 or r.ndim != 1:
        raise ValueError("ts, entry_ns and response_ns must be 1-D arrays")
    if not (len(t) == len(e) == len(r)):
        raise ValueError(
            f"ts, entry_ns and response_ns must have the same length, got "
            f"{len(t)}, {len(e)}, {len(r)}"
        )
    if len(t) == 0:
        raise ValueError("a latency series needs at least one point")
    for name, arr in (("ts", t), ("entry_ns", e), ("response_ns", r)):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must hold finite numbers")
    t = t.astype(np.int64)
    e = e.astype(np.int64)
    r = r.astype(np.int64)
    if np.any(np.diff(t) < 0):
        bad = int(np.flatnonzero(np.diff(t) < 0)[0]) + 1
        raise ValueError(f"ts must be non-decreasing; row {bad} goes back in time")
    for name, arr in (("entry_ns", e), ("response_ns", r)):
        if np.any(arr < 0):
            bad = int(np.flatnonzero(arr < 0)[0])
            raise ValueError(f"{name} must be >= 0; row {bad} is {int(arr[bad])}")
    exch = np.maximum.accumulate(t + e)
    series_ts = np.ascontiguousarray(np.stack([t, exch]))
    return _model(LAT_INTERP, [], series_ts, e.copy(), r.copy(), 0)


def random(
    median_entry_ns: float, median_response_ns: float, sigma: float, seed: int, floor_ns: int = 0
) -> LatencyModel:
    """Return a seeded log-normal model (see the module doc).

    Parameters
    ----------
    median_entry_ns, median_response_ns : float
        Medians of the two latencies (ns, > 0).
    sigma : float
        Standard deviation of the log latency (>= 0; 0 gives constant medians).
    seed : int
        Generator seed; the same seed gives the same draws.
    floor_ns : int
        Smallest latency returned (ns, >= 0). Default 0.
    """
    for name, value in (
        ("median_entry_ns", median_entry_ns),
        ("median_response_ns", median_response_ns),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number of ns > 0, got {value!r}")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    floor = _check_ns("floor_ns", floor_ns)
    if not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    params = [float(median_entry_ns), float(median_response_ns), float(sigma), float(floor)]
    return _model(LAT_RANDOM, params, _NO_SERIES_TS, _NO_SERIES, _NO_SERIES, int(seed))


# --- files -------------------------------------------------------------------------------------


def _columns_from_table(names: list[str], get: Callable[[str], Any], path: Path) -> LatencyModel:
    cols = set(names)
    if {"ts", "entry_ns", "response_ns"} <= cols:
        return interpolated(get("ts"), get("entry_ns"), get("response_ns"))
    if {"req_ts", "exch_ts", "resp_ts"} <= cols:
        req = np.asarray(get("req_ts"), dtype=np.int64)
        exch = np.asarray(get("exch_ts"), dtype=np.int64)
        resp = np.asarray(get("resp_ts"), dtype=np.int64)
        rejected = exch <= 0
        if np.any(rejected):
            # hftbacktest turns these rows into venue rejections; hftlib has no such model.
            raise ValueError(
                f"{path}: {int(rejected.sum())} row(s) have exch_ts <= 0 (requests the venue "
                f"rejected); remove them first, hftlib does not simulate those rejections"
            )
        return interpolated(req, exch - req, resp - exch)
    raise ValueError(
        f"{path}: need columns ts, entry_ns, response_ns (or hftbacktest's req_ts, exch_ts, "
        f"resp_ts); found {sorted(cols)}"
    )


def from_file(path: str | Path) -> LatencyModel:
    """Load a recorded latency series from ``.npz``, ``.npy``, ``.csv`` or ``.parquet``.

    The file holds columns ``ts``, ``entry_ns``, ``response_ns`` (ns), or hftbacktest's
    order-latency layout ``req_ts``, ``exch_ts``, ``resp_ts`` (a structured array, alone in
    ``.npy`` or under any key of ``.npz``; an ``.npz`` may also store one array per column).
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"latency file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            if len(keys) == 1 and z[keys[0]].dtype.names:
                arr = z[keys[0]]
                return _columns_from_table(list(arr.dtype.names), lambda c: arr[c], p)
            data = {k: z[k] for k in keys}
        return _columns_from_table(keys, lambda c: data[c], p)
    if suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
        if not arr.dtype.names:
            raise ValueError(f"{p}: expected a structured array with named columns")
        return _columns_from_table(list(arr.dtype.names), lambda c: arr[c], p)
    if suffix in (".csv", ".parquet"):
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p) if suffix == ".parquet" else pacsv.read_csv(p)
        except Exception as exc:  # pyarrow raises several unrelated types for bad files
            raise ValueError(f"{p}: cannot read latency table: {exc}") from exc
        return _columns_from_table(
            table.column_names, lambda c: table.column(c).to_numpy(zero_copy_only=False), p
        )
    raise ValueError(f"{p}: unsupported latency file type {suffix!r} (npz, npy, csv, parquet)")


# --- CLI specs ---------------------------------------------------------------------------------

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*$")

LATENCY_SPEC_HELP = (
    "latency spec: DURATION (same entry and response), constant:ENTRY,RESPONSE, "
    "random:MEDIAN_ENTRY,MEDIAN_RESPONSE,SIGMA[,seed=N][,floor=DURATION] or file:PATH; "
    "durations take ns/us/ms/s (bare numbers are ns), e.g. 2ms, constant:1ms,2ms, "
    "random:1ms,1ms,0.3,seed=7"
)


def parse_duration(text: str) -> int:
    """Parse ``"2ms"``, ``"500us"``, ``"1.5s"``, ``"5m"`` or ``"250"`` (bare: ns) into int ns."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(
            f"bad duration {text!r}; use a number with ns, us, ms, s, m, h or d (e.g. 2ms)"
        )
    value = float(m.group(1)) * _UNITS[m.group(2) or "ns"]
    return int(round(value))


def parse_latency(spec: str) -> LatencyModel:
    """Build a model from a CLI string (see :data:`LATENCY_SPEC_HELP`)."""
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    try:
        if not sep:
            ns = parse_duration(text)
            return constant(ns, ns)
        if kind == "file":
            return from_file(rest.strip())
        parts = [s.strip() for s in rest.split(",")]
        if kind == "constant":
            if len(parts) != 2:
                raise ValueError("constant takes ENTRY,RESPONSE")
            return constant(parse_duration(parts[0]), parse_duration(parts[1]))
        if kind == "random":
            pos = [s for s in parts if "=" not in s]
            opts = dict(s.split("=", 1) for s in parts if "=" in s)
            unknown = set(opts) - {"seed", "floor"}
            if len(pos) != 3 or unknown:
                raise ValueError(
                    "random takes MEDIAN_ENTRY,MEDIAN_RESPONSE,SIGMA[,seed=N][,floor=DURATION]"
                )
            return random(
                parse_duration(pos[0]),
                parse_duration(pos[1]),
                float(pos[2]),
                seed=int(opts.get("seed", "0")),
                floor_ns=parse_duration(opts["floor"]) if "floor" in opts else 0,
            )
        raise ValueError(f"unknown latency kind {kind!r}")
    except ValueError as exc:
        raise ValueError(f"bad latency spec {spec!r}: {exc}; {LATENCY_SPEC_HELP}") from None


# --- kernels -----------------------------------------------------------------------------------


_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@nrt_free_inline
def _add64(a: np.uint64, b: np.uint64) -> np.uint64:
    """``(a + b) mod 2**64`` without overflowing (numpy scalars warn on overflow)."""
    lo = (a & _M32) + (b & _M32)
    hi = ((a >> _S32) + (b >> _S32) + (lo >> _S32)) & _M32
    return (hi << _S32) | (lo & _M32)


@nrt_free_inline
def _mul64(a: np.uint64, b: np.uint64) -> np.uint64:
    """``(a * b) mod 2**64`` from 32-bit halves, so no intermediate overflows."""
    al = a & _M32
    ah = a >> _S32
    bl = b & _M32
    bh = b >> _S32
    lo = al * bl
    mid = ((ah * bl) & _M32) + ((al * bh) & _M32) + (lo >> _S32)
    return ((mid & _M32) << _S32) | (lo & _M32)


@nrt_free
def _splitmix64(state: np.ndarray) -> np.uint64:
    """Advance the splitmix64 state in ``state[0]`` and return the next 64-bit output."""
    s = _add64(state[0], np.uint64(0x9E3779B97F4A7C15))
    state[0] = s
    z = _mul64(s ^ (s >> np.uint64(30)), np.uint64(0xBF58476D1CE4E5B9))
    z = _mul64(z ^ (z >> np.uint64(27)), np.uint64(0x94D049BB133111EB))
    return z ^ (z >> np.uint64(31))


@nrt_free
def _uniform(state: np.ndarray) -> float:
    """Return a uniform draw in (0, 1) from the top 53 bits of the stream."""
    top = _splitmix64(state) >> np.uint64(11)
    return (float(top) + 0.5) * (1.0 / 9007199254740992.0)


@nrt_free
def _lognormal(state: np.ndarray, median: float, sigma: float, floor: float) -> int:
    """Draw ``max(floor, median * exp(sigma * z))`` ns, ``z`` standard normal (Box-Muller)."""
    u1 = _uniform(state)
    u2 = _uniform(state)
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    x = median * math.exp(sigma * z)
    if x < floor:
        x = floor
    # Latencies above ~292 years would overflow int64; no real model gets near that.
    return int(min(x, 9.2e18))


@nrt_free
def _intp(x: int, x1: int, y1: int, x2: int, y2: int) -> int:
    """Interpolate as hftbacktest: float slope times offset, truncated, plus ``y1``."""
    if x2 == x1:
        return y1
    return int((y2 - y1) / (x2 - x1) * (x - x1)) + y1


@nrt_free
def _series(xs: np.ndarray, ys: np.ndarray, x: int) -> int:
    """Piecewise-linear ``ys`` over sorted ``xs`` at ``x``, clamped at both ends."""
    n = xs.shape[0]
    if x < xs[0]:
        return int(ys[0])
    if x >= xs[n - 1]:
        return int(ys[n - 1])
    # last i with xs[i] <= x (hftbacktest picks the row with row.x <= x < next.x)
    i = np.searchsorted(xs, x, side="right") - 1
    return _intp(x, xs[i], ys[i], xs[i + 1], ys[i + 1])


@nrt_free
def entry_latency(m: LatencyModel, local_ts: int) -> int:
    """Return the entry latency (ns, >= 0) of a request sent at ``local_ts``."""
    kind = m.kind[0]
    if kind == LAT_CONSTANT:
        v = int(m.params[0])
    elif kind == LAT_INTERP:
        v = _series(m.series_ts[0], m.series_entry, local_ts)
    else:
        v = _lognormal(m.rng, m.params[0], m.params[2], m.params[3])
    return max(v, 0)


@nrt_free
def response_latency(m: LatencyModel, exch_ts: int) -> int:
    """Return the response latency (ns, >= 0) of a venue event at ``exch_ts``."""
    kind = m.kind[0]
    if kind == LAT_CONSTANT:
        v = int(m.params[1])
    elif kind == LAT_INTERP:
        v = _series(m.series_ts[1], m.series_resp, exch_ts)
    else:
        v = _lognormal(m.rng, m.params[1], m.params[2], m.params[3])
    return max(v, 0)

"""Run a strategy over recorded or synthetic events against the replay venue.

:func:`backtest` is the notebook entry point (re-exported as ``hftlib.backtest``) and what
``hft backtest`` calls. It checks everything it can before the loop starts (strategy,
callbacks, parameters, instruments, models), streams the data through the numba loop of
:mod:`hftlib.sim.backtest_loop` in chunks (memory stays flat), and returns a
:class:`~hftlib.results.result.BacktestResult`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
from hftlib.sim.backtest_loop import (
    BAD_CURSOR,
    DONE,
    LOGS_FULL,
    LS_FILL_N,
    LS_IL,
    LS_OLOG_N,
    LS_REC_N,
    LS_ROWS,
    LS_RQ_DROPPED,
    Loop,
    new_loop,
    rebase,
    venue_time_floor,
)
from hftlib.sim.fees import instrument_row
from hftlib.sim.latency import LatencyModel, parse_latency
from hftlib.sim.latency import parse_duration as latency_duration
from hftlib.sim.queue import QM_L3_FIFO, parse_queue_model
from hftlib.sim.replay import VS_RESP_DROPPED, new_venue

from hftlib.book.l3 import new_l3
from hftlib.data.reader import EventStream
from hftlib.engine import codegen
from hftlib.engine.context import CLK_NEXT_ID, new_context
from hftlib.engine.strategy import load_strategy
from hftlib.engine.types import CODE_NAMES, N_INSTR
from hftlib.errors import DataError, HftlibError
from hftlib.instrument import Instrument
from hftlib.jit import entry_point
from hftlib.results.result import BacktestResult
from hftlib.risk import RiskLimits, limits_array
from hftlib.types import EVENT_DTYPE, K_L3_ADD, K_L3_FILL, KIND_MASK

LOOP_MODULE = "hftlib.sim.backtest_loop"
BACKTEST_CHUNK_ROWS = 1 << 18
"""Rows per chunk fed to the loop (16 MiB; with one read ahead, memory stays at a few chunks)."""


class BacktestError(HftlibError, ValueError):
    """The backtest cannot start: bad data, parameters or models."""


_T = TypeVar("_T")


def parse_duration(value: str | int | float, what: str) -> int:
    """Return ``value`` ("100ms", "1s", or ns as a number) in nanoseconds."""
    if isinstance(value, bool):
        raise BacktestError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        ns = int(value)
    else:
        try:
            ns = latency_duration(value)
        except ValueError as exc:
            raise BacktestError(f"{what}: {exc}") from None
    if ns <= 0:
        raise BacktestError(f"{what} must be positive, got {value!r}")
    return ns


def parse_time(value: str | int | None, what: str) -> int | None:
    """Return a time bound in ns since the epoch from ns or an ISO-8601 string (UTC)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise BacktestError(f"{what}: cannot read {value!r} as a time") from exc
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value)


@dataclass
class _Data:
    instruments: list[Instrument]
    chunks: Iterable[np.ndarray]
    rows: int | None
    files: list[str]
    _first: np.ndarray | None = None
    _iter: Iterator[np.ndarray] | None = None

    def peek(self) -> np.ndarray | None:
        """Return the first non-empty chunk without losing it from :meth:`stream`."""
        if self._iter is None:
            self._iter = iter(self.chunks)
            self._first = next((c for c in self._iter if len(c)), None)
        return self._first

    def stream(self) -> Iterator[np.ndarray]:
        """Yield every chunk once (including a peeked one)."""
        first = self.peek()
        if first is not None:
            yield first
        if self._iter is not None:
            yield from self._iter


def _open_data(
    data: str | Path | np.ndarray | Sequence[str | Path | np.ndarray],
    instruments: Sequence[Instrument] | None,
    chunk_rows: int,
) -> _Data:
    items: list[Any] = list(data) if isinstance(data, list | tuple) else [data]
    if not items:
        raise BacktestError("no data given")
    if all(isinstance(x, np.ndarray) for x in items):
        if not instruments:
            raise BacktestError("an event array carries no instrument: pass instruments=[...]")
        if len(items) != 1:
            raise BacktestError("pass one merged event array (or files)")
        arr = items[0]
        if arr.dtype != EVENT_DTYPE:
            raise BacktestError(f"event array has dtype {arr.dtype}, expected hftlib EVENT_DTYPE")
        chunks = [arr[i : i + chunk_rows] for i in range(0, len(arr), chunk_rows)]
        return _Data(list(instruments), chunks, len(arr), [])
    if any(isinstance(x, np.ndarray) for x in items):
        raise BacktestError("give either event files/folders or one event array, not both")
    paths = [Path(x) for x in items]
    for p in paths:
        if not p.exists():
            raise BacktestError(f"data path {p} does not exist")
    try:
        stream = EventStream.from_paths(paths, chunk_rows=chunk_rows)
    except HftlibError as exc:
        raise BacktestError(str(exc)) from exc
    found = stream.instruments
    if instruments is not None:
        if len(instruments) != len(found):
            raise BacktestError(
                f"{len(instruments)} instrument(s) given but the data holds {len(found)}: "
                + ", ".join(i.key for i in found)
            )
        for want, got in zip(instruments, found, strict=True):
            if want.key != got.key:
                raise BacktestError(
                    f"data is for {got.key} but the backtest was configured for {want.key}"
                )
    return _Data(list(found), stream, stream.rows, [str(p) for p in paths])


def _checked_chunks(
    chunks: Iterable[np.ndarray],
    n_assets: int,
    start: int | None,
    end: int | None,
    checked: bool,
) -> Iterator[np.ndarray]:
    """Yield chunks cut to [start, end); raise DataError on unsorted rows or unknown assets.

    ``checked`` chunks come from the file reader, which already refuses unsorted files and
    numbers the assets itself; arrays from the caller are checked here.
    """
    last = np.iinfo(np.int64).min
    seen = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        ts = chunk["local_ts"]
        if checked:
            pass
        elif ts[0] < last or (len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1]))):
            bad = seen + (0 if ts[0] < last else int(np.argmax(ts[1:] < ts[:-1])) + 1)
            raise DataError(
                "<events>",
                bad,
                "rows are not sorted by local_ts; run `hft data validate "
                "--repair` on the files first",
            )
        last = int(ts[-1])
        if not chunk.flags.writeable or not chunk.flags.c_contiguous:
            chunk = np.array(chunk)  # the loop is compiled for writable C arrays only
        if not checked and int(chunk["asset"].max()) >= n_assets:
            raise DataError("<events>", seen, f"asset index beyond the {n_assets} instrument(s)")
        seen += len(chunk)
        if start is not None or end is not None:
            lo = 0 if start is None else int(np.searchsorted(ts, start, "left"))
            hi = len(chunk) if end is None else int(np.searchsorted(ts, end, "left"))
            chunk = chunk[lo:hi]
            if end is not None and hi < len(ts):
                if len(chunk):
                    yield chunk
                return
            if len(chunk) == 0:
                continue
        yield chunk


def _has_l3(src: _Data, queue_model: int) -> bool:
    """Whether the run needs full L3 books: L3 rows in the data, or the exact FIFO model."""
    if queue_model == QM_L3_FIFO:
        return True
    first = src.peek()
    if first is None:
        return False
    kinds = first["flags"] & KIND_MASK
    return bool(np.any((kinds >= K_L3_ADD) & (kinds <= K_L3_FILL)))


def _seeded(spec: str, seed: int) -> str:
    """Give a random latency spec the run's seed unless it names its own."""
    if spec.strip().lower().startswith("random:") and "seed=" not in spec:
        return f"{spec},seed={seed}"
    return spec


def _tail(pre: np.ndarray, cur: np.ndarray, start: int) -> np.ndarray:
    """Return the rows of ``pre`` followed by ``cur`` from ``start`` on, as one new array."""
    if start < len(pre):
        return np.concatenate((pre[start:], cur))
    return cur[start - len(pre) :].copy()


def _floor(chunk: np.ndarray) -> np.ndarray:
    out = np.empty(len(chunk), dtype=np.int64)
    venue_time_floor(chunk, out)
    return out


def _with_floor(chunks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pair each chunk with its venue-time floor (computed where the chunk is read)."""
    for chunk in chunks:
        yield chunk, _floor(chunk)


def _prefetch(chunks: Iterator[_T], depth: int = 1) -> Iterator[_T]:
    """Read chunks in a background thread while the (GIL-free) loop runs on earlier ones.

    Errors raised by the reader surface here, in order; stopping early stops the reader.
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(("chunk", chunk), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put(("error", exc))

    worker = threading.Thread(target=produce, name="hftlib-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _lookahead(chunks: Iterator[_T]) -> Iterator[tuple[_T, bool]]:
    prev = next(chunks, None)
    while prev is not None:
        nxt = next(chunks, None)
        yield prev, nxt is None
        prev = nxt


def _risk_limits(risk: Any, n: int, instr: np.ndarray) -> np.ndarray:
    if risk is None:
        per = [RiskLimits() for _ in range(n)]
    elif isinstance(risk, RiskLimits):
        per = [risk] * n
    elif isinstance(risk, Mapping):
        per = [RiskLimits.from_dict(dict(risk))] * n
    elif isinstance(risk, list | tuple) and len(risk) == n:
        per = [r if isinstance(r, RiskLimits) else RiskLimits.from_dict(dict(r)) for r in risk]
    else:
        raise BacktestError("risk must be RiskLimits, a dict, or one of them per instrument")
    return limits_array(per, instr)


class _Collector:
    """Copies the loop's log buffers out whenever they fill, and at the end."""

    def __init__(self) -> None:
        self.rec: list[np.ndarray] = []
        self.fills: list[np.ndarray] = []
        self.olog: list[np.ndarray] = []

    def take(self, lp: Loop) -> None:
        st = lp.state
        for buf, out, col in (
            (lp.rec, self.rec, LS_REC_N),
            (lp.fills, self.fills, LS_FILL_N),
            (lp.olog, self.olog, LS_OLOG_N),
        ):
            out.append(buf[: st[col]].copy())
            st[col] = 0

    @staticmethod
    def join(parts: list[np.ndarray], like: np.ndarray) -> np.ndarray:
        return np.concatenate(parts) if parts else like[:0].copy()


def backtest(
    strategy: str | ModuleType | None = None,
    data: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    instruments: Sequence[Instrument] | None = None,
    latency: str | LatencyModel = "0ns",
    queue: str = "risk_averse",
    partial_fills: bool = False,
    fees: tuple[float, float] | None = None,
    risk: Any = None,
    record_interval: str | int = "1s",
    start: str | int | None = None,
    end: str | int | None = None,
    seed: int = 0,
    initial_balance: float = 0.0,
    capital: float | None = None,
    max_orders: int = 256,
    l3_orders: int = 1 << 18,
    chunk_rows: int = BACKTEST_CHUNK_ROWS,
    progress: bool | Callable[[int], None] = False,
) -> BacktestResult:
    """Backtest ``strategy`` on ``data`` and return the result.

    Parameters
    ----------
    strategy
        A strategy module, its name in ``hftlib.strategies`` (``"quote_mm"``), a dotted
        module path, a ``.py`` file, or None for a pure replay.
    data
        Event files or folders (Parquet / npy written by hftlib), or one EVENT_DTYPE array
        (then ``instruments`` is required).
    params
        Strategy parameters (checked against the strategy's ``PARAMS``).
    latency
        Order entry/response latency: a duration ("2ms"), a spec for
        :func:`hftlib.sim.latency.parse_latency`, or a LatencyModel.
    queue
        Queue position model (:func:`hftlib.sim.queue.parse_queue_model`).
    partial_fills
        Fill resting orders partly from queue overshoot and walk the book for takers.
    fees
        (maker, taker) fee rates overriding the instruments' schedules.
    risk
        Pre-trade limits: a RiskLimits, a dict, or one per instrument.
    l3_orders
        Resting orders each L3 book can hold, used when the data has order-by-order rows
        (or the queue model is ``l3_fifo``).
    record_interval
        Sampling interval of the recorder ("1s", "100ms" or ns).
    start, end
        Local-time range [start, end) (ns or ISO-8601 UTC).
    """
    t_call = time.perf_counter()
    strat = load_strategy(strategy)
    checked = strat.check_params(params)
    interval = parse_duration(record_interval, "record interval")
    t_start, t_end = parse_time(start, "start"), parse_time(end, "end")
    if t_start is not None and t_end is not None and t_end <= t_start:
        raise BacktestError(f"end ({end}) must be after start ({start})")
    if data is None:
        raise BacktestError("no data given")
    try:
        qmodel, qparam = parse_queue_model(queue)
        lat = (
            latency if isinstance(latency, LatencyModel) else parse_latency(_seeded(latency, seed))
        )
    except ValueError as exc:
        raise BacktestError(str(exc)) from exc
    src = _open_data(data, instruments, chunk_rows)
    insts = src.instruments
    n = len(insts)
    instr = np.zeros((n, N_INSTR), dtype=np.float64)
    for i, inst in enumerate(insts):
        maker, taker = fees if fees is not None else (None, None)
        instr[i] = instrument_row(inst, maker_fee=maker, taker_fee=taker)
    limits = _risk_limits(risk, n, instr)
    state = strat.make_state(checked, insts)
    l3_capacity = l3_orders if _has_l3(src, qmodel) else 64
    local_l3 = new_l3(n, capacity=l3_capacity)
    ctx = new_context(
        instr,
        limits,
        max_orders=max_orders,
        initial_balance=np.full(n, initial_balance),
        book=local_l3.l2,
    )
    venue = new_venue(
        instr,
        lat,
        queue_model=qmodel,
        queue_param=qparam,
        partial_fills=partial_fills,
        max_orders=max_orders,
        l3_capacity=l3_capacity,
    )
    lp = new_loop(n, interval, local_l3)
    engine = codegen.engine_module(LOOP_MODULE, strat)
    t_compile = time.perf_counter()
    empty = np.zeros(0, dtype=EVENT_DTYPE)
    no_floor = np.zeros(0, dtype=np.int64)
    # loads the engine from numba's cache, or compiles it
    run = entry_point(engine.run, (empty, no_floor, empty, no_floor, False, lp, ctx, venue, state))
    compile_s = time.perf_counter() - t_compile
    collector = _Collector()
    report = progress if callable(progress) else None
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=src.rows, unit="ev", unit_scale=True, desc="backtest")
    run_s = 0.0
    startup_s: float | None = None
    pre, cur = empty, empty
    chunks = _with_floor(_checked_chunks(src.stream(), n, t_start, t_end, bool(src.files)))
    seen_rows = 0
    for (chunk, floor), final in _lookahead(_prefetch(chunks)):
        # keep the rows the strategy has not seen (a short tail: the venue is at most one
        # feed latency, or its 100 ms look-ahead, ahead); the new chunk is used as it is
        il = int(lp.state[LS_IL])
        pre = _tail(pre, cur, il)
        rebase(lp, il)
        pre_floor = _floor(pre)
        if len(floor):
            np.minimum(pre_floor, floor[0], out=pre_floor)
        cur = chunk
        while True:
            if startup_s is None:
                startup_s = time.perf_counter() - t_call
            t0 = time.perf_counter()
            status = run(pre, pre_floor, cur, floor, final, lp, ctx, venue, state)
            run_s += time.perf_counter() - t0
            if status == LOGS_FULL:
                collector.take(lp)
                continue
            if status == BAD_CURSOR:
                raise RuntimeError("backtest loop called with the venue behind the strategy")
            break
        done = int(lp.state[LS_ROWS])
        if bar is not None:
            bar.update(done - seen_rows)
        if report is not None:
            report(done)
        seen_rows = done
        if status == DONE:
            break
    if bar is not None:
        bar.close()
    if seen_rows == 0:
        raise BacktestError(
            "no events in the data" + (" in the time range" if start or end else "")
        )
    collector.take(lp)
    counters = {
        CODE_NAMES.get(-i if i else 0, f"code_{-i}"): int(c)
        for i, c in enumerate(ctx.counters)
        if c
    }
    if lp.state[LS_RQ_DROPPED]:
        counters["requests_dropped"] = int(lp.state[LS_RQ_DROPPED])
    if venue.state[VS_RESP_DROPPED]:
        counters["responses_dropped"] = int(venue.state[VS_RESP_DROPPED])
    records = collector.join(collector.rec, lp.rec)
    info = {
        "strategy": strat.name,
        "params": checked,
        "data": src.files,
        "instruments": [i.key for i in insts],
        "events": seen_rows,
        "elapsed_s": run_s,
        "events_per_s": seen_rows / run_s if run_s > 0 else 0.0,
        "compile_s": compile_s,
        "startup_s": startup_s or 0.0,
        "orders_submitted": int(ctx.clock[CLK_NEXT_ID] - 1),
        "latency_model": latency if isinstance(latency, str) else "custom LatencyModel",
        "queue_model": queue,
        "partial_fills": partial_fills,
        "seed": seed,
        "start_ts": int(records["ts"][0]) if len(records) else None,
        "end_ts": int(records["ts"][-1]) if len(records) else None,
    }
    return BacktestResult(
        records=records,
        fills=collector.join(collector.fills, lp.fills),
        orders_log=collector.join(collector.olog, lp.olog),
        instruments=insts,
        counters=counters,
        info=info,
        record_interval_ns=interval,
        capital=capital,
    )

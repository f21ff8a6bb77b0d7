"""What runs on a worker: the engine warm-up, and one backtest per grid point as a small row.

Both are plain module-level functions of picklable arguments, so Dask ships them by
reference: a worker needs the same hftlib installed and the data paths readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import hftlib
from hftlib.engine.strategy import StrategyError, load_strategy
from hftlib.errors import HftlibError

ROW_METRICS = ("pnl", "sharpe", "sortino", "max_drawdown", "volume", "fees", "fills", "orders")
"""Row fields read from :meth:`BacktestResult.to_json` under the same names."""


def worker_name() -> str:
    """Return this Dask worker's address, or ``"local"`` outside a worker."""
    if "distributed" not in sys.modules:  # in-process sweeps never import distributed
        return "local"
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "local"


def run_point(
    strategy: str | None, data: Any, params: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Backtest one grid point and return its row; a failure becomes the row's ``error``.

    The row holds ``seed``, ``worker``, ``error`` (None on success), the metrics of
    :data:`ROW_METRICS` plus ``return``, ``events`` and ``position`` (final position by
    instrument), and the timings ``elapsed_s`` (the loop), ``events_per_s`` and ``compile_s``
    (near zero once the worker is warm).
    """
    row: dict[str, Any] = {"seed": kwargs["seed"], "worker": worker_name(), "error": None}
    t0 = time.perf_counter()
    try:
        result = hftlib.backtest(strategy, data, params=dict(params), progress=False, **kwargs)
        summary = result.to_json()
        ret = result.stats()["return"]
    except Exception as exc:  # any failure of one point is that point's row, never the sweep's
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["elapsed_s"] = time.perf_counter() - t0
        return row
    row.update({name: summary[name] for name in ROW_METRICS})
    row.update(
        {
            "return": ret,
            "events": summary["events"],
            "position": summary["position"],
            "elapsed_s": summary["elapsed_s"],
            "events_per_s": summary["events_per_s"],
            "compile_s": summary["compile_s"],
        }
    )
    return row


def prepare(strategy: str | None) -> str:
    """Import the backtest and the strategy in this process, compiling nothing; return its name.

    Workers waiting for the first one to compile the engine do this meanwhile, so their own
    warm-up is only the engine's cache load.
    """
    _ = hftlib.backtest  # imports the simulator
    load_strategy(strategy)
    return worker_name()


def warm_up(
    strategy: str | None,
    data: Any,
    points: Sequence[Mapping[str, Any]],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """Compile (or load from the cache) the strategy's engine in this process.

    Runs the first point whose strategy state can be built over the data's first instant
    only (``end`` = first local timestamp + 1 ns): the engine is compiled for the types,
    not the values, so this is the compile every later backtest here reuses. Points whose
    parameters the strategy refuses are skipped (their own rows will say why).

    Returns
    -------
    dict
        ``worker``, ``point`` (index into ``points`` that warmed, or None), ``compile_s``
        (the engine's compile or cache load), ``warm_s`` (the whole call), ``error`` (the
        reason nothing warmed, or None).
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"worker": worker_name(), "point": None, "compile_s": None}
    cut = {k: v for k, v in kwargs.items() if k not in ("start", "end")}
    tiny, end = _first_instant(data)
    if end is not None:
        cut["end"] = end
    first_error: str | None = None
    for i, params in enumerate(points):
        try:
            result = hftlib.backtest(strategy, tiny, params=dict(params), progress=False, **cut)
        except StrategyError as exc:
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            continue
        except (HftlibError, ValueError, OSError) as exc:
            first_error = f"{type(exc).__name__}: {exc}"
            break
        out["point"] = i
        out["compile_s"] = result.info.get("compile_s")
        break
    out["error"] = None if out["point"] is not None else first_error
    out["warm_s"] = time.perf_counter() - t0
    return out


def _first_instant(data: Any) -> tuple[Any, int | None]:
    """Return data cut to its first rows, and the ``end`` bound that keeps only them.

    An event array is sliced to its first row; files keep their paths and get ``end`` from
    their metadata. Unreadable files are returned as they are: the backtest then raises
    its own error naming them.
    """
    if isinstance(data, np.ndarray):
        return data[:1], None
    from hftlib.data.reader import EventStream

    try:
        stream = EventStream.from_paths(list(data))
    except HftlibError:
        return data, None
    firsts = [m.first_local_ts for s in stream.sources for m in s.metas if m.rows]
    return data, (min(firsts) + 1 if firsts else None)

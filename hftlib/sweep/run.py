"""Fan a grid of backtests out on ``dask.distributed`` and gather the rows in grid order.

Where the backtests run (``scheduler``):

- ``None``: a :class:`distributed.LocalCluster` of worker *processes* (``n_workers``,
  default the CPU count, ``threads_per_worker`` 1: the loop is single-threaded numba, so
  processes give the parallelism), started for this sweep and closed on every path;
- ``"tcp://HOST:PORT"``: the scheduler of an existing cluster (left running afterwards);
  the workers need the same hftlib and must read the data at the same paths (a shared
  filesystem), and a strategy given as a ``.py`` file likewise;
- a :class:`distributed.Client`: used as it is;
- ``"sync"``: every point in this process, one after the other (reference and debugging).

Before the fan-out every worker compiles the strategy's engine (or loads it from the
cache): the first worker alone, so a cold cache is compiled once, while the others import
the simulator; then the others load the engine from the cache together. The compile time
is reported per worker, apart from the rows' timings. Each point is one deterministic
:func:`hftlib.backtest` with the same seed; a point that fails becomes a row with its error
and never stops the sweep.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import hftlib
from hftlib.engine.strategy import load_strategy
from hftlib.errors import HftlibError
from hftlib.sweep.grid import Grid, parse_grid
from hftlib.sweep.result import SweepResult, build_table
from hftlib.sweep.task import prepare, run_point, warm_up

SYNC = "sync"
"""``scheduler`` value that runs every point in this process."""
WORKER_WAIT_S = 120
"""How long to wait for workers to join (local cluster start-up, or a remote scheduler)."""
_OWN_ARGS = ("strategy", "data", "params", "progress")
"""backtest() arguments the sweep sets itself."""


class SweepError(HftlibError, ValueError):
    """A sweep cannot start: bad settings, data the workers cannot read, no workers."""


def sweep(
    strategy: str | ModuleType | None,
    data: Any,
    grid: str | Sequence[str] | Grid,
    *,
    params: Mapping[str, Any] | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    local_directory: str | Path | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    **backtest_kwargs: Any,
) -> SweepResult:
    """Backtest ``strategy`` at every point of ``grid`` in parallel and return the table.

    Parameters
    ----------
    strategy : str, module or None
        As for :func:`hftlib.backtest`: a name in ``hftlib.strategies``, a dotted module, or
        a ``.py`` file (which remote workers must be able to read at the same path).
    data : path, sequence of paths, or numpy.ndarray
        Event files or folders (made absolute; workers must read them at those paths), or
        one EVENT_DTYPE array with ``instruments=[...]`` (sent to each worker once).
    grid : str, sequence of str, or Grid
        Grid text (:func:`hftlib.sweep.grid.parse_grid`), typed by the strategy's PARAMS.
    params : mapping, optional
        Fixed strategy parameters for every point; they may not also be swept.
    scheduler : None, str or distributed.Client, optional
        None for a new local cluster, ``"tcp://HOST:PORT"`` for an existing one, a Client,
        or ``"sync"`` to run in this process. Default None.
    n_workers : int, optional
        Worker processes of the local cluster. Default None: ``os.cpu_count()``.
    threads_per_worker : int
        Threads per local worker. Default 1.
    local_directory : path, optional
        Scratch folder of the local cluster's workers. Default None: Dask's.
    out : path, optional
        Save the result there (:meth:`SweepResult.save`). Default None.
    progress : bool
        Draw a progress bar over the points on stderr. Default True.
    **backtest_kwargs
        Settings of every backtest: ``latency``, ``queue``, ``partial_fills``, ``fees``,
        ``risk``, ``record_interval``, ``start``, ``end``, ``seed`` (default 0, recorded in
        every row), ``capital``, ...

    Returns
    -------
    SweepResult
        ``table`` in grid order, ``info`` on the run.

    Raises
    ------
    GridError
        The grid does not parse.
    StrategyError
        Unknown strategy, or a point's parameters are of the wrong type.
    SweepError
        Bad settings, unreadable data, no worker can start a backtest, no workers.
    """
    t0 = time.perf_counter()
    ref = _strategy_ref(strategy)
    strat = load_strategy(ref)
    if not isinstance(grid, Grid):
        grid = parse_grid(grid, strat.params_spec, strategy=strat.name)
    base = dict(params or {})
    both = sorted(set(base) & set(grid.names))
    if both:
        raise SweepError(f"parameter(s) {', '.join(both)} are both fixed and swept")
    points = [{**base, **p} for p in grid]
    for point in points:
        strat.check_params(point)
    kwargs = _backtest_kwargs(backtest_kwargs)
    data_arg = _data_arg(data, local=not _is_remote(scheduler))
    info: dict[str, Any] = {
        "strategy": strat.name,
        "strategy_ref": ref,
        "params": base,
        "settings": {k: _jsonable(v) for k, v in kwargs.items()},
        "seed": kwargs["seed"],
        "data": _describe_data(data_arg),
        "hftlib": hftlib.__version__,
    }
    if scheduler == SYNC:
        warm, rows, run_s = _run_sync(ref, data_arg, points, kwargs, progress)
        info.update(scheduler=SYNC, workers=["local"])
    elif scheduler is None:
        dd = _distributed()
        workers = n_workers or os.cpu_count() or 1
        cluster_kwargs: dict[str, Any] = {}
        if local_directory is not None:
            cluster_kwargs["local_directory"] = str(local_directory)
        with (
            dd.LocalCluster(
                n_workers=workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                **cluster_kwargs,
            ) as cluster,
            dd.Client(cluster) as client,
        ):
            client.wait_for_workers(workers, timeout=WORKER_WAIT_S)
            warm, rows, run_s = _run_distributed(client, ref, data_arg, points, kwargs, progress)
        info.update(
            scheduler=f"LocalCluster({workers} processes x {threads_per_worker} threads)",
            workers=sorted(warm),
        )
    else:
        client, owned = _connect(scheduler)
        try:
            address = client.scheduler_info(n_workers=0)["address"]
            warm, rows, run_s = _run_distributed(client, ref, data_arg, points, kwargs, progress)
        finally:
            if owned:
                client.close()
        info.update(scheduler=str(address), workers=sorted(warm))
    info["compile_s"] = {w: warm[w]["compile_s"] for w in sorted(warm)}
    info["warm_s"] = {w: warm[w]["warm_s"] for w in sorted(warm)}
    info["failed"] = sum(1 for r in rows if r.get("error"))
    info["run_s"] = run_s
    info["wall_s"] = time.perf_counter() - t0
    result = SweepResult(build_table(grid, rows), grid, info)
    if out is not None:
        result.save(out)
    return result


# --- running ---------------------------------------------------------------------------------


def _run_sync(
    ref: str | None,
    data: Any,
    points: list[dict[str, Any]],
    kwargs: dict[str, Any],
    progress: bool,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], float]:
    warm = _checked_warm(warm_up(ref, data, points, kwargs))
    rows = []
    t0 = time.perf_counter()
    with _Progress(len(points), progress) as bar:
        for point in points:
            rows.append(run_point(ref, data, point, kwargs))
            bar.update(1)
    return {warm["worker"]: warm}, rows, time.perf_counter() - t0


def _run_distributed(
    client: Any,
    ref: str | None,
    data: Any,
    points: list[dict[str, Any]],
    kwargs: dict[str, Any],
    progress: bool,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], float]:
    as_completed = _distributed().as_completed
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError as exc:
        raise SweepError(f"no workers joined the scheduler in {WORKER_WAIT_S} s") from exc
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    tag = uuid.uuid4().hex[:8]
    if isinstance(data, np.ndarray):
        data = client.scatter(data, broadcast=True, hash=False)

    def on(addr: str, stage: str, fn: Any, *args: Any) -> Any:
        key = f"hftlib-sweep-{stage}-{tag}-{addr}"
        return client.submit(
            fn, *args, key=key, workers=[addr], allow_other_workers=False, pure=False
        )

    # The first worker compiles alone (a cold cache is compiled once, not once per worker:
    # each compile takes a core and hundreds of MB) while the others import; then they load
    # the engine from the cache together.
    first = on(workers[0], "warm", warm_up, ref, data, points, kwargs)
    client.gather([on(addr, "prepare", prepare, ref) for addr in workers[1:]])
    warm0 = _checked_warm(first.result())
    point = [points[warm0["point"]]]
    rest = client.gather(
        [on(addr, "warm", warm_up, ref, data, point, kwargs) for addr in workers[1:]]
    )
    warm = {w["worker"]: w for w in [warm0, *map(_checked_warm, rest)]}
    t0 = time.perf_counter()
    futures = {
        client.submit(
            run_point, ref, data, p, kwargs, key=f"hftlib-sweep-{tag}-{i:06d}", pure=False
        ): i
        for i, p in enumerate(points)
    }
    rows: list[dict[str, Any] | None] = [None] * len(points)
    with _Progress(len(points), progress) as bar:
        for future in as_completed(futures):
            i = futures[future]
            if future.status == "finished":
                rows[i] = future.result()
            else:  # the task never returned (a worker died, the client lost the scheduler)
                rows[i] = {"seed": kwargs["seed"], "error": _lost(future)}
            bar.update(1)
    return warm, [r for r in rows if r is not None], time.perf_counter() - t0


def _distributed() -> Any:
    """Import dask.distributed on first use (an in-process sweep never needs it)."""
    import distributed

    return distributed


def _lost(future: Any) -> str:
    """Describe why a task gave no row: its exception, or its status (``cancelled``)."""
    if future.status == "error":
        exc = future.exception()
        return f"{type(exc).__name__}: {exc}"
    return f"task {future.status}"


def _checked_warm(warm: dict[str, Any]) -> dict[str, Any]:
    if warm["point"] is None:
        raise SweepError(f"cannot start a backtest on worker {warm['worker']}: {warm['error']}")
    return warm


def _connect(scheduler: Any) -> tuple[Any, bool]:
    """Return a Client for ``scheduler`` and whether this sweep owns (must close) it."""
    dd = _distributed()
    if isinstance(scheduler, dd.Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise SweepError(
            f"scheduler must be None, 'sync', 'tcp://HOST:PORT' or a Client, got {scheduler!r}"
        )
    try:
        return dd.Client(scheduler), True
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot connect to the scheduler at {scheduler}: {exc}") from exc


class _Progress:
    """A tqdm bar over points on stderr, or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.tqdm: Any = None
        if enabled:
            from tqdm import tqdm

            self.tqdm = tqdm(total=total, unit="pt", desc="sweep", file=sys.stderr)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tqdm is not None:
            self.tqdm.close()

    def update(self, n: int) -> None:
        if self.tqdm is not None:
            self.tqdm.update(n)


# --- arguments -------------------------------------------------------------------------------


def _strategy_ref(strategy: str | ModuleType | None) -> str | None:
    """Return a reference a worker process can load: a module name or an absolute file."""
    if isinstance(strategy, ModuleType):
        file = getattr(strategy, "__file__", None)
        if strategy.__name__.startswith("hftlib_user_strategy_") and file:
            return str(Path(file).resolve())
        return strategy.__name__
    if isinstance(strategy, str) and strategy.endswith(".py"):
        return str(Path(strategy).resolve())
    return strategy


def _backtest_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    accepted = set(inspect.signature(hftlib.backtest).parameters) - set(_OWN_ARGS)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise TypeError(
            f"sweep() got unknown backtest argument(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(accepted))}"
        )
    out = dict(kwargs)
    out.setdefault("seed", 0)
    if not isinstance(out["seed"], int) or isinstance(out["seed"], bool):
        raise SweepError(f"seed must be an integer, got {out['seed']!r}")
    return out


def _is_remote(scheduler: Any) -> bool:
    return scheduler is not None and scheduler != SYNC


def _data_arg(data: Any, *, local: bool) -> Any:
    """Return ``data`` as an event array or a list of absolute paths (checked when local)."""
    if isinstance(data, np.ndarray):
        return data
    items = [data] if isinstance(data, str | Path) else list(data or [])
    if not items:
        raise SweepError("no data given")
    paths = []
    for item in items:
        if not isinstance(item, str | Path):
            raise SweepError(f"data must be paths or one event array, got {type(item).__name__}")
        path = Path(item).expanduser().resolve()
        if local and not path.exists():
            raise SweepError(f"data path {item} does not exist")
        paths.append(str(path))
    return paths


def _describe_data(data: Any) -> Any:
    if isinstance(data, np.ndarray):
        return f"<event array of {len(data)} rows>"
    return list(data)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)

"""The outcome of a sweep: one row per grid point, files on disk, a heatmap, the best point.

The table's rows are in grid order (:meth:`hftlib.sweep.grid.Grid.points`), indexed by
``point``. Columns: the swept parameters, ``seed``, ``error`` (empty when the backtest ran),
the metrics of :data:`METRICS`, then the timing columns of :data:`VOLATILE_COLUMNS`. The
table without the timing columns depends only on the data, parameters and seed, so it is
identical whatever ran it (in process, a local cluster, a remote one).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hftlib.sweep.grid import Grid

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

FLOAT_METRICS = ("pnl", "return", "sharpe", "sortino", "max_drawdown", "volume", "fees")
COUNT_METRICS = ("fills", "orders", "events")
METRICS = (*FLOAT_METRICS, *COUNT_METRICS, "position")
"""Metric columns of a sweep table; ``position`` is the final position (single asset)."""
VOLATILE_COLUMNS = ("elapsed_s", "events_per_s", "compile_s", "worker")
"""Timing and placement columns: the only ones that differ between identical sweeps."""
GOALS = {
    "pnl": max,
    "return": max,
    "sharpe": max,
    "sortino": max,
    "max_drawdown": min,
    "volume": max,
    "fees": min,
    "fills": max,
    "orders": max,
    "events_per_s": max,
    "elapsed_s": min,
}
"""Whether :meth:`SweepResult.best` maximises or minimises each metric."""

TABLE_PARQUET = "sweep.parquet"
TABLE_CSV = "sweep.csv"
INFO_JSON = "sweep.json"


@dataclass
class SweepResult:
    """A sweep's table and how it was run.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per grid point, in grid order (index ``point``).
    grid : Grid
        The swept parameters.
    info : dict
        Strategy, fixed parameters, backtest settings (seed included), data, scheduler,
        workers, ``wall_s`` (the whole sweep: cluster start, warm-up, points),
        ``run_s`` (the points alone, from the first submission to the last row),
        ``compile_s`` and ``warm_s`` (engine compile or cache load, and the whole warm-up,
        per worker, paid once before the fan-out) and ``failed`` (points with an error).
    """

    table: pd.DataFrame
    grid: Grid
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        failed = int(self.table["error"].notna().sum())
        return (
            f"SweepResult({len(self.table)} points over {', '.join(self.grid.names)}; "
            f"{failed} failed; {self.info.get('wall_s', float('nan')):.2f} s)"
        )

    @property
    def errors(self) -> pd.DataFrame:
        """Return the rows whose backtest failed."""
        return self.table[self.table["error"].notna()]

    def best(self, metric: str = "pnl") -> pd.Series:
        """Return the row with the best ``metric`` (highest, or lowest for drawdown, fees, time).

        Failed points and points without a value (an undefined Sharpe) are skipped.
        """
        if metric not in GOALS:
            raise ValueError(f"unknown metric {metric!r}; ranked metrics: {', '.join(GOALS)}")
        values = self.table[metric].astype("float64")
        if values.notna().sum() == 0:
            raise ValueError(f"no grid point has a value for {metric!r}")
        label = values.idxmax() if GOALS[metric] is max else values.idxmin()
        return self.table.loc[label]

    def heatmap(
        self, x: str, y: str, metric: str = "pnl", path: str | Path | None = None
    ) -> Figure:
        """Return a heatmap Figure of ``metric`` over the two varying parameters ``x`` and ``y``.

        Cells of failed points are blank. With ``path``, also write it as a PNG.
        """
        varying = set(self.grid.varying)
        if {x, y} != varying or x == y:
            raise ValueError(
                f"a heatmap needs the grid's two varying parameters as x and y; got x={x!r}, "
                f"y={y!r}, the grid varies {', '.join(sorted(varying)) or 'nothing'}"
            )
        skip = {*self.grid.names, "seed", "error", "worker"}
        numeric = [c for c in self.table.columns if c not in skip]
        if metric not in numeric:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(numeric)}")
        from hftlib.sweep.plot import heatmap_figure

        xs, ys = self.grid.values(x), self.grid.values(y)
        cells = {
            (r[x], r[y]): (_number(r[metric]), isinstance(r["error"], str))
            for _, r in self.table.iterrows()
        }
        blank = (math.nan, False)
        values = [[cells.get((xv, yv), blank)[0] for xv in xs] for yv in ys]
        failed = [[cells.get((xv, yv), blank)[1] for xv in xs] for yv in ys]
        title = f"{metric} by {x} and {y} ({self.info.get('strategy', 'strategy')})"
        fig = heatmap_figure(values, xs, ys, x, y, metric, title, failed)
        if path is not None:
            from hftlib.results.report import write_png

            _atomic_write(Path(path), write_png(fig))
        return fig

    def save(self, directory: str | Path) -> Path:
        """Write ``sweep.parquet``, ``sweep.csv`` and ``sweep.json`` (run info) to ``directory``.

        The table files hold the same rows and columns, index ``point`` first.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{TABLE_PARQUET}.partial"
        try:
            self.table.to_parquet(tmp, engine="pyarrow", compression="zstd", index=True)
            os.replace(tmp, out / TABLE_PARQUET)
        finally:
            tmp.unlink(missing_ok=True)
        _atomic_write(out / TABLE_CSV, self.table.to_csv(index=True).encode())
        doc = {**self.info, "grid": self.grid.to_spec(), "points": len(self.table)}
        text = json.dumps(doc, indent=2, sort_keys=True, default=str, allow_nan=False)
        _atomic_write(out / INFO_JSON, (text + "\n").encode())
        return out


def build_table(grid: Grid, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return the table of ``rows`` (one per grid point, in grid order), typed column by column.

    Each row holds ``params`` (the grid point), ``seed``, ``error``, the metrics and the
    timing fields; a failed row holds only the first three and the timing fields it has.
    ``position`` is one column for single-asset data and ``position[<venue:symbol>]`` per
    instrument otherwise.
    """
    import pandas as pd

    points = grid.points()
    if len(rows) != len(points):
        raise ValueError(f"{len(rows)} rows for a grid of {len(points)} points")
    keys: list[str] = []
    for row in rows:
        for key in row.get("position") or {}:
            if key not in keys:
                keys.append(key)
    pos_cols = {k: "position" if len(keys) == 1 else f"position[{k}]" for k in keys}
    data: dict[str, Any] = {
        name: pd.array([p[name] for p in points], dtype=_param_dtype(grid.values(name)))
        for name in grid.names
    }
    data["seed"] = pd.array([r["seed"] for r in rows], dtype="int64")
    data["error"] = pd.array([r.get("error") for r in rows], dtype="object")
    for name in FLOAT_METRICS:
        data[name] = pd.array([_number(r.get(name)) for r in rows], dtype="float64")
    for name in COUNT_METRICS:
        data[name] = pd.array([r.get(name) for r in rows], dtype="Int64")
    for key, col in pos_cols.items():
        data[col] = pd.array(
            [_number((r.get("position") or {}).get(key)) for r in rows], dtype="float64"
        )
    for name in ("elapsed_s", "events_per_s", "compile_s"):
        data[name] = pd.array([_number(r.get(name)) for r in rows], dtype="float64")
    data["worker"] = pd.array([r.get("worker") for r in rows], dtype="object")
    table = pd.DataFrame(data)
    table.index.name = "point"
    return table


def _param_dtype(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int64"
    return "float64"


def _number(value: Any) -> float:
    """Return ``value`` as a float, NaN for None (undefined ratios, failed points)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name and rename it into place."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

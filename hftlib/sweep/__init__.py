"""Parameter sweeps: a grid of strategy parameters backtested in parallel on Dask.

:func:`sweep` fans one :func:`hftlib.backtest` per grid point out on ``dask.distributed``
(a local cluster by default, an existing one by scheduler address, or in-process) and
returns a :class:`SweepResult`: a table in grid order, files, a heatmap. ``hft sweep`` is
the command line. See docs/sweeps.md.
"""

from hftlib.sweep.grid import Axis, Grid, GridError, parse_grid
from hftlib.sweep.result import GOALS, METRICS, VOLATILE_COLUMNS, SweepResult
from hftlib.sweep.run import SweepError, sweep

__all__ = [
    "GOALS",
    "METRICS",
    "VOLATILE_COLUMNS",
    "Axis",
    "Grid",
    "GridError",
    "SweepError",
    "SweepResult",
    "parse_grid",
    "sweep",
]

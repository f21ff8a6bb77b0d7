"""``hft sweep``: backtest a grid of strategy parameters in parallel on Dask."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hftlib.cli.common import (
    backtest_options,
    backtest_settings,
    fail,
    parse_params,
    production_option,
    resolve_strategy,
)
from hftlib.errors import HftlibError

SHOWN_ROWS = 50
"""Rows printed; the files under --out hold the whole table."""
SHOWN_COLUMNS = ("error", "pnl", "sharpe", "max_drawdown", "fills", "orders", "position")


@click.command("sweep")
@click.option(
    "--strategy",
    "-s",
    required=True,
    help="Strategy: a name in hftlib.strategies (quote_mm), a dotted module, a .py file, or a "
    "strategy config file (config/strategies/X.json: its type, parameters and risk limits).",
)
@production_option
@click.option(
    "--grid",
    "-g",
    "grids",
    multiple=True,
    required=True,
    help="Parameters to sweep: 'NAME=V1,V2 NAME2=START:STOP:STEP' (STOP included when on "
    "the grid); repeat for more. Every combination is backtested.",
)
@click.option(
    "--data",
    "-d",
    "data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Event file (.parquet/.npy) or folder; repeat for more instruments or days. "
    "Workers of a remote cluster must read it at the same path (shared filesystem).",
)
@backtest_options
@click.option(
    "--scheduler",
    default=None,
    help="tcp://HOST:PORT of a running Dask scheduler, or 'sync' to run in this process. "
    "Default: a local cluster of --workers processes.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the local cluster.  [default: CPU count]",
)
@click.option(
    "--metric",
    default="pnl",
    show_default=True,
    help="Metric for the best point and the heatmap: pnl, return, sharpe, sortino, "
    "max_drawdown, volume, fees, fills, orders, events_per_s, elapsed_s.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write sweep.parquet, sweep.csv, sweep.json and, when two parameters vary, "
    "heatmap_<metric>.png to this folder.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def sweep(
    strategy: str,
    production: Path | None,
    grids: tuple[str, ...],
    data: tuple[Path, ...],
    params: tuple[str, ...],
    start: str | None,
    end: str | None,
    latency: str,
    queue: str,
    partial_fills: bool,
    fees: str | None,
    record_interval: str,
    seed: int,
    initial_balance: float,
    capital: float | None,
    scheduler: str | None,
    workers: int | None,
    metric: str,
    out: Path | None,
    progress: bool,
) -> None:
    """Backtest every combination of a parameter grid on a Dask cluster and tabulate them."""
    from hftlib.sweep import GOALS
    from hftlib.sweep import sweep as run_sweep

    if metric not in GOALS:
        raise click.BadParameter(
            f"{metric!r} is not one of {', '.join(GOALS)}", param_hint="--metric"
        )
    settings = backtest_settings(
        start=start,
        end=end,
        latency=latency,
        queue=queue,
        partial_fills=partial_fills,
        fees=fees,
        record_interval=record_interval,
        seed=seed,
        initial_balance=initial_balance,
        capital=capital,
    )
    try:
        name, files, kwargs = resolve_strategy(strategy, data, parse_params(params), production)
        result = run_sweep(
            name or strategy,
            files,
            list(grids),
            **kwargs,
            scheduler=scheduler,
            n_workers=workers,
            progress=progress and sys.stderr.isatty(),
            **settings,
        )
    except (HftlibError, ValueError) as exc:
        fail(exc)
    table = result.table
    shown = [*result.grid.names, *(c for c in SHOWN_COLUMNS if c in table)]
    if metric not in shown:
        shown.append(metric)
    text = table[shown].head(SHOWN_ROWS).to_string(na_rep="", max_colwidth=60)
    click.echo(text)
    if len(table) > SHOWN_ROWS:
        click.echo(f"... {len(table) - SHOWN_ROWS} more rows (--out writes them all)")
    info = result.info
    compile_max = max((v or 0.0 for v in info["compile_s"].values()), default=0.0)
    click.echo(
        f"\n{len(table)} points, {info['failed']} failed, on {info['scheduler']} "
        f"({len(info['workers'])} worker(s)); wall {info['wall_s']:.2f} s, of which "
        f"points {info['run_s']:.2f} s; engine compile/load {compile_max:.2f} s per worker (max)"
    )
    try:
        best = result.best(metric)
    except ValueError as exc:
        click.echo(f"best by {metric}: none ({exc})")
    else:
        point = " ".join(f"{n}={best[n]}" for n in result.grid.names)
        click.echo(f"best by {metric}: {point} ({metric} {best[metric]:.6g})")
    if out is not None:
        result.save(out)
        written = "sweep.parquet, sweep.csv, sweep.json"
        if len(result.grid.varying) == 2:
            x, y = result.grid.varying
            result.heatmap(x, y, metric, path=out / f"heatmap_{metric}.png")
            written += f", heatmap_{metric}.png"
        click.echo(f"results written to {out}/ ({written})")
    if info["failed"] == len(table):
        raise click.ClickException(f"every grid point failed; first error: {table['error'][0]}")

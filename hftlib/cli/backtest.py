"""``hft backtest``: run a strategy over event files against the replay venue."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from hftlib.cli.common import (
    backtest_options,
    backtest_settings,
    fail,
    parse_params,
    production_option,
    progress_bar,
    resolve_strategy,
)
from hftlib.errors import HftlibError


@click.command("backtest")
@click.option(
    "--strategy",
    "-s",
    default=None,
    help="Strategy: a name in hftlib.strategies (quote_mm), a dotted module, a .py file, or "
    "a strategy config file (config/strategies/X.json: its type, parameters and risk limits; "
    "--data then may be a folder holding other instruments too). Omit for a pure replay.",
)
@production_option
@click.option(
    "--data",
    "-d",
    "data",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Event file (.parquet/.npy) or folder; repeat for more instruments or days.",
)
@backtest_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write records, fills, orders, summary and HTML report to this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def backtest(
    strategy: str | None,
    production: Path | None,
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
    out: Path | None,
    as_json: bool,
    progress: bool,
) -> None:
    """Backtest a strategy on recorded or synthetic events."""
    run = importlib.import_module("hftlib.sim.backtest").backtest
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
        strategy, files, kwargs = resolve_strategy(strategy, data, parse_params(params), production)
        from hftlib.data.reader import EventStream

        total = EventStream.from_paths(files).rows
    except HftlibError as exc:
        fail(exc)
    with progress_bar(total, "ev", "backtest", progress and sys.stderr.isatty()) as update:
        seen = [0]

        def report(done: int) -> None:
            update(done - seen[0])
            seen[0] = done

        try:
            result = run(strategy, files, progress=report, **kwargs, **settings)
        except (HftlibError, ValueError) as exc:
            fail(exc)
    if out is not None:
        result.save(out)
    if as_json:
        click.echo(json.dumps(result.to_json(), default=str))
    else:
        click.echo(result.summary())
        if out is not None:
            click.echo(f"\nresults written to {out}/ (report.html, summary.txt, *.parquet)")

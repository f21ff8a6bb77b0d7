"""``hft backtest``: run a strategy over event files against the replay venue."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from hftlib.cli.common import fail, progress_bar
from hftlib.errors import HftlibError


def _parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def _parse_fees(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        maker, taker = (float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not MAKER,TAKER (fractions, e.g. -0.0001,0.0004)", param_hint="--fees"
        ) from None
    return maker, taker


@click.command("backtest")
@click.option(
    "--strategy",
    "-s",
    default=None,
    help="Strategy: a name in hftlib.strategies (quote_mm), a dotted module or a .py file. "
    "Omit for a pure replay.",
)
@click.option(
    "--data",
    "-d",
    "data",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Event file (.parquet/.npy) or folder; repeat for more instruments or days.",
)
@click.option("--param", "-p", "params", multiple=True, help="Strategy parameter NAME=VALUE.")
@click.option("--start", default=None, help="Start of the local-time range (ISO-8601 UTC or ns).")
@click.option("--end", default=None, help="End of the local-time range (exclusive).")
@click.option(
    "--latency",
    default="0ns",
    show_default=True,
    help="Order latency: 2ms | constant:ENTRY,RESPONSE | random:ENTRY,RESPONSE,SIGMA | file:PATH.",
)
@click.option(
    "--queue",
    default="risk_averse",
    show_default=True,
    help="Queue model: risk_averse, power:N, power2:N, power3:N, log, log2, l3_fifo.",
)
@click.option("--partial-fills/--no-partial-fills", default=False, show_default=True)
@click.option("--fees", default=None, help="MAKER,TAKER fee rates overriding the instrument's.")
@click.option("--record-interval", default="1s", show_default=True, help="Recorder sampling.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--initial-balance", type=float, default=0.0, show_default=True)
@click.option("--capital", type=float, default=None, help="Capital for returns and turnover.")
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
    start_v: str | int | None = int(start) if start and start.isdigit() else start
    end_v: str | int | None = int(end) if end and end.isdigit() else end
    try:
        from hftlib.data.reader import EventStream

        total = EventStream.from_paths(list(data)).rows
    except HftlibError as exc:
        fail(exc)
    with progress_bar(total, "ev", "backtest", progress and sys.stderr.isatty()) as update:
        seen = [0]

        def report(done: int) -> None:
            update(done - seen[0])
            seen[0] = done

        try:
            result = run(
                strategy,
                list(data),
                params=_parse_params(params),
                latency=latency,
                queue=queue,
                partial_fills=partial_fills,
                fees=_parse_fees(fees),
                record_interval=record_interval,
                start=start_v,
                end=end_v,
                seed=seed,
                initial_balance=initial_balance,
                capital=capital,
                progress=report,
            )
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

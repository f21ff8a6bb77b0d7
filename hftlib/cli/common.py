"""Pieces the ``hft`` subcommands share: instrument and backtest options, progress, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hftlib.errors import HftlibError
from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument

INSTRUMENT_HELP = (
    "The instrument comes from --instrument FILE.json (a spec: venue, symbol, kind, tick_size, "
    "lot_size, ...), or from the built-in specs by --venue/--symbol or what the input says; "
    "--tick-size/--lot-size/--kind override single fields."
)


def instrument_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --instrument, --venue, --symbol, --kind, --tick-size, --lot-size to a command."""
    options = [
        click.option(
            "--instrument",
            "instrument_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Instrument spec JSON file.",
        ),
        click.option("--venue", help="Venue id for the built-in spec (e.g. binance-futures)."),
        click.option("--symbol", help="Symbol for the built-in spec (e.g. BTCUSDT)."),
        click.option(
            "--kind",
            type=click.Choice([k.value for k in InstrumentKind]),
            help="Override the contract kind.",
        ),
        click.option("--tick-size", type=float, help="Override the tick size."),
        click.option("--lot-size", type=float, help="Override the lot size."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def resolve_instrument(
    detected: tuple[str, str] | None,
    *,
    instrument_file: Path | None,
    venue: str | None,
    symbol: str | None,
    kind: str | None,
    tick_size: float | None,
    lot_size: float | None,
) -> Instrument:
    """Build the instrument from a spec file, options, detection and overrides."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in (("kind", kind), ("tick_size", tick_size), ("lot_size", lot_size))
        if v is not None
    }
    if instrument_file is not None:
        try:
            spec = json.loads(instrument_file.read_text())
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"{instrument_file}: {exc}", param_hint="--instrument"
            ) from exc
        if not isinstance(spec, dict):
            raise click.BadParameter(
                f"{instrument_file}: not a JSON object", param_hint="--instrument"
            )
        return Instrument.from_dict({**spec, **overrides})
    v, s = venue, symbol
    if detected is not None:
        v, s = v or detected[0], s or detected[1]
    if v is None or s is None:
        raise click.UsageError(
            "cannot tell the instrument from the input; "
            "give --venue and --symbol, or --instrument FILE"
        )
    if overrides.keys() >= {"kind", "tick_size", "lot_size"}:
        return Instrument.from_dict({"venue": v, "symbol": s, **overrides})
    base = lookup_instrument(v, s)
    return Instrument.from_dict({**base.to_dict(), **overrides}) if overrides else base


@contextmanager
def progress_bar(
    total: int | None, unit: str, desc: str, enabled: bool
) -> Iterator[Callable[[int], None]]:
    """Yield an ``update(n)`` callable drawing a tqdm bar on stderr (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=desc,
        file=sys.stderr,
        leave=False,
        disable=None,
    )
    try:
        yield bar.update
    finally:
        bar.close()


def emit(result: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    """Print ``result`` as JSON or through its text formatter."""
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=False, default=str))
    else:
        click.echo(text(result))


def fail(exc: HftlibError | KeyError | ValueError) -> None:
    """Turn an expected error into a clean CLI error (exit 1), no traceback."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    raise click.ClickException(str(msg))


def total_size(paths: Sequence[Path]) -> int:
    """Bytes over ``paths`` (for byte-based progress)."""
    return sum(p.stat().st_size for p in paths if p.is_file())


# --- backtest settings (hft backtest, hft sweep) ---------------------------------------------


def parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    """Return ``NAME=VALUE`` items as a dict, each value read as JSON when it parses."""
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


def parse_fees(value: str | None) -> tuple[float, float] | None:
    """Return ``MAKER,TAKER`` as two floats (None stays None)."""
    if value is None:
        return None
    try:
        maker, taker = (float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not MAKER,TAKER (fractions, e.g. -0.0001,0.0004)", param_hint="--fees"
        ) from None
    return maker, taker


def backtest_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the backtest settings: --param, --start/--end, --latency, --queue, ..., --capital."""
    options = [
        click.option(
            "--param", "-p", "params", multiple=True, help="Strategy parameter NAME=VALUE."
        ),
        click.option(
            "--start", default=None, help="Start of the local-time range (ISO-8601 UTC or ns)."
        ),
        click.option("--end", default=None, help="End of the local-time range (exclusive)."),
        click.option(
            "--latency",
            default="0ns",
            show_default=True,
            help="Order latency: 2ms | constant:ENTRY,RESPONSE | random:ENTRY,RESPONSE,SIGMA | "
            "file:PATH.",
        ),
        click.option(
            "--queue",
            default="risk_averse",
            show_default=True,
            help="Queue model: risk_averse, power:N, power2:N, power3:N, log, log2, l3_fifo.",
        ),
        click.option("--partial-fills/--no-partial-fills", default=False, show_default=True),
        click.option(
            "--fees", default=None, help="MAKER,TAKER fee rates overriding the instrument's."
        ),
        click.option(
            "--record-interval", default="1s", show_default=True, help="Recorder sampling."
        ),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--initial-balance", type=float, default=0.0, show_default=True),
        click.option(
            "--capital", type=float, default=None, help="Capital for returns and turnover."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def backtest_settings(
    *,
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
) -> dict[str, Any]:
    """Return the :func:`hftlib.backtest` keyword arguments of :func:`backtest_options`."""
    return {
        "latency": latency,
        "queue": queue,
        "partial_fills": partial_fills,
        "fees": parse_fees(fees),
        "record_interval": record_interval,
        "start": int(start) if start and start.isdigit() else start,
        "end": int(end) if end and end.isdigit() else end,
        "seed": seed,
        "initial_balance": initial_balance,
        "capital": capital,
    }


def resolve_strategy(
    strategy: str | None,
    data: Sequence[str | Path],
    params: dict[str, Any],
    production: Path | None,
) -> tuple[str | None, list[str | Path], dict[str, Any]]:
    """Return ``(strategy, data, kwargs)`` for a backtest, reading a strategy config file.

    A ``*.json`` strategy is a strategy file: its type, parameters (``params`` override
    them) and risk limits, and the files among ``data`` of the instruments it trades.
    Anything else passes through unchanged. Raises ConfigError for a bad file.
    """
    from hftlib.config.runs import is_strategy_file, strategy_run

    if strategy is None or not is_strategy_file(strategy):
        return strategy, list(data), {"params": params}
    planned = strategy_run(strategy, list(data), production=production)
    kwargs = {"params": {**planned.params, **params}, "risk": planned.risk()}
    return planned.strategy, list(planned.files), kwargs


production_option = click.option(
    "--config",
    "production",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="production.json naming the exchanges, for a strategy config file "
    "(default: the one beside its strategies/ folder).",
)

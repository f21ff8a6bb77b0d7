"""Pieces the ``hft`` subcommands share: instrument options, progress bars, JSON output."""

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

"""``hft paper``: run the configured strategies with fills simulated on the live book (R28)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from hftlib.cli.common import fail
from hftlib.errors import HftlibError

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def parse_replay(items: tuple[str, ...]) -> dict[str, list[Path]]:
    """Return ``EXCHANGE_ID=PATH`` items as ``{exchange_id: [paths]}`` (repeats add files)."""
    out: dict[str, list[Path]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r} is not EXCHANGE_ID=PATH", param_hint="--replay")
        path = Path(value.strip())
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="--replay")
        out.setdefault(key.strip(), []).append(path)
    return out


def run_options(fn: Any) -> Any:
    """Add the options ``hft paper`` and ``hft live`` share."""
    options = [
        click.option(
            "--config",
            "config",
            required=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="production.json (it names the exchange and strategy files).",
        ),
        click.option(
            "--strategy",
            "strategies",
            multiple=True,
            help="Strategy id to run; repeat for more (default: every enabled strategy).",
        ),
        click.option(
            "--duration",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Stop after this many seconds (of the data's clock when replaying).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(LEVELS, case_sensitive=False),
            default=None,
            help="Least level logged to stderr (default: logging.level of the config).",
        ),
        click.option(
            "--replay",
            multiple=True,
            metavar="EXCHANGE_ID=PATH",
            help="Replay event files as this exchange's market (recorded venue), for runs "
            "without a connection; repeat for more files or exchanges.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def setup_logging(config: Path, level: str | None) -> None:
    """Log to stderr at ``level``, or at the configuration's ``logging.level``."""
    if level is None:
        try:
            from hftlib.config import load_production

            level = load_production(config).logging.level
        except HftlibError:
            level = "INFO"
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def run_command(
    mode: str,
    config: Path,
    strategies: tuple[str, ...],
    duration: float | None,
    log_level: str | None,
    replay: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the strategies in ``mode`` and print the summary."""
    from hftlib.live.runner import RunOptions, run

    setup_logging(config, log_level)
    options = RunOptions(
        mode=mode,
        strategies=strategies,
        duration_s=duration,
        replay=parse_replay(replay),
    )
    try:
        result = run(config, options)
    except (HftlibError, ValueError) as exc:
        fail(exc)
        return
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{mode}: {summary['messages']} messages in {summary['elapsed_s']} s "
        f"({summary['clock']} time)"
    )
    for s in summary["strategies"]:
        click.echo(
            f"  {s['strategy_id']} ({s['strategy']}): {s['fills']} fills, positions "
            f"{s['positions']}, {s['open_orders']} open, {s['unsettled']} unsettled"
        )


@click.command("paper")
@run_options
def paper(
    config: Path,
    strategies: tuple[str, ...],
    duration: float | None,
    log_level: str | None,
    replay: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run strategies on live market data with simulated fills (no order reaches a venue)."""
    run_command("paper", config, strategies, duration, log_level, replay, as_json)

"""``hft validate-config`` and ``hft validate-strategy``: check configuration files (R1).

Each prints every problem as ``FILE:$.json.path: reason`` and then one summary line,
``... validation: PASSED`` (exit 0) or ``... validation: FAILED (N errors)`` (exit 1).
Secrets are never printed: only their references (``env:NAME``, ``file:PATH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from hftlib.config.issues import ConfigIssue


def _report(issues: Sequence[ConfigIssue], what: str) -> None:
    for issue in issues:
        click.echo(str(issue))
    if issues:
        n = len(issues)
        click.echo(f"{what} validation: FAILED ({n} error{'s' if n != 1 else ''})")
        raise click.exceptions.Exit(1)
    click.echo(f"{what} validation: PASSED")


@click.command("validate-config")
@click.option(
    "--config",
    "config_file",
    required=True,
    envvar="HFT_CONFIG",
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The production file (config/production.json).",
)
def validate_config(config_file: Path) -> None:
    """Check production.json and every exchange and strategy file it names.

    Checks the JSON Schemas and the rules across files: referenced files exist, strategies
    run on configured, enabled exchanges and listed symbols with instrument specs, risk
    limits are set, parameters fit the strategy type, ids are unique and every secret
    reference an enabled exchange or the API needs can be read.
    """
    from hftlib.config.validate import validate_config as check

    _report(check(config_file), "Configuration")


@click.command("validate-strategy")
@click.argument("strategy_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Production file whose exchanges the strategy may use. Default: production.json "
    "beside the strategy folder, else the exchanges folder beside it.",
)
def validate_strategy(strategy_file: Path, config_file: Path | None) -> None:
    """Check one strategy file: schema, type and parameters, exchanges, symbols, limits."""
    from hftlib.config.validate import validate_strategy as check

    _report(check(strategy_file, production=config_file), "Strategy")

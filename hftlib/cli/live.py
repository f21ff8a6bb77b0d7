"""``hft live``: run the configured strategies with real orders through the venue connectors."""

from __future__ import annotations

from pathlib import Path

import click

from hftlib.cli.paper import run_command, run_options


@click.command("live")
@run_options
def live(
    config: Path,
    strategies: tuple[str, ...],
    duration: float | None,
    log_level: str | None,
    replay: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run strategies with real orders; at the end every open order is cancelled.

    With --replay an exchange is the recorded venue (its orders are simulated), for
    rehearsals without a connection.
    """
    run_command("live", config, strategies, duration, log_level, replay, as_json)

"""The ``hft`` command line."""

from __future__ import annotations

import click

from hftlib import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hft")
def main() -> None:
    """hftlib: backtest, paper and live trading on one numba core."""


def _register() -> None:
    from hftlib.cli.backtest import backtest
    from hftlib.cli.config import validate_config, validate_strategy
    from hftlib.cli.data import data
    from hftlib.cli.demo import demo
    from hftlib.cli.live import live
    from hftlib.cli.paper import paper
    from hftlib.cli.sweep import sweep
    from hftlib.cli.venue import venue

    main.add_command(backtest)
    main.add_command(data)
    main.add_command(demo)
    main.add_command(live)
    main.add_command(paper)
    main.add_command(sweep)
    main.add_command(validate_config)
    main.add_command(validate_strategy)
    main.add_command(venue)


_register()

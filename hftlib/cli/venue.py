"""``hft venue``: local venue servers for demos and connector tests."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click


@click.group("venue")
def venue() -> None:
    """Local venue servers that speak a real venue's protocol on loopback."""


@venue.group("serve")
def serve() -> None:
    """Run a local venue server until Ctrl-C."""


@serve.command("binance")
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="hftlib event file (.npy/.parquet) of the recorded market; repeat for more "
    "(convert captures with `hft data convert binance`).",
)
@click.option(
    "--market",
    type=click.Choice(["spot", "usdm"]),
    default=None,
    help="Protocol to speak [default: from the instruments].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 = a free port."
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Replay speed (x recorded time); 0 = as fast as possible.",
)
@click.option(
    "--api-key-env",
    default="HFT_VENUE_API_KEY",
    show_default=True,
    help="Environment variable holding the account's API key.",
)
@click.option(
    "--secret-env",
    default="HFT_VENUE_API_SECRET",
    show_default=True,
    help="Environment variable holding the account's HMAC secret.",
)
@click.option(
    "--balance",
    "balances",
    multiple=True,
    metavar="ASSET=AMOUNT",
    help="Starting balance of the account (repeat) [default: 100000 of each quote asset, "
    "10 of each spot base asset].",
)
def serve_binance(
    data: tuple[Path, ...],
    market: str | None,
    host: str,
    port: int,
    speed: float,
    api_key_env: str,
    secret_env: str,
    balances: tuple[str, ...],
) -> None:
    """Serve Binance spot or USD-M REST and WebSocket APIs, replaying a recorded market.

    Prints the bound URLs, then replays the recording (the book stays as it ends) and serves
    until Ctrl-C. One trading account is configured from the API key and secret in the two
    environment variables; without them the server offers market data only.
    """
    from hftlib.data.reader import group_sources
    from hftlib.instrument import InstrumentKind
    from hftlib.sim.binance_venue.config import AccountConfig
    from hftlib.sim.binance_venue.rules import split_symbol
    from hftlib.sim.binance_venue.server import BinanceVenue

    instruments = [s.instrument for s in group_sources(list(data))]
    spot = (market or "") == "spot" or all(i.kind == InstrumentKind.SPOT for i in instruments)
    key, secret = os.environ.get(api_key_env), os.environ.get(secret_env)
    accounts = []
    if key and secret:
        start = _balances(balances, [split_symbol(i.symbol) for i in instruments], spot)
        accounts.append(AccountConfig(api_key=key, secret=secret, balances=start))
    server = BinanceVenue(
        list(data),
        market="spot" if spot else "usdm",
        accounts=accounts,
        host=host,
        port=port,
    )
    try:
        asyncio.run(_serve(server, speed, bool(accounts), api_key_env, secret_env))
    except KeyboardInterrupt:
        click.echo("stopped")


def _balances(given: tuple[str, ...], pairs: list[tuple[str, str]], spot: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    if not given:
        for base, quote in pairs:
            out[quote] = "100000"
            if spot:
                out[base] = "10"
        return out
    for item in given:
        asset, sep, amount = item.partition("=")
        if not sep or not asset or not amount:
            raise click.BadParameter(f"{item!r}: use ASSET=AMOUNT", param_hint="--balance")
        out[asset.upper()] = amount
    return out


async def _serve(server: Any, speed: float, trading: bool, key_env: str, secret_env: str) -> None:
    async with server:
        click.echo(f"market    {server.market} {', '.join(sorted(server.exchange.books))}")
        click.echo(f"REST      {server.rest_url}")
        click.echo(f"streams   {server.ws_url}")
        if server.market == "spot":
            click.echo(f"WS API    {server.ws_api_url}")
        click.echo(f"admin     {server.rest_url}/_sim/state")
        if not trading:
            click.echo(f"no account: set {key_env} and {secret_env} to trade")
        click.echo(f"replaying at {'max' if speed == 0 else f'{speed:g}x'} speed; Ctrl-C to stop")
        server.run(speed)
        await asyncio.Event().wait()

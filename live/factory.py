"""Build venues from configuration: a registry of venue factories, one per venue kind.

A factory turns an exchange's configuration into a :class:`~hftlib.venue.interface.Venue`:

    def make_binance(exchange: ExchangeConfig, build: VenueBuild) -> Venue: ...
    register_venue_factory("binance", make_binance)

The runner picks the factory by :func:`venue_kind`: ``recorded`` when the run replays event
files for the exchange (``VenueBuild.replay``), else the exchange's ``venue`` field
(``binance-futures``) if a factory has that name, else its family before the first ``-``
(``binance``). The ``recorded`` factory and the Binance connector (``binance``, spot and
USD-M) are built in; other connectors register theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hftlib.config.model import ExchangeConfig
from hftlib.errors import HftlibError
from hftlib.instrument import Instrument
from hftlib.venue.interface import Venue

RECORDED: Final = "recorded"


class VenueFactoryError(HftlibError):
    """No factory can build the venue an exchange configuration asks for."""


@dataclass(frozen=True)
class VenueBuild:
    """What a factory may need beyond the exchange file.

    Parameters
    ----------
    mode : str
        ``paper`` (a paper venue will take the orders: build market data only) or ``live``.
    symbols : sequence of str
        The venue symbols the run trades there (``BTCUSDT``).
    instruments : sequence of Instrument
        Their specs, same order.
    replay : sequence of Path
        Event files to replay as the venue's market (the ``recorded`` kind).
    latency, queue, partial_fills, seed
        Simulator settings of venues that simulate orders (``hft backtest`` syntax).
    """

    mode: str
    symbols: Sequence[str]
    instruments: Sequence[Instrument]
    replay: Sequence[Path] = ()
    latency: str = "0ns"
    queue: str = "risk_averse"
    partial_fills: bool = False
    seed: int = 0
    options: dict[str, object] = field(default_factory=dict)
    """Factory-specific extras (e.g. ``unknown_outcomes`` of the recorded venue)."""


VenueFactory = Callable[[ExchangeConfig, VenueBuild], Venue]

_FACTORIES: dict[str, VenueFactory] = {}


def register_venue_factory(kind: str, factory: VenueFactory) -> None:
    """Register (or replace) the factory of venue kind ``kind``."""
    if not kind or not isinstance(kind, str):
        raise ValueError("a venue kind is a non-empty string")
    _FACTORIES[kind] = factory


def venue_kinds() -> list[str]:
    """Return the registered venue kinds."""
    return sorted(_FACTORIES)


def venue_kind(exchange: ExchangeConfig, build: VenueBuild) -> str:
    """Return the factory kind for ``exchange`` (see the module doc)."""
    if build.replay:
        return RECORDED
    if exchange.venue in _FACTORIES:
        return exchange.venue
    return exchange.venue.split("-", 1)[0]


def build_venue(exchange: ExchangeConfig, build: VenueBuild) -> Venue:
    """Build the venue of ``exchange`` with its registered factory."""
    kind = venue_kind(exchange, build)
    factory = _FACTORIES.get(kind)
    if factory is None:
        have = ", ".join(venue_kinds()) or "none"
        raise VenueFactoryError(
            f"exchange {exchange.exchange_id}: no venue factory for {kind!r} (registered: "
            f"{have}); give recorded data for it, or register a connector"
        )
    return factory(exchange, build)


def _recorded(exchange: ExchangeConfig, build: VenueBuild) -> Venue:
    from hftlib.sim.recorded_venue import RecordedVenue

    unknown = build.options.get("unknown_outcomes", ())
    venue = RecordedVenue(
        build.replay,
        name=exchange.exchange_id,
        latency=build.latency,
        queue=build.queue,
        partial_fills=build.partial_fills,
        seed=build.seed,
        simulate_orders=build.mode != "paper",
        unknown_outcomes=tuple(unknown) if isinstance(unknown, list | tuple) else (),
    )
    have = {inst.key for inst in venue.instruments}
    missing = [inst.key for inst in build.instruments if inst.key not in have]
    if missing:
        raise VenueFactoryError(
            f"exchange {exchange.exchange_id}: the recorded data holds {', '.join(sorted(have))}"
            f" but the strategies trade {', '.join(missing)} there"
        )
    return venue


def _binance(exchange: ExchangeConfig, build: VenueBuild) -> Venue:
    """The Binance spot / USD-M connector; paper runs open market data only (no keys)."""
    from hftlib.venues.binance.factory import build_venue as build_binance

    wanted = set(build.symbols)
    symbols = [s for s in exchange.symbols if exchange.instrument(s).symbol in wanted]
    return build_binance(
        exchange, symbols=symbols, market_data_only=build.mode == "paper", **build.options
    )


register_venue_factory(RECORDED, _recorded)
register_venue_factory("binance", _binance)

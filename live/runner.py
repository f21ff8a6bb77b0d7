"""The paper and live runner: configuration in, strategies running on venues, results out.

:func:`run` (and its coroutine :func:`run_async`) reads ``production.json`` and the strategy
and exchange files it names (:func:`hftlib.config.load_system`), builds one
:class:`~hftlib.live.host.StrategyHost` per strategy and one venue per exchange used
(:mod:`hftlib.live.factory`; in paper mode each is wrapped in a
:class:`~hftlib.live.paper.PaperVenue`), then runs them:

- in event time (:class:`~hftlib.live.cosim.EventClock`) when every venue simulates its
  orders (paper mode, recorded data): deterministic, as fast as the machine;
- in wall time (:class:`~hftlib.live.wallclock.WallClock`) with real connectors.

It stops when the data ends, after ``duration_s`` (of the run's clock), or on SIGINT /
SIGTERM; in live mode it then cancels every open order. Simulator settings of paper and
recorded venues (latency, queue model, partial fills, seed) come from the ``backtest``
hints of the strategy files, so a paper run and ``hft backtest`` of the same file agree.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from hftlib.live.cosim import EventClock
from hftlib.live.factory import VenueBuild, build_venue
from hftlib.live.host import StrategyHost
from hftlib.live.hub import Hub
from hftlib.live.paper import PaperVenue
from hftlib.live.wallclock import WallClock

from hftlib.config import load_system
from hftlib.config.issues import ConfigError, ConfigIssue
from hftlib.config.model import StrategyConfig
from hftlib.config.validate import SystemConfig
from hftlib.instrument import Instrument
from hftlib.venue.interface import Venue

log = logging.getLogger("hftlib.live")

Mode = Literal["paper", "live"]


@dataclass(frozen=True)
class RunOptions:
    """How to run.

    Parameters
    ----------
    mode : ``"paper"`` or ``"live"``
        Paper: fills simulated on the live book; live: orders sent to the venues.
    strategies : sequence of str
        Strategy ids to run (default: every enabled strategy of the configuration).
    duration_s : float, optional
        Stop after this many seconds of the run's clock (event time for simulated
        venues, wall time otherwise).
    replay : mapping of exchange id to paths
        Replay these event files as the exchange's market (the ``recorded`` venue).
    session : int, optional
        Run number in client order ids. Default: 0 in event time, the Unix time in seconds
        in wall time (a restarted runner never reuses an id).
    settle_after_s : float
        Query an order whose outcome stayed unknown this long.
    venue_options : mapping of exchange id to dict
        Factory extras (:attr:`hftlib.live.factory.VenueBuild.options`).
    """

    mode: Mode = "paper"
    strategies: Sequence[str] = ()
    duration_s: float | None = None
    replay: Mapping[str, Sequence[str | Path]] = field(default_factory=dict)
    session: int | None = None
    settle_after_s: float = 1.0
    venue_options: Mapping[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RunResult:
    """What a run did: its hosts (fills, orders, positions) and how it ran."""

    mode: Mode
    clock: Literal["event", "wall"]
    hosts: list[StrategyHost]
    batches: int
    elapsed_s: float

    def host(self, strategy_id: str) -> StrategyHost:
        """Return the host of ``strategy_id``."""
        for h in self.hosts:
            if h.strategy_id == strategy_id:
                return h
        raise KeyError(strategy_id)

    def fills(self, strategy_id: str) -> np.ndarray:
        """Return a strategy's fill table (``FILL_DTYPE``)."""
        return self.host(strategy_id).fills()

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "mode": self.mode,
            "clock": self.clock,
            "messages": self.batches,
            "elapsed_s": round(self.elapsed_s, 3),
            "strategies": [h.summary() for h in self.hosts],
        }


def select_strategies(
    system: SystemConfig, wanted: Sequence[str], mode: Mode
) -> list[StrategyConfig]:
    """Return the strategies to run: ``wanted`` (in that order) or every enabled one."""
    if wanted:
        missing = [s for s in wanted if s not in system.strategies]
        if missing:
            have = ", ".join(system.strategies) or "none"
            raise ConfigError(
                [
                    ConfigIssue(
                        str(system.path),
                        "$.strategies",
                        f"unknown strategy {m!r}; configured: {have}",
                    )
                    for m in missing
                ]
            )
        chosen = [system.strategies[s] for s in wanted]
    else:
        chosen = [cfg for cfg in system.strategies.values() if cfg.enabled]
    if not chosen:
        raise ConfigError([ConfigIssue(str(system.path), "$.strategies", "no strategy to run")])
    if mode == "live":
        paper = [cfg.strategy_id for cfg in chosen if cfg.paper_trading]
        if paper:
            raise ConfigError(
                [
                    ConfigIssue(
                        str(system.strategy_files[sid]),
                        "$.paper_trading",
                        "paper_trading is true: run this strategy with `hft paper`",
                    )
                    for sid in paper
                ]
            )
    return chosen


def strategy_instruments(system: SystemConfig, cfg: StrategyConfig) -> list[Instrument]:
    """Return the instrument of each of a strategy's assets, in engine order."""
    return [system.exchanges[ex].instrument(symbol) for ex, symbol in cfg.assets()]


def build_host(system: SystemConfig, cfg: StrategyConfig, session: int) -> StrategyHost:
    """Build the host of one strategy file (its type, parameters and USD risk limits)."""
    from hftlib.config.limits import strategy_risk_limits

    instruments = strategy_instruments(system, cfg)
    hints = cfg.backtest.kwargs() if cfg.backtest is not None else {}
    return StrategyHost(
        cfg.type,
        strategy_id=cfg.strategy_id,
        assets=[(ex, inst.symbol) for (ex, _), inst in zip(cfg.assets(), instruments, strict=True)],
        instruments=instruments,
        params=dict(cfg.parameters),
        risk=strategy_risk_limits(cfg.risk_limits, instruments),
        session=session,
        initial_balance=float(hints.get("initial_balance", 0.0)),
    )


def _sim_settings(chosen: Sequence[StrategyConfig], exchange_id: str) -> dict[str, Any]:
    """Return the simulator settings for an exchange: the first of its strategies' hints."""
    settings: dict[str, Any] = {}
    for cfg in chosen:
        if exchange_id in cfg.exchanges and cfg.backtest is not None:
            hints = cfg.backtest.kwargs()
            for key in ("latency", "queue", "partial_fills", "seed"):
                if key in hints and key not in settings:
                    settings[key] = hints[key]
                elif key in hints and settings[key] != hints[key]:
                    log.warning(
                        "exchange %s: strategy %s asks for %s=%r, the run uses %r",
                        exchange_id,
                        cfg.strategy_id,
                        key,
                        hints[key],
                        settings[key],
                    )
    return settings


def build_venues(
    system: SystemConfig, chosen: Sequence[StrategyConfig], options: RunOptions
) -> dict[str, Venue]:
    """Build one venue per exchange the strategies use (paper mode: wrapped for paper)."""
    used: dict[str, dict[str, Instrument]] = {}
    for cfg in chosen:
        for (ex, _), inst in zip(cfg.assets(), strategy_instruments(system, cfg), strict=True):
            used.setdefault(ex, {})[inst.symbol] = inst
    venues: dict[str, Venue] = {}
    for ex, by_symbol in used.items():
        exchange = system.exchanges[ex]
        settings = _sim_settings(chosen, ex)
        build = VenueBuild(
            mode=options.mode,
            symbols=list(by_symbol),
            instruments=list(by_symbol.values()),
            replay=[Path(p) for p in options.replay.get(ex, ())],
            options=dict(options.venue_options.get(ex, {})),
            **settings,
        )
        venue = build_venue(exchange, build)
        if options.mode == "paper":
            venue = PaperVenue(
                venue,
                build.instruments,
                latency=build.latency,
                queue=build.queue,
                partial_fills=build.partial_fills,
                seed=build.seed,
            )
        venues[ex] = venue
    return venues


async def run_async(
    config: str | Path, options: RunOptions, stop: asyncio.Event | None = None
) -> RunResult:
    """Run the configured strategies (see the module doc); return what they did."""
    system = load_system(config)
    chosen = select_strategies(system, options.strategies, options.mode)
    unknown = sorted(set(options.replay) - set(system.exchanges))
    if unknown:
        raise ConfigError(
            [
                ConfigIssue(
                    str(system.path), "$.exchanges", f"replay data for unknown exchange {u!r}"
                )
                for u in unknown
            ]
        )
    venues = build_venues(system, chosen, options)
    event_time = [bool(getattr(v, "event_clock", False)) for v in venues.values()]
    if any(event_time) and not all(event_time):
        raise ConfigError(
            [
                ConfigIssue(
                    str(system.path), "$.exchanges", "simulated and real venues cannot run together"
                )
            ]
        )
    clock: Literal["event", "wall"] = "event" if all(event_time) else "wall"
    session = options.session
    if session is None:
        session = 0 if clock == "event" else int(time.time())
    hosts = [build_host(system, cfg, session) for cfg in chosen]
    hub = Hub(venues, hosts)
    settle_ns = int(options.settle_after_s * 1e9)
    loop_: EventClock | WallClock = (
        EventClock(hub, settle_after_ns=settle_ns)
        if clock == "event"
        else WallClock(hub, settle_after_ns=settle_ns)
    )
    duration = int(options.duration_s * 1e9) if options.duration_s is not None else None
    log.info(
        "%s run: %d strateg%s on %s (%s time)",
        options.mode,
        len(hosts),
        "y" if len(hosts) == 1 else "ies",
        ", ".join(f"{name} ({type(v).__name__})" for name, v in venues.items()),
        clock,
    )
    connected: list[Venue] = []
    t0 = time.perf_counter()
    try:
        for name, v in venues.items():
            log.info("Connecting to %s...", name)
            await v.connect()
            connected.append(v)
            log.info("Connecting to %s... OK", name)
        await loop_.run(stop, duration, final_cancel=options.mode == "live")
    finally:
        for v in connected:
            await v.close()
    for h in hosts:
        h.end(h.now)
        s = h.summary()
        log.info(
            "%s: %d fill(s), positions %s, %d open order(s), %d unsettled",
            h.strategy_id,
            s["fills"],
            s["positions"],
            s["open_orders"],
            s["unsettled"],
        )
    return RunResult(options.mode, clock, hosts, loop_.batches, time.perf_counter() - t0)


def run(config: str | Path, options: RunOptions) -> RunResult:
    """Run in a new event loop; SIGINT and SIGTERM stop the run gracefully."""

    async def main() -> RunResult:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or a platform without signal handlers
        try:
            return await run_async(config, options, stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())

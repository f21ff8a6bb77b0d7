"""Turn a strategy file and recorded data into the arguments of a backtest or a sweep.

``hft backtest --strategy config/strategies/X.json --data FOLDER`` and ``hft sweep`` call
:func:`strategy_run`: it validates the file (with its exchanges), maps each of the
strategy's assets (exchange x symbol) to the event files recorded for that instrument, in
the strategy's asset order, and maps the USD risk limits onto the risk kernel's.

A data folder may hold other instruments' files too: only the ones the strategy trades are
used. A file given by name that the strategy does not trade is an error, as is an asset
with no data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hftlib.config.issues import ConfigError, ConfigIssue
from hftlib.config.validate import StrategySetup, load_strategy_setup
from hftlib.data.reader import expand_paths
from hftlib.data.storage import read_meta
from hftlib.errors import HftlibError
from hftlib.instrument import Instrument


@dataclass(frozen=True)
class StrategyRun:
    """What a backtest of a strategy file needs.

    Parameters
    ----------
    setup : StrategySetup
        The validated strategy file with its exchanges and instruments.
    files : list of Path
        Event files, grouped by asset in the strategy's asset order.
    """

    setup: StrategySetup
    files: list[Path]

    @property
    def strategy(self) -> str:
        """The strategy type: a module of :mod:`hftlib.strategies`."""
        return self.setup.config.type

    @property
    def params(self) -> dict[str, Any]:
        """The strategy's parameters from the file."""
        return dict(self.setup.config.parameters)

    def risk(self) -> list[Any]:
        """Return the per-asset :class:`~hftlib.risk.RiskLimits` of the file's USD limits."""
        from hftlib.config.limits import strategy_risk_limits  # imports numba

        return strategy_risk_limits(self.setup.config.risk_limits, self.setup.instruments)

    def backtest_kwargs(self) -> dict[str, Any]:
        """Return ``strategy``, ``data``, ``params`` and ``risk`` for :func:`hftlib.backtest`."""
        return {
            "strategy": self.strategy,
            "data": [str(f) for f in self.files],
            "params": self.params,
            "risk": self.risk(),
        }


def is_strategy_file(value: str | Path) -> bool:
    """Return whether ``value`` names a strategy configuration file (``*.json``)."""
    return str(value).lower().endswith(".json")


def strategy_run(
    path: str | Path, data: Sequence[str | Path], *, production: str | Path | None = None
) -> StrategyRun:
    """Validate the strategy file ``path`` and find its assets' data among ``data``.

    Raises
    ------
    ConfigError
        The file is invalid, an asset has no data, or a named file is not traded.
    """
    setup = load_strategy_setup(path, production=production)
    name = str(path)
    if not data:
        raise ConfigError([ConfigIssue(name, "$", "no data given: pass --data FILE_OR_FOLDER")])
    wanted = {inst.key: i for i, inst in enumerate(setup.instruments)}
    by_asset: list[list[Path]] = [[] for _ in setup.instruments]
    issues: list[ConfigIssue] = []
    named = {Path(p) for p in data if not Path(p).is_dir()}
    try:
        files = expand_paths(data)
    except (HftlibError, OSError) as exc:
        raise ConfigError([ConfigIssue(name, "$", f"data: {exc}")]) from None
    seen: dict[str, list[Path]] = {}
    for f in files:
        try:
            key = read_meta(f).instrument.key
        except (HftlibError, OSError) as exc:
            issues.append(ConfigIssue(str(f), "$", f"cannot read event file metadata: {exc}"))
            continue
        seen.setdefault(key, []).append(f)
        if key in wanted:
            by_asset[wanted[key]].append(f)
        elif f in named:
            issues.append(
                ConfigIssue(
                    str(f),
                    "$",
                    f"holds {key}, which strategy {setup.config.strategy_id} "
                    f"does not trade ({_keys(setup.instruments)})",
                )
            )
    for i, (exchange_id, symbol) in enumerate(setup.assets):
        if not by_asset[i]:
            found = ", ".join(sorted(seen)) or "no event files"
            issues.append(
                ConfigIssue(
                    name,
                    f"$.symbols[{setup.config.symbols.index(symbol)}]",
                    f"no data for {symbol} on {exchange_id} ({setup.instruments[i].key}) "
                    f"in the data given; it holds: {found}",
                )
            )
    if issues:
        raise ConfigError(issues)
    return StrategyRun(setup, [f for group in by_asset for f in group])


def _keys(instruments: Sequence[Instrument]) -> str:
    return ", ".join(inst.key for inst in instruments)

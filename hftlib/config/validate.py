"""Validate a whole configuration: every file, and the rules that span files.

:func:`validate_config` starts at ``production.json`` and reads every exchange and strategy
file it names; :func:`validate_strategy` checks one strategy file against the exchanges it
would run on. Both return *every* problem (never stopping at the first) as
:class:`~hftlib.config.issues.ConfigIssue` items, and never raise for bad input.

Across files they check: referenced files exist; an enabled strategy runs only on
exchanges that are configured and enabled; each strategy symbol is listed by each of its
exchanges and has an instrument spec for the exchange's venue; strategy ids are unique; a
strategy's ``max_position_usd`` is within the system-wide ``max_total_position_usd``; and
the secrets an enabled exchange or the API will need can be read (environment variable set,
file readable), without ever showing their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hftlib.config.filechecks import FileResult, inspect_file, number, string_items
from hftlib.config.issues import ConfigError, ConfigIssue, dedupe
from hftlib.config.model import (
    ExchangeConfig,
    ProductionConfig,
    StrategyConfig,
    config_instrument,
    convert,
    exchange_file,
    strategy_file,
)
from hftlib.config.schema import describe
from hftlib.config.secrets import SecretRef, reference_problem
from hftlib.errors import InstrumentError
from hftlib.instrument import Instrument

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_EXCHANGE_SECRETS = ("api_key", "api_secret", "api_passphrase")


@dataclass(frozen=True)
class SystemConfig:
    """A validated configuration: production.json and every file it names.

    Parameters
    ----------
    path : Path
        The production file.
    production : ProductionConfig
        Its content.
    exchanges : dict
        ``exchange_id -> ExchangeConfig``, in production order.
    strategies : dict
        ``strategy_id -> StrategyConfig``, in production order.
    strategy_files : dict
        ``strategy_id -> Path`` of its file.
    """

    path: Path
    production: ProductionConfig
    exchanges: dict[str, ExchangeConfig]
    strategies: dict[str, StrategyConfig]
    strategy_files: dict[str, Path]

    def resolve(self, path: str) -> Path:
        """Return ``path`` from the production file (e.g. ``pid_file``) as a usable path.

        A relative path is relative to the production file's folder.
        """
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.path.parent / p


@dataclass
class _Exchanges:
    """The exchanges a strategy may name, for cross-checks."""

    files: dict[str, FileResult | str] = field(default_factory=dict)
    """Exchange id -> its inspected file, or why it is missing."""
    source: str = ""
    """Where the list of exchanges comes from, for messages."""


@dataclass
class _Run:
    """State of one validation: the files read and the issues found."""

    report_missing: bool
    """Report a strategy's exchange whose file is missing at the strategy (validate_strategy);
    validate_config reports it once, where production.json names the exchange."""
    production: FileResult | None = None
    exchanges: _Exchanges = field(default_factory=_Exchanges)
    strategies: list[FileResult] = field(default_factory=list)
    issues: list[ConfigIssue] = field(default_factory=list)


def validate_config(production_path: str | Path) -> list[ConfigIssue]:
    """Return every problem of ``production_path`` and of each file it names ([] = valid).

    Parameters
    ----------
    production_path : str or Path
        The production file; issues name files relative to it as given.
    """
    return _check_system(Path(production_path)).issues


def load_system(production_path: str | Path) -> SystemConfig:
    """Validate the whole configuration and return it typed.

    Raises
    ------
    ConfigError
        With every problem found (the same list :func:`validate_config` returns).
    """
    run = _check_system(Path(production_path))
    prod = run.production
    if run.issues or prod is None:  # prod is always read here; None only for the type checker
        raise ConfigError(run.issues)
    production = convert(prod.data, ProductionConfig, prod.path.parent, prod.name)
    exchanges = {
        ex_id: convert(res.data, ExchangeConfig, res.path.parent, res.name)
        for ex_id, res in run.exchanges.files.items()
        if isinstance(res, FileResult)  # no issues, so every named file was read
    }
    strategies: dict[str, StrategyConfig] = {}
    files: dict[str, Path] = {}
    for res in run.strategies:
        cfg = convert(res.data, StrategyConfig, res.path.parent, res.name)
        strategies[cfg.strategy_id] = cfg
        files[cfg.strategy_id] = res.path
    return SystemConfig(prod.path, production, exchanges, strategies, files)


def validate_strategy(
    path: str | Path,
    exchanges: Mapping[str, ExchangeConfig] | None = None,
    *,
    production: str | Path | None = None,
) -> list[ConfigIssue]:
    """Return every problem of one strategy file ([] = valid).

    Parameters
    ----------
    path : str or Path
        The strategy file.
    exchanges : mapping, optional
        ``exchange_id -> ExchangeConfig`` the strategy may use.
    production : str or Path, optional
        A production file whose exchanges the strategy may use. The exchange files the
        strategy names are read and their problems reported; the rest of the production
        file is not checked here (``validate_config`` does that).

    Without either, the exchanges are those of ``production.json`` beside the strategy
    folder (``config/strategies/x.json`` -> ``config/production.json``) when it exists,
    else the files in the ``exchanges`` folder beside it.
    """
    return _check_strategy(Path(path), exchanges, production)[0].issues


@dataclass(frozen=True)
class StrategySetup:
    """A validated strategy file with what a run of it needs.

    Parameters
    ----------
    config : StrategyConfig
        The strategy file.
    exchanges : dict
        ``exchange_id -> ExchangeConfig`` of the exchanges it names.
    assets : tuple
        ``(exchange_id, symbol)`` per asset, in the engine's order.
    instruments : list of Instrument
        The instrument spec of each asset, in the same order.
    """

    config: StrategyConfig
    exchanges: dict[str, ExchangeConfig]
    assets: tuple[tuple[str, str], ...]
    instruments: list[Instrument]


def load_strategy_setup(
    path: str | Path,
    exchanges: Mapping[str, ExchangeConfig] | None = None,
    *,
    production: str | Path | None = None,
) -> StrategySetup:
    """Validate a strategy file like :func:`validate_strategy` and return it ready to run.

    Raises
    ------
    ConfigError
        With every problem :func:`validate_strategy` finds.
    """
    run, res = _check_strategy(Path(path), exchanges, production)
    if run.issues or res is None:  # res is set whenever there are no issues
        raise ConfigError(run.issues)
    config = convert(res.data, StrategyConfig, res.path.parent, res.name)
    typed: dict[str, ExchangeConfig] = {}
    for ex_id in config.exchanges:
        ex = run.exchanges.files[ex_id]
        if exchanges is not None:  # keep the caller's objects (their file references)
            typed[ex_id] = exchanges[ex_id]
        elif isinstance(ex, FileResult):  # always, once validated: every named file was read
            typed[ex_id] = convert(ex.data, ExchangeConfig, ex.path.parent, ex.name)
        else:
            raise ConfigError([ConfigIssue(res.name, "$.exchanges", f"{ex_id}: {ex}")])
    assets = config.assets()
    instruments = [typed[ex_id].instrument(symbol) for ex_id, symbol in assets]
    return StrategySetup(config, typed, assets, instruments)


def _check_strategy(
    strategy_path: Path,
    exchanges: Mapping[str, ExchangeConfig] | None,
    production: str | Path | None,
) -> tuple[_Run, FileResult | None]:
    run = _Run(report_missing=True)
    if exchanges is not None:
        run.exchanges = _Exchanges(
            {k: _typed_exchange(k, v) for k, v in exchanges.items()}, "the exchanges given"
        )
    else:
        prod_path = Path(production) if production is not None else None
        guess = strategy_path.parent.parent / "production.json"
        if prod_path is None and guess.is_file():
            prod_path = guess
        if prod_path is not None:
            prod = _read_production(run, prod_path, secrets=False)
            if not isinstance(prod.data, dict):
                run.issues = dedupe(prod.issues)
                return run, None
        else:
            _scan_exchange_folder(run, strategy_path.parent.parent / "exchanges")
    res = _read_strategy(run, strategy_path, by_id=None)
    used = {ex_id for _, ex_id in string_items(res.get("exchanges"))}
    for ex_id, ex in run.exchanges.files.items():
        if ex_id in used and isinstance(ex, FileResult):
            run.issues += ex.issues
    run.issues = dedupe(run.issues)
    return run, res


# --- steps -------------------------------------------------------------------------------


def _check_system(path: Path) -> _Run:
    run = _Run(report_missing=False)
    prod = _read_production(run, path, secrets=True)
    if isinstance(prod.data, dict):
        for ex in run.exchanges.files.values():
            if isinstance(ex, FileResult):
                run.issues += ex.issues
        base = path.parent
        strategies_dir = prod.get("strategies_dir")
        if not isinstance(strategies_dir, str) or not strategies_dir:
            strategies_dir = "strategies"
        seen: set[str] = set()
        for i, entry in string_items(prod.get("strategies")):
            if entry in seen or not entry:
                continue  # a repeated entry is reported by the file checks
            seen.add(entry)
            by_id = None if (entry.endswith(".json") or "/" in entry) else entry
            f = strategy_file(base, strategies_dir, entry)
            if not f.is_file():
                prod.issue(("strategies", i), f"strategy file {f} not found")
                continue
            _read_strategy(run, f, by_id=by_id)
    run.issues = dedupe(prod.issues + run.issues)
    return run


def _read_production(run: _Run, path: Path, *, secrets: bool) -> FileResult:
    """Read the production file and the exchange files it names (issues stay in each)."""
    prod = inspect_file("production", path)
    run.production = prod
    run.exchanges.source = prod.name
    if not isinstance(prod.data, dict):
        return prod
    base = path.parent
    exchanges_dir = prod.get("exchanges_dir")
    if not isinstance(exchanges_dir, str) or not exchanges_dir:
        exchanges_dir = "exchanges"
    for i, ex_id in string_items(prod.get("exchanges")):
        if ex_id in run.exchanges.files or not _ID.match(ex_id):
            continue  # repeats and malformed ids are reported by the file checks
        f = exchange_file(base, exchanges_dir, ex_id)
        if not f.is_file():
            prod.issue(("exchanges", i), f"exchange file {f} not found")
            run.exchanges.files[ex_id] = f"its file {f} is not found"
            continue
        res = inspect_file("exchange", f)
        run.exchanges.files[ex_id] = res
        if secrets and res.get("enabled") is True:
            for key in _EXCHANGE_SECRETS:
                _check_secret(res, (key,), res.get(key))
    if secrets:
        keys = prod.get("api", "keys")
        if isinstance(keys, list):
            for i, entry in enumerate(keys):
                if isinstance(entry, dict):
                    _check_secret(prod, ("api", "keys", i, "secret"), entry.get("secret"))
        dsn = prod.get("database", "dsn")
        if isinstance(dsn, str) and dsn.startswith(("env:", "file:")):
            _check_secret(prod, ("database", "dsn"), dsn)
    return prod


def _check_secret(res: FileResult, parts: tuple[str | int, ...], value: Any) -> None:
    """Report a secret reference that cannot be read (malformed ones: the schema's job)."""
    if not isinstance(value, str) or reference_problem(value) is not None:
        return
    problem = SecretRef(value, res.path.parent).check()
    if problem is not None:
        res.issue(parts, problem)


def _scan_exchange_folder(run: _Run, folder: Path) -> None:
    run.exchanges.source = str(folder)
    if not folder.is_dir():
        run.exchanges.source = f"{folder} (missing; give the production file with --config)"
        return
    for f in sorted(folder.glob("*.json")):
        run.exchanges.files[f.stem] = inspect_file("exchange", f)


def _typed_exchange(ex_id: str, cfg: ExchangeConfig) -> FileResult:
    name = f"<exchange {ex_id}>"
    return FileResult(Path(f"{ex_id}.json"), name, cfg.to_dict(), True)


def _read_strategy(run: _Run, path: Path, *, by_id: str | None) -> FileResult:
    res = inspect_file("strategy", path)
    if not isinstance(res.data, dict):
        run.issues += res.issues
        return res
    sid = res.get("strategy_id")
    if by_id is not None and isinstance(sid, str) and sid != by_id:
        res.issue(
            ("strategy_id",),
            f"strategy_id {describe(sid)} differs from the id {describe(by_id)} that "
            f"{_production_name(run)} names this file by",
        )
    if isinstance(sid, str):
        other = next((s for s in run.strategies if s.get("strategy_id") == sid), None)
        if other is not None:
            res.issue(
                ("strategy_id",), f"duplicate strategy_id {describe(sid)} (also {other.name})"
            )
    _cross_check(run, res)
    run.strategies.append(res)
    run.issues += res.issues
    return res


def _production_name(run: _Run) -> str:
    return run.production.name if run.production is not None else "the production file"


def _cross_check(run: _Run, res: FileResult) -> None:
    """Check a strategy against its exchanges, their symbols and venues, and global risk."""
    enabled = res.get("enabled") is True
    known = run.exchanges.files
    usable: list[tuple[str, FileResult]] = []
    for i, ex_id in string_items(res.get("exchanges")):
        if ex_id not in known:
            have = ", ".join(known) or "none"
            res.issue(
                ("exchanges", i),
                f"unknown exchange {describe(ex_id)}; configured exchanges "
                f"({run.exchanges.source}): {have}",
            )
            continue
        ex = known[ex_id]
        if isinstance(ex, str) or not isinstance(ex.data, dict):
            # validate_config reports a missing file where production.json names it, and
            # an unreadable one in that file; validate_strategy says why it is unusable.
            if run.report_missing:
                why = ex if isinstance(ex, str) else f"its file {ex.name} cannot be used"
                res.issue(("exchanges", i), f"exchange {describe(ex_id)}: {why}")
            continue
        if enabled and ex.get("enabled") is False:
            res.issue(
                ("exchanges", i),
                f"exchange {describe(ex_id)} is disabled (enabled: false in {ex.name}); "
                "enable it or set this strategy's enabled to false",
            )
        usable.append((ex_id, ex))
    for j, symbol in string_items(res.get("symbols")):
        for ex_id, ex in usable:
            listed = {s for _, s in string_items(ex.get("symbols"))}
            if symbol not in listed:
                res.issue(
                    ("symbols", j),
                    f"symbol {describe(symbol)} is not listed in the symbols of exchange "
                    f"{describe(ex_id)} ({ex.name})",
                )
                continue
            venue = ex.get("venue")
            if isinstance(venue, str):
                try:
                    config_instrument(venue, symbol)
                except InstrumentError as exc:
                    res.issue(("symbols", j), f"exchange {describe(ex_id)}: {exc}")
    limit = number(run.production.get("risk", "max_total_position_usd")) if run.production else None
    position = number(res.get("risk_limits", "max_position_usd"))
    if limit is not None and position is not None and position > limit:
        res.issue(
            ("risk_limits", "max_position_usd"),
            f"must be <= the system-wide max_total_position_usd ({limit:g}) of "
            f"{_production_name(run)}, got {position:g}",
        )

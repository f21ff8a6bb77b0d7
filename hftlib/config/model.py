"""Typed configuration objects and the loaders of single files.

The classes follow the JSON Schemas in ``hftlib/config/schemas/`` field for field (a test
checks names and defaults against them); read the schemas or ``docs/configuration.md`` for
each field's meaning. A loader reads one file, checks it (JSON, schema, rules within the
file) and raises :class:`~hftlib.config.issues.ConfigError` with *every* problem, or
returns the typed object. Checks across files (a strategy's exchanges and symbols, secrets
that must be readable) are :func:`hftlib.config.validate.validate_config`'s.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from hftlib.config.filechecks import inspect_file
from hftlib.config.issues import ConfigError, ConfigIssue, one_line
from hftlib.config.schema import Kind
from hftlib.config.secrets import Dsn, SecretRef
from hftlib.errors import InstrumentError
from hftlib.instrument import Instrument, builtin_instruments, lookup_instrument

_SEPARATORS = re.compile(r"[-_/]")


class _Config(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    def to_dict(self) -> dict[str, Any]:
        """Return the object as JSON-ready data; secrets stay references."""
        # Through JSON, so tuples come back as lists: exactly what a file would hold.
        out: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self, enc_hook=str))
        return out


# --- exchange ----------------------------------------------------------------------------


class Endpoints(_Config, frozen=True):
    """Network endpoints of a venue: ``rest`` (https URL) and ``websocket`` (wss URL)."""

    rest: str
    websocket: str


class RateLimits(_Config, frozen=True):
    """Client-side limits: ``orders_per_second`` and ``requests_per_minute``."""

    orders_per_second: float
    requests_per_minute: int


class ExchangeConfig(_Config, frozen=True):
    """One exchange connection (``config/exchanges/<exchange_id>.json``, runbook §4.1).

    Parameters
    ----------
    exchange_id : str
        Id of the connection; equal to the file name.
    enabled : bool
        Connect at start-up.
    venue : str
        Instrument venue in hftlib's specs (``binance``, ``binance-futures``).
    api_key, api_secret : SecretRef
        Credentials, as references.
    endpoints : Endpoints
        REST and WebSocket base URLs.
    rate_limits : RateLimits
        Client-side request limits.
    symbols : tuple of str
        Symbols written ``BTC-USDT``.
    name : str, optional
        Display name. Default: the exchange_id.
    api_passphrase : SecretRef, optional
        Passphrase for venues that use one. Default: None.
    """

    exchange_id: str
    enabled: bool
    venue: str
    api_key: SecretRef
    api_secret: SecretRef
    endpoints: Endpoints
    rate_limits: RateLimits
    symbols: tuple[str, ...]
    name: str | None = None
    api_passphrase: SecretRef | None = None
    schema_ref: str | None = msgspec.field(default=None, name="$schema")

    @property
    def display_name(self) -> str:
        """The name for logs (``Connecting to Binance... OK``)."""
        return self.name or self.exchange_id

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument spec of ``symbol`` on this exchange's venue."""
        return config_instrument(self.venue, symbol)


def instrument_symbol(symbol: str) -> str:
    """Return the venue symbol of a configuration symbol: ``BTC-USDT`` -> ``BTCUSDT``."""
    return _SEPARATORS.sub("", symbol).upper()


def config_instrument(venue: str, symbol: str) -> Instrument:
    """Return the built-in spec of configuration ``symbol`` (``BTC-USDT``) on ``venue``.

    The symbol is looked up without separators first (``BTCUSDT``) and then as written,
    for venues whose symbols keep them (``BTC-PERPETUAL``).

    Raises
    ------
    InstrumentError
        Neither form has a built-in spec; the message names the venue's specs.
    """
    for candidate in dict.fromkeys((instrument_symbol(symbol), symbol.upper())):
        try:
            return lookup_instrument(venue, candidate)
        except InstrumentError:
            continue
    venue_specs = sorted(
        key.partition(":")[2] for key in _builtin_keys() if key.startswith(f"{venue.lower()}:")
    )
    have = ", ".join(venue_specs) if venue_specs else "none"
    raise InstrumentError(
        f"no instrument spec for {symbol} on venue {venue!r} (looked up "
        f"{instrument_symbol(symbol)}); built-in specs for this venue: {have}"
    )


@functools.cache
def _builtin_keys() -> tuple[str, ...]:
    return tuple(builtin_instruments())


# --- strategy ----------------------------------------------------------------------------


class StrategyRiskLimits(_Config, frozen=True):
    """A strategy's pre-trade limits per asset; see :func:`hftlib.config.limits.risk_limits`.

    Parameters
    ----------
    max_position_usd : float
        Largest absolute position per asset, USD notional.
    max_order_size_usd : float
        Largest single order, USD notional.
    max_open_orders : int, optional
        Most live orders per asset. Default: no limit.
    max_orders_per_second : int, optional
        Most new + modify requests per asset per second. Default: no limit.
    price_band : float, optional
        Largest distance of a limit price from the mid, fraction of the mid. Default: none.
    """

    max_position_usd: float
    max_order_size_usd: float
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None
    price_band: float | None = None


class BacktestHints(_Config, frozen=True):
    """Optional ``hft backtest`` settings of a strategy file (None = the backtest default)."""

    latency: str | None = None
    queue: str | None = None
    partial_fills: bool | None = None
    record_interval: str | None = None
    seed: int | None = None
    initial_balance: float | None = None
    capital: float | None = None

    def kwargs(self) -> dict[str, Any]:
        """Return the settings given, as :func:`hftlib.backtest` keyword arguments."""
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class StrategyConfig(_Config, frozen=True):
    """One strategy instance (``config/strategies/<strategy_id>.json``, runbook §5.1).

    Parameters
    ----------
    strategy_id : str
        Id in the API, logs and database.
    name : str
        Human-readable name.
    type : str
        Module of ``hftlib.strategies`` (``market_maker``, ``arbitrage``, ``grid``, ...).
    enabled : bool
        Load and start with the system.
    exchanges, symbols : tuple of str
        Where and what it trades; assets are every pair, exchange-major (:meth:`assets`).
    risk_limits : StrategyRiskLimits
        Required pre-trade limits.
    parameters : dict
        Values for the type's PARAMS (numbers or booleans). Default: {} (all defaults).
    paper_trading : bool
        Simulated fills against the live book. Default: False.
    backtest : BacktestHints, optional
        Settings for ``hft backtest`` with this file. Default: None.
    """

    strategy_id: str
    name: str
    type: str
    enabled: bool
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    risk_limits: StrategyRiskLimits
    parameters: dict[str, bool | int | float] = {}
    paper_trading: bool = False
    backtest: BacktestHints | None = None
    schema_ref: str | None = msgspec.field(default=None, name="$schema")

    def assets(self) -> tuple[tuple[str, str], ...]:
        """Return ``(exchange_id, symbol)`` per asset, in the engine's asset order."""
        return tuple((ex, sym) for ex in self.exchanges for sym in self.symbols)


# --- production --------------------------------------------------------------------------


class DatabaseConfig(_Config, frozen=True):
    """PostgreSQL: ``dsn`` (a secret reference or a password-free DSN), pool sizes and the
    market-data retention. Defaults: pool 2..10 connections, 90 days."""

    dsn: Dsn
    pool_min_size: int = 2
    pool_max_size: int = 10
    retention_days: int = 90


class ApiKey(_Config, frozen=True):
    """A key allowed to sign API requests: public ``key_id`` and its HMAC ``secret``."""

    key_id: str
    secret: SecretRef


class ApiConfig(_Config, frozen=True):
    """Control API. Defaults: 127.0.0.1:8080, no keys, loopback reads open, 5 s window."""

    host: str = "127.0.0.1"
    port: int = 8080
    keys: tuple[ApiKey, ...] = ()
    read_only_open_on_loopback: bool = True
    signature_window_s: float = 5.0


class LoggingConfig(_Config, frozen=True):
    """Log files: ``directory`` and the least ``level`` written (default INFO)."""

    directory: str
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"


class GlobalRiskConfig(_Config, frozen=True):
    """System-wide limits over all strategies; the rate and open-order limits default to
    none."""

    max_total_position_usd: float
    max_daily_loss_usd: float
    max_order_rate: int | None = None
    max_open_orders: int | None = None


class FailoverConfig(_Config, frozen=True):
    """Primary/standby settings. Defaults: primary, a heartbeat per second, 3 missed."""

    role: Literal["primary", "standby"] = "primary"
    heartbeat_interval_s: float = 1.0
    missed_heartbeats: int = 3


class CpuAffinityConfig(_Config, frozen=True):
    """CPU ids to pin the hot loop and the I/O loop to (empty = no pinning, the default)."""

    hot_loop: tuple[int, ...] = ()
    io_loop: tuple[int, ...] = ()


class ProductionConfig(_Config, frozen=True):
    """The system's top-level file (``config/production.json``).

    Parameters
    ----------
    exchanges : tuple of str
        Exchange ids; files ``<exchanges_dir>/<id>.json``.
    database, api, logging, risk
        See the classes.
    pid_file : str
        Where the process id is written.
    strategies : tuple of str
        Strategy ids (``<strategies_dir>/<id>.json``) or ``.json`` paths. Default: ().
    exchanges_dir, strategies_dir : str
        Folders, relative to the file's folder. Defaults: ``exchanges``, ``strategies``.
    failover : FailoverConfig
        Default: primary, 1 s heartbeat, 3 missed.
    cpu_affinity : CpuAffinityConfig
        Default: no pinning.
    """

    exchanges: tuple[str, ...]
    database: DatabaseConfig
    api: ApiConfig
    logging: LoggingConfig
    risk: GlobalRiskConfig
    pid_file: str
    strategies: tuple[str, ...] = ()
    exchanges_dir: str = "exchanges"
    strategies_dir: str = "strategies"
    failover: FailoverConfig = msgspec.field(default_factory=FailoverConfig)
    cpu_affinity: CpuAffinityConfig = msgspec.field(default_factory=CpuAffinityConfig)
    schema_ref: str | None = msgspec.field(default=None, name="$schema")


def exchange_file(base_dir: Path, exchanges_dir: str, exchange_id: str) -> Path:
    """Return the file of ``exchange_id``: ``<base_dir>/<exchanges_dir>/<id>.json``."""
    return base_dir / exchanges_dir / f"{exchange_id}.json"


def strategy_file(base_dir: Path, strategies_dir: str, entry: str) -> Path:
    """Return the file of a ``strategies`` entry: a ``.json`` path or an id."""
    if entry.endswith(".json") or "/" in entry:
        return base_dir / entry
    return base_dir / strategies_dir / f"{entry}.json"


# --- loaders -----------------------------------------------------------------------------

_T = TypeVar("_T", bound=_Config)
_AT = re.compile(r" - at `(\$[^`]*)`$")


def convert(data: Any, cls: type[_T], base_dir: Path, name: str) -> _T:
    """Build ``cls`` from checked data; secret references resolve relative to ``base_dir``.

    Raises
    ------
    ConfigError
        The data does not fit ``cls`` (only when it skipped the schema check).
    """

    def decode(typ: type, obj: Any) -> Any:
        if typ is SecretRef or typ is Dsn:
            return typ(obj, base_dir)
        # msgspec's dec_hook protocol: NotImplementedError means "not a type this hook
        # decodes", and msgspec reports the value as invalid at its path
        raise NotImplementedError(f"no decoder for {typ!r}")

    try:
        return msgspec.convert(data, cls, dec_hook=decode)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT.search(text)
        where = match.group(1) if match else "$"
        reason = text[: match.start()] if match else text
        raise ConfigError([ConfigIssue(name, where, one_line(reason))]) from None


def _load(kind: Kind, path: str | Path, cls: type[_T]) -> _T:
    result = inspect_file(kind, path)
    if result.issues:
        raise ConfigError(result.issues)
    return convert(result.data, cls, Path(path).parent, result.name)


def load_production(path: str | Path) -> ProductionConfig:
    """Load ``production.json`` alone (see :func:`hftlib.config.load_system` for all files).

    Raises
    ------
    ConfigError
        With every problem of the file.
    """
    return _load("production", path, ProductionConfig)


def load_exchange(path: str | Path) -> ExchangeConfig:
    """Load one exchange file.

    Raises
    ------
    ConfigError
        With every problem of the file (its exchange_id must equal the file name).
    """
    return _load("exchange", path, ExchangeConfig)


def load_strategy_config(path: str | Path) -> StrategyConfig:
    """Load one strategy file; its type and parameters are checked against the strategy.

    Raises
    ------
    ConfigError
        With every problem of the file.
    """
    return _load("strategy", path, StrategyConfig)

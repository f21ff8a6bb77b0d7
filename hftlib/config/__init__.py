"""Runbook configuration: production.json, exchanges/*.json, strategies/*.json.

JSON Schemas (``schemas/``) define the three file shapes; :mod:`~hftlib.config.model` holds
the typed objects and single-file loaders, :mod:`~hftlib.config.validate` the checks across
files, :mod:`~hftlib.config.secrets` the secret references, and
:mod:`~hftlib.config.limits` the mapping of a strategy's limits to the risk kernel (imported
separately: it loads numba).
"""

from __future__ import annotations

from hftlib.config.issues import ConfigError, ConfigIssue
from hftlib.config.model import (
    ExchangeConfig,
    ProductionConfig,
    StrategyConfig,
    config_instrument,
    instrument_symbol,
    load_exchange,
    load_production,
    load_strategy_config,
)
from hftlib.config.schema import load_schema
from hftlib.config.secrets import Dsn, SecretError, SecretRef
from hftlib.config.validate import (
    StrategySetup,
    SystemConfig,
    load_strategy_setup,
    load_system,
    validate_config,
    validate_strategy,
)

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "Dsn",
    "ExchangeConfig",
    "ProductionConfig",
    "SecretError",
    "SecretRef",
    "StrategyConfig",
    "StrategySetup",
    "SystemConfig",
    "config_instrument",
    "instrument_symbol",
    "load_exchange",
    "load_production",
    "load_schema",
    "load_strategy_config",
    "load_strategy_setup",
    "load_system",
    "validate_config",
    "validate_strategy",
]

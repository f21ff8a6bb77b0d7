"""Strategy types a configuration may name, and checks of its ``parameters``.

A type is a module of ``hftlib.strategies`` with a ``PARAMS`` dict; parameters are checked
by the engine's own loader (:meth:`hftlib.engine.strategy.Strategy.check_params`), so a
file that validates here runs under ``hft backtest`` with the same values. The modules are
imported by name at run time (``hftlib`` does not import the strategies layer statically).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from hftlib.engine.strategy import Strategy, StrategyError, load_strategy

STRATEGIES_PACKAGE = "hftlib.strategies"


@functools.cache
def _scan() -> tuple[tuple[str, ...], dict[str, str]]:
    """Return the known type names and, for modules that fail to import, why."""
    package = importlib.import_module(STRATEGIES_PACKAGE)
    names: list[str] = []
    broken: dict[str, str] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{STRATEGIES_PACKAGE}.{info.name}")
        except Exception as exc:  # importing runs the module's code: any error is reported
            broken[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        if isinstance(getattr(module, "PARAMS", None), dict):
            names.append(info.name)
    return tuple(sorted(names)), broken


def known_strategy_types() -> tuple[str, ...]:
    """Return the names of the modules in ``hftlib.strategies`` that define a PARAMS dict.

    A module that fails to import is left out. The answer is kept for the process; a
    long-running process that deploys a new module calls :func:`forget_strategy_types`.
    """
    return _scan()[0]


def forget_strategy_types() -> None:
    """Drop the kept answers, so that new or changed strategy modules are seen."""
    _scan.cache_clear()
    strategy_type.cache_clear()


@functools.cache
def strategy_type(name: str) -> Strategy:
    """Load strategy type ``name`` with the engine's loader.

    Raises
    ------
    StrategyError
        ``name`` is not a known type (the message lists the known ones), its module fails
        to import (the message says why), or it is not a valid strategy.
    """
    known, broken = _scan()
    if name in broken:
        raise StrategyError(f"strategy type {name!r} cannot be imported: {broken[name]}")
    if name not in known:
        raise StrategyError(
            f"unknown strategy type {name!r}; known types: {', '.join(known) or 'none'}"
        )
    return load_strategy(f"{STRATEGIES_PACKAGE}.{name}")


def parameter_problems(strategy: Strategy, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return ``(parameter name, reason)`` for every parameter the strategy rejects.

    Values that are not numbers or booleans are skipped: the schema reports them.
    """
    spec = strategy.params_spec
    problems: list[tuple[str, str]] = []
    for name, value in params.items():
        if name not in spec:
            known = ", ".join(sorted(spec)) or "none"
            problems.append(
                (name, f"unknown parameter of strategy type {strategy.name!r}; known: {known}")
            )
        elif isinstance(value, bool | int | float):
            try:
                strategy.check_params({name: value})
            except StrategyError as exc:
                problems.append((name, str(exc)))
    return problems

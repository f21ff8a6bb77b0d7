"""Load and check a strategy: a module of ``@njit`` callbacks, parameters and a state maker.

A strategy module defines any of the callbacks

=============  =================================  ===========================================
``on_start``   ``(ctx, state)``                   once, at the first event
``on_book``    ``(ctx, state, asset)``            after a book message is complete (``F_LAST``)
``on_trade``   ``(ctx, state, asset)``            after a public trade (``ctx.trade[asset]``)
``on_order``   ``(ctx, state, slot)``             after a report changed ``ctx.orders[slot]``
``on_timer``   ``(ctx, state, timer_id)``         when a timer set with ``set_timer`` fires
``on_end``     ``(ctx, state)``                   after the last event
=============  =================================  ===========================================

each decorated with ``@njit(cache=True)``; at least one of ``on_book``, ``on_trade`` or
``on_timer`` must exist (otherwise the strategy could never act). It may define:

- ``PARAMS``: ``{name: (type, default, help)}`` with type ``int``, ``float`` or ``bool``;
  the engine checks user parameters against it before the loop starts;
- ``make_state(params, instruments)``: return the strategy's state (numpy arrays, a record
  array or a tuple of them) from the checked parameters and the run's instruments. Without
  it the state is an empty float64 array.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hftlib.errors import HftlibError

CALLBACKS: dict[str, int] = {
    "on_start": 2,
    "on_book": 3,
    "on_trade": 3,
    "on_order": 3,
    "on_timer": 3,
    "on_end": 2,
}
"""Callback name -> number of arguments."""

_ACTING = ("on_book", "on_trade", "on_timer")
_TYPES: dict[type, str] = {int: "int", float: "float", bool: "bool"}


class StrategyError(HftlibError):
    """A strategy cannot be loaded or its parameters are wrong."""


@dataclass(frozen=True)
class Strategy:
    """A loaded, checked strategy."""

    name: str
    module: ModuleType | None
    import_line: str
    """Python that binds the callback names (used by :mod:`hftlib.engine.codegen`)."""
    callbacks: tuple[str, ...]
    params_spec: Mapping[str, tuple[type, Any, str]] = field(default_factory=dict)
    source_digest: str = ""

    def check_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return ``params`` completed with defaults; raise StrategyError on any mistake."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.params_spec))
        if unknown:
            valid = ", ".join(sorted(self.params_spec)) or "none"
            raise StrategyError(
                f"strategy {self.name!r} has no parameter(s) {', '.join(unknown)}; valid: {valid}"
            )
        out: dict[str, Any] = {}
        for name, (typ, default, _help) in self.params_spec.items():
            value = params.get(name, default)
            out[name] = _coerce(self.name, name, typ, value)
        return out

    def make_state(self, params: dict[str, Any], instruments: list[Any]) -> Any:
        """Return the strategy's initial state."""
        import numpy as np

        maker = getattr(self.module, "make_state", None) if self.module else None
        if maker is None:
            return np.zeros(1, dtype=np.float64)
        return maker(params, instruments)


def _coerce(strategy: str, name: str, typ: type, value: Any) -> Any:
    where = f"strategy {strategy!r} parameter {name!r}"
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise StrategyError(f"{where} must be true or false, got {value!r}")
    if isinstance(value, bool):
        raise StrategyError(f"{where} must be {_TYPES[typ]}, got a boolean")
    if typ is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise StrategyError(f"{where} must be an integer, got {value!r}")
    if typ is float:
        if isinstance(value, int | float):
            return float(value)
        raise StrategyError(f"{where} must be a number, got {value!r}")
    raise StrategyError(f"{where} declares unsupported type {typ!r}")


def _is_dispatcher(obj: Any) -> bool:
    from numba.core.registry import CPUDispatcher

    return isinstance(obj, CPUDispatcher)


def _module_from_ref(ref: str | ModuleType) -> tuple[ModuleType, str]:
    """Import a strategy by module object, dotted name, short name or file path."""
    if isinstance(ref, ModuleType):
        return ref, f"from {ref.__name__} import {{names}}"
    path = Path(ref)
    if ref.endswith(".py"):
        if not path.is_file():
            raise StrategyError(f"strategy file {ref} does not exist")
        path = path.resolve()
        mod_name = "hftlib_user_strategy_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise StrategyError(f"cannot load strategy file {ref}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        line = (
            "import importlib.util as _ilu, sys as _sys\n"
            f"_spec = _ilu.spec_from_file_location({mod_name!r}, {str(path)!r})\n"
            f"_strategy = _sys.modules.get({mod_name!r})\n"
            "if _strategy is None:\n"
            "    _strategy = _ilu.module_from_spec(_spec)\n"
            f"    _sys.modules[{mod_name!r}] = _strategy\n"
            "    _spec.loader.exec_module(_strategy)\n"
            "{assign}"
        )
        return module, line
    candidates = [ref] if "." in ref else [f"hftlib.strategies.{ref}", ref]
    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        return module, f"from {module.__name__} import {{names}}"
    raise StrategyError(
        f"unknown strategy {ref!r}: not a module in hftlib.strategies, an importable module, "
        "or a .py file"
    )


def load_strategy(ref: str | ModuleType | None) -> Strategy:
    """Load ``ref`` and check its callbacks; ``None`` is the pure replay (no strategy)."""
    if ref is None:
        return Strategy(name="replay", module=None, import_line="", callbacks=())
    module, template = _module_from_ref(ref)
    found: list[str] = []
    for name, n_args in CALLBACKS.items():
        obj = getattr(module, name, None)
        if obj is None:
            continue
        if not _is_dispatcher(obj):
            raise StrategyError(
                f"{module.__name__}.{name} must be a numba @njit(cache=True) function, "
                f"got {type(obj).__name__}"
            )
        got = len(inspect.signature(obj.py_func).parameters)
        if got != n_args:
            raise StrategyError(
                f"{module.__name__}.{name} takes {got} argument(s); the engine calls it "
                f"with {n_args}: see hftlib.engine.strategy"
            )
        found.append(name)
    if not any(n in found for n in _ACTING):
        raise StrategyError(
            f"strategy {module.__name__} defines none of {', '.join(_ACTING)}: it could never act"
        )
    spec = getattr(module, "PARAMS", {})
    _check_params_spec(module.__name__, spec)
    maker = getattr(module, "make_state", None)
    if maker is not None and not isinstance(maker, Callable):  # type: ignore[arg-type]
        raise StrategyError(f"{module.__name__}.make_state must be a function")
    if "{assign}" in template:
        assign = "".join(f"{n} = _strategy.{n}\n" for n in found)
        line = template.replace("{assign}", assign)
    else:
        line = template.format(names=", ".join(found)) + "\n"
    source = inspect.getsourcefile(module)
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else ""
    name = module.__name__.removeprefix("hftlib.strategies.")
    return Strategy(
        name=name,
        module=module,
        import_line=line,
        callbacks=tuple(found),
        params_spec=spec,
        source_digest=digest,
    )


def _check_params_spec(module: str, spec: Any) -> None:
    if not isinstance(spec, Mapping):
        raise StrategyError(f"{module}.PARAMS must be a dict of name -> (type, default, help)")
    for name, entry in spec.items():
        if not (isinstance(entry, tuple) and len(entry) == 3 and entry[0] in _TYPES):
            raise StrategyError(
                f"{module}.PARAMS[{name!r}] must be (int|float|bool, default, help text)"
            )

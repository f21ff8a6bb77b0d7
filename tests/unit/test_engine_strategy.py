"""Loading strategies: callbacks, parameters, clear errors; engine specialisation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hftlib.engine import codegen
from hftlib.engine.strategy import StrategyError, load_strategy

HEADER = "from numba import njit\n"


def write(tmp_path: Path, body: str, name: str = "strat.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


def test_replay_is_no_strategy() -> None:
    s = load_strategy(None)
    assert s.name == "replay"
    assert s.callbacks == ()
    assert s.check_params(None) == {}


def test_builtin_strategy_by_short_name() -> None:
    s = load_strategy("quote_mm")
    assert s.name == "quote_mm"
    assert set(s.callbacks) == {"on_start", "on_timer"}
    params = s.check_params({"interval_ms": 50.0, "qty": 1})
    assert params["interval_ms"] == 50
    assert isinstance(params["qty"], float)
    assert params["offset_ticks"] == 2


def test_unknown_strategy(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'no_such_strategy'"):
        load_strategy("no_such_strategy")
    with pytest.raises(StrategyError, match="does not exist"):
        load_strategy(str(tmp_path / "missing.py"))


def test_a_strategy_that_cannot_act_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        @njit(cache=True)
        def on_start(ctx, state):
            pass
        """,
    )
    with pytest.raises(StrategyError, match="could never act"):
        load_strategy(path)


def test_callbacks_must_be_njit_with_the_right_arity(tmp_path: Path) -> None:
    plain = write(tmp_path, "def on_book(ctx, state, asset):\n    pass\n", "plain.py")
    with pytest.raises(StrategyError, match="must be a numba"):
        load_strategy(plain)
    arity = write(
        tmp_path,
        """
        @njit(cache=True)
        def on_book(ctx, state):
            pass
        """,
        "arity.py",
    )
    with pytest.raises(StrategyError, match="takes 2 argument"):
        load_strategy(arity)


def test_parameter_errors_name_the_parameter() -> None:
    s = load_strategy("quote_mm")
    with pytest.raises(StrategyError, match="no parameter.*bogus.*valid: asset"):
        s.check_params({"bogus": 1})
    with pytest.raises(StrategyError, match="'interval_ms' must be an integer"):
        s.check_params({"interval_ms": "fast"})
    with pytest.raises(StrategyError, match="'interval_ms' must be an integer"):
        s.check_params({"interval_ms": 1.5})
    with pytest.raises(StrategyError, match="'qty' must be a number"):
        s.check_params({"qty": "0.01"})
    with pytest.raises(StrategyError, match="got a boolean"):
        s.check_params({"qty": True})


def test_params_spec_is_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        PARAMS = {"x": (str, "a", "text")}

        @njit(cache=True)
        def on_book(ctx, state, asset):
            pass
        """,
    )
    with pytest.raises(StrategyError, match=r"PARAMS\['x'\]"):
        load_strategy(path)


def test_engine_source_binds_the_strategy_callbacks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        @njit(cache=True)
        def on_trade(ctx, state, asset):
            pass
        """,
    )
    s = load_strategy(path)
    src = codegen.engine_source("hftlib.sim.backtest_loop", s)
    assert "HAS_ON_BOOK = False" in src
    assert "HAS_ON_TRADE = True" in src
    assert "HAS_ON_ORDER = False" in src
    assert "on_trade = _strategy.on_trade" in src
    builtin = codegen.engine_source("hftlib.sim.backtest_loop", load_strategy("quote_mm"))
    assert "from hftlib.strategies.quote_mm import on_start, on_timer" in builtin
    compile(builtin, "engine", "exec")


def test_engine_module_is_generated_once_per_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HFTLIB_CACHE_DIR", str(tmp_path / "cache"))
    body = """
        @njit(cache=True)
        def on_book(ctx, state, asset):
            pass
        """
    path = write(tmp_path, body)
    first = codegen.engine_module("hftlib.sim.backtest_loop", load_strategy(path))
    again = codegen.engine_module("hftlib.sim.backtest_loop", load_strategy(path))
    assert first is again
    Path(path).write_text(HEADER + textwrap.dedent(body) + "\n# edited\n")
    edited = codegen.engine_module("hftlib.sim.backtest_loop", load_strategy(path))
    assert edited.__name__ != first.__name__
    assert len(list((tmp_path / "cache" / "engines").glob("*.py"))) == 2

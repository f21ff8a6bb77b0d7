"""Fuzz the configuration layer: any input gives reported issues, never another exception.

- arbitrary JSON (and arbitrary bytes) as any of the three files;
- the shipped configuration with one value changed, deleted or added anywhere;
- a value replaced by one of a type no field accepts is reported at exactly its path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hftlib.config import (
    ConfigError,
    ConfigIssue,
    load_exchange,
    load_production,
    load_strategy_config,
    load_system,
    validate_config,
    validate_strategy,
)
from hftlib.config.filechecks import inspect_file
from hftlib.config.issues import json_path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config"
FILES = (
    "production.json",
    "exchanges/binance.json",
    "exchanges/binance_usdm.json",
    "strategies/market_maker_btc.json",
    "strategies/arbitrage_eth.json",
    "strategies/grid_btc.json",
)
DUMMY = "dummy-secret-value-9d7c"
ENV = (
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "BINANCE_USDM_API_KEY",
    "BINANCE_USDM_API_SECRET",
    "HFT_API_SECRET",
)
FIELD_NAMES = sorted(
    {
        "exchange_id", "enabled", "venue", "api_key", "api_secret", "endpoints", "rest",
        "websocket", "rate_limits", "orders_per_second", "requests_per_minute", "symbols",
        "strategy_id", "name", "type", "exchanges", "parameters", "risk_limits",
        "max_position_usd", "max_order_size_usd", "paper_trading", "backtest", "strategies",
        "database", "dsn", "api", "keys", "key_id", "secret", "logging", "directory", "level",
        "risk", "failover", "role", "pid_file", "exchanges_dir", "strategies_dir", "qty",
    }
)  # fmt: skip
LOADERS = {
    "production": load_production,
    "exchange": load_exchange,
    "strategy": load_strategy_config,
}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["env:X", "file:", "file:/nonexistent", "BTC-USDT", "quote_mm", "binance"])
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


def check_issues(issues: object) -> None:
    """Issues are a list of one-line ConfigIssues located by a JSON path."""
    assert isinstance(issues, list)
    for issue in issues:
        assert isinstance(issue, ConfigIssue)
        assert issue.json_path.startswith("$")
        assert issue.reason
        assert "\n" not in issue.reason
        assert DUMMY not in issue.reason


@given(kind=st.sampled_from(["production", "exchange", "strategy"]), value=json_values)
@SETTINGS
def test_arbitrary_json_gives_issues_only(kind: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("production.json" if kind == "production" else "x.json")
        path.write_text(json.dumps(value))
        result = inspect_file(kind, path)  # type: ignore[arg-type]
        check_issues(result.issues)
        if result.issues:
            with pytest.raises(ConfigError) as info:
                LOADERS[kind](path)
            assert info.value.issues == result.issues
        else:  # what passes the checks must build the typed object
            LOADERS[kind](path)
        check_issues(validate_config(path) if kind == "production" else validate_strategy(path))


@given(data=st.binary(max_size=200))
@settings(max_examples=60, deadline=None)
def test_arbitrary_bytes_give_issues_only(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "production.json"
        path.write_bytes(data)
        check_issues(validate_config(path))


def _paths(node: Any, parts: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield parts
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*parts, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*parts, i))


def _get(node: Any, parts: tuple[str | int, ...]) -> Any:
    for part in parts:
        node = node[part]
    return node


def _copy_shipped(tmp: Path) -> None:
    for name in FILES:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHIPPED / name, tmp / name)


def _with_env() -> dict[str, str | None]:
    saved = {name: os.environ.get(name) for name in ENV}
    os.environ.update(dict.fromkeys(ENV, DUMMY))
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@given(
    file=st.sampled_from(FILES),
    pick=st.integers(min_value=0, max_value=10_000),
    op=st.sampled_from(["replace", "delete", "add"]),
    value=json_values,
    new_key=keys,
)
@SETTINGS
def test_mutated_shipped_config_gives_issues_only(
    file: str, pick: int, op: str, value: Any, new_key: str
) -> None:
    saved = _with_env()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _copy_shipped(root)
            data = json.loads((root / file).read_text())
            paths = list(_paths(data))
            parts = paths[pick % len(paths)]
            if op == "replace" and parts:
                _get(data, parts[:-1])[parts[-1]] = value
            elif op == "delete" and parts:
                del _get(data, parts[:-1])[parts[-1]]
            elif op == "add" and isinstance(_get(data, parts), dict):
                _get(data, parts)[new_key] = value
            else:
                data = value
            (root / file).write_text(json.dumps(data))
            issues = validate_config(root / "production.json")
            check_issues(issues)
            if issues:
                with pytest.raises(ConfigError) as info:
                    load_system(root / "production.json")
                assert info.value.issues == issues
            else:
                load_system(root / "production.json")
    finally:
        _restore(saved)


def _wrong_values(original: Any) -> st.SearchStrategy[Any]:
    """Values of a JSON type that the field of ``original`` does not accept.

    Every leaf field has one JSON type except strategy parameters, which take numbers or
    booleans: so a number is never swapped for a boolean or the other way round.
    """
    options: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.lists(scalars, max_size=2),
        st.dictionaries(keys, scalars, max_size=2),
    ]
    if not isinstance(original, str):
        options.append(st.text(max_size=5))
    if isinstance(original, str):
        options += [st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)]
    return st.one_of(options)


@given(data=st.data(), file=st.sampled_from(FILES))
@SETTINGS
def test_a_wrong_type_is_reported_at_its_path(data: st.DataObject, file: str) -> None:
    saved = _with_env()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _copy_shipped(root)
            doc = json.loads((root / file).read_text())
            leaves = [p for p in _paths(doc) if p and not isinstance(_get(doc, p), dict | list)]
            parts = data.draw(st.sampled_from(leaves))
            _get(doc, parts[:-1])[parts[-1]] = data.draw(_wrong_values(_get(doc, parts)))
            (root / file).write_text(json.dumps(doc))
            issues = validate_config(root / "production.json")
            where = (str(root / file), json_path(parts))
            assert where in {(i.file, i.json_path) for i in issues}, issues
    finally:
        _restore(saved)

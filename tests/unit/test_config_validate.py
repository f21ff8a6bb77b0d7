"""validate_config / validate_strategy: every cross-file rule, all problems at once."""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hftlib.config import (
    ConfigError,
    ConfigIssue,
    SystemConfig,
    load_exchange,
    load_strategy_setup,
    load_system,
    validate_config,
    validate_strategy,
)
from hftlib.config.strategy_types import forget_strategy_types, known_strategy_types

SECRET = "Pl41n-T3xt-S3cr3t"  # noqa: S105 - a fake secret that must never be printed
ENV = {
    "TCFG_KEY": "k",
    "TCFG_SECRET": "s",
    "TCFG_PERP_KEY": "k2",
    "TCFG_PERP_SECRET": "s2",
    "TCFG_API": "a",
}


def exchange(ex_id: str, venue: str, prefix: str) -> dict[str, Any]:
    return {
        "exchange_id": ex_id,
        "enabled": True,
        "venue": venue,
        "api_key": f"env:{prefix}_KEY",
        "api_secret": f"env:{prefix}_SECRET",
        "endpoints": {"rest": "https://api.example.com", "websocket": "wss://ws.example.com"},
        "rate_limits": {"orders_per_second": 5, "requests_per_minute": 1200},
        "symbols": ["BTC-USDT", "ETH-USDT"],
    }


BASE: dict[str, Any] = {
    "production.json": {
        "exchanges": ["spot", "perp"],
        "strategies": ["mm"],
        "database": {"dsn": "postgresql://u@localhost/db"},
        "api": {"keys": [{"key_id": "ops", "secret": "env:TCFG_API"}]},
        "logging": {"directory": "logs"},
        "risk": {"max_total_position_usd": 10000, "max_daily_loss_usd": 1000},
        "pid_file": "hft.pid",
    },
    "exchanges/spot.json": exchange("spot", "binance", "TCFG"),
    "exchanges/perp.json": exchange("perp", "binance-futures", "TCFG_PERP"),
    "strategies/mm.json": {
        "strategy_id": "mm",
        "name": "MM",
        "type": "quote_mm",
        "enabled": True,
        "exchanges": ["spot"],
        "symbols": ["BTC-USDT"],
        "parameters": {"interval_ms": 100, "qty": 0.01},
        "risk_limits": {"max_position_usd": 1000, "max_order_size_usd": 100},
    },
}

Tree = dict[str, Any]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def build(root: Path, change: Callable[[Tree], None] | None = None) -> Path:
    """Write the base tree (after ``change``) under ``root``; return production.json."""
    tree = copy.deepcopy(BASE)
    if change is not None:
        change(tree)
    for name, data in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return root / "production.json"


def found(issues: list[ConfigIssue], root: Path) -> set[tuple[str, str]]:
    return {(str(Path(i.file).relative_to(root)), i.json_path) for i in issues}


def reasons(issues: list[ConfigIssue], root: Path, file: str, path: str) -> str:
    hits = [i.reason for i in issues if Path(i.file) == root / file and i.json_path == path]
    assert hits, f"no issue at {file}:{path}; got {[str(i) for i in issues]}"
    return " | ".join(hits)


def test_base_tree_is_valid(tmp_path: Path, env: None) -> None:
    assert validate_config(build(tmp_path)) == []
    assert validate_strategy(tmp_path / "strategies" / "mm.json") == []


def _set(file: str, *keys: str | int, value: Any) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        node = tree[file]
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return change


def _delete(file: str, *keys: str) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        node = tree[file]
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return change


ST = "strategies/mm.json"
PR = "production.json"
SP = "exchanges/spot.json"

CASES = [
    (
        "unknown-exchange",
        _set(ST, "exchanges", value=["kraken"]),
        ST,
        "$.exchanges[0]",
        'unknown exchange "kraken"; configured exchanges',
    ),
    (
        "disabled-exchange",
        _set(SP, "enabled", value=False),
        ST,
        "$.exchanges[0]",
        'exchange "spot" is disabled',
    ),
    (
        "symbol-not-listed",
        _set(ST, "symbols", value=["SOL-USDT"]),
        ST,
        "$.symbols[0]",
        'symbol "SOL-USDT" is not listed in the symbols of exchange "spot"',
    ),
    (
        "no-instrument-spec",
        lambda t: (
            _set(SP, "symbols", value=["DOGE-USDT"])(t),
            _set(ST, "symbols", value=["DOGE-USDT"])(t),
        ),
        ST,
        "$.symbols[0]",
        "no instrument spec for DOGE-USDT on venue 'binance'",
    ),
    (
        "no-risk-limits",
        _delete(ST, "risk_limits"),
        ST,
        "$.risk_limits",
        "required field is missing",
    ),
    (
        "no-position-limit",
        _delete(ST, "risk_limits", "max_position_usd"),
        ST,
        "$.risk_limits.max_position_usd",
        "required field is missing",
    ),
    (
        "unknown-parameter",
        _set(ST, "parameters", "intervl_ms", value=5),
        ST,
        "$.parameters.intervl_ms",
        "unknown parameter of strategy type 'quote_mm'; known: asset, interval_ms, "
        "max_position, offset_ticks, qty",
    ),
    (
        "parameter-not-integer",
        _set(ST, "parameters", "interval_ms", value=2.5),
        ST,
        "$.parameters.interval_ms",
        "must be an integer, got 2.5",
    ),
    (
        "parameter-boolean",
        _set(ST, "parameters", "qty", value=True),
        ST,
        "$.parameters.qty",
        "must be float, got a boolean",
    ),
    (
        "parameter-string",
        _set(ST, "parameters", "qty", value="0.01"),
        ST,
        "$.parameters.qty",
        'must be a number or true or false, got "0.01"',
    ),
    (
        "unknown-type",
        _set(ST, "type", value="market_makr"),
        ST,
        "$.type",
        "unknown strategy type 'market_makr'; known types: ",
    ),
    (
        "env-unset",
        _set(SP, "api_key", value="env:TCFG_NOT_SET_ANYWHERE"),
        SP,
        "$.api_key",
        "secret env:TCFG_NOT_SET_ANYWHERE cannot be read: "
        "environment variable TCFG_NOT_SET_ANYWHERE is not set",
    ),
    (
        "file-missing",
        _set(SP, "api_secret", value="file:keys/spot.secret"),
        SP,
        "$.api_secret",
        "cannot be read: file ",
    ),
    (
        "api-secret-unset",
        _set(PR, "api", "keys", 0, "secret", value="env:TCFG_NO_API"),
        PR,
        "$.api.keys[0].secret",
        "TCFG_NO_API is not set",
    ),
    (
        "dsn-unset",
        _set(PR, "database", "dsn", value="env:TCFG_NO_DSN"),
        PR,
        "$.database.dsn",
        "TCFG_NO_DSN is not set",
    ),
    (
        "duplicate-strategy-id",
        lambda t: (
            _set(PR, "strategies", value=["mm", "mm2"])(t),
            t.__setitem__("strategies/mm2.json", t[ST]),
        ),
        "strategies/mm2.json",
        "$.strategy_id",
        'duplicate strategy_id "mm" (also ',
    ),
    (
        "strategy-id-not-entry",
        _set(ST, "strategy_id", value="other"),
        ST,
        "$.strategy_id",
        'differs from the id "mm"',
    ),
    (
        "duplicate-exchange-id",
        _set(PR, "exchanges", value=["spot", "perp", "spot"]),
        PR,
        "$.exchanges[2]",
        'duplicate exchange id "spot"',
    ),
    (
        "exchange-id-not-file-name",
        _set(SP, "exchange_id", value="binance"),
        SP,
        "$.exchange_id",
        'exchange_id "binance" differs from the file name "spot"',
    ),
    (
        "exchange-file-missing",
        _set(PR, "exchanges", value=["spot", "perp", "kraken"]),
        PR,
        "$.exchanges[2]",
        "exchange file ",
    ),
    (
        "strategy-file-missing",
        _set(PR, "strategies", value=["mm", "gone"]),
        PR,
        "$.strategies[1]",
        "strategy file ",
    ),
    (
        "position-above-global",
        _set(ST, "risk_limits", "max_position_usd", value=50000),
        ST,
        "$.risk_limits.max_position_usd",
        "must be <= the system-wide max_total_position_usd (10000)",
    ),
    (
        "malformed-strategy",
        lambda t: t.__setitem__(ST, '{"strategy_id": "mm",\n  "name" "x"}'),
        ST,
        "$",
        "malformed JSON at line 2, column 10",
    ),
    ("malformed-exchange", lambda t: t.__setitem__(SP, "{"), PR, "$", None),
]


@pytest.mark.parametrize(
    ("change", "file", "path", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_reports_its_location(
    tmp_path: Path,
    env: None,
    change: Callable[[Tree], None],
    file: str,
    path: str,
    reason: str | None,
) -> None:
    issues = validate_config(build(tmp_path, change))
    assert issues, "expected a problem"
    if reason is None:  # a malformed exchange file: reported in that file, nothing else breaks
        assert found(issues, tmp_path) == {(SP, "$")}
        assert "malformed JSON at line 1, column 2" in issues[0].reason
        return
    assert reason in reasons(issues, tmp_path, file, path)
    for issue in issues:
        assert str(issue) == f"{issue.file}:{issue.json_path}: {issue.reason}"
        assert "\n" not in issue.reason


def test_missing_files_name_the_expected_path(tmp_path: Path, env: None) -> None:
    issues = validate_config(
        build(tmp_path, _set(PR, "exchanges", value=["spot", "perp", "kraken"]))
    )
    assert issues == [
        ConfigIssue(
            str(tmp_path / "production.json"),
            "$.exchanges[2]",
            f"exchange file {tmp_path / 'exchanges' / 'kraken.json'} not found",
        )
    ]


def test_a_disabled_strategy_may_use_a_disabled_exchange(tmp_path: Path, env: None) -> None:
    def change(tree: Tree) -> None:
        tree[SP]["enabled"] = False
        tree[ST]["enabled"] = False

    assert validate_config(build(tmp_path, change)) == []


def test_secrets_of_a_disabled_exchange_are_not_checked(
    tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TCFG_PERP_KEY")
    production = build(tmp_path, _set("exchanges/perp.json", "enabled", value=False))
    assert validate_config(production) == []


def test_a_readable_secret_file_passes(tmp_path: Path, env: None) -> None:
    production = build(tmp_path, _set(SP, "api_secret", value="file:../keys/spot.secret"))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "spot.secret").write_text("abc\n")
    assert validate_config(production) == []


def test_strategies_by_path_and_custom_folders(tmp_path: Path, env: None) -> None:
    def change(tree: Tree) -> None:
        tree[PR]["strategies"] = ["more/other.json"]
        tree[PR]["exchanges_dir"] = "venues"
        tree["more/other.json"] = {**tree.pop(ST), "strategy_id": "free_name"}
        tree["venues/spot.json"] = tree.pop(SP)
        tree["venues/perp.json"] = tree.pop("exchanges/perp.json")

    production = build(tmp_path, change)
    assert validate_config(production) == []
    system = load_system(production)
    assert list(system.strategies) == ["free_name"]
    assert system.strategy_files["free_name"] == tmp_path / "more" / "other.json"


def test_every_problem_is_reported_at_once(
    tmp_path: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TCFG_API")

    def change(tree: Tree) -> None:
        tree[PR]["database"]["dsn"] = f"postgresql://u:{SECRET}@h/db"
        tree[PR]["api"]["port"] = 99999
        tree[SP]["api_secret"] = SECRET
        tree[SP]["endpoints"]["websocket"] = "https://ws.example.com"
        tree[ST]["symbols"] = ["SOL-USDT"]
        tree[ST]["parameters"] = {"qty": "x", "bogus": 1}
        del tree[ST]["risk_limits"]["max_order_size_usd"]
        tree["exchanges/perp.json"]["exchange_id"] = "usdm"

    issues = validate_config(build(tmp_path, change))
    assert found(issues, tmp_path) == {
        (PR, "$.database.dsn"),
        (PR, "$.api.port"),
        (PR, "$.api.keys[0].secret"),
        (SP, "$.api_secret"),
        (SP, "$.endpoints.websocket"),
        ("exchanges/perp.json", "$.exchange_id"),
        (ST, "$.symbols[0]"),
        (ST, "$.parameters.qty"),
        (ST, "$.parameters.bogus"),
        (ST, "$.risk_limits.max_order_size_usd"),
    }
    assert len(issues) == 10
    assert SECRET not in "\n".join(map(str, issues))
    with pytest.raises(ConfigError) as info:
        load_system(tmp_path / "production.json")
    assert info.value.issues == issues


def test_load_system_returns_typed_files(tmp_path: Path, env: None) -> None:
    system = load_system(build(tmp_path))
    assert isinstance(system, SystemConfig)
    assert list(system.exchanges) == ["spot", "perp"]
    assert system.exchanges["perp"].instrument("BTC-USDT").key == "binance-futures:BTCUSDT"
    assert system.strategies["mm"].risk_limits.max_position_usd == 1000
    assert system.exchanges["spot"].api_key.resolve() == "k"
    assert system.resolve(system.production.pid_file) == tmp_path / "hft.pid"
    assert system.resolve("/var/run/x.pid") == Path("/var/run/x.pid")


def test_production_file_missing(tmp_path: Path) -> None:
    assert validate_config(tmp_path / "nope.json") == [
        ConfigIssue(str(tmp_path / "nope.json"), "$", "file not found")
    ]


# --- validate_strategy ---------------------------------------------------------------------


def test_validate_strategy_uses_the_production_beside_it(tmp_path: Path) -> None:
    # no secrets are needed to validate a strategy
    build(tmp_path, _set(ST, "exchanges", value=["spot", "perp"]))
    assert validate_strategy(tmp_path / ST) == []
    assert validate_strategy(tmp_path / ST, production=tmp_path / PR) == []


def test_validate_strategy_reports_cross_checks(tmp_path: Path) -> None:
    def change(tree: Tree) -> None:
        tree[ST]["exchanges"] = ["spot", "kraken"]
        tree[ST]["symbols"] = ["XRP-USDT"]
        tree[ST]["parameters"] = {"offset": 1}

    build(tmp_path, change)
    issues = validate_strategy(tmp_path / ST)
    assert found(issues, tmp_path) == {
        (ST, "$.exchanges[1]"),
        (ST, "$.symbols[0]"),
        (ST, "$.parameters.offset"),
    }
    assert "(" + str(tmp_path / PR) + "): spot, perp" in reasons(
        issues, tmp_path, ST, "$.exchanges[1]"
    )


def test_validate_strategy_reports_only_the_exchange_files_it_uses(tmp_path: Path) -> None:
    def change(tree: Tree) -> None:
        tree["exchanges/perp.json"]["venue"] = 5  # broken, but the strategy does not use it
        tree[SP]["symbols"] = "BTC-USDT"

    build(tmp_path, change)
    issues = validate_strategy(tmp_path / ST)
    assert found(issues, tmp_path) == {(SP, "$.symbols"), (ST, "$.symbols[0]")}


def test_validate_strategy_with_a_missing_exchange_file(tmp_path: Path) -> None:
    build(tmp_path)
    (tmp_path / SP).unlink()
    issues = validate_strategy(tmp_path / ST)
    assert "its file" in reasons(issues, tmp_path, ST, "$.exchanges[0]")


def test_validate_strategy_with_an_unreadable_exchange_file(tmp_path: Path) -> None:
    build(tmp_path, lambda t: t.__setitem__(SP, "[1,"))
    issues = validate_strategy(tmp_path / ST)
    assert found(issues, tmp_path) == {(SP, "$"), (ST, "$.exchanges[0]")}
    assert "cannot be used" in reasons(issues, tmp_path, ST, "$.exchanges[0]")


def test_validate_strategy_without_production_reads_the_exchange_folder(tmp_path: Path) -> None:
    build(tmp_path)
    (tmp_path / PR).unlink()
    assert validate_strategy(tmp_path / ST) == []
    (tmp_path / SP).unlink()
    issues = validate_strategy(tmp_path / ST)
    assert "configured exchanges" in reasons(issues, tmp_path, ST, "$.exchanges[0]")


def test_validate_strategy_with_nothing_to_check_against(tmp_path: Path) -> None:
    path = tmp_path / "lonely.json"
    path.write_text(json.dumps(BASE[ST]))
    issues = validate_strategy(path)
    assert len(issues) == 1
    assert "give the production file with --config" in issues[0].reason


def test_validate_strategy_with_typed_exchanges(tmp_path: Path) -> None:
    build(tmp_path)
    spot = load_exchange(tmp_path / SP)
    assert validate_strategy(tmp_path / ST, {"spot": spot}) == []
    issues = validate_strategy(
        tmp_path / ST, {"perp": load_exchange(tmp_path / "exchanges/perp.json")}
    )
    assert (
        'unknown exchange "spot"; configured exchanges (the exchanges given): perp'
        in issues[0].reason
    )


def test_validate_strategy_with_an_unreadable_production(tmp_path: Path) -> None:
    build(tmp_path, lambda t: t.__setitem__(PR, "{oops"))
    issues = validate_strategy(tmp_path / ST)
    assert found(issues, tmp_path) == {(PR, "$")}


def test_known_types_are_the_modules_with_params() -> None:
    known = known_strategy_types()
    assert "quote_mm" in known
    assert all(not name.startswith("_") for name in known)


def test_a_strategy_module_that_fails_to_import_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = importlib.import_module("hftlib.strategies")
    extra = tmp_path / "more_strategies"
    extra.mkdir()
    (extra / "tcfg_broken.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(extra)])
    forget_strategy_types()
    try:
        build(tmp_path / "cfg", _set(ST, "type", value="tcfg_broken"))
        issues = validate_strategy(tmp_path / "cfg" / ST)
        assert [(i.json_path, i.reason) for i in issues] == [
            (
                "$.type",
                "strategy type 'tcfg_broken' cannot be imported: RuntimeError: boom at import",
            )
        ]
        assert "tcfg_broken" not in known_strategy_types()
    finally:
        monkeypatch.undo()
        forget_strategy_types()


def test_load_strategy_setup(tmp_path: Path) -> None:
    build(tmp_path, _set(ST, "exchanges", value=["spot", "perp"]))
    setup = load_strategy_setup(tmp_path / ST)
    assert setup.config.strategy_id == "mm"
    assert setup.assets == (("spot", "BTC-USDT"), ("perp", "BTC-USDT"))
    assert [i.key for i in setup.instruments] == ["binance:BTCUSDT", "binance-futures:BTCUSDT"]
    assert set(setup.exchanges) == {"spot", "perp"}
    given = {
        "spot": load_exchange(tmp_path / SP),
        "perp": load_exchange(tmp_path / "exchanges/perp.json"),
    }
    assert load_strategy_setup(tmp_path / ST, given).exchanges["spot"] is given["spot"]
    (tmp_path / "exchanges/perp.json").unlink()
    with pytest.raises(ConfigError) as info:
        load_strategy_setup(tmp_path / ST)
    assert info.value.issues == validate_strategy(tmp_path / ST)
    assert len(info.value.issues) == 1

"""hft validate-config / validate-strategy (R1): output lines, summary, exit codes, no secrets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hftlib.cli.config import validate_config, validate_strategy

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config"
SHIPPED_ENV = (
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "BINANCE_USDM_API_KEY",
    "BINANCE_USDM_API_SECRET",
    "HFT_API_SECRET",
)
DUMMY = "dummy-value-0123456789"
SECRET = "N0t-For-Your-Eyes-42"  # noqa: S105 - a fake secret that must never be printed


def run(command: Any, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(command, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_shipped_configuration_passes_with_its_secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # The one test that needs the shipped strategy modules (market_maker, arbitrage, grid).
    for name in SHIPPED_ENV:
        monkeypatch.setenv(name, DUMMY)
    code, out = run(validate_config, ["--config", str(SHIPPED / "production.json")])
    assert (code, out) == (0, "Configuration validation: PASSED\n")
    for f in sorted((SHIPPED / "strategies").glob("*.json")):
        assert run(validate_strategy, [str(f)]) == (0, "Strategy validation: PASSED\n"), f
    assert DUMMY not in out


def test_shipped_configuration_fails_until_the_secrets_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SHIPPED_ENV:
        monkeypatch.delenv(name, raising=False)
    # a copy with the strategies left out: this test must not need the strategy modules
    shutil.copytree(SHIPPED / "exchanges", tmp_path / "exchanges")
    production = json.loads((SHIPPED / "production.json").read_text())
    production["strategies"] = []
    (tmp_path / "production.json").write_text(json.dumps(production))
    code, out = run(validate_config, ["--config", str(tmp_path / "production.json")])
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "Configuration validation: FAILED (5 errors)"
    for name in SHIPPED_ENV:
        assert sum(f"environment variable {name} is not set" in line for line in lines) == 1


def write_tree(root: Path) -> Path:
    exchange = {
        "exchange_id": "spot",
        "enabled": True,
        "venue": "binance",
        "api_key": "env:TCFG_CLI_KEY",
        "api_secret": SECRET,
        "endpoints": {"rest": "https://api.binance.com", "websocket": "wss://stream.binance.com"},
        "rate_limits": {"orders_per_second": 5, "requests_per_minute": 0},
        "symbols": ["BTC-USDT"],
    }
    strategy = {
        "strategy_id": "mm",
        "name": "MM",
        "type": "quote_mm",
        "enabled": True,
        "exchanges": ["spot", "kraken"],
        "symbols": ["ETH-USDT"],
        "parameters": {"interval_ms": "fast", "offset": 2},
        "risk_limits": {"max_order_size_usd": 100},
    }
    production = {
        "exchanges": ["spot"],
        "strategies": ["mm", "missing"],
        "database": {"dsn": f"postgresql://hft:{SECRET}@localhost/hft"},
        "api": {"keys": [{"key_id": "ops", "secret": "env:TCFG_CLI_API"}]},
        "logging": {"directory": "logs", "level": "LOUD"},
        "risk": {"max_total_position_usd": 1000, "max_daily_loss_usd": 100},
        "pid_file": "hft.pid",
    }
    for name, data in (
        ("production.json", production),
        ("exchanges/spot.json", exchange),
        ("strategies/mm.json", strategy),
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(data, indent=2))
    return root / "production.json"


def test_broken_configuration_lists_every_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TCFG_CLI_KEY", raising=False)
    monkeypatch.setenv("TCFG_CLI_API", SECRET)
    production = write_tree(tmp_path)
    code, out = run(validate_config, ["--config", str(production)])
    assert code == 1
    p, e, s = (
        str(tmp_path / n) for n in ("production.json", "exchanges/spot.json", "strategies/mm.json")
    )
    assert out.splitlines() == [
        f'{p}:$.logging.level: must be one of "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", '
        'got "LOUD"',
        f"{p}:$.database.dsn: plain-text secret: use env:NAME or file:PATH (the DSN has a "
        "password; reference the whole DSN)",
        f"{p}:$.strategies[1]: strategy file {tmp_path / 'strategies' / 'missing.json'} not found",
        f"{e}:$.api_secret: plain-text secret: use env:NAME or file:PATH",
        f"{e}:$.rate_limits.requests_per_minute: must be >= 1, got 0",
        f"{e}:$.api_key: secret env:TCFG_CLI_KEY cannot be read: environment variable "
        "TCFG_CLI_KEY is not set",
        f'{s}:$.parameters.interval_ms: must be a number or true or false, got "fast"',
        f"{s}:$.risk_limits.max_position_usd: required field is missing",
        f"{s}:$.parameters.offset: unknown parameter of strategy type 'quote_mm'; known: asset, "
        "interval_ms, max_position, offset_ticks, qty",
        f'{s}:$.exchanges[1]: unknown exchange "kraken"; configured exchanges ({p}): spot',
        f'{s}:$.symbols[0]: symbol "ETH-USDT" is not listed in the symbols of exchange "spot" '
        f"({e})",
        "Configuration validation: FAILED (11 errors)",
    ]
    assert SECRET not in out


def test_missing_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "production.json"
    code, out = run(validate_config, ["--config", str(path)])
    assert (code, out) == (
        1,
        f"{path}:$: file not found\nConfiguration validation: FAILED (1 error)\n",
    )


def test_config_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "production.json"
    code, out = run(validate_config, [], env={"HFT_CONFIG": str(path)})
    assert code == 1
    assert out.startswith(f"{path}:$: file not found")


def test_validate_strategy_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    production = write_tree(tmp_path)
    strategy = tmp_path / "strategies" / "mm.json"
    code, out = run(validate_strategy, [str(strategy), "--config", str(production)])
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "Strategy validation: FAILED (7 errors)"
    # the exchange file it uses is checked too (5 + 2 errors); whether its secrets can be
    # read is not
    assert sum(line.startswith(str(tmp_path / "exchanges")) for line in lines) == 2
    assert not any("TCFG_CLI_KEY" in line for line in lines)
    assert SECRET not in out
    good = json.loads(strategy.read_text())
    good.update(exchanges=["spot"], symbols=["BTC-USDT"], parameters={"interval_ms": 50})
    good["risk_limits"]["max_position_usd"] = 500
    strategy.write_text(json.dumps(good))
    code, out = run(validate_strategy, [str(strategy)])  # production.json found beside it
    assert (code, out) == (1, out)
    assert out.splitlines()[-1] == "Strategy validation: FAILED (2 errors)"  # the exchange's
    exchange = tmp_path / "exchanges" / "spot.json"
    fixed = json.loads(exchange.read_text())
    fixed["rate_limits"]["requests_per_minute"] = 1200
    fixed["api_secret"] = "env:TCFG_CLI_SECRET"  # noqa: S105 - a reference, not a secret
    exchange.write_text(json.dumps(fixed))
    assert run(validate_strategy, [str(strategy)]) == (0, "Strategy validation: PASSED\n")

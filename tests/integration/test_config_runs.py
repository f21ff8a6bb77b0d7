"""Strategy config files run as backtests: assets resolved to data files, USD limits applied."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hftlib.cli import main
from hftlib.config.issues import ConfigError
from hftlib.config.runs import is_strategy_file, strategy_run

CONFIG = Path(__file__).resolve().parents[2] / "config"
MM_FILE = CONFIG / "strategies" / "market_maker_btc.json"
ARB_FILE = CONFIG / "strategies" / "arbitrage_eth.json"
START, END = "2024-08-08T23:55:00Z", "2024-08-08T23:57:00Z"


@pytest.fixture(scope="module")
def folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with USD-M BTCUSDT and spot ETHUSDT, converted by ``hft data convert``."""
    out = tmp_path_factory.mktemp("config_runs")
    raw = shared_data / "binance-l2-hftbacktest"
    for rel, venue, symbol, name in (
        ("usdm/btcusdt_20240808.gz", "binance-futures", "BTCUSDT", "btc_perp.npy"),
        ("spot/ethusdt_20240808.gz", "binance", "ETHUSDT", "eth_spot.npy"),
    ):
        args = ["data", "convert", "binance", str(raw / rel), "-o", str(out / name)]
        args += ["--venue", venue, "--symbol", symbol, "--no-progress"]
        done = CliRunner().invoke(main, args, catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return out


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.setenv(name, "unused-in-a-backtest")
    for name in ("BINANCE_USDM_API_KEY", "BINANCE_USDM_API_SECRET", "HFT_API_SECRET"):
        monkeypatch.setenv(name, "unused-in-a-backtest")


def test_is_strategy_file() -> None:
    assert is_strategy_file("config/strategies/x.json")
    assert is_strategy_file(Path("X.JSON"))
    assert not is_strategy_file("quote_mm")
    assert not is_strategy_file("my_strategy.py")


def test_a_folder_resolves_to_the_files_the_strategy_trades(folder: Path) -> None:
    planned = strategy_run(MM_FILE, [folder])
    assert planned.strategy == "market_maker"
    assert planned.files == [folder / "btc_perp.npy"]  # the ETH file in the folder is not used
    assert planned.params["order_qty"] == 0.005
    (limits,) = planned.risk()
    assert limits.max_position_notional == 5000.0
    assert limits.max_order_notional == 1000.0
    assert limits.max_position == math.inf  # the USD limit is a notional one, not coins
    kwargs = planned.backtest_kwargs()
    assert kwargs["strategy"] == "market_maker"
    assert kwargs["data"] == [str(folder / "btc_perp.npy")]


def test_every_missing_asset_and_untraded_file_is_reported(folder: Path) -> None:
    with pytest.raises(ConfigError) as err:
        strategy_run(ARB_FILE, [folder / "btc_perp.npy", folder / "eth_spot.npy"])
    text = str(err.value)
    assert "btc_perp.npy:$: holds binance-futures:BTCUSDT, which strategy arbitrage_eth" in text
    assert "no data for ETH-USDT on binance_usdm (binance-futures:ETHUSDT)" in text
    assert "no data for ETH-USDT on binance " not in text  # the spot file was found
    with pytest.raises(ConfigError, match="no data given"):
        strategy_run(MM_FILE, [])


def test_a_file_that_is_not_event_data_is_reported(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match="cannot read event file metadata"):
        strategy_run(MM_FILE, [folder / "btc_perp.npy", bad])


def test_hft_backtest_takes_a_strategy_file(folder: Path, tmp_path: Path, secrets: None) -> None:
    args = ["backtest", "-s", str(MM_FILE), "-d", str(folder), "--start", START, "--end", END]
    args += ["--latency", "2ms", "-p", "requote_ms=200", "--no-progress"]
    done = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output.strip().splitlines()[-1])
    assert list(out["position"]) == ["binance-futures:BTCUSDT"]
    assert out["orders"] > 0
    text = CliRunner().invoke(main, args, catch_exceptions=False).output
    assert "Backtest market_maker" in text
    assert '"requote_ms": 200' in text  # -p overrides the file
    assert '"order_qty": 0.005' in text  # the rest comes from the file


def test_hft_backtest_reports_a_broken_strategy_file(folder: Path, tmp_path: Path) -> None:
    tree = tmp_path / "config"
    shutil.copytree(CONFIG, tree)
    broken = tree / "strategies" / "market_maker_btc.json"
    data = json.loads(broken.read_text())
    data["parameters"]["gama"] = 1.0
    del data["risk_limits"]["max_position_usd"]
    broken.write_text(json.dumps(data))
    done = CliRunner().invoke(main, ["backtest", "-s", str(broken), "-d", str(folder)])
    assert done.exit_code == 1
    assert "$.parameters.gama: unknown parameter of strategy type 'market_maker'" in done.output
    assert "$.risk_limits.max_position_usd: required field is missing" in done.output

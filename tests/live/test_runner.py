"""The runner and the ``hft paper`` / ``hft live`` commands on a recorded venue.

A temporary configuration (production.json, one exchange, one market maker) runs over the
synthetic recording, replayed as the exchange's market with ``--replay`` (the exchange
schema has no field for recorded data yet). Paper mode must give the fills ``hft backtest``
gives for the same strategy file; live mode against the recorded venue must end with every
order cancelled; lost acknowledgements must be settled, never taken as rejections.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hftlib.live.runner import RunOptions, run

import hftlib
from hftlib.cli.live import live
from hftlib.cli.paper import paper
from hftlib.config.issues import ConfigError
from hftlib.config.runs import strategy_run
from hftlib.engine.types import ST_OPEN, ST_REJECTED

from .conftest import MM


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A production.json with exchange ``syn`` (venue synthetic) and strategy ``mm_syn``."""
    monkeypatch.setenv("HFT_TEST_KEY", "not-a-real-key")
    monkeypatch.setenv("HFT_TEST_SECRET", "not-a-real-secret")
    (tmp_path / "exchanges").mkdir()
    (tmp_path / "strategies").mkdir()
    production = {
        "exchanges": ["syn"],
        "strategies": ["mm_syn"],
        "database": {"dsn": "postgresql://hft@localhost:5432/hft"},
        "api": {"host": "127.0.0.1", "port": 8080, "keys": []},
        "logging": {"directory": str(tmp_path / "logs"), "level": "WARNING"},
        "risk": {"max_total_position_usd": 1e9, "max_daily_loss_usd": 1e6},
        "pid_file": str(tmp_path / "hft.pid"),
    }
    exchange = {
        "exchange_id": "syn",
        "enabled": True,
        "venue": "synthetic",
        "api_key": "env:HFT_TEST_KEY",
        "api_secret": "env:HFT_TEST_SECRET",
        "endpoints": {"rest": "http://127.0.0.1:9", "websocket": "ws://127.0.0.1:9"},
        "rate_limits": {"orders_per_second": 50, "requests_per_minute": 1200},
        "symbols": ["SYNUSD"],
    }
    strategy = {
        "strategy_id": "mm_syn",
        "name": "synthetic market maker",
        "type": "market_maker",
        "enabled": True,
        "exchanges": ["syn"],
        "symbols": ["SYNUSD"],
        "parameters": MM,
        "risk_limits": {"max_position_usd": 100_000, "max_order_size_usd": 10_000},
        "backtest": {"latency": "1ms", "seed": 7},
    }
    (tmp_path / "production.json").write_text(json.dumps(production))
    (tmp_path / "exchanges" / "syn.json").write_text(json.dumps(exchange))
    (tmp_path / "strategies" / "mm_syn.json").write_text(json.dumps(strategy))
    return tmp_path / "production.json"


def test_paper_run_from_config_equals_the_backtest_of_its_strategy_file(
    config: Path, syn_file: Path
) -> None:
    result = run(config, RunOptions(mode="paper", replay={"syn": [syn_file]}))
    assert result.clock == "event"
    planned = strategy_run(config.parent / "strategies" / "mm_syn.json", [syn_file])
    bt = hftlib.backtest(**planned.backtest_kwargs(), latency="1ms", seed=7)
    fills = result.fills("mm_syn")
    assert len(fills) >= 10
    np.testing.assert_array_equal(fills, bt.fills)


def test_hft_paper_cli_prints_a_summary(config: Path, syn_file: Path) -> None:
    args = ["--config", str(config), "--replay", f"syn={syn_file}", "--json"]
    done = CliRunner().invoke(paper, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["mode"] == "paper"
    (mm,) = summary["strategies"]
    assert mm["strategy_id"] == "mm_syn"
    assert mm["fills"] >= 10
    short = CliRunner().invoke(paper, [*args, "--duration", "3"], catch_exceptions=False)
    assert short.exit_code == 0, short.output
    assert json.loads(short.stdout)["messages"] < summary["messages"]


def test_hft_live_on_a_recorded_venue_cancels_everything_at_the_end(
    config: Path, syn_file: Path
) -> None:
    args = ["--config", str(config), "--replay", f"syn={syn_file}", "--json", "--duration", "6"]
    done = CliRunner().invoke(live, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    (mm,) = json.loads(done.stdout)["strategies"]
    assert mm["fills"] > 0
    assert mm["open_orders"] == 0  # cancelled and confirmed before the run ended
    assert mm["counters"].get("risk_kill_switch", 0) >= 0


def test_lost_acknowledgements_are_settled_never_rejected(config: Path, syn_file: Path) -> None:
    lost = [1, 2, 5, 9]
    options = RunOptions(
        mode="live",
        replay={"syn": [syn_file]},
        venue_options={"syn": {"unknown_outcomes": lost}},
        settle_after_s=0.05,
    )
    host = run(config, options).host("mm_syn")
    # submits whose first report was an ack lose it; a GTX rejection or a fill is not lost
    assert 2 <= host.unknown_outcomes <= len(lost)
    assert not host.unsettled  # every one was settled by a query or a later report
    olog = host.orders_log()
    for order_id in (1, 2):  # the first quotes rest: their acks were lost
        states = olog[olog["order_id"] == order_id]["status"]
        assert ST_REJECTED not in states  # unknown is never taken as a rejection
        assert ST_OPEN in states  # the query found them resting


def test_bad_strategy_and_replay_names_are_clean_errors(config: Path, syn_file: Path) -> None:
    with pytest.raises(ConfigError, match="unknown strategy"):
        run(config, RunOptions(mode="paper", strategies=["nope"], replay={"syn": [syn_file]}))
    with pytest.raises(ConfigError, match="unknown exchange"):
        run(config, RunOptions(mode="paper", replay={"other": [syn_file]}))
    done = CliRunner().invoke(paper, ["--config", str(config), "--replay", "syn"])
    assert done.exit_code != 0
    assert "EXCHANGE_ID=PATH" in done.output
    done = CliRunner().invoke(paper, ["--config", str(config)])  # no connector registered
    assert done.exit_code == 1
    assert "no venue factory" in done.output

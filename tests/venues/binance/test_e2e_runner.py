"""``hft paper`` and ``hft live`` end to end against the local Binance venue.

The runner is configured exactly as an operator would (production.json, an exchange file
whose endpoints point at the local venue, a strategy file) and runs the market maker on the
venue's streams over real sockets. Paper mode opens market data only (no keys) and fills
on the live book; live mode signs real orders, gets them acknowledged and filled by the
venue's matching engine, and cancels every open order at the end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hftlib.live.runner import RunOptions, RunResult, run_async

from hftlib.engine.types import ST_OPEN

from .client_support import KEY, SECRET, fast_config, local_venue, script

MM = {
    "order_qty": 0.01,
    "max_position": 0.05,
    "warmup_s": 0.5,
    "gamma": 0.05,
    "requote_ms": 100,
    "vol_window_s": 2.0,
    "intensity_window_s": 2.0,
}


def write_config(tmp_path: Path, rest_url: str, ws_url: str) -> Path:
    """Write production.json, exchanges/binance_usdm.json and one market maker."""
    for folder in ("exchanges", "strategies"):
        (tmp_path / folder).mkdir(exist_ok=True)
    production = {
        "exchanges": ["binance_usdm"],
        "strategies": ["mm_btc"],
        "database": {"dsn": "postgresql://hft@localhost:5432/hft"},
        "api": {"host": "127.0.0.1", "port": 8080, "keys": []},
        "logging": {"directory": str(tmp_path / "logs"), "level": "WARNING"},
        "risk": {"max_total_position_usd": 1e9, "max_daily_loss_usd": 1e6},
        "pid_file": str(tmp_path / "hft.pid"),
    }
    exchange = {
        "exchange_id": "binance_usdm",
        "enabled": True,
        "venue": "binance-futures",
        "api_key": "env:HFT_E2E_KEY",
        "api_secret": "env:HFT_E2E_SECRET",
        "endpoints": {"rest": rest_url, "websocket": ws_url},
        "rate_limits": {"orders_per_second": 50, "requests_per_minute": 2400},
        "symbols": ["BTC-USDT"],
    }
    strategy = {
        "strategy_id": "mm_btc",
        "name": "e2e market maker",
        "type": "market_maker",
        "enabled": True,
        "exchanges": ["binance_usdm"],
        "symbols": ["BTC-USDT"],
        "parameters": MM,
        "risk_limits": {"max_position_usd": 100_000, "max_order_size_usd": 10_000},
    }
    (tmp_path / "production.json").write_text(json.dumps(production))
    (tmp_path / "exchanges" / "binance_usdm.json").write_text(json.dumps(exchange))
    (tmp_path / "strategies" / "mm_btc.json").write_text(json.dumps(strategy))
    return tmp_path / "production.json"


async def run_against_local_venue(
    tmp_path: Path, mode: str
) -> tuple[RunResult, dict[str, Any], list[Any]]:
    """Replay 40 s of scripted market at 2x while the runner trades it for 4 s."""
    async with local_venue(tmp_path, "usdm", script("usdm", 400), fast_config()) as server:
        config = write_config(tmp_path, server.rest_url, server.ws_url)
        # compile the strategy's steps first (a cold compile takes a minute): a paper
        # rehearsal of the same file on the recorded venue, in event time
        warm = RunOptions(mode="paper", replay={"binance_usdm": [tmp_path / "usdm.npy"]})
        await run_against(config, warm)
        server.run(speed=2)
        options = RunOptions(
            mode=mode,  # type: ignore[arg-type]
            duration_s=4.0,
            venue_options={"binance_usdm": {"backoff_base_s": 0.01, "silence_s": 2.0}},
        )
        result = await run_against(config, options)
        state = server.state()
        return result, state, server.exchange.open_orders(1, {"symbol": "BTCUSDT"})


async def run_against(config: Path, options: RunOptions) -> RunResult:
    return await asyncio.wait_for(run_async(config, options), timeout=600)  # a cold compile


def test_paper_trades_the_local_venues_live_book_without_an_order_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the configuration names the secrets (validation reads them); paper mode never uses
    # them: these values would be refused by the venue if it tried
    monkeypatch.setenv("HFT_E2E_KEY", "not-the-venue-key")
    monkeypatch.setenv("HFT_E2E_SECRET", "not-the-venue-secret")
    result, state, _ = asyncio.run(run_against_local_venue(tmp_path, "paper"))
    assert result.clock == "wall"
    summary = result.summary()
    assert summary["messages"] > 20  # the venue's depth and trade streams reached the host
    host = result.host("mm_btc")
    assert len(host.orders_log()) > 0  # it quoted on the live book
    assert state["frames_sent"] > 20


def test_live_sends_signed_orders_and_cancels_them_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HFT_E2E_KEY", KEY)
    monkeypatch.setenv("HFT_E2E_SECRET", SECRET)
    result, _state, open_orders = asyncio.run(run_against_local_venue(tmp_path, "live"))
    (mm,) = result.summary()["strategies"]
    host = result.host("mm_btc")
    log = host.orders_log()
    acked = log[log["status"] == ST_OPEN]
    assert len(acked) > 0  # the venue acknowledged signed orders
    assert mm["open_orders"] == 0
    assert open_orders == []  # and the venue agrees: nothing left resting

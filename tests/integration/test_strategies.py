"""The shipped strategies backtested on real Binance recordings (2024-08-08, about 6 minutes).

Binance USD-M BTCUSDT for the market maker, the grid and the template; Binance ETHUSDT spot
(asset 0) against the USD-M ETHUSDT perpetual (asset 1) for the arbitrage. Each raw file is
converted once per module. Behaviour is asserted, not P&L: both sides fill, positions stay
within the strategies' own limits, the arbitrage only trades edges above its costs, and two
runs give byte-identical fills.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import hftlib
from hftlib.cli import main
from hftlib.engine.types import BUY, SELL
from hftlib.results.result import BacktestResult

pytestmark = pytest.mark.shared_data

FILES = {
    "btc_perp": ("usdm/btcusdt_20240808.gz", "binance-futures", "BTCUSDT"),
    "eth_spot": ("spot/ethusdt_20240808.gz", "binance", "ETHUSDT"),
    "eth_perp": ("usdm/ethusdt_20240808.gz", "binance-futures", "ETHUSDT"),
}

MM = {"order_qty": 0.01, "max_position": 0.03, "gamma": 0.01}
GRID = {"levels": 5, "spacing_bps": 1.0, "order_qty": 0.002, "max_position": 0.01}
TEMPLATE = {"qty": 0.01, "max_position": 0.03}
ARB = {"order_qty": 0.05, "max_position": 0.3, "threshold_bps": 2.0, "latency_buffer_bps": 0.5}
ARB_TAKER_FEE = 0.0001  # 1 bp a leg: the recorded spot/perp basis (~4.4 bps) can pay it
RUN: dict[str, Any] = {"latency": "2ms", "queue": "risk_averse"}


@pytest.fixture(scope="module")
def data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Convert each recording once, as ``hft data convert binance`` does (clock repaired)."""
    out = tmp_path_factory.mktemp("strategies")
    paths: dict[str, Path] = {}
    for key, (rel, venue, symbol) in FILES.items():
        paths[key] = out / f"{key}.npy"
        raw = shared_data / "binance-l2-hftbacktest" / rel
        args = ["data", "convert", "binance", str(raw), "-o", str(paths[key]), "--no-progress"]
        args += ["--venue", venue, "--symbol", symbol]
        done = CliRunner().invoke(main, args, catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return paths


def run_mm(data: dict[str, Path], **over: Any) -> BacktestResult:
    params = {**MM, **over}
    return hftlib.backtest("market_maker", [data["btc_perp"]], params=params, **RUN)


def run_grid(data: dict[str, Path]) -> BacktestResult:
    return hftlib.backtest("grid", [data["btc_perp"]], params=GRID, **RUN)


def run_template(data: dict[str, Path]) -> BacktestResult:
    return hftlib.backtest("template", [data["btc_perp"]], params=TEMPLATE, **RUN)


def run_arb(data: dict[str, Path], latency: str = "2ms", **over: Any) -> BacktestResult:
    return hftlib.backtest(
        "arbitrage",
        [data["eth_spot"], data["eth_perp"]],
        params={**ARB, **over},
        fees=(0.0, ARB_TAKER_FEE),
        latency=latency,
    )


RUNNERS: dict[str, Callable[[dict[str, Path]], BacktestResult]] = {
    "market_maker": run_mm,
    "grid": run_grid,
    "template": run_template,
    "arbitrage": run_arb,
}


@pytest.fixture(scope="module")
def results(data: dict[str, Path]) -> dict[str, BacktestResult]:
    """One run of each strategy with the parameters above."""
    return {name: run(data) for name, run in RUNNERS.items()}


def lots(base: float, lot: float) -> int:
    return round(base / lot)


def assert_within(res: BacktestResult, limit: float) -> None:
    """No fill and no sample shows an absolute position beyond ``limit`` (base units)."""
    for asset, inst in enumerate(res.instruments):
        mine = res.fills["asset"] == asset
        if mine.any():
            assert np.abs(res.fills["position"][mine]).max() <= lots(limit, inst.lot_size)
    assert np.abs(res.records["position"]).max() <= limit + 1e-9


# --- market maker -----------------------------------------------------------------------------
def test_market_maker_fills_both_sides_within_its_limit(
    results: dict[str, BacktestResult],
) -> None:
    res = results["market_maker"]
    fills = res.fills
    assert (fills["side"] == BUY).sum() >= 10
    assert (fills["side"] == SELL).sum() >= 10
    assert np.all(fills["maker"] == 1)  # post-only quotes
    assert_within(res, MM["max_position"])
    # the limit binds (the test would pass vacuously otherwise) ...
    assert np.abs(fills["position"]).max() == lots(MM["max_position"], 0.001)
    # ... and the strategy respects it on its own: nothing ever reached a risk check
    assert not any(name.startswith("risk_") for name in res.counters)


def test_market_maker_avellaneda_stoikov_also_quotes_both_sides(data: dict[str, Path]) -> None:
    res = run_mm(data, model=1, gamma=0.001, horizon_s=1.0)
    assert (res.fills["side"] == BUY).sum() >= 10
    assert (res.fills["side"] == SELL).sum() >= 10
    assert_within(res, MM["max_position"])


def test_market_maker_with_a_risk_limit_below_its_own_is_stopped_by_it(
    data: dict[str, Path],
) -> None:
    res = hftlib.backtest(
        "market_maker",
        [data["btc_perp"]],
        params=MM,
        risk={"max_position": 0.01},
        start="2024-08-08T23:55:00",
        end="2024-08-08T23:58:00",
        **RUN,
    )
    assert res.counters.get("risk_max_position", 0) > 0
    assert_within(res, 0.01)


# --- grid and template ------------------------------------------------------------------------
def test_grid_fills_both_sides_within_its_limit(results: dict[str, BacktestResult]) -> None:
    res = results["grid"]
    assert (res.fills["side"] == BUY).sum() >= 5
    assert (res.fills["side"] == SELL).sum() >= 5
    assert np.all(res.fills["maker"] == 1)
    assert_within(res, GRID["max_position"])
    # the first grid: five buys and five sells one spacing (1 bp of the price) apart,
    # two spacings across the centre
    log = res.orders_log
    first = log[np.unique(log["order_id"], return_index=True)[1]][: 2 * GRID["levels"]]
    buys = np.sort(first["px"][first["side"] == BUY])
    sells = np.sort(first["px"][first["side"] == SELL])
    assert len(buys) == len(sells) == GRID["levels"]
    centre = (sells[0] + buys[-1]) // 2
    spacing = round(centre * 1e-4)  # 1 bp in ticks of 0.1 at ~61,600 USDT: 62 ticks
    assert np.all(np.diff(buys) == spacing)
    assert np.all(np.diff(sells) == spacing)
    assert sells[0] - buys[-1] == 2 * spacing


def test_template_runs_and_quotes_both_sides(results: dict[str, BacktestResult]) -> None:
    res = results["template"]
    assert (res.fills["side"] == BUY).any()
    assert (res.fills["side"] == SELL).any()
    assert_within(res, TEMPLATE["max_position"])


# --- arbitrage --------------------------------------------------------------------------------
def pair_edges(res: BacktestResult, taker_fee: float, buffer_bps: float) -> np.ndarray:
    """Net edge in bps of every pair sent, from the legs' limit prices in the order log."""
    log = res.orders_log
    first = log[np.unique(log["order_id"], return_index=True)[1]]
    legs = first[(first["client_id"] % 3) != 2]
    sells = legs[legs["client_id"] % 3 == 0]
    buys = legs[legs["client_id"] % 3 == 1]
    assert np.array_equal(sells["client_id"] // 3, buys["client_id"] // 3)  # complete pairs
    ticks = np.array([i.tick_size for i in res.instruments])
    sell_px = sells["px"] * ticks[sells["asset"]]
    buy_px = buys["px"] * ticks[buys["asset"]]
    assert np.all(sells["asset"] != buys["asset"])
    ref = (sell_px + buy_px) / 2
    net = (sell_px * (1 - taker_fee) - buy_px * (1 + taker_fee)) / ref * 1e4
    return net - buffer_bps


def test_arbitrage_trades_only_edges_above_costs(results: dict[str, BacktestResult]) -> None:
    res = results["arbitrage"]
    edges = pair_edges(res, ARB_TAKER_FEE, ARB["latency_buffer_bps"])
    assert len(edges) >= 3
    assert np.all(edges > ARB["threshold_bps"])
    # both legs of every pair filled, at their limits or better: the realised edge pays
    fills = res.fills
    assert np.all(fills["maker"] == 0)
    ticks = np.array([i.tick_size for i in res.instruments])
    lot = np.array([i.lot_size for i in res.instruments])
    cash = -fills["side"] * fills["px"] * ticks[fills["asset"]] * fills["qty"] * lot[fills["asset"]]
    for pair in np.unique(fills["client_id"] // 3):
        mine = (fills["client_id"] // 3) == pair
        assert (cash[mine] - fills["fee"][mine]).sum() > 0.0


def test_arbitrage_stays_hedged_and_within_its_limits(results: dict[str, BacktestResult]) -> None:
    res = results["arbitrage"]
    assert_within(res, ARB["max_position"])
    last = res.records[-2:]
    assert sorted(last["asset"].tolist()) == [0, 1]
    assert last["position"].sum() == pytest.approx(0.0, abs=1e-9)
    # the limit binds: spot short and perpetual long at 0.3 ETH
    assert last["position"].tolist() == pytest.approx([-0.3, 0.3])


def test_arbitrage_hedges_legs_that_miss_under_latency(data: dict[str, Path]) -> None:
    res = run_arb(data, latency="50ms", cooldown_ms=1000, threshold_bps=1.0)
    hedges = res.fills[res.fills["client_id"] % 3 == 2]
    assert len(hedges) >= 1
    last = res.records[-2:]
    assert last["position"].sum() == pytest.approx(0.0, abs=1e-9)
    assert_within(res, ARB["max_position"])


def test_arbitrage_with_a_huge_threshold_takes_nothing(data: dict[str, Path]) -> None:
    res = run_arb(data, threshold_bps=1e6)
    assert len(res.orders_log) == 0
    assert len(res.fills) == 0


# --- determinism ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_two_runs_give_identical_fills(
    name: str, data: dict[str, Path], results: dict[str, BacktestResult]
) -> None:
    again = RUNNERS[name](data)
    first = results[name]
    assert len(first.fills) > 0
    assert again.fills.tobytes() == first.fills.tobytes()
    assert again.orders_log.tobytes() == first.orders_log.tobytes()

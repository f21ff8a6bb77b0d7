"""Notebooks are jupytext .py files; each runs top to bottom here on tiny generated data."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.py"))
QUEUE_MODELS = ["risk_averse", "power:2", "power2:2", "power3:3", "log", "log2"]


def check_market_maker_quickstart(ns: dict[str, Any], cwd: Path) -> None:
    fills = ns["fills"]
    assert (fills["side"] == "buy").sum() >= 10
    assert (fills["side"] == "sell").sum() >= 10
    assert fills["maker"].all()  # post-only quotes
    assert np.abs(fills["position"]).max() <= ns["PARAMS"]["max_position"] + 1e-9
    assert len(ns["orders"]) > len(fills)
    assert len(ns["records"]) > 0
    # the inventory skew: long, the bid sits deeper than the ask; short, the other way
    skew = ns["skew_table"]
    assert skew.loc["long", "buy"] > skew.loc["long", "sell"]
    assert skew.loc["short", "buy"] < skew.loc["short", "sell"]
    assert (cwd / "market_maker.png").stat().st_size > 10_000
    comparison = ns["comparison"]
    assert list(comparison.index) == ["GLFT", "Avellaneda-Stoikov"]
    assert (comparison["buys"] > 0).all()
    assert (comparison["sells"] > 0).all()


def check_queue_models(ns: dict[str, Any], cwd: Path) -> None:
    table = ns["table"]
    assert list(table.index) == QUEUE_MODELS
    assert (table["buys"] > 0).all()
    assert (table["sells"] > 0).all()
    assert (cwd / "queue_models.png").stat().st_size > 5_000
    # the runs are identical until the first fill: risk-averse is not the first to fill
    assert table.loc["risk_averse", "first fill (s)"] == table["first fill (s)"].max()
    # order by order (the same orders in every run): power:2 fills every order risk-averse
    # fills, never later, so it also fills at least as many
    vs = ns["versus_risk_averse"]
    assert list(vs.index) == QUEUE_MODELS
    assert vs.loc["risk_averse", "same time"] == vs.loc["risk_averse", "fills"] > 100
    assert vs.loc["power:2", "later"] == vs.loc["power:2", "never"] == 0
    assert vs.loc["power:2", "fills"] >= vs.loc["risk_averse", "fills"]
    assert (vs["same time"] + vs["earlier"] + vs["later"] + vs["never"]).nunique() == 1
    # the kernel walk-through: log's negative estimate sends the order to the back
    example = ns["example"]
    assert example.loc["log", "300->200"] < 0
    assert example.loc["log", "200->150"] == 150.0
    assert not example.loc["log", "trade 20 fills"]
    assert example.drop(index="log")["trade 20 fills"].all()


def check_arbitrage(ns: dict[str, Any], cwd: Path) -> None:
    assert ns["report_b"].ok  # venue B's generated book is consistent
    pairs = ns["pairs"]
    arb = ns["ARB"]
    assert len(pairs) >= 10
    assert set(pairs["sold"]) == {"venue-a", "venue-b"}  # the basis swung both ways
    # every pair's edge at its limit prices pays two taker fees, the buffer and the threshold
    costs_bps = 2 * ns["TAKER_FEE"] * 1e4 + arb["latency_buffer_bps"] + arb["threshold_bps"]
    sell, buy = pairs["sell px"], pairs["buy px"]
    assert ((sell - buy) / ((sell + buy) / 2) * 1e4 > costs_bps).all()
    result = ns["result"]
    assert len(result.fills) > 0
    assert (result.fills["maker"] == 0).all()
    # hedged: the two positions cancel at the end and in every sample, within the limit
    final = ns["final_positions"]
    assert abs(final.sum()) < 1e-9
    assert ns["imbalance"].abs().max() <= arb["order_qty"] + 1e-9
    assert np.abs(result.records["position"]).max() <= arb["max_position"] + 1e-9
    assert (ns["fees"] > 0).all()
    assert len(ns["fees"]) == 2
    assert (cwd / "arbitrage.png").is_file()
    assert (cwd / "basis.png").is_file()
    # a threshold nothing clears: no order at all
    idle = ns["idle"]
    assert len(idle.orders_log) == 0
    assert len(idle.fills) == 0


CHECKS = {
    "market_maker_quickstart": check_market_maker_quickstart,
    "queue_models": check_queue_models,
    "arbitrage": check_arbitrage,
}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(notebook), run_name="__main__")
    assert os.listdir(tmp_path), "the notebook should have written its data under its cwd"
    if notebook.stem == "data_quickstart":
        assert namespace["report"].ok
        assert namespace["meta"].rows == 50_000
        assert len(namespace["trades"]) > 0
    if notebook.stem == "backtest_quickstart":
        assert len(namespace["fills"]) > 0
        assert (tmp_path / "report" / "report.html").is_file()
        assert namespace["mine"].info["orders_submitted"] > 0
        assert abs(namespace["own_fills"]["position"]).max() <= 50  # the risk cap held
    if notebook.stem in CHECKS:
        CHECKS[notebook.stem](namespace, tmp_path)


def test_every_new_notebook_is_checked() -> None:
    stems = {p.stem for p in NOTEBOOKS}
    assert set(CHECKS) <= stems


def test_there_is_a_notebook() -> None:
    assert NOTEBOOKS

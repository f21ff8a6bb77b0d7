"""SweepResult: the typed table in grid order, best(), heatmap() and save()."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hftlib.sweep import VOLATILE_COLUMNS, SweepResult, parse_grid
from hftlib.sweep.result import build_table

SPEC = {
    "interval_ms": (int, 100, ""),
    "offset_ticks": (int, 2, ""),
    "qty": (float, 0.01, ""),
}


def row(pnl: float | None, fills: int = 3, *, error: str | None = None, **extra: Any) -> dict:
    if error is not None:
        return {"seed": 7, "error": error, "worker": "w1", "elapsed_s": 0.001}
    return {
        "seed": 7,
        "error": None,
        "worker": "w1",
        "pnl": pnl,
        "return": None,
        "sharpe": None if pnl is None else pnl / 2,
        "sortino": None,
        "max_drawdown": abs(pnl or 0.0),
        "volume": 10.0,
        "fees": -0.1,
        "fills": fills,
        "orders": 2 * fills,
        "events": 1000,
        "position": {"synthetic:SYNUSD": 0.01},
        "elapsed_s": 0.5,
        "events_per_s": 2000.0,
        "compile_s": 0.01,
        **extra,
    }


@pytest.fixture
def result() -> SweepResult:
    grid = parse_grid("offset_ticks=1:2:1 interval_ms=50,100,150 qty=0.01", SPEC)
    rows = [
        row(1.0),
        row(-2.0),
        row(3.5),
        row(None, error="StrategyError: no"),
        row(0.5),
        row(None),
    ]
    return SweepResult(build_table(grid, rows), grid, {"strategy": "quote_mm", "wall_s": 1.0})


def test_table_is_typed_and_in_grid_order(result: SweepResult) -> None:
    t = result.table
    assert t.index.name == "point"
    assert list(t.index) == list(range(6))
    assert list(t["offset_ticks"]) == [1, 1, 1, 2, 2, 2]
    assert list(t["interval_ms"]) == [50, 100, 150] * 2
    assert str(t["offset_ticks"].dtype) == "int64"
    assert str(t["qty"].dtype) == "float64"
    assert str(t["fills"].dtype) == "Int64"
    assert t["fills"].isna().tolist() == [False, False, False, True, False, False]
    assert t["error"].notna().tolist() == [False, False, False, True, False, False]
    assert math.isnan(t["sharpe"][5])  # undefined ratio, not an error
    assert list(t["position"][:3]) == [0.01] * 3
    assert set(VOLATILE_COLUMNS) <= set(t.columns)
    assert len(result.errors) == 1
    assert "6 points" in repr(result)


def test_multi_asset_positions_get_a_column_each() -> None:
    grid = parse_grid("qty=1,2", SPEC)
    pos = {"binance:ETHUSDT": 1.0, "binance-futures:ETHUSDT": -1.0}
    table = build_table(grid, [row(1.0, position=pos), row(2.0, position=pos)])
    assert list(table["position[binance-futures:ETHUSDT]"]) == [-1.0, -1.0]
    assert "position" not in table


def test_rows_must_match_the_grid() -> None:
    grid = parse_grid("qty=1,2", SPEC)
    with pytest.raises(ValueError, match="1 rows for a grid of 2 points"):
        build_table(grid, [row(1.0)])


def test_best_maximises_pnl_and_minimises_drawdown(result: SweepResult) -> None:
    assert result.best("pnl").name == 2
    assert result.best("sharpe").name == 2
    assert result.best("max_drawdown").name == 5  # a flat run: zero drawdown
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        result.best("nope")
    with pytest.raises(ValueError, match="no grid point has a value for 'return'"):
        result.best("return")


def test_heatmap_needs_exactly_the_two_varying_parameters(
    result: SweepResult, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="varies interval_ms, offset_ticks"):
        result.heatmap("offset_ticks", "qty")
    with pytest.raises(ValueError, match="varies"):
        result.heatmap("offset_ticks", "offset_ticks")
    with pytest.raises(ValueError, match="unknown metric 'nope'; choose one of pnl"):
        result.heatmap("interval_ms", "offset_ticks", "nope")
    path = tmp_path / "h.png"
    fig = result.heatmap("interval_ms", "offset_ticks", "pnl", path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1", "-2", "3.5", "error", "0.5", "n/a"]
    one = SweepResult(
        build_table(parse_grid("qty=1,2", SPEC), [row(1.0), row(2.0)]),
        parse_grid("qty=1,2", SPEC),
    )
    with pytest.raises(ValueError, match="the grid varies qty"):
        one.heatmap("qty", "interval_ms")


def test_save_writes_parquet_csv_and_info(result: SweepResult, tmp_path: Path) -> None:
    out = result.save(tmp_path / "sweep")
    back = pd.read_parquet(out / "sweep.parquet")
    pd.testing.assert_frame_equal(back, result.table, check_dtype=False)
    csv = pd.read_csv(out / "sweep.csv", index_col="point")
    assert list(csv["pnl"][:3]) == [1.0, -2.0, 3.5]
    assert csv["error"][3] == "StrategyError: no"
    info = json.loads((out / "sweep.json").read_text())
    assert info["grid"] == "offset_ticks=1,2 interval_ms=50,100,150 qty=0.01"
    assert info["points"] == 6
    assert info["strategy"] == "quote_mm"
    first = (out / "sweep.parquet").read_bytes()
    result.save(tmp_path / "again")
    assert (tmp_path / "again" / "sweep.parquet").read_bytes() == first

"""BacktestResult: frames, summary, JSON, plot, HTML and save/load (hftlib.results)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hftlib.engine.types import (
    BUY,
    FILL_DTYPE,
    ORDER_LOG_DTYPE,
    RECORD_DTYPE,
    SELL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_REJECTED,
    TIF_GTX,
    V_WOULD_CROSS,
)
from hftlib.instrument import lookup_instrument
from hftlib.results import JSON_KEYS, BacktestResult
from hftlib.results.report import fmt_duration, fmt_num, fmt_ratio, fmt_ts

S = 1_000_000_000
T0 = 1_700_000_000 * S
BTC = lookup_instrument("binance-futures", "BTCUSDT")  # tick 0.1, lot 0.001
ETH = lookup_instrument("binance-futures", "ETHUSDT")  # tick 0.01, lot 0.001
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INFO = {
    "strategy": "grid_mm",
    "params": {"spread_ticks": 5, "levels": (1, 2)},
    "seed": 7,
    "latency_model": "constant(entry=1ms, response=1ms)",
    "queue_model": "prob(power=2)",
    "events": 1_234_567,
    "elapsed_s": 2.5,
    "compile_s": 4.25,
    "orders_submitted": 4,
}
COUNTERS = {"ok": 40, "risk_max_position": 3, "venue_would_cross": 1, "bad_qty": 0}


def asset_arrays(asset: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records, fills and an order log of a small market-making path for one asset."""
    rng = np.random.default_rng(seed)
    base = float([BTC, ETH][asset].ticks_to_price(600_000))
    mid = base + np.cumsum(rng.normal(0.0, base / 12_000, n))
    mid[:3] = np.nan  # no book yet
    pos_lots = np.repeat([0, 10, 20, 10, -10, 0], -(-n // 6))[:n]
    rec = np.zeros(n, RECORD_DTYPE)
    rec["ts"] = T0 + np.arange(n) * S
    rec["asset"] = asset
    rec["mid"] = mid
    rec["position"] = pos_lots * 0.001
    rec["balance"] = 1000.0 - rec["position"] * base + 0.001 * np.arange(n)  # plus rebates
    rec["equity"] = rec["balance"] + rec["position"] * np.nan_to_num(mid, nan=base)
    rec["equity"][:3] = 1000.0
    fills = np.zeros(4, FILL_DTYPE)
    trades = ((BUY, 10, 10), (BUY, 10, 20), (SELL, 10, 10), (SELL, 20, -10))
    for i, (side, lots, pos) in enumerate(trades):
        ts = T0 + (i + 1) * S * n // 6
        px = 600_000 + 10 * i
        fills[i] = (ts - 5, ts, i + 1, 100 + i, asset, side, px, lots, i % 2, 0.012, pos)
    log = np.zeros(6, ORDER_LOG_DTYPE)
    rows = [
        (1, BUY, 10, 10, ST_OPEN, 0),
        (1, BUY, 10, 0, ST_FILLED, 0),
        (2, BUY, 10, 0, ST_FILLED, 0),
        (3, SELL, 10, 0, ST_FILLED, 0),
        (4, SELL, 20, 0, ST_FILLED, 0),
        (5, SELL, 5, 5, ST_REJECTED, V_WOULD_CROSS),
    ]
    for i, (oid, side, qty, leaves, status, reason) in enumerate(rows):
        ts, px = T0 + i * S, 600_000 + oid
        log[i] = (ts, ts - 3, oid, -1, asset, side, px, qty, leaves, 0, TIF_GTX, status, reason)
    return rec, fills, log


def make_result(n_assets: int = 1, n: int = 120) -> BacktestResult:
    parts = [asset_arrays(a, n, seed=11 + a) for a in range(n_assets)]
    return BacktestResult(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        [BTC, ETH][:n_assets],
        COUNTERS,
        INFO,
        record_interval_ns=S,
        capital=1000.0 * n_assets,
    )


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return make_result()


# --- numbers -------------------------------------------------------------------------------


def test_to_json_has_exactly_the_cli_keys_and_serialises(result: BacktestResult) -> None:
    js = result.to_json()
    assert tuple(js) == JSON_KEYS
    text = json.dumps(js, allow_nan=False)
    assert json.loads(text) == js
    st = result.stats()
    assert js["events"] == 1_234_567
    assert js["events_per_s"] == pytest.approx(1_234_567 / 2.5)
    assert js["compile_s"] == 4.25
    assert js["orders"] == 4  # info's orders_submitted wins over the log's 5 ids
    assert js["fills"] == 4
    assert js["pnl"] == st["pnl"]
    assert js["equity"] == st["final_equity"]
    assert js["sharpe"] == st["sharpe"]
    assert js["max_drawdown"] == st["max_drawdown"]
    assert js["position"] == {"binance-futures:BTCUSDT": st["assets"][0]["position_final"]}
    assert js["counters"] == {"ok": 40, "risk_max_position": 3, "venue_would_cross": 1}
    assert js["fees"] == pytest.approx(0.048)
    notional = [lots * 0.001 * (60_000 + i) for i, lots in enumerate((10, 10, 10, 20))]
    assert js["volume"] == pytest.approx(sum(notional))


def test_events_per_second_derived_when_missing() -> None:
    res = make_result()
    res.info = {"events": 100, "elapsed_s": 4.0}
    assert res.to_json()["events_per_s"] == 25.0
    res.info = {}
    js = res.to_json()
    assert (js["events"], js["elapsed_s"], js["events_per_s"]) == (None, None, None)
    assert "no timing information" in res.summary()


def test_stats_are_cached(result: BacktestResult) -> None:
    assert result.stats() is result.stats()


def test_summary_contains_the_key_numbers(result: BacktestResult) -> None:
    text = result.summary()
    st = result.stats()
    assert text.startswith("Backtest grid_mm\n")
    for expected in (
        "events 1,234,567",
        "run 2.500 s",
        "compile 4.250 s",
        "493,827 events/s",
        f"pnl           {fmt_num(st['pnl'])}",
        f"sharpe        {fmt_ratio(st['sharpe'])}",
        f"sortino {fmt_ratio(st['sortino'])}",
        f"max drawdown  {fmt_num(st['max_drawdown'])}",
        "fills 4 (maker 2, taker 2)",
        "orders 4",
        "binance-futures:BTCUSDT (USDT)",
        "risk_max_position",
        "venue_would_cross",
        "queue model   prob(power=2)",
        "seed          7",
        "2023-11-14T22:13:20.000Z",
    ):
        assert expected in text, expected
    assert "bad_qty" not in text  # zero counters are left out


def test_summary_of_mixed_currencies_lists_assets() -> None:
    res = make_result(2)
    res.currencies = ["USDT", "BTC"]
    text = res.summary()
    assert "different currencies" in text
    assert "binance-futures:ETHUSDT" in text
    assert "Notes" in text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (3, "3"), (1234567, "1,234,567"), (0.5, "0.5"), (12345678.9, "12,345,679")],
)
def test_fmt_num(value: float | None, text: str) -> None:
    assert fmt_num(value) == text


def test_fmt_duration_ratio_and_ts() -> None:
    assert fmt_ratio(None) == "n/a"
    assert fmt_ratio(1234.5678) == "1,234.57"
    assert fmt_duration(None) == "n/a"
    assert fmt_duration(0.25) == "250 ms"
    assert fmt_duration(0.0) == "0 ms"
    assert fmt_duration(60.0) == "1m"
    assert fmt_duration(90061.0) == "1d 1h 1m 1s"
    assert fmt_ts(T0 + 1_500_000) == "2023-11-14T22:13:20.001Z"


# --- frames --------------------------------------------------------------------------------


def test_frame_is_indexed_by_utc_time_with_float_columns(result: BacktestResult) -> None:
    df = result.frame()
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert df.index.name == "ts"
    assert df.index[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert "asset" not in df.columns
    for col in ("mid", "position", "balance", "equity", "fees", "volume"):
        assert df[col].dtype == np.float64, col
    assert df["trades"].dtype == np.int64
    assert df["mid"].isna().sum() == 3
    assert len(df) == 120


def test_frame_selects_assets_by_index_key_or_symbol() -> None:
    res = make_result(2)
    both = res.frame()
    assert len(both) == 240
    assert both["asset"].tolist().count(1) == 120
    assert both.index.is_monotonic_increasing
    eth = res.frame("binance-futures:ETHUSDT")
    assert eth.equals(res.frame(1))
    assert eth.equals(res.frame("ETHUSDT"))
    assert "asset" not in eth.columns
    with pytest.raises(KeyError, match="unknown"):
        res.frame("XRPUSDT")
    with pytest.raises(KeyError, match="out of range"):
        res.frame(2)


def test_fills_frame_converts_ticks_lots_and_names(result: BacktestResult) -> None:
    df = result.fills_frame()
    assert str(df.index.tz) == "UTC"
    assert df.index.name == "local_ts"
    assert df["price"].tolist() == [60_000.0, 60_001.0, 60_002.0, 60_003.0]
    assert df["qty"].tolist() == [0.01, 0.01, 0.01, 0.02]
    assert df["position"].tolist() == [0.01, 0.02, 0.01, -0.01]
    assert df["side"].tolist() == ["buy", "buy", "sell", "sell"]
    assert df["maker"].dtype == bool
    assert df["maker"].tolist() == [False, True, False, True]
    assert df["instrument"].iloc[0] == "binance-futures:BTCUSDT"
    assert (df.index - df["exch_ts"]).min() == pd.Timedelta(5, "ns")


def test_orders_frame_converts_and_names(result: BacktestResult) -> None:
    df = result.orders_frame()
    assert df.index.name == "local_ts"
    assert df["status"].tolist() == ["open", "filled", "filled", "filled", "filled", "rejected"]
    assert df["reason"].tolist() == ["", "", "", "", "", "venue_would_cross"]
    assert set(df["tif"]) == {"gtx"}
    assert set(df["type"]) == {"limit"}
    assert df["price"].iloc[0] == 60_000.1
    assert df["qty"].iloc[-1] == 0.005
    assert df["leaves"].iloc[0] == 0.01
    assert ST_CANCELED not in result.orders_log["status"]


# --- reports and files ---------------------------------------------------------------------


def test_plot_returns_a_figure_with_a_column_per_asset(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    res = make_result(2, n=9000)  # longer than MAX_POINTS: thinned
    fig = res.plot(tmp_path / "plot.png")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title() == "binance-futures:BTCUSDT"
    assert len(fig.axes[0].lines[0].get_xdata()) == 3000  # every third of 9000 samples
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_MAGIC)


def test_html_embeds_the_png_and_the_fills(result: BacktestResult, tmp_path: Path) -> None:
    path = result.to_html(tmp_path / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert match is not None
    assert base64.b64decode(match.group(1)).startswith(PNG_MAGIC)
    assert "Last 4 fills" in text
    assert "60003.0" in text
    assert "grid_mm" in text
    assert "http" not in text.replace("http-equiv", "")  # nothing fetched from outside


def test_save_load_round_trip(result: BacktestResult, tmp_path: Path) -> None:
    out = result.save(tmp_path / "run")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "fills.parquet",
        "orders.parquet",
        "records.parquet",
        "report.html",
        "result.json",
        "summary.txt",
    ]
    back = BacktestResult.load(out)
    for attr in ("records", "fills", "orders_log"):
        a, b = getattr(result, attr), getattr(back, attr)
        assert b.dtype == a.dtype
        assert a.tobytes() == b.tobytes(), attr
    assert [i.key for i in back.instruments] == [i.key for i in result.instruments]
    assert back.instruments == result.instruments
    assert back.counters == result.counters
    assert back.record_interval_ns == S
    assert back.capital == 1000.0
    assert back.info["params"] == {"spread_ticks": 5, "levels": [1, 2]}  # JSON form
    assert back.to_json() == result.to_json()
    assert back.stats() == result.stats()
    assert (out / "summary.txt").read_text() == result.summary()
    saved = json.loads((out / "result.json").read_text())
    assert saved["summary"] == result.to_json()


def test_save_is_byte_identical(tmp_path: Path) -> None:
    first = make_result(2).save(tmp_path / "a")
    second = make_result(2).save(tmp_path / "b")
    again = BacktestResult.load(first).save(tmp_path / "c")
    for path in sorted(first.iterdir()):
        data = path.read_bytes()
        assert data == (second / path.name).read_bytes(), path.name
        assert data == (again / path.name).read_bytes(), path.name
    assert not list(tmp_path.rglob(".*partial"))


def test_load_rejects_other_format_versions(result: BacktestResult, tmp_path: Path) -> None:
    out = result.save(tmp_path / "run")
    doc = json.loads((out / "result.json").read_text())
    doc["format_version"] = 99
    (out / "result.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="format_version 99"):
        BacktestResult.load(out)


def test_load_names_a_missing_column(result: BacktestResult, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = result.save(tmp_path / "run")
    table = pq.read_table(out / "fills.parquet").drop_columns(["maker"])
    pq.write_table(table, out / "fills.parquet")
    with pytest.raises(ValueError, match="column 'maker' missing"):
        BacktestResult.load(out)


def test_info_is_cleaned_for_json(tmp_path: Path) -> None:
    res = make_result()
    res.info = {"events": np.int64(5), "ratio": float("nan"), "path": tmp_path, "obj": object}
    out = res.save(tmp_path / "run")
    info = json.loads((out / "result.json").read_text())["info"]
    assert info["events"] == 5
    assert info["ratio"] is None
    assert info["path"] == str(tmp_path)
    assert info["obj"] == "<class 'object'>"


def test_constructor_validates_inputs(result: BacktestResult) -> None:
    with pytest.raises(TypeError, match="fills"):
        BacktestResult(
            result.records, result.records, result.orders_log, [BTC], record_interval_ns=S
        )
    with pytest.raises(ValueError, match="record_interval_ns"):
        BacktestResult(result.records, result.fills, result.orders_log, [BTC], record_interval_ns=0)
    assert "120 records, 4 fills" in repr(result)


def test_import_stays_light() -> None:
    code = (
        "import sys, hftlib.results;"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'pyarrow', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_empty_result_still_reports(tmp_path: Path) -> None:
    res = BacktestResult(
        np.zeros(0, RECORD_DTYPE),
        np.zeros(0, FILL_DTYPE),
        np.zeros(0, ORDER_LOG_DTYPE),
        [BTC],
        record_interval_ns=S // 10,
    )
    assert "period        no samples (every 100 ms)" in res.summary()
    js = res.to_json()
    assert (js["pnl"], js["fills"], js["counters"]) == (None, 0, {})
    assert res.frame().empty
    assert BacktestResult.load(res.save(tmp_path / "empty")).to_json() == js

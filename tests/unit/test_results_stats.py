"""Backtest statistics on hand-computed examples (hftlib.results.stats)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from hftlib.engine.types import BUY, FILL_DTYPE, ORDER_LOG_DTYPE, RECORD_DTYPE, SELL
from hftlib.instrument import lookup_instrument
from hftlib.results.stats import (
    asset_equity,
    combined_equity,
    compute_stats,
    max_drawdown,
    periods_per_year,
    settlement_currency,
    sharpe_ratio,
    sortino_ratio,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S
BTC = lookup_instrument("binance-futures", "BTCUSDT")  # tick 0.1, lot 0.001, USDT
ETH = lookup_instrument("binance-futures", "ETHUSDT")  # tick 0.01, lot 0.001, USDT
XBT = lookup_instrument("bitmex", "XBTUSD")  # inverse, tick 0.5, lot 1 (USD), BTC
YEAR_1S = 365 * 86400


def records(
    equity: list[float],
    asset: int = 0,
    *,
    interval: int = S,
    mid: list[float] | None = None,
    position: list[float] | None = None,
    balance: list[float] | None = None,
    trades: list[int] | None = None,
) -> np.ndarray:
    n = len(equity)
    out = np.zeros(n, RECORD_DTYPE)
    out["ts"] = T0 + np.arange(n) * interval
    out["asset"] = asset
    out["equity"] = equity
    out["mid"] = mid if mid is not None else 100.0
    out["position"] = position if position is not None else 0.0
    out["balance"] = balance if balance is not None else equity
    if trades is not None:
        out["trades"] = trades
    return out


def fills(rows: list[tuple[int, int, int, int, int, float, int]]) -> np.ndarray:
    """Rows of (asset, side, px ticks, qty lots, maker, fee, position lots)."""
    out = np.zeros(len(rows), FILL_DTYPE)
    for i, (asset, side, px, qty, maker, fee, pos) in enumerate(rows):
        out[i]["local_ts"] = out[i]["exch_ts"] = T0 + i * S
        out[i]["order_id"] = i + 1
        out[i]["asset"] = asset
        out[i]["side"] = side
        out[i]["px"] = px
        out[i]["qty"] = qty
        out[i]["maker"] = maker
        out[i]["fee"] = fee
        out[i]["position"] = pos
    return out


def order_log(rows: list[tuple[int, int, int]]) -> np.ndarray:
    """Rows of (order_id, asset, qty lots)."""
    out = np.zeros(len(rows), ORDER_LOG_DTYPE)
    for i, (oid, asset, qty) in enumerate(rows):
        out[i]["local_ts"] = T0 + i
        out[i]["order_id"] = oid
        out[i]["asset"] = asset
        out[i]["qty"] = qty
        out[i]["side"] = BUY
    return out


NO_FILLS = np.zeros(0, FILL_DTYPE)
NO_ORDERS = np.zeros(0, ORDER_LOG_DTYPE)


def assert_json_clean(obj: Any) -> None:
    """Every float finite: json with allow_nan=False accepts it."""
    json.dumps(obj, allow_nan=False)


# --- building blocks -----------------------------------------------------------------------


def test_periods_per_year_is_a_365_day_year_of_intervals() -> None:
    assert periods_per_year(S) == YEAR_1S
    assert periods_per_year(S // 10) == pytest.approx(YEAR_1S * 10)
    assert periods_per_year(60 * S) == pytest.approx(YEAR_1S / 60)
    with pytest.raises(ValueError, match="> 0"):
        periods_per_year(0)


@pytest.mark.parametrize(
    ("venue", "symbol", "currency"),
    [
        ("binance", "BTCUSDT", "USDT"),
        ("binance-futures", "ETHUSDT", "USDT"),
        ("bitstamp", "BTCUSD", "USD"),
        ("bitmex", "XBTUSD", "BTC"),
        ("deribit", "BTC-PERPETUAL", "BTC"),
        ("huobi-dm-swap", "BTC-USD", "BTC"),
        ("synthetic", "SYNUSD", "USD"),
        ("nasdaq", "AAPL", "quote of nasdaq:AAPL"),
    ],
)
def test_settlement_currency_of_the_builtin_instruments(
    venue: str, symbol: str, currency: str
) -> None:
    assert settlement_currency(lookup_instrument(venue, symbol)) == currency


def test_sharpe_and_sortino_match_the_hand_computation() -> None:
    d = np.array([3.0, -3.0, 4.0, -2.0])
    # mean 0.5; population variance 9.5 - 0.25 = 9.25; downside mean square (9 + 4) / 4.
    assert sharpe_ratio(d, YEAR_1S) == pytest.approx(0.5 / math.sqrt(9.25) * math.sqrt(YEAR_1S))
    assert sortino_ratio(d, YEAR_1S) == pytest.approx(0.5 / math.sqrt(3.25) * math.sqrt(YEAR_1S))
    assert sharpe_ratio(d, YEAR_1S) == pytest.approx(923.3, abs=0.1)


def test_ratios_are_none_when_undefined() -> None:
    assert sharpe_ratio(np.array([1.0]), YEAR_1S) is None
    assert sharpe_ratio(np.zeros(5), YEAR_1S) is None
    assert sharpe_ratio(np.full(5, 0.1), YEAR_1S) is None  # no variance, only rounding
    assert sortino_ratio(np.array([1.0, 2.0]), YEAR_1S) is None  # no losing interval
    assert sortino_ratio(np.zeros(1), YEAR_1S) is None
    assert sortino_ratio(np.array([-1.0, -1.0]), YEAR_1S) == pytest.approx(-math.sqrt(YEAR_1S))


def test_max_drawdown_recovered_and_not() -> None:
    ts = T0 + np.arange(5) * S
    dd = max_drawdown(ts, np.array([100.0, 103.0, 100.0, 104.0, 102.0]))
    assert dd.amount == 3.0
    assert (dd.peak_ts, dd.trough_ts, dd.end_ts) == (T0 + S, T0 + 2 * S, T0 + 3 * S)
    assert dd.duration_ns == 2 * S
    assert dd.recovered
    dd = max_drawdown(ts[:4], np.array([10.0, 12.0, 9.0, 11.0]))
    assert (dd.amount, dd.peak_ts, dd.trough_ts) == (3.0, T0 + S, T0 + 2 * S)
    assert (dd.end_ts, dd.duration_ns, dd.recovered) == (T0 + 3 * S, 2 * S, False)
    dd = max_drawdown(ts[:3], np.array([1.0, 2.0, 3.0]))
    assert (dd.amount, dd.duration_ns, dd.recovered) == (0.0, 0, True)
    with pytest.raises(ValueError, match="at least one"):
        max_drawdown(ts[:0], np.zeros(0))


def test_asset_equity_fills_gaps_without_inventing_changes() -> None:
    nan = float("nan")
    rec = records(
        [nan, nan, 10.0, nan, 12.0],
        position=[0.0, 0.0, 1.0, 1.0, 1.0],
        balance=[7.0, 7.0, 5.0, 5.0, 5.0],
        mid=[nan, nan, 5.0, nan, 7.0],
    )
    ts, eq = asset_equity(rec[::-1].copy())  # unsorted input is sorted by time
    assert list(ts) == list(rec["ts"])
    # Flat and unmarked: the balance. Holding and unmarked: the last equity carried.
    assert list(eq) == [7.0, 7.0, 10.0, 10.0, 12.0]
    ts, eq = asset_equity(records([nan, nan, 3.0], position=[1.0, 1.0, 1.0]))
    assert list(eq) == [3.0, 3.0, 3.0]  # leading gap while holding: first known value
    ts, eq = asset_equity(records([nan], position=[1.0]))
    assert len(ts) == len(eq) == 0


def test_combined_equity_holds_each_asset_between_its_samples() -> None:
    a = (np.array([0, 2, 4]), np.array([1.0, 2.0, 3.0]))
    b = (np.array([1, 4]), np.array([10.0, 20.0]))
    ts, eq = combined_equity([a, b, (np.zeros(0, np.int64), np.zeros(0))])
    assert list(ts) == [0, 1, 2, 4]
    assert list(eq) == [11.0, 11.0, 12.0, 23.0]
    ts, eq = combined_equity([])
    assert len(ts) == len(eq) == 0


# --- compute_stats -------------------------------------------------------------------------


def test_known_equity_path_single_asset() -> None:
    rec = records([100.0, 103.0, 100.0, 104.0, 102.0])
    st = compute_stats(rec, NO_FILLS, NO_ORDERS, [BTC], S, capital=1000.0)
    assert_json_clean(st)
    assert st["currency"] == "USDT"
    assert st["pnl"] == 2.0
    assert st["return"] == pytest.approx(0.002)
    assert st["initial_equity"] == 100.0
    assert st["final_equity"] == 102.0
    assert st["sharpe"] == pytest.approx(0.5 / math.sqrt(9.25) * math.sqrt(YEAR_1S))
    assert st["sortino"] == pytest.approx(0.5 / math.sqrt(3.25) * math.sqrt(YEAR_1S))
    assert st["max_drawdown"] == 3.0
    assert st["max_drawdown_frac"] == pytest.approx(0.003)
    assert st["max_drawdown_duration_s"] == 2.0
    assert st["max_drawdown_recovered"] is True
    assert (st["max_drawdown_peak_ts"], st["max_drawdown_trough_ts"]) == (T0 + S, T0 + 2 * S)
    assert st["duration_s"] == 4.0
    assert st["samples"] == 5
    assert st["notes"] == []
    (asset,) = st["assets"]
    assert asset["pnl"] == 2.0
    assert asset["sharpe"] == st["sharpe"]
    assert "return" not in asset


def test_sharpe_is_annualised_by_the_sampling_interval() -> None:
    eq = [100.0, 103.0, 100.0, 104.0, 102.0]
    one_s = compute_stats(records(eq), NO_FILLS, NO_ORDERS, [BTC], S)
    one_min = compute_stats(records(eq, interval=60 * S), NO_FILLS, NO_ORDERS, [BTC], 60 * S)
    assert one_s["sharpe"] / one_min["sharpe"] == pytest.approx(math.sqrt(60))
    assert one_s["return"] is None  # no capital, no return
    assert one_s["max_drawdown_frac"] is None


def test_zero_variance_gives_none_ratios_and_no_nan() -> None:
    st = compute_stats(records([50.0] * 6), NO_FILLS, NO_ORDERS, [BTC], S, capital=100.0)
    assert_json_clean(st)
    assert st["pnl"] == 0.0
    assert st["sharpe"] is None
    assert st["sortino"] is None
    assert st["max_drawdown"] == 0.0
    assert st["max_drawdown_duration_s"] == 0.0
    assert st["return"] == 0.0


def test_nan_mid_rows_before_the_book_exists() -> None:
    nan = float("nan")
    rec = records(
        [nan, nan, 1000.0, 1001.0, 999.0, 1002.0],
        mid=[nan, nan, 100.0, 100.1, 99.9, 100.2],
        position=[0.0, 0.0, 0.0, 0.01, 0.01, 0.0],
        balance=[1000.0, 1000.0, 1000.0, 0.0, 0.0, 1002.0],
    )
    st = compute_stats(rec, NO_FILLS, NO_ORDERS, [BTC], S)
    assert_json_clean(st)
    assert st["pnl"] == 2.0
    assert st["max_drawdown"] == 2.0
    a = st["assets"][0]
    assert a["mid_final"] == 100.2
    assert a["position_max_abs"] == 0.01


def test_multi_asset_same_currency_sums_equity_volume_and_fees() -> None:
    rec = np.concatenate([records([10.0, 12.0, 11.0, 15.0], 0), records([5.0, 4.0, 8.0, 7.0], 1)])
    f = fills(
        [
            (0, BUY, 600_000, 10, 1, -0.1, 10),  # 60000.0 * 0.010 = 600 USDT
            (0, SELL, 600_100, 10, 0, 0.3, 0),  # 60010.0 * 0.010 = 600.1 USDT
            (1, BUY, 300_000, 1000, 1, 0.2, 1000),  # 3000.00 * 1.000 = 3000 USDT
        ]
    )
    st = compute_stats(rec, f, NO_ORDERS, [BTC, ETH], S, capital=1000.0)
    assert_json_clean(st)
    total = np.array([15.0, 16.0, 19.0, 22.0])
    assert st["currency"] == "USDT"
    assert st["pnl"] == 7.0
    assert [a["pnl"] for a in st["assets"]] == [5.0, 2.0]
    assert st["sharpe"] == pytest.approx(sharpe_ratio(np.diff(total), YEAR_1S))
    assert st["sortino"] is None  # the summed path never falls
    assert st["max_drawdown"] == 0.0
    assert st["assets"][0]["max_drawdown"] == 1.0
    assert st["assets"][1]["max_drawdown"] == 1.0
    assert st["volume"] == pytest.approx(4200.1)
    assert [a["volume"] for a in st["assets"]] == pytest.approx([1200.1, 3000.0])
    assert st["fees"] == pytest.approx(0.4)
    assert st["turnover"] == pytest.approx(4.2001)
    assert (st["fills"], st["maker_fills"], st["taker_fills"]) == (3, 2, 1)
    assert (st["buy_fills"], st["sell_fills"]) == (2, 1)
    assert st["assets"][1]["position_max_abs"] == 1.0  # 1000 lots of 0.001 from the fill


def test_inverse_and_linear_assets_report_per_asset_only() -> None:
    rec = np.concatenate([records([100.0, 101.0, 102.0], 0), records([0.5, 0.49, 0.52], 1)])
    # 1000 contracts of 1 USD at 50000.0 (100000 ticks of 0.5) are 0.02 BTC of notional.
    f = fills([(1, BUY, 100_000, 1000, 0, 0.000015, 1000)])
    st = compute_stats(rec, f, NO_ORDERS, [BTC, XBT], S, capital=1000.0)
    assert_json_clean(st)
    assert st["currency"] is None
    assert st["currencies"] == ["USDT", "BTC"]
    for key in ("pnl", "return", "sharpe", "sortino", "max_drawdown", "volume", "fees"):
        assert st[key] is None, key
    assert any("different currencies (BTC, USDT)" in n for n in st["notes"])
    btc, xbt = st["assets"]
    assert btc["pnl"] == 2.0
    assert xbt["pnl"] == pytest.approx(0.02)
    assert xbt["currency"] == "BTC"
    assert xbt["volume"] == pytest.approx(0.02)
    assert xbt["max_drawdown"] == pytest.approx(0.01)
    assert st["fills"] == 1  # counts still add up across currencies
    same = compute_stats(rec, f, NO_ORDERS, [BTC, XBT], S, currencies=["X", "X"])
    assert same["pnl"] == pytest.approx(2.02)


def test_inverse_notional_is_zero_for_a_zero_price() -> None:
    st = compute_stats(records([1.0]), fills([(0, BUY, 0, 5, 0, 0.0, 5)]), NO_ORDERS, [XBT], S)
    assert st["volume"] == 0.0


def test_fill_ratios_count_and_quantity() -> None:
    log = order_log([(1, 0, 10), (1, 0, 10), (2, 0, 20), (3, 0, 5), (4, 0, 15), (4, 0, 15)])
    f = fills(
        [
            (0, BUY, 600_000, 10, 1, 0.0, 10),
            (0, SELL, 600_000, 5, 1, 0.0, 5),
            (0, SELL, 600_000, 5, 1, 0.0, 0),
        ]
    )
    st = compute_stats(records([0.0, 0.0]), f, log, [BTC], S)
    assert st["orders"] == 4
    assert st["fill_ratio"] == 0.75
    assert st["fill_ratio_qty"] == pytest.approx(20 / 50)
    assert st["assets"][0]["submitted_lots"] == 50
    override = compute_stats(records([0.0, 0.0]), f, log, [BTC], S, orders_submitted=6)
    assert override["orders"] == 6
    assert override["fill_ratio"] == 0.5
    none = compute_stats(records([0.0, 0.0]), NO_FILLS, NO_ORDERS, [BTC], S)
    assert none["fill_ratio"] is None
    assert none["fill_ratio_qty"] is None


def test_inventory_statistics() -> None:
    rec = records([0.0] * 4, position=[0.0, 1.0, 1.0, -2.0], mid=[1.0, 2.0, 3.0, 4.0])
    st = compute_stats(rec, fills([(0, SELL, 10, 3000, 0, 0.0, -3000)]), NO_ORDERS, [BTC], S)
    a = st["assets"][0]
    assert a["position_final"] == -2.0
    assert a["position_mean_abs"] == 1.0
    assert a["position_time_weighted"] == pytest.approx(2.0 / 3.0)
    assert a["position_max_abs"] == 3.0  # between samples, seen only in the fills log
    assert a["mid_final"] == 4.0
    one = compute_stats(records([0.0], position=[0.5]), NO_FILLS, NO_ORDERS, [BTC], S)
    assert one["assets"][0]["position_time_weighted"] == 0.5


def test_per_day_rates_and_turnover() -> None:
    day = 86_400 * S
    rec = records([0.0, 0.0, 0.0], interval=day)  # two days
    f = fills([(0, BUY, 100_000, 1000, 1, 0.0, 1000)] * 10)  # 10 fills of 10000.0 * 1.0
    st = compute_stats(rec, f, NO_ORDERS, [BTC], day, capital=50_000.0)
    assert st["days"] == 2.0
    assert st["trades_per_day"] == 5.0
    assert st["volume"] == pytest.approx(100_000.0)
    assert st["volume_per_day"] == pytest.approx(50_000.0)
    assert st["turnover"] == pytest.approx(2.0)
    assert st["assets"][0]["trades_per_day"] == 5.0


def test_truncated_fills_log_falls_back_to_the_records() -> None:
    rec = records([0.0, 0.0], trades=[1, 5])
    rec["volume"] = [10.0, 55.0]
    rec["fees"] = [0.01, 0.05]
    f = fills([(0, BUY, 100_000, 1, 1, 0.01, 1), (0, SELL, 100_000, 1, 0, 0.01, 0)])
    st = compute_stats(rec, f, NO_ORDERS, [BTC], S)
    assert st["fills"] == 5
    assert st["volume"] == 55.0
    assert st["fees"] == 0.05
    assert st["maker_fills"] is None
    assert any("holds 2 of 5 fills" in n for n in st["notes"])


def test_empty_run_is_all_zero_or_none() -> None:
    st = compute_stats(np.zeros(0, RECORD_DTYPE), NO_FILLS, NO_ORDERS, [BTC], S, capital=1.0)
    assert_json_clean(st)
    assert st["pnl"] is None
    assert st["sharpe"] is None
    assert st["fills"] == 0
    assert st["days"] is None
    assert st["trades_per_day"] is None
    assert st["assets"][0]["position_final"] == 0.0
    assert st["assets"][0]["mid_final"] is None
    only_fills = compute_stats(
        np.zeros(0, RECORD_DTYPE), fills([(0, BUY, 1, 1, 1, 0.0, 1)] * 2), NO_ORDERS, [BTC], S
    )
    assert only_fills["duration_s"] == 1.0


def test_bad_inputs_raise() -> None:
    rec = records([1.0])
    with pytest.raises(TypeError, match="records"):
        compute_stats(np.zeros(1, FILL_DTYPE), NO_FILLS, NO_ORDERS, [BTC], S)
    with pytest.raises(TypeError, match="fills"):
        compute_stats(rec, [], NO_ORDERS, [BTC], S)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside the 1 instruments"):
        compute_stats(records([1.0], asset=1), NO_FILLS, NO_ORDERS, [BTC], S)
    with pytest.raises(ValueError, match="2 currencies for 1"):
        compute_stats(rec, NO_FILLS, NO_ORDERS, [BTC], S, currencies=["A", "B"])

"""Performance statistics of a backtest from its recorded samples, fills and order log.

Everything here is plain numpy over the engine's structured arrays (``RECORD_DTYPE``,
``FILL_DTYPE``, ``ORDER_LOG_DTYPE``) and returns JSON-ready Python values: every float is
finite or ``None``, never NaN or infinity.

Sources
-------
- Equity, P&L, Sharpe, Sortino, drawdown and inventory come from the records, sampled at a
  fixed ``record_interval_ns``.
- Fill counts, maker/taker split, volume and fees come from the fills log, which is exact
  (the records only see them at sample times). If an asset's last record counts more fills
  than its log holds, the log was truncated; that asset's volume, fees and fill count then
  come from the record's cumulative columns and ``notes`` says so.
- Orders submitted are the distinct order ids of the order log (or the caller's total).

Currencies
----------
Balances and equity are in each asset's settlement currency: the quote currency for spot
and linear contracts, the base coin for inverse contracts (:func:`settlement_currency`).
Totals (P&L, equity path, Sharpe, drawdown, volume, fees) are summed over assets only when
they all settle in the same currency; otherwise the totals are ``None``, ``currency`` is
``None`` and ``notes`` explains that the figures are per asset only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from hftlib.engine.types import BUY, FILL_DTYPE, ORDER_LOG_DTYPE, RECORD_DTYPE, SELL
from hftlib.instrument import Instrument, InstrumentKind

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
NS_PER_YEAR = 365 * NS_PER_DAY
"""Crypto venues trade around the clock, every day of the year: no 252-day calendar."""

_QUOTES = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "JPY", "TRY", "BRL",
    "BTC", "ETH", "BNB",
)  # fmt: skip
"""Quote currencies recognised at the end of a symbol, longest first where they overlap."""
_CONTRACT_SUFFIXES = ("PERPETUAL", "PERP", "SWAP")
_ALIASES = {"XBT": "BTC"}


# --- building blocks -----------------------------------------------------------------------


def settlement_currency(instrument: Instrument) -> str:
    """Return the currency an instrument's balance and P&L are counted in.

    Spot and linear contracts settle in the quote currency (``BTCUSDT`` -> ``USDT``),
    inverse contracts in the base coin (``XBTUSD`` -> ``BTC``, ``BTC-PERPETUAL`` -> ``BTC``).
    The currency is read from the symbol; a symbol with no recognisable quote gives a name
    unique to the instrument (``"quote of nasdaq:AAPL"``), so it is never summed with
    another asset by accident. Pass ``currencies`` to :func:`compute_stats` to override.
    """
    text = instrument.symbol.upper().replace("/", "-").replace("_", "-")
    parts = [p for p in text.split("-") if p and p not in _CONTRACT_SUFFIXES]
    joined = "".join(parts)
    if instrument.kind is InstrumentKind.INVERSE_PERPETUAL:
        base = parts[0] if len(parts) > 1 else joined
        # Inverse contracts are quoted in USD (XBTUSD: not the TUSD stablecoin).
        if base.endswith("USD") and len(base) > 3:
            base = base[:-3]
        return _ALIASES.get(base, base) if base else f"base of {instrument.key}"
    if len(parts) > 1 and parts[-1] in _QUOTES:
        return _ALIASES.get(parts[-1], parts[-1])
    for quote in _QUOTES:
        if joined.endswith(quote) and len(joined) > len(quote):
            return quote
    return f"quote of {instrument.key}"


def periods_per_year(record_interval_ns: int) -> float:
    """Return how many sampling intervals fit in a 365-day year (crypto trades 24/7)."""
    if record_interval_ns <= 0:
        raise ValueError(f"record_interval_ns must be > 0, got {record_interval_ns}")
    return NS_PER_YEAR / record_interval_ns


def sharpe_ratio(diffs: np.ndarray, periods: float) -> float | None:
    """Return the annualised Sharpe ratio of per-interval equity changes ``diffs``.

    ``mean(d) / std(d) * sqrt(periods)`` with the population standard deviation (divide by
    n, like the Sortino downside deviation, so the two ratios are comparable). The risk-free
    rate is zero. ``None`` when undefined: fewer than two intervals or zero variance.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return None
    sd = float(np.std(d))
    if not sd > 1e-12 * max(1.0, float(np.max(np.abs(d)))):
        return None
    return _finite(float(np.mean(d)) / sd * math.sqrt(periods))


def sortino_ratio(diffs: np.ndarray, periods: float) -> float | None:
    """Return the annualised Sortino ratio of per-interval equity changes ``diffs``.

    ``mean(d) / sqrt(mean(min(d, 0)^2)) * sqrt(periods)``: the downside deviation averages
    the squared losses over *all* intervals (target return zero). ``None`` when undefined:
    fewer than two intervals or no losing interval at all.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return None
    dd = math.sqrt(float(np.mean(np.minimum(d, 0.0) ** 2)))
    if not dd > 0.0:
        return None
    return _finite(float(np.mean(d)) / dd * math.sqrt(periods))


class Drawdown(NamedTuple):
    """The largest peak-to-trough fall of an equity path.

    ``amount`` is in currency (>= 0). ``peak_ts`` and ``trough_ts`` bound the fall;
    ``end_ts`` is when equity first got back to the peak, or the last sample if it never
    did (``recovered`` False). ``duration_ns`` is ``end_ts - peak_ts``.
    """

    amount: float
    peak_ts: int
    trough_ts: int
    end_ts: int
    duration_ns: int
    recovered: bool


def max_drawdown(ts: np.ndarray, equity: np.ndarray) -> Drawdown:
    """Return the maximum drawdown of a non-empty ``equity`` path sampled at ``ts``."""
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) == 0:
        raise ValueError("max_drawdown needs at least one sample")
    peak = np.maximum.accumulate(eq)
    fall = peak - eq
    trough = int(np.argmax(fall))  # first occurrence of the largest fall
    amount = float(fall[trough])
    if amount <= 0.0:
        t = int(ts[0])
        return Drawdown(0.0, t, t, t, 0, True)
    # The peak is the last sample before the trough that set the running maximum.
    peak_i = int(np.flatnonzero(eq[: trough + 1] == peak[trough])[-1])
    back = np.flatnonzero(eq[trough:] >= peak[trough])
    recovered = len(back) > 0
    end_i = trough + int(back[0]) if recovered else len(eq) - 1
    return Drawdown(
        amount,
        int(ts[peak_i]),
        int(ts[trough]),
        int(ts[end_i]),
        int(ts[end_i] - ts[peak_i]),
        recovered,
    )


def asset_equity(records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ts, equity)`` of one asset's records, sorted by time and NaN-free.

    Equity is NaN where no mid price existed to mark the position. A flat position is worth
    nothing, so those rows take the balance; other gaps carry the last known equity forward,
    and leading gaps take the first known value (no change until the book exists). An asset
    with no finite value at all gives empty arrays.
    """
    rec = _by_time(records)
    eq = rec["equity"].astype(np.float64)
    flat = ~np.isfinite(eq) & (rec["position"] == 0.0)
    eq[flat] = rec["balance"][flat]
    ok = np.isfinite(eq)
    if not ok.any():
        return rec["ts"][:0].copy(), eq[:0]
    idx = np.where(ok, np.arange(len(eq)), -1)
    np.maximum.accumulate(idx, out=idx)
    idx[idx < 0] = int(np.flatnonzero(ok)[0])
    return rec["ts"].copy(), eq[idx]


def combined_equity(
    paths: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Return the summed equity of several assets on the union of their sample times.

    Each asset contributes its last sample at or before each time (its first sample before
    it starts), so an asset sampled less often never drops out of the sum.
    """
    paths = [(t, e) for t, e in paths if len(t)]
    if not paths:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    ts = distinct(np.concatenate([t for t, _ in paths]))
    total = np.zeros(len(ts), np.float64)
    for t, e in paths:
        at = np.searchsorted(t, ts, side="right") - 1
        total += e[np.maximum(at, 0)]
    return ts, total


# --- the report ----------------------------------------------------------------------------


def compute_stats(
    records: np.ndarray,
    fills: np.ndarray,
    orders_log: np.ndarray,
    instruments: Sequence[Instrument],
    record_interval_ns: int,
    capital: float | None = None,
    *,
    orders_submitted: int | None = None,
    currencies: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compute the performance statistics of a backtest.

    Parameters
    ----------
    records : numpy.ndarray
        ``RECORD_DTYPE`` samples, one row per asset per ``record_interval_ns``.
    fills : numpy.ndarray
        ``FILL_DTYPE`` fills log.
    orders_log : numpy.ndarray
        ``ORDER_LOG_DTYPE`` order state changes.
    instruments : sequence of Instrument
        Specs by asset index, to turn ticks and lots into prices, sizes and notionals.
    record_interval_ns : int
        Sampling interval of the records.
    capital : float, optional
        Capital in the common settlement currency; enables ``return``, ``turnover`` and
        ``max_drawdown_frac``. Default None.
    orders_submitted : int, optional
        Total orders submitted, when the caller knows it better than the order log (a
        capped log). Default None: the distinct order ids of the log.
    currencies : sequence of str, optional
        Settlement currency per asset. Default None: :func:`settlement_currency`.

    Returns
    -------
    dict
        Totals at the top level and one dict per asset under ``"assets"``.

    Notes
    -----
    Sharpe and Sortino are computed on the per-interval *changes* of equity in currency,
    ``d = diff(equity)``, not on returns: equity in a backtest may start at zero (P&L
    accounting), so there is no denominator for a return, and the ratio ``mean(d) / sd(d)``
    is scale-free, so it needs no capital. Both ratios are annualised by
    ``sqrt(periods_per_year)`` with ``periods_per_year = 365 * 86400e9 / record_interval_ns``:
    the sampling interval is the period, and crypto venues trade 24 hours a day, 365 days a
    year (no 252-day calendar). They are ``None`` when undefined (fewer than two intervals,
    zero variance, or no losing interval for Sortino), never NaN or infinite.
    """
    _check(records, RECORD_DTYPE, "records")
    _check(fills, FILL_DTYPE, "fills")
    _check(orders_log, ORDER_LOG_DTYPE, "orders_log")
    n_assets = len(instruments)
    for name, arr in (("records", records), ("fills", fills), ("orders_log", orders_log)):
        if len(arr) and (arr["asset"].min() < 0 or arr["asset"].max() >= n_assets):
            raise ValueError(f"{name} refer to an asset outside the {n_assets} instruments")
    curr = (
        list(currencies)
        if currencies is not None
        else [settlement_currency(i) for i in instruments]
    )
    if len(curr) != n_assets:
        raise ValueError(f"{len(curr)} currencies for {n_assets} instruments")
    periods = periods_per_year(record_interval_ns)

    span = _span(records, fills)
    days = (span[1] - span[0]) / NS_PER_DAY if span[1] > span[0] else None
    notes: list[str] = []
    assets = []
    paths = []
    for a, instr in enumerate(instruments):
        rec = _by_time(records[records["asset"] == a])
        path = asset_equity(rec)
        paths.append(path)
        assets.append(
            _asset_stats(
                instr,
                curr[a],
                rec,
                path,
                fills[fills["asset"] == a],
                orders_log[orders_log["asset"] == a],
                periods,
                days,
                notes,
            )
        )

    out: dict[str, Any] = {
        "start_ts": span[0],
        "end_ts": span[1],
        "duration_s": (span[1] - span[0]) / NS_PER_S,
        "days": days,
        "record_interval_ns": int(record_interval_ns),
        "periods_per_year": periods,
        "samples": len(distinct(records["ts"])),
        "capital": _finite(capital),
        "currencies": curr,
    }
    same = len(set(curr)) <= 1
    out["currency"] = curr[0] if curr and same else None
    if same:
        out.update(_equity_stats(*combined_equity(paths), periods, capital))
        volume = sum(s["volume"] for s in assets)
        out["volume"] = _finite(volume)
        out["fees"] = _finite(sum(s["fees"] for s in assets))
        out["turnover"] = _finite(volume / capital) if capital else None
        out["volume_per_day"] = _finite(volume / days) if days else None
    else:
        notes.append(
            "assets settle in different currencies ("
            + ", ".join(sorted(set(curr)))
            + "): equity, P&L, risk ratios, volume and fees are per asset only"
        )
        out.update(_equity_stats(np.zeros(0, np.int64), np.zeros(0), periods, None))
        out.update(volume=None, fees=None, turnover=None, volume_per_day=None)
    n_orders = sum(s["orders"] for s in assets) if orders_submitted is None else orders_submitted
    n_fills = sum(s["fills"] for s in assets)
    fills_known = all(s["maker_fills"] is not None for s in assets)
    filled_lots = sum(s["filled_lots"] for s in assets)
    submitted_lots = sum(s["submitted_lots"] for s in assets)
    out.update(
        orders=int(n_orders),
        fills=int(n_fills),
        maker_fills=sum(s["maker_fills"] for s in assets) if fills_known else None,
        taker_fills=sum(s["taker_fills"] for s in assets) if fills_known else None,
        buy_fills=sum(s["buy_fills"] for s in assets),
        sell_fills=sum(s["sell_fills"] for s in assets),
        fill_ratio=_ratio(n_fills, n_orders),
        fill_ratio_qty=_ratio(filled_lots, submitted_lots),
        trades_per_day=_finite(n_fills / days) if days else None,
        assets=assets,
        notes=notes,
    )
    return out


def _asset_stats(
    instr: Instrument,
    currency: str,
    rec: np.ndarray,
    path: tuple[np.ndarray, np.ndarray],
    fills: np.ndarray,
    orders: np.ndarray,
    periods: float,
    days: float | None,
    notes: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {"instrument": instr.key, "kind": str(instr.kind), "currency": currency}
    out.update(_equity_stats(*path, periods, None))
    del out["return"], out["max_drawdown_frac"]

    # Fills: the log is exact; the records' cumulative columns cover a truncated log.
    unit = instr.lot_size * instr.contract_multiplier
    n = len(fills)
    maker = int(np.count_nonzero(fills["maker"]))
    volume = float(np.sum(_notional(instr, fills["px"], fills["qty"])))
    fees = float(np.sum(fills["fee"]))
    last = rec[np.argmax(rec["ts"])] if len(rec) else None
    out["maker_fills"], out["taker_fills"] = maker, n - maker
    if last is not None and int(last["trades"]) > n:
        notes.append(
            f"{instr.key}: the fills log holds {n} of {int(last['trades'])} fills; "
            "volume, fees and fill count come from the records"
        )
        n, volume, fees = int(last["trades"]), float(last["volume"]), float(last["fees"])
        out["maker_fills"] = out["taker_fills"] = None
    out["fills"] = n
    out["buy_fills"] = int(np.count_nonzero(fills["side"] == BUY))
    out["sell_fills"] = int(np.count_nonzero(fills["side"] == SELL))
    out["volume"] = _finite(volume) or 0.0
    out["fees"] = _finite(fees) or 0.0
    out["volume_per_day"] = _finite(volume / days) if days else None
    out["trades_per_day"] = _finite(n / days) if days else None

    # Orders: the first log row of each order carries its submitted size.
    ids, first = np.unique(orders["order_id"], return_index=True)
    out["orders"] = len(ids)
    out["submitted_lots"] = int(np.sum(orders["qty"][first]))
    out["filled_lots"] = int(np.sum(fills["qty"]))
    out["fill_ratio"] = _ratio(n, len(ids))
    out["fill_ratio_qty"] = _ratio(out["filled_lots"], out["submitted_lots"])

    out.update(_inventory(rec, fills, unit))
    return out


def _equity_stats(
    ts: np.ndarray, equity: np.ndarray, periods: float, capital: float | None
) -> dict[str, Any]:
    if len(equity) == 0:
        return dict.fromkeys(
            (
                "initial_equity",
                "final_equity",
                "pnl",
                "return",
                "sharpe",
                "sortino",
                "max_drawdown",
                "max_drawdown_frac",
                "max_drawdown_duration_s",
                "max_drawdown_peak_ts",
                "max_drawdown_trough_ts",
                "max_drawdown_recovered",
            )
        )
    diffs = np.diff(equity)
    pnl = float(equity[-1] - equity[0])
    dd = max_drawdown(ts, equity)
    return {
        "initial_equity": _finite(equity[0]),
        "final_equity": _finite(equity[-1]),
        "pnl": _finite(pnl),
        "return": _finite(pnl / capital) if capital else None,
        "sharpe": sharpe_ratio(diffs, periods),
        "sortino": sortino_ratio(diffs, periods),
        "max_drawdown": _finite(dd.amount),
        "max_drawdown_frac": _finite(dd.amount / capital) if capital else None,
        "max_drawdown_duration_s": dd.duration_ns / NS_PER_S,
        "max_drawdown_peak_ts": dd.peak_ts,
        "max_drawdown_trough_ts": dd.trough_ts,
        "max_drawdown_recovered": dd.recovered,
    }


def _inventory(rec: np.ndarray, fills: np.ndarray, unit: float) -> dict[str, Any]:
    """Position statistics in base units; the maximum also sees positions between samples."""
    rec = _by_time(rec)
    pos = rec["position"].astype(np.float64)
    fill_pos = fills["position"].astype(np.float64) * unit
    peaks = np.abs(np.concatenate([pos, fill_pos]))
    out: dict[str, Any] = {
        "position_final": _finite(pos[-1]) if len(pos) else 0.0,
        "position_mean_abs": _finite(np.mean(np.abs(pos))) if len(pos) else 0.0,
        "position_max_abs": _finite(np.max(peaks)) if len(peaks) else 0.0,
        "position_time_weighted": _finite(pos[0]) if len(pos) else 0.0,
        "mid_final": None,
    }
    if len(pos) > 1 and rec["ts"][-1] > rec["ts"][0]:
        # Each sample holds until the next one: weight it by the time to the next sample.
        dt = np.diff(rec["ts"]).astype(np.float64)
        out["position_time_weighted"] = _finite(np.sum(pos[:-1] * dt) / np.sum(dt))
    mids = rec["mid"][np.isfinite(rec["mid"])]
    if len(mids):
        out["mid_final"] = _finite(mids[-1])
    return out


def _notional(instr: Instrument, px: np.ndarray, qty: np.ndarray) -> np.ndarray:
    """Absolute notional in the settlement currency, as ``hftlib.engine.contract.notional``."""
    price = px.astype(np.float64) * instr.tick_size
    size = qty.astype(np.float64) * instr.lot_size * instr.contract_multiplier
    if instr.kind is InstrumentKind.INVERSE_PERPETUAL:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(price > 0.0, size / np.where(price > 0.0, price, 1.0), 0.0)
    return size * price


def _by_time(rec: np.ndarray) -> np.ndarray:
    """Return records in time order (as given when they already are: no copy)."""
    ts = rec["ts"]
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return rec
    return rec[np.argsort(ts, kind="stable")]


def distinct(values: np.ndarray) -> np.ndarray:
    """Return the sorted distinct values (a sort, faster than ``np.unique``'s hash here)."""
    s = np.sort(values)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _span(records: np.ndarray, fills: np.ndarray) -> tuple[int, int]:
    if len(records):
        return int(records["ts"].min()), int(records["ts"].max())
    if len(fills):
        return int(fills["local_ts"].min()), int(fills["local_ts"].max())
    return 0, 0


def _ratio(num: float, den: float) -> float | None:
    return _finite(num / den) if den else None


def _finite(x: Any) -> float | None:
    """Return ``x`` as a Python float, or None if it is None, NaN or infinite."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _check(arr: np.ndarray, dtype: np.dtype[Any], name: str) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        got = getattr(arr, "dtype", type(arr).__name__)
        raise TypeError(f"{name} must be a numpy array of the engine's dtype, got {got}")

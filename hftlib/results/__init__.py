"""Backtest results: statistics, pandas frames, text summary, HTML and PNG report.

Importing this package costs numpy only; pandas, pyarrow and matplotlib load on first use.
"""

from __future__ import annotations

from hftlib.results.result import JSON_KEYS, BacktestResult
from hftlib.results.stats import compute_stats, periods_per_year, settlement_currency

__all__ = [
    "JSON_KEYS",
    "BacktestResult",
    "compute_stats",
    "periods_per_year",
    "settlement_currency",
]

"""Numba order books for the backtest engine: :mod:`.l2` (price levels), :mod:`.l3` (orders)."""

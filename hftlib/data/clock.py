"""Correct a recorder's clock offset: shift every ``local_ts`` by one constant.

Captures made on a machine whose clock runs behind the venue's show a negative feed
latency on every row (the shared Binance captures: about -1.27 s). Clamping each row to
its ``exch_ts`` would erase the latency the backtest needs and reorder rows; shifting the
whole stream keeps every interval between local timestamps and the latency's shape, and
only moves its level. The shift makes the smallest latency equal ``base_latency_ns``;
hftbacktest's ``correct_local_timestamp`` takes the same approach.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def clock_shift(min_latency_ns: int | None, base_latency_ns: int = 0) -> int:
    """Return the ns to add to every ``local_ts`` so the smallest latency is ``base_latency_ns``.

    0 when no row has a latency below ``base_latency_ns`` (nothing to correct).
    """
    if base_latency_ns < 0:
        raise ValueError(f"base_latency_ns must be >= 0, got {base_latency_ns}")
    if min_latency_ns is None or min_latency_ns >= base_latency_ns:
        return 0
    return base_latency_ns - min_latency_ns


def shift_local_ts(chunks: Iterable[np.ndarray], shift_ns: int) -> Iterator[np.ndarray]:
    """Yield ``chunks`` with ``shift_ns`` added to ``local_ts`` (copies; inputs untouched)."""
    for chunk in chunks:
        if shift_ns == 0:
            yield chunk
            continue
        out = np.array(chunk)
        out["local_ts"] += shift_ns
        yield out

"""Price levels -> event rows in one compiled pass (the hot part of every depth message).

``[price, size]`` pairs arrive as floats (msgspec parses the decimal strings in C); one
:func:`fill_levels` call checks each value onto the tick or lot grid with the exact rule of
:func:`hftlib.instrument.grid_values` and writes the finished rows, instead of a dozen numpy
calls per message. It returns a status instead of raising (nopython code); the caller turns
a failure into a typed error naming the field.
"""

from __future__ import annotations

from typing import Final

import numba
import numpy as np

from hftlib.instrument import GRID_RELATIVE_TOLERANCE, GRID_TOLERANCE
from hftlib.types import F_ASK, F_BID, F_LAST, NO_ID

OK: Final = -1
BAD_NUMBER: Final = 0
"""Not finite, or negative."""
OFF_GRID: Final = 1
ZERO_PRICE: Final = 2

_MAX_STEPS: Final = 2.0**62


@numba.njit(cache=True, nogil=True)
def fill_levels(
    flat: np.ndarray,
    n_bids: int,
    tick: float,
    lot: float,
    kind: int,
    exch_ts: int,
    local_ts: int,
    seq: int,
    aux: int,
    out: np.ndarray,
) -> int:
    """Write one row per ``(price, size)`` of ``flat`` into ``out``; return the status.

    ``flat`` holds ``price0, size0, price1, size1, ...``, bids first. On success the result
    is :data:`OK`; otherwise ``4 * value_index + reason`` for the first bad value
    (``value_index`` into ``flat``; reason :data:`BAD_NUMBER`, :data:`OFF_GRID` or
    :data:`ZERO_PRICE`).
    """
    n = flat.shape[0] // 2
    for i in range(2 * n):
        value = flat[i]
        if not np.isfinite(value) or value < 0:
            return 4 * i + BAD_NUMBER
        scaled = value / (tick if i % 2 == 0 else lot)
        whole = np.rint(scaled)
        allowed = max(GRID_TOLERANCE, abs(scaled) * GRID_RELATIVE_TOLERANCE)
        if abs(scaled - whole) > allowed or abs(whole) >= _MAX_STEPS:
            return 4 * i + OFF_GRID
        if i % 2 == 0 and whole == 0:
            return 4 * i + ZERO_PRICE
    for j in range(n):
        row = out[j]
        row.flags = kind | (F_BID if j < n_bids else F_ASK) | (F_LAST if j == n - 1 else 0)
        row.asset = 0
        row.exch_ts = exch_ts
        row.local_ts = local_ts
        row.px = np.int64(np.rint(flat[2 * j] / tick))
        row.qty = np.int64(np.rint(flat[2 * j + 1] / lot))
        row.order_id = NO_ID
        row.seq = seq
        row.aux = aux
    return OK

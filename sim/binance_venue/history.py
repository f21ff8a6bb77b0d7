"""Own-trade queries: ``GET /api/v3/myTrades`` (spot) and ``GET /fapi/v1/userTrades`` (USD-M).

Binance's selection rules, applied to an account's fills on one symbol (oldest first):

- ``orderId``, ``fromId`` (trade id at or above), ``startTime`` and ``endTime`` (trade
  ``time`` in ms, both bounds inclusive) filter; every one is a non-negative integer
  (-1100 otherwise).
- With ``fromId`` or ``startTime`` the oldest ``limit`` trades of the selection come back,
  otherwise the most recent ``limit`` (default 500, at most 1000).
- Spot: ``startTime`` and ``endTime`` together may span at most 24 hours (-1127).
- USD-M: without ``startTime`` and ``endTime`` only the last 7 days are searched; together
  they may span at most 7 days (-1127; Binance documents the limit, the message text here
  is the venue's); ``fromId`` cannot be combined with either (-1128).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.orders import int_param, text

DAY_MS: Final = 86_400_000
SPOT_SPAN_MS: Final = DAY_MS
USDM_SPAN_MS: Final = 7 * DAY_MS
MAX_LIMIT: Final = 1000
BAD_INTERVAL: Final = -1127
BAD_COMBINATION: Final = -1128


def select_trades(
    trades: list[dict[str, Any]], params: Mapping[str, object], market: str, now_ms: int
) -> list[dict[str, Any]]:
    """Return the trades a ``myTrades``/``userTrades`` request selects.

    Parameters
    ----------
    trades : list[dict]
        The account's fills on the symbol, oldest first (each with ``id``, ``orderId`` and
        ``time``).
    params : Mapping[str, object]
        The request parameters.
    market : {"spot", "usdm"}
        Whose rules apply.
    now_ms : int
        Server time (USD-M's default 7-day window ends here).

    Raises
    ------
    ApiError
        -1100 for a malformed number, -1127 for too wide a time window, -1128 for ``fromId``
        with a time bound (USD-M).
    """
    order_id = _optional_int(params, "orderId")
    from_id = _optional_int(params, "fromId")
    start = _optional_int(params, "startTime")
    end = _optional_int(params, "endTime")
    limit = min(int_param(params, "limit", 500), MAX_LIMIT)
    if market == "spot":
        if start is not None and end is not None and end - start > SPOT_SPAN_MS:
            raise E.ApiError(BAD_INTERVAL, "More than 24 hours between startTime and endTime.")
    else:
        if from_id is not None and (start is not None or end is not None):
            raise E.ApiError(BAD_COMBINATION, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > USDM_SPAN_MS:
            raise E.ApiError(BAD_INTERVAL, "More than 7 days between startTime and endTime.")
        if start is None and end is None and from_id is None:
            start = now_ms - USDM_SPAN_MS
    picked = [
        t
        for t in trades
        if (order_id is None or t["orderId"] == order_id)
        and (from_id is None or t["id"] >= from_id)
        and (start is None or t["time"] >= start)
        and (end is None or t["time"] <= end)
    ]
    oldest_first = from_id is not None or text(params, "startTime") is not None
    return picked[:limit] if oldest_first else picked[-limit:]


def _optional_int(params: Mapping[str, object], name: str) -> int | None:
    """Return an optional integer parameter (None when absent); raise -1100 when malformed."""
    if text(params, name) is None:
        return None
    return int_param(params, name, 0)

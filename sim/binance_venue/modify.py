"""USD-M order modify (``PUT /fapi/v1/order``): request checks and the engine operation.

Binance's rules (Modify Order, USDⓈ-M futures):

- Only LIMIT orders can be modified; ``symbol``, ``side``, ``quantity`` and ``price`` are
  mandatory, with ``orderId`` or ``origClientOrderId`` (``orderId`` wins when both come).
- A price or size failing the filters rejects the request and leaves the order as it is.
- The order keeps its ``orderId`` and ``clientOrderId``; the answer is the order in the
  ``/fapi/v1/order`` shape and the user stream gets ``ORDER_TRADE_UPDATE`` with ``x`` =
  ``AMENDMENT``. A modify sets the order's self-trade prevention to ``NONE``.
- The amendment cancels the order instead when the new quantity is at or below what has
  already filled, or when a GTX (post-only) order's new price would take.
- Nothing to change: -5027 "No need to modify the order.".

Queue priority: Binance re-queues modified orders. Here a lower quantity at the same price
keeps the order's place (like the spot keep-priority amend) and any other change sends it to
the back of its new level, after it takes what it crosses there like a new arrival. An order
that is not open, or whose ``side`` is not the one sent, is -2011 "Unknown order sent.".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.orders import SIDES, VenueOrder, required
from hftlib.sim.binance_venue.rules import SymbolRules
from hftlib.sim.matching import (
    OPEN_STATUSES,
    REPLACED,
    STP_NONE,
    EngineError,
    MatchingEngine,
    Report,
)

from hftlib.engine.types import TIF_GTX

SAME_ORDER = -5027
MSG_SAME_ORDER = "No need to modify the order."


class VenueEngine(MatchingEngine):
    """The matching engine plus the price-and-size replace that USD-M modify needs."""

    def replace(self, order_id: int, price: int, qty: int) -> list[Report]:
        """Give an open limit order a new price and total quantity; return its reports.

        The order's self-trade prevention becomes NONE (Binance's modify sets it). A lower
        quantity at the same price keeps the queue priority (:meth:`amend_down`); otherwise
        the order leaves its level, takes what it crosses at the new price and rests the rest
        at the back of the new level. The first report is REPLACED.

        Raises
        ------
        EngineError
            When the order is not open, has no price, or ``qty`` is not above what filled.
        """
        order = self._open(order_id)
        if order.price is None or qty <= order.filled:
            raise EngineError(f"order {order_id} cannot be replaced with {qty} lots")
        order.stp = STP_NONE
        if price == order.price and qty < order.qty:
            return [self.amend_down(order_id, qty)]
        self._unlink(order)
        order.price, order.qty = price, qty
        self._seq += 1
        order.seq = self._seq
        reports = [self._report(order, REPLACED)]
        self._take(order, reports)
        if order.status in OPEN_STATUSES and order.remaining:
            self._rest(order)
        return reports


@dataclass(frozen=True, slots=True)
class Change:
    """A checked modify request: the new price (ticks) and total quantity (lots)."""

    price: int
    qty: int
    cancels: bool
    """True when Binance cancels the order instead (quantity at or below what filled, or a
    post-only order that would take at the new price)."""


def check_modify(
    params: Mapping[str, object], rules: SymbolRules, engine: MatchingEngine, vo: VenueOrder
) -> Change:
    """Check a modify request against the order and the symbol's filters.

    Raises
    ------
    ApiError
        -1102 missing parameter, -1117 bad side, the filter errors of new orders, -2011 when
        the order is not open or is on the other side, -5027 when nothing changes.
    """
    side_name = required(params, "side")
    qty_text = required(params, "quantity")
    price_text = required(params, "price")
    if side_name not in SIDES:
        raise E.ApiError(E.INVALID_SIDE, "Invalid side.")
    qty = rules.parse_qty(qty_text)
    price = rules.parse_price(price_text)
    rules.check_notional(price, qty, reduce_only=vo.reduce_only)
    order = vo.order
    if order.status not in OPEN_STATUSES or order.price is None or SIDES[side_name] != order.side:
        raise E.ApiError(E.CANCEL_REJECTED, E.MSG_UNKNOWN_ORDER)
    if price == order.price and qty == order.qty:
        raise E.ApiError(SAME_ORDER, MSG_SAME_ORDER)
    post_only_takes = order.tif == TIF_GTX and engine.would_take(order.side, price)
    return Change(price, qty, qty <= order.filled or post_only_takes)

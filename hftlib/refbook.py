"""Reference order books in plain Python: the oracle for converters, verifiers and tests.

Deliberately simple (sorted dicts of ticks, an order-id dict for L3) and independent of the
engine's fast numba books, which are property-tested against these. Not for hot paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sortedcontainers import SortedDict

from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    KIND_MASK,
    NO_PX,
)


class L2Book:
    """Price levels per side: ``tick -> lots``; zero-size levels never stay in the book."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()

    def side(self, is_bid: bool) -> SortedDict:
        """Return the bid or ask side."""
        return self.bids if is_bid else self.asks

    def set_level(self, is_bid: bool, px: int, qty: int) -> None:
        """Set the absolute size at ``px`` (0 removes; removing an absent level is fine)."""
        levels = self.side(is_bid)
        if qty > 0:
            levels[px] = qty
        else:
            levels.pop(px, None)

    def clear(self, is_bid: bool | None = None) -> None:
        """Clear one side, or both when ``is_bid`` is None."""
        if is_bid is None or is_bid:
            self.bids.clear()
        if is_bid is None or not is_bid:
            self.asks.clear()

    def best_bid(self) -> tuple[int, int] | None:
        """Return ``(tick, lots)`` of the best bid, or None when the side is empty."""
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask(self) -> tuple[int, int] | None:
        """Return ``(tick, lots)`` of the best ask, or None when the side is empty."""
        return self.asks.peekitem(0) if self.asks else None

    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
        return bool(
            self.bids and self.asks and self.bids.peekitem(-1)[0] >= self.asks.peekitem(0)[0]
        )

    def apply(self, flags: int, px: int, qty: int) -> None:
        """Apply one L2 event row (depth, snapshot level, clear); other kinds are ignored."""
        kind = flags & KIND_MASK
        if kind in (K_DEPTH, K_SNAPSHOT):
            self.set_level(bool(flags & F_BID), px, qty)
        elif kind == K_CLEAR:
            both = (flags & F_BID) and (flags & F_ASK)
            side = None if both or not (flags & (F_BID | F_ASK)) else bool(flags & F_BID)
            if px == NO_PX or side is None:
                self.clear(side)
            else:
                self._clear_through(side, px)

    @classmethod
    def from_events(cls, events: np.ndarray) -> L2Book:
        """Return the book left by applying every row of an event array in order."""
        book = cls()
        for flags, px, qty in zip(
            events["flags"].tolist(), events["px"].tolist(), events["qty"].tolist(), strict=True
        ):
            book.apply(flags, px, qty)
        return book

    def _clear_through(self, is_bid: bool, px: int) -> None:
        """Clear the levels of one side from the touch up to and including ``px``."""
        levels = self.side(is_bid)
        doomed = list(levels.irange(minimum=px)) if is_bid else list(levels.irange(maximum=px))
        for tick in doomed:
            del levels[tick]


@dataclass
class RestingOrder:
    """One order in an :class:`L3Book`."""

    is_bid: bool
    px: int
    qty: int


class L3Book:
    """Orders by id with an aggregated :class:`L2Book` kept in step."""

    __slots__ = ("levels", "orders")

    def __init__(self) -> None:
        self.orders: dict[int, RestingOrder] = {}
        self.levels = L2Book()

    def _level_add(self, order: RestingOrder, delta: int) -> None:
        side = self.levels.side(order.is_bid)
        new = side.get(order.px, 0) + delta
        if new > 0:
            side[order.px] = new
        else:
            side.pop(order.px, None)

    def add(self, order_id: int, is_bid: bool, px: int, qty: int) -> None:
        """Insert an order; raises ``KeyError`` if the id is already resting."""
        if order_id in self.orders:
            raise KeyError(f"order {order_id} is already in the book")
        order = RestingOrder(is_bid, px, qty)
        self.orders[order_id] = order
        self._level_add(order, qty)

    def modify(self, order_id: int, px: int, qty: int) -> None:
        """Set a resting order's price and remaining size (0 removes it)."""
        order = self.orders[order_id]
        self._level_add(order, -order.qty)
        if qty <= 0:
            del self.orders[order_id]
            return
        order.px, order.qty = px, qty
        self._level_add(order, qty)

    def reduce(self, order_id: int, qty: int) -> int:
        """Take ``qty`` from an order (a fill or partial cancel); return what remains."""
        order = self.orders[order_id]
        take = min(qty, order.qty)
        self._level_add(order, -take)
        order.qty -= take
        if order.qty <= 0:
            del self.orders[order_id]
            return 0
        return order.qty

    def remove(self, order_id: int) -> RestingOrder:
        """Remove an order entirely and return it."""
        order = self.orders.pop(order_id)
        self._level_add(order, -order.qty)
        return order

    def apply(self, flags: int, order_id: int, px: int, qty: int) -> None:
        """Apply one L3 event row; raises ``KeyError`` for an unknown order id."""
        kind = flags & KIND_MASK
        if kind == K_L3_ADD:
            self.add(order_id, bool(flags & F_BID), px, qty)
        elif kind == K_L3_MODIFY:
            self.modify(order_id, px, qty)
        elif kind in (K_L3_CANCEL, K_L3_FILL):
            self.reduce(order_id, qty)
        elif kind == K_CLEAR:
            self.orders.clear()
            self.levels.clear()

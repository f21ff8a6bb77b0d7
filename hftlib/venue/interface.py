"""The venue interface: what a connector or a simulator offers the paper and live runners.

DESIGN decision 7: ``venues/`` (real connectors) and ``sim/`` (simulators, the local venue
server's clients) implement :class:`Venue` without importing each other; the runners in
``live/`` only see this module.

Units. Prices and sizes cross this interface as integers: price in ticks and size in lots of
the asset's :class:`hftlib.instrument.Instrument`, the same units as the engine's events and
order table. A connector converts to and from the venue's decimal strings at its boundary,
once. Timestamps are ns since the epoch (venue times converted at parse time).

Outcome policy (STYLE §3.16). :attr:`OrderUpdate.status` is ``ST_REJECTED`` only when the
venue explicitly rejected the request. Timeouts, 5xx responses, rate limits and disconnects
give ``ST_UNKNOWN``: the order stays in flight until :meth:`Venue.query_order` or the user-data
stream settles it. Only idempotent requests are retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final, Protocol, runtime_checkable

import msgspec
import numpy as np

from hftlib.engine.types import (
    OT_LIMIT,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_REJECTED,
    TIF_GTC,
)

TERMINAL_STATUSES: Final = frozenset({ST_FILLED, ST_CANCELED, ST_REJECTED, ST_EXPIRED})

# --- book integrity -----------------------------------------------------------------------------
BOOK_SYNCING: Final = 0
"""No valid book yet (waiting for a snapshot to bridge the buffered diffs)."""
BOOK_LIVE: Final = 1
BOOK_STALE: Final = 2
"""A gap, checksum failure or disconnect: the book must not be quoted on until resynced."""


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A new order. ``client_id`` is unique among the account's open orders."""

    symbol: str
    client_id: str
    side: int
    """``BUY`` (+1) or ``SELL`` (-1) of :mod:`hftlib.engine.types`."""
    qty_lots: int
    price_ticks: int = 0
    """Limit price; ignored for market orders."""
    order_type: int = OT_LIMIT
    tif: int = TIF_GTC
    reduce_only: bool = False


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's view of one order after a request, a query or a user-data event.

    ``filled_lots`` is cumulative; a fill carried by this update is ``last_fill_lots`` at
    ``last_fill_ticks`` with its ``fee`` (in ``fee_asset``, negative for a rebate) and venue
    ``trade_id`` (``-1`` when the update carries no fill). Fills are identified by
    ``(venue_order_id, trade_id)``, so the same fill reported by a REST response and by the
    stream is applied once.
    """

    symbol: str
    client_id: str
    status: int
    """An ``ST_*`` code of :mod:`hftlib.engine.types`."""
    venue_order_id: str = ""
    side: int = 0
    price_ticks: int = 0
    qty_lots: int = 0
    filled_lots: int = 0
    last_fill_lots: int = 0
    last_fill_ticks: int = 0
    fee: float = 0.0
    fee_asset: str = ""
    """The asset the fee was charged in (empty: the quote currency)."""
    avg_price: float = 0.0
    """Average fill price over ``filled_lots`` (0.0 before the first fill)."""
    trade_id: int = -1
    maker: bool = False
    exch_ts: int = 0
    local_ts: int = 0
    reason: str = ""
    """The venue's reject or expiry reason, or why the outcome is unknown."""


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's balance (decimal amounts as floats: balances are not on a tick grid)."""

    asset: str
    free: float
    locked: float


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A derivatives position, signed in lots (positive long)."""

    symbol: str
    lots: int
    entry_price: float
    unrealized_pnl: float = 0.0


class MarketBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Events decoded from one venue message for one symbol.

    ``events`` are :data:`hftlib.types.EVENT_DTYPE` rows (prices in ticks, sizes in lots);
    a resync starts with a clear row followed by the snapshot's levels. ``book_state`` is
    the book's integrity after the message (``BOOK_*``).
    """

    symbol: str
    events: np.ndarray
    book_state: int


@runtime_checkable
class Venue(Protocol):
    """One venue account: market data, order entry and the queries reconciliation needs.

    Implementations: ``venues.binance`` (spot and USD-M connectors) and the simulators of
    ``sim/``. Every coroutine raises :class:`hftlib.errors.VenueError` subclasses for
    failures that are not order outcomes (bad credentials, a ban, a closed venue).
    """

    name: str

    async def connect(self) -> None:
        """Open sessions, sync the server-time offset and load instrument rules."""

    async def close(self) -> None:
        """Close every socket and session; pending requests end as unknown."""

    def market_data(self, symbols: list[str]) -> AsyncIterator[MarketBatch]:
        """Yield decoded market data; reconnects and resyncs internally."""

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        """Yield the account's order updates and fills (user data); resubscribes internally."""

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Send a new order; return its ack, an explicit rejection or an unknown outcome."""

    async def cancel(self, symbol: str, client_id: str) -> OrderUpdate:
        """Cancel one order by client id."""

    async def modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> OrderUpdate:
        """Replace an order's price and size (cancel-replace where the venue has no amend)."""

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        """Cancel every open order on ``symbol``; return the cancelled orders."""

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate:
        """Return the venue's current view of one order (settles unknown outcomes)."""

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the open orders, of one symbol or all."""

    async def balances(self) -> list[Balance]:
        """Return the account's non-zero balances."""

    async def positions(self) -> list[Position]:
        """Return open derivatives positions (empty for spot)."""

    async def recent_fills(self, symbol: str, since_ns: int) -> list[OrderUpdate]:
        """Return the account's fills on ``symbol`` since ``since_ns``."""

    def server_time_offset_ns(self) -> int:
        """Return venue time minus local time, as last measured."""

"""Price-time-priority matching engine for several participants around a recorded market.

Pure, deterministic logic (no I/O, no clock): the local venue servers drive it, and a
hypothesis state machine checks it against a brute-force model. Prices are int ticks and
sizes int lots of one instrument.

Participants
------------
Accounts are ints; :data:`RECORDED` (0) is the *recorded market*: the public book replayed
from a recording. Its liquidity sits in the same price levels as the participants' orders
but is not made of orders: each level keeps its recorded size as *chunks* between the
participant orders (``Order.ahead`` is the recorded size queued just in front of an order,
``Level.tail`` the recorded size behind the last one). So a level's queue reads
``ahead(o1), o1, ahead(o2), o2, ..., tail``.

Recorded market rules (risk-averse queue model, documented in docs/venue-server.md)
------------------------------------------------------------------------------------
- A participant order joins the back of its level: all recorded size there is ahead of it.
- The feed gives absolute level sizes. Growth joins the back (``tail``); a decrease is taken
  from the back first (``tail``, then the chunks in front of the last orders), so the queue
  ahead of an order only shrinks when the level shrinks below it.
- Recorded liquidity a participant took is remembered per level as ``depleted`` and
  subtracted from later feed sizes at that level (our trade removed it; the recording does
  not know); ``depleted`` never exceeds the feed size, and a recorded trade at the level
  first uses it up (it consumed the same front-of-queue liquidity).
- A recorded trade at price ``p`` fills, up to its size, first the participant orders at
  prices strictly better than ``p`` (the trade went through them), then the queue at ``p``
  from the front: recorded chunks are consumed without fills, participant orders fill.
- A feed size increase that crosses participant orders on the other side trades against
  them (the recorded market is the taker); only what is left joins the level.
- Within one feed message decreases are applied before increases, so a level that moves
  from one side to the other never meets its stale self.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Final

from sortedcontainers import SortedDict

from hftlib.engine.types import BUY, OT_LIMIT, OT_MARKET, SELL, TIF_FOK, TIF_GTX, TIF_IOC
from hftlib.types import NO_ID

RECORDED: Final = 0
"""Account id of the recorded market."""

# --- self-trade prevention modes (Binance names) -----------------------------------------------
STP_NONE: Final = 0
STP_EXPIRE_TAKER: Final = 1
STP_EXPIRE_MAKER: Final = 2
STP_EXPIRE_BOTH: Final = 3
STP_NAMES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")

# --- order statuses and execution types (Binance names, so the venue renders them as they are)
NEW: Final = "NEW"
PARTIALLY_FILLED: Final = "PARTIALLY_FILLED"
FILLED: Final = "FILLED"
CANCELED: Final = "CANCELED"
EXPIRED: Final = "EXPIRED"
EXPIRED_IN_MATCH: Final = "EXPIRED_IN_MATCH"
REJECTED: Final = "REJECTED"
TRADE: Final = "TRADE"
REPLACED: Final = "REPLACED"
TRADE_PREVENTION: Final = "TRADE_PREVENTION"
OPEN_STATUSES: Final = frozenset({NEW, PARTIALLY_FILLED})

WOULD_MATCH: Final = "WOULD_MATCH_IMMEDIATELY"
"""Reject reason of a post-only order that would take liquidity."""


class EngineError(ValueError):
    """A request the engine cannot carry out (unknown order, bad amend size)."""


@dataclass(frozen=True, slots=True)
class Fees:
    """Commission rates as fractions of notional (negative = rebate).

    Parameters
    ----------
    maker, taker : Decimal
        Rates of the resting and the incoming side.
    buyer_fee_in_base : bool
        Charge a buyer in the base asset (Binance spot: the asset received); otherwise every
        commission is in the quote asset (USD-M).
    """

    maker: Decimal = Decimal(0)
    taker: Decimal = Decimal(0)
    buyer_fee_in_base: bool = False


@dataclass(slots=True, eq=False)
class Order:
    """A participant order. ``price`` is None for a market order."""

    order_id: int
    account: int
    side: int
    price: int | None
    qty: int
    order_type: int
    tif: int
    stp: int
    seq: int
    filled: int = 0
    quote: int = 0
    """Cumulative ``sum(price * qty)`` of the fills, in ticks x lots."""
    status: str = NEW
    ahead: int = 0
    """Recorded size queued in front of this order at its level."""

    @property
    def remaining(self) -> int:
        """Lots still open."""
        return self.qty - self.filled

    @property
    def is_open(self) -> bool:
        """True while the order rests or is being matched."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade between a maker and a taker; either may be the recorded market.

    An order id of the recorded market is ``NO_ID``. Commissions are amounts of the
    commission asset: the base asset for a buyer when :attr:`Fees.buyer_fee_in_base`,
    else the quote asset.
    """

    trade_id: int
    price: int
    qty: int
    taker_side: int
    maker_account: int
    maker_order: int
    taker_account: int
    taker_order: int
    maker_fee: Decimal
    taker_fee: Decimal


@dataclass(frozen=True, slots=True)
class Report:
    """The state of one participant order after one execution step.

    ``order`` is the live order (read only its fixed fields: id, account, side, price, type);
    the fields here are copied at the time of the step.
    """

    order: Order
    exec_type: str
    status: str
    qty: int
    filled: int
    quote: int
    fill: Fill | None = None
    is_maker: bool = False
    reason: str = ""


class Level:
    """One price level: recorded chunks and participant orders in queue order."""

    __slots__ = ("orders", "own", "price", "recorded", "tail")

    def __init__(self, price: int) -> None:
        self.price = price
        self.recorded = 0
        self.tail = 0
        self.own = 0
        self.orders: list[Order] = []

    @property
    def total(self) -> int:
        """Public size: recorded plus participant lots."""
        return self.recorded + self.own

    def queue(self) -> Iterator[tuple[int, Order | None]]:
        """Yield ``(recorded lots, order)`` pairs front to back; the last has order None."""
        for order in self.orders:
            yield order.ahead, order
        yield self.tail, None


class MatchingEngine:
    """The book of one instrument and its matching rules.

    Parameters
    ----------
    fees : Fees
        Maker and taker commission rates.
    notional_unit : Decimal
        Quote value of one tick x one lot (``tick_size * lot_size * multiplier``), used for
        quote-asset commissions.
    lot : Decimal
        Base value of one lot, used for base-asset commissions.
    """

    def __init__(self, fees: Fees, notional_unit: Decimal, lot: Decimal) -> None:
        self.fees = fees
        self.notional_unit = notional_unit
        self.lot = lot
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.orders: dict[int, Order] = {}
        """Open participant orders by id."""
        self.next_order_id = 1
        self.next_trade_id = 1
        self._seq = 0
        self._changed: dict[tuple[bool, int], None] = {}
        # recorded lots participants took, per (is_bid, price); kept when the level empties
        self._depleted: dict[tuple[bool, int], int] = {}

    # --- queries ---------------------------------------------------------------------------
    def best(self, is_bid: bool) -> int | None:
        """Return the best public price of a side, or None."""
        side = self.bids if is_bid else self.asks
        if not side:
            return None
        return int(side.peekitem(-1 if is_bid else 0)[0])

    def level_size(self, is_bid: bool, price: int) -> int:
        """Return the public size at ``price`` (0 when empty)."""
        level = (self.bids if is_bid else self.asks).get(price)
        return level.total if level is not None else 0

    def depth(
        self, limit: int | None = None
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return the public book as ``(bids best first, asks best first)`` of (price, lots)."""
        bid_keys = islice(reversed(self.bids), limit)
        ask_keys = islice(iter(self.asks), limit)
        bids = [(p, self.bids[p].total) for p in bid_keys]
        asks = [(p, self.asks[p].total) for p in ask_keys]
        return bids, asks

    def top(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """Return ``((bid px, lots) | None, (ask px, lots) | None)``."""
        bid = self.bids.peekitem(-1) if self.bids else None
        ask = self.asks.peekitem(0) if self.asks else None
        return (
            (bid[0], bid[1].total) if bid else None,
            (ask[0], ask[1].total) if ask else None,
        )

    def take_changes(self) -> list[tuple[bool, int, int]]:
        """Return and forget the levels whose public size changed: ``(is_bid, price, lots)``."""
        bids, asks = self.bids, self.asks
        out = []
        for is_bid, px in self._changed:
            level = (bids if is_bid else asks).get(px)
            out.append((is_bid, px, level.recorded + level.own if level is not None else 0))
        self._changed.clear()
        return out

    def would_take(self, side: int, price: int) -> bool:
        """True when a limit order at ``price`` would cross resting liquidity on arrival."""
        best = self.best(side != BUY)
        if best is None:
            return False
        return best <= price if side == BUY else best >= price

    def fillable(
        self, account: int, side: int, qty: int, price: int | None, stp: int
    ) -> tuple[int, int]:
        """Return ``(lots, ticks x lots)`` an order could take now, without changing anything.

        Self-trade prevention is honoured: matching stops at an own order under
        EXPIRE_TAKER/EXPIRE_BOTH and skips it under EXPIRE_MAKER.
        """
        got = quote = 0
        for px, level in self._opposite_levels(side, price):
            for chunk, order in level.queue():
                take = min(chunk, qty - got)
                got += take
                quote += take * px
                if got == qty:
                    return got, quote
                if order is None:
                    continue
                if order.account == account and stp != STP_NONE:
                    if stp == STP_EXPIRE_MAKER:
                        continue
                    return got, quote
                take = min(order.remaining, qty - got)
                got += take
                quote += take * px
                if got == qty:
                    return got, quote
        return got, quote

    # --- participant requests --------------------------------------------------------------
    def submit(
        self,
        account: int,
        side: int,
        qty: int,
        price: int | None = None,
        *,
        order_type: int = OT_LIMIT,
        tif: int = 0,
        stp: int = STP_EXPIRE_TAKER,
    ) -> tuple[Order, list[Report]]:
        """Accept, match and (if it rests) book a new order; return it and its reports.

        A post-only (``TIF_GTX``) order that would take gets one REJECTED report with reason
        :data:`WOULD_MATCH` and no order id. A FOK order that cannot fill completely is
        accepted and expires untouched. Market and IOC orders expire what they cannot fill.
        """
        if side not in (BUY, SELL):
            raise EngineError(f"side must be BUY or SELL, got {side}")
        if qty <= 0:
            raise EngineError(f"quantity must be positive, got {qty}")
        if order_type == OT_MARKET:
            price = None
        elif price is None:
            raise EngineError("a limit order needs a price")
        self._seq += 1
        if order_type != OT_MARKET and tif == TIF_GTX and self.would_take(side, price or 0):
            order = Order(NO_ID, account, side, price, qty, order_type, tif, stp, self._seq)
            order.status = REJECTED
            return order, [self._report(order, REJECTED, reason=WOULD_MATCH)]
        order = Order(
            self.next_order_id, account, side, price, qty, order_type, tif, stp, self._seq
        )
        self.next_order_id += 1
        reports = [self._report(order, NEW)]
        if tif == TIF_FOK and self.fillable(account, side, qty, price, stp)[0] < qty:
            order.status = EXPIRED
            reports.append(self._report(order, EXPIRED))
            return order, reports
        self._take(order, reports)
        if order.status in OPEN_STATUSES and order.remaining:
            if order_type == OT_MARKET or tif in (TIF_IOC, TIF_FOK):
                order.status = EXPIRED
                reports.append(self._report(order, EXPIRED))
            else:
                self._rest(order)
        return order, reports

    def cancel(self, order_id: int) -> Report:
        """Cancel an open order; raise :class:`EngineError` when it is not open."""
        order = self._open(order_id)
        self._unlink(order)
        order.status = CANCELED
        return self._report(order, CANCELED)

    def cancel_all(self, account: int) -> list[Report]:
        """Cancel every open order of ``account``, oldest first."""
        ids = sorted(o.order_id for o in self.orders.values() if o.account == account)
        return [self.cancel(i) for i in ids]

    def amend_down(self, order_id: int, new_qty: int) -> Report:
        """Reduce an open order's total quantity, keeping its queue priority.

        ``new_qty`` must be below the current quantity and above what has filled.
        """
        order = self._open(order_id)
        if not order.filled < new_qty < order.qty:
            raise EngineError(
                f"new quantity {new_qty} must be below {order.qty} and above the filled "
                f"{order.filled}"
            )
        level = self._side(order.side == BUY)[order.price]
        level.own -= order.qty - new_qty
        order.qty = new_qty
        self._changed[(order.side == BUY, level.price)] = None
        return self._report(order, REPLACED)

    def order(self, order_id: int) -> Order | None:
        """Return an open order by id, or None."""
        return self.orders.get(order_id)

    # --- recorded market -------------------------------------------------------------------
    def update_recorded(self, rows: Iterable[tuple[bool, int, int]]) -> list[Report]:
        """Apply one feed message of absolute recorded sizes ``(is_bid, price, lots)``.

        Decreases are applied before increases; an increase that crosses participant orders
        trades against them first. Return the participants' reports.
        """
        latest = {(is_bid, px): qty for is_bid, px, qty in rows}
        depleted = self._depleted
        changed = self._changed
        bids, asks = self.bids, self.asks
        ups: list[tuple[bool, int, int]] = []
        for key, qty in latest.items():
            is_bid, px = key
            d = 0
            if depleted:
                d = depleted.get(key, 0)
                if d > qty:
                    d = qty
                    if d:
                        depleted[key] = d
                    else:
                        del depleted[key]
            side = bids if is_bid else asks
            level = side.get(px)
            if level is None:
                if qty > d:
                    ups.append((is_bid, px, qty - d))
                continue
            delta = qty - d - level.recorded
            if delta < 0:
                changed[key] = None
                if level.orders:
                    self._shrink(level, -delta)
                elif qty == d:
                    del side[px]  # a level of recorded lots only, now empty
                    continue
                else:
                    level.recorded += delta
                    level.tail += delta
                if not level.recorded and not level.own:
                    del side[px]
            elif delta > 0:
                ups.append((is_bid, px, delta))
        reports: list[Report] = []
        # only participant orders can cross a recorded increase (the recording itself is
        # uncrossed once a message is applied), so look for them only when some rest
        cross = bool(self.orders)
        for is_bid, px, delta in ups:
            taken = self._recorded_cross(is_bid, px, delta, reports) if cross else 0
            if taken:
                depleted[(is_bid, px)] = depleted.get((is_bid, px), 0) + taken
            if delta > taken:
                side = bids if is_bid else asks
                level = side.get(px)
                if level is None:
                    level = side[px] = Level(px)
                level.recorded += delta - taken
                level.tail += delta - taken
                changed[(is_bid, px)] = None
        return reports

    def reset_recorded(self, rows: Iterable[tuple[bool, int, int]]) -> list[Report]:
        """Replace the whole recorded book with a snapshot (levels not listed become empty)."""
        listed = {(b, p): q for b, p, q in rows}
        for is_bid, side in ((True, self.bids), (False, self.asks)):
            for px, level in side.items():
                if level.recorded:
                    listed.setdefault((is_bid, px), 0)
        for key in self._depleted:
            listed.setdefault(key, 0)
        return self.update_recorded((b, p, q) for (b, p), q in listed.items())

    def recorded_size(self, is_bid: bool, price: int) -> int:
        """Return the recorded lots resting at ``price`` (without participant orders)."""
        level = (self.bids if is_bid else self.asks).get(price)
        return level.recorded if level is not None else 0

    def recorded_trade(self, taker_side: int, price: int, qty: int) -> list[Report]:
        """Apply a recorded trade: ``qty`` lots at ``price``, aggressor ``taker_side``.

        Participant orders priced better than ``price`` fill first (the trade went through
        them), then the queue at ``price`` from the front, up to ``qty`` lots in all.
        """
        reports: list[Report] = []
        makers_bid = taker_side != BUY
        side = self._side(makers_bid)
        if makers_bid:
            prices = list(side.irange(minimum=price, reverse=True))
        else:
            prices = list(side.irange(maximum=price))
        budget = qty
        for px in prices:
            if not budget:
                break
            level = side[px]
            if px == price:
                key = (makers_bid, px)
                used = min(self._depleted.get(key, 0), budget)
                if used:
                    self._depleted[key] -= used
                    if not self._depleted[key]:
                        del self._depleted[key]
                    budget -= used
                budget = self._consume(level, makers_bid, budget, None, reports)
            else:
                budget = self._through(level, budget, reports)
            self._drop_if_empty(makers_bid, level)
        return reports

    # --- internals -------------------------------------------------------------------------
    def _side(self, is_bid: bool) -> SortedDict:
        return self.bids if is_bid else self.asks

    def _open(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise EngineError(f"order {order_id} is not open")
        return order

    def _opposite_levels(self, side: int, price: int | None) -> Iterator[tuple[int, Level]]:
        """Yield the opposite side's levels a taker at ``price`` reaches, best first."""
        if side == BUY:
            book = self.asks
            keys = book.irange(maximum=price) if price is not None else iter(book)
        else:
            book = self.bids
            keys = book.irange(minimum=price, reverse=True) if price is not None else reversed(book)
        for px in keys:
            yield px, book[px]

    def _take(self, taker: Order, reports: list[Report]) -> None:
        """Match an incoming order against the opposite side within its limit."""
        makers_bid = taker.side != BUY
        side = self._side(makers_bid)
        limit = taker.price
        while taker.remaining and side and taker.status in OPEN_STATUSES:
            px, level = side.peekitem(-1 if makers_bid else 0)
            if limit is not None and ((px < limit) if makers_bid else (px > limit)):
                break
            self._consume(level, makers_bid, taker.remaining, taker, reports)
            self._drop_if_empty(makers_bid, level)

    def _consume(
        self, level: Level, is_bid: bool, budget: int, taker: Order | None, reports: list[Report]
    ) -> int:
        """Take up to ``budget`` lots from the front of a level; return what is left.

        ``taker`` None is the recorded market: its trade consumes recorded chunks without
        fills and fills participant orders. A participant taker fills against both and
        remembers the recorded lots it took as depleted.
        """
        key = (is_bid, level.price)
        i = 0
        while budget:
            orders = level.orders
            last = i >= len(orders)
            chunk = level.tail if last else orders[i].ahead
            if chunk:
                take = min(chunk, budget)
                if last:
                    level.tail -= take
                else:
                    orders[i].ahead -= take
                level.recorded -= take
                budget -= take
                self._changed[key] = None
                if taker is not None:
                    self._depleted[key] = self._depleted.get(key, 0) + take
                    self._fill(level.price, take, None, taker, reports)
            if last or not budget:
                break
            maker = orders[i]
            if taker is not None and maker.account == taker.account and taker.stp != STP_NONE:
                if taker.stp in (STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
                    self._unlink(maker)
                    maker.status = EXPIRED_IN_MATCH
                    reports.append(self._report(maker, TRADE_PREVENTION))
                if taker.stp in (STP_EXPIRE_TAKER, STP_EXPIRE_BOTH):
                    taker.status = EXPIRED_IN_MATCH
                    reports.append(self._report(taker, TRADE_PREVENTION))
                    return 0
                continue
            take = min(maker.remaining, budget)
            level.own -= take
            budget -= take
            self._changed[key] = None
            self._fill(level.price, take, maker, taker, reports)
            if not maker.remaining:
                self._unlink(maker)
            else:
                i += 1
        return budget

    def _through(self, level: Level, budget: int, reports: list[Report]) -> int:
        """Fill a level's participant orders for recorded flow priced through it."""
        while budget and level.orders:
            maker = level.orders[0]
            take = min(maker.remaining, budget)
            level.own -= take
            budget -= take
            self._changed[(maker.side == BUY, level.price)] = None
            self._fill(level.price, take, maker, None, reports)
            if not maker.remaining:
                self._unlink(maker)
        return budget

    def _recorded_cross(self, is_bid: bool, price: int, qty: int, reports: list[Report]) -> int:
        """Trade a recorded size increase against crossing participant orders; return lots used."""
        side = self._side(not is_bid)
        if not side:
            return 0
        best = side.peekitem(0 if is_bid else -1)[0]
        if (best > price) if is_bid else (best < price):
            return 0
        prices = list(
            side.irange(maximum=price) if is_bid else side.irange(minimum=price, reverse=True)
        )
        left = qty
        for px in prices:
            if not left:
                break
            level = side[px]
            if level.orders:
                left = self._through(level, left, reports)
                self._drop_if_empty(not is_bid, level)
        return qty - left

    def _fill(
        self, price: int, qty: int, maker: Order | None, taker: Order | None, reports: list[Report]
    ) -> None:
        if taker is not None:
            taker_side = taker.side
        else:
            taker_side = SELL if maker is not None and maker.side == BUY else BUY
        fill = Fill(
            trade_id=self.next_trade_id,
            price=price,
            qty=qty,
            taker_side=taker_side,
            maker_account=maker.account if maker is not None else RECORDED,
            maker_order=maker.order_id if maker is not None else NO_ID,
            taker_account=taker.account if taker is not None else RECORDED,
            taker_order=taker.order_id if taker is not None else NO_ID,
            maker_fee=self._commission(price, qty, self.fees.maker, taker_side != BUY),
            taker_fee=self._commission(price, qty, self.fees.taker, taker_side == BUY),
        )
        self.next_trade_id += 1
        for order, is_maker in ((maker, True), (taker, False)):
            if order is None:
                continue
            order.filled += qty
            order.quote += qty * price
            order.status = FILLED if not order.remaining else PARTIALLY_FILLED
            reports.append(self._report(order, TRADE, fill=fill, is_maker=is_maker))

    def _commission(self, price: int, qty: int, rate: Decimal, is_buyer: bool) -> Decimal:
        if is_buyer and self.fees.buyer_fee_in_base:
            return qty * self.lot * rate
        return price * qty * self.notional_unit * rate

    def _rest(self, order: Order) -> None:
        is_bid = order.side == BUY
        side = self._side(is_bid)
        price = order.price
        if price is None:
            raise EngineError("a market order cannot rest")
        level = side.get(price)
        if level is None:
            level = side[price] = Level(price)
        order.ahead = level.tail
        level.tail = 0
        level.orders.append(order)
        level.own += order.remaining
        self.orders[order.order_id] = order
        self._changed[(is_bid, price)] = None

    def _unlink(self, order: Order) -> None:
        """Take a resting order out of its level; its recorded chunk moves to the next one."""
        is_bid = order.side == BUY
        side = self._side(is_bid)
        level = side[order.price]
        idx = level.orders.index(order)
        del level.orders[idx]
        if idx < len(level.orders):
            level.orders[idx].ahead += order.ahead
        else:
            level.tail += order.ahead
        order.ahead = 0
        level.own -= order.remaining
        self.orders.pop(order.order_id, None)
        self._changed[(is_bid, level.price)] = None
        if not level.total:
            del side[level.price]

    def _shrink(self, level: Level, qty: int) -> None:
        """Remove recorded lots from the back of the queue (risk-averse)."""
        level.recorded -= qty
        take = min(level.tail, qty)
        level.tail -= take
        qty -= take
        for order in reversed(level.orders):
            if not qty:
                break
            take = min(order.ahead, qty)
            order.ahead -= take
            qty -= take

    def _drop_if_empty(self, is_bid: bool, level: Level) -> None:
        side = self._side(is_bid)
        if not level.total and side.get(level.price) is level:
            del side[level.price]

    def _report(
        self,
        order: Order,
        exec_type: str,
        *,
        fill: Fill | None = None,
        is_maker: bool = False,
        reason: str = "",
    ) -> Report:
        return Report(
            order,
            exec_type,
            order.status,
            order.qty,
            order.filled,
            order.quote,
            fill,
            is_maker,
            reason,
        )

"""Binance order entry and account queries, with the outcome policy applied.

:class:`BinanceExecution` turns :class:`~hftlib.venue.interface.OrderRequest` values into
signed requests and the venue's answers into :class:`~hftlib.venue.interface.OrderUpdate`
values. New orders, cancels and spot cancel-replaces go over the WS API
(:class:`~hftlib.venues.binance.ws.orders.WsOrderSession`, when :attr:`BinanceExecution.ws`
is set and its socket is up), else over REST; queries always go over REST. Both transports
raise the same exceptions, so one outcome policy covers them. ``begin_submit`` /
``begin_cancel`` / ``begin_modify`` return once a WS request is written, with the awaitable
of its outcome (the live runner writes from the task that read the market message).

Outcome policy (STYLE §3.16)
----------------------------
- ``ST_REJECTED`` only when the venue refused the request explicitly (an error code with
  :class:`~hftlib.venues.binance.errors.Action` ``REJECT``, ``REQUEST`` or ``CLOCK``: a -1021
  order did not run; the clock is resynced for the next one), or, from a query, when the
  venue says it has no such order (-2013 / -2011 / -2026: it never got on the book).
- ``ST_UNKNOWN`` for a timeout, a dropped connection, HTTP 5xx, -1007 and the other
  "execution status unknown" codes, and a 429 on a new order: the order stays in flight
  until :meth:`BinanceExecution.query_order` or the user-data stream settles it. New orders
  and cancel-replaces are never retried; cancels and queries are (see ``http/client.py``).
- an IP ban (418) and refused credentials raise
  :class:`~hftlib.venue.errors.VenueRateLimitError` / ``VenueAuthError``: they are not
  order outcomes.

Fills
-----
Every fill reaches :class:`UpdateFeed` (the venue's ``order_updates()`` stream) exactly once,
identified by ``(venue_order_id, trade_id)``: the fills of a FULL / RESULT response go there
and the stream's copies of them are dropped, or the other way round. The update returned by
``submit``/``modify`` is the order's state after the request (status, cumulative
``filled_lots``, ``avg_price``) with no fill fields, so a caller never applies a fill twice.

Modify
------
Spot: ``order.cancelReplace`` (WS API) or ``POST /api/v3/order/cancelReplace``
(``STOP_ON_FAILURE``: the new order is only placed if the cancel succeeded). USD-M: cancel,
then a new order. Binance USD-M does offer ``PUT /fapi/v1/order`` (amend price and
quantity), but it keeps the order's client id while :meth:`Venue.modify` gives the
replacement a new one, and an amended order loses its queue place anyway; cancel + new keeps
one id per order version.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Final

import msgspec
from hftlib.venues.binance import account as ac
from hftlib.venues.binance import orders as od
from hftlib.venues.binance.constants import VENUE_NAMES, Market
from hftlib.venues.binance.enums import SIDE_NAMES, order_params
from hftlib.venues.binance.errors import Action, BinanceMessageError
from hftlib.venues.binance.http.client import BinanceApiError, BinanceHttp
from hftlib.venues.binance.schemas import FuturesBalance
from hftlib.venues.binance.ws.orders import WsOrderSession

from hftlib.engine.types import OT_LIMIT, ST_CANCELED, ST_REJECTED, ST_UNKNOWN, TIF_GTC
from hftlib.instrument import Instrument
from hftlib.venue.errors import (
    VenueAuthError,
    VenueConnectionError,
    VenueRateLimitError,
    VenueTimeoutError,
)
from hftlib.venue.interface import Balance, OrderRequest, OrderUpdate, Position

MAX_SEEN_FILLS: Final = 200_000
_NOT_ATTEMPTED: Final = "NOT_ATTEMPTED"
_NULL: Final = msgspec.Raw(b"null")


class _CancelReplace(msgspec.Struct):
    cancelResult: str  # noqa: N815 - the venue's field names
    newOrderResult: str  # noqa: N815
    cancelResponse: msgspec.Raw = _NULL  # noqa: N815
    newOrderResponse: msgspec.Raw = _NULL  # noqa: N815


class _CancelReplaceError(msgspec.Struct):
    code: int
    msg: str
    data: _CancelReplace | None = None


class _FuturesAccount(msgspec.Struct):
    assets: list[FuturesBalance]


_CR: Final = msgspec.json.Decoder(_CancelReplace)
_CR_ERROR: Final = msgspec.json.Decoder(_CancelReplaceError)
_ERROR_BODY: Final = msgspec.json.Decoder(od.sc.ErrorBody)
_FUT_ACCOUNT: Final = msgspec.json.Decoder(_FuturesAccount)


def lots_text(lots: int, instrument: Instrument) -> str:
    """Return ``lots`` as the venue's decimal quantity string (exact, no float noise)."""
    return _decimal_text(lots, instrument.lot_size)


def ticks_text(ticks: int, instrument: Instrument) -> str:
    """Return ``ticks`` as the venue's decimal price string."""
    return _decimal_text(ticks, instrument.tick_size)


def _decimal_text(units: int, step: float) -> str:
    places = _decimal_places(step)
    if places > 0 and units >= 0:
        # a step of 10**-places: integer arithmetic gives Decimal's text, several times faster
        whole, frac = divmod(units, 10**places)
        return f"{whole}.{frac:0{places}d}"
    return f"{Decimal(units) * Decimal(repr(step)):f}"


@functools.lru_cache(maxsize=256)
def _decimal_places(step: float) -> int:
    """Return ``d`` when ``step`` is exactly ``10**-d`` (d >= 1) as written, else 0."""
    sign, digits, exponent = Decimal(repr(step)).as_tuple()
    if sign == 0 and digits == (1,) and isinstance(exponent, int) and exponent < 0:
        return -exponent
    return 0


async def _ready(update: OrderUpdate) -> OrderUpdate:
    return update


def strip_fill(update: OrderUpdate) -> OrderUpdate:
    """Return ``update`` without its fill fields (the fill travels on the update feed)."""
    if update.trade_id < 0:
        return update
    return msgspec.structs.replace(
        update, last_fill_lots=0, last_fill_ticks=0, fee=0.0, fee_asset="", trade_id=-1, maker=False
    )


class UpdateFeed:
    """The order-update stream: fills once each, by ``(venue_order_id, trade_id)``."""

    def __init__(self, max_seen: int = MAX_SEEN_FILLS) -> None:
        import asyncio  # the feed is an asyncio queue; imported here to keep the module light

        self.queue: asyncio.Queue[OrderUpdate | BaseException] = asyncio.Queue()
        self.counts: Counter[str] = Counter()
        self.max_seen = max_seen
        self._seen: set[tuple[str, int]] = set()
        self._order: deque[tuple[str, int]] = deque()

    def seen(self, venue_order_id: str, trade_id: int) -> bool:
        """True when that fill was already put on the feed."""
        return (venue_order_id, trade_id) in self._seen

    def put(self, update: OrderUpdate) -> bool:
        """Queue ``update``; return False for a fill that was already queued."""
        if update.trade_id >= 0:
            key = (update.venue_order_id, update.trade_id)
            if key in self._seen:
                self.counts["fill.duplicate"] += 1
                return False
            self._seen.add(key)
            self._order.append(key)
            if len(self._order) > self.max_seen:
                self._seen.discard(self._order.popleft())
            self.counts["fill"] += 1
        self.queue.put_nowait(update)
        return True

    def fail(self, exc: BaseException) -> None:
        """Make the consumer raise ``exc`` (the user-data stream stopped for good)."""
        self.queue.put_nowait(exc)


class BinanceExecution:
    """Order entry and queries of one Binance market account.

    Parameters
    ----------
    http : BinanceHttp
        The signed REST client.
    instruments : mapping
        Symbol -> instrument of every tradable symbol.
    assets : mapping
        Symbol -> base/quote assets (from exchangeInfo), to name fee assets.
    feed : UpdateFeed
        Where fills and stream updates go.
    """

    def __init__(
        self,
        http: BinanceHttp,
        instruments: Mapping[str, Instrument],
        assets: Mapping[str, od.Assets],
        feed: UpdateFeed,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.http = http
        self.market = http.market
        self.venue = VENUE_NAMES[self.market]
        self.instruments = instruments
        self.assets = assets
        self.feed = feed
        self.clock_ns = clock_ns
        self.counts: Counter[str] = Counter()
        self.requests: dict[str, OrderRequest] = {}
        """Our orders by client id (a modify needs the side and time in force)."""
        self.client_ids: dict[str, str] = {}
        """Venue order id -> client id, for fill records that carry only the former."""
        self.ws: WsOrderSession | None = None
        """The WS API order session (spot), used while it is up; REST otherwise."""

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument of ``symbol`` (ValueError for one this venue does not trade)."""
        try:
            return self.instruments[symbol]
        except KeyError:
            raise ValueError(f"{self.venue} has no instrument {symbol!r}") from None

    # --- order entry ------------------------------------------------------------------------

    def new_order_params(self, request: OrderRequest) -> dict[str, object]:
        """Return the REST parameters of a new order."""
        inst = self.instrument(request.symbol)
        params: dict[str, object] = {"symbol": request.symbol, "side": SIDE_NAMES[request.side]}
        params.update(order_params(self.market, request.order_type, request.tif))
        params["quantity"] = lots_text(request.qty_lots, inst)
        if request.order_type == OT_LIMIT:
            params["price"] = ticks_text(request.price_ticks, inst)
        params["newClientOrderId"] = request.client_id
        if self.market == Market.SPOT:
            params["newOrderRespType"] = "FULL"
        else:
            params["newOrderRespType"] = "RESULT"
            if request.reduce_only:
                params["reduceOnly"] = "true"
        return params

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Send a new order; return its state, an explicit rejection or an unknown outcome."""
        return await (await self.begin_submit(request))

    async def begin_submit(self, request: OrderRequest) -> Awaitable[OrderUpdate]:
        """Send a new order; return, once it is written, the awaitable of its outcome.

        Over the WS API the request's bytes are on the socket when this returns (the caller
        may wait for the answer elsewhere); over REST nothing is sent until the returned
        awaitable runs.
        """
        params = self.new_order_params(request)
        self.requests[request.client_id] = request
        symbol, cid = request.symbol, request.client_id
        ws = self.ws
        if ws is None or not ws.up:
            return self._submitted(symbol, cid, self.http.call("newOrder", params, signed=True))
        try:
            future = await ws.send("order.place", params)
        except VenueConnectionError as exc:
            return _ready(self._unknown(symbol, cid, str(exc)))
        except VenueRateLimitError as exc:
            if exc.banned:
                raise
            return _ready(self._unknown(symbol, cid, str(exc)))
        return self._submitted(symbol, cid, ws.result(future))

    async def _submitted(self, symbol: str, cid: str, answer: Awaitable[bytes]) -> OrderUpdate:
        try:
            raw = await answer
        except BinanceApiError as exc:
            return self._refused(symbol, cid, exc)
        except (VenueTimeoutError, VenueConnectionError) as exc:
            return self._unknown(symbol, cid, str(exc))
        except VenueRateLimitError as exc:
            if exc.banned:
                raise
            return self._unknown(symbol, cid, str(exc))
        return self._response(symbol, raw)

    async def cancel(self, symbol: str, client_id: str) -> OrderUpdate:
        """Cancel one order by client id; a not-found cancel returns the order's query."""
        return await (await self.begin_cancel(symbol, client_id))

    async def begin_cancel(self, symbol: str, client_id: str) -> Awaitable[OrderUpdate]:
        """Send a cancel; return, once it is written, the awaitable of its outcome."""
        params: dict[str, object] = {"symbol": symbol, "origClientOrderId": client_id}
        ws = self.ws
        if ws is None or not ws.up:
            return self._cancelled(symbol, client_id, self.http.call("cancel", params, signed=True))
        try:
            future = await ws.send("order.cancel", params)
        except VenueConnectionError as exc:
            return _ready(self._unknown(symbol, client_id, str(exc)))
        return self._cancelled(symbol, client_id, ws.result(future))

    async def _cancelled(
        self, symbol: str, client_id: str, answer: Awaitable[bytes]
    ) -> OrderUpdate:
        try:
            raw = await answer
        except BinanceApiError as exc:
            if exc.info.action in (Action.NOT_FOUND, Action.REJECT):
                return await self.query_order(symbol, client_id)
            return self._refused(symbol, client_id, exc)
        except (VenueTimeoutError, VenueConnectionError) as exc:
            return self._unknown(symbol, client_id, str(exc))
        return self._response(symbol, raw)

    async def modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> OrderUpdate:
        """Replace an order (spot cancel-replace; USD-M cancel then new)."""
        return await (
            await self.begin_modify(symbol, client_id, new_client_id, price_ticks, qty_lots)
        )

    async def begin_modify(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> Awaitable[OrderUpdate]:
        """Send a replace; return, once it is written, the awaitable of its outcome.

        Only a spot cancel-replace over the WS API is written before this returns; the other
        cases (USD-M cancel then new, an order placed before a restart, REST) run in the
        returned awaitable.
        """
        old = self.requests.get(client_id)
        ws = self.ws
        if old is None or self.market == Market.USDM or ws is None or not ws.up:
            return self._modify_rest(symbol, client_id, new_client_id, price_ticks, qty_lots)
        new = msgspec.structs.replace(
            old, client_id=new_client_id, price_ticks=price_ticks, qty_lots=qty_lots
        )
        params = self._replace_params(new, client_id)
        try:
            future = await ws.send("order.cancelReplace", params)
        except VenueConnectionError as exc:
            return _ready(self._unknown(symbol, new_client_id, str(exc)))
        except VenueRateLimitError as exc:
            if exc.banned:
                raise
            return _ready(self._unknown(symbol, new_client_id, str(exc)))
        return self._replaced(symbol, new_client_id, ws.result(future))

    def _replace_params(self, new: OrderRequest, client_id: str) -> dict[str, object]:
        params = self.new_order_params(new)
        params["cancelReplaceMode"] = "STOP_ON_FAILURE"
        params["cancelOrigClientOrderId"] = client_id
        self.requests[new.client_id] = new
        return params

    async def _modify_rest(
        self, symbol: str, client_id: str, new_client_id: str, price_ticks: int, qty_lots: int
    ) -> OrderUpdate:
        old = self.requests.get(client_id)
        if old is None:
            known = await self.query_order(symbol, client_id)
            if not known.venue_order_id:
                return msgspec.structs.replace(
                    known, client_id=new_client_id, reason=f"not sent: {client_id} {known.reason}"
                )
            # not ours (placed before a restart): the query says side, size and price; a
            # time in force it does not say reads as GTC
            old = OrderRequest(
                symbol=symbol, client_id=client_id, side=known.side, qty_lots=known.qty_lots,
                price_ticks=known.price_ticks, tif=TIF_GTC,
            )  # fmt: skip
        new = msgspec.structs.replace(
            old, client_id=new_client_id, price_ticks=price_ticks, qty_lots=qty_lots
        )
        if self.market == Market.USDM:
            cancelled = await self.cancel(symbol, client_id)
            if cancelled.status != ST_CANCELED:
                return OrderUpdate(
                    symbol=symbol, client_id=new_client_id, status=ST_REJECTED,
                    local_ts=self.clock_ns(),
                    reason=f"not sent: the cancel of {client_id} ended with status "
                    f"{cancelled.status} ({cancelled.reason})",
                )  # fmt: skip
            return await self.submit(new)
        params = self._replace_params(new, client_id)
        return await self._replaced(
            symbol, new_client_id, self.http.call("cancelReplace", params, signed=True)
        )

    async def _replaced(
        self, symbol: str, new_client_id: str, answer: Awaitable[bytes]
    ) -> OrderUpdate:
        try:
            raw = await answer
        except BinanceApiError as exc:
            return self._replace_failed(symbol, new_client_id, exc)
        except (VenueTimeoutError, VenueConnectionError) as exc:
            return self._unknown(symbol, new_client_id, str(exc))
        except VenueRateLimitError as exc:
            if exc.banned:
                raise
            return self._unknown(symbol, new_client_id, str(exc))
        result = _CR.decode(raw)
        if bytes(result.newOrderResponse) == b"null":
            raise BinanceMessageError(self.venue, "cancelReplace", "$.newOrderResponse", "missing")
        return self._response(symbol, bytes(result.newOrderResponse))

    async def cancel_all(self, symbol: str) -> list[OrderUpdate]:
        """Cancel every open order on ``symbol``; return the cancelled orders."""
        if self.market == Market.USDM:
            opened = await self.open_orders(symbol)
            await self.http.call("cancelAll", {"symbol": symbol}, signed=True)
            now = self.clock_ns()
            return [
                msgspec.structs.replace(u, status=ST_CANCELED, local_ts=now, reason="cancel all")
                for u in opened
            ]
        try:
            raw = await self.http.call("cancelAll", {"symbol": symbol}, signed=True)
        except BinanceApiError as exc:
            if exc.info.action == Action.NOT_FOUND:  # -2011: no open order on the symbol
                return []
            raise
        inst = self.instrument(symbol)
        local = self.clock_ns()
        return [
            od.order_updates(o, inst, local, self.assets.get(symbol))[-1]
            for o in od.decode_orders(raw, self.market)
        ]

    # --- queries ----------------------------------------------------------------------------

    async def query_order(
        self, symbol: str, client_id: str = "", venue_order_id: str = ""
    ) -> OrderUpdate:
        """Return the venue's view of one order; not found gives ``ST_REJECTED``."""
        params: dict[str, object] = {"symbol": symbol}
        if venue_order_id:
            params["orderId"] = venue_order_id
        else:
            params["origClientOrderId"] = client_id
        try:
            raw = await self.http.call("queryOrder", params, signed=True)
        except BinanceApiError as exc:
            if exc.info.action == Action.NOT_FOUND:
                return OrderUpdate(
                    symbol=symbol, client_id=client_id, status=ST_REJECTED,
                    venue_order_id=venue_order_id, local_ts=self.clock_ns(),
                    reason=f"not found: {exc.code} {exc.msg}",
                )  # fmt: skip
            raise
        return self._response(symbol, raw)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Return the open orders, of one symbol or all (symbols we trade)."""
        if symbol is None:
            raw = await self.http.call("openOrdersAll", signed=True)
        else:
            raw = await self.http.call("openOrders", {"symbol": symbol}, signed=True)
        local = self.clock_ns()
        out = []
        for order in od.decode_orders(raw, self.market):
            inst = self.instruments.get(order.symbol)
            if inst is None:
                self.counts["open_order.other_symbol"] += 1
                continue
            (update,) = od.order_updates(order, inst, local, self.assets.get(order.symbol))
            self.client_ids[update.venue_order_id] = update.client_id
            out.append(update)
        return out

    async def balances(self) -> list[Balance]:
        """Return the non-zero balances."""
        raw = await self.http.call("balances", signed=True)
        if self.market == Market.SPOT:
            return ac.spot_balances(raw)
        try:
            assets = _FUT_ACCOUNT.decode(raw).assets
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BinanceMessageError(self.venue, "account", "$", str(exc)) from None
        return ac.futures_balances(msgspec.json.encode(assets))

    async def positions(self) -> list[Position]:
        """Return the open USD-M positions (empty on spot)."""
        if self.market == Market.SPOT:
            return []
        raw = await self.http.call("positions", signed=True)
        found, unknown = ac.positions(raw, self.instruments)
        self.counts["position.other_symbol"] += len(unknown)
        return found

    async def recent_fills(self, symbol: str, since_ns: int) -> list[OrderUpdate]:
        """Return the account's fills on ``symbol`` since ``since_ns`` (fill records)."""
        inst = self.instrument(symbol)
        params = {"symbol": symbol, "startTime": max(0, since_ns) // 1_000_000, "limit": 1000}
        raw = await self.http.call("trades", params, signed=True)
        local = self.clock_ns()
        out = []
        for trade in od.decode_account_trades(raw, self.market):
            update = od.account_trade_update(trade, inst, local, self.assets.get(symbol))
            if update.exch_ts < since_ns:
                continue
            client_id = self.client_ids.get(update.venue_order_id, "")
            out.append(msgspec.structs.replace(update, client_id=client_id))
        return out

    async def reconcile(self, symbols: list[str], since_ns: int) -> int:
        """Put what the user-data stream may have missed on the feed; return how many.

        The open orders' states, and every fill since ``since_ns`` not yet on the feed, with
        its order's client id and current status from a query.
        """
        put = 0
        for symbol in symbols:
            for update in await self.open_orders(symbol):
                put += self.feed.put(update)
            missed = [
                f
                for f in await self.recent_fills(symbol, since_ns)
                if not self.feed.seen(f.venue_order_id, f.trade_id)
            ]
            states: dict[str, OrderUpdate] = {}
            for fill in missed:
                state = states.get(fill.venue_order_id)
                if state is None:
                    state = await self.query_order(symbol, venue_order_id=fill.venue_order_id)
                    states[fill.venue_order_id] = state
                put += self.feed.put(
                    msgspec.structs.replace(
                        fill,
                        client_id=state.client_id,
                        status=state.status,
                        price_ticks=state.price_ticks,
                        qty_lots=state.qty_lots,
                        filled_lots=state.filled_lots,
                        avg_price=state.avg_price,
                        reason="reconciled",
                    )
                )
        self.counts["reconciled"] += put
        return put

    # --- answers ----------------------------------------------------------------------------

    def _response(self, symbol: str, raw: bytes) -> OrderUpdate:
        inst = self.instrument(symbol)
        updates = od.order_updates(
            od.decode_order(raw, self.market), inst, self.clock_ns(), self.assets.get(symbol)
        )
        for update in updates:
            if update.trade_id >= 0:
                self.feed.put(update)
        last = updates[-1]
        self.client_ids[last.venue_order_id] = last.client_id
        return strip_fill(last)

    def _unknown(self, symbol: str, client_id: str, why: str) -> OrderUpdate:
        self.counts["unknown"] += 1
        return OrderUpdate(
            symbol=symbol,
            client_id=client_id,
            status=ST_UNKNOWN,
            local_ts=self.clock_ns(),
            reason=f"outcome unknown: {why}",
        )

    def _refused(self, symbol: str, client_id: str, exc: BinanceApiError) -> OrderUpdate:
        action = exc.info.action
        if action == Action.UNKNOWN or action == Action.RATE_LIMIT:
            return self._unknown(
                symbol, client_id, f"{exc.code} {exc.msg} (HTTP {exc.http_status})"
            )
        if action == Action.AUTH:
            raise VenueAuthError(self.venue, f"{exc.code} {exc.msg}") from exc
        self.counts["rejected"] += 1
        return OrderUpdate(
            symbol=symbol,
            client_id=client_id,
            status=ST_REJECTED,
            local_ts=self.clock_ns(),
            reason=f"{exc.code} {exc.msg}",
        )

    def _replace_failed(self, symbol: str, new_client_id: str, exc: BinanceApiError) -> OrderUpdate:
        try:
            body = _CR_ERROR.decode(exc.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            body = None
        data = body.data if body is not None else None
        if data is None:
            return self._refused(symbol, new_client_id, exc)
        if data.newOrderResult == "SUCCESS":
            return self._response(symbol, bytes(data.newOrderResponse))
        why = f"{exc.code} {exc.msg}"
        if data.newOrderResult == _NOT_ATTEMPTED:
            why = f"{why}: the cancel failed, the new order was not placed"
        else:
            try:
                err = _ERROR_BODY.decode(data.newOrderResponse)
                why = f"{err.code} {err.msg}"
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass
        self.counts["rejected"] += 1
        return OrderUpdate(
            symbol=symbol,
            client_id=new_client_id,
            status=ST_REJECTED,
            local_ts=self.clock_ns(),
            reason=why,
        )

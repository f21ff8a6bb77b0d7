"""The venue's state: one matching engine per symbol, accounts, orders, and what they publish.

Synchronous and free of I/O: the HTTP and WebSocket layers call the request methods (which
return Binance JSON shapes or raise :class:`ApiError`), the replay calls the ``apply_*``
methods, and everything that goes out on a stream is handed to a :class:`Sink` in the order
it happened. So one request or one recorded message is one atomic step, and the same inputs
give the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue import render
from hftlib.sim.binance_venue.accounts import FuturesAccount, SpotAccount
from hftlib.sim.binance_venue.config import AccountConfig, Market, VenueConfig
from hftlib.sim.binance_venue.history import select_trades
from hftlib.sim.binance_venue.modify import VenueEngine, check_modify
from hftlib.sim.binance_venue.orders import (
    OrderSpec,
    VenueOrder,
    int_param,
    parse_new_order,
    required,
    text,
)
from hftlib.sim.binance_venue.rules import SymbolRules, fmt_amount
from hftlib.sim.matching import (
    OPEN_STATUSES,
    RECORDED,
    EngineError,
    Fees,
    Fill,
    Report,
)

from hftlib.engine.types import BUY, SELL, TIF_FOK, TIF_GTX
from hftlib.instrument import Instrument

FIRST_UPDATE_ID = 1_000
TERMINAL = ("FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED")


class Sink(Protocol):
    """Where the venue's stream output goes (the stream hub, or a list in tests)."""

    def depth(
        self,
        symbol: str,
        first: int,
        last: int,
        prev: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        now_ms: int,
    ) -> None:
        """Publish one diff: levels whose public size changed (0 removes)."""

    def trade(
        self, symbol: str, trade_id: int, price: int, qty: int, buyer_maker: bool, now_ms: int
    ) -> None:
        """Publish one public trade."""

    def book_ticker(
        self,
        symbol: str,
        update_id: int,
        bid: tuple[int, int] | None,
        ask: tuple[int, int] | None,
        now_ms: int,
    ) -> None:
        """Publish a new best bid/offer."""

    def user(self, account: int, event: dict[str, Any]) -> None:
        """Deliver a user-data event to the account's subscriptions."""


class SymbolBook:
    """One symbol's engine, update ids and order records."""

    def __init__(self, rules: SymbolRules, fees: Fees) -> None:
        self.rules = rules
        self.engine = VenueEngine(fees, rules.notional_unit, rules.lot)
        self.update_id = FIRST_UPDATE_ID
        self.orders: dict[int, VenueOrder] = {}
        self.open_by_client: dict[tuple[int, str], VenueOrder] = {}
        self.top: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
        self.trades: dict[int, list[dict[str, Any]]] = {}
        self.last_price: int | None = None

    def mark(self) -> Decimal | None:
        """Return the mid price (or the last trade price) as a Decimal, None without either."""
        bid, ask = self.engine.best(True), self.engine.best(False)
        if bid is not None and ask is not None:
            mid: Decimal = (bid + ask) * self.rules.tick / 2
            return mid
        return self.rules.px_decimal(self.last_price) if self.last_price is not None else None


class Exchange:
    """The whole venue state.

    Parameters
    ----------
    instruments : Sequence[Instrument]
        The symbols traded (one engine each).
    market : {"spot", "usdm"}
        Wire format and account model.
    accounts : Sequence[AccountConfig]
        Trading accounts; ids are 1, 2, ... in this order.
    config : VenueConfig
        Venue rules (fees, minimum notional, self-trade default).
    clock_ms : Callable[[], int]
        The server clock, ms since the epoch.
    sink : Sink
        Receiver of stream output.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        market: Market,
        accounts: Sequence[AccountConfig],
        config: VenueConfig,
        clock_ms: Callable[[], int],
        sink: Sink,
    ) -> None:
        self.market = market
        self.config = config
        self.clock_ms = clock_ms
        self.sink = sink
        default_min = "5" if market == "spot" else "100"
        min_notional = Decimal(config.min_notional or default_min)
        self.books: dict[str, SymbolBook] = {}
        for inst in instruments:
            fees = Fees(
                Decimal(config.fee_maker or repr(inst.maker_fee)),
                Decimal(config.fee_taker or repr(inst.taker_fee)),
                buyer_fee_in_base=market == "spot",
            )
            self.books[inst.symbol] = SymbolBook(SymbolRules(inst, market, min_notional), fees)
        self.by_key: dict[str, AccountConfig] = {a.api_key: a for a in accounts}
        self.ids: dict[str, int] = {a.api_key: i for i, a in enumerate(accounts, start=1)}
        self.spot: dict[int, SpotAccount] = {}
        self.futures: dict[int, FuturesAccount] = {}
        margin_asset = next(iter(self.books.values())).rules.quote if self.books else "USDT"
        for i, acct in enumerate(accounts, start=1):
            if market == "spot":
                self.spot[i] = SpotAccount(i, acct)
            else:
                self.futures[i] = FuturesAccount.create(i, acct, margin_asset)
        self._exec_id = 0
        self._changed_accounts: dict[int, set[str]] = {}

    # --- lookups ---------------------------------------------------------------------------
    def book(self, params: Mapping[str, object]) -> SymbolBook:
        """Return the book of the ``symbol`` parameter; raise -1102/-1121."""
        symbol = required(params, "symbol")
        book = self.books.get(symbol.upper())
        if book is None:
            raise E.ApiError(E.BAD_SYMBOL, E.MSG_BAD_SYMBOL)
        return book

    def account_id(self, account: AccountConfig) -> int:
        """Return the id of an account config."""
        return self.ids[account.api_key]

    def find_order(
        self,
        book: SymbolBook,
        account: int,
        params: Mapping[str, object],
        *,
        missing_code: int,
        missing_msg: str,
    ) -> VenueOrder:
        """Return the account's order named by ``orderId`` or ``origClientOrderId``."""
        oid = text(params, "orderId")
        cid = text(params, "origClientOrderId")
        if oid is None and cid is None:
            raise E.ApiError(
                E.MANDATORY_PARAM,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        vo: VenueOrder | None = None
        if oid is not None:
            if not oid.isdigit():
                raise E.illegal("orderId", "^[0-9]{1,20}$")
            vo = book.orders.get(int(oid))
        else:
            vo = book.open_by_client.get((account, str(cid)))
            if vo is None:
                vo = next(
                    (
                        o
                        for o in reversed(book.orders.values())
                        if o.account == account and o.client_id == cid
                    ),
                    None,
                )
        if vo is None or vo.account != account:
            raise E.ApiError(missing_code, missing_msg)
        return vo

    # --- order entry -----------------------------------------------------------------------
    def new_order(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Place an order (``POST /order``, ``order.place``) and return Binance's answer."""
        book = self.book(params)
        spec = parse_new_order(params, book.rules, self.market, self.config.stp_default)
        return self.place(account, book, spec)

    def place(self, account: int, book: SymbolBook, spec: OrderSpec) -> dict[str, Any]:
        """Place a checked order; return the response dict."""
        now = self.clock_ms()
        engine = book.engine
        spot = self.market == "spot"
        client_id = spec.client_id or f"sim-{book.rules.symbol.lower()}-{engine.next_order_id}"
        if (account, client_id) in book.open_by_client:
            if spot:
                raise E.ApiError(E.NEW_ORDER_REJECTED, E.MSG_DUPLICATE)
            raise E.ApiError(E.DUPLICATE_CLIENT_ID, "ClientOrderId is duplicated.")
        if (
            spec.tif == TIF_GTX
            and spec.price is not None
            and engine.would_take(spec.side, spec.price)
        ):
            if spot:
                raise E.ApiError(E.NEW_ORDER_REJECTED, E.MSG_WOULD_TAKE)
            raise E.ApiError(E.GTX_REJECT, E.MSG_GTX)
        fillable, cost = engine.fillable(account, spec.side, spec.qty, spec.price, spec.stp)
        if not spot and spec.tif == TIF_FOK and fillable < spec.qty:
            raise E.ApiError(E.FOK_REJECT, E.MSG_FOK)
        lock_asset, lock = self._reserve(account, book, spec, cost)
        order, reports = engine.submit(
            account,
            spec.side,
            spec.qty,
            spec.price,
            order_type=spec.order_type,
            tif=spec.tif,
            stp=spec.stp,
        )
        vo = VenueOrder(
            book.rules.symbol,
            account,
            order,
            client_id,
            spec.type_name,
            spec.tif_name,
            now,
            now,
            spec.reduce_only,
            lock_asset,
            lock,
        )
        book.orders[order.order_id] = vo
        book.open_by_client[(account, client_id)] = vo
        self._settle(book, reports, publish_trades=True)
        if spot:
            mine = [r.fill for r in reports if r.order is order and r.fill is not None]
            answer: dict[str, Any] = render.spot_new_order(
                book.rules, vo, mine, spec.resp_type, now
            )
        else:
            # USD-M answers with the order's state after matching for ACK and RESULT alike
            answer = render.usdm_order(book.rules, vo)
        return answer

    def cancel_order(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Cancel one order (``DELETE /order``, ``order.cancel``)."""
        book = self.book(params)
        vo = self.find_order(
            book, account, params, missing_code=E.CANCEL_REJECTED, missing_msg=E.MSG_UNKNOWN_ORDER
        )
        return self._cancel(book, vo, text(params, "newClientOrderId"))

    def _cancel(self, book: SymbolBook, vo: VenueOrder, cancel_id: str | None) -> dict[str, Any]:
        if vo.order.status not in OPEN_STATUSES:
            raise E.ApiError(E.CANCEL_REJECTED, E.MSG_UNKNOWN_ORDER)
        report = book.engine.cancel(vo.order_id)
        cid = cancel_id or f"sim-cancel-{vo.order_id}"
        self._settle(book, [report], publish_trades=False, cancel_client_id=cid)
        if self.market == "spot":
            answer: dict[str, Any] = render.spot_cancel(book.rules, vo, cid, self.clock_ms())
        else:
            answer = render.usdm_order(book.rules, vo)
        return answer

    def cancel_all(self, account: int, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """Cancel every open order of the account on a symbol, oldest first."""
        book = self.book(params)
        mine = sorted(
            (vo for vo in book.open_by_client.values() if vo.account == account),
            key=lambda v: v.order_id,
        )
        return [self._cancel(book, vo, None) for vo in mine]

    def amend_keep_priority(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Reduce an order's quantity keeping its priority (``PUT /order/amend/keepPriority``)."""
        book = self.book(params)
        vo = self.find_order(
            book, account, params, missing_code=E.NO_SUCH_ORDER, missing_msg=E.MSG_NO_ORDER
        )
        new_qty = book.rules.parse_qty(required(params, "newQty"), "newQty")
        if vo.order.status not in OPEN_STATUSES:
            raise E.ApiError(E.NO_SUCH_ORDER, E.MSG_NO_ORDER)
        cut = vo.order.qty - new_qty
        try:
            report = book.engine.amend_down(vo.order_id, new_qty)
        except EngineError:
            raise E.ApiError(-2038, "Order amend (quantity increase) rejected.") from None
        self._release_partly(book, vo, cut)
        self._settle(book, [report], publish_trades=False)
        return {
            "transactTime": self.clock_ms(),
            "executionId": self._exec_id,
            "amendedOrder": {
                **render.spot_order(book.rules, vo),
                "origClientOrderId": vo.client_id,
            },
        }

    def modify_order(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Change a USD-M order's price and quantity (``PUT /fapi/v1/order``); see :mod:`.modify`.

        Raise -2019 when the larger order needs more margin than is available and -2022 when
        a reduce-only order would outgrow the position.
        """
        book = self.book(params)
        vo = self.find_order(
            book, account, params, missing_code=E.CANCEL_REJECTED, missing_msg=E.MSG_UNKNOWN_ORDER
        )
        change = check_modify(params, book.rules, book.engine, vo)
        if change.cancels:
            return self._cancel(book, vo, None)
        order, rules = vo.order, book.rules
        left = change.qty - order.filled
        if vo.reduce_only:
            if left > abs(self.futures[account].position(rules.symbol).lots):
                raise E.ApiError(E.REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")
        else:
            margin = self.futures[account].margin_for
            held = margin(order.remaining * (order.price or 0) * rules.notional_unit)
            need = margin(left * change.price * rules.notional_unit)
            if need - held > self._available(account):
                raise E.ApiError(E.MARGIN_INSUFFICIENT, "Margin is insufficient.")
        reports = book.engine.replace(vo.order_id, change.price, change.qty)
        self._settle(book, reports, publish_trades=True)
        return render.usdm_order(rules, vo)

    def cancel_replace(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Cancel an order and place a new one (``POST /order/cancelReplace``).

        Raise -2022 (400) when the cancel fails under STOP_ON_FAILURE and -2021 (409) when
        only one half succeeded, with both halves' answers in ``data``.
        """
        book = self.book(params)
        mode = required(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise E.illegal("cancelReplaceMode", "STOP_ON_FAILURE|ALLOW_FAILURE")
        spec = parse_new_order(params, book.rules, self.market, self.config.stp_default)
        lookup = {
            "orderId": text(params, "cancelOrderId"),
            "origClientOrderId": text(params, "cancelOrigClientOrderId"),
        }
        cancel_resp: dict[str, Any]
        try:
            vo = self.find_order(
                book,
                account,
                lookup,
                missing_code=E.CANCEL_REJECTED,
                missing_msg=E.MSG_UNKNOWN_ORDER,
            )
            cancel_resp = self._cancel(book, vo, text(params, "cancelNewClientOrderId"))
            cancel_ok = True
        except E.ApiError as exc:
            if exc.code == E.MANDATORY_PARAM:
                raise
            cancel_resp, cancel_ok = exc.body(), False
        if not cancel_ok and mode == "STOP_ON_FAILURE":
            raise E.ApiError(
                E.CANCEL_REPLACE_FAILED,
                "Order cancel-replace failed.",
                data={
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": cancel_resp,
                    "newOrderResponse": None,
                },
            )
        try:
            new_resp, new_ok = self.place(account, book, spec), True
        except E.ApiError as exc:
            new_resp, new_ok = exc.body(), False
        result = {
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
            "cancelResponse": cancel_resp,
            "newOrderResponse": new_resp,
        }
        if cancel_ok and new_ok:
            return result
        code = E.CANCEL_REPLACE_PARTIAL if cancel_ok or new_ok else E.CANCEL_REPLACE_FAILED
        msg = (
            "Order cancel-replace partially failed."
            if code == E.CANCEL_REPLACE_PARTIAL
            else "Order cancel-replace failed."
        )
        raise E.ApiError(
            code, msg, status=409 if code == E.CANCEL_REPLACE_PARTIAL else 400, data=result
        )

    # --- queries ---------------------------------------------------------------------------
    def query_order(self, account: int, params: Mapping[str, object]) -> dict[str, Any]:
        """Return one order (``GET /order``); raise -2013 when the account has no such order."""
        book = self.book(params)
        vo = self.find_order(
            book, account, params, missing_code=E.NO_SUCH_ORDER, missing_msg=E.MSG_NO_ORDER
        )
        shape = render.spot_order if self.market == "spot" else render.usdm_order
        answer: dict[str, Any] = shape(book.rules, vo)
        return answer

    def open_orders(self, account: int, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """Return the account's open orders, on one symbol or all."""
        books = [self.book(params)] if text(params, "symbol") else list(self.books.values())
        out = []
        for book in books:
            mine = sorted(
                (vo for vo in book.open_by_client.values() if vo.account == account),
                key=lambda v: v.order_id,
            )
            shape = render.spot_order if self.market == "spot" else render.usdm_order
            out += [shape(book.rules, vo) for vo in mine]
        return out

    def my_trades(self, account: int, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """Return the account's fills on a symbol (``/myTrades``, ``/userTrades``), oldest first.

        Selection and checks: :func:`~hftlib.sim.binance_venue.history.select_trades`.
        """
        book = self.book(params)
        trades = book.trades.get(account, [])
        return select_trades(trades, params, self.market, self.clock_ms())

    def depth_snapshot(self, params: Mapping[str, object]) -> dict[str, Any]:
        """Return the ``/depth`` snapshot with ``lastUpdateId``."""
        book = self.book(params)
        default, most = (100, 5000) if self.market == "spot" else (500, 1000)
        limit = int_param(params, "limit", default)
        bids, asks = book.engine.depth(max(1, min(limit, most)))
        fp, fq = book.rules.fmt_px, book.rules.fmt_qty
        out: dict[str, Any] = {"lastUpdateId": book.update_id}
        if self.market == "usdm":
            now = self.clock_ms()
            out.update({"E": now, "T": now})
        out["bids"] = [[fp(p), fq(q)] for p, q in bids]
        out["asks"] = [[fp(p), fq(q)] for p, q in asks]
        return out

    def spot_account(self, account: int) -> dict[str, Any]:
        """Return ``GET /api/v3/account``."""
        acct = self.spot[account]
        rules = next(iter(self.books.values())).rules if self.books else None
        maker = rules and self.books[rules.symbol].engine.fees.maker or Decimal(0)
        taker = rules and self.books[rules.symbol].engine.fees.taker or Decimal(0)
        return {
            "makerCommission": int(maker * 10_000),
            "takerCommission": int(taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt_amount(maker),
                "taker": fmt_amount(taker),
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": acct.update_ms,
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": fmt_amount(acct.free.get(a, Decimal(0))),
                    "locked": fmt_amount(acct.locked.get(a, Decimal(0))),
                }
                for a in acct.assets()
            ],
            "permissions": ["SPOT"],
            "uid": account,
        }

    def futures_account(self, account: int) -> dict[str, Any]:
        """Return ``GET /fapi/v2/account``."""
        acct = self.futures[account]
        positions, unrealized, pos_margin = [], Decimal(0), Decimal(0)
        for book in self.books.values():
            rules = book.rules
            pos = acct.position(rules.symbol)
            mark = book.mark()
            up = acct.unrealized(rules.symbol, mark, rules.lot * rules.multiplier)
            margin = acct.margin_for(
                abs(pos.lots) * rules.lot * rules.multiplier * (mark or pos.entry)
            )
            unrealized += up
            pos_margin += margin
            positions.append(
                {
                    "symbol": rules.symbol,
                    "initialMargin": fmt_amount(margin),
                    "maintMargin": "0",
                    "unrealizedProfit": fmt_amount(up),
                    "positionInitialMargin": fmt_amount(margin),
                    "openOrderInitialMargin": fmt_amount(self._order_margin(account, book)),
                    "leverage": str(acct.leverage),
                    "isolated": False,
                    "entryPrice": f"{pos.entry.normalize():f}",
                    "maxNotional": "250000",
                    "positionSide": "BOTH",
                    "positionAmt": rules.fmt_qty(pos.lots),
                    "updateTime": pos.update_ms,
                }
            )
        available = self._available(account)
        asset = {
            "asset": acct.asset,
            "walletBalance": fmt_amount(acct.wallet),
            "unrealizedProfit": fmt_amount(unrealized),
            "marginBalance": fmt_amount(acct.wallet + unrealized),
            "maintMargin": "0.00000000",
            "initialMargin": fmt_amount(pos_margin),
            "positionInitialMargin": fmt_amount(pos_margin),
            "openOrderInitialMargin": fmt_amount(
                sum((self._order_margin(account, b) for b in self.books.values()), Decimal(0))
            ),
            "crossWalletBalance": fmt_amount(acct.wallet),
            "crossUnPnl": fmt_amount(unrealized),
            "availableBalance": fmt_amount(available),
            "maxWithdrawAmount": fmt_amount(max(available, Decimal(0))),
            "marginAvailable": True,
            "updateTime": acct.update_ms,
        }
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": "0.00000000",
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": asset["positionInitialMargin"],
            "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "assets": [asset],
            "positions": positions,
        }

    def position_risk(self, account: int, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """Return ``GET /fapi/v2/positionRisk`` (one entry per symbol, or the one asked)."""
        acct = self.futures[account]
        books = [self.book(params)] if text(params, "symbol") else list(self.books.values())
        out = []
        for book in books:
            rules = book.rules
            pos = acct.position(rules.symbol)
            mark = book.mark()
            lot_value = rules.lot * rules.multiplier
            entry = f"{pos.entry.normalize():f}"
            out.append(
                {
                    "symbol": rules.symbol,
                    "positionAmt": rules.fmt_qty(pos.lots),
                    "entryPrice": entry,
                    "breakEvenPrice": entry,
                    "markPrice": f"{mark.normalize():f}" if mark is not None else "0",
                    "unRealizedProfit": fmt_amount(acct.unrealized(rules.symbol, mark, lot_value)),
                    "liquidationPrice": "0",
                    "leverage": str(acct.leverage),
                    "maxNotionalValue": "250000",
                    "marginType": "cross",
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": "BOTH",
                    "notional": fmt_amount(pos.lots * lot_value * (mark or Decimal(0))),
                    "isolatedWallet": "0",
                    "updateTime": pos.update_ms,
                }
            )
        return out

    # --- recorded market -------------------------------------------------------------------
    def apply_snapshot(self, symbol: str, rows: Iterable[tuple[bool, int, int]]) -> None:
        """Replace a symbol's recorded book with a snapshot."""
        book = self.books[symbol]
        self._settle(book, book.engine.reset_recorded(rows), publish_trades=True)

    def apply_depth(self, symbol: str, rows: Iterable[tuple[bool, int, int]]) -> None:
        """Apply one recorded depth message (absolute sizes)."""
        book = self.books[symbol]
        self._settle(book, book.engine.update_recorded(rows), publish_trades=True)

    def apply_trade(self, symbol: str, taker_side: int, price: int, qty: int) -> None:
        """Apply and publish one recorded trade."""
        book = self.books[symbol]
        reports = book.engine.recorded_trade(taker_side, price, qty)
        trade_id = book.engine.next_trade_id
        book.engine.next_trade_id += 1
        book.last_price = price
        self.sink.trade(symbol, trade_id, price, qty, taker_side == SELL, self.clock_ms())
        self._settle(book, reports, publish_trades=False)

    # --- settlement ------------------------------------------------------------------------
    def _reserve(
        self, account: int, book: SymbolBook, spec: OrderSpec, cost: int
    ) -> tuple[str, Decimal]:
        """Lock spot funds or check USD-M margin for a new order; return the spot lock."""
        rules = book.rules
        if self.market == "spot":
            acct = self.spot[account]
            if spec.side == BUY:
                ticks_lots = spec.price * spec.qty if spec.price is not None else cost
                amount = ticks_lots * rules.notional_unit
                acct.lock(rules.quote, amount)
                return rules.quote, amount
            amount = spec.qty * rules.lot
            acct.lock(rules.base, amount)
            return rules.base, amount
        acct_f = self.futures[account]
        pos = acct_f.position(rules.symbol).lots
        signed = spec.qty if spec.side == BUY else -spec.qty
        if spec.reduce_only and (pos == 0 or (pos > 0) == (signed > 0) or spec.qty > abs(pos)):
            raise E.ApiError(E.REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")
        growing = spec.qty if pos == 0 or (pos > 0) == (signed > 0) else max(0, spec.qty - abs(pos))
        price = spec.price if spec.price is not None else (cost // max(spec.qty, 1) if cost else 0)
        if growing and not spec.reduce_only:
            need = acct_f.margin_for(growing * price * rules.notional_unit)
            if need > self._available(account):
                raise E.ApiError(E.MARGIN_INSUFFICIENT, "Margin is insufficient.")
        return "", Decimal(0)

    def _available(self, account: int) -> Decimal:
        acct = self.futures[account]
        total: Decimal = acct.wallet
        for book in self.books.values():
            rules = book.rules
            pos = acct.positions.get(rules.symbol)
            mark = book.mark()
            if pos is not None and pos.lots:
                lot_value = rules.lot * rules.multiplier
                total += acct.unrealized(rules.symbol, mark, lot_value)
                total -= acct.margin_for(abs(pos.lots) * lot_value * (mark or pos.entry))
            total -= self._order_margin(account, book)
        return total

    def _order_margin(self, account: int, book: SymbolBook) -> Decimal:
        acct = self.futures[account]
        notional = sum(
            (
                vo.order.remaining * vo.order.price
                for vo in book.open_by_client.values()
                if vo.account == account and vo.order.price is not None and not vo.reduce_only
            ),
            0,
        )
        margin: Decimal = acct.margin_for(notional * book.rules.notional_unit)
        return margin

    def _release_partly(self, book: SymbolBook, vo: VenueOrder, cut: int) -> None:
        """Give back the spot lock of the ``cut`` lots an amend removed."""
        if self.market != "spot" or not vo.lock_asset:
            return
        rules = book.rules
        amount = (
            cut * vo.order.price * rules.notional_unit
            if vo.order.side == BUY and vo.order.price is not None
            else cut * rules.lot
        )
        amount = min(amount, vo.lock_left)
        self.spot[vo.account].release(vo.lock_asset, amount)
        vo.lock_left -= amount
        self._changed_accounts.setdefault(vo.account, set()).add(vo.lock_asset)

    def _settle(
        self,
        book: SymbolBook,
        reports: list[Report],
        *,
        publish_trades: bool,
        cancel_client_id: str | None = None,
    ) -> list[Fill]:
        """Apply reports to accounts, emit user events and publish trades and book changes."""
        now = self.clock_ms()
        rules = book.rules
        fills: dict[int, Fill] = {}
        futures_touched: set[int] = set()
        for report in reports:
            vo = book.orders.get(report.order.order_id)
            if vo is None or vo.account == RECORDED:
                continue
            vo.update_ms = now
            fill = report.fill
            realized = Decimal(0)
            if fill is not None:
                fills[fill.trade_id] = fill
                realized = self._apply_fill(book, vo, report, now)
                futures_touched.add(vo.account)
                book.last_price = fill.price
            if report.status in TERMINAL:
                book.open_by_client.pop((vo.account, vo.client_id), None)
                if vo.lock_left:
                    self.spot[vo.account].release(vo.lock_asset, vo.lock_left)
                    self._changed_accounts.setdefault(vo.account, set()).add(vo.lock_asset)
                    vo.lock_left = Decimal(0)
            if report.exec_type == "NEW" and vo.lock_asset:
                self._changed_accounts.setdefault(vo.account, set()).add(vo.lock_asset)
            self._exec_id += 1
            if self.market == "spot":
                if report.exec_type == "CANCELED" and cancel_client_id is not None:
                    event = render.execution_report(
                        rules,
                        vo,
                        report,
                        self._exec_id,
                        now,
                        client_id=cancel_client_id,
                        orig_client_id=vo.client_id,
                    )
                else:
                    event = render.execution_report(rules, vo, report, self._exec_id, now)
            else:
                event = render.order_trade_update(rules, vo, report, realized, now)
            self.sink.user(vo.account, event)
        if publish_trades:
            for fill in fills.values():
                self.sink.trade(
                    rules.symbol, fill.trade_id, fill.price, fill.qty, fill.taker_side == SELL, now
                )
        self._flush_accounts(now, futures_touched if self.market == "usdm" else set())
        self._flush_book(book, now)
        return list(fills.values())

    def _apply_fill(self, book: SymbolBook, vo: VenueOrder, report: Report, now: int) -> Decimal:
        fill = report.fill
        assert fill is not None  # noqa: S101 - only called for fills
        rules = book.rules
        fee = render.commission(fill, report.is_maker)
        side = vo.order.side
        trade = {
            "symbol": rules.symbol,
            "id": fill.trade_id,
            "orderId": vo.order_id,
            "price": rules.fmt_px(fill.price),
            "qty": rules.fmt_qty(fill.qty),
            "quoteQty": rules.fmt_quote(fill.price * fill.qty),
            "commission": fmt_amount(fee),
            "commissionAsset": render.commission_asset(rules, side),
            "time": now,
        }
        realized = Decimal(0)
        if self.market == "spot":
            acct = self.spot[vo.account]
            cost = fill.price * fill.qty * rules.notional_unit
            qty = fill.qty * rules.lot
            if side == BUY:
                limit = vo.order.price
                used = limit * fill.qty * rules.notional_unit if limit is not None else cost
                used = min(used, vo.lock_left)
                acct.settle(rules.quote, used, cost)
                vo.lock_left -= used
                acct.credit(rules.base, qty - fee)
            else:
                acct.settle(rules.base, qty, qty)
                vo.lock_left -= qty
                acct.credit(rules.quote, cost - fee)
            acct.update_ms = now
            self._changed_accounts.setdefault(vo.account, set()).update((rules.base, rules.quote))
            trade.update(
                {
                    "orderListId": -1,
                    "isBuyer": side == BUY,
                    "isMaker": report.is_maker,
                    "isBestMatch": True,
                }
            )
        else:
            acct_f = self.futures[vo.account]
            realized = acct_f.apply_fill(
                rules.symbol,
                side,
                fill.qty,
                rules.px_decimal(fill.price),
                rules.lot * rules.multiplier,
                fee,
            )
            acct_f.position(rules.symbol).update_ms = now
            acct_f.update_ms = now
            trade.update(
                {
                    "buyer": side == BUY,
                    "maker": report.is_maker,
                    "realizedPnl": fmt_amount(realized),
                    "side": render.side_name(side),
                    "positionSide": "BOTH",
                }
            )
        book.trades.setdefault(vo.account, []).append(trade)
        return realized

    def _flush_accounts(self, now: int, futures_touched: set[int]) -> None:
        for account, assets in self._changed_accounts.items():
            self.sink.user(
                account, render.account_position(self.spot[account], sorted(assets), now)
            )
        self._changed_accounts.clear()
        for account in sorted(futures_touched):
            books = list(self.books.values())
            marks = {b.rules.symbol: b.mark() for b in books}
            self.sink.user(
                account,
                render.account_update(self.futures[account], [b.rules for b in books], marks, now),
            )

    def _flush_book(self, book: SymbolBook, now: int) -> None:
        changes = book.engine.take_changes()
        if changes:
            prev = book.update_id
            book.update_id += len(changes)
            bids = [(p, q) for is_bid, p, q in changes if is_bid]
            asks = [(p, q) for is_bid, p, q in changes if not is_bid]
            self.sink.depth(book.rules.symbol, prev + 1, book.update_id, prev, bids, asks, now)
        top = book.engine.top()
        if top != book.top:
            book.top = top
            self.sink.book_ticker(book.rules.symbol, book.update_id, top[0], top[1], now)

    def skip_update_ids(self, symbol: str, n: int) -> None:
        """Advance a symbol's update id without publishing: the next diff shows a gap."""
        self.books[symbol].update_id += n

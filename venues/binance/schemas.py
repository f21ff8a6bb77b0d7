"""msgspec Structs mirroring Binance payloads (spot and USD-M), decoded strictly.

Field names follow the venue's (single letters are renamed to readable attributes with
``msgspec.field(name=...)``). Unknown fields are ignored, so payloads may grow; missing
required fields, wrong types and extra-long arrays are decode errors, which
:mod:`hftlib.venues.binance.parse` turns into
:class:`~hftlib.venues.binance.errors.BinanceMessageError` naming the field. Prices and sizes
stay decimal strings here; the parser converts them once to ticks and lots.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw, Struct, field

Level = tuple[str, str]
"""``[price, size]`` as decimal strings."""

NumLevel = tuple[float, float]
"""``[price, size]`` of depth diffs and snapshots, read as numbers.

Their decoders run with ``strict=False`` so that msgspec parses the decimal strings in C
(correctly rounded: the same double as ``float(text)``); a level given as JSON numbers is
accepted too. The price is then checked onto the tick grid, never rounded.
"""


# --- market streams ---------------------------------------------------------------------------


class Combined(Struct):
    """Combined-stream envelope ``{"stream": "<sym>@<name>", "data": {...}}``."""

    stream: str
    data: Raw


class DepthUpdate(Struct):
    """``depthUpdate`` diff; USD-M adds ``T`` (transaction time) and ``pu`` (previous ``u``)."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    first_id: int = field(name="U")
    last_id: int = field(name="u")
    bids: list[NumLevel] = field(name="b")
    asks: list[NumLevel] = field(name="a")
    transact_time: int | None = field(default=None, name="T")
    prev_id: int | None = field(default=None, name="pu")


class Trade(Struct):
    """``trade``: ``m`` true when the buyer is the maker (the taker sold).

    USD-M adds ``X`` (``MARKET``, or ``INSURANCE_FUND``/``ADL``/``NA`` prints that did not
    take liquidity from the public book).
    """

    event: str = field(name="e")
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: str = field(name="p")
    qty: str = field(name="q")
    trade_time: int = field(name="T")
    buyer_maker: bool = field(name="m")
    exec_kind: str | None = field(default=None, name="X")


class AggTrade(Struct):
    """``aggTrade``: trades of one taker order at one price (``f``..``l`` trade ids)."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    agg_id: int = field(name="a")
    price: str = field(name="p")
    qty: str = field(name="q")
    first_trade_id: int = field(name="f")
    last_trade_id: int = field(name="l")
    trade_time: int = field(name="T")
    buyer_maker: bool = field(name="m")


class BookTicker(Struct):
    """``bookTicker``; spot has no event type or times, USD-M adds ``e``, ``E``, ``T``."""

    update_id: int = field(name="u")
    symbol: str = field(name="s")
    bid: str = field(name="b")
    bid_qty: str = field(name="B")
    ask: str = field(name="a")
    ask_qty: str = field(name="A")
    event: str | None = field(default=None, name="e")
    event_time: int | None = field(default=None, name="E")
    transact_time: int | None = field(default=None, name="T")


class DepthSnapshot(Struct):
    """REST depth ``{lastUpdateId, bids, asks}`` (USD-M adds ``E`` and ``T``)."""

    last_update_id: int = field(name="lastUpdateId")
    bids: list[NumLevel]
    asks: list[NumLevel]
    event_time: int | None = field(default=None, name="E")
    transact_time: int | None = field(default=None, name="T")


class EventHeader(Struct):
    """Just the event type and time, to dispatch a user-data or control event."""

    event: str = field(name="e")
    event_time: int = field(default=0, name="E")


class ServerShutdown(Struct):
    """``serverShutdown``: the connection closes soon; reconnect now."""

    event: str = field(name="e")
    event_time: int = field(name="E")


# --- REST --------------------------------------------------------------------------------------


class ErrorBody(Struct):
    """An error body ``{"code": -2010, "msg": "..."}``."""

    code: int
    msg: str


class RateLimit(Struct):
    """``rateLimits[]`` of exchangeInfo (no ``count``) and of WS API responses (``count``)."""

    rate_limit_type: str = field(name="rateLimitType")
    interval: str
    interval_num: int = field(name="intervalNum")
    limit: int
    count: int | None = None


class SymbolInfo(Struct):
    """One ``exchangeInfo.symbols[]`` entry; ``filters`` are read by ``filterType``."""

    symbol: str
    status: str
    base_asset: str = field(name="baseAsset")
    quote_asset: str = field(name="quoteAsset")
    filters: list[dict[str, Any]]
    contract_type: str | None = field(default=None, name="contractType")


class ExchangeInfo(Struct):
    """``GET /api/v3/exchangeInfo`` or ``/fapi/v1/exchangeInfo``."""

    server_time: int = field(name="serverTime")
    rate_limits: list[RateLimit] = field(name="rateLimits")
    symbols: list[SymbolInfo]


class PriceFilter(Struct):
    """``PRICE_FILTER``: the tick."""

    tick_size: str = field(name="tickSize")
    min_price: str = field(default="0", name="minPrice")
    max_price: str = field(default="0", name="maxPrice")


class LotSize(Struct):
    """``LOT_SIZE``: the step."""

    step_size: str = field(name="stepSize")
    min_qty: str = field(default="0", name="minQty")
    max_qty: str = field(default="0", name="maxQty")


class NotionalFilter(Struct):
    """``NOTIONAL`` / spot ``MIN_NOTIONAL`` (``minNotional``) or USD-M ``MIN_NOTIONAL``
    (``notional``)."""

    min_notional: str | None = field(default=None, name="minNotional")
    notional: str | None = None


class Fill(Struct):
    """One ``fills[]`` entry of a FULL order response."""

    price: str
    qty: str
    commission: str
    commission_asset: str = field(name="commissionAsset")
    trade_id: int = field(name="tradeId")


class OrderResponse(Struct):
    """An order as REST returns it: new (ACK/RESULT/FULL), cancel, query, open orders.

    Spot and USD-M share the core fields; ACK carries only ids and ``transactTime``. A cancel
    response's ``clientOrderId`` is the *cancel request's* id, the order's own id is
    ``origClientOrderId``.
    """

    symbol: str
    order_id: int = field(name="orderId")
    client_order_id: str = field(name="clientOrderId")
    orig_client_order_id: str | None = field(default=None, name="origClientOrderId")
    transact_time: int | None = field(default=None, name="transactTime")
    update_time: int | None = field(default=None, name="updateTime")
    time: int | None = None
    price: str | None = None
    orig_qty: str | None = field(default=None, name="origQty")
    executed_qty: str | None = field(default=None, name="executedQty")
    cum_quote: str | None = field(default=None, name="cummulativeQuoteQty")
    cum_quote_usdm: str | None = field(default=None, name="cumQuote")
    avg_price: str | None = field(default=None, name="avgPrice")
    status: str | None = None
    time_in_force: str | None = field(default=None, name="timeInForce")
    type: str | None = None
    side: str | None = None
    reduce_only: bool | None = field(default=None, name="reduceOnly")
    fills: list[Fill] = []


class SpotBalance(Struct):
    """One ``balances[]`` entry of ``GET /api/v3/account``."""

    asset: str
    free: str
    locked: str


class SpotAccount(Struct):
    """``GET /api/v3/account`` (only the balances are read)."""

    balances: list[SpotBalance]


class FuturesBalance(Struct, kw_only=True):
    """One entry of ``GET /fapi/v2/balance`` (or ``/fapi/v3/account`` ``assets[]``)."""

    asset: str
    balance: str | None = None
    wallet_balance: str | None = field(default=None, name="walletBalance")
    available_balance: str = field(name="availableBalance")


class PositionRisk(Struct):
    """One entry of ``GET /fapi/v2/positionRisk`` (USD-M)."""

    symbol: str
    position_amt: str = field(name="positionAmt")
    entry_price: str = field(name="entryPrice")
    unrealized_pnl: str = field(name="unRealizedProfit")
    position_side: str = field(default="BOTH", name="positionSide")


class AccountTrade(Struct):
    """One ``GET /api/v3/myTrades`` (spot) or ``/fapi/v1/userTrades`` (USD-M) entry."""

    symbol: str
    id: int
    order_id: int = field(name="orderId")
    price: str
    qty: str
    commission: str
    commission_asset: str = field(name="commissionAsset")
    time: int
    is_buyer: bool | None = field(default=None, name="isBuyer")
    is_maker: bool | None = field(default=None, name="isMaker")
    buyer: bool | None = None
    maker: bool | None = None


class ListenKey(Struct):
    """``POST /fapi/v1/listenKey`` -> ``{"listenKey": "..."}``."""

    listen_key: str = field(name="listenKey")


# --- user data ---------------------------------------------------------------------------------


class ExecutionReport(Struct):
    """Spot ``executionReport`` (venue-protocols.md §1.10)."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    client_order_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    time_in_force: str = field(name="f")
    qty: str = field(name="q")
    price: str = field(name="p")
    orig_client_order_id: str = field(name="C")
    exec_type: str = field(name="x")
    status: str = field(name="X")
    reject_reason: str = field(name="r")
    order_id: int = field(name="i")
    last_qty: str = field(name="l")
    cum_qty: str = field(name="z")
    last_price: str = field(name="L")
    commission: str = field(name="n")
    commission_asset: str | None = field(name="N")
    transact_time: int = field(name="T")
    trade_id: int = field(name="t")
    maker: bool = field(name="m")
    cum_quote: str = field(name="Z")
    expiry_reason: str | None = field(default=None, name="eR")


class UserEvent(Struct):
    """WS API user-data event ``{"subscriptionId": n, "event": {...}}``."""

    subscription_id: int = field(name="subscriptionId")
    event: Raw


class BalanceEntry(Struct):
    """``outboundAccountPosition.B[]``."""

    asset: str = field(name="a")
    free: str = field(name="f")
    locked: str = field(name="l")


class AccountPosition(Struct):
    """Spot ``outboundAccountPosition``: balances that changed."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    balances: list[BalanceEntry] = field(name="B")


class WsApiError(Struct):
    """``error`` of a WS API response (``data.retryAfter`` ms for 418/429)."""

    code: int
    msg: str
    data: dict[str, Any] | None = None


class WsApiResponse(Struct):
    """WS API response ``{id, status, result | error, rateLimits}``."""

    id: int | str | None
    status: int
    result: Raw = Raw(b"null")
    """The result's raw JSON (``null`` when absent); decode it with the method's Struct."""
    error: WsApiError | None = None
    rate_limits: list[RateLimit] = field(default_factory=list, name="rateLimits")


class FuturesOrder(Struct):
    """The ``o`` object of USD-M ``ORDER_TRADE_UPDATE``."""

    symbol: str = field(name="s")
    client_order_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    time_in_force: str = field(name="f")
    qty: str = field(name="q")
    price: str = field(name="p")
    avg_price: str = field(name="ap")
    exec_type: str = field(name="x")
    status: str = field(name="X")
    order_id: int = field(name="i")
    last_qty: str = field(name="l")
    cum_qty: str = field(name="z")
    last_price: str = field(name="L")
    trade_time: int = field(name="T")
    trade_id: int = field(name="t")
    maker: bool = field(name="m")
    reduce_only: bool = field(default=False, name="R")
    commission: str = field(default="0", name="n")
    commission_asset: str | None = field(default=None, name="N")
    realized_pnl: str = field(default="0", name="rp")


class OrderTradeUpdate(Struct):
    """USD-M ``ORDER_TRADE_UPDATE``."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    transact_time: int = field(name="T")
    order: FuturesOrder = field(name="o")


class FuturesAccountBalance(Struct):
    """``ACCOUNT_UPDATE.a.B[]``: wallet and cross-wallet balance."""

    asset: str = field(name="a")
    wallet_balance: str = field(name="wb")
    cross_wallet_balance: str = field(name="cw")


class FuturesAccountPosition(Struct):
    """``ACCOUNT_UPDATE.a.P[]``: position amount, entry price, unrealized P&L."""

    symbol: str = field(name="s")
    position_amt: str = field(name="pa")
    entry_price: str = field(name="ep")
    unrealized_pnl: str = field(name="up")
    position_side: str = field(default="BOTH", name="ps")


class FuturesAccountData(Struct):
    """``ACCOUNT_UPDATE.a``."""

    reason: str = field(name="m")
    balances: list[FuturesAccountBalance] = field(name="B")
    positions: list[FuturesAccountPosition] = field(name="P")


class AccountUpdate(Struct):
    """USD-M ``ACCOUNT_UPDATE``."""

    event: str = field(name="e")
    event_time: int = field(name="E")
    transact_time: int = field(name="T")
    data: FuturesAccountData = field(name="a")


def decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    """Return a strict JSON decoder for ``kind`` (a Struct or a list of them)."""
    return msgspec.json.Decoder(kind)

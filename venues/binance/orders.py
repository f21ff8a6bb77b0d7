"""Binance order payloads -> :class:`hftlib.venue.interface.OrderUpdate`.

Sources: REST order responses (new ACK/RESULT/FULL, cancel, query, open orders; spot and
USD-M), spot ``executionReport`` (WS API user data) and USD-M ``ORDER_TRADE_UPDATE``
(listen-key stream), and account trade lists (``myTrades`` / ``userTrades``).

Conventions
-----------
- ``client_id`` is the order's own client id: a cancel's ``origClientOrderId`` (spot
  ``C``), not the id of the cancel request.
- An ACK response carries no status: it reads as ``ST_OPEN`` (accepted by the venue); the
  user-data stream then reports fills or expiry.
- One update carries at most one fill: a FULL response with several ``fills[]`` gives one
  update per fill, cumulative ``filled_lots`` rising, the last one with the final status.
  Fills are identified by ``(venue_order_id, trade_id)`` so the response and the stream
  apply once.
- ``fee`` is the commission as the venue charged it, in ``fee_asset`` (a spot buyer pays in
  the base asset, a seller in the quote asset, BNB when the account pays fees in BNB; USD-M
  in the margin asset). Valuing it in another asset is the caller's business: it needs a
  price this message does not carry. A USD-M fill that does not name its asset is charged in
  the margin (quote) asset of ``assets`` when given.
- A trade-list entry (:func:`account_trade_update`) does not say the order's status or
  client id: ``status`` is ``ST_UNKNOWN`` (query the order to settle it) and ``client_id``
  is empty; join it to the order by ``venue_order_id``.
- ``avg_price`` is the average fill price (spot ``Z / z`` or ``cummulativeQuoteQty /
  executedQty``, USD-M ``ap`` / ``avgPrice``): not on the tick grid, so a float.
"""

from __future__ import annotations

from typing import Final

import msgspec
from hftlib.venues.binance import schemas as sc
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.decoding import (
    check_id,
    decimal,
    decode,
    error,
    market_of,
    ms_to_ns,
    price_ticks,
    size_lots,
)
from hftlib.venues.binance.enums import side_code, status_code

from hftlib.engine.types import ST_OPEN, ST_UNKNOWN
from hftlib.instrument import Instrument
from hftlib.venue.interface import OrderUpdate

_ORDER: Final = msgspec.json.Decoder(sc.OrderResponse)
_ORDERS: Final = msgspec.json.Decoder(list[sc.OrderResponse])
_EXEC: Final = msgspec.json.Decoder(sc.ExecutionReport)
_OTU: Final = msgspec.json.Decoder(sc.OrderTradeUpdate)
_TRADES: Final = msgspec.json.Decoder(list[sc.AccountTrade])


class Assets(msgspec.Struct, frozen=True):
    """The base and quote asset of a symbol (from exchangeInfo).

    Used to name a commission's asset where the venue leaves it out (USD-M).
    """

    base: str
    quote: str


def decode_order(raw: bytes, market: Market) -> sc.OrderResponse:
    """Decode one REST order response."""
    return decode(_ORDER, raw, market, "order")


def decode_orders(raw: bytes, market: Market) -> list[sc.OrderResponse]:
    """Decode a list of orders (open orders)."""
    return decode(_ORDERS, raw, market, "orders")


def decode_execution_report(raw: bytes) -> sc.ExecutionReport:
    """Decode a spot ``executionReport`` (the ``event`` of a WS API user-data message)."""
    msg = decode(_EXEC, raw, Market.SPOT, "executionReport")
    if msg.event != "executionReport":
        raise error(Market.SPOT, "executionReport", "$.e", f"event {msg.event[:40]!r}")
    return msg


def decode_order_trade_update(raw: bytes) -> sc.OrderTradeUpdate:
    """Decode a USD-M ``ORDER_TRADE_UPDATE``."""
    msg = decode(_OTU, raw, Market.USDM, "ORDER_TRADE_UPDATE")
    if msg.event != "ORDER_TRADE_UPDATE":
        raise error(Market.USDM, "ORDER_TRADE_UPDATE", "$.e", f"event {msg.event[:40]!r}")
    return msg


def decode_account_trades(raw: bytes, market: Market) -> list[sc.AccountTrade]:
    """Decode ``myTrades`` (spot) or ``userTrades`` (USD-M)."""
    return decode(_TRADES, raw, market, "trades")


def order_updates(
    resp: sc.OrderResponse, instrument: Instrument, local_ts: int, assets: Assets | None = None
) -> list[OrderUpdate]:
    """Return the updates of one REST order response (one per fill of a FULL response)."""
    market = market_of(instrument)
    what = "order"
    _symbol(resp.symbol, instrument, market, what)
    check_id(resp.order_id, market, what, "$.orderId")
    ms = resp.transact_time or resp.update_time or resp.time
    exch = ms_to_ns(ms, market, what, "$.transactTime") if ms else 0
    status = ST_OPEN if resp.status is None else status_code(resp.status, market)
    base = OrderUpdate(
        symbol=resp.symbol,
        client_id=resp.orig_client_order_id or resp.client_order_id,
        status=status,
        venue_order_id=str(resp.order_id),
        side=side_code(resp.side, market) if resp.side else 0,
        price_ticks=_px(resp.price, instrument, market, what, "$.price"),
        qty_lots=_lots(resp.orig_qty, instrument, market, what, "$.origQty"),
        filled_lots=_lots(resp.executed_qty, instrument, market, what, "$.executedQty"),
        avg_price=_response_avg(resp, market),
        exch_ts=exch,
        local_ts=local_ts,
        reason="" if resp.status is not None else "ack",
    )
    if not resp.fills:
        return [base]
    out = []
    filled = 0
    quote = 0.0
    for i, fill in enumerate(resp.fills):
        where = f"$.fills[{i}]"
        check_id(fill.trade_id, market, what, f"{where}.tradeId")
        lots = size_lots(fill.qty, instrument, market, what, f"{where}.qty")
        ticks = price_ticks(fill.price, instrument, market, what, f"{where}.price")
        filled += lots
        quote += lots * ticks
        fee = decimal(fill.commission, market, "commission", f"{where}.commission")
        last = i == len(resp.fills) - 1
        out.append(
            msgspec.structs.replace(
                base,
                status=base.status if last else ST_OPEN,
                filled_lots=base.filled_lots if last else filled,
                last_fill_lots=lots,
                last_fill_ticks=ticks,
                fee=fee,
                fee_asset=fill.commission_asset,
                avg_price=base.avg_price if last else _avg(quote, filled, instrument),
                trade_id=fill.trade_id,
                maker=False,  # fills in the response are the order's own taking fills
            )
        )
    return out


def execution_report_update(
    msg: sc.ExecutionReport, instrument: Instrument, local_ts: int, assets: Assets | None = None
) -> OrderUpdate:
    """Return the update of a spot ``executionReport``."""
    market = Market.SPOT
    what = "executionReport"
    _symbol(msg.symbol, instrument, market, what)
    check_id(msg.order_id, market, what, "$.i")
    trade = msg.exec_type == "TRADE"
    fee = decimal(msg.commission, market, what, "$.n") if trade else 0.0
    reason = msg.reject_reason if msg.reject_reason not in ("", "NONE") else ""
    if msg.expiry_reason:
        reason = f"{reason} {msg.expiry_reason}".strip()
    return OrderUpdate(
        symbol=msg.symbol,
        client_id=msg.orig_client_order_id or msg.client_order_id,
        status=status_code(msg.status, market, "$.X"),
        venue_order_id=str(msg.order_id),
        side=side_code(msg.side, market, "$.S"),
        price_ticks=price_ticks(msg.price, instrument, market, what, "$.p"),
        qty_lots=size_lots(msg.qty, instrument, market, what, "$.q"),
        filled_lots=size_lots(msg.cum_qty, instrument, market, what, "$.z"),
        last_fill_lots=size_lots(msg.last_qty, instrument, market, what, "$.l") if trade else 0,
        last_fill_ticks=(
            price_ticks(msg.last_price, instrument, market, what, "$.L") if trade else 0
        ),
        fee=fee,
        fee_asset=(msg.commission_asset or "") if trade else "",
        avg_price=_ratio(msg.cum_quote, msg.cum_qty, market, what, "$.Z"),
        trade_id=check_id(msg.trade_id, market, what, "$.t") if trade else -1,
        maker=msg.maker if trade else False,
        exch_ts=ms_to_ns(msg.transact_time, market, what, "$.T"),
        local_ts=local_ts,
        reason=reason,
    )


def order_trade_update(
    msg: sc.OrderTradeUpdate,
    instrument: Instrument,
    local_ts: int,
    assets: Assets | None = None,
) -> OrderUpdate:
    """Return the update of a USD-M ``ORDER_TRADE_UPDATE``."""
    market = Market.USDM
    what = "ORDER_TRADE_UPDATE"
    o = msg.order
    _symbol(o.symbol, instrument, market, what)
    check_id(o.order_id, market, what, "$.o.i")
    trade = o.exec_type in ("TRADE", "CALCULATED")
    fee = decimal(o.commission, market, what, "$.o.n") if trade else 0.0
    fee_asset = ""
    if trade:
        fee_asset = o.commission_asset or (assets.quote if assets is not None else "")
    return OrderUpdate(
        symbol=o.symbol,
        client_id=o.client_order_id,
        status=status_code(o.status, market, "$.o.X"),
        venue_order_id=str(o.order_id),
        side=side_code(o.side, market, "$.o.S"),
        price_ticks=price_ticks(o.price, instrument, market, what, "$.o.p"),
        qty_lots=size_lots(o.qty, instrument, market, what, "$.o.q"),
        filled_lots=size_lots(o.cum_qty, instrument, market, what, "$.o.z"),
        last_fill_lots=size_lots(o.last_qty, instrument, market, what, "$.o.l") if trade else 0,
        last_fill_ticks=(
            price_ticks(o.last_price, instrument, market, what, "$.o.L") if trade else 0
        ),
        fee=fee,
        fee_asset=fee_asset,
        avg_price=decimal(o.avg_price, market, what, "$.o.ap"),
        trade_id=check_id(o.trade_id, market, what, "$.o.t") if trade else -1,
        maker=o.maker if trade else False,
        exch_ts=ms_to_ns(msg.transact_time, market, what, "$.T"),
        local_ts=local_ts,
    )


def account_trade_update(
    trade: sc.AccountTrade, instrument: Instrument, local_ts: int, assets: Assets | None = None
) -> OrderUpdate:
    """Return one account trade as a fill update (``ST_UNKNOWN``, no client id; see above)."""
    market = market_of(instrument)
    what = "trade"
    _symbol(trade.symbol, instrument, market, what)
    buyer = trade.is_buyer if trade.is_buyer is not None else trade.buyer
    maker = trade.is_maker if trade.is_maker is not None else trade.maker
    if buyer is None or maker is None:
        raise error(market, what, "$.isBuyer", "the trade does not say its side and role")
    lots = size_lots(trade.qty, instrument, market, what, "$.qty")
    return OrderUpdate(
        symbol=trade.symbol,
        client_id="",
        status=ST_UNKNOWN,
        venue_order_id=str(check_id(trade.order_id, market, what, "$.orderId")),
        side=1 if buyer else -1,
        last_fill_lots=lots,
        last_fill_ticks=price_ticks(trade.price, instrument, market, what, "$.price"),
        fee=decimal(trade.commission, market, what, "$.commission"),
        fee_asset=trade.commission_asset,
        trade_id=check_id(trade.id, market, what, "$.id"),
        maker=maker,
        exch_ts=ms_to_ns(trade.time, market, what, "$.time"),
        local_ts=local_ts,
        reason="fill record",
    )


def average_price(cum_quote: str, cum_qty: str) -> float:
    """Return the average fill price ``Z / z`` (0.0 before any fill)."""
    qty = float(cum_qty)
    return float(cum_quote) / qty if qty else 0.0


def _avg(ticks_lots: float, lots: int, instrument: Instrument) -> float:
    return ticks_lots / lots * instrument.tick_size if lots else 0.0


def _ratio(cum_quote: str, cum_qty: str, market: Market, what: str, field: str) -> float:
    qty = decimal(cum_qty, market, what, field)
    return decimal(cum_quote, market, what, field) / qty if qty else 0.0


def _response_avg(resp: sc.OrderResponse, market: Market) -> float:
    if resp.avg_price is not None:
        return decimal(resp.avg_price, market, "order", "$.avgPrice")
    quote = resp.cum_quote if resp.cum_quote is not None else resp.cum_quote_usdm
    if quote is None or resp.executed_qty is None:
        return 0.0
    return _ratio(quote, resp.executed_qty, market, "order", "$.cummulativeQuoteQty")


def _symbol(symbol: str, instrument: Instrument, market: Market, what: str) -> None:
    if symbol != instrument.symbol:
        raise error(
            market, what, "$.symbol", f"{symbol[:40]!r} is not {instrument.symbol}",
            "symbol mismatch",
        )  # fmt: skip


def _px(text: str | None, instrument: Instrument, market: Market, what: str, field: str) -> int:
    return 0 if text is None else price_ticks(text, instrument, market, what, field)


def _lots(text: str | None, instrument: Instrument, market: Market, what: str, field: str) -> int:
    return 0 if text is None else size_lots(text, instrument, market, what, field)


__all__ = [
    "Assets",
    "account_trade_update",
    "average_price",
    "decode_account_trades",
    "decode_execution_report",
    "decode_order",
    "decode_order_trade_update",
    "decode_orders",
    "execution_report_update",
    "order_trade_update",
    "order_updates",
]

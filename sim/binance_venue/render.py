"""Binance JSON shapes of orders, fills and user-data events (spot and USD-M).

Pure functions from the venue's records to dicts; the caller serialises them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hftlib.sim.binance_venue.accounts import FuturesAccount, SpotAccount
from hftlib.sim.binance_venue.orders import VenueOrder
from hftlib.sim.binance_venue.rules import SymbolRules, fmt_amount
from hftlib.sim.matching import OPEN_STATUSES, Fill, Report

from hftlib.engine.types import BUY

ZERO8 = "0.00000000"


def side_name(side: int) -> str:
    """Return ``BUY`` or ``SELL``."""
    return "BUY" if side == BUY else "SELL"


def commission(fill: Fill, is_maker: bool) -> Decimal:
    """Return the commission one side of a fill pays."""
    fee: Decimal = fill.maker_fee if is_maker else fill.taker_fee
    return fee


def commission_asset(rules: SymbolRules, side: int) -> str:
    """Return the asset a side pays commission in (spot buyers pay in the base asset)."""
    asset: str = rules.base if rules.market == "spot" and side == BUY else rules.quote
    return asset


def avg_price(rules: SymbolRules, vo: VenueOrder) -> str:
    """Return the average fill price as a decimal string ("0" before any fill)."""
    order = vo.order
    if not order.filled:
        return "0" if rules.market == "usdm" else ZERO8
    avg = Decimal(order.quote) / order.filled * rules.tick
    return f"{avg.quantize(Decimal('1e-8')).normalize():f}"


# --- spot ---------------------------------------------------------------------------------------
def spot_order(rules: SymbolRules, vo: VenueOrder) -> dict[str, Any]:
    """Return the ``GET /api/v3/order`` shape."""
    o = vo.order
    return {
        "symbol": vo.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": vo.client_id,
        "price": rules.fmt_px(o.price) if o.price is not None else ZERO8,
        "origQty": rules.fmt_qty(o.qty),
        "executedQty": rules.fmt_qty(o.filled),
        "cummulativeQuoteQty": rules.fmt_quote(o.quote),
        "status": o.status,
        "timeInForce": "GTC" if vo.tif_name == "GTX" else vo.tif_name,
        "type": vo.type_name,
        "side": side_name(o.side),
        "stopPrice": ZERO8,
        "icebergQty": ZERO8,
        "time": vo.time_ms,
        "updateTime": vo.update_ms,
        "isWorking": o.status in OPEN_STATUSES,
        "workingTime": vo.time_ms,
        "origQuoteOrderQty": ZERO8,
        "selfTradePreventionMode": vo.stp_name,
    }


def spot_new_order(
    rules: SymbolRules, vo: VenueOrder, fills: list[Fill], resp_type: str, now_ms: int
) -> dict[str, Any]:
    """Return the ``POST /api/v3/order`` response in the ACK, RESULT or FULL shape."""
    o = vo.order
    out: dict[str, Any] = {
        "symbol": vo.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": vo.client_id,
        "transactTime": now_ms,
    }
    if resp_type == "ACK":
        return out
    full = spot_order(rules, vo)
    for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
        full.pop(key)
    out.update({k: v for k, v in full.items() if k not in out})
    if resp_type == "FULL":
        out["fills"] = [
            {
                "price": rules.fmt_px(f.price),
                "qty": rules.fmt_qty(f.qty),
                "commission": fmt_amount(commission(f, f.maker_order == o.order_id)),
                "commissionAsset": commission_asset(rules, o.side),
                "tradeId": f.trade_id,
            }
            for f in fills
        ]
    return out


def spot_cancel(rules: SymbolRules, vo: VenueOrder, cancel_id: str, now_ms: int) -> dict[str, Any]:
    """Return the ``DELETE /api/v3/order`` response."""
    full = spot_order(rules, vo)
    return {
        "symbol": vo.symbol,
        "origClientOrderId": vo.client_id,
        "orderId": vo.order_id,
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "transactTime": now_ms,
        **{
            k: full[k]
            for k in (
                "price",
                "origQty",
                "executedQty",
                "cummulativeQuoteQty",
                "status",
                "timeInForce",
                "type",
                "side",
                "selfTradePreventionMode",
            )
        },
    }


def execution_report(
    rules: SymbolRules,
    vo: VenueOrder,
    report: Report,
    exec_id: int,
    now_ms: int,
    *,
    client_id: str | None = None,
    orig_client_id: str = "",
) -> dict[str, Any]:
    """Return a spot ``executionReport`` event for one engine report."""
    o = vo.order
    fill = report.fill
    last_qty = fill.qty if fill is not None else 0
    last_px = fill.price if fill is not None else 0
    return {
        "e": "executionReport",
        "E": now_ms,
        "s": vo.symbol,
        "c": client_id if client_id is not None else vo.client_id,
        "S": side_name(o.side),
        "o": vo.type_name,
        "f": "GTC" if vo.tif_name == "GTX" else vo.tif_name,
        "q": rules.fmt_qty(report.qty),
        "p": rules.fmt_px(o.price) if o.price is not None else ZERO8,
        "P": ZERO8,
        "F": ZERO8,
        "g": -1,
        "C": orig_client_id,
        "x": report.exec_type,
        "X": report.status,
        "r": "NONE",
        "i": o.order_id,
        "l": rules.fmt_qty(last_qty),
        "z": rules.fmt_qty(report.filled),
        "L": rules.fmt_px(last_px),
        "n": fmt_amount(commission(fill, report.is_maker)) if fill is not None else "0",
        "N": commission_asset(rules, o.side) if fill is not None else None,
        "T": now_ms,
        "t": fill.trade_id if fill is not None else -1,
        "I": exec_id,
        "w": report.status in OPEN_STATUSES and o.price is not None,
        "m": report.is_maker,
        "M": False,
        "O": vo.time_ms,
        "Z": rules.fmt_quote(report.quote),
        "Y": rules.fmt_quote(last_px * last_qty),
        "Q": ZERO8,
        "W": vo.time_ms,
        "V": vo.stp_name,
    }


def account_position(account: SpotAccount, assets: list[str], now_ms: int) -> dict[str, Any]:
    """Return a spot ``outboundAccountPosition`` event for the changed assets."""
    return {
        "e": "outboundAccountPosition",
        "E": now_ms,
        "u": now_ms,
        "B": [
            {
                "a": a,
                "f": fmt_amount(account.free.get(a, Decimal(0))),
                "l": fmt_amount(account.locked.get(a, Decimal(0))),
            }
            for a in assets
        ],
    }


# --- USD-M --------------------------------------------------------------------------------------
def usdm_order(rules: SymbolRules, vo: VenueOrder) -> dict[str, Any]:
    """Return the ``/fapi/v1/order`` shape (new, query and cancel answers)."""
    o = vo.order
    return {
        "orderId": o.order_id,
        "symbol": vo.symbol,
        "status": o.status,
        "clientOrderId": vo.client_id,
        "price": rules.fmt_px(o.price) if o.price is not None else "0",
        "avgPrice": avg_price(rules, vo),
        "origQty": rules.fmt_qty(o.qty),
        "executedQty": rules.fmt_qty(o.filled),
        "cumQty": rules.fmt_qty(o.filled),
        "cumQuote": rules.fmt_quote(o.quote),
        "timeInForce": vo.tif_name,
        "type": vo.type_name,
        "reduceOnly": vo.reduce_only,
        "closePosition": False,
        "side": side_name(o.side),
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": vo.type_name,
        "priceMatch": "NONE",
        "selfTradePreventionMode": vo.stp_name,
        "goodTillDate": 0,
        "time": vo.time_ms,
        "updateTime": vo.update_ms,
    }


def futures_balance(asset: dict[str, Any], account: int) -> dict[str, Any]:
    """Return one ``GET /fapi/v2/balance`` entry from an asset of the ``/fapi/v2/account`` shape."""
    return {
        "accountAlias": f"sim{account}",
        "asset": asset["asset"],
        "balance": asset["walletBalance"],
        "crossWalletBalance": asset["crossWalletBalance"],
        "crossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
        "marginAvailable": asset["marginAvailable"],
        "updateTime": asset["updateTime"],
    }


def order_trade_update(
    rules: SymbolRules, vo: VenueOrder, report: Report, realized: Decimal, now_ms: int
) -> dict[str, Any]:
    """Return a USD-M ``ORDER_TRADE_UPDATE`` event for one engine report."""
    o = vo.order
    fill = report.fill
    exec_type = {"REPLACED": "AMENDMENT", "TRADE_PREVENTION": "EXPIRED"}.get(
        report.exec_type, report.exec_type
    )
    body: dict[str, Any] = {
        "s": vo.symbol,
        "c": vo.client_id,
        "S": side_name(o.side),
        "o": vo.type_name,
        "f": vo.tif_name,
        "q": rules.fmt_qty(report.qty),
        "p": rules.fmt_px(o.price) if o.price is not None else "0",
        "ap": avg_price(rules, vo),
        "sp": "0",
        "x": exec_type,
        "X": report.status,
        "i": o.order_id,
        "l": rules.fmt_qty(fill.qty if fill is not None else 0),
        "z": rules.fmt_qty(report.filled),
        "L": rules.fmt_px(fill.price) if fill is not None else "0",
        "T": now_ms,
        "t": fill.trade_id if fill is not None else 0,
        "b": "0",
        "a": "0",
        "m": report.is_maker,
        "R": vo.reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": vo.type_name,
        "ps": "BOTH",
        "cp": False,
        "rp": f"{realized.quantize(Decimal('1e-8')):f}",
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": vo.stp_name,
        "pm": "NONE",
        "gtd": 0,
    }
    if fill is not None:
        body["N"] = rules.quote
        body["n"] = fmt_amount(commission(fill, report.is_maker))
    return {"e": "ORDER_TRADE_UPDATE", "E": now_ms, "T": now_ms, "o": body}


def account_update(
    account: FuturesAccount,
    symbol_rules: list[SymbolRules],
    marks: dict[str, Decimal | None],
    now_ms: int,
) -> dict[str, Any]:
    """Return a USD-M ``ACCOUNT_UPDATE`` event with the wallet and the given positions."""
    positions = []
    for rules in symbol_rules:
        pos = account.position(rules.symbol)
        lot_value = rules.lot * rules.multiplier
        positions.append(
            {
                "s": rules.symbol,
                "pa": rules.fmt_qty(pos.lots),
                "ep": f"{pos.entry.quantize(Decimal('1e-8')).normalize():f}",
                "bep": f"{pos.entry.quantize(Decimal('1e-8')).normalize():f}",
                "cr": fmt_amount(pos.realized),
                "up": fmt_amount(
                    account.unrealized(rules.symbol, marks.get(rules.symbol), lot_value)
                ),
                "mt": "cross",
                "iw": "0",
                "ps": "BOTH",
            }
        )
    wallet = fmt_amount(account.wallet)
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now_ms,
        "T": now_ms,
        "a": {
            "m": "ORDER",
            "B": [{"a": account.asset, "wb": wallet, "cw": wallet, "bc": "0"}],
            "P": positions,
        },
    }

"""Order, user-data, account and exchangeInfo payloads -> hftlib objects; code mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from hftlib.venues.binance import account as ac
from hftlib.venues.binance import enums
from hftlib.venues.binance import orders as od
from hftlib.venues.binance import userdata as ud
from hftlib.venues.binance.constants import Market, depth_weight
from hftlib.venues.binance.errors import Action, BinanceMessageError, classify
from hftlib.venues.binance.urls import urls_for, usdm_route

from hftlib.engine.types import (
    BUY,
    OT_LIMIT,
    OT_MARKET,
    SELL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    ST_UNKNOWN,
    TIF_GTC,
    TIF_GTX,
    TIF_IOC,
    V_FOK_UNFILLED,
    V_UNKNOWN_ORDER,
    V_WOULD_CROSS,
)
from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument

RESOURCES = Path(__file__).parent / "resources"
SPOT = lookup_instrument("binance", "BTCUSDT")
USDM = lookup_instrument("binance-futures", "BTCUSDT")
LOCAL = 1_723_161_300_000_000_000
ASSETS = od.Assets("BTC", "USDT")


def res(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def test_full_response_gives_one_update_per_fill_with_fees_in_quote() -> None:
    resp = od.decode_order(res("http_post_order_full_spot.json"), Market.SPOT)
    ups = od.order_updates(resp, SPOT, LOCAL, ASSETS)
    assert [u.trade_id for u in ups] == [56, 57]
    assert [u.filled_lots for u in ups] == [400_000, 1_000_000]
    assert [u.status for u in ups] == [ST_OPEN, ST_FILLED]
    assert [u.last_fill_ticks for u in ups] == [6_180_000, 6_179_850]
    assert (ups[0].fee, ups[0].fee_asset) == (pytest.approx(0.2472), "USDT")
    assert (ups[1].fee, ups[1].fee_asset) == (pytest.approx(0.000006), "BTC")  # as charged
    assert {u.side for u in ups} == {SELL}
    assert ups[0].exch_ts == 1507725176595 * 1_000_000
    assert od.average_price(resp.cum_quote or "0", resp.executed_qty or "0") == 61799.0
    assert ups[0].avg_price == pytest.approx(61800.0)  # over the fills so far
    assert ups[1].avg_price == pytest.approx(61799.0)  # the order's, from the response


def test_ack_and_cancel_responses() -> None:
    (ack,) = od.order_updates(
        od.decode_order(res("http_post_order_ack_spot.json"), Market.SPOT), SPOT, LOCAL
    )
    assert (ack.status, ack.reason, ack.venue_order_id) == (ST_OPEN, "ack", "28")
    (cancel,) = od.order_updates(
        od.decode_order(res("http_delete_order_spot.json"), Market.SPOT), SPOT, LOCAL
    )
    assert cancel.client_id == "myOrder1"  # the order's id, not the cancel request's
    assert (cancel.status, cancel.side, cancel.price_ticks) == (ST_CANCELED, BUY, 6_100_000)


def test_usdm_order_response() -> None:
    resp = od.decode_order(res("http_post_order_usdm.json"), Market.USDM)
    instrument = Instrument(
        venue="binance-futures",
        symbol="BTCUSDT",
        kind=InstrumentKind.LINEAR_PERPETUAL,
        tick_size=0.1,
        lot_size=1.0,
    )
    (up,) = od.order_updates(resp, instrument, LOCAL)
    assert (up.client_id, up.status, up.qty_lots, up.exch_ts) == (
        "testOrder",
        ST_OPEN,
        10,
        1566818724722 * 1_000_000,
    )


def test_execution_report_fill() -> None:
    kind, event = ud.parse_ws_api_frame(res("ws_executionreport_spot.json"))
    assert kind == ud.EVENT
    assert event.event == ud.EXECUTION_REPORT
    report = od.decode_execution_report(event.data)
    up = od.execution_report_update(report, SPOT, LOCAL, ASSETS)
    assert (up.client_id, up.status, up.trade_id, up.maker) == (
        "mUvoqJxFIILMdfAW5iGSOW",
        ST_OPEN,
        77,
        True,
    )
    assert (up.last_fill_lots, up.filled_lots, up.last_fill_ticks) == (
        25_000_000,
        25_000_000,
        6_180_010,
    )
    assert (up.fee, up.fee_asset) == (pytest.approx(0.00025), "BTC")
    assert od.average_price(report.cum_quote, report.cum_qty) == pytest.approx(61800.1)
    assert up.avg_price == pytest.approx(61800.1)
    assert up.reason == ""


def test_order_trade_update_and_account_update() -> None:
    event = ud.user_event(res("ws_order_trade_update_usdm.json"), Market.USDM)
    assert event.event == ud.ORDER_TRADE_UPDATE
    up = od.order_trade_update(od.decode_order_trade_update(event.data), USDM, LOCAL)
    assert (up.status, up.side, up.filled_lots, up.trade_id, up.maker) == (
        ST_FILLED,
        SELL,
        1,
        123,
        True,
    )
    assert (up.fee, up.fee_asset) == (pytest.approx(0.01236), "USDT")
    assert up.avg_price > 0
    acct = ac.decode_account_update(res("ws_account_update_usdm.json"))
    assert acct.data.positions[0].position_amt == "0.001"


def test_account_trades_are_unknown_status_fill_records() -> None:
    (trade,) = od.decode_account_trades(res("http_get_mytrades_spot.json"), Market.SPOT)
    up = od.account_trade_update(trade, SPOT, LOCAL, ASSETS)
    assert (up.status, up.client_id, up.venue_order_id, up.side) == (ST_UNKNOWN, "", "100234", BUY)
    assert (up.fee, up.fee_asset, up.reason) == (pytest.approx(10.1), "BNB", "fill record")


def test_balances_and_positions() -> None:
    spot = ac.spot_balances(res("http_get_account_spot.json"))
    assert [b.asset for b in spot] == ["BTC", "LTC"]
    fut = ac.futures_balances(res("http_get_balance_usdm.json"))
    assert len(fut) == 1
    assert fut[0].free == pytest.approx(23.72469206)
    assert fut[0].locked == pytest.approx(122607.35137903 - 23.72469206)
    pos, unknown = ac.positions(res("http_get_positionrisk_usdm.json"), {"BTCUSDT": USDM})
    assert [(x.symbol, x.lots) for x in pos] == [("BTCUSDT", -25)]
    assert unknown == ["XRPUSDT"]
    _, event = ud.parse_ws_api_frame(res("ws_account_position_spot.json"))
    assert ac.account_position_balances(event.data)[0].free == 10000.0


def test_exchange_info_rules_match_or_list_differences() -> None:
    for name, market, symbol, tick, step, notional in (
        ("spot", Market.SPOT, "NKNUSDT", 0.0001, 1.0, 10.0),
        ("usdm", Market.USDM, "SUSHIUSDT", 0.001, 1.0, 5.0),
    ):
        info = ac.decode_exchange_info(res(f"http_get_exchangeinfo_{name}.json"), market)
        rules = ac.symbol_rules(info, market)[symbol]
        assert (rules.tick_size, rules.step_size) == (tick, step)
        assert rules.min_notional == notional
        spec = ac.instrument_from_rules(rules, market)
        assert ac.check_instrument(rules, spec) == []
    wrong = Instrument(
        venue="binance", symbol="NKNUSDT", kind=InstrumentKind.SPOT, tick_size=0.001, lot_size=1.0
    )
    info = ac.decode_exchange_info(res("http_get_exchangeinfo_spot.json"), Market.SPOT)
    assert ac.check_instrument(ac.symbol_rules(info, Market.SPOT)["NKNUSDT"], wrong) == [
        "tick size: venue 0.0001, instrument 0.001"
    ]


def test_stream_terminated_listen_key_and_error_bodies() -> None:
    event = ud.user_event(res("ws_event_stream_terminated_spot.json"), Market.SPOT)
    assert event.event == ud.STREAM_TERMINATED
    assert (
        ud.decode_listen_key(b'{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1"}')[:4] == "pqia"
    )
    body = ud.decode_error(res("http_error_spot.json"), Market.SPOT)
    info = classify(body.code, body.msg, 400)
    assert (info.action, info.reason) == (Action.REJECT, V_WOULD_CROSS)
    with pytest.raises(BinanceMessageError):
        ud.user_event(res("ws_api_response_order_spot.json"), Market.SPOT)


@pytest.mark.parametrize(
    ("code", "msg", "status", "action", "reason", "retryable"),
    [
        (-1007, "Timeout waiting for response from backend server.", 408, Action.UNKNOWN, 0, True),
        (-1006, "", 400, Action.UNKNOWN, 0, True),
        (
            -2010,
            "Account has insufficient balance for requested action.",
            400,
            Action.REJECT,
            0,
            False,
        ),
        (
            -2010,
            "Order would immediately match and take.",
            400,
            Action.REJECT,
            V_WOULD_CROSS,
            False,
        ),
        (-2011, "Unknown order sent.", 400, Action.NOT_FOUND, V_UNKNOWN_ORDER, False),
        (-2011, "Order was not canceled due to cancel restrictions.", 400, Action.REJECT, 0, False),
        (-2013, "Order does not exist.", 400, Action.NOT_FOUND, V_UNKNOWN_ORDER, False),
        (-5022, "", 400, Action.REJECT, V_WOULD_CROSS, False),
        (-5021, "", 400, Action.REJECT, V_FOK_UNFILLED, False),
        (-1021, "", 400, Action.CLOCK, 0, True),
        (-1022, "", 400, Action.AUTH, 0, False),
        (-2015, "", 401, Action.AUTH, 0, False),
        (-1003, "", 429, Action.RATE_LIMIT, 0, True),
        (-1003, "", 418, Action.RATE_LIMIT, 0, False),
        (-1121, "Invalid symbol.", 400, Action.REQUEST, 0, False),
        (0, "", 503, Action.UNKNOWN, 0, True),
        (-1099, "", 400, Action.UNKNOWN, 0, False),
        (-9999, "", 400, Action.REQUEST, 0, False),
    ],
)
def test_error_codes_map_to_actions(
    code: int, msg: str, status: int, action: Action, reason: int, retryable: bool
) -> None:
    info = classify(code, msg, status)
    assert (info.action, info.reason, info.retryable) == (action, reason, retryable)


def test_order_strings_round_trip() -> None:
    assert enums.order_params(Market.SPOT, OT_LIMIT, TIF_GTX) == {"type": "LIMIT_MAKER"}
    assert enums.order_params(Market.USDM, OT_LIMIT, TIF_GTX) == {
        "type": "LIMIT",
        "timeInForce": "GTX",
    }
    assert enums.order_params(Market.SPOT, OT_MARKET, TIF_GTC) == {"type": "MARKET"}
    assert enums.order_type_code("LIMIT_MAKER", None) == (OT_LIMIT, TIF_GTX)
    assert enums.order_type_code("LIMIT", "GTX", Market.USDM) == (OT_LIMIT, TIF_GTX)
    assert enums.order_type_code("MARKET", "GTC") == (OT_MARKET, TIF_IOC)
    assert enums.status_code("EXPIRED_IN_MATCH") == enums.ORDER_STATUS["EXPIRED"]
    for bad in (lambda: enums.status_code("WEIRD"), lambda: enums.order_type_code("STOP", None)):
        with pytest.raises(BinanceMessageError):
            bad()


def test_urls_and_weights() -> None:
    local = urls_for(Market.SPOT, base_url="http://127.0.0.1:9999")
    assert (local.rest, local.ws_api) == ("http://127.0.0.1:9999", "ws://127.0.0.1:9999/ws-api/v3")
    assert local.combined_stream_url(["btcusdt@depth@100ms", "btcusdt@trade"]) == (
        "ws://127.0.0.1:9999/stream?streams=btcusdt@depth@100ms/btcusdt@trade"
    )
    fut = urls_for(Market.USDM)
    assert fut.combined_stream_url(["btcusdt@depth@0ms", "btcusdt@bookTicker"]).startswith(
        "wss://fstream.binance.com/public/stream?"
    )
    assert fut.combined_stream_url(["btcusdt@aggTrade"]).startswith(
        "wss://fstream.binance.com/market/"
    )
    assert fut.user_stream_url("k") == "wss://fstream.binance.com/private/ws/k"
    assert urls_for(Market.USDM, testnet=True).rest == "https://testnet.binancefuture.com"
    assert usdm_route("btcusdt@trade") == "market"
    with pytest.raises(ValueError, match="routes"):
        fut.combined_stream_url(["btcusdt@depth", "btcusdt@trade"])
    with pytest.raises(ValueError, match="listen key"):
        urls_for(Market.SPOT).user_stream_url("k")
    assert [depth_weight(Market.SPOT, n) for n in (100, 500, 1000, 5000)] == [5, 25, 50, 250]
    assert [depth_weight(Market.USDM, n) for n in (20, 100, 500, 1000)] == [2, 5, 10, 20]

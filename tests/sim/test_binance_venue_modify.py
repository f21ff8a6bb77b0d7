"""USD-M order modify (``PUT /fapi/v1/order``) and balances (``GET /fapi/v2/balance``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from hftlib.sim.binance_venue.modify import VenueEngine
from hftlib.sim.binance_venue.server import BinanceVenue
from hftlib.sim.matching import Fees
from venue_client import KEY2, SECRET2, USDM, accounts, drain, signed, write_market

from hftlib.engine.types import BUY, SELL

SYMBOL = {"symbol": "BTCUSDT"}


def engine() -> VenueEngine:
    return VenueEngine(Fees(), Decimal("0.0001"), Decimal("0.001"))


def filled_ids(reports: list[Any]) -> list[int]:
    return [r.order.order_id for r in reports if r.fill is not None]


def test_a_smaller_size_at_the_same_price_keeps_the_queue_place() -> None:
    e = engine()
    a, _ = e.submit(1, BUY, 10, 100)
    b, _ = e.submit(2, BUY, 10, 100)
    (report,) = e.replace(a.order_id, 100, 6)
    assert (report.exec_type, report.status, report.qty) == ("REPLACED", "NEW", 6)
    assert e.depth() == ([(100, 16)], [])
    assert filled_ids(e.recorded_trade(SELL, 100, 6)) == [a.order_id]
    assert b.filled == 0


def test_a_new_price_or_a_larger_size_goes_to_the_back() -> None:
    e = engine()
    a, _ = e.submit(1, BUY, 10, 100)
    b, _ = e.submit(2, BUY, 10, 100)
    e.replace(a.order_id, 99, 10)
    assert e.depth() == ([(100, 10), (99, 10)], [])
    e.replace(a.order_id, 100, 10)  # back at 100, now behind b
    assert filled_ids(e.recorded_trade(SELL, 100, 10)) == [b.order_id]
    c, _ = e.submit(3, BUY, 5, 100)
    e.replace(a.order_id, 100, 12)  # larger: behind c
    assert filled_ids(e.recorded_trade(SELL, 100, 5)) == [c.order_id]
    assert (a.order_id, a.qty, a.price) == (1, 12, 100)


def test_a_crossing_price_takes_like_a_new_arrival() -> None:
    e = engine()
    a, _ = e.submit(1, BUY, 10, 100)
    s, _ = e.submit(2, SELL, 4, 102)
    reports = e.replace(a.order_id, 103, 10)
    assert [(r.order.order_id, r.exec_type, r.status, r.is_maker) for r in reports] == [
        (a.order_id, "REPLACED", "NEW", False),
        (s.order_id, "TRADE", "FILLED", True),
        (a.order_id, "TRADE", "PARTIALLY_FILLED", False),
    ]
    assert reports[-1].fill is not None
    assert reports[-1].fill.price == 102
    assert e.depth() == ([(103, 6)], [])  # the rest rests at the new price


def usdm_market(tmp_path: Path) -> Path:
    # a spread from 61800.0 to 61801.0 with 1 BTC a level
    bids = [(618_000 - i, 1000) for i in range(5)]
    asks = [(618_010 + i, 1000) for i in range(5)]
    return write_market(tmp_path / "u.npy", USDM, [("snapshot", bids, asks)])


def limit(cid: str, side: str, price: str, qty: str, tif: str = "GTC") -> dict[str, Any]:
    return {**SYMBOL, "side": side, "type": "LIMIT", "timeInForce": tif, "price": price,
            "quantity": qty, "newClientOrderId": cid}  # fmt: skip


def test_modify_over_rest(tmp_path: Path) -> None:
    data = usdm_market(tmp_path)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            base = venue.rest_url

            async def call(method: str, path: str, params: dict[str, Any], **kw: Any) -> Any:
                return await signed(s, base, method, path, params, **kw)

            _, _, key = await call("POST", "/fapi/v1/listenKey", {})
            user = await s.ws_connect(f"{venue.ws_url}/private/ws/{key['listenKey']}")
            await asyncio.sleep(0.05)
            _, placed_headers, placed = await call(
                "POST", "/fapi/v1/order", limit("m1", "BUY", "61790.0", "0.010")
            )
            oid = out["placed_id"] = placed["orderId"]
            await drain(user, 0.05)
            move = {**SYMBOL, "orderId": oid, "side": "BUY", "price": "61791.0",
                    "quantity": "0.020"}  # fmt: skip
            out["moved"] = await call("PUT", "/fapi/v1/order", move)
            out["placed_count"] = placed_headers["X-MBX-ORDER-COUNT-1M"]
            out["moved_events"] = [f["o"] for f in await drain(user, 0.05) if "o" in f]
            out["book"] = venue.exchange.books["BTCUSDT"].engine.depth(8)[0]
            out["same"] = await call("PUT", "/fapi/v1/order", move)
            by_cid = {k: v for k, v in move.items() if k != "orderId"}
            out["unknown"] = await call("PUT", "/fapi/v1/order", {**move, "orderId": 999_999})
            out["wrong_side"] = await call("PUT", "/fapi/v1/order", {**move, "side": "SELL"})
            out["no_price"] = await call(
                "PUT", "/fapi/v1/order", {k: v for k, v in move.items() if k != "price"}
            )
            out["off_tick"] = await call("PUT", "/fapi/v1/order", {**move, "price": "61791.05"})
            out["margin"] = await call("PUT", "/fapi/v1/order", {**move, "quantity": "5000.000"})
            out["unchanged"] = venue.exchange.books["BTCUSDT"].engine.depth(8)[0]
            cross = {**by_cid, "origClientOrderId": "m1", "price": "61801.0"}
            out["crossed"] = await call("PUT", "/fapi/v1/order", cross)
            out["crossed_events"] = [f["o"] for f in await drain(user, 0.05) if "o" in f]
            # a post-only order whose new price would take is cancelled
            await call("POST", "/fapi/v1/order", limit("g1", "BUY", "61790.0", "0.010", "GTX"))
            gtx = {**SYMBOL, "origClientOrderId": "g1", "side": "BUY", "price": "61801.0",
                   "quantity": "0.010"}  # fmt: skip
            out["gtx"] = await call("PUT", "/fapi/v1/order", gtx)
            # a partly filled order modified to no more than its fill is cancelled
            await call("POST", "/fapi/v1/order", limit("s2", "SELL", "61800.5", "0.010"),
                       key=KEY2, secret=SECRET2)  # fmt: skip
            await call("POST", "/fapi/v1/order", limit("p1", "BUY", "61800.5", "0.030"))
            part = {**SYMBOL, "origClientOrderId": "p1", "side": "BUY", "price": "61800.5",
                    "quantity": "0.010"}  # fmt: skip
            out["partial"] = await call("PUT", "/fapi/v1/order", part)
            await drain(user, 0.05)
            await user.close()
        return out

    out = asyncio.run(main())
    status, headers, moved = out["moved"]
    assert status == 200
    assert (moved["orderId"], moved["clientOrderId"], moved["status"]) == (
        out["placed_id"],
        "m1",
        "NEW",
    )
    assert (moved["price"], moved["origQty"], moved["type"]) == ("61791.0", "0.020", "LIMIT")
    assert moved["selfTradePreventionMode"] == "NONE"
    assert (out["placed_count"], headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "2")
    (event,) = out["moved_events"]
    assert (event["x"], event["X"], event["c"], event["i"]) == (
        "AMENDMENT",
        "NEW",
        "m1",
        moved["orderId"],
    )
    assert (event["p"], event["q"]) == ("61791.0", "0.020")
    assert (617_910, 20) in out["book"]
    assert all(p != 617_900 for p, _ in out["book"])
    assert out["same"][0] == 400
    assert out["same"][2] == {"code": -5027, "msg": "No need to modify the order."}
    assert out["unknown"][2] == {"code": -2011, "msg": "Unknown order sent."}
    assert out["wrong_side"][2]["code"] == -2011
    assert out["no_price"][2]["code"] == -1102
    assert out["off_tick"][2]["code"] == -4014
    assert out["margin"][2] == {"code": -2019, "msg": "Margin is insufficient."}
    assert out["unchanged"] == out["book"]  # rejected amendments leave the order as it was
    status, _, crossed = out["crossed"]
    assert status == 200
    assert (crossed["status"], crossed["executedQty"], crossed["avgPrice"]) == (
        "FILLED",
        "0.020",
        "61801",
    )
    assert [(e["x"], e["X"]) for e in out["crossed_events"]] == [
        ("AMENDMENT", "NEW"),
        ("TRADE", "FILLED"),
    ]
    assert out["gtx"][0] == 200
    assert out["gtx"][2]["status"] == "CANCELED"
    assert out["partial"][0] == 200
    assert (out["partial"][2]["status"], out["partial"][2]["executedQty"]) == ("CANCELED", "0.010")


def test_balance_endpoint(tmp_path: Path) -> None:
    data = usdm_market(tmp_path)

    async def main() -> tuple[Any, Any, dict[str, Any]]:
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            base = venue.rest_url
            await signed(s, base, "POST", "/fapi/v1/order", limit("b1", "BUY", "61801.0", "0.010"))
            first = await signed(s, base, "GET", "/fapi/v2/balance", {})
            second = await signed(s, base, "GET", "/fapi/v2/balance", {})
            return first, second, venue.exchange.futures_account(1)

    (status, h1, body), (_, h2, _), account = asyncio.run(main())
    assert status == 200
    (entry,) = body
    assert set(entry) == {
        "accountAlias",
        "asset",
        "balance",
        "crossWalletBalance",
        "crossUnPnl",
        "availableBalance",
        "maxWithdrawAmount",
        "marginAvailable",
        "updateTime",
    }
    asset = account["assets"][0]
    assert entry["asset"] == "USDT"
    assert entry["balance"] == asset["walletBalance"]
    assert Decimal(entry["balance"]) < Decimal(1_000_000)  # the taker fee was paid
    assert entry["availableBalance"] == asset["availableBalance"]
    assert entry["crossUnPnl"] == asset["crossUnPnl"]
    assert entry["marginAvailable"] is True
    assert int(h2["X-MBX-USED-WEIGHT-1M"]) - int(h1["X-MBX-USED-WEIGHT-1M"]) == 5

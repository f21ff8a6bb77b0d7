"""The local Binance venue's REST API over real loopback sockets: auth, errors, orders, limits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hftlib.sim.binance_venue.config import VenueConfig
from hftlib.sim.binance_venue.server import BinanceVenue
from venue_client import (
    KEY,
    SPOT,
    USDM,
    accounts,
    book_levels,
    signed,
    write_market,
)


def spot_venue(tmp_path: Path, **config: Any) -> BinanceVenue:
    bids, asks = book_levels(6_180_000, 10, 100_000_000)  # 1 BTC a level around 61800.00
    script = [("snapshot", bids, asks)] + [("trade", False, 6_180_000, 1000)] * 5
    data = write_market(tmp_path / "spot.npy", SPOT, script)
    return BinanceVenue([data], accounts=accounts("spot"), config=VenueConfig(**config))


def usdm_venue(tmp_path: Path, **config: Any) -> BinanceVenue:
    bids, asks = book_levels(618_000, 10, 1000)  # 1 BTC a level around 61800.0
    data = write_market(tmp_path / "usdm.npy", USDM, [("snapshot", bids, asks)])
    return BinanceVenue([data], accounts=accounts("usdm"), config=VenueConfig(**config))


def order(price: str, qty: str = "0.01000000", side: str = "BUY", **extra: Any) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC"}
    return {**params, "quantity": qty, "price": price, **extra}


def test_official_signature_vector_passes_the_signature_check(tmp_path: Path) -> None:
    # venue-protocols §8.1: this exact request carries a valid signature, so the server gets
    # past the signature check and refuses the 2017 timestamp instead (-1021, not -1022)
    query = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

    async def main() -> list[tuple[int, Any]]:
        out = []
        async with spot_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            for signature in (sig, sig.upper(), sig[:-1] + "0"):
                url = f"{venue.rest_url}/api/v3/order?{query}&signature={signature}"
                async with s.post(url, headers={"X-MBX-APIKEY": KEY}) as r:
                    out.append((r.status, await r.json()))
            body = {"Content-Type": "application/x-www-form-urlencoded", "X-MBX-APIKEY": KEY}
            async with s.post(
                f"{venue.rest_url}/api/v3/order", data=f"{query}&signature={sig}", headers=body
            ) as r:
                out.append((r.status, await r.json()))
        return out

    ok, upper, bad, in_body = asyncio.run(main())
    assert ok[1]["code"] == -1021
    assert upper[1]["code"] == -1021
    assert bad == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert in_body[1]["code"] == -1021


def test_api_key_signature_and_timestamp_errors(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with spot_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            base = venue.rest_url
            p = order("61000.00")
            out["unknown_key"] = await signed(s, base, "POST", "/api/v3/order", p, key="A" * 64)
            out["bad_secret"] = await signed(s, base, "POST", "/api/v3/order", p, secret="nope")  # noqa: S106
            async with s.get(f"{base}/api/v3/account?timestamp=1") as r:
                out["no_key"] = (r.status, await r.json())
            async with s.get(
                f"{base}/api/v3/account?timestamp={venue.now_ms()}", headers={"X-MBX-APIKEY": KEY}
            ) as r:
                out["no_sig"] = (r.status, await r.json())
            now = venue.now_ms()
            out["ahead"] = await signed(s, base, "GET", "/api/v3/account", {}, timestamp=now + 5000)
            out["late"] = await signed(s, base, "GET", "/api/v3/account", {}, timestamp=now - 6000)
            out["window"] = await signed(
                s, base, "GET", "/api/v3/account", {"recvWindow": 10_000}, timestamp=now - 6000
            )
            out["big_window"] = await signed(
                s, base, "GET", "/api/v3/account", {"recvWindow": 70_000}
            )
            out["in_body"] = await signed(s, base, "POST", "/api/v3/order", p, in_body=True)
            venue.shift_clock(-30_000)  # the server's clock now lags the client's by 30 s
            out["skewed"] = await signed(s, base, "GET", "/api/v3/account", {})
            async with s.get(f"{base}/api/v3/time") as r:
                out["time"] = (await r.json())["serverTime"] - int(time.time() * 1000)
        return out

    out = asyncio.run(main())
    assert out["unknown_key"][0] == 401
    assert out["unknown_key"][2] == {
        "code": -2015,
        "msg": "Invalid API-key, IP, or permissions for action.",
    }
    assert out["bad_secret"][2]["code"] == -1022
    assert out["no_key"][1] == {"code": -2014, "msg": "API-key format invalid."}
    assert out["no_sig"][1]["code"] == -1102
    assert "'signature'" in out["no_sig"][1]["msg"]
    assert out["ahead"][2] == {
        "code": -1021,
        "msg": "Timestamp for this request was 1000ms ahead of the server's time.",
    }
    assert out["late"][2] == {
        "code": -1021,
        "msg": "Timestamp for this request is outside of the recvWindow.",
    }
    assert out["window"][0] == 200
    assert out["big_window"][2]["code"] == -1131
    assert out["in_body"][0] == 200
    assert out["skewed"][2]["code"] == -1021
    assert -31_000 < out["time"] < -29_000


def test_spot_order_errors_use_binance_codes_and_messages(tmp_path: Path) -> None:
    cases = {
        "bad_symbol": ({**order("61000.00"), "symbol": "NOPE"}, -1121, "Invalid symbol."),
        "no_qty": (
            {k: v for k, v in order("61000.00").items() if k != "quantity"},
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
        "off_tick": (order("61000.001"), -1013, "Filter failure: PRICE_FILTER"),
        "off_step": (order("61000.00", "0.000000001"), -1111, None),
        "notional": (order("61000.00", "0.00001000"), -1013, "Filter failure: NOTIONAL"),
        "maker": (
            {**order("61800.01"), "type": "LIMIT_MAKER", "timeInForce": ""},
            -2010,
            "Order would immediately match and take.",
        ),
        "side": (order("61000.00", side="HOLD"), -1117, "Invalid side."),
        "type": ({**order("61000.00"), "type": "STOP"}, -1116, "Invalid orderType."),
        "tif": (order("61000.00", timeInForce="GTX"), -1115, "Invalid timeInForce."),
        "market_price": (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1", "price": "1"},
            -1106,
            "Parameter 'price' sent when not required.",
        ),
        "funds": (
            order("61000.00", "99.00000000"),
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        "client_id": (order("61000.00", newClientOrderId="bad id!"), -1100, None),
    }

    async def main() -> dict[str, Any]:
        out = {}
        async with spot_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            for name, (params, _, _) in cases.items():
                out[name] = await signed(s, venue.rest_url, "POST", "/api/v3/order", params)
            dup = order("61000.00", newClientOrderId="dup-1")
            out["first"] = await signed(s, venue.rest_url, "POST", "/api/v3/order", dup)
            out["dup"] = await signed(s, venue.rest_url, "POST", "/api/v3/order", dup)
            ref = {"symbol": "BTCUSDT", "orderId": 999}
            out["cancel"] = await signed(s, venue.rest_url, "DELETE", "/api/v3/order", ref)
            out["query"] = await signed(s, venue.rest_url, "GET", "/api/v3/order", ref)
        return out

    out = asyncio.run(main())
    for name, (_, code, msg) in cases.items():
        status, _, body = out[name]
        assert status == 400, name
        assert body["code"] == code, (name, body)
        if msg is not None:
            assert body["msg"] == msg, name
    assert out["first"][0] == 200
    assert out["dup"][2] == {"code": -2010, "msg": "Duplicate order sent."}
    assert out["cancel"][2] == {"code": -2011, "msg": "Unknown order sent."}
    assert out["query"][2] == {"code": -2013, "msg": "Order does not exist."}


def test_spot_order_lifecycle_locks_and_settles_balances(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with spot_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            base = venue.rest_url

            async def call(method: str, path: str, params: dict[str, Any]) -> Any:
                status, headers, body = await signed(s, base, method, path, params)
                assert status == 200, body
                return body

            def balance(acct: Any, asset: str) -> tuple[str, str]:
                row = next(b for b in acct["balances"] if b["asset"] == asset)
                return row["free"], row["locked"]

            rest = await call("POST", "/api/v3/order", order("61000.00", "0.50000000"))
            out["rest"] = rest
            out["locked"] = balance(await call("GET", "/api/v3/account", {}), "USDT")
            out["open"] = await call("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
            amend = {"symbol": "BTCUSDT", "orderId": rest["orderId"], "newQty": "0.20000000"}
            out["amend"] = await call("PUT", "/api/v3/order/amend/keepPriority", amend)
            out["after_amend"] = balance(await call("GET", "/api/v3/account", {}), "USDT")
            ref = {"symbol": "BTCUSDT", "orderId": rest["orderId"]}
            out["cancel"] = await call("DELETE", "/api/v3/order", ref)
            out["unlocked"] = balance(await call("GET", "/api/v3/account", {}), "USDT")
            out["take"] = await call("POST", "/api/v3/order", order("61800.02", "1.50000000"))
            acct = await call("GET", "/api/v3/account", {})
            out["after_take"] = (balance(acct, "USDT"), balance(acct, "BTC"))
            out["trades"] = await call("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
            out["query"] = await call(
                "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": out["take"]["orderId"]}
            )
        return out

    out = asyncio.run(main())
    assert out["rest"]["status"] == "NEW"
    assert out["rest"]["fills"] == []
    assert out["locked"] == ("969500.00000000", "30500.00000000")
    assert [o["orderId"] for o in out["open"]] == [out["rest"]["orderId"]]
    assert out["amend"]["amendedOrder"]["origQty"] == "0.20000000"
    assert out["after_amend"] == ("987800.00000000", "12200.00000000")
    assert out["cancel"]["status"] == "CANCELED"
    assert out["unlocked"] == ("1000000.00000000", "0.00000000")
    take = out["take"]
    assert take["status"] == "FILLED"
    # 1 BTC at 61800.01, 0.5 at 61800.02; the buyer pays 0.1% in BTC
    assert [
        (f["price"], f["qty"], f["commission"], f["commissionAsset"]) for f in take["fills"]
    ] == [
        ("61800.01000000", "1.00000000", "0.00100000", "BTC"),
        ("61800.02000000", "0.50000000", "0.00050000", "BTC"),
    ]
    assert take["cummulativeQuoteQty"] == "92700.02000000"
    assert out["after_take"] == (
        ("907299.98000000", "0.00000000"),
        ("101.49850000", "0.00000000"),
    )
    assert [t["id"] for t in out["trades"]] == [f["tradeId"] for f in take["fills"]]
    assert out["query"]["executedQty"] == "1.50000000"


def test_cancel_replace_success_and_both_failure_shapes(tmp_path: Path) -> None:
    async def main() -> list[tuple[int, Any]]:
        async with spot_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            base = venue.rest_url
            _, _, first = await signed(s, base, "POST", "/api/v3/order", order("61000.00"))
            replace = {
                **order("61100.00"),
                "cancelReplaceMode": "STOP_ON_FAILURE",
                "cancelOrderId": first["orderId"],
            }
            ok = await signed(s, base, "POST", "/api/v3/order/cancelReplace", replace)
            again = await signed(s, base, "POST", "/api/v3/order/cancelReplace", replace)
            allow = {**replace, "cancelReplaceMode": "ALLOW_FAILURE"}
            partial = await signed(s, base, "POST", "/api/v3/order/cancelReplace", allow)
            return [(ok[0], ok[2]), (again[0], again[2]), (partial[0], partial[2])]

    ok, stop, partial = asyncio.run(main())
    assert ok[0] == 200
    assert ok[1]["cancelResult"] == "SUCCESS"
    assert ok[1]["newOrderResponse"]["price"] == "61100.00000000"
    assert stop[0] == 400
    assert stop[1]["code"] == -2022
    assert stop[1]["data"]["newOrderResult"] == "NOT_ATTEMPTED"
    assert stop[1]["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert partial[0] == 409
    assert partial[1]["code"] == -2021
    assert partial[1]["data"]["newOrderResult"] == "SUCCESS"


def test_weight_headers_429_then_418_ban(tmp_path: Path) -> None:
    async def main() -> list[tuple[int, dict[str, str], Any]]:
        seen = []
        async with (
            spot_venue(tmp_path, weight_limit=20, ban_after=2, ban_seconds=60) as venue,
            aiohttp.ClientSession() as s,
        ):
            for _ in range(7):
                async with s.get(f"{venue.rest_url}/api/v3/depth?symbol=BTCUSDT") as r:
                    seen.append((r.status, dict(r.headers), await r.json()))
        return seen

    seen = asyncio.run(main())
    assert [s for s, _, _ in seen] == [200, 200, 200, 200, 429, 429, 418]
    assert [h["X-MBX-USED-WEIGHT-1M"] for _, h, _ in seen[:4]] == ["5", "10", "15", "20"]
    assert seen[4][2]["code"] == -1003
    assert 1 <= int(seen[4][1]["Retry-After"]) <= 60
    assert seen[6][2]["msg"].startswith("Way too much request weight used; IP banned until")
    assert 59 <= int(seen[6][1]["Retry-After"]) <= 60


def test_order_count_headers_and_limit(tmp_path: Path) -> None:
    async def main() -> list[tuple[int, dict[str, str], Any]]:
        async with (
            spot_venue(tmp_path, orders_per_10s=2) as venue,
            aiohttp.ClientSession() as s,
        ):
            return [
                await signed(s, venue.rest_url, "POST", "/api/v3/order", order(f"6100{i}.00"))
                for i in range(3)
            ]

    seen = asyncio.run(main())
    assert [h.get("X-MBX-ORDER-COUNT-10S") for _, h, _ in seen[:2]] == ["1", "2"]
    assert seen[0][1]["X-MBX-ORDER-COUNT-1D"] == "1"
    assert seen[2][0] == 429
    assert seen[2][2] == {
        "code": -1015,
        "msg": "Too many new orders; current limit is 2 orders per 10 SECOND.",
    }


def test_exchange_info_filters_come_from_the_instrument(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, Any]:
        async with spot_venue(tmp_path) as spot, aiohttp.ClientSession() as s:
            async with s.get(f"{spot.rest_url}/api/v3/exchangeInfo") as r:
                spot_info = await r.json()
            async with s.get(f"{spot.rest_url}/api/v3/ping") as r:
                ping = await r.json()
        async with (
            usdm_venue(tmp_path) as usdm,
            aiohttp.ClientSession() as s,
            s.get(f"{usdm.rest_url}/fapi/v1/exchangeInfo") as r,
        ):
            usdm_info = await r.json()
        return spot_info, usdm_info, ping

    spot_info, usdm_info, ping = asyncio.run(main())
    assert ping == {}
    filters = {f["filterType"]: f for f in spot_info["symbols"][0]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00000001"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert {r["rateLimitType"] for r in spot_info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    sym = usdm_info["symbols"][0]
    assert (sym["pricePrecision"], sym["quantityPrecision"]) == (1, 3)
    assert {f["filterType"]: f for f in sym["filters"]}["LOT_SIZE"]["stepSize"] == "0.001"
    assert "GTX" in sym["timeInForce"]


def test_usdm_orders_positions_and_errors(tmp_path: Path) -> None:
    def fut(price: str, qty: str = "0.010", side: str = "BUY", **extra: Any) -> dict[str, Any]:
        return order(price, qty, side, **extra)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with usdm_venue(tmp_path) as venue, aiohttp.ClientSession() as s:
            base = venue.rest_url

            async def call(method: str, path: str, params: dict[str, Any]) -> Any:
                return (await signed(s, base, method, path, params))[2]

            out["gtx"] = await call("POST", "/fapi/v1/order", fut("61800.1", timeInForce="GTX"))
            out["fok"] = await call(
                "POST", "/fapi/v1/order", fut("61800.1", "5.000", timeInForce="FOK")
            )
            out["tick"] = await call("POST", "/fapi/v1/order", fut("61800.15"))
            out["notional"] = await call("POST", "/fapi/v1/order", fut("61000.0", "0.001"))
            out["margin"] = await call("POST", "/fapi/v1/order", fut("61000.0", "400.000"))
            out["reduce"] = await call("POST", "/fapi/v1/order", fut("61000.0", reduceOnly="true"))
            out["taker"] = await call("POST", "/fapi/v1/order", fut("61800.2", "1.500"))
            out["dup1"] = await call(
                "POST", "/fapi/v1/order", fut("61000.0", newClientOrderId="c1")
            )
            out["dup2"] = await call(
                "POST", "/fapi/v1/order", fut("61000.0", newClientOrderId="c1")
            )
            out["risk"] = await call("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
            out["account"] = await call("GET", "/fapi/v2/account", {})
            out["trades"] = await call("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
            out["cancel_all"] = await call(
                "DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"}
            )
            out["open"] = await call("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
        return out

    out = asyncio.run(main())
    assert out["gtx"]["code"] == -5022
    assert out["fok"]["code"] == -5021
    assert out["tick"] == {"code": -4014, "msg": "Price not increased by tick size."}
    assert out["notional"]["code"] == -4164
    assert out["margin"] == {"code": -2019, "msg": "Margin is insufficient."}
    assert out["reduce"] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    taker = out["taker"]
    assert (taker["status"], taker["executedQty"], taker["avgPrice"]) == (
        "FILLED",
        "1.500",
        "61800.13333333",
    )
    assert out["dup1"]["status"] == "NEW"
    assert out["dup2"] == {"code": -4116, "msg": "ClientOrderId is duplicated."}
    assert out["risk"][0]["positionAmt"] == "1.500"
    # commission 0.05% of 92700.2 = 46.3501 out of the wallet
    assert out["account"]["totalWalletBalance"] == "999953.64990000"
    assert [t["qty"] for t in out["trades"]] == ["1.000", "0.500"]
    assert all(t["buyer"] and not t["maker"] for t in out["trades"])
    assert out["cancel_all"]["code"] == 200
    assert out["open"] == []


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_depth_snapshot_and_time(tmp_path: Path, market: str) -> None:
    async def main() -> tuple[Any, Any, Any]:
        venue = spot_venue(tmp_path) if market == "spot" else usdm_venue(tmp_path)
        prefix = "/api/v3" if market == "spot" else "/fapi/v1"
        async with venue, aiohttp.ClientSession() as s:
            async with s.get(f"{venue.rest_url}{prefix}/depth?symbol=BTCUSDT&limit=5") as r:
                depth = await r.json()
            async with s.get(f"{venue.rest_url}{prefix}/time") as r:
                now = await r.json()
            async with s.get(f"{venue.rest_url}{prefix}/depth?symbol=BTCUSDT&limit=x") as r:
                bad = (r.status, (await r.json())["code"])
        return depth, now, bad

    depth, now, bad = asyncio.run(main())
    assert bad == (400, -1100)
    assert len(depth["bids"]) == len(depth["asks"]) == 5
    assert depth["lastUpdateId"] > 0
    if market == "spot":
        assert depth["bids"][0] == ["61800.00000000", "1.00000000"]
    else:
        assert depth["asks"][0] == ["61800.1", "1.000"]
        assert "T" in depth
    assert abs(now["serverTime"] - time.time() * 1000) < 5000

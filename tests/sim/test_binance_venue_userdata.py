"""User data: the spot WS API subscription and the USD-M listen-key stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from hftlib.sim.binance_venue.server import BinanceVenue
from venue_client import (
    SECRET,
    SPOT,
    USDM,
    accounts,
    book_levels,
    drain,
    recv_json,
    signed,
    write_market,
    ws_request,
)


def spot_data(tmp_path: Path) -> Path:
    bids, asks = book_levels(6_180_000, 5, 100_000_000)
    script = [("snapshot", bids, asks), ("trade", False, 6_180_000, 105_000_000)]
    return write_market(tmp_path / "spot.npy", SPOT, script)


def test_ws_api_session_orders_and_execution_reports(tmp_path: Path) -> None:
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": "61800.00",
        "quantity": "0.10000000",
        "newClientOrderId": "ws-1",
    }

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            BinanceVenue([spot_data(tmp_path)], accounts=accounts("spot")) as venue,
            aiohttp.ClientSession() as s,
        ):
            api = await s.ws_connect(venue.ws_api_url)
            await api.send_str(ws_request("time", {}, "t", sign=False))
            out["time"] = await recv_json(api)
            await api.send_str(ws_request("userDataStream.subscribe.signature", {}, 2))
            out["sub"] = await recv_json(api)
            await api.send_str(ws_request("session.status", {}, 3, sign=False))
            out["status"] = await recv_json(api)
            await api.send_str(ws_request("order.place", order, 4))
            frames = await drain(api)  # the answer and the events, in either order
            out["placed"] = next(f for f in frames if f.get("id") == 4)
            out["events"] = [f for f in frames if "subscriptionId" in f]
            venue.step(1)  # the recorded sell of 1.05 BTC at 61800.00: 1 BTC ahead of us
            out["fill"] = await drain(api)
            cancel = {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}
            await api.send_str(ws_request("order.cancel", cancel, 5))
            frames = await drain(api)
            out["cancel"] = next(f for f in frames if f.get("id") == 5)
            out["cancel_events"] = [f for f in frames if "subscriptionId" in f]
            bad = ws_request("order.place", order, 6)
            await api.send_str(bad.replace('"signature":"', '"signature":"0'))
            out["bad_sig"] = await recv_json(api)
            await api.send_str(ws_request("userDataStream.unsubscribe", {}, 7, sign=False))
            out["unsub"] = await recv_json(api)
            await api.send_str(ws_request("order.place", {**order, "newClientOrderId": "ws-2"}, 8))
            out["after_unsub"] = await drain(api)
            await api.send_str("not json")
            out["garbage"] = await recv_json(api)
            await api.close()
        return out

    out = asyncio.run(main())
    assert out["time"]["status"] == 200
    assert "serverTime" in out["time"]["result"]
    assert out["sub"]["result"] == {"subscriptionId": 0}
    assert out["status"]["result"]["userDataStream"] is True
    placed = out["placed"]
    assert placed["status"] == 200
    assert placed["result"]["status"] == "NEW"
    limits = {(r["rateLimitType"], r["interval"]) for r in placed["rateLimits"]}
    assert limits == {("REQUEST_WEIGHT", "MINUTE"), ("ORDERS", "SECOND"), ("ORDERS", "DAY")}
    new, position = out["events"]
    assert new["subscriptionId"] == 0
    assert (new["event"]["e"], new["event"]["x"], new["event"]["c"]) == (
        "executionReport",
        "NEW",
        "ws-1",
    )
    assert position["event"]["e"] == "outboundAccountPosition"
    usdt = next(b for b in position["event"]["B"] if b["a"] == "USDT")
    assert usdt["l"] == "6180.00000000"
    trade = out["fill"][0]["event"]
    assert (trade["x"], trade["X"], trade["l"], trade["z"]) == (
        "TRADE",
        "PARTIALLY_FILLED",
        "0.05000000",
        "0.05000000",
    )
    assert trade["m"] is True
    assert trade["N"] == "BTC"
    assert trade["n"] == "0.00005000"
    assert out["cancel"]["result"]["status"] == "CANCELED"
    assert [
        e["event"]["x"] for e in out["cancel_events"] if e["event"]["e"] == "executionReport"
    ] == ["CANCELED"]
    assert out["bad_sig"]["status"] == 400
    assert out["bad_sig"]["error"] == {
        "code": -1022,
        "msg": "Signature for this request is not valid.",
    }
    assert out["unsub"]["result"] == {}
    assert [f.get("id") for f in out["after_unsub"]] == [8]  # the answer, no more events
    assert out["garbage"]["status"] == 400


def test_ws_api_rejects_stale_timestamps_and_unknown_keys(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        async with (
            BinanceVenue([spot_data(tmp_path)], accounts=accounts("spot")) as venue,
            aiohttp.ClientSession() as s,
        ):
            api = await s.ws_connect(venue.ws_api_url)
            old = ws_request("userDataStream.subscribe.signature", {"timestamp": 1}, 1)
            stranger = ws_request("userDataStream.subscribe.signature", {}, 2, key="Z" * 64)
            frames = []
            for frame in (old, stranger):
                await api.send_str(frame)
                frames.append(await recv_json(api))
            await api.close()
            return frames

    old, stranger = asyncio.run(main())
    assert old["error"]["code"] == -1021
    assert stranger["status"] == 401
    assert stranger["error"]["code"] == -2015


def test_unknown_or_deleted_listen_key_is_refused(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000, 5, 1000)
    data = write_market(tmp_path / "usdm.npy", USDM, [("snapshot", bids, asks)])

    async def main() -> list[Any]:
        out = []
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            _, _, created = await signed(s, venue.rest_url, "POST", "/fapi/v1/listenKey", {})
            await signed(s, venue.rest_url, "DELETE", "/fapi/v1/listenKey", {})
            for key in (created["listenKey"], "nosuchkey"):
                async with s.get(f"{venue.rest_url}/private/ws/{key}") as r:
                    out.append((r.status, await r.json()))
            out.append((await signed(s, venue.rest_url, "PUT", "/fapi/v1/listenKey", {}))[2])
        return out

    deleted, unknown, extend = asyncio.run(main())
    assert deleted == (400, {"code": -1125, "msg": "This listenKey does not exist."})
    assert unknown[0] == 400
    assert extend["code"] == -1125


def test_listen_key_stream_events(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000, 5, 1000)
    data = write_market(tmp_path / "usdm.npy", USDM, [("snapshot", bids, asks)])

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            base = venue.rest_url
            _, _, created = await signed(s, base, "POST", "/fapi/v1/listenKey", {})
            key = created["listenKey"]
            user = await s.ws_connect(f"{venue.ws_url}/private/ws/{key}")
            order = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.500"}
            out["order"] = (await signed(s, base, "POST", "/fapi/v1/order", order))[2]
            out["events"] = await drain(user)
            _, _, kept = await signed(s, base, "PUT", "/fapi/v1/listenKey", {})
            out["kept"] = kept["listenKey"] == key
            await signed(s, base, "DELETE", "/fapi/v1/listenKey", {})
            out["expired"] = await recv_json(user)
            out["closed"] = (await asyncio.wait_for(user.receive(), 2)).type
            await user.close()
        return out

    out = asyncio.run(main())
    assert out["order"]["status"] == "FILLED"
    kinds = [(e["e"], e.get("o", {}).get("x")) for e in out["events"]]
    assert kinds == [
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "TRADE"),
        ("ACCOUNT_UPDATE", None),
    ]
    trade = out["events"][1]["o"]
    assert (trade["X"], trade["l"], trade["L"], trade["m"], trade["N"]) == (
        "FILLED",
        "0.500",
        "61800.0",
        False,
        "USDT",
    )
    position = out["events"][2]["a"]["P"][0]
    assert (position["s"], position["pa"], position["ep"]) == ("BTCUSDT", "-0.500", "61800")
    assert out["kept"] is True
    assert out["expired"]["e"] == "listenKeyExpired"
    assert out["closed"] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert SECRET not in repr(accounts("usdm"))

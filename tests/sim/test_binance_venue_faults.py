"""Every fault knob of the local venue, each with its defined outcome on a real socket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from hftlib.sim.binance_venue.config import VenueConfig
from hftlib.sim.binance_venue.server import BinanceVenue
from venue_client import (
    SPOT,
    USDM,
    accounts,
    book_levels,
    drain,
    random_script,
    recv_json,
    signed,
    write_market,
    ws_request,
)

from hftlib.convert.binance_sync import APPLY, DISCARD, GAP, BookSync

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "price": "61000.0",
    "quantity": "0.010",
}


def usdm(tmp_path: Path, **config: Any) -> BinanceVenue:
    data = write_market(tmp_path / "usdm.npy", USDM, random_script(3, 400))
    return BinanceVenue([data], accounts=accounts("usdm"), config=VenueConfig(**config))


def spot(tmp_path: Path, **config: Any) -> BinanceVenue:
    bids, asks = book_levels(6_180_000, 5, 100_000_000)
    data = write_market(tmp_path / "spot.npy", SPOT, [("snapshot", bids, asks)])
    return BinanceVenue([data], accounts=accounts("spot"), config=VenueConfig(**config))


async def closed(ws: aiohttp.ClientWebSocketResponse, within: float = 2.0) -> bool:
    """True when the socket ends (close frame, abort or error) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(ws.receive(), deadline - time.monotonic())
        except TimeoutError:
            return False
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return True
    return False


@pytest.mark.parametrize("abrupt", [True, False])
def test_drop_connections_and_one_stream(tmp_path: Path, abrupt: bool) -> None:
    async def main() -> tuple[bool, bool, bool, int]:
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            depth = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms"))
            trades = await s.ws_connect(venue.stream_url("btcusdt@trade"))
            await asyncio.sleep(0.05)
            assert venue.drop_stream("btcusdt@depth@0ms", abrupt=abrupt) == 1
            depth_gone = await closed(depth)
            trades_alive = not await closed(trades, 0.2)
            venue.drop_connections(abrupt=abrupt)
            trades_gone = await closed(trades)
            await asyncio.sleep(0.05)
            left = sum(venue.state()["connections"].values())
            await depth.close()
            await trades.close()
            return depth_gone, trades_alive, trades_gone, left

    assert asyncio.run(main()) == (True, True, True, 0)


def test_injected_gap_is_seen_and_a_new_snapshot_resyncs(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, bool]:
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms"))
            await asyncio.sleep(0.05)
            sync = BookSync(futures=True)

            def feed(d: dict[str, Any]) -> int:
                return sync.diff(d["U"], d["u"], d["pu"], d)

            async with s.get(f"{venue.rest_url}/fapi/v1/depth?symbol=BTCUSDT") as r:
                sync.snapshot((await r.json())["lastUpdateId"])
            venue.step(50)
            venue.inject_gap("BTCUSDT", 3)
            venue.step(50)
            verdicts = [feed(f["data"]) for f in await drain(ws)]
            # recover: a new snapshot; the diffs buffered since the gap are replayed onto it
            async with s.get(f"{venue.rest_url}/fapi/v1/depth?symbol=BTCUSDT") as r:
                verdict, buffered, _ = sync.snapshot((await r.json())["lastUpdateId"])
            after = [feed(d) for d in buffered]
            venue.step(50)
            after += [feed(f["data"]) for f in await drain(ws)]
            await ws.close()
            return verdicts.count(GAP), verdict, bool(after) and set(after) <= {APPLY, DISCARD}

    gaps, verdict, resynced = asyncio.run(main())
    assert gaps == 1
    assert verdict == 0
    assert resynced


def test_delays_on_rest_and_frames(tmp_path: Path) -> None:
    async def main() -> tuple[float, float]:
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms"))
            await asyncio.sleep(0.05)
            venue.delay(rest=0.3, frames=0.25)
            t0 = time.monotonic()
            async with s.get(f"{venue.rest_url}/fapi/v1/time") as r:
                await r.json()
            rest_s = time.monotonic() - t0
            t0 = time.monotonic()
            venue.step(20)
            await recv_json(ws)
            frame_s = time.monotonic() - t0
            await ws.close()
            return rest_s, frame_s

    rest_s, frame_s = asyncio.run(main())
    assert rest_s >= 0.3
    assert frame_s >= 0.25


@pytest.mark.parametrize("mode", ["error", "accept", "timeout", "disconnect"])
def test_failed_requests_error_or_leave_an_unknown_outcome(tmp_path: Path, mode: str) -> None:
    async def main() -> tuple[Any, list[Any]]:
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            venue.fail_next(1, mode=mode, match="/fapi/v1/order", hang=0.5)
            order = {**ORDER, "newClientOrderId": "maybe"}
            try:
                async with asyncio.timeout(0.25):
                    outcome: Any = await signed(s, venue.rest_url, "POST", "/fapi/v1/order", order)
            except TimeoutError:
                outcome = "timeout"
            except aiohttp.ServerDisconnectedError:
                outcome = "disconnected"
            _, _, opened = await signed(s, venue.rest_url, "GET", "/fapi/v1/openOrders", {})
            return outcome, opened

    outcome, opened = asyncio.run(main())
    if mode == "error":
        assert outcome[0] == 503
        assert opened == []  # not carried out
        return
    assert [o["clientOrderId"] for o in opened] == ["maybe"]  # carried out all the same
    if mode == "accept":
        assert outcome[0] == 503
        assert outcome[2]["code"] == -1007
    else:
        assert outcome == ("timeout" if mode == "timeout" else "disconnected")


def test_ws_api_failure_after_accepting(tmp_path: Path) -> None:
    order = {**ORDER, "price": "61000.00", "quantity": "0.01000000", "newClientOrderId": "w1"}

    async def main() -> tuple[Any, Any]:
        async with spot(tmp_path) as venue, aiohttp.ClientSession() as s:
            venue.fail_next(1, mode="accept", match="order.place")
            api = await s.ws_connect(venue.ws_api_url)
            await api.send_str(ws_request("order.place", order, 1))
            answer = await recv_json(api)
            await api.send_str(
                ws_request("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "w1"}, 2)
            )
            status = await recv_json(api)
            await api.close()
            return answer, status

    answer, status = asyncio.run(main())
    assert answer["status"] == 503
    assert answer["error"]["code"] == -1007
    assert status["result"]["status"] == "NEW"


def test_forced_429_and_ban(tmp_path: Path) -> None:
    async def main() -> list[tuple[int, str | None]]:
        out = []
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            venue.force_429(2)
            for _ in range(3):
                async with s.get(f"{venue.rest_url}/fapi/v1/time") as r:
                    out.append((r.status, r.headers.get("Retry-After")))
            venue.ban(5)
            async with s.get(f"{venue.rest_url}/fapi/v1/time") as r:
                out.append((r.status, r.headers.get("Retry-After")))
        return out

    seen = asyncio.run(main())
    assert [status for status, _ in seen] == [429, 429, 200, 418]
    assert seen[0][1] is not None
    assert seen[3][1] == "5"


def test_malformed_frames_reach_the_client(tmp_path: Path) -> None:
    async def main() -> str:
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms"))
            await asyncio.sleep(0.05)
            venue.send_malformed("market", '{"e":"depthUpdate","U":')
            msg = await asyncio.wait_for(ws.receive(), 2)
            await ws.close()
            return str(msg.data)

    data = asyncio.run(main())
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(data)


def test_pings_pong_timeout_and_stopped_pings(tmp_path: Path) -> None:
    async def main() -> tuple[int, bool, bool, int]:
        async with (
            usdm(tmp_path, ping_interval=0.1, pong_timeout=0.4) as venue,
            aiohttp.ClientSession() as s,
        ):
            mute = await s.ws_connect(venue.stream_url("btcusdt@trade"), autoping=False)
            polite = await s.ws_connect(venue.stream_url("btcusdt@trade"))
            # a client that keeps reading answers every ping (aiohttp pongs on receive)
            polite_reader = asyncio.create_task(_frames(polite, 1.2))
            pings = 0
            deadline = time.monotonic() + 0.35
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(mute.receive(), 1)
                pings += msg.type == aiohttp.WSMsgType.PING
            mute_dropped = await closed(mute, 1.5)
            polite_seen = {m.type for m in await polite_reader}
            polite_alive = not polite.closed and aiohttp.WSMsgType.CLOSE not in polite_seen
            venue.stop_pinging()
            quiet = await s.ws_connect(venue.stream_url("btcusdt@trade"), autoping=False)
            later = [m.type for m in await _frames(quiet, 0.4)]
            for ws in (mute, polite, quiet):
                await ws.close()
            return pings, mute_dropped, polite_alive, later.count(aiohttp.WSMsgType.PING)

    pings, dropped, alive, later_pings = asyncio.run(main())
    assert pings >= 2
    assert dropped
    assert alive
    assert later_pings == 0


async def _frames(ws: aiohttp.ClientWebSocketResponse, window: float) -> list[aiohttp.WSMessage]:
    out = []
    deadline = time.monotonic() + window
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(await asyncio.wait_for(ws.receive(), left))
        except TimeoutError:
            break
    return out


def test_silent_socket_sends_nothing(tmp_path: Path) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        async with usdm(tmp_path, ping_interval=0.1) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms"), autoping=False)
            await asyncio.sleep(0.05)
            venue.go_silent(kind="market")
            await _frames(ws, 0.15)  # what was on the wire already
            venue.step(30)
            silent = await _frames(ws, 0.4)
            venue.go_silent(False)
            venue.step(30)
            loud = await _frames(ws, 0.3)
            await ws.close()
            return silent, loud

    silent, loud = asyncio.run(main())
    assert silent == []
    assert any(m.type == aiohttp.WSMsgType.TEXT for m in loud)


def test_server_shutdown_event_then_close(tmp_path: Path) -> None:
    async def main() -> tuple[Any, Any, bool]:
        async with spot(tmp_path) as venue, aiohttp.ClientSession() as s:
            market = await s.ws_connect(f"{venue.ws_url}/ws/btcusdt@trade")
            api = await s.ws_connect(venue.ws_api_url)
            await asyncio.sleep(0.05)
            venue.server_shutdown(close_after=0.1)
            got = (await recv_json(market), await recv_json(api))
            ended = await closed(market) and await closed(api)
            await market.close()
            await api.close()
            return got[0], got[1], ended

    market, api, ended = asyncio.run(main())
    assert market["e"] == "serverShutdown"
    assert api["event"]["e"] == "serverShutdown"
    assert ended


def test_admin_endpoint_drives_faults_and_replay(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with usdm(tmp_path) as venue, aiohttp.ClientSession() as s:
            admin = f"{venue.rest_url}/_sim"
            async with s.post(f"{admin}/step", json={"n": 5}) as r:
                out["step"] = await r.json()
            body = {"n": 1, "mode": "accept", "match": "/fapi/v1/order"}
            async with s.post(f"{admin}/fault/fail_next", json=body) as r:
                out["armed"] = r.status
            out["order"] = await signed(s, venue.rest_url, "POST", "/fapi/v1/order", ORDER)
            async with s.post(f"{admin}/fault/shift_clock", json={"ms": 20_000}) as r:
                out["shift"] = r.status
            out["skewed"] = await signed(s, venue.rest_url, "GET", "/fapi/v2/account", {})
            async with s.post(f"{admin}/fault/explode", json={}) as r:
                out["unknown"] = r.status
            async with s.post(f"{admin}/fault/force_429", json={"bogus": 1}) as r:
                out["bad_args"] = r.status
            async with s.get(f"{admin}/state") as r:
                out["state"] = await r.json()
        return out

    out = asyncio.run(main())
    assert out["step"] == {"applied": 5}
    assert out["armed"] == 200
    assert out["order"][0] == 503
    assert out["shift"] == 200
    assert out["skewed"][2]["code"] == -1021
    assert out["unknown"] == 404
    assert out["bad_args"] == 400
    assert out["state"]["market"] == "usdm"
    assert out["state"]["messages_applied"] >= 6

"""Market streams of the local venue: book consistency, subscriptions, routing, determinism."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hftlib.sim.binance_venue.server import BinanceVenue
from venue_client import (
    SPOT,
    USDM,
    accounts,
    book_levels,
    drain,
    random_script,
    recv_json,
    recv_until,
    signed,
    write_market,
)

from hftlib.convert.binance_sync import ACCEPTED, APPLY, BookSync
from hftlib.refbook import L2Book


class Client:
    """A client keeping a book by the official diff/snapshot procedure (hftlib's BookSync)."""

    def __init__(self, futures: bool, tick: Decimal, lot: Decimal) -> None:
        self.sync = BookSync(futures)
        self.book = L2Book()
        self.tick, self.lot = tick, lot
        self.applied = 0

    def diff(self, data: dict[str, Any]) -> None:
        prev = data["pu"] if "pu" in data else data["U"] - 1
        verdict = self.sync.diff(data["U"], data["u"], prev, data)
        assert verdict not in (4,), f"gap at {data['U']}..{data['u']}"
        if verdict == APPLY:
            self._apply(data)

    def snapshot(self, snap: dict[str, Any]) -> None:
        verdict, payloads, _ = self.sync.snapshot(snap["lastUpdateId"])
        assert verdict == ACCEPTED
        self.book.clear()
        for side, is_bid in (("bids", True), ("asks", False)):
            for p, q in snap[side]:
                self.book.set_level(is_bid, self._ticks(p, self.tick), self._ticks(q, self.lot))
        for data in payloads:
            self.diff(data)

    def _apply(self, data: dict[str, Any]) -> None:
        self.applied += 1
        for side, is_bid in (("b", True), ("a", False)):
            for p, q in data[side]:
                self.book.set_level(is_bid, self._ticks(p, self.tick), self._ticks(q, self.lot))

    @staticmethod
    def _ticks(text: str, step: Decimal) -> int:
        value = Decimal(text) / step
        assert value == value.to_integral_value()
        return int(value)

    def levels(
        self, limit: int | None = None
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = list(reversed(self.book.bids.items()))[:limit]
        asks = list(self.book.asks.items())[:limit]
        return bids, asks


def client_for(venue: BinanceVenue) -> Client:
    rules = next(iter(venue.exchange.books.values())).rules
    return Client(venue.market == "usdm", rules.tick, rules.lot)


def data_of(frame: dict[str, Any]) -> dict[str, Any]:
    return frame["data"] if "stream" in frame else frame


@pytest.mark.parametrize(("market", "stream"), [("usdm", "depth@0ms"), ("spot", "depth@100ms")])
def test_diffs_from_a_snapshot_reproduce_the_public_book(
    tmp_path: Path, market: str, stream: str
) -> None:
    inst = USDM if market == "usdm" else SPOT
    script = random_script(7, 1500, mid=618_000 if market == "usdm" else 6_180_000)
    data = write_market(tmp_path / "m.npy", inst, script)
    prefix = "/fapi/v1" if market == "usdm" else "/api/v3"
    prices = [f"6179{i}.0" if market == "usdm" else f"6179{i}.50" for i in range(5)]
    qty = "0.050" if market == "usdm" else "0.05000000"

    async def main() -> tuple[Client, Any, Any]:
        async with (
            BinanceVenue([data], accounts=accounts(market)) as venue,
            aiohttp.ClientSession() as s,
        ):
            client = client_for(venue)
            ws = await s.ws_connect(venue.stream_url(f"btcusdt@{stream}"))
            await asyncio.sleep(0.05)
            venue.step(300)
            for frame in await drain(ws):
                client.diff(data_of(frame))  # buffered: no book yet
            async with s.get(f"{venue.rest_url}{prefix}/depth?symbol=BTCUSDT&limit=1000") as r:
                client.snapshot(await r.json())
            venue.step(300)
            # participants move the public book too
            params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            for price in prices:
                p = {**params, "quantity": qty, "price": price}
                status, _, body = await signed(s, venue.rest_url, "POST", f"{prefix}/order", p)
                assert status == 200, body
            venue.step(10_000)  # to the end: the last conflated window is flushed
            for frame in await drain(ws):
                client.diff(data_of(frame))
            await ws.close()
            return client, venue.exchange.books["BTCUSDT"].engine.depth(), venue.state()

    client, server_book, state = asyncio.run(main())
    assert state["replay_done"]
    assert client.applied > 10
    assert client.levels() == (server_book[0], server_book[1])


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "stream", "limit"),
    [
        ("spot/btcusdt_20240808.gz", "depth@100ms", 5000),
        ("usdm/ethusdt_20240808.gz", "depth@0ms", 1000),
    ],
)
def test_recorded_market_book_matches_the_client_book(
    recorded: Any, name: str, stream: str, limit: int
) -> None:
    path = recorded(name)
    sym = "btcusdt" if "btc" in name else "ethusdt"

    async def main() -> tuple[Client, Any, int]:
        async with BinanceVenue([path]) as venue, aiohttp.ClientSession() as s:
            prefix = "/fapi/v1" if venue.market == "usdm" else "/api/v3"
            client = client_for(venue)
            ws = await s.ws_connect(venue.stream_url(f"{sym}@{stream}"), max_msg_size=1 << 24)
            await asyncio.sleep(0.05)
            venue.run(speed=0)
            for _ in range(3):
                client.diff(data_of(await recv_json(ws)))
            async with s.get(
                f"{venue.rest_url}{prefix}/depth?symbol={sym.upper()}&limit={limit}"
            ) as r:
                client.snapshot(await r.json())
            while not (venue.replay_done and not any(c.queue.qsize() for c in venue.hub.conns)):
                for frame in await drain(ws, 0.05):
                    client.diff(data_of(frame))
            for frame in await drain(ws):
                client.diff(data_of(frame))
            await ws.close()
            return (
                client,
                venue.exchange.books[sym.upper()].engine.depth(limit // 2),
                venue.messages_applied,
            )

    client, (bids, asks), applied = asyncio.run(main())
    assert applied > 10_000
    n = len(bids)
    assert client.levels(n) == (bids, asks[:n] if len(asks) >= n else asks)


def test_live_subscribe_unsubscribe_and_control_errors(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000)
    script = [("snapshot", bids, asks)] + [("trade", True, 618_001, 5)] * 4
    data = write_market(tmp_path / "m.npy", USDM, script)

    async def main() -> list[Any]:
        out = []
        async with BinanceVenue([data]) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(f"{venue.ws_url}/market/ws")
            await ws.send_str(
                '{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@aggTrade"],"id":1}'
            )
            out.append(await recv_json(ws))
            await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":"x2"}')
            out.append(await recv_json(ws))
            venue.step(1)
            out.append(await recv_json(ws))
            out.append(await recv_json(ws))
            await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade"],"id":3}')
            out.append(await recv_json(ws))
            venue.step(1)
            out.append(await drain(ws))
            await ws.send_str("{not json")
            out.append(await recv_json(ws))
            await ws.send_str('{"method":"EXPLODE","id":4}')
            out.append(await recv_json(ws))
            await ws.send_str('{"method":"SET_PROPERTY","params":["combined",true],"id":5}')
            out.append(await recv_json(ws))
            venue.step(1)
            out.append(await recv_json(ws))
            await ws.close()
        return out

    sub, listed, trade, agg, unsub, after, bad_json, bad_method, prop, combined = asyncio.run(
        main()
    )
    assert sub == {"result": None, "id": 1}
    assert listed == {"result": ["btcusdt@trade", "btcusdt@aggTrade"], "id": "x2"}
    assert trade["e"] == "trade"
    assert (trade["p"], trade["q"], trade["m"], trade["X"]) == ("61800.1", "0.005", False, "MARKET")
    assert agg["e"] == "aggTrade"
    assert agg["f"] == agg["l"] == trade["t"]
    assert unsub == {"result": None, "id": 3}
    assert [f["e"] for f in after] == ["trade"]
    assert bad_json["error"]["code"] == 3
    assert bad_method["error"]["code"] == 1
    assert prop == {"result": None, "id": 5}
    assert combined["stream"] == "btcusdt@trade"


def test_usdm_stream_on_the_wrong_route_is_silent(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000)
    script = [
        ("snapshot", bids, asks),
        ("trade", True, 618_001, 5),
        ("depth", [(True, 617_999, 7)]),
    ]
    data = write_market(tmp_path / "m.npy", USDM, script)

    async def main() -> tuple[list[Any], list[Any], list[Any]]:
        async with BinanceVenue([data]) as venue, aiohttp.ClientSession() as s:
            wrong_depth = await s.ws_connect(
                f"{venue.ws_url}/market/stream?streams=btcusdt@depth@0ms"
            )
            wrong_trade = await s.ws_connect(f"{venue.ws_url}/public/stream?streams=btcusdt@trade")
            right = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms", "btcusdt@bookTicker"))
            await asyncio.sleep(0.05)
            venue.step(2)
            got = (await drain(wrong_depth), await drain(wrong_trade), await drain(right))
            for ws in (wrong_depth, wrong_trade, right):
                await ws.close()
            return got

    wrong_depth, wrong_trade, right = asyncio.run(main())
    assert wrong_depth == []
    assert wrong_trade == []
    # the recorded trade takes 5 lots of the best ask: a diff and a new top, then the diff
    streams = [f["stream"] for f in right]
    assert streams == ["btcusdt@depth@0ms", "btcusdt@bookTicker", "btcusdt@depth@0ms"]
    first, ticker, second = (f["data"] for f in right)
    assert first["a"] == [["61800.1", "0.995"]]
    assert (ticker["a"], ticker["A"]) == ("61800.1", "0.995")
    assert second["pu"] == first["u"]
    assert second["b"] == [["61799.9", "0.007"]]


def test_resting_order_fills_by_queue_position_against_recorded_trades(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000, 5, 1000)
    script = [
        ("snapshot", bids, asks),
        ("trade", False, 618_000, 600),  # 400 of the 1000 ahead of us remain
        ("depth", [(True, 618_000, 1500)]),  # growth joins behind us
        ("trade", False, 618_000, 450),  # 50 reach us
        ("trade", False, 617_999, 100),  # traded through our price: the rest fills
    ]
    data = write_market(tmp_path / "m.npy", USDM, script)

    async def main() -> list[Any]:
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            _, _, key = await signed(s, venue.rest_url, "POST", "/fapi/v1/listenKey", {})
            user = await s.ws_connect(f"{venue.ws_url}/private/ws/{key['listenKey']}")
            params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            order = {**params, "quantity": "0.100", "price": "61800.0"}
            status, _, body = await signed(s, venue.rest_url, "POST", "/fapi/v1/order", order)
            assert status == 200, body
            assert [f["o"]["x"] for f in await drain(user) if "o" in f] == ["NEW"]
            steps = []
            for _ in range(4):
                venue.step(1)
                updates = [f for f in await drain(user) if f["e"] == "ORDER_TRADE_UPDATE"]
                steps.append(
                    [(u["o"]["x"], u["o"]["l"], u["o"]["z"], u["o"]["m"]) for u in updates]
                )
            await user.close()
            return steps

    steps = asyncio.run(main())
    assert steps == [
        [],
        [],
        [("TRADE", "0.050", "0.050", True)],
        [("TRADE", "0.050", "0.100", True)],
    ]


def run_scenario(data: Path) -> list[Any]:
    """Replay in steps with orders in between; return every frame without its timestamps."""

    async def main() -> list[Any]:
        async with (
            BinanceVenue([data], accounts=accounts("usdm")) as venue,
            aiohttp.ClientSession() as s,
        ):
            _, _, key = await signed(s, venue.rest_url, "POST", "/fapi/v1/listenKey", {})
            user = await s.ws_connect(f"{venue.ws_url}/private/ws/{key['listenKey']}")
            md = await s.ws_connect(venue.stream_url("btcusdt@depth@0ms", "btcusdt@depth@100ms"))
            trades = await s.ws_connect(venue.stream_url("btcusdt@trade"))
            await asyncio.sleep(0.05)
            frames: list[Any] = []
            params = {
                "symbol": "BTCUSDT",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
            }
            for i in range(8):
                venue.step(100)
                # alternately take the best ask and join it
                px = venue.exchange.books["BTCUSDT"].engine.best(False)
                side, price = ("BUY" if i % 2 else "SELL"), f"{px // 10}.{px % 10}"
                order = {**params, "side": side, "price": price, "newClientOrderId": f"o{i}"}
                status, _, body = await signed(s, venue.rest_url, "POST", "/fapi/v1/order", order)
                assert status == 200, body
                for ws in (md, trades, user):
                    frames += await drain(ws, 0.05)
            venue.step(10_000)
            for ws in (md, trades, user):
                frames += await drain(ws)
                await ws.close()
            return [_strip(f) for f in frames]

    return asyncio.run(main())


def _strip(frame: Any) -> Any:
    if isinstance(frame, dict):
        return {k: _strip(v) for k, v in frame.items() if k not in ("E", "T", "listenKey")}
    if isinstance(frame, list):
        return [_strip(v) for v in frame]
    return frame


def test_stepped_replay_is_deterministic(tmp_path: Path) -> None:
    data = write_market(tmp_path / "m.npy", USDM, random_script(11, 1200))
    first = run_scenario(data)
    second = run_scenario(data)
    assert len(first) > 500
    assert any(f.get("e") == "ORDER_TRADE_UPDATE" and f["o"]["x"] == "TRADE" for f in first)
    assert first == second


def test_book_ticker_follows_the_top_of_book(tmp_path: Path) -> None:
    bids, asks = book_levels(6_180_000, 3, 100_000_000)
    script = [("snapshot", bids, asks), ("depth", [(False, 6_180_001, 0)])]
    data = write_market(tmp_path / "m.npy", SPOT, script)

    async def main() -> list[Any]:
        async with BinanceVenue([data]) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(f"{venue.ws_url}/ws/btcusdt@bookTicker")
            await asyncio.sleep(0.05)
            venue.step(1)
            frame = await recv_until(ws, lambda f: "u" in f)
            await ws.close()
            return [frame]

    (ticker,) = asyncio.run(main())
    assert "stream" not in ticker  # /ws/<stream> is raw
    assert (ticker["b"], ticker["a"], ticker["A"]) == (
        "61800.00000000",
        "61800.02000000",
        "1.00000000",
    )

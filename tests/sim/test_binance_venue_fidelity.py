"""Protocol details of the local venue: depth window boundaries, own-trade time filters, and
the answer to an empty spot cancel-all."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hftlib.sim.binance_venue import errors as E
from hftlib.sim.binance_venue.server import BinanceVenue
from venue_client import SPOT, USDM, accounts, book_levels, drain, signed, write_market

HOUR_MS = 3_600_000


def test_a_diff_on_a_window_boundary_opens_the_next_window(tmp_path: Path) -> None:
    # diffs every 50 ms from a 100 ms boundary: windows [0,100) [100,200) [200,300) hold
    # d1 | d2 d3 | d4 (a diff at a window's end belongs to the next window)
    bids, asks = book_levels(6_180_000, 5, 100_000_000)
    diffs = [("depth", [(True, 6_179_990 - i, 1000 + i)]) for i in range(4)]
    script = [("snapshot", bids, asks), *diffs]
    data = write_market(tmp_path / "m.npy", SPOT, script, step_ns=50_000_000)

    async def main() -> list[list[Any]]:
        async with BinanceVenue([data]) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@100ms"))
            await asyncio.sleep(0.05)
            per_step = []
            for _ in range(5):  # the fifth step ends the recording: the open window flushes
                venue.step(1)
                per_step.append([f["data"] for f in await drain(ws, 0.05)])
            await ws.close()
            return per_step

    per_step = asyncio.run(main())
    assert [len(frames) for frames in per_step] == [0, 1, 0, 1, 1]
    first, second, third = (frames[0] for frames in per_step if frames)
    assert [b[0] for b in first["b"]] == ["61799.90000000"]
    assert [b[0] for b in second["b"]] == ["61799.89000000", "61799.88000000"]
    assert [b[0] for b in third["b"]] == ["61799.87000000"]
    assert second["U"] == first["u"] + 1
    assert third["U"] == second["u"] + 1


def test_usdm_windows_chain_by_pu_across_boundaries(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000, 5, 1000)
    diffs = [("depth", [(False, 618_010 + i, 7 + i)]) for i in range(3)]
    script = [("snapshot", bids, asks), *diffs]
    data = write_market(tmp_path / "m.npy", USDM, script, step_ns=100_000_000)

    async def main() -> list[Any]:
        async with BinanceVenue([data]) as venue, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(venue.stream_url("btcusdt@depth@100ms"))
            await asyncio.sleep(0.05)
            venue.step(10)
            frames = [f["data"] for f in await drain(ws)]
            await ws.close()
            return frames

    frames = asyncio.run(main())
    assert len(frames) == 3  # diffs 100 ms apart are three messages, not merged pairs
    assert [f["a"] for f in frames] == [
        [["61801.0", "0.007"]],
        [["61801.1", "0.008"]],
        [["61801.2", "0.009"]],
    ]
    assert [f["pu"] for f in frames[1:]] == [f["u"] for f in frames[:-1]]


def _buy(venue: BinanceVenue, price: str, qty: str) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC"}
    venue.exchange.new_order(1, {**params, "price": price, "quantity": qty})


def _ids(trades: list[dict[str, Any]]) -> list[int]:
    return [t["id"] for t in trades]


def test_spot_my_trades_filters_by_time(tmp_path: Path) -> None:
    bids, asks = book_levels(6_180_000, 5, 100_000_000)
    data = write_market(tmp_path / "m.npy", SPOT, [("snapshot", bids, asks)])

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with BinanceVenue([data], accounts=accounts("spot")) as venue:
            for shift in (0, 3 * HOUR_MS, 30 * HOUR_MS):  # fills at T, T+3h, T+30h
                venue.shift_clock(shift)
                _buy(venue, "61800.01", "0.01000000")
            ex = venue.exchange
            t1, t2, t3 = (t["time"] for t in ex.books["BTCUSDT"].trades[1])
            ids = _ids(ex.books["BTCUSDT"].trades[1])

            def q(**p: Any) -> list[int]:
                return _ids(ex.my_trades(1, {"symbol": "BTCUSDT", **p}))

            out["ids"] = ids
            out["both"] = q(startTime=t1, endTime=t2)
            out["from_t2"] = q(startTime=t2)
            out["after_t2"] = q(startTime=t2 + 1)
            out["to_t2"] = q(endTime=t2)
            out["before_t2"] = q(endTime=t2 - 1)
            out["oldest"] = q(startTime=t1, limit=1)
            out["newest"] = q(limit=1)
            out["day"] = q(startTime=t3 - 24 * HOUR_MS, endTime=t3)
            with pytest.raises(E.ApiError) as wide:
                q(startTime=t2, endTime=t3)
            out["wide"] = (wide.value.code, wide.value.msg)
            with pytest.raises(E.ApiError) as bad:
                q(startTime="yesterday")
            out["bad"] = bad.value.code
            # the same over REST (the client clock as shifted as the server's)
            async with aiohttp.ClientSession() as s:
                now = int(time.time() * 1000) + 30 * HOUR_MS
                out["rest"] = []
                for p in (
                    {"startTime": t2, "endTime": t3},
                    {"endTime": "-1"},
                    {"startTime": t1, "endTime": t2},
                ):
                    params = {"symbol": "BTCUSDT", **p}
                    status, _, body = await signed(
                        s, venue.rest_url, "GET", "/api/v3/myTrades", params, timestamp=now
                    )
                    out["rest"].append((status, body))
        return out

    out = asyncio.run(main())
    a, b, c = out["ids"]
    assert out["both"] == [a, b]
    assert out["from_t2"] == [b, c]
    assert out["after_t2"] == [c]
    assert out["to_t2"] == [a, b]
    assert out["before_t2"] == [a]
    assert out["oldest"] == [a]
    assert out["newest"] == [c]
    assert out["day"] == [c]
    assert out["wide"] == (-1127, "More than 24 hours between startTime and endTime.")
    assert out["bad"] == -1100
    wide, negative, fine = out["rest"]
    assert wide == (
        400,
        {"code": -1127, "msg": "More than 24 hours between startTime and endTime."},
    )
    assert negative[0] == 400
    assert negative[1]["code"] == -1100
    assert fine[0] == 200
    assert [t["id"] for t in fine[1]] == [a, b]


def test_usdm_user_trades_filters_by_time(tmp_path: Path) -> None:
    bids, asks = book_levels(618_000, 5, 1000)
    data = write_market(tmp_path / "m.npy", USDM, [("snapshot", bids, asks)])

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with BinanceVenue([data], accounts=accounts("usdm")) as venue:
            for shift in (0, 2 * HOUR_MS, 8 * 24 * HOUR_MS):  # fills at T, T+2h, T+8d
                venue.shift_clock(shift)
                _buy(venue, "61800.1", "0.010")
            ex = venue.exchange
            t1, t2, t3 = (t["time"] for t in ex.books["BTCUSDT"].trades[1])
            a, b, c = _ids(ex.books["BTCUSDT"].trades[1])

            def q(**p: Any) -> list[int]:
                return _ids(ex.my_trades(1, {"symbol": "BTCUSDT", **p}))

            out["default"] = q() == [c]  # only the last 7 days
            out["range"] = q(startTime=t1, endTime=t2) == [a, b]
            out["from_id"] = q(fromId=b) == [b, c]
            out["start"] = q(startTime=t2) == [b, c]
            for p in ({"startTime": t1, "endTime": t3}, {"fromId": a, "startTime": t1}):
                with pytest.raises(E.ApiError) as err:
                    q(**p)
                out.setdefault("errors", []).append(err.value.code)
        return out

    out = asyncio.run(main())
    assert out.pop("errors") == [-1127, -1128]
    assert out == {"default": True, "range": True, "from_id": True, "start": True}


def test_spot_cancel_all_with_nothing_open_is_unknown_order(tmp_path: Path) -> None:
    bids, asks = book_levels(6_180_000, 5, 100_000_000)
    spot = write_market(tmp_path / "s.npy", SPOT, [("snapshot", bids, asks)])
    ubids, uasks = book_levels(618_000, 5, 1000)
    usdm = write_market(tmp_path / "u.npy", USDM, [("snapshot", ubids, uasks)])
    rest = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}

    async def main() -> list[Any]:
        out = []
        async with aiohttp.ClientSession() as s:
            async with BinanceVenue([spot], accounts=accounts("spot")) as venue:
                base, sym = venue.rest_url, {"symbol": "BTCUSDT"}
                out.append(await signed(s, base, "DELETE", "/api/v3/openOrders", sym))
                order = {**rest, "price": "61000.00", "quantity": "0.01000000"}
                await signed(s, base, "POST", "/api/v3/order", order)
                out.append(await signed(s, base, "DELETE", "/api/v3/openOrders", sym))
            async with BinanceVenue([usdm], accounts=accounts("usdm")) as venue:
                base = venue.rest_url
                out.append(await signed(s, base, "DELETE", "/fapi/v1/allOpenOrders", sym))
        return out

    empty, one, usdm_empty = asyncio.run(main())
    assert (empty[0], empty[2]) == (400, {"code": -2011, "msg": "Unknown order sent."})
    assert one[0] == 200
    assert [o["status"] for o in one[2]] == ["CANCELED"]
    assert (usdm_empty[0], usdm_empty[2]) == (
        200,
        {"code": 200, "msg": "The operation of cancel all open order is done."},
    )

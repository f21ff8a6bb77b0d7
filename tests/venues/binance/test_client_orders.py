"""Order lifecycle through the connector against the local Binance venue (spot and USD-M)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hftlib.venues.binance.venue import BinanceVenue

from hftlib.engine.types import (
    BUY,
    OT_MARKET,
    SELL,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_OPEN,
    ST_REJECTED,
    TIF_FOK,
    TIF_GTX,
    TIF_IOC,
)
from hftlib.venue.interface import OrderRequest, OrderUpdate, Venue

from .client_support import LEVEL_LOTS, MID, client, eventually, local_venue, script

MARKETS = ["spot", "usdm"]
SMALL = {"spot": 100_000, "usdm": 10}  # 0.001 BTC spot, 0.01 BTC USD-M (over min notional)


class Updates:
    """Collect ``order_updates()`` in the background."""

    def __init__(self, venue: BinanceVenue) -> None:
        self.items: list[OrderUpdate] = []
        self._iter = venue.order_updates()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for update in self._iter:
            self.items.append(update)

    def of(self, client_id: str) -> list[OrderUpdate]:
        return [u for u in self.items if u.client_id == client_id]

    def fills(self) -> list[tuple[str, int]]:
        return [(u.venue_order_id, u.trade_id) for u in self.items if u.trade_id >= 0]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self._iter.aclose()


def listening(server: Any, key: str) -> bool:
    """True once the venue has a private socket open on ``key``."""
    return any(c.kind == "private" and c.listen_key == key for c in server.hub.conns)


def order(market: str, cid: str, side: int, ticks: int, **kw: Any) -> OrderRequest:
    qty = kw.pop("qty_lots", SMALL[market])
    return OrderRequest(
        symbol="BTCUSDT", client_id=cid, side=side, qty_lots=qty, price_ticks=ticks, **kw
    )


async def session(tmp_path: Path, market: str, body: Any, **overrides: Any) -> None:
    async with local_venue(tmp_path, market, script(market, 5)) as server:
        venue = client(market, server, **overrides)
        async with venue:
            await asyncio.wait_for(venue.subscribed.wait(), 3)
            updates = Updates(venue)
            try:
                await body(server, venue, updates)
            finally:
                await updates.stop()


@pytest.mark.parametrize("market", MARKETS)
def test_connector_is_a_venue_and_syncs_time(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        assert isinstance(venue, Venue)
        assert abs(venue.server_time_offset_ns()) < 50_000_000  # same host: a few ms at most
        balances = {b.asset: b for b in await venue.balances()}
        assert balances["USDT"].free == 1_000_000.0
        assert await venue.positions() == []

    asyncio.run(session(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_gtc_order_rests_then_cancels(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        ack = await venue.submit(order(market, "gtc1", BUY, MID[market] - 500))
        assert (ack.status, ack.client_id, ack.qty_lots) == (ST_OPEN, "gtc1", SMALL[market])
        assert ack.venue_order_id
        (listed,) = await venue.open_orders("BTCUSDT")
        assert (listed.client_id, listed.price_ticks) == ("gtc1", MID[market] - 500)
        queried = await venue.query_order("BTCUSDT", "gtc1")
        assert (queried.status, queried.venue_order_id) == (ST_OPEN, ack.venue_order_id)
        cancelled = await venue.cancel("BTCUSDT", "gtc1")
        assert (cancelled.status, cancelled.client_id) == (ST_CANCELED, "gtc1")
        await eventually(lambda: any(u.status == ST_CANCELED for u in updates.of("gtc1")))
        assert [u.status for u in updates.of("gtc1")] == [ST_OPEN, ST_CANCELED]
        assert await venue.open_orders() == []
        # cancelling again: the venue has no open order; the query says it is cancelled
        again = await venue.cancel("BTCUSDT", "gtc1")
        assert again.status == ST_CANCELED
        missing = await venue.query_order("BTCUSDT", "never-sent")
        assert (missing.status, missing.reason[:9]) == (ST_REJECTED, "not found")

    asyncio.run(session(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_taker_fills_arrive_once_from_rest_and_stream(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        ask = MID[market] + 1
        res = await venue.submit(order(market, "ioc1", BUY, ask, tif=TIF_IOC))
        assert (res.status, res.filled_lots, res.trade_id) == (ST_FILLED, SMALL[market], -1)
        assert res.avg_price == pytest.approx(ask * (0.01 if market == "spot" else 0.1))
        mkt = await venue.submit(order(market, "mkt1", SELL, 0, order_type=OT_MARKET))
        assert mkt.status == ST_FILLED
        await eventually(lambda: len([u for u in updates.items if u.status == ST_FILLED]) >= 2)
        await asyncio.sleep(0.05)  # let any duplicate arrive too
        fills = updates.fills()
        assert len(fills) == len(set(fills)) == 2  # one per trade, whichever source came first
        # spot: the FULL response and the stream both carry each fill, one copy is dropped;
        # USD-M answers RESULT (no fills[]), so its fills come from the stream only
        assert (venue.feed.counts["fill.duplicate"] >= 2) == (market == "spot")
        (fill,) = [u for u in updates.of("ioc1") if u.trade_id >= 0]
        assert (fill.last_fill_lots, fill.last_fill_ticks) == (SMALL[market], ask)
        assert fill.fee > 0
        assert fill.fee_asset == ("BTC" if market == "spot" else "USDT")
        records = await venue.recent_fills("BTCUSDT", 0)
        assert sorted((r.venue_order_id, r.trade_id) for r in records) == sorted(fills)
        assert {r.client_id for r in records} == {"ioc1", "mkt1"}
        if market == "usdm":
            assert await venue.positions() == []  # bought then sold the same size
            await venue.submit(order(market, "ioc2", BUY, ask, tif=TIF_IOC))
            (pos,) = await venue.positions()
            assert (pos.symbol, pos.lots) == ("BTCUSDT", SMALL[market])
            assert pos.entry_price == pytest.approx(ask * 0.1)

    asyncio.run(session(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_post_only_and_fok_outcomes(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        ask = MID[market] + 1
        maker = await venue.submit(order(market, "po1", SELL, ask + 5, tif=TIF_GTX))
        assert maker.status == ST_OPEN
        taking = await venue.submit(order(market, "po2", BUY, ask, tif=TIF_GTX))
        assert taking.status == ST_REJECTED  # explicit: "would immediately match" / -5022
        assert taking.reason.startswith("-2010" if market == "spot" else "-5022")
        big = 2 * LEVEL_LOTS[market]  # only one lot's worth rests at the best ask
        fok = await venue.submit(order(market, "fok1", BUY, ask, tif=TIF_FOK, qty_lots=big))
        # spot expires an unfillable FOK; USD-M refuses it (-5021)
        assert fok.status == (ST_EXPIRED if market == "spot" else ST_REJECTED)
        bad = await venue.submit(order(market, "bad1", BUY, ask, qty_lots=1))  # under notional
        assert bad.status == ST_REJECTED

    asyncio.run(session(tmp_path, market, body))


@pytest.mark.parametrize("market", MARKETS)
def test_modify_and_cancel_all(tmp_path: Path, market: str) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        low = MID[market] - 400
        await venue.submit(order(market, "m1", BUY, low))
        await venue.submit(order(market, "m2", BUY, low - 1))
        moved = await venue.modify("BTCUSDT", "m1", "m1b", low + 10, 2 * SMALL[market])
        assert (moved.status, moved.client_id) == (ST_OPEN, "m1b")
        assert (moved.price_ticks, moved.qty_lots) == (low + 10, 2 * SMALL[market])
        assert (await venue.query_order("BTCUSDT", "m1")).status == ST_CANCELED
        gone = await venue.modify("BTCUSDT", "nope", "nope2", low, SMALL[market])
        assert gone.status == ST_REJECTED
        cancelled = await venue.cancel_all("BTCUSDT")
        assert sorted(u.client_id for u in cancelled) == ["m1b", "m2"]
        assert {u.status for u in cancelled} == {ST_CANCELED}
        assert await venue.open_orders("BTCUSDT") == []
        assert await venue.cancel_all("BTCUSDT") == []

    asyncio.run(session(tmp_path, market, body))


def test_spot_stream_termination_resubscribes_and_reconciles(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        stream = venue.user_stream
        assert stream is not None
        first_sub = stream.subscription_id
        # the venue ends the subscription; an order placed meanwhile must not be missed
        server.hub.user(1, {"e": "eventStreamTerminated", "E": server.now_ms()})
        await eventually(lambda: stream.counts["subscribed"] == 2, what="resubscribed")
        assert stream.subscription_id != first_sub
        await eventually(lambda: venue.counts["reconcile"] == 1)
        ack = await venue.submit(order("spot", "after", BUY, MID["spot"] - 300))
        assert ack.status == ST_OPEN
        await eventually(lambda: bool(updates.of("after")), what="update after resubscribe")

    asyncio.run(session(tmp_path, "spot", body))


def test_user_socket_drop_reconnects_and_reconciles_missed_fills(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        stream = venue.user_stream
        assert stream is not None
        await venue.submit(order("spot", "rest1", SELL, MID["spot"] + 3))
        server.drop_connections("api")
        # the resting order trades while the user socket is down: a recorded taker buys
        server.exchange.apply_trade("BTCUSDT", BUY, MID["spot"] + 3, LEVEL_LOTS["spot"] * 3)
        await eventually(lambda: venue.counts["reconcile"] >= 1, what="reconcile")
        await eventually(lambda: any(u.trade_id >= 0 for u in updates.of("rest1")))
        (fill,) = [u for u in updates.of("rest1") if u.trade_id >= 0]
        assert (fill.status, fill.last_fill_lots) == (ST_FILLED, SMALL["spot"])
        assert stream.counts["lost.closed"] + stream.counts["lost.error"] >= 1

    asyncio.run(session(tmp_path, "spot", body))


def test_usdm_listen_key_keepalive_and_expiry(tmp_path: Path) -> None:
    async def body(server: Any, venue: BinanceVenue, updates: Updates) -> None:
        stream = venue.user_stream
        assert stream is not None
        first_key = stream.listen_key
        await eventually(lambda: stream.counts["keepalive"] >= 2, what="keepalives")
        # the key vanishes on the venue: the next keepalive gets -1125 and a new key is made
        server.listen_keys.close(1)
        await eventually(lambda: stream.counts["listen_key.lost"] == 1, what="-1125")
        await eventually(lambda: stream.listen_key not in ("", first_key), what="new key")
        second = stream.listen_key
        await eventually(lambda: listening(server, second), what="socket on the new key")
        # the venue expires the key with a listenKeyExpired event: a new key again
        server.close_listen_key(1)
        await eventually(lambda: stream.counts["event.listenKeyExpired"] == 1)
        await eventually(lambda: stream.listen_key not in ("", first_key, second))
        ack = await venue.submit(order("usdm", "k1", BUY, MID["usdm"] - 100))
        await eventually(lambda: bool(updates.of("k1")), what="update on the new key")
        assert ack.status == ST_OPEN

    asyncio.run(session(tmp_path, "usdm", body, keepalive_s=0.05))

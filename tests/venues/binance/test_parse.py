"""Market-data parsing: real message shapes -> rows; malformed input -> typed errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from hftlib.venues.binance import parse as p
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.errors import BinanceMessageError

from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
    SIDE_MASK,
)

RESOURCES = Path(__file__).parent / "resources"
SPOT = lookup_instrument("binance", "BTCUSDT")
USDM = lookup_instrument("binance-futures", "BTCUSDT")
LOCAL = 1_723_161_300_000_000_000


def res(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def spec(venue: str, symbol: str, tick: float, lot: float, kind: InstrumentKind) -> Instrument:
    return Instrument(venue=venue, symbol=symbol, kind=kind, tick_size=tick, lot_size=lot)


def test_spot_depth_rows() -> None:
    frame = p.parse_frame(res("ws_depth_spot.json"), Market.SPOT)
    assert (frame.kind, frame.symbol) == (p.DEPTH, "BTCUSDT")
    msg = p.decode_depth(frame.data, Market.SPOT)
    rows = p.depth_rows(msg, SPOT, LOCAL)
    data = orjson.loads(frame.data)
    levels = data["b"] + data["a"]
    assert len(rows) == len(levels)
    assert rows["px"].tolist() == [round(float(px) * 100) for px, _ in levels]
    assert rows["qty"].tolist() == [round(float(q) * 1e8) for _, q in levels]
    assert set(rows["seq"].tolist()) == {data["u"]}
    assert set(rows["aux"].tolist()) == {data["U"] - 1}
    assert set(rows["exch_ts"].tolist()) == {data["E"] * 1_000_000}
    assert set(rows["local_ts"].tolist()) == {LOCAL}
    nb = len(data["b"])
    assert (rows["flags"][:nb] & (KIND_MASK | SIDE_MASK) == K_DEPTH | F_BID).all()
    assert (rows["flags"][nb:] & (KIND_MASK | SIDE_MASK) == K_DEPTH | F_ASK).all()
    assert [bool(f & F_LAST) for f in rows["flags"]] == [False] * (len(rows) - 1) + [True]


def test_usdm_depth_chains_on_pu_and_uses_transaction_time() -> None:
    frame = p.parse_frame(res("ws_depth_usdm.json"), Market.USDM)
    msg = p.decode_depth(frame.data, Market.USDM)
    rows = p.depth_rows(msg, USDM, LOCAL)
    data = orjson.loads(frame.data)
    assert set(rows["aux"].tolist()) == {data["pu"]}
    assert set(rows["exch_ts"].tolist()) == {data["T"] * 1_000_000}
    assert rows["px"][0] == 50000  # "5000.00" at a 0.1 tick


def test_depth_read_with_the_wrong_market_is_refused() -> None:
    spot = p.parse_frame(res("ws_depth_spot.json"), Market.SPOT).data
    usdm = p.parse_frame(res("ws_depth_usdm.json"), Market.USDM).data
    with pytest.raises(BinanceMessageError) as info:
        p.decode_depth(usdm, Market.SPOT)
    assert (info.value.category, info.value.field) == ("wrong market", "$.pu")
    with pytest.raises(BinanceMessageError) as info:
        p.decode_depth(spot, Market.USDM)
    assert info.value.category == "wrong market"


def test_trades_give_the_taker_side() -> None:
    for name, instrument, market in (
        ("ws_trade_spot.json", SPOT, Market.SPOT),
        ("ws_trade_usdm.json", USDM, Market.USDM),
    ):
        frame = p.parse_frame(res(name), market)
        data = orjson.loads(frame.data)
        row = p.trade_rows(p.decode_trade(frame.data, market), instrument, LOCAL)
        assert len(row) == 1
        side = F_ASK if data["m"] else F_BID
        assert row["flags"][0] == K_TRADE | side | F_LAST
        assert row["seq"][0] == data["t"]
        assert row["exch_ts"][0] == data["T"] * 1_000_000


def test_usdm_insurance_fund_trade_gives_no_row() -> None:
    data = orjson.loads(p.parse_frame(res("ws_trade_usdm.json"), Market.USDM).data)
    data["X"] = "INSURANCE_FUND"
    msg = p.decode_trade(orjson.dumps(data), Market.USDM)
    assert len(p.trade_rows(msg, USDM, LOCAL)) == 0


def test_agg_trades_from_cryptofeed_shapes() -> None:
    for name, market, symbol, tick, lot in (
        ("ws_aggtrade_spot.json", Market.SPOT, "NKNUSDT", 0.0001, 0.1),
        ("ws_aggtrade_usdm.json", Market.USDM, "CTKUSDT", 0.001, 1.0),
    ):
        kind = InstrumentKind.SPOT if market == Market.SPOT else InstrumentKind.LINEAR_PERPETUAL
        instrument = spec("binance", symbol, tick, lot, kind)
        frame = p.parse_frame(res(name), market)
        assert frame.kind == p.AGG_TRADE
        data = orjson.loads(frame.data)
        row = p.agg_trade_rows(p.decode_agg_trade(frame.data, market), instrument, LOCAL)
        assert row["seq"][0] == data["a"]
        assert row["px"][0] == round(float(data["p"]) / tick)


def test_book_ticker_rows_and_spot_time_fallback() -> None:
    frame = p.parse_frame(res("ws_bookticker_spot.json"), Market.SPOT)
    msg = p.decode_book_ticker(frame.data, Market.SPOT)
    rows = p.book_ticker_rows(msg, SPOT, LOCAL, fallback_exch_ns=LOCAL - 5)
    assert rows["flags"].tolist() == [K_BBO | F_BID, K_BBO | F_ASK | F_LAST]
    assert rows["px"].tolist() == [6183763, 6183764]
    assert rows["exch_ts"].tolist() == [LOCAL - 5] * 2
    assert p.book_ticker_rows(msg, SPOT, LOCAL)["exch_ts"][0] == LOCAL
    frame = p.parse_frame(res("ws_bookticker_usdm.json"), Market.USDM)
    data = orjson.loads(frame.data)
    rows = p.book_ticker_rows(p.decode_book_ticker(frame.data, Market.USDM), USDM, LOCAL)
    assert rows["exch_ts"][0] == data["T"] * 1_000_000


def test_snapshot_rows_start_with_a_clear() -> None:
    instrument = spec("binance", "NKNUSDT", 0.0001, 0.1, InstrumentKind.SPOT)
    snap = p.decode_snapshot(res("http_get_depth_spot.json"), Market.SPOT)
    rows = p.snapshot_rows(snap, instrument, LOCAL, fallback_exch_ns=LOCAL - 1)
    assert rows["flags"][0] == K_CLEAR | F_BID | F_ASK
    assert rows["px"][0] == NO_PX
    assert (rows["flags"][1:] & 0xFF == K_SNAPSHOT).all()
    assert rows["flags"][-1] & F_LAST
    assert set(rows["seq"].tolist()) == {snap.last_update_id}
    assert rows["exch_ts"][0] == LOCAL - 1
    empty = p.decode_snapshot(b'{"lastUpdateId":5,"bids":[],"asks":[]}', Market.SPOT)
    rows = p.snapshot_rows(empty, instrument, LOCAL)
    assert rows["flags"].tolist() == [K_CLEAR | F_BID | F_ASK | F_LAST]


def test_other_streams_and_control_frames_are_classified() -> None:
    assert p.parse_frame(res("ws_kline_spot.json"), Market.SPOT).kind == p.OTHER_STREAM
    assert p.parse_frame(b'{"result":null,"id":1}', Market.SPOT).kind == p.CONTROL
    shutdown = b'{"e":"serverShutdown","E":1723161300000}'
    assert p.parse_frame(shutdown, Market.SPOT).kind == p.SHUTDOWN


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        (b'{"stream":"btcusdt@depth"', "malformed json"),
        (b"[1,2]", "malformed message"),
        (b'{"code":2,"msg":"Invalid request"}', "venue error"),
        (b'{"error":{"code":2,"msg":"x"},"id":3}', "venue error"),
        (b'{"hello":1}', "unknown message"),
        (b'{"stream":"nodata","data":{}}', "malformed message"),
    ],
)
def test_bad_frames_raise_typed_errors(raw: bytes, category: str) -> None:
    with pytest.raises(BinanceMessageError) as info:
        p.parse_frame(raw, Market.SPOT)
    assert info.value.category == category


def _depth(**changes: object) -> bytes:
    data = orjson.loads(p.parse_frame(res("ws_depth_spot.json"), Market.SPOT).data)
    data.update(changes)
    return orjson.dumps(data)


def _read_depth(raw: bytes) -> np.ndarray:
    return p.depth_rows(p.decode_depth(raw, Market.SPOT), SPOT, LOCAL)


@pytest.mark.parametrize(
    ("changes", "field", "category"),
    [
        ({"U": "x"}, "$.U", "malformed message"),
        ({"b": [["1.0"]]}, "$.b[0]", "malformed message"),
        ({"b": [["61000.005", "1"]]}, "$.b[0][0]", "off grid"),
        ({"a": [["61000.01", "0.000000001"]]}, "$.a[0][1]", "off grid"),
        ({"a": [["61000.01", "-1"]]}, "$.a[0][1]", "malformed message"),
        ({"b": [["nan", "1"]]}, "$.b[0][0]", "malformed message"),
        ({"b": [["0", "1"]]}, "$.b[0][0]", "malformed message"),
        ({"s": "ETHUSDT"}, "$.s", "symbol mismatch"),
        ({"e": "trade"}, "$.e", "malformed message"),
        ({"U": 10, "u": 9}, "$.U", "malformed message"),
        ({"E": -5}, "$.E", "malformed message"),
        ({"u": 2**63}, "$.u", "malformed message"),
    ],
)
def test_malformed_depth_names_the_field(
    changes: dict[str, object], field: str, category: str
) -> None:
    with pytest.raises(BinanceMessageError) as info:
        _read_depth(_depth(**changes))
    assert info.value.field == field
    assert info.value.category == category
    assert field in str(info.value)


def test_off_grid_is_never_rounded() -> None:
    coarse = spec("binance", "BTCUSDT", 0.1, 1e-8, InstrumentKind.SPOT)
    msg = p.decode_depth(_depth(b=[["61000.01", "1"]], a=[]), Market.SPOT)
    with pytest.raises(BinanceMessageError, match="never rounded"):
        p.depth_rows(msg, coarse, LOCAL)
    msg = p.decode_depth(_depth(b=[["61000.10", "1"]], a=[]), Market.SPOT)
    assert p.depth_rows(msg, coarse, LOCAL)["px"].tolist() == [610001]


def test_empty_diff_gives_no_rows() -> None:
    msg = p.decode_depth(_depth(b=[], a=[]), Market.SPOT)
    assert len(p.depth_rows(msg, SPOT, LOCAL)) == 0
    assert np.dtype(p.depth_rows(msg, SPOT, LOCAL).dtype) == p.EVENT_DTYPE

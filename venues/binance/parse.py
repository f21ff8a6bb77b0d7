"""Binance market data: stream frames and REST snapshots -> Structs -> event rows.

Pure functions, no state: the caller passes the :class:`~hftlib.instrument.Instrument`
(prices to ticks, sizes to lots; off-grid is an error, never rounded) and the local receive
time in ns. The book keeper (:mod:`hftlib.venues.binance.book`) decides which depth rows
are emitted; these functions only read.

Row layout (the converter's, :mod:`hftlib.convert.binance_ws`)
--------------------------------------------------------------
depth diff
    ``K_DEPTH`` rows, bids then asks, ``seq = u``, ``aux`` = the id the diff chains from
    (spot ``U - 1``, USD-M ``pu``), ``F_LAST`` on the last row; ``exch_ts`` = ``T`` on USD-M,
    ``E`` on spot. An empty diff gives no rows.
snapshot
    One ``K_CLEAR`` (both sides, ``px = NO_PX``) then ``K_SNAPSHOT`` rows, bids then asks,
    ``seq = lastUpdateId``, ``F_LAST`` on the last row.
trade / aggTrade
    One ``K_TRADE`` row, ``F_LAST``, side flag = the taker (``m`` true: the taker sold,
    ``F_ASK``), ``seq`` = trade id ``t`` (aggTrade: aggregate id ``a``), ``exch_ts = T``.
    USD-M trades whose ``X`` is not ``MARKET`` (insurance fund, ADL) give no rows.
bookTicker
    Two ``K_BBO`` rows, bid then ask (``F_LAST``), ``seq = u``; ``exch_ts`` = ``T``, else
    ``E``, else the caller's ``fallback_exch_ns`` (spot bookTicker carries no time).

Every malformed payload raises :class:`~hftlib.venues.binance.errors.BinanceMessageError`
with the field (``$.b[3][0]`` is relative to the stream payload, i.e. the envelope's
``data``) and a ``category``: ``malformed json``, ``malformed message``, ``unknown message``
(e.g. a ``{"code", "msg"}`` frame is ``venue error``), ``off grid``, ``symbol mismatch``,
``wrong market``.
"""

from __future__ import annotations

from itertools import chain
from typing import Final, NamedTuple

import msgspec
import numpy as np
from hftlib.venues.binance import schemas as sc
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.decoding import (
    check_id,
    decode,
    error,
    market_of,
    ms_to_ns,
    price_ticks,
    size_lots,
)
from hftlib.venues.binance.levels import OFF_GRID, ZERO_PRICE, fill_levels
from hftlib.venues.binance.levels import OK as LEVELS_OK

from hftlib.instrument import Instrument
from hftlib.types import (
    EVENT_DTYPE,
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_BBO,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    NO_ID,
    NO_PX,
)

# --- frame kinds ------------------------------------------------------------------------------
DEPTH: Final = "depth"
TRADE: Final = "trade"
AGG_TRADE: Final = "aggTrade"
BOOK_TICKER: Final = "bookTicker"
OTHER_STREAM: Final = "other"
"""A stream this module does not convert (kline, partial depth, ticker ...): count it."""
CONTROL: Final = "control"
"""A reply to SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS (``{"result", "id"}``)."""
SHUTDOWN: Final = "serverShutdown"
"""The server will close the connection soon: reconnect now."""

CLEAR_FLAGS: Final = K_CLEAR | F_BID | F_ASK | F_LAST | F_SYNTHETIC
"""The whole-book clear a keeper emits when its book becomes invalid (gap, stale)."""

_COMBINED: Final = msgspec.json.Decoder(sc.Combined)
_ANY: Final = msgspec.json.Decoder()
_DEPTH: Final = msgspec.json.Decoder(sc.DepthUpdate, strict=False)
_SNAPSHOT: Final = msgspec.json.Decoder(sc.DepthSnapshot, strict=False)
_TRADE: Final = msgspec.json.Decoder(sc.Trade)
_AGG: Final = msgspec.json.Decoder(sc.AggTrade)
_BBO: Final = msgspec.json.Decoder(sc.BookTicker)


class Frame(NamedTuple):
    """One frame of a combined-stream socket, classified.

    ``symbol`` is upper case (empty for control frames); ``data`` is the payload's raw JSON
    (the envelope's ``data``, or the whole frame for control/shutdown frames).
    """

    kind: str
    symbol: str
    stream: str
    data: bytes


def parse_frame(raw: bytes, market: Market) -> Frame:
    """Classify one frame of a combined-stream socket without decoding its payload."""
    try:
        env = _COMBINED.decode(raw)
    except msgspec.ValidationError:
        return _control_frame(raw, market)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise error(market, "frame", "$", str(exc), "malformed json") from None
    sym, at, name = env.stream.partition("@")
    if not at or not sym:
        raise error(market, "frame", "$.stream", f"bad stream name {env.stream[:60]!r}")
    if name == "depth" or name.startswith("depth@"):
        kind = DEPTH
    elif name in (TRADE, AGG_TRADE, BOOK_TICKER):
        kind = name
    else:
        kind = OTHER_STREAM
    return Frame(kind, sym.upper(), env.stream, bytes(env.data))


def _control_frame(raw: bytes, market: Market) -> Frame:
    try:
        msg = _ANY.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise error(market, "frame", "$", str(exc), "malformed json") from None
    if type(msg) is not dict:
        raise error(market, "frame", "$", f"expected an object, got {type(msg).__name__}")
    if "result" in msg and "id" in msg:
        return Frame(CONTROL, "", "", raw)
    if msg.get("e") == SHUTDOWN:
        return Frame(SHUTDOWN, "", "", raw)
    if "code" in msg or "error" in msg:
        detail = str(msg.get("error", msg))[:160]
        raise error(market, "frame", "$", f"venue error frame {detail}", "venue error")
    keys = sorted(map(str, msg))[:8]
    raise error(market, "frame", "$", f"unknown frame with keys {keys}", "unknown message")


# --- depth ------------------------------------------------------------------------------------


def decode_depth(data: bytes, market: Market) -> sc.DepthUpdate:
    """Decode and check one ``depthUpdate`` payload (spot or USD-M as ``market`` says)."""
    msg = decode(_DEPTH, data, market, "depthUpdate")
    if msg.event != "depthUpdate":
        raise error(market, "depthUpdate", "$.e", f"event {msg.event[:40]!r} is not depthUpdate")
    first = check_id(msg.first_id, market, "depthUpdate", "$.U")
    last = check_id(msg.last_id, market, "depthUpdate", "$.u")
    if market == Market.SPOT:
        if msg.prev_id is not None:
            raise error(
                market, "depthUpdate", "$.pu", "USD-M diff on a spot stream", "wrong market"
            )
        prev = first - 1
    else:
        if msg.prev_id is None or msg.transact_time is None:
            field = "$.pu" if msg.prev_id is None else "$.T"
            raise error(market, "depthUpdate", field, "USD-M diff without it", "wrong market")
        prev = check_id(msg.prev_id, market, "depthUpdate", "$.pu")
        ms_to_ns(msg.transact_time, market, "depthUpdate", "$.T")
    if not prev < first <= last:
        raise error(
            market, "depthUpdate", "$.U", f"ids out of order: U={first} u={last} prev={prev}"
        )
    ms_to_ns(msg.event_time, market, "depthUpdate", "$.E")
    return msg


def depth_chain(msg: sc.DepthUpdate) -> int:
    """Return the id a diff chains from: ``pu`` on USD-M, ``U - 1`` on spot."""
    return msg.prev_id if msg.prev_id is not None else msg.first_id - 1


def depth_exch_ns(msg: sc.DepthUpdate) -> int:
    """Return a diff's exchange time in ns (``T`` on USD-M, ``E`` on spot)."""
    ms = msg.transact_time if msg.transact_time is not None else msg.event_time
    return ms * 1_000_000


def depth_rows(msg: sc.DepthUpdate, instrument: Instrument, local_ts: int) -> np.ndarray:
    """Return a decoded diff's ``K_DEPTH`` rows (see the module docstring)."""
    market = market_of(instrument)
    _check_symbol(msg.symbol, instrument, market, "depthUpdate")
    return level_rows(
        K_DEPTH,
        msg.bids,
        msg.asks,
        instrument,
        market,
        "depthUpdate",
        depth_exch_ns(msg),
        local_ts,
        msg.last_id,
        depth_chain(msg),
        ("b", "a"),
    )


def decode_snapshot(raw: bytes, market: Market) -> sc.DepthSnapshot:
    """Decode and check a REST depth snapshot."""
    snap = decode(_SNAPSHOT, raw, market, "depth snapshot")
    check_id(snap.last_update_id, market, "depth snapshot", "$.lastUpdateId")
    if snap.transact_time is not None:
        ms_to_ns(snap.transact_time, market, "depth snapshot", "$.T")
    return snap


def snapshot_rows(
    snap: sc.DepthSnapshot, instrument: Instrument, local_ts: int, fallback_exch_ns: int = 0
) -> np.ndarray:
    """Return a clear row then the snapshot's ``K_SNAPSHOT`` rows.

    ``exch_ts`` is the snapshot's ``T`` (USD-M); a spot snapshot has no time and gets
    ``fallback_exch_ns`` (e.g. the latest diff's ``E``), or ``local_ts`` when that is 0.
    """
    market = market_of(instrument)
    if snap.transact_time is not None:
        exch = snap.transact_time * 1_000_000
    else:
        exch = fallback_exch_ns or local_ts
    lid = snap.last_update_id
    levels = level_rows(
        K_SNAPSHOT,
        snap.bids,
        snap.asks,
        instrument,
        market,
        "depth snapshot",
        exch,
        local_ts,
        lid,
        NO_ID,
        ("bids", "asks"),
    )
    out = np.empty(len(levels) + 1, dtype=EVENT_DTYPE)
    out[0] = (K_CLEAR | F_BID | F_ASK | (0 if len(levels) else F_LAST), 0, exch, local_ts,
              NO_PX, 0, NO_ID, lid, NO_ID)  # fmt: skip
    out[1:] = levels
    return out


def clear_row(exch_ts: int, local_ts: int, seq: int) -> np.ndarray:
    """Return the one-row whole-book clear emitted when a book becomes invalid."""
    out = np.empty(1, dtype=EVENT_DTYPE)
    out[0] = (CLEAR_FLAGS, 0, exch_ts, local_ts, NO_PX, 0, NO_ID, seq, NO_ID)
    return out


def level_rows(
    kind: int,
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    instrument: Instrument,
    market: Market,
    what: str,
    exch_ts: int,
    local_ts: int,
    seq: int,
    aux: int,
    names: tuple[str, str],
) -> np.ndarray:
    """Return one row per level, bids then asks, ``F_LAST`` on the last."""
    nb = len(bids)
    n = nb + len(asks)
    out = np.empty(n, dtype=EVENT_DTYPE)
    if not n:
        return out
    flat = np.fromiter(chain.from_iterable(chain(bids, asks)), np.float64, 2 * n)
    tick, lot = instrument.tick_size, instrument.lot_size
    status = fill_levels(flat, nb, tick, lot, kind, exch_ts, local_ts, seq, aux, out)
    if status != LEVELS_OK:
        index, reason = divmod(status, 4)
        level, col = divmod(index, 2)
        side = names[0] if level < nb else names[1]
        field = f"$.{side}[{level if level < nb else level - nb}][{col}]"
        value = flat[index]
        if reason == OFF_GRID:
            step = tick if col == 0 else lot
            raise error(
                market,
                what,
                field,
                f"{value!r} is not a multiple of {step!r} for {instrument.key} "
                "(off the grid; never rounded)",
                "off grid",
            )
        if reason == ZERO_PRICE:
            raise error(market, what, field, "a book level at price 0")
        raise error(market, what, field, f"{value!r} is not a finite number >= 0")
    return out


# --- trades and top of book -------------------------------------------------------------------


def decode_trade(data: bytes, market: Market) -> sc.Trade:
    """Decode and check one ``trade`` payload."""
    msg = decode(_TRADE, data, market, "trade")
    if msg.event != "trade":
        raise error(market, "trade", "$.e", f"event {msg.event[:40]!r} is not trade")
    check_id(msg.trade_id, market, "trade", "$.t")
    ms_to_ns(msg.trade_time, market, "trade", "$.T")
    ms_to_ns(msg.event_time, market, "trade", "$.E")
    return msg


def trade_rows(msg: sc.Trade, instrument: Instrument, local_ts: int) -> np.ndarray:
    """Return a trade's ``K_TRADE`` row (none for USD-M insurance-fund / ADL prints)."""
    market = market_of(instrument)
    _check_symbol(msg.symbol, instrument, market, "trade")
    if msg.exec_kind is not None and msg.exec_kind != "MARKET":
        return np.empty(0, dtype=EVENT_DTYPE)
    return _trade_row(
        msg.price, msg.qty, msg.buyer_maker, msg.trade_id, msg.trade_time, instrument, market,
        "trade", local_ts,
    )  # fmt: skip


def decode_agg_trade(data: bytes, market: Market) -> sc.AggTrade:
    """Decode and check one ``aggTrade`` payload."""
    msg = decode(_AGG, data, market, "aggTrade")
    if msg.event != "aggTrade":
        raise error(market, "aggTrade", "$.e", f"event {msg.event[:40]!r} is not aggTrade")
    check_id(msg.agg_id, market, "aggTrade", "$.a")
    ms_to_ns(msg.trade_time, market, "aggTrade", "$.T")
    ms_to_ns(msg.event_time, market, "aggTrade", "$.E")
    return msg


def agg_trade_rows(msg: sc.AggTrade, instrument: Instrument, local_ts: int) -> np.ndarray:
    """Return an aggTrade's ``K_TRADE`` row (``seq`` = the aggregate id)."""
    market = market_of(instrument)
    _check_symbol(msg.symbol, instrument, market, "aggTrade")
    return _trade_row(
        msg.price, msg.qty, msg.buyer_maker, msg.agg_id, msg.trade_time, instrument, market,
        "aggTrade", local_ts,
    )  # fmt: skip


def _trade_row(
    price: str,
    qty: str,
    buyer_maker: bool,
    seq: int,
    time_ms: int,
    instrument: Instrument,
    market: Market,
    what: str,
    local_ts: int,
) -> np.ndarray:
    px = price_ticks(price, instrument, market, what, "$.p")
    lots = size_lots(qty, instrument, market, what, "$.q")
    if px <= 0 or lots <= 0:
        raise error(market, what, "$.p" if px <= 0 else "$.q", "must be > 0")
    out = np.empty(1, dtype=EVENT_DTYPE)
    side = F_ASK if buyer_maker else F_BID  # the buyer made the market: the taker sold
    out[0] = (K_TRADE | side | F_LAST, 0, time_ms * 1_000_000, local_ts, px, lots, NO_ID, seq,
              NO_ID)  # fmt: skip
    return out


def decode_book_ticker(data: bytes, market: Market) -> sc.BookTicker:
    """Decode and check one ``bookTicker`` payload."""
    msg = decode(_BBO, data, market, "bookTicker")
    if msg.event is not None and msg.event != "bookTicker":
        raise error(market, "bookTicker", "$.e", f"event {msg.event[:40]!r} is not bookTicker")
    check_id(msg.update_id, market, "bookTicker", "$.u")
    for field, value in (("$.T", msg.transact_time), ("$.E", msg.event_time)):
        if value is not None:
            ms_to_ns(value, market, "bookTicker", field)
    return msg


def book_ticker_top(
    msg: sc.BookTicker, instrument: Instrument
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Return ``((bid ticks, lots), (ask ticks, lots))`` of a bookTicker."""
    market = market_of(instrument)
    _check_symbol(msg.symbol, instrument, market, "bookTicker")
    what = "bookTicker"
    bid = (
        price_ticks(msg.bid, instrument, market, what, "$.b"),
        size_lots(msg.bid_qty, instrument, market, what, "$.B"),
    )
    ask = (
        price_ticks(msg.ask, instrument, market, what, "$.a"),
        size_lots(msg.ask_qty, instrument, market, what, "$.A"),
    )
    if bid[1] < 0 or ask[1] < 0:
        raise error(market, what, "$.B" if bid[1] < 0 else "$.A", "negative size")
    return bid, ask


def book_ticker_rows(
    msg: sc.BookTicker, instrument: Instrument, local_ts: int, fallback_exch_ns: int = 0
) -> np.ndarray:
    """Return a bookTicker's two ``K_BBO`` rows (bid, then ask with ``F_LAST``)."""
    (bid_px, bid_qty), (ask_px, ask_qty) = book_ticker_top(msg, instrument)
    ms = msg.transact_time if msg.transact_time is not None else msg.event_time
    exch = ms * 1_000_000 if ms is not None else (fallback_exch_ns or local_ts)
    out = np.empty(2, dtype=EVENT_DTYPE)
    uid = msg.update_id
    out[0] = (K_BBO | F_BID, 0, exch, local_ts, bid_px, bid_qty, NO_ID, uid, NO_ID)
    out[1] = (K_BBO | F_ASK | F_LAST, 0, exch, local_ts, ask_px, ask_qty, NO_ID, uid, NO_ID)
    return out


def _check_symbol(symbol: str, instrument: Instrument, market: Market, what: str) -> None:
    if symbol != instrument.symbol:
        raise error(
            market, what, "$.s", f"symbol {symbol[:40]!r} is not {instrument.symbol}",
            "symbol mismatch",
        )  # fmt: skip

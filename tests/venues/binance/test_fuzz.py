"""Hypothesis: every parser raises nothing but BinanceMessageError on arbitrary or mutated
bytes; the book keeper never diverges from the true book under drops, duplicates and swaps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hftlib.venues.binance import account as ac
from hftlib.venues.binance import orders as od
from hftlib.venues.binance import parse as p
from hftlib.venues.binance import userdata as ud
from hftlib.venues.binance.book import BookKeeper
from hftlib.venues.binance.constants import Market
from hftlib.venues.binance.errors import BinanceMessageError
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlib.instrument import Instrument, InstrumentKind, lookup_instrument
from hftlib.venue.interface import BOOK_LIVE

RESOURCES = Path(__file__).parent / "resources"
SPOT = lookup_instrument("binance", "BTCUSDT")
USDM = lookup_instrument("binance-futures", "BTCUSDT")
FINE = Instrument(
    venue="binance", symbol="NKNUSDT", kind=InstrumentKind.SPOT, tick_size=1e-8, lot_size=1e-8
)
LOCAL = 1_723_161_300_000_000_000
SETTINGS = settings(max_examples=150, deadline=None)


def _frame_data(raw: bytes, market: Market) -> bytes:
    return p.parse_frame(raw, market).data


PARSERS: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "frame": ("ws_depth_spot.json", lambda b: p.parse_frame(b, Market.SPOT)),
    "depth_spot": (
        "ws_depth_spot.json",
        lambda b: p.depth_rows(p.decode_depth(_frame_data(b, Market.SPOT), Market.SPOT), SPOT, 1),
    ),
    "depth_usdm": (
        "ws_depth_usdm.json",
        lambda b: p.depth_rows(p.decode_depth(_frame_data(b, Market.USDM), Market.USDM), USDM, 1),
    ),
    "trade": (
        "ws_trade_usdm.json",
        lambda b: p.trade_rows(p.decode_trade(_frame_data(b, Market.USDM), Market.USDM), USDM, 1),
    ),
    "agg_trade": (
        "ws_aggtrade_spot.json",
        lambda b: p.agg_trade_rows(
            p.decode_agg_trade(_frame_data(b, Market.SPOT), Market.SPOT), FINE, 1
        ),
    ),
    "book_ticker": (
        "ws_bookticker_spot.json",
        lambda b: p.book_ticker_rows(
            p.decode_book_ticker(_frame_data(b, Market.SPOT), Market.SPOT), SPOT, 1
        ),
    ),
    "snapshot": (
        "http_get_depth_spot.json",
        lambda b: p.snapshot_rows(p.decode_snapshot(b, Market.SPOT), FINE, 1),
    ),
    "order": (
        "http_post_order_full_spot.json",
        lambda b: od.order_updates(
            od.decode_order(b, Market.SPOT), SPOT, 1, od.Assets("BTC", "USDT")
        ),
    ),
    "execution_report": (
        "ws_executionreport_spot.json",
        lambda b: od.execution_report_update(
            od.decode_execution_report(ud.user_event(b, Market.SPOT).data), SPOT, 1
        ),
    ),
    "order_trade_update": (
        "ws_order_trade_update_usdm.json",
        lambda b: od.order_trade_update(od.decode_order_trade_update(b), USDM, 1),
    ),
    "account_trades": (
        "http_get_mytrades_spot.json",
        lambda b: [
            od.account_trade_update(t, SPOT, 1) for t in od.decode_account_trades(b, Market.SPOT)
        ],
    ),
    "spot_balances": ("http_get_account_spot.json", ac.spot_balances),
    "futures_balances": ("http_get_balance_usdm.json", ac.futures_balances),
    "positions": ("http_get_positionrisk_usdm.json", lambda b: ac.positions(b, {"BTCUSDT": USDM})),
    "account_update": ("ws_account_update_usdm.json", ac.decode_account_update),
    "account_position": (
        "ws_account_position_spot.json",
        lambda b: ac.account_position_balances(ud.user_event(b, Market.SPOT).data),
    ),
    "exchange_info": (
        "http_get_exchangeinfo_spot.json",
        lambda b: ac.symbol_rules(ac.decode_exchange_info(b, Market.SPOT), Market.SPOT),
    ),
    "ws_api": ("ws_api_response_ban_spot.json", ud.parse_ws_api_frame),
    "user_event_usdm": ("ws_order_trade_update_usdm.json", lambda b: ud.user_event(b, Market.USDM)),
    "error_body": ("http_error_spot.json", lambda b: ud.decode_error(b, Market.SPOT)),
}


def _run(name: str, raw: bytes) -> None:
    error: BinanceMessageError | None = None
    try:
        PARSERS[name][1](raw)
    except BinanceMessageError as exc:
        error = exc
    if error is not None:  # the documented error names a field and a category
        assert error.field.startswith("$")
        assert error.category


def test_every_resource_parses() -> None:
    for name, (resource, parser) in PARSERS.items():
        assert parser((RESOURCES / resource).read_bytes()) is not None, name


@SETTINGS
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_typed_error(name: str, raw: bytes) -> None:
    _run(name, raw)


@SETTINGS
@given(st.sampled_from(sorted(PARSERS)), st.data())
def test_mutated_bytes_raise_only_the_typed_error(name: str, data: st.DataObject) -> None:
    raw = bytearray((RESOURCES / PARSERS[name][0]).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[at:]
        elif op == "insert":
            raw[at:at] = data.draw(
                st.sampled_from([b"-", b"0", b'"', b",", b"]", b"e9", b"1" * 30])
            )
        elif raw:
            del raw[at]
    _run(name, bytes(raw))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@SETTINGS
@given(st.sampled_from(sorted(PARSERS)), st.data())
def test_swapped_field_values_raise_only_the_typed_error(name: str, data: st.DataObject) -> None:
    obj = orjson.loads((RESOURCES / PARSERS[name][0]).read_bytes())
    path = data.draw(st.sampled_from(_paths(obj)))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    try:
        raw = orjson.dumps(obj)
    except TypeError:  # an integer orjson cannot write: not a message anyone could send
        return
    _run(name, raw)


# --- the keeper never diverges -------------------------------------------------------------

Updates = list[tuple[bool, int, int]]
UPDATES = st.lists(st.tuples(st.booleans(), st.integers(1, 8), st.integers(0, 3)), max_size=4)


def _levels(updates: Updates, bid: bool) -> list[list[str]]:
    return [[f"{t / 100:.2f}", f"{q}"] for b, t, q in updates if b == bid]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), UPDATES), min_size=1, max_size=25), st.data())
def test_keeper_is_either_right_or_not_live(
    diffs: list[tuple[int, Updates]], data: st.DataObject
) -> None:
    # the venue's true book after each diff, keyed by the diff's final update id
    truth: dict[int, tuple[dict[int, int], dict[int, int]]] = {0: ({}, {})}
    messages: list[tuple[int, int, Updates]] = []
    book: tuple[dict[int, int], dict[int, int]] = ({}, {})
    last = 0
    for width, updates in diffs:
        first, last = last + 1, last + width
        for bid, tick, lots in updates:
            side = book[0] if bid else book[1]
            if lots:
                side[tick] = lots * 100_000_000
            else:
                side.pop(tick, None)
        truth[last] = (dict(book[0]), dict(book[1]))
        messages.append((first, last, updates))
    # what the socket delivers: drops, duplicates, swaps, and snapshots taken at any time
    stream: list[Any] = []
    for msg in messages:
        roll = data.draw(st.integers(0, 19))
        if roll == 0:
            continue  # dropped
        stream.append(("diff", msg))
        if roll == 1:
            stream.append(("diff", msg))  # duplicated
        if roll == 2 and len(stream) > 1:
            stream[-1], stream[-2] = stream[-2], stream[-1]  # swapped
        if data.draw(st.integers(0, 5)) == 0:
            stream.append(("snapshot", data.draw(st.sampled_from(sorted(truth)))))
    keeper = BookKeeper(SPOT)
    for kind, item in stream:
        if kind == "diff":
            first, end, updates = item
            raw = orjson.dumps({"e": "depthUpdate", "E": 1723161255000, "s": "BTCUSDT",
                                "U": first, "u": end, "b": _levels(updates, True),
                                "a": _levels(updates, False)})  # fmt: skip
            keeper.on_diff(p.decode_depth(raw, Market.SPOT), LOCAL)
        else:
            bids, asks = truth[item]
            snap = {
                "lastUpdateId": item,
                "bids": [[f"{t / 100:.2f}", f"{q / 1e8}"] for t, q in bids.items()],
                "asks": [[f"{t / 100:.2f}", f"{q / 1e8}"] for t, q in asks.items()],
            }
            keeper.on_snapshot(p.decode_snapshot(orjson.dumps(snap), Market.SPOT), LOCAL)
        if keeper.state == BOOK_LIVE:
            assert (dict(keeper.bids), dict(keeper.asks)) == truth[keeper.book_id]

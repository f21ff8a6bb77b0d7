"""Generated L3 captures (LOBSTER, Bitstamp) rebuild the model's book; mutated lines never crash."""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hftlib.convert import bitstamp, lobster
from hftlib.convert.base import ConvertReport
from hftlib.convert.bitstamp_input import ORDER_COLUMNS, TRADE_COLUMNS
from hftlib.errors import DataError
from hftlib.instrument import lookup_instrument
from hftlib.refbook import L3Book
from hftlib.types import (
    EVENT_DTYPE,
    F_BID,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
)

STOCK = lookup_instrument("nasdaq", "AAPL")
BTC = lookup_instrument("bitstamp", "BTCUSD")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Levels = dict[tuple[bool, int], int]


def levels_of(orders: dict[int, tuple[bool, int, int]]) -> Levels:
    out: Counter[tuple[bool, int]] = Counter()
    for is_bid, px, qty in orders.values():
        out[(is_bid, px)] += qty
    return {k: v for k, v in out.items() if v > 0}


def run(
    fmt: object, paths: list[Path], instrument: object, strict: bool = False
) -> tuple[np.ndarray, ConvertReport]:
    report = ConvertReport("fuzz", [str(p) for p in paths], strict=strict)
    chunks = list(fmt.convert(paths, instrument, report, chunk_rows=97))  # type: ignore[attr-defined]
    events = np.concatenate(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
    return events, report


# --- LOBSTER -----------------------------------------------------------------------------------


@dataclass
class LobsterCase:
    lines: list[str] = field(default_factory=list)
    book_rows: list[str] = field(default_factory=list)
    orders: dict[int, tuple[bool, int, int]] = field(default_factory=dict)
    preexisting: set[int] = field(default_factory=set)


def _book_row(orders: dict[int, tuple[bool, int, int]], depth: int = 10) -> str:
    lv = levels_of(orders)
    asks = sorted((px, q) for (b, px), q in lv.items() if not b)
    bids = sorted(((px, q) for (b, px), q in lv.items() if b), reverse=True)
    cells: list[int] = []
    for i in range(depth):
        ask = asks[i] if i < len(asks) else (9999999999 // 100, 0)
        bid = bids[i] if i < len(bids) else (-9999999999 // 100, 0)
        for px, q in (ask, bid):
            cells += [px * 100 if q else (9999999999 if px > 0 else -9999999999), q]
    return ",".join(map(str, cells))


@st.composite
def lobster_cases(draw: st.DrawFn) -> LobsterCase:
    case = LobsterCase()
    # pre-existing orders: resting before the file, never added by a message
    for oid in range(1, draw(st.integers(0, 4)) + 1):
        is_bid = draw(st.booleans())
        px = draw(st.integers(100, 103) if is_bid else st.integers(104, 107))
        case.orders[oid] = (is_bid, px, draw(st.integers(1, 50)))
        case.preexisting.add(oid)
    next_id = 100
    t = 34_200_000_000_000
    for _ in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 2_000_000_000))
        stamp = f"{t // 10**9}.{t % 10**9:09d}"
        live = sorted(case.orders)
        op = draw(st.sampled_from(["add", "add", "cancel", "delete", "exec", "hidden", "halt"]))
        if op in ("cancel", "delete", "exec") and not live:
            op = "add"
        if op == "add":
            is_bid = draw(st.booleans())
            px = draw(st.integers(100, 103) if is_bid else st.integers(104, 107))
            size = draw(st.integers(1, 50))
            case.orders[next_id] = (is_bid, px, size)
            line = f"{stamp},1,{next_id},{size},{px * 100},{1 if is_bid else -1}"
            next_id += 1
        elif op == "hidden":
            is_bid = draw(st.booleans())
            line = f"{stamp},5,0,{draw(st.integers(1, 9))},{draw(st.integers(100, 107)) * 100},"
            line += "1" if is_bid else "-1"
        elif op == "halt":
            line = f"{stamp},7,0,0,{draw(st.sampled_from([-1, 0, 1]))},-1"
        else:
            oid = draw(st.sampled_from(live))
            is_bid, px, rem = case.orders[oid]
            size = rem if op == "delete" else draw(st.integers(1, rem))
            if op == "cancel" and size == rem and rem > 1:
                size = rem - 1
            mtype = {"cancel": 2, "delete": 3, "exec": 4}[op]
            line = f"{stamp},{mtype},{oid},{size},{px * 100},{1 if is_bid else -1}"
            if rem - size > 0:
                case.orders[oid] = (is_bid, px, rem - size)
            else:
                del case.orders[oid]
        case.lines.append(line)
        case.book_rows.append(_book_row(case.orders))
    return case


def _write_lobster(folder: Path, lines: list[str], book: list[str] | None) -> list[Path]:
    msg = folder / "FUZZ_2012-06-21_34200000_57600000_message_10.csv"
    msg.write_text("\n".join(lines))
    if book is None:
        return [msg]
    ob = folder / "FUZZ_2012-06-21_34200000_57600000_orderbook_10.csv"
    ob.write_text("\n".join(book))
    return [msg, ob]


def replay_levels(events: np.ndarray) -> tuple[Levels, L3Book]:
    """Rebuild the visible book: snapshot levels plus every L3 row's qty at its level."""
    levels: Counter[tuple[bool, int]] = Counter()
    book = L3Book()
    for row in events:
        kind, flags = int(row["flags"]) & KIND_MASK, int(row["flags"])
        key = (bool(flags & F_BID), int(row["px"]))
        qty, oid = int(row["qty"]), int(row["order_id"])
        if kind == K_CLEAR:
            levels.clear()
        elif kind == K_SNAPSHOT:
            levels[key] = qty
        elif kind == K_L3_ADD:
            levels[key] += qty
            book.add(oid, key[0], key[1], qty)
        elif kind in (K_L3_CANCEL, K_L3_FILL):
            levels[key] -= qty
            if oid in book.orders:
                book.reduce(oid, qty)
    return {k: v for k, v in levels.items() if v}, book


@FUZZ
@given(lobster_cases())
def test_lobster_generated_messages_rebuild_the_book(case: LobsterCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_lobster(Path(tmp), case.lines, case.book_rows)
        events, report = run(lobster, paths, STOCK, strict=True)
    assert report.skipped_total == 0
    levels, book = replay_levels(events)
    if any(line.split(",")[1] != "7" for line in case.lines):  # else no row, no initial book
        assert levels == levels_of(case.orders)
    added = {k: v for k, v in case.orders.items() if k not in case.preexisting}
    assert {k: (o.is_bid, o.px, o.qty) for k, o in book.orders.items()} == added
    assert np.all(np.diff(events["local_ts"]) >= 0)


def _mutate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    out = list(lines)
    for _ in range(draw(st.integers(1, 6))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        how = draw(st.sampled_from(["char", "drop", "dup", "garbage", "swap", "big"]))
        line = out[i]
        if how == "char" and line:
            j = draw(st.integers(0, len(line) - 1))
            out[i] = line[:j] + draw(st.sampled_from(list(',.-9e x\t"_'))) + line[j + 1 :]
        elif how == "drop":
            parts = line.split(",")
            del parts[draw(st.integers(0, len(parts) - 1))]
            out[i] = ",".join(parts)
        elif how == "dup":
            out.insert(i, line)
        elif how == "garbage":
            out[i] = draw(st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s))
        elif how == "swap":
            parts = line.split(",")
            parts[0], parts[-1] = parts[-1], parts[0]
            out[i] = ",".join(parts)
        else:
            parts = line.split(",")
            parts[draw(st.integers(0, len(parts) - 1))] = "9" * draw(st.integers(10, 40))
            out[i] = ",".join(parts)
    return out


@FUZZ
@given(st.data())
def test_lobster_mutated_lines_are_counted_never_crash(data: st.DataObject) -> None:
    case = data.draw(lobster_cases())
    lines = data.draw(st.composite(lambda d: _mutate(d, case.lines))())
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_lobster(Path(tmp), lines, None)
        events, report = run(lobster, paths, STOCK)
        with contextlib.suppress(DataError):
            run(lobster, paths, STOCK, strict=True)
    # every non-blank line became events (sharing its seq), a rejection or a halt count
    halts = sum(v for k, v in report.counts.items() if k.startswith("type 7"))
    assert len(set(events["seq"].tolist())) + report.skipped_total + halts == report.lines


# --- Bitstamp ----------------------------------------------------------------------------------


@dataclass
class BitstampCase:
    orders: list[str] = field(default_factory=list)
    trades: list[str] = field(default_factory=list)
    book: dict[int, tuple[bool, int, int]] = field(default_factory=dict)
    matches: int = 0


def _btc(lots: int, sci: bool) -> str:
    return f"{lots * 1e-8:.2e}" if sci and lots < 100 else f"{lots / 1e8:.8f}"


@st.composite
def bitstamp_cases(draw: st.DrawFn) -> BitstampCase:
    case = BitstampCase()
    next_id, trade_id, t = 1000, 5000, 1_700_000_000_000
    last_trade = t  # a recorder logs trades in the order it receives them

    def row(oid: int, px: int, lots: int, action: str, is_bid: bool, exch: int) -> None:
        nonlocal t
        t += draw(st.integers(0, 2))
        vol = _btc(lots, draw(st.booleans()))
        side = "bid" if is_bid else "ask"
        case.orders.append(f"{oid},{t},{exch},{px}.0,{vol},{action},{side}")

    for _ in range(draw(st.integers(1, 30))):
        exch = t - 50
        live = sorted(case.book)
        op = draw(st.sampled_from(["create", "create", "cancel", "replace", "match", "match"]))
        if op != "create" and not live:
            op = "create"
        if op == "create":
            is_bid = draw(st.booleans())
            px = draw(st.integers(100, 104) if is_bid else st.integers(105, 109))
            lots = draw(st.integers(1, 10**6))
            case.book[next_id] = (is_bid, px, lots)
            row(next_id, px, lots, "created", is_bid, exch)
            next_id += 1
        elif op in ("cancel", "replace"):
            oid = draw(st.sampled_from(live))
            is_bid, px, lots = case.book.pop(oid)
            # a replace deletes with the replacement's price (Bitstamp's convention)
            shown = px + (draw(st.integers(-1, 1)) if op == "replace" else 0)
            row(oid, shown, lots, "deleted", is_bid, exch)
        else:
            maker = draw(st.sampled_from(live))
            m_bid, m_px, m_lots = case.book[maker]
            taker, next_id = next_id, next_id + 1
            t_lots = draw(st.integers(1, 2 * m_lots))
            limit = m_px + (1 if not m_bid else -1) * draw(st.integers(0, 3))
            row(taker, limit, t_lots, "created", not m_bid, exch)
            amount = min(t_lots, m_lots)
            left = t_lots - amount
            row(taker, m_px, left, "changed" if left else "deleted", not m_bid, exch)
            trade_local = last_trade = max(last_trade, t + draw(st.integers(-5, 5)))
            row(
                maker,
                m_px,
                m_lots - amount,
                "changed" if m_lots > amount else "deleted",
                m_bid,
                exch,
            )
            if m_lots > amount:
                case.book[maker] = (m_bid, m_px, m_lots - amount)
            else:
                del case.book[maker]
            if left:
                row(taker, limit, left, "deleted", not m_bid, exch)  # IOC remainder
            buy, sell = (taker, maker) if m_bid is False else (maker, taker)
            side = "buy" if not m_bid else "sell"
            case.trades.append(
                f"{trade_id},{trade_local},{exch},{m_px}.0,{_btc(amount, False)},"
                f"{buy},{sell},{side}"
            )
            trade_id += 1
            case.matches += 1
    return case


def _write_bitstamp(folder: Path, orders: list[str], trades: list[str]) -> list[Path]:
    o, t = folder / "orders.csv", folder / "trades.csv"
    o.write_text("\n".join([",".join(ORDER_COLUMNS), *orders]) + "\n")
    t.write_text("\n".join([",".join(TRADE_COLUMNS), *trades]) + "\n")
    return [o, t]


@FUZZ
@given(bitstamp_cases())
def test_bitstamp_generated_capture_rebuilds_the_book(case: BitstampCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        events, report = run(
            bitstamp, _write_bitstamp(Path(tmp), case.orders, case.trades), BTC, strict=True
        )
    assert report.skipped_total == 0
    book = L3Book()
    for row in events:
        if int(row["flags"]) & KIND_MASK != K_TRADE:
            book.apply(int(row["flags"]), int(row["order_id"]), int(row["px"]), int(row["qty"]))
    assert {k: (o.is_bid, o.px, o.qty) for k, o in book.orders.items()} == case.book
    kinds = Counter(int(k) for k in events["flags"] & KIND_MASK)
    assert kinds[K_L3_FILL] == 2 * case.matches
    assert kinds[K_TRADE] == case.matches
    assert kinds[K_L3_MODIFY] == 0
    fills = events[(events["flags"] & KIND_MASK) == K_L3_FILL]
    assert Counter(fills["aux"].tolist()) == Counter({tid: 2 for tid in set(fills["aux"].tolist())})
    assert np.all(np.diff(events["local_ts"]) >= 0)


@FUZZ
@given(st.data())
def test_bitstamp_mutated_lines_are_counted_never_crash(data: st.DataObject) -> None:
    case = data.draw(bitstamp_cases())
    orders = data.draw(st.composite(lambda d: _mutate(d, case.orders))())
    trades = data.draw(st.composite(lambda d: _mutate(d, case.trades))())
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_bitstamp(Path(tmp), orders, trades)
        events, report = run(bitstamp, paths, BTC)
        with contextlib.suppress(DataError):
            run(bitstamp, paths, BTC, strict=True)
    is_trade = (events["flags"] & KIND_MASK) == K_TRADE
    order_lines = len(set(events["seq"][~is_trade].tolist()))
    headers = 2
    assert order_lines + int(is_trade.sum()) + report.skipped_total + headers == report.lines

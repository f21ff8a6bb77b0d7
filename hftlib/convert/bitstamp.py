"""Bitstamp ``live_orders`` + ``live_trades`` captures (ob-analytics CSV layout) -> L3 events.

Input
-----
``paths = [orders.csv(.gz), trades.csv(.gz)]``, both with a header line:

* orders: ``id, timestamp, exchange_timestamp, price, volume, action, direction`` with local
  and exchange times in ms, ``volume`` the order's remaining BTC, ``action`` one of
  ``created|changed|deleted`` and ``direction`` ``bid|ask``;
* trades: ``trade_id, timestamp, exchange_timestamp, price, amount, buy_order_id,
  sell_order_id, side`` (``side`` = the aggressor, ``buy|sell``).

A ``meta.json`` beside the orders file (ob-analytics writes one) is read for the number of
synthetic rows and the pair name.

How Bitstamp sequences a match (measured on the 2026-05-02 capture: all 284 trades)
-----------------------------------------------------------------------------------
An aggressive order is first published as ``created`` at its limit price (instant orders
at 999999999 with volume 0), so the book is briefly crossed. Each match then produces, on
the orders channel, one row for the taker (``changed`` with the remaining volume and, as
its price, the *execution* price; ``deleted`` with volume 0 when nothing remains) followed
by one row for the maker (same convention), both stamped with the trade's exchange
timestamp. The trade itself arrives on the trades channel, whose latency differs: 188
trades arrived before the maker's row, 8 in the same ms and 88 after it (up to 42 ms later,
or 371 ms earlier). An IOC remainder is removed by a plain ``deleted`` at the limit price.
Bitstamp never publishes an order's price change: a replaced order is ``deleted`` with the
*replacement's* price (2,043 times here, each with a ``created`` at that price in the same
ms), so the resting price is the one it was created at.

Rule: a ``changed``/``deleted`` row is a fill when a trade names its id (as maker or taker)
with the same exchange timestamp and that trade is not yet taken by an earlier row of the
same order; rows and trades of one (order, exchange ms) pair are paired in file order.
The trades file is read whole first for this (it is ~1000 times smaller than the orders).

Output
------
* ``created`` -> ``K_L3_ADD`` (qty = volume).
* a fill row -> ``K_L3_FILL`` (px = trade price, qty = trade amount, aux = trade id). If the
  venue's remaining then differs from ours (only Bitstamp's volume-0 instant orders do
  that), a ``deleted`` also emits ``K_L3_CANCEL`` of what is left and a ``changed`` emits
  ``K_L3_MODIFY`` to the venue's remaining; an order our book has emptied is dropped from
  it (as :class:`hftlib.refbook.L3Book` does), so its later rows reference an unknown id.
* other ``changed`` -> ``K_L3_MODIFY`` (px, qty = the new price and remaining).
* other ``deleted`` -> ``K_L3_CANCEL`` with the *resting* price and qty = the remaining we
  hold (the venue's delete price is the replacement's, see above).
* trades -> ``K_TRADE`` (order_id = maker id, aux = taker id, side flag = aggressor,
  seq = trade id).
* Rows for an id that was never created (the capture missed its ``created``) are emitted
  as they are (``K_L3_CANCEL``/``K_L3_MODIFY``/``K_L3_FILL`` with the row's price, side and
  volume) and counted.

Order rows have ``seq`` = their line number in the orders file; each is one message
(``F_LAST``). ob-analytics' synthetic rows are flagged ``F_SYNTHETIC`` as ``meta.json``
declares them: the first ``synthetic_created`` rows (the start-of-capture book, built from
the REST book; they must be ``created`` rows sharing one timestamp pair) and the last
``synthetic_deleted`` rows (the end deletes; they must be ``deleted`` rows whose local and
exchange times are equal, which live rows never are). Without ``meta.json`` no row is
flagged (counted as ``"no meta.json: no row flagged synthetic"``); a ``meta.json`` that does
not fit the file is rejected and its block is not flagged. The start book becomes one
message: a whole-book ``K_CLEAR`` then the adds, with ``seq`` 0. Its rows keep the
snapshot's exchange time, but their local time is lowered to the first live row's (the
recorder received the REST book after it had started buffering the live rows that apply on
top of it), so the stream stays in local-time order.

Merge: order rows keep their file order; each trade goes before the first order row whose
local time is later than the trade's and, at equal local time (ms), before the order rows
(a trade is the cause of its fill rows). Times are made non-decreasing with a running
maximum for this placement only; the rows keep their own timestamps.

Rejected (``report.reject``): malformed lines, unknown actions/directions/sides, negative
or off-grid prices and sizes, a ``created`` for an id that is resting, non-increasing trade
ids, a ``meta.json`` that contradicts the orders file. Counted in ``report.counts``: see
:data:`COUNTER_NAMES` and ``"trade without a maker fill row"`` / ``"... taker fill row"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import orjson
from numba import types as nbt

from hftlib.convert.base import DEFAULT_CHUNK_ROWS, ConvertReport
from hftlib.convert.bitstamp_input import (
    CHANGED,
    CREATED,
    DELETED,
    Grids,
    OrderRow,
    Trades,
    columns,
    order_batches,
    read_meta,
    read_trades,
)
from hftlib.convert.rows import ChunkQueue, pack_events
from hftlib.instrument import Instrument
from hftlib.types import (
    F_ASK,
    F_BID,
    F_LAST,
    F_SYNTHETIC,
    K_CLEAR,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    NO_ID,
    NO_PX,
)

FORMAT_HELP = """\
Bitstamp live_orders + live_trades capture in ob-analytics' CSV layout: the orders file
(id,timestamp,exchange_timestamp,price,volume,action,direction) then the trades file
(trade_id,timestamp,exchange_timestamp,price,amount,buy_order_id,sell_order_id,side).
Order rows become L3 add / modify / cancel, or fills when a trade caused them.
Example: hft data convert bitstamp orders.csv.gz trades.csv -o btcusd.npy"""

_BAD_DUPLICATE = 1

COUNTER_NAMES = (
    "instant order created with volume 0",
    "fill: venue remaining differs from ours",
    "fill: leftover cancelled on delete",
    "fill: order emptied while the venue still lists it",
    "fill on an unknown id",
    "delete price differs from the resting price (replace)",
    "delete volume differs from remaining",
    "modify of an unknown id",
    "delete of an unknown id",
    "side differs from the resting order",
    "maker fill rows",
    "taker fill rows",
)
"""Names of the kernel's counters, as they appear in ``report.counts``."""
(
    _C_ZERO_CREATE,
    _C_FILL_DIFF,
    _C_LEFTOVER,
    _C_EMPTIED,
    _C_UNKNOWN_FILL,
    _C_DEL_PX,
    _C_DEL_VOL,
    _C_UNKNOWN_MOD,
    _C_UNKNOWN_DEL,
    _C_SIDE,
    _C_MAKER_FILLS,
    _C_TAKER_FILLS,
) = range(len(COUNTER_NAMES))


def detect_instrument(paths: Sequence[str | Path]) -> tuple[str, str] | None:
    """Return ``("bitstamp", PAIR)`` from the ``meta.json`` beside the orders file, or None."""
    if not paths:
        return None
    meta = Path(paths[0]).parent / "meta.json"
    try:
        pair = orjson.loads(meta.read_bytes()).get("pair")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return ("bitstamp", pair.upper()) if isinstance(pair, str) and pair else None


def split_paths(paths: Sequence[str | Path]) -> tuple[Path, Path]:
    """Return ``(orders_file, trades_file)``; raise ``ValueError`` for anything else."""
    if len(paths) != 2:
        raise ValueError(f"bitstamp takes [orders_file, trades_file], got {len(paths)} paths")
    orders, trades = Path(paths[0]), Path(paths[1])
    if "trade" in orders.name and "trade" not in trades.name:
        raise ValueError(f"{orders.name} looks like the trades file; give the orders file first")
    return orders, trades


# --- the per-row state machine -------------------------------------------------------------


def new_order_state() -> numba.typed.Dict:
    """Return an empty order map ``id -> (direction, px, remaining)``."""
    return numba.typed.Dict.empty(
        key_type=nbt.int64,
        value_type=nbt.UniTuple(nbt.int64, 3),  # type: ignore[no-untyped-call]
    )


_ID_MS = nbt.UniTuple(nbt.int64, 2)  # type: ignore[no-untyped-call]
"""Numba type of an ``(order id, exchange ms)`` key."""


@numba.njit(cache=True)
def _build_trade_index(maker: np.ndarray, taker: np.ndarray, exch: np.ndarray) -> Any:
    """Return ``(heads, next)``: per (order id, exchange ms) the chain of trade nodes.

    Node ``2 t`` is trade ``t``'s maker side, ``2 t + 1`` its taker side; chains follow the
    trade file order.
    """
    heads = numba.typed.Dict.empty(key_type=_ID_MS, value_type=nbt.int64)
    tails = numba.typed.Dict.empty(key_type=_ID_MS, value_type=nbt.int64)
    nxt = np.full(2 * len(maker), -1, dtype=np.int64)
    for t in range(len(maker)):
        for node, oid in ((2 * t, maker[t]), (2 * t + 1, taker[t])):
            key = (oid, exch[t])
            if key in tails:
                nxt[tails[key]] = node
            else:
                heads[key] = node
            tails[key] = node
    return heads, nxt


@numba.njit(cache=True)
def _emit(
    oid: np.ndarray,
    local_ms: np.ndarray,
    exch_ms: np.ndarray,
    px: np.ndarray,
    qty: np.ndarray,
    action: np.ndarray,
    side: np.ndarray,
    line: np.ndarray,
    synth: np.ndarray,
    orders: Any,
    heads: Any,
    nxt: np.ndarray,
    t_px: np.ndarray,
    t_qty: np.ndarray,
    t_id: np.ndarray,
    used: np.ndarray,
    out: np.ndarray,
    counters: np.ndarray,
    bad: np.ndarray,
) -> int:
    """Turn one batch of order rows into event rows; return the number of rows written.

    ``out`` is a (8, 2n) int64 matrix: flags, exch_ts, local_ts, px, qty, order_id, seq, aux.
    """
    k = 0
    for i in range(len(oid)):
        o = oid[i]
        sflag = F_BID if side[i] == 1 else F_ASK
        base = F_SYNTHETIC if synth[i] else 0
        ex, lo = exch_ms[i] * 1_000_000, local_ms[i] * 1_000_000
        if action[i] == CREATED:
            if o in orders:
                bad[i] = _BAD_DUPLICATE
                continue
            if qty[i] == 0:
                counters[_C_ZERO_CREATE] += 1
            orders[o] = (side[i], px[i], qty[i])
            k = _row(
                out, k, K_L3_ADD | sflag | base | F_LAST, ex, lo, px[i], qty[i], o, line[i], NO_ID
            )
            continue
        node = -1
        key = (o, exch_ms[i])
        if not synth[i] and key in heads:
            node = heads[key]
            if nxt[node] >= 0:
                heads[key] = nxt[node]
            else:
                del heads[key]
            used[node] = 1
        known = o in orders
        d, p, rem = orders[o] if known else (side[i], px[i], qty[i])
        if known and d != side[i]:
            counters[_C_SIDE] += 1
        dflag = F_BID if d == 1 else F_ASK
        if node >= 0:
            t = node // 2
            counters[_C_MAKER_FILLS if node % 2 == 0 else _C_TAKER_FILLS] += 1
            k = _row(
                out, k, K_L3_FILL | dflag | F_LAST, ex, lo, t_px[t], t_qty[t], o, line[i], t_id[t]
            )
            if not known:
                counters[_C_UNKNOWN_FILL] += 1
                continue
            after = rem - t_qty[t]
            venue = qty[i] if action[i] == CHANGED else 0
            if after != venue:
                counters[_C_FILL_DIFF] += 1
            if action[i] == DELETED:
                del orders[o]
                if after > 0:
                    counters[_C_LEFTOVER] += 1
                    out[0, k - 1] &= ~F_LAST
                    k = _row(
                        out, k, K_L3_CANCEL | dflag | F_LAST, ex, lo, p, after, o, line[i], NO_ID
                    )
            elif after <= 0:
                del orders[o]
                if venue > 0:
                    counters[_C_EMPTIED] += 1
            elif venue != after:
                orders[o] = (d, p, venue)
                out[0, k - 1] &= ~F_LAST
                k = _row(out, k, K_L3_MODIFY | dflag | F_LAST, ex, lo, p, venue, o, line[i], NO_ID)
            else:
                orders[o] = (d, p, after)
            continue
        if action[i] == CHANGED:
            if known:
                if qty[i] > 0:
                    orders[o] = (d, px[i], qty[i])
                else:
                    del orders[o]
            else:
                counters[_C_UNKNOWN_MOD] += 1
            k = _row(
                out,
                k,
                K_L3_MODIFY | dflag | base | F_LAST,
                ex,
                lo,
                px[i],
                qty[i],
                o,
                line[i],
                NO_ID,
            )
            continue
        if known:
            del orders[o]
            if px[i] != p:
                counters[_C_DEL_PX] += 1
            if qty[i] != rem:
                counters[_C_DEL_VOL] += 1
        else:
            counters[_C_UNKNOWN_DEL] += 1
        k = _row(out, k, K_L3_CANCEL | dflag | base | F_LAST, ex, lo, p, rem, o, line[i], NO_ID)
    return k


@numba.njit(cache=True, inline="always")
def _row(
    out: np.ndarray,
    k: int,
    flags: int,
    exch: int,
    local: int,
    px: int,
    qty: int,
    oid: int,
    seq: int,
    aux: int,
) -> int:
    out[0, k] = flags
    out[1, k] = exch
    out[2, k] = local
    out[3, k] = px
    out[4, k] = qty
    out[5, k] = oid
    out[6, k] = seq
    out[7, k] = aux
    return k + 1


# --- merge and entry point -----------------------------------------------------------------


class _Converter:
    """Runs the kernel batch by batch and merges the trades in by local time."""

    def __init__(self, orders_path: Path, trades: Trades, report: ConvertReport) -> None:
        self.path = orders_path
        self.trades = trades
        self.trade_events = trades.events()
        self.trade_keys = (
            np.maximum.accumulate(self.trade_events["local_ts"])
            if len(trades)
            else np.empty(0, dtype=np.int64)
        )
        self.next_trade = 0
        self.report = report
        self.orders = new_order_state()
        self.heads, self.nxt = _build_trade_index(trades.maker, trades.taker, trades.exch_ms)
        self.used = np.zeros(2 * len(trades), dtype=np.int8)
        self.counters = np.zeros(len(COUNTER_NAMES), dtype=np.int64)
        self.running_max = np.iinfo(np.int64).min

    def batch(self, rows: list[OrderRow], start: int, end: int, last: bool) -> np.ndarray:
        """Return the merged events of one batch of order rows."""
        oid, local_ms, exch_ms, px, qty, action, side, line = columns(rows)
        synth = np.zeros(len(oid), dtype=np.bool_)
        synth[:start] = True
        if end:
            synth[len(oid) - end :] = True
        out = np.empty((8, 2 * len(oid)), dtype=np.int64)
        bad = np.zeros(len(oid), dtype=np.int8)
        t = self.trades
        k = _emit(
            oid,
            local_ms,
            exch_ms,
            px,
            qty,
            action,
            side,
            line,
            synth,
            self.orders,
            self.heads,
            self.nxt,
            t.px,
            t.qty,
            t.trade_id,
            self.used,
            out,
            self.counters,
            bad,
        )
        for i in np.flatnonzero(bad):
            self.report.reject(
                self.path,
                int(line[i]),
                f"order id {int(oid[i])} is already resting",
                category="duplicate order id",
            )
        o = out[:, :k]
        events = pack_events(o[0].astype(np.uint32), o[1], o[2], o[3], o[4], o[5], o[6], o[7])
        lead = 0
        if start:
            events, lead = self._start_book(events, start - int(np.count_nonzero(bad[:start])))
        return self._merge(events, lead, last)

    def _start_book(self, events: np.ndarray, n: int) -> tuple[np.ndarray, int]:
        """Make the first ``n`` rows one synthetic message led by a whole-book clear."""
        if n == 0:
            return events, 0
        book = events[:n]
        later = [events["local_ts"][n : n + 1], self.trade_events["local_ts"]]
        floor = min([int(book["local_ts"].min())] + [int(a.min()) for a in later if len(a)])
        book["local_ts"] = np.minimum(book["local_ts"], floor)
        book["flags"] &= ~np.uint32(F_LAST)
        book["flags"][-1] |= F_LAST
        book["seq"] = 0
        stamp = book[:1]
        clear = pack_events(
            np.array([K_CLEAR | F_BID | F_ASK | F_SYNTHETIC], dtype=np.uint32),
            stamp["exch_ts"],
            np.minimum(stamp["local_ts"], floor),
            np.array([NO_PX]),
            np.zeros(1, dtype=np.int64),
            np.array([NO_ID]),
            np.zeros(1, dtype=np.int64),
            np.array([NO_ID]),
        )
        return np.concatenate([clear, events]), n + 1

    def _merge(self, events: np.ndarray, lead: int, last: bool) -> np.ndarray:
        """Insert the trades due before the end of ``events`` (all of them when ``last``)."""
        keys = (
            np.maximum.accumulate(np.maximum(events["local_ts"], self.running_max))
            if len(events)
            else np.empty(0, dtype=np.int64)
        )
        if len(keys):
            self.running_max = int(keys[-1])
        lo = self.next_trade
        hi = (
            len(self.trade_keys)
            if last
            else int(np.searchsorted(self.trade_keys, self.running_max, side="right"))
        )
        self.next_trade = hi
        if hi == lo:
            return events
        pos = np.searchsorted(keys, self.trade_keys[lo:hi], side="left")
        pos = np.maximum(pos, lead) + np.arange(hi - lo)
        merged = np.empty(len(events) + hi - lo, dtype=events.dtype)
        is_trade = np.zeros(len(merged), dtype=np.bool_)
        is_trade[pos] = True
        merged[is_trade] = self.trade_events[lo:hi]
        merged[~is_trade] = events
        return merged

    def finish(self) -> None:
        """Move the kernel's counters into the report."""
        counts = self.report.counts
        for name, value in zip(COUNTER_NAMES, self.counters, strict=True):
            if value:
                counts[name] += int(value)
        if len(self.used):
            maker_missing = int(np.count_nonzero(self.used[0::2] == 0))
            taker_missing = int(np.count_nonzero(self.used[1::2] == 0))
            if maker_missing:
                counts["trade without a maker fill row"] += maker_missing
            if taker_missing:
                counts["trade without a taker fill row"] += taker_missing
        if len(self.orders):
            counts["orders resting at end"] += len(self.orders)


def convert(
    paths: Sequence[str | Path],
    instrument: Instrument,
    report: ConvertReport,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """Yield event chunks for a Bitstamp orders + trades capture (see the module docstring).

    Parameters
    ----------
    paths : sequence of path
        ``[orders_file, trades_file]``.
    instrument : Instrument
        Tick and lot size (Bitstamp BTC/USD: 1 USD and 1e-8 BTC).
    report : ConvertReport
        Receives rejections and counts.
    chunk_rows : int
        Maximum rows per yielded chunk.
    """
    orders_path, trades_path = split_paths(paths)
    grids = Grids.for_instrument(instrument)
    meta = read_meta(orders_path, report)
    trades = read_trades(trades_path, grids, report)
    conv = _Converter(orders_path, trades, report)
    queue = ChunkQueue(chunk_rows)
    pending: tuple[list[OrderRow], int, int] | None = None
    for batch in order_batches(orders_path, grids, meta, report):
        if pending is not None:
            yield from _counted(queue.push(conv.batch(*pending, last=False)), report)
        pending = batch
    if pending is not None:
        yield from _counted(queue.push(conv.batch(*pending, last=True)), report)
    else:
        yield from _counted(queue.push(conv._merge(conv.trade_events[:0], 0, last=True)), report)
    yield from _counted(queue.flush(), report)
    conv.finish()


def _counted(chunks: Iterator[np.ndarray], report: ConvertReport) -> Iterator[np.ndarray]:
    for chunk in chunks:
        report.events += len(chunk)
        yield chunk

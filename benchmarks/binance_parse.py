"""Benchmark: Binance depth messages parsed per second, hftlib vs ccxt, same messages.

The messages are every depth diff of the real captures ``binance-l2-hftbacktest``
``spot/btcusdt_20240808.gz`` and ``usdm/btcusdt_20240808.gz`` (about 6,500 each), held in
memory as the bytes a socket delivers (the combined-stream envelope). Each side starts from
the file's REST snapshot and then takes every diff in order.

What is compared
----------------
ccxt (``ccxt.pro.binance``, the ``bench`` extra) parses a depth message as its WebSocket
client does: ``orjson.loads`` on the frame, then ``handle_order_book_message`` on the
envelope's ``data``, which turns each ``[price, size]`` string pair into floats and stores it
in its ``OrderBook`` sides. ccxt has no parse-only path for a stream diff, so its figure
includes that store.

hftlib is timed twice:

``parse``
    ``parse_frame`` + ``decode_depth`` + ``depth_rows``: bytes to checked event rows (prices
    in ticks, sizes in lots, off-grid refused).
``parse_book``
    the same plus ``BookKeeper.on_diff`` (update-id rules and the keeper's sorted levels):
    the like-for-like counterpart of ccxt's parse-and-store, and the figure the ratio uses.

Each timed run parses every message of both files once; the figure is the median of
``--runs`` runs (after one warm-up run each). End-state check: every side ends with the same
best bid and ask (hftlib's keeper vs ccxt's book, converted to ticks).

Run: ``python benchmarks/binance_parse.py [--runs 7] [--json]``; the last stdout line is one
JSON object with ``ours_msgs_per_s``, ``ours_parse_only_msgs_per_s``, ``ccxt_msgs_per_s``,
``ratio`` (ours / ccxt) and ``ccxt_version``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from hftlib.venues.binance import parse as p
from hftlib.venues.binance.book import BookKeeper
from hftlib.venues.binance.decoding import market_of

from hftlib.instrument import Instrument, lookup_instrument

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HFTLIB_SHARED_DATA", REPO.parent / "shared" / "data"))
CAPTURES = (
    ("binance", "spot/btcusdt_20240808.gz"),
    ("binance-futures", "usdm/btcusdt_20240808.gz"),
)


class Capture:
    """One file's snapshot and depth frames, in memory."""

    def __init__(self, venue: str, path: Path) -> None:
        self.instrument: Instrument = lookup_instrument(venue, "BTCUSDT")
        self.snapshot = b""
        self.frames: list[tuple[int, bytes]] = []
        with gzip.open(path, "rb") as f:
            for line in f:
                stamp, _, raw = line.rstrip(b"\n").partition(b" ")
                if raw.startswith(b'{"lastUpdateId"'):
                    self.snapshot = raw
                elif b"@depth" in raw[:40]:
                    self.frames.append((int(stamp), raw))


def run_ours(capture: Capture, with_book: bool) -> tuple[float, Any]:
    market = market_of(capture.instrument)
    ins = capture.instrument
    keeper = BookKeeper(ins)
    first_local = capture.frames[0][0]
    parse_frame, decode_depth, depth_rows = p.parse_frame, p.decode_depth, p.depth_rows
    gc.collect()
    if with_book:
        # the snapshot comes first so that every timed diff is applied, as for ccxt
        keeper.on_diff(decode_depth(parse_frame(capture.frames[0][1], market).data, market), 0)
        keeper.on_snapshot(p.decode_snapshot(capture.snapshot, market), first_local)
        on_diff = keeper.on_diff
        start = time.perf_counter()
        for local, raw in capture.frames:
            on_diff(decode_depth(parse_frame(raw, market).data, market), local)
        elapsed = time.perf_counter() - start
        return elapsed, (keeper.best_bid(), keeper.best_ask())
    start = time.perf_counter()
    for local, raw in capture.frames:
        depth_rows(decode_depth(parse_frame(raw, market).data, market), ins, local)
    return time.perf_counter() - start, None


def run_ccxt(capture: Capture, exchange: Any) -> tuple[float, Any]:
    snap = orjson.loads(capture.snapshot)
    book = exchange.order_book({})
    book.reset(exchange.parse_order_book(snap, "BTC/USDT", None, "bids", "asks"))
    handle = exchange.handle_order_book_message
    loads = orjson.loads
    gc.collect()
    start = time.perf_counter()
    for _, raw in capture.frames:
        handle(None, loads(raw)["data"], book)
    elapsed = time.perf_counter() - start
    return elapsed, (book["bids"][0], book["asks"][0])


def _ticks(level: list[float], ins: Instrument) -> tuple[int, int]:
    return (round(level[0] / ins.tick_size), round(level[1] / ins.lot_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    import ccxt
    import ccxt.pro

    captures = [Capture(v, SHARED_DATA / "binance-l2-hftbacktest" / f) for v, f in CAPTURES]
    messages = sum(len(c.frames) for c in captures)
    exchange = ccxt.pro.binance()
    try:
        results: dict[str, list[float]] = {"ours": [], "ours_parse": [], "ccxt": []}
        for run in range(args.runs + 1):
            totals = dict.fromkeys(results, 0.0)
            for capture in captures:
                elapsed, ours_top = run_ours(capture, with_book=True)
                totals["ours"] += elapsed
                totals["ours_parse"] += run_ours(capture, with_book=False)[0]
                elapsed, ccxt_top = run_ccxt(capture, exchange)
                totals["ccxt"] += elapsed
                ins = capture.instrument
                assert ours_top == (_ticks(ccxt_top[0], ins), _ticks(ccxt_top[1], ins)), (
                    ours_top,
                    ccxt_top,
                )
            if run:  # run 0 warms up
                for key, value in totals.items():
                    results[key].append(value)
            print(f"run {run}: " + ", ".join(f"{k} {v:.3f}s" for k, v in totals.items()),
                  file=sys.stderr)  # fmt: skip
    finally:
        asyncio.run(exchange.close())
    rate = {k: messages / statistics.median(v) for k, v in results.items()}
    out = {
        "messages": messages,
        "runs": args.runs,
        "ours_msgs_per_s": round(rate["ours"]),
        "ours_parse_only_msgs_per_s": round(rate["ours_parse"]),
        "ccxt_msgs_per_s": round(rate["ccxt"]),
        "ratio": round(rate["ours"] / rate["ccxt"], 2),
        "ratio_parse_only": round(rate["ours_parse"] / rate["ccxt"], 2),
        "ccxt_version": ccxt.__version__,
    }
    if not args.json:
        for key, value in out.items():
            print(f"{key:28s} {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

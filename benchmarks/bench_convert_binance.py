"""Benchmark: convert one Binance USD-M capture with hftlib and with hftbacktest 2.4.4.

Both converters read the same file in the same process, one run each, alternating which goes
first, after one warm-up run each (which also compiles hftbacktest's numba post-processing;
that compile time is reported separately). The figure is the median of ``--runs`` timed runs.

What is compared
----------------
hftbacktest's ``hftbacktest.data.utils.binancefutures.convert(path, opt="t")`` parses every
depth diff, trade, bookTicker (``opt="t"``; events 103/104) and the snapshot (one per-side
clear plus the levels) into its event array, then corrects latency and event order with numba
(rows that are out of order get a second copy, one per timeline). Its *rows* here are the
source events (rows with ``EXCH_EVENT``), so duplicated rows do not flatter it; its wall time
includes the numba post-processing, which is also timed on its own for reference.

hftlib's ``hftlib.convert.binance_ws.convert`` does the official book sync instead of emitting
every diff: diffs that predate the snapshot are dropped (counted as
``depthUpdate.discarded_levels``), the snapshot starts with one whole-book clear instead of two
per-side clears, and trades, bookTicker and snapshot levels map one to one. The end-state check
asserts exactly that relation.

Run: ``python benchmarks/bench_convert_binance.py [--runs 5] [--json]``. The data folder is
``../shared/data`` beside the repository unless ``HFTLIB_SHARED_DATA`` says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hftlib.convert import binance_ws
from hftlib.convert.base import ConvertReport
from hftlib.instrument import lookup_instrument
from hftlib.types import K_BBO, K_CLEAR, K_DEPTH, K_SNAPSHOT, K_TRADE, KIND_MASK

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HFTLIB_SHARED_DATA", REPO.parent / "shared" / "data"))
INPUT = SHARED_DATA / "binance-l2-hftbacktest" / "usdm" / "btcusdt_20240808.gz"
HBT_BUFFER_ROWS = 5_000_000  # hftbacktest preallocates its output; 100M rows by default

# hftbacktest event kinds (hftbacktest.types): depth, trade, clear, snapshot, bookTicker bid/ask.
HBT_DEPTH, HBT_TRADE, HBT_CLEAR, HBT_SNAPSHOT, HBT_BID, HBT_ASK = 1, 2, 3, 4, 103, 104


def run_ours(path: Path) -> tuple[Timing, dict[str, int], ConvertReport]:
    """Convert ``path`` with hftlib; return wall/CPU seconds, rows per kind and the report."""
    instrument = lookup_instrument("binance-futures", "BTCUSDT")
    report = ConvertReport("binance", [str(path)])
    gc.collect()
    start = _clocks()
    events = np.concatenate(list(binance_ws.convert([path], instrument, report)))
    elapsed = _since(start)
    kinds = np.bincount(events["flags"] & KIND_MASK, minlength=16)
    names = {
        K_DEPTH: "depth",
        K_TRADE: "trade",
        K_SNAPSHOT: "snapshot",
        K_CLEAR: "clear",
        K_BBO: "bbo",
    }
    rows = {name: int(kinds[k]) for k, name in names.items()}
    rows["total"] = len(events)
    return elapsed, rows, report


def run_theirs(path: Path, opt: str) -> tuple[Timing, dict[str, int], np.ndarray]:
    """Convert ``path`` with hftbacktest; return wall/CPU seconds, source rows, its output."""
    from hftbacktest.data.utils import binancefutures
    from hftbacktest.types import EXCH_EVENT

    gc.collect()
    start = _clocks()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress steps
        out = binancefutures.convert(str(path), opt=opt, buffer_size=HBT_BUFFER_ROWS)
    elapsed = _since(start)
    ev = out["ev"]
    source = (ev & EXCH_EVENT) != 0  # each source event appears once on the exchange timeline
    kinds = np.bincount((ev[source] & 0xFF).astype(np.int64), minlength=256)
    rows = {
        "depth": int(kinds[HBT_DEPTH]),
        "trade": int(kinds[HBT_TRADE]),
        "snapshot": int(kinds[HBT_SNAPSHOT]),
        "clear": int(kinds[HBT_CLEAR]),
        "bbo": int(kinds[HBT_BID] + kinds[HBT_ASK]),
        "total": int(source.sum()),
        "output_rows": len(out),
    }
    return elapsed, rows, out


Timing = tuple[float, float]
"""Wall-clock and process CPU seconds."""


def _clocks() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def time_their_postprocessing(out: np.ndarray) -> float:
    """Time hftbacktest's numba latency/order correction on a raw-like copy of its output."""
    from hftbacktest.data import correct_event_order, correct_local_timestamp, validate_event_order
    from hftbacktest.types import EXCH_EVENT, LOCAL_EVENT

    raw = out[(out["ev"] & EXCH_EVENT) != 0].copy()
    raw = raw[np.argsort(raw["local_ts"], kind="stable")]
    raw["ev"] &= ~np.uint64(EXCH_EVENT | LOCAL_EVENT)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        fixed = correct_local_timestamp(raw, 0)
        data = correct_event_order(
            fixed,
            np.argsort(fixed["exch_ts"], kind="mergesort"),
            np.argsort(fixed["local_ts"], kind="mergesort"),
        )
        validate_event_order(data)
    return time.perf_counter() - start


def check_end_state(
    ours: dict[str, int], report: ConvertReport, theirs: dict[str, int], opt: str
) -> list[str]:
    """Assert both outputs hold the same source content; return the explained differences."""
    counts = report.counts
    assert ours["total"] > 0, ours
    assert theirs["total"] > 0, theirs
    assert report.gaps == 0, report.to_dict()
    assert report.skipped_total == 0, report.to_dict()
    discarded = counts["depthUpdate.discarded_levels"]
    assert ours["depth"] + discarded == theirs["depth"], (ours, discarded, theirs)
    assert ours["trade"] == theirs["trade"], (ours, theirs)
    assert ours["snapshot"] == theirs["snapshot"], (ours, theirs)
    assert ours["clear"] == 1, ours
    assert theirs["clear"] == 2, theirs
    if "t" in opt:
        assert ours["bbo"] == theirs["bbo"], (ours, theirs)
    return [
        f"depth: ours {ours['depth']:,} + {discarded:,} levels of "
        f"{counts['depthUpdate.discarded']} diffs older than the snapshot (dropped by the book "
        f"sync, emitted by hftbacktest) = theirs {theirs['depth']:,}",
        "clear: ours 1 whole-book clear, theirs 2 per-side clears",
        f"trade, snapshot{', bbo' if 't' in opt else ''}: identical counts",
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the result and return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--input", type=Path, default=INPUT, help="USD-M capture to convert")
    parser.add_argument(
        "--hbt-opt",
        default="t",
        choices=["", "t"],
        help="hftbacktest opt: 't' also converts bookTicker, as hftlib does",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not args.input.is_file():
        sys.exit(f"input not found: {args.input} (set HFTLIB_SHARED_DATA)")

    warm_ours, _, _ = run_ours(args.input)  # loads (or compiles) the lane's numba kernel
    warm_theirs, _, _ = run_theirs(args.input, args.hbt_opt)  # compiles hftbacktest's numba
    times: dict[str, list[Timing]] = {"ours": [], "theirs": []}
    for i in range(args.runs):
        for who in ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours"):
            if who == "ours":
                t, rows_ours, report = run_ours(args.input)
            else:
                t, rows_theirs, out = run_theirs(args.input, args.hbt_opt)
            times[who].append(t)
    post = time_their_postprocessing(out)
    notes = check_end_state(rows_ours, report, rows_theirs, args.hbt_opt)

    def summary(who: str, rows: dict[str, int]) -> dict[str, Any]:
        wall = statistics.median(t[0] for t in times[who])
        cpu = statistics.median(t[1] for t in times[who])
        return {
            "rows": rows,
            "median_s": wall,
            "median_cpu_s": cpu,
            "times_s": [t[0] for t in times[who]],
            "rows_per_s": rows["total"] / wall,
            "rows_per_cpu_s": rows["total"] / cpu,
        }

    ours, theirs = summary("ours", rows_ours), summary("theirs", rows_theirs)
    result = {
        "input": str(args.input),
        "runs": args.runs,
        "hftlib": {**ours, "first_run_s": warm_ours[0]},
        "hftbacktest": {
            **theirs,
            "version": "2.4.4",
            "opt": args.hbt_opt,
            "first_run_with_jit_s": warm_theirs[0],
            "postprocess_s": post,
        },
        "speedup_rows_per_s": ours["rows_per_s"] / theirs["rows_per_s"],
        "speedup_rows_per_cpu_s": ours["rows_per_cpu_s"] / theirs["rows_per_cpu_s"],
        "end_state": notes,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"input {args.input.name}, median of {args.runs} runs (wall / CPU)")
        for name, r in (("hftlib", ours), ("hftbacktest", theirs)):
            print(
                f"  {name:<12} {r['rows']['total']:>9,} rows  {r['median_s']:6.3f} s / "
                f"{r['median_cpu_s']:6.3f} s  {r['rows_per_s']:>10,.0f} rows/s"
            )
        print(
            f"  hftbacktest opt={args.hbt_opt!r}: numba post-processing {post:.3f} s of its time; "
            f"first runs: hftlib {warm_ours[0]:.2f} s, hftbacktest with JIT {warm_theirs[0]:.2f} s"
        )
        print(
            f"  ratio        {result['speedup_rows_per_s']:.2f}x rows/s (wall), "
            f"{result['speedup_rows_per_cpu_s']:.2f}x rows per CPU second"
        )
        for note in notes:
            print(f"  {note}")
    return result


if __name__ == "__main__":
    main()

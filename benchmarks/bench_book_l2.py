"""Micro-benchmark: ns per ``l2_set`` on a random-walk book (plain script, not a test).

The update stream is made up front with a seeded numpy generator: the mid walks by one
tick with probability ``--walk`` per update; each update picks a side, a distance from the
touch (geometric, mean ~3 ticks) and either a new size (80 %) or a delete (20 %). One njit
loop applies them all with :func:`hftlib.book.l2.l2_set`; a second loop only reads the same
arrays, and its time is reported too (the floor of the measurement). The figure is the
best of ``--runs`` timed runs after one warm-up run.

Run: ``python benchmarks/bench_book_l2.py [--n 10000000] [--runs 3] [--window 65536]``.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from hftlib.book.l2 import M_DROPPED, M_RECENTERS, L2Book, l2_best, l2_set, new_l2


def make_updates(n: int, walk: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(side, tick, qty)`` arrays of ``n`` updates around a random-walk mid."""
    rng = np.random.Generator(np.random.PCG64(seed))
    steps = np.where(rng.random(n) < walk, rng.choice(np.array([-1, 1]), n), 0)
    mid = 1_000_000_000 + np.cumsum(steps)
    side = rng.integers(0, 2, n)
    dist = rng.geometric(0.3, n) - 1
    tick = np.where(side == 0, mid - 1 - dist, mid + dist)
    qty = np.where(rng.random(n) < 0.2, 0, rng.integers(1, 10_000, n))
    return side.astype(np.int64), tick.astype(np.int64), qty.astype(np.int64)


@numba.njit(cache=True)
def apply_all(book: L2Book, side: np.ndarray, tick: np.ndarray, qty: np.ndarray) -> int:
    """Apply every update to book 0; return a checksum of the best bids seen."""
    acc = 0
    for k in range(len(side)):
        l2_set(book, 0, side[k], tick[k], qty[k])
        acc += l2_best(book, 0, 0) & 0xFF
    return acc


apply_all_nonrt = numba.njit(cache=True, _nrt=False)(apply_all.py_func)
"""The same loop compiled without reference counting (see hftlib.book.l2's comment)."""


@numba.njit(cache=True)
def read_all(side: np.ndarray, tick: np.ndarray, qty: np.ndarray) -> int:
    """Read the same arrays without a book: the loop's floor."""
    acc = 0
    for k in range(len(side)):
        acc += (side[k] + tick[k] + qty[k]) & 0xFF
    return acc


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=1 << 16)
    parser.add_argument("--walk", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    side, tick, qty = make_updates(args.n, args.walk, args.seed)
    apply_all(new_l2(1, args.window), side[:1000], tick[:1000], qty[:1000])
    apply_all_nonrt(new_l2(1, args.window), side[:1000], tick[:1000], qty[:1000])
    read_all(side[:1000], tick[:1000], qty[:1000])
    best_set = best_nonrt = best_read = float("inf")
    book = new_l2(1, args.window)
    for _ in range(args.runs):
        book = new_l2(1, args.window)
        t0 = time.perf_counter()
        apply_all(book, side, tick, qty)
        best_set = min(best_set, time.perf_counter() - t0)
        check = book.meta.copy()
        book = new_l2(1, args.window)
        t0 = time.perf_counter()
        apply_all_nonrt(book, side, tick, qty)
        best_nonrt = min(best_nonrt, time.perf_counter() - t0)
        if not np.array_equal(check, book.meta):
            raise SystemExit("the two loops left different books")
        t0 = time.perf_counter()
        read_all(side, tick, qty)
        best_read = min(best_read, time.perf_counter() - t0)
    meta = book.meta[0]
    print(f"updates: {args.n:,}  window: {args.window}  mid range: {tick.min()}..{tick.max()}")
    print(f"l2_set: {best_set / args.n * 1e9:.2f} ns/update (best of {args.runs})")
    print(f"l2_set, caller without NRT: {best_nonrt / args.n * 1e9:.2f} ns/update")
    print(f"read-only loop: {best_read / args.n * 1e9:.2f} ns/update")
    print(f"recenters: {meta[M_RECENTERS]}  dropped: {meta[M_DROPPED]}")


if __name__ == "__main__":
    main()

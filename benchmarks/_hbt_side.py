"""The hftbacktest 2.4.4 side of ``vs_hftbacktest.py``: its data, its book types, its loops.

Nothing here imports hftbacktest at module level, so ``vs_hftbacktest.py`` can report a
missing hftbacktest clearly instead of failing at import.

What runs
---------
* **Data.** hftlib events (ticks, lots) become hftbacktest rows (``px = ticks * tick_size``,
  ``qty = lots * lot_size``) with :func:`to_hbt_events`; the real recording goes through
  hftbacktest's own ``binancefutures.convert``. Files are uncompressed ``.npz`` (``np.savez``),
  the cheapest format hftbacktest reads, so decompression does not slow it down.
* **Replay.** ``while hbt.elapse(step) == 0: pass`` with no orders.
* **Market making.** Every ``interval_ns``: cancel every cancellable order, drop inactive ones,
  then post one GTX bid at ``floor(mid - offset)`` and one GTX ask at ``ceil(mid + offset)``
  ticks, skipping a wake-up when a side of the local book is empty.

The njit loops cannot use ``cache=True``: they take hftbacktest's ctypes-backed objects, which
numba refuses to cache ("dynamic globals"). :func:`warm_up` compiles them on a small slice so
that timed runs exclude compile time.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_DEPTH,
    K_SNAPSHOT,
    K_TRADE,
    KIND_MASK,
    NO_PX,
)

BOOK_TYPES = ("hashmap", "roi_vector")
INVALID_MIN = np.iinfo(np.int64).min  # hftbacktest's best bid tick of an empty side
INVALID_MAX = np.iinfo(np.int64).max  # ... and best ask tick
CONVERT_BUFFER_ROWS = 5_000_000  # its converter preallocates 100 M rows (6.4 GB) by default

# hftbacktest event kinds and flags (hftbacktest.types), repeated so the module imports
# without hftbacktest.
HBT_DEPTH, HBT_TRADE, HBT_CLEAR, HBT_SNAPSHOT = 1, 2, 3, 4
HBT_EXCH, HBT_LOCAL, HBT_BUY, HBT_SELL = 1 << 31, 1 << 30, 1 << 29, 1 << 28
HBT_GTX, HBT_LIMIT = 1, 0  # hftbacktest.GTX, hftbacktest.LIMIT (checked in build())


@dataclass(frozen=True)
class Setup:
    """One backtest configuration, shared with the hftlib side.

    Parameters
    ----------
    tick_size, lot_size : float
        The instrument's grid.
    latency_ns : int
        Constant order entry and response latency, ns.
    maker_fee, taker_fee : float
        Fee rates on traded value (negative = rebate).
    interval_ns : int
        Market-making wake-up interval, ns.
    offset_ticks : int
        Quote distance from the mid, ticks.
    qty : float
        Quote size in base units.
    replay_step_ns : int
        ``elapse`` step of the replay loop, ns.
    first_wait_ns : int
        Length of the market-making loop's first ``elapse``, ns (0: one interval). It puts
        hftbacktest's wake-ups on the same instants as hftlib's (see :func:`start_ts`).
    """

    tick_size: float
    lot_size: float
    latency_ns: int = 2_000_000
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    interval_ns: int = 100_000_000
    offset_ticks: int = 2
    qty: float = 0.01
    replay_step_ns: int = 100_000_000
    first_wait_ns: int = 0


# --- data ------------------------------------------------------------------------------------


def to_hbt_events(events: np.ndarray, tick_size: float, lot_size: float) -> np.ndarray:
    """Return hftlib ``events`` as hftbacktest rows on both timelines (EXCH and LOCAL).

    Every row is valid for both processors, which needs ``exch_ts`` non-decreasing in
    ``local_ts`` order (true of the synthetic stream; the caller checks it).

    Raises
    ------
    ValueError
        On a kind hftbacktest's L2 backtest has no counterpart for (BBO, L3) or a one-sided
        clear (hftbacktest clears a side only "up to" a price).
    """
    from hftbacktest.types import event_dtype

    flags = events["flags"].astype(np.uint64)
    kind = flags & KIND_MASK
    bid = (flags & F_BID) != 0
    ask = (flags & F_ASK) != 0
    code = np.zeros(len(events), dtype=np.uint64)
    for ours, theirs in (
        (K_DEPTH, HBT_DEPTH),
        (K_TRADE, HBT_TRADE),
        (K_SNAPSHOT, HBT_SNAPSHOT),
        (K_CLEAR, HBT_CLEAR),
    ):
        code[kind == ours] = theirs
    unknown = code == 0
    if unknown.any():
        raise ValueError(
            f"{int(unknown.sum())} rows of kinds {np.unique(kind[unknown])} have no "
            "hftbacktest L2 counterpart"
        )
    clear = kind == K_CLEAR
    if (clear & (bid != ask)).any():
        raise ValueError("one-sided K_CLEAR rows cannot be expressed exactly in hftbacktest")
    # Depth/snapshot side is the book side, trade side the aggressor: the same in both.
    side = np.where(bid & ~ask, HBT_BUY, np.where(ask & ~bid, HBT_SELL, 0)).astype(np.uint64)
    out = np.zeros(len(events), dtype=event_dtype)
    out["ev"] = code | side | np.uint64(HBT_EXCH | HBT_LOCAL)
    out["exch_ts"] = events["exch_ts"]
    out["local_ts"] = events["local_ts"]
    px = events["px"]
    out["px"] = np.where(px == NO_PX, 0.0, px.astype(np.float64) * tick_size)
    out["qty"] = events["qty"].astype(np.float64) * lot_size
    return out


def convert_hftlib_file(src: Path, dst: Path, tick_size: float, lot_size: float) -> int:
    """Write the hftlib ``.npy`` event file ``src`` as an hftbacktest ``.npz``; return its rows.

    Top-of-book rows are dropped (neither venue matches against them). Rows keep both
    clocks; hftbacktest's own ``correct_event_order`` splits the rows whose
    exchange and receipt orders disagree into an exchange-side and a local-side event, as
    its converters do, so both engines replay identical events on identical clocks.
    """
    from hftbacktest.data.validation import correct_event_order, validate_event_order

    from hftlib.data.storage import iter_events
    from hftlib.types import K_BBO

    # neither venue matches against the top-of-book feed; hftbacktest has no such rows
    parts = [
        to_hbt_events(chunk[(chunk["flags"] & KIND_MASK) != K_BBO], tick_size, lot_size)
        for chunk in iter_events(src)
    ]
    data = np.concatenate(parts)
    del parts
    # a row stamped after its receipt happened, at the latest, when it was received: the
    # time both venues use for it (hftbacktest's own converter shifts such rows instead)
    data["exch_ts"] = np.minimum(data["exch_ts"], data["local_ts"])
    data["ev"] &= ~np.uint64(HBT_EXCH | HBT_LOCAL)  # correct_event_order sets them per copy
    data = correct_event_order(
        data,
        np.argsort(data["exch_ts"], kind="mergesort"),
        np.argsort(data["local_ts"], kind="mergesort"),
    )
    validate_event_order(data)
    _save_npz(dst, data)
    return len(data)


def convert_binance(raw: Path, dst: Path, opt: str) -> int:
    """Convert a raw Binance USD-M capture with hftbacktest's converter; return its rows."""
    from hftbacktest.data.utils import binancefutures

    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress steps
        data = binancefutures.convert(str(raw), opt=opt, buffer_size=CONVERT_BUFFER_ROWS)
    _save_npz(dst, data)
    return len(data)


def _save_npz(dst: Path, data: np.ndarray) -> None:
    tmp = dst.with_name(f".{dst.stem}.partial.npz")  # np.savez appends .npz to other names
    np.savez(tmp, data=data)
    tmp.replace(dst)


def load(path: Path) -> np.ndarray:
    """Return the event rows of an hftbacktest ``.npz`` file."""
    with np.load(path) as npz:
        return np.asarray(npz["data"])


def source_events(data: np.ndarray) -> int:
    """Return how many rows are distinct source events (each has the EXCH flag once)."""
    return int(((data["ev"] & np.uint64(HBT_EXCH)) != 0).sum())


def start_ts(data: np.ndarray) -> int:
    """Return where hftbacktest's clock starts: the earlier of its two timelines' first rows."""
    ev = data["ev"]
    exch = int(data["exch_ts"][np.argmax((ev & np.uint64(HBT_EXCH)) != 0)])
    local = int(data["local_ts"][np.argmax((ev & np.uint64(HBT_LOCAL)) != 0)])
    return min(exch, local)


def price_range(data: np.ndarray, tick_size: float) -> tuple[float, float]:
    """Return the (low, high) price of every depth, snapshot and trade row, one tick wider."""
    kind = data["ev"] & np.uint64(0xFF)
    priced = (kind == HBT_DEPTH) | (kind == HBT_SNAPSHOT) | (kind == HBT_TRADE)
    px = data["px"][priced]
    return float(px.min()) - tick_size, float(px.max()) + tick_size


# --- backtests -------------------------------------------------------------------------------


def build(book: str, data: str | np.ndarray, setup: Setup, roi: tuple[float, float]) -> Any:
    """Return an hftbacktest backtest of one asset over ``data`` (a ``.npz`` path or rows)."""
    from hftbacktest import (
        GTX,
        LIMIT,
        BacktestAsset,
        HashMapMarketDepthBacktest,
        ROIVectorMarketDepthBacktest,
    )

    if (GTX, LIMIT) != (HBT_GTX, HBT_LIMIT):
        raise RuntimeError(f"hftbacktest's GTX/LIMIT codes changed: {GTX}, {LIMIT}")

    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(setup.latency_ns, setup.latency_ns)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(setup.maker_fee, setup.taker_fee)
        .tick_size(setup.tick_size)
        .lot_size(setup.lot_size)
        .roi_lb(roi[0])
        .roi_ub(roi[1])
        .last_trades_capacity(0)
    )
    if book == "hashmap":
        return HashMapMarketDepthBacktest([asset])
    if book == "roi_vector":
        return ROIVectorMarketDepthBacktest([asset])
    raise ValueError(f"unknown book type {book!r}")


@njit
def _replay(hbt: Any, step_ns: int) -> int:
    wakeups = 0
    while hbt.elapse(step_ns) == 0:
        wakeups += 1
    return wakeups


@njit
def _market_make(
    hbt: Any, first_wait_ns: int, interval_ns: int, offset_ticks: int, qty: float
) -> tuple[int, int, float, float, float, float, float, int]:
    order_id = 0
    quotes = 0
    first_wake = 0
    wait = first_wait_ns if first_wait_ns > 0 else interval_ns
    while hbt.elapse(wait) == 0:
        wait = interval_ns
        if first_wake == 0:
            first_wake = hbt.current_timestamp
        values = hbt.orders(0).values()
        while values.has_next():
            order = values.get()
            if order.cancellable:
                hbt.cancel(0, order.order_id, False)
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        best_bid = depth.best_bid_tick
        best_ask = depth.best_ask_tick
        if best_bid == INVALID_MIN or best_ask == INVALID_MAX:
            continue
        bid_ticks = (best_bid + best_ask - 2 * offset_ticks) // 2  # floor(mid - offset)
        ask_ticks = -((-(best_bid + best_ask + 2 * offset_ticks)) // 2)  # ceil(mid + offset)
        order_id += 1
        hbt.submit_buy_order(
            0, order_id, bid_ticks * depth.tick_size, qty, HBT_GTX, HBT_LIMIT, False
        )
        order_id += 1
        hbt.submit_sell_order(
            0, order_id, ask_ticks * depth.tick_size, qty, HBT_GTX, HBT_LIMIT, False
        )
        quotes += 1
    values = hbt.state_values(0)
    depth = hbt.depth(0)
    mid = (depth.best_bid + depth.best_ask) / 2.0
    return (
        values.num_trades,
        quotes,
        values.position,
        values.balance,
        values.fee,
        mid,
        values.trading_volume,
        first_wake,
    )


def run(
    book: str, mode: str, data: str | np.ndarray, setup: Setup, roi: tuple[float, float]
) -> dict[str, Any]:
    """Run one backtest; return its wall and CPU time (build + loop + close) and final state."""
    cpu = time.process_time()
    start = time.perf_counter()
    hbt = build(book, data, setup, roi)
    built = time.perf_counter()
    if mode == "replay":
        wakeups = _replay(hbt, setup.replay_step_ns)
        looped = time.perf_counter()
        hbt.close()
        out: dict[str, Any] = {"wakeups": int(wakeups)}
    elif mode == "market_making":
        fills, quotes, position, balance, fee, mid, volume, first_wake = _market_make(
            hbt, setup.first_wait_ns, setup.interval_ns, setup.offset_ticks, setup.qty
        )
        looped = time.perf_counter()
        hbt.close()
        out = {
            "fills": int(fills),
            "quotes": int(quotes),
            "position": float(position),
            "balance": float(balance),
            "fees": float(fee),
            "mid": float(mid),
            "equity": float(balance + position * mid - fee),
            "volume": float(volume),
            "first_wake_ts": int(first_wake),
        }
    else:
        raise ValueError(f"unknown mode {mode!r}")
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    return {
        "wall_s": end - start,
        "cpu_s": cpu,
        "build_s": built - start,
        "loop_s": looped - built,
        **out,
    }


def warm_up(sample: np.ndarray, setup: Setup, log: Callable[[str], None]) -> float:
    """Compile both loops for both book types on ``sample`` rows; return the seconds it took."""
    start = time.perf_counter()
    roi = price_range(sample, setup.tick_size)
    for book in BOOK_TYPES:
        for mode in ("replay", "market_making"):
            log(f"hftbacktest: compiling {mode} loop for the {book} book")
            run(book, mode, sample, setup, roi)
    return time.perf_counter() - start

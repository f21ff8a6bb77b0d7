"""Benchmark: hftlib and hftbacktest 2.4.4 backtest the same data in one run.

Data sets
---------
``synthetic``
    ``hftlib.data.synth`` with default :class:`~hftlib.data.synth.SynthParams` (seed 0): a
    BTCUSDT-like perpetual (tick 0.1, lot 0.001, mid about 50 000) with 8 M events (about
    13 minutes of market). hftlib reads the ``.npy`` it was written to; hftbacktest reads the
    same rows converted to its dtype (prices ``ticks * tick``, sizes ``lots * lot``).
``binance_usdm_btcusdt``
    The shared raw Binance USD-M BTCUSDT capture (``binance-l2-hftbacktest/usdm/
    btcusdt_20240808.gz``), converted by each engine's own converter: ``hft data convert
    binance`` and ``hftbacktest.data.utils.binancefutures.convert`` (``opt="t"``: bookTicker
    too, as hftlib converts it; hftbacktest skips those rows at run time).

Modes
-----
``replay``
    No strategy; hftbacktest runs ``while hbt.elapse(100 ms) == 0`` with no orders.
``market_making``
    Every 100 ms cancel everything, then post one GTX bid at ``floor(mid - 2 ticks)`` and one
    GTX ask at ``ceil(mid + 2 ticks)``, 0.01 BTC each; 2 ms constant order entry and response
    latency, risk-averse queue, no partial fills, Binance USD-M fees (0.02 % maker,
    0.05 % taker) in both engines.

Figures
-------
*events/s* is the number of events in the engine's own data file divided by the median wall
time of ``--runs`` runs; a run is the whole backtest call (hftbacktest: build from the
``.npz`` path, loop, close). Numba compile time is excluded: each engine runs both modes on a
small file first. hftbacktest's figure is its faster book type (hash map or ROI vector with a
ROI covering every price in the data); both are reported. ``ratio`` is hftlib's events/s over
hftbacktest's. The same run reports each engine's market-making fills and final equity
(``balance + position * mid - fees``), the start-up time of a second fresh process and the
peak RSS of hftlib replays of 1x and 10x synthetic data.

Run: ``python benchmarks/vs_hftbacktest.py [--runs 3] [--quick] [--json]``. Progress goes to
stderr; with ``--json`` the last stdout line is one JSON object. Generated and converted files
are cached in ``--cache-dir``. The data folder is ``../shared/data`` beside the repository
unless ``HFTLIB_SHARED_DATA`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import _hbt_side as hbt_side
import numpy as np

from hftlib.data.storage import open_npy, read_meta, write_events
from hftlib.data.synth import SynthParams, generate, synthetic_instrument
from hftlib.instrument import lookup_instrument

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HFTLIB_SHARED_DATA", REPO.parent / "shared" / "data"))
BINANCE_RAW = SHARED_DATA / "binance-l2-hftbacktest" / "usdm" / "btcusdt_20240808.gz"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "hftlib-bench-vs-hftbacktest"

SYNTH_EVENTS, QUICK_SYNTH_EVENTS = 8_000_000, 200_000
MEMORY_BASE, QUICK_MEMORY_BASE = 1_000_000, 100_000
WARM_UP_ROWS = 50_000
MM_STRATEGY = "hftlib.strategies.quote_mm"
SETUP_ARGS = {"latency_ns": 2_000_000, "maker_fee": 0.0002, "taker_fee": 0.0005}

RATIO_TARGET = 2.0
STARTUP_TARGET_S = 1.0
MEMORY_FLAT_MAX = 1.25  # peak RSS at 10x data over 1x; "flat" allows this much
FIDELITY_TOL = 0.01

_T0 = time.perf_counter()


def log(msg: str) -> None:
    """Print a progress line to stderr."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------


@dataclass
class DataSet:
    """One data set as both engines read it."""

    name: str
    hftlib_path: Path
    hbt_path: Path
    hftlib_events: int
    hbt_events: int
    hbt_source_events: int
    tick_size: float
    lot_size: float
    roi: tuple[float, float]
    hftlib_first_ts: int
    hbt_start_ts: int

    def setup(self) -> hbt_side.Setup:
        """Return the shared configuration, hftbacktest's first wake-up aligned with hftlib's.

        hftlib quotes first one interval after its first event (local time); hftbacktest's
        clock starts at its own first row, which each converter puts elsewhere.
        """
        setup = hbt_side.Setup(tick_size=self.tick_size, lot_size=self.lot_size, **SETUP_ARGS)
        first_wait = self.hftlib_first_ts + setup.interval_ns - self.hbt_start_ts
        return replace(setup, first_wait_ns=max(first_wait, 0))

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["hftlib_path"], out["hbt_path"] = str(self.hftlib_path), str(self.hbt_path)
        return out


def synthetic_npy(n_events: int, cache: Path) -> Path:
    """Return the cached hftlib ``.npy`` of the first ``n_events`` synthetic rows."""
    params = SynthParams()
    key = hashlib.sha256(json.dumps(params.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    path = cache / f"synth-{n_events}-{key}.npy"
    if not path.is_file():
        log(f"generating {n_events:,} synthetic events -> {path}")
        write_events(
            path,
            generate(params, n_events),
            synthetic_instrument(),
            {"generator": "hftlib.data.synth", "params": params.to_dict(), "n_events": n_events},
        )
    return path


def hbt_npz(hbt_path: Path, tick: float, make: Callable[[], int]) -> dict[str, Any]:
    """Build ``hbt_path`` with ``make`` unless cached; return its row counts and ROI."""
    side = hbt_path.with_name(hbt_path.name + ".json")
    if not hbt_path.is_file():
        log(f"writing hftbacktest data {hbt_path}")
        make()
        side.unlink(missing_ok=True)
    if not side.is_file():
        data = hbt_side.load(hbt_path)
        info = {
            "rows": len(data),
            "source_rows": hbt_side.source_events(data),
            "roi": hbt_side.price_range(data, tick),
            "start_ts": hbt_side.start_ts(data),
        }
        side.write_text(json.dumps(info))
    return json.loads(side.read_text())


def synthetic_dataset(n_events: int, cache: Path) -> DataSet:
    """Return the synthetic data set of ``n_events`` rows, generating and converting it once."""
    inst = synthetic_instrument()
    npy = synthetic_npy(n_events, cache)
    npz = npy.with_suffix(".2clk.hbt.npz")  # both clocks, hftbacktest's event-order split
    info = hbt_npz(
        npz,
        inst.tick_size,
        lambda: hbt_side.convert_hftlib_file(npy, npz, inst.tick_size, inst.lot_size),
    )
    meta = read_meta(npy)
    return DataSet(
        "synthetic",
        npy,
        npz,
        meta.rows,
        info["rows"],
        info["source_rows"],
        inst.tick_size,
        inst.lot_size,
        tuple(info["roi"]),
        meta.first_local_ts,
        info["start_ts"],
    )


def binance_dataset(raw: Path, cache: Path, opt: str) -> DataSet:
    """Return the real Binance USD-M data set, each file made by its engine's converter."""
    if not raw.is_file():
        sys.exit(f"data file missing: {raw} (set HFTLIB_SHARED_DATA to the shared data folder)")
    inst = lookup_instrument("binance-futures", "BTCUSDT")
    stat = raw.stat()
    stem = f"{raw.name.split('.')[0]}-{stat.st_mtime_ns}-{stat.st_size}"
    npy = cache / f"{stem}.hftlib.npy"
    if not npy.is_file():
        log(f"converting {raw.name} with hft data convert binance")
        hft = Path(sys.executable).with_name("hft")
        cmd = [str(hft)] if hft.is_file() else [sys.executable, "-m", "hftlib.cli"]
        cmd += ["data", "convert", "binance", str(raw), "-o", str(npy)]
        cmd += ["--venue", "binance-futures", "--symbol", "BTCUSDT", "--no-progress", "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not npy.is_file():
            sys.exit(f"hft data convert failed ({done.returncode}): {done.stderr.strip()}")
    npz = cache / f"{stem}.hbt-{opt or 'plain'}.npz"
    info = hbt_npz(npz, inst.tick_size, lambda: hbt_side.convert_binance(raw, npz, opt))
    meta = read_meta(npy)
    return DataSet(
        "binance_usdm_btcusdt",
        npy,
        npz,
        meta.rows,
        info["rows"],
        info["source_rows"],
        inst.tick_size,
        inst.lot_size,
        tuple(info["roi"]),
        meta.first_local_ts,
        info["start_ts"],
    )


def same_events_dataset(base: DataSet, cache: Path) -> DataSet:
    """Return ``base``'s hftlib file also given to hftbacktest, converted row for row.

    Isolates the models from the converters: both engines replay identical events on
    identical exchange and local clocks (see ``convert_hftlib_file``).
    """
    npz = base.hftlib_path.with_suffix(".same-events-2clk.hbt.npz")
    info = hbt_npz(
        npz,
        base.tick_size,
        lambda: hbt_side.convert_hftlib_file(base.hftlib_path, npz, base.tick_size, base.lot_size),
    )
    return replace(
        base,
        name=f"{base.name}_same_events",
        hbt_path=npz,
        hbt_events=info["rows"],
        hbt_source_events=info["source_rows"],
        roi=tuple(info["roi"]),
        hbt_start_ts=info["start_ts"],
    )


# --- hftlib side -----------------------------------------------------------------------------


def hftlib_engine() -> tuple[Callable[..., Any] | None, str | None]:
    """Return ``hftlib.backtest`` or, when the engine is not there yet, why not."""
    try:
        import hftlib

        return hftlib.backtest, None
    except (ImportError, AttributeError) as exc:
        return None, f"hftlib engine not available ({type(exc).__name__}: {exc})"


def hftlib_kwargs(mode: str, path: Path, setup: hbt_side.Setup) -> dict[str, Any]:
    """Return the ``hftlib.backtest`` arguments matching hftbacktest's configuration."""
    kwargs: dict[str, Any] = {
        "strategy": None,
        "data": [str(path)],
        "latency": f"{setup.latency_ns / 1e6:g}ms",
        "queue": "risk_averse",
        "partial_fills": False,
        "fees": (setup.maker_fee, setup.taker_fee),
        "record_interval": "1s",
        "seed": 0,
    }
    if mode == "market_making":
        kwargs["strategy"] = MM_STRATEGY
        kwargs["params"] = {
            "interval_ms": setup.interval_ns // 1_000_000,
            "offset_ticks": setup.offset_ticks,
            "qty": setup.qty,
        }
    return kwargs


def run_hftlib(
    fn: Callable[..., Any], mode: str, path: Path, setup: hbt_side.Setup
) -> dict[str, Any]:
    """Run one hftlib backtest; return its wall time, its own timings and final state."""
    cpu = time.process_time()
    start = time.perf_counter()
    res = fn(**hftlib_kwargs(mode, path, setup))
    wall = time.perf_counter() - start
    info = dict(res.info)
    out: dict[str, Any] = {"wall_s": wall, "cpu_s": time.process_time() - cpu}
    for key in ("events", "elapsed_s", "events_per_s", "compile_s", "startup_s"):
        out[key] = info.get(key)
    if mode == "market_making":
        summary = res.to_json()
        if isinstance(summary, str | bytes):
            summary = json.loads(summary)
        fills = summary["fills"]
        out["fills"] = len(fills) if isinstance(fills, list) else int(fills)
        for key in ("equity", "position", "fees"):
            value = summary[key]
            # one instrument here: a per-instrument mapping holds exactly one value
            out[key] = float(sum(value.values()) if isinstance(value, dict) else value)
    return out


# --- timed runs ------------------------------------------------------------------------------


def compare(
    ds: DataSet, mode: str, runs: int, engine: Callable[..., Any] | None, why: str | None
) -> dict[str, Any]:
    """Time ``runs`` runs of each engine (alternating order) on one data set and mode."""
    setup = ds.setup()
    times: dict[str, list[dict[str, Any]]] = {"hftlib": [], **{b: [] for b in hbt_side.BOOK_TYPES}}
    order = ["hftlib", *hbt_side.BOOK_TYPES] if engine is not None else [*hbt_side.BOOK_TYPES]
    for i in range(runs):
        for who in order if i % 2 == 0 else order[::-1]:
            log(f"{ds.name} {mode} run {i + 1}/{runs}: {who}")
            if who == "hftlib":
                times[who].append(run_hftlib(engine, mode, ds.hftlib_path, setup))
            else:
                times[who].append(hbt_side.run(who, mode, str(ds.hbt_path), setup, ds.roi))
    books = {b: summarise(times[b], ds.hbt_events) for b in hbt_side.BOOK_TYPES}
    faster = max(books, key=lambda b: books[b]["events_per_s"])
    out: dict[str, Any] = {
        "hftlib_events_per_s": None,
        "hftbacktest_events_per_s": books[faster]["events_per_s"],
        "ratio": None,
        "hftbacktest_book": faster,
        "hftbacktest": books,
        "hftlib": {"error": why},
    }
    if engine is not None:
        ours = summarise(times["hftlib"], ds.hftlib_events)
        out["hftlib"] = ours
        out["hftlib_events_per_s"] = ours["events_per_s"]
        out["ratio"] = ours["events_per_s"] / books[faster]["events_per_s"]
        # Same recording, different row counts (real data): the plain time ratio.
        out["wall_time_ratio"] = books[faster]["median_s"] / ours["median_s"]
        cpu_best = max(books[b]["events_per_cpu_s"] for b in books)
        out["ratio_cpu"] = ours["events_per_cpu_s"] / cpu_best
    return out


def summarise(runs: list[dict[str, Any]], events: int) -> dict[str, Any]:
    """Return the median wall and CPU time, events per second of each and every run."""
    median = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    return {
        "events": events,
        "median_s": median,
        "events_per_s": events / median,
        "median_cpu_s": cpu,
        "events_per_cpu_s": events / cpu,
        "runs": runs,
    }


# --- fresh processes: start-up and memory ----------------------------------------------------


def child_main(spec: dict[str, Any]) -> None:
    """Run one measured backtest in this (fresh) process and print a JSON line about it.

    With ``warm_path`` (memory runs) a backtest of that small file runs first and the peak
    RSS is reset after it (``/proc/self/clear_refs``), so ``run_peak_kb`` is the peak of the
    measured run alone and ``process_peak_kb`` the peak of the whole process.
    """
    setup = hbt_side.Setup(**spec["setup"])
    out: dict[str, Any] = {"warm_up_peak_kb": 0}
    if spec.get("warm_path"):
        child_run(spec["engine"], spec["mode"], spec["warm_path"], setup, None)
        out["warm_up_peak_kb"] = _peak_kb()
        out["peak_reset"] = _reset_peak()
    out["rss_before_run_kb"] = _rss_kb()
    out.update(child_run(spec["engine"], spec["mode"], spec["path"], setup, spec.get("roi")))
    out["status_kb"] = _status_kb()
    # VmHWM is the peak since the reset; ru_maxrss also keeps the peaks of exited threads.
    out["run_peak_kb"] = out["status_kb"].get("VmHWM", _peak_kb())
    out["process_peak_kb"] = max(out["warm_up_peak_kb"], _peak_kb())
    print(json.dumps(out))


def child_run(
    engine: str, mode: str, path: str, setup: hbt_side.Setup, roi: list[float] | None
) -> dict[str, Any]:
    """Run one backtest of ``path`` (an hftlib file; a ``.npz`` for hftbacktest with ``roi``)."""
    if engine == "hftlib":
        import hftlib

        t_call = time.time()
        res = hftlib.backtest(**hftlib_kwargs(mode, Path(path), setup))
        out = {k: res.info.get(k) for k in ("events", "startup_s", "compile_s", "elapsed_s")}
        return {**out, "t_call": t_call}
    if roi is None:  # warm-up: hftbacktest rows made from a small hftlib file
        sample = hbt_side.to_hbt_events(np.asarray(open_npy(path)), setup.tick_size, setup.lot_size)
        return hbt_side.run(
            "hashmap", mode, sample, setup, hbt_side.price_range(sample, setup.tick_size)
        )
    return hbt_side.run("hashmap", mode, path, setup, (roi[0], roi[1]))


def _peak_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); return whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_kb() -> int:
    return _status_kb().get("VmRSS", 0)


def _status_kb() -> dict[str, int]:
    """Return the kB fields of /proc/self/status (VmHWM, RssAnon, RssFile, ...) on Linux."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            out[key] = int(value.split()[0])
    return out


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`child_main` in a new interpreter; return its JSON plus the spawn time."""
    t_spawn = time.time()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {spec['engine']} {spec['mode']} failed: {done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["t_spawn"] = t_spawn
    return out


def measure_startup(ds: DataSet) -> dict[str, Any]:
    """Start two fresh processes per mode; the second's spawn-to-first-event is the figure."""
    setup = asdict(ds.setup())
    out: dict[str, Any] = {"file": str(ds.hftlib_path), "events": ds.hftlib_events}
    for mode in ("replay", "market_making"):
        procs = []
        for i in (1, 2):
            log(f"start-up: fresh process {i}/2, hftlib {mode}")
            r = spawn(
                {"engine": "hftlib", "mode": mode, "path": str(ds.hftlib_path), "setup": setup}
            )
            procs.append(
                {
                    "process_to_first_event_s": r["t_call"] + r["startup_s"] - r["t_spawn"],
                    "interpreter_and_import_s": r["t_call"] - r["t_spawn"],
                    "call_to_first_event_s": r["startup_s"],
                    "compile_s": r["compile_s"],
                }
            )
        out[mode] = {"first_process": procs[0], "second_process": procs[1]}
    return out


def measure_memory(small: DataSet, large: DataSet, warm: Path, with_hftlib: bool) -> dict[str, Any]:
    """Return the peak RSS of replays of 1x and 10x data, each in a fresh process."""
    out: dict[str, Any] = {"events_1x": small.hftlib_events, "events_10x": large.hftlib_events}
    for engine in (["hftlib"] if with_hftlib else []) + ["hftbacktest"]:
        peaks: dict[str, Any] = {}
        for label, ds in (("1x", small), ("10x", large)):
            log(f"memory: {engine} replay of {ds.hftlib_events:,} events in a fresh process")
            spec = {
                "engine": engine,
                "mode": "replay",
                "setup": asdict(ds.setup()),
                "warm_path": str(warm),
                "path": str(ds.hftlib_path),
            }
            if engine == "hftbacktest":
                spec.update({"path": str(ds.hbt_path), "roi": list(ds.roi)})
            r = spawn(spec)
            status = r["status_kb"]
            peaks[label] = {
                "process_peak_mb": r["process_peak_kb"] / 1024,
                "run_peak_mb": r["run_peak_kb"] / 1024,
                "rss_before_run_mb": r["rss_before_run_kb"] / 1024,
                "end_rss_anon_mb": status.get("RssAnon", 0) / 1024,
                "end_rss_file_mb": status.get("RssFile", 0) / 1024,
                "peak_reset": r.get("peak_reset", False),
            }
        for key in ("process_peak_mb", "run_peak_mb"):
            peaks[f"{key}_ratio_10x_over_1x"] = peaks["10x"][key] / peaks["1x"][key]
        peaks["ratio_10x_over_1x"] = max(
            peaks["process_peak_mb_ratio_10x_over_1x"], peaks["run_peak_mb_ratio_10x_over_1x"]
        )
        out[engine] = peaks
    return out


# --- report ----------------------------------------------------------------------------------


def fidelity(result: dict[str, Any]) -> dict[str, Any]:
    """Compare both engines' market-making fills and final equity on each data set."""
    out: dict[str, Any] = {}
    for name in ("synthetic", "binance_usdm_btcusdt", "binance_usdm_btcusdt_same_events"):
        mm = result[name]["market_making"]
        theirs_all = {b: mm["hftbacktest"][b]["runs"][-1] for b in hbt_side.BOOK_TYPES}
        theirs = theirs_all[mm["hftbacktest_book"]]
        keys = ("fills", "equity", "position", "fees", "quotes")
        entry: dict[str, Any] = {
            "hftbacktest": {k: theirs[k] for k in keys},
            "hftbacktest_books_agree": all(
                theirs_all[b]["fills"] == theirs["fills"]
                and theirs_all[b]["equity"] == theirs["equity"]
                for b in theirs_all
            ),
            "hftlib": None,
        }
        if mm["hftlib_events_per_s"] is not None:
            ours = mm["hftlib"]["runs"][-1]
            entry["hftlib"] = {k: ours[k] for k in ("fills", "equity", "position", "fees")}
            entry["fills_rel_diff"] = rel_diff(ours["fills"], theirs["fills"])
            entry["equity_rel_diff"] = rel_diff(ours["equity"], theirs["equity"])
            entry["equity_abs_diff"] = ours["equity"] - theirs["equity"]
            entry["within_1pct"] = (
                max(entry["fills_rel_diff"], entry["equity_rel_diff"]) <= FIDELITY_TOL
            )
        out[name] = entry
    return out


def rel_diff(a: float, b: float) -> float:
    """Return ``|a - b| / max(|a|, |b|)`` (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def versions() -> dict[str, Any]:
    """Return the versions of everything that shapes the figures."""
    import hftbacktest
    import numba

    import hftlib

    return {
        "hftlib": hftlib.__version__,
        "hftbacktest": hftbacktest.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "venv": sys.prefix,
    }


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """Return each target of the issue and whether this run met it (None: not measured)."""
    ratios = [
        result[name][mode]["ratio"]
        for name in ("synthetic", "binance_usdm_btcusdt")
        for mode in ("replay", "market_making")
    ]
    memory = result["memory"].get("hftlib")
    fid = [f.get("within_1pct") for f in result["fidelity"].values()]
    return {
        "ratio_ge_2": None if None in ratios else min(ratios) >= RATIO_TARGET,
        "startup_le_1s": None
        if result["startup_s"] is None
        else result["startup_s"] <= STARTUP_TARGET_S,
        "memory_flat": None if memory is None else memory["ratio_10x_over_1x"] <= MEMORY_FLAT_MAX,
        "fidelity_within_1pct": None if None in fid else all(fid),
    }


def print_summary(result: dict[str, Any]) -> None:
    """Print the human-readable table to stdout."""
    version = result["versions"]["hftbacktest"]
    print(f"hftlib vs hftbacktest {version}, median of {result['runs']} runs")
    for name in ("synthetic", "binance_usdm_btcusdt"):
        ds = result["data"][name]
        print(f"  {name}: hftlib {ds['hftlib_events']:,} events, hftbacktest {ds['hbt_events']:,}")
        for mode in ("replay", "market_making"):
            r = result[name][mode]
            books = ", ".join(
                f"{b} {r['hftbacktest'][b]['events_per_s']:,.0f}" for b in hbt_side.BOOK_TYPES
            )
            ours = "n/a" if r["hftlib_events_per_s"] is None else f"{r['hftlib_events_per_s']:,.0f}"
            ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            print(f"    {mode:<14} hftlib {ours} ev/s | hftbacktest {books} ev/s | ratio {ratio}")
        f = result["fidelity"][name]
        theirs = f["hftbacktest"]
        line = (
            f"    fidelity       hftbacktest fills {theirs['fills']}, equity {theirs['equity']:.4f}"
        )
        if f["hftlib"] is not None:
            line += (
                f" | hftlib fills {f['hftlib']['fills']}, equity {f['hftlib']['equity']:.4f}"
                f" | diff {f['fills_rel_diff']:.2%} / {f['equity_rel_diff']:.2%}"
            )
        print(line)
    if result["hftlib_error"]:
        print(f"  {result['hftlib_error']}")
    print(f"  startup_s {result['startup_s']}, memory {json.dumps(result['memory'])}")
    print(f"  targets {json.dumps(result['targets'])}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the result and return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="timed runs of each (default 3)")
    parser.add_argument("--quick", action="store_true", help="small smoke run (1 run, small data)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--input", type=Path, default=BINANCE_RAW, help="raw USD-M capture")
    parser.add_argument(
        "--hbt-opt", default="t", choices=["", "t"], help="hftbacktest converter opt"
    )
    parser.add_argument("--synthetic-events", type=int, default=None, help="default 8 M")
    parser.add_argument("--memory-base", type=int, default=None, help="1x size, default 1 M")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return {}
    runs = args.runs or (1 if args.quick else 3)
    n_synth = args.synthetic_events or (QUICK_SYNTH_EVENTS if args.quick else SYNTH_EVENTS)
    n_base = args.memory_base or (QUICK_MEMORY_BASE if args.quick else MEMORY_BASE)
    if not args.input.is_file():
        sys.exit(
            f"data file missing: {args.input} (set HFTLIB_SHARED_DATA to the shared data folder)"
        )
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    datasets = {
        "synthetic": synthetic_dataset(n_synth, args.cache_dir),
        "binance_usdm_btcusdt": binance_dataset(args.input, args.cache_dir, args.hbt_opt),
    }
    datasets["binance_usdm_btcusdt_same_events"] = same_events_dataset(
        datasets["binance_usdm_btcusdt"], args.cache_dir
    )
    mem_small = synthetic_dataset(n_base, args.cache_dir)
    mem_large = synthetic_dataset(10 * n_base, args.cache_dir)
    warm = synthetic_npy(WARM_UP_ROWS, args.cache_dir)

    engine, why = hftlib_engine()
    if why:
        log(why)
    sample = hbt_side.to_hbt_events(
        np.asarray(open_npy(warm)), mem_small.tick_size, mem_small.lot_size
    )
    hbt_compile_s = hbt_side.warm_up(sample, mem_small.setup(), log)
    if engine is not None:
        try:
            for mode in ("replay", "market_making"):
                log(f"hftlib: warm-up {mode} (compiles or loads the numba cache)")
                run_hftlib(engine, mode, warm, mem_small.setup())
        except Exception as exc:  # an engine under construction: report it, time hftbacktest
            engine, why = None, f"hftlib engine failed in its warm-up ({type(exc).__name__}: {exc})"
            log(why)

    result: dict[str, Any] = {"runs": runs, "quick": args.quick}
    for name, ds in datasets.items():
        result[name] = {
            mode: compare(ds, mode, runs, engine, why) for mode in ("replay", "market_making")
        }
    result["data"] = {name: ds.describe() for name, ds in datasets.items()}
    startup = measure_startup(mem_small) if engine is not None else None
    result["startup_s"] = (
        None
        if startup is None
        else startup["market_making"]["second_process"]["process_to_first_event_s"]
    )
    result["startup"] = startup
    result["hftbacktest_compile_s"] = hbt_compile_s
    result["memory"] = measure_memory(mem_small, mem_large, warm, engine is not None)
    result["fidelity"] = fidelity(result)
    result["hftlib_error"] = why
    result["versions"] = versions()
    result["targets"] = targets(result)
    print_summary(result)
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""``hft demo``: the main job on the built-in synthetic market (no shared data, no database)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from hftlib.cli.common import emit


@click.command("demo")
@click.option(
    "--events",
    "n_events",
    type=click.IntRange(1_000),
    default=2_000_000,
    show_default=True,
    help="Synthetic events to generate.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/demo"),
    show_default=True,
    help="Where the demo writes its files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def demo(n_events: int, seed: int, workdir: Path, as_json: bool) -> None:
    """Market-making backtest on a synthetic market, with its report.

    Generates a synthetic BTCUSDT-like market, validates and stores it (Parquet, npy), then
    backtests the ``quote_mm`` market maker on it and writes the report (summary, HTML with
    equity, position and price with fills) to ``WORKDIR/report``.
    """
    from hftlib.cli.data import synthesize
    from hftlib.data.reader import EventStream
    from hftlib.data.storage import iter_events, read_meta, write_events
    from hftlib.data.summary import EventSummary, summarize
    from hftlib.data.validate import ValidationReport, validate

    workdir.mkdir(parents=True, exist_ok=True)
    parquet = workdir / "synusd.parquet"
    npy = workdir / "synusd.npy"
    steps: dict[str, float] = {}

    result = synthesize(parquet, n_events, seed, progress=not as_json, summary=EventSummary())
    steps["generate_and_write_parquet_s"] = result["seconds"]

    t0 = time.perf_counter()
    vreport = ValidationReport(path=str(parquet))
    meta = read_meta(parquet)
    write_events(
        npy,
        validate(iter_events(parquet), vreport),
        meta.instrument,
        {**meta.provenance, "copied_from": parquet.name},
    )
    steps["validate_and_write_npy_s"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    replay = summarize(EventStream.from_paths([npy]))
    steps["replay_npy_s"] = round(time.perf_counter() - t0, 3)

    import importlib

    run_backtest = importlib.import_module("hftlib.sim.backtest").backtest
    result = run_backtest(
        "quote_mm",
        [npy],
        params={"interval_ms": 100, "offset_ticks": 1, "qty": 0.01, "max_position": 0.5},
        latency="constant:1ms,1ms",
        queue="power3:3",
        record_interval="1s",
    )
    report_dir = workdir / "report"
    result.save(report_dir)
    out = {
        "backtest": result.to_json(),
        "backtest_summary": result.summary(),
        "report": str(report_dir / "report.html"),
        "files": {"parquet": str(parquet), "npy": str(npy)},
        "parquet_bytes": parquet.stat().st_size,
        "npy_bytes": npy.stat().st_size,
        "validation": vreport.to_dict(),
        "summary": replay.to_dict(meta.instrument),
        "steps": steps,
        "replay_events_per_second": round(replay.rows / steps["replay_npy_s"])
        if steps["replay_npy_s"]
        else None,
    }
    emit(out, as_json, _text)


def _text(r: dict[str, Any]) -> str:
    s = r["summary"]
    v = r["validation"]
    return "\n".join(
        [
            "hftlib demo: synthetic market (synthetic:SYNUSD)",
            f"  events     {s['rows']:,} over {s['span_seconds']:.1f} s of market time "
            f"({', '.join(f'{k} {n:,}' for k, n in s['by_kind'].items())})",
            f"  price      {s['price_min']:.1f} .. {s['price_max']:.1f}; "
            f"traded {s['trade_volume']:.3f}",
            f"  validation {_problems(v)}",
            f"  files      {r['files']['parquet']} ({r['parquet_bytes']:,} B), "
            f"{r['files']['npy']} ({r['npy_bytes']:,} B)",
            "  timings    " + ", ".join(f"{k} {val}" for k, val in r["steps"].items()),
            f"  replay     {r['replay_events_per_second']:,} events/s from the npy file",
            "",
            "market making backtest (quote_mm on the synthetic market):",
            r["backtest_summary"],
            "",
            f"report: {r['report']}",
        ]
    )


def _problems(v: dict[str, Any]) -> str:
    n = v["total_problems"]
    return "clean" if not n else f"{n} problem(s)"

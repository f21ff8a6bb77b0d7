"""Human-readable views of a :class:`~hftlib.results.result.BacktestResult`.

Text summary, matplotlib figure (Agg only, never a window) and a self-contained HTML page.
Output is deterministic: no wall-clock time, PNG metadata without the software version
line, and long series thinned by a fixed stride rather than at random.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from hftlib.engine.types import BUY, SELL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hftlib.results.result import BacktestResult

MAX_POINTS = 4000
"""Most points drawn per line; longer series are thinned with a fixed stride."""
LAST_FILLS = 50
"""Fills listed at the end of the HTML report."""

_RUN_KEYS = ("strategy", "params", "seed", "latency_model", "queue_model", "fee_model")


# --- text ------------------------------------------------------------------------------------


def render_summary(result: BacktestResult) -> str:
    """Return the multi-line text summary of a result."""
    st = result.stats()
    info = result.info
    cur = st["currency"] or ""
    lines = [f"Backtest {info.get('strategy', '')}".rstrip()]
    shown = [k for k in _RUN_KEYS[1:] if k in info]
    shown += sorted(set(info) - set(_RUN_KEYS) - _TIMING_KEYS)
    lines.extend(f"  {k.replace('_', ' '):<13} {_text(info[k])}" for k in shown)
    every = fmt_duration(result.record_interval_ns / 1e9)
    if st["samples"]:
        lines.append(
            f"  period        {fmt_ts(st['start_ts'])} .. {fmt_ts(st['end_ts'])}"
            f" ({fmt_duration(st['duration_s'])}, {st['samples']:,} samples every {every})"
        )
    else:
        lines.append(f"  period        no samples (every {every})")
    lines.append("  " + _timing(result.to_json()))
    lines.append(
        "  assets        " + ", ".join(f"{a['instrument']} ({a['currency']})" for a in st["assets"])
    )

    lines.append(f"P&L{f' ({cur})' if cur else ''}")
    if cur:
        ret = "" if st["return"] is None else f"   return {st['return']:.4%}"
        lines.append(
            f"  pnl           {fmt_num(st['pnl'])}{ret}"
            f"   equity {fmt_num(st['initial_equity'])} -> {fmt_num(st['final_equity'])}"
        )
        lines.append(
            f"  sharpe        {fmt_ratio(st['sharpe'])}   sortino {fmt_ratio(st['sortino'])}"
            "   (annualised, 365-day year)"
        )
        lines.append("  max drawdown  " + _drawdown(st))
    else:
        lines.append("  " + "; ".join(st["notes"][-1:]))
    if len(st["assets"]) > 1 or not cur:
        lines.extend(
            f"  {a['instrument']:<24} pnl {fmt_num(a['pnl'])} {a['currency']}"
            f"   sharpe {fmt_ratio(a['sharpe'])}   max dd {fmt_num(a['max_drawdown'])}"
            for a in st["assets"]
        )

    lines.append("Trading")
    split = (
        f" (maker {st['maker_fills']:,}, taker {st['taker_fills']:,})"
        if st["maker_fills"] is not None
        else ""
    )
    lines.append(
        f"  orders {st['orders']:,}   fills {st['fills']:,}{split}"
        f"   fill ratio {fmt_num(st['fill_ratio'], 3)} (qty {fmt_num(st['fill_ratio_qty'], 3)})"
        f"   trades/day {fmt_num(st['trades_per_day'])}"
    )
    lines.extend(
        f"  {a['instrument']:<24} volume {fmt_num(a['volume'])} {a['currency']}"
        f"   fees {fmt_num(a['fees'])}   fills {a['fills']:,}"
        for a in st["assets"]
    )
    if cur:
        turnover = "" if st["turnover"] is None else f"   turnover {fmt_num(st['turnover'])}x"
        lines.append(
            f"  total volume {fmt_num(st['volume'])}   fees {fmt_num(st['fees'])}"
            f"   volume/day {fmt_num(st['volume_per_day'])}{turnover}"
        )

    lines.append("Inventory (base units)")
    lines.extend(
        f"  {a['instrument']:<24} final {fmt_num(a['position_final'])}"
        f"   mean |pos| {fmt_num(a['position_mean_abs'])}"
        f"   max |pos| {fmt_num(a['position_max_abs'])}"
        f"   time-weighted {fmt_num(a['position_time_weighted'])}"
        for a in st["assets"]
    )
    counters = result.nonzero_counters()
    if counters:
        lines.append("Counters")
        lines.extend(f"  {k:<28} {v:,}" for k, v in counters.items())
    if st["notes"]:
        lines.append("Notes")
        lines.extend(f"  {n}" for n in st["notes"])
    return "\n".join(lines) + "\n"


_TIMING_KEYS = {
    "events",
    "elapsed_s",
    "compile_s",
    "events_per_s",
    "start_ts",
    "end_ts",
    "orders_submitted",
}


def _timing(js: dict[str, Any]) -> str:
    parts = []
    if js["events"] is not None:
        parts.append(f"events {js['events']:,}")
    if js["elapsed_s"] is not None:
        parts.append(f"run {js['elapsed_s']:.3f} s")
    if js["compile_s"] is not None:
        parts.append(f"compile {js['compile_s']:.3f} s")
    if js["events_per_s"] is not None:
        parts.append(f"{js['events_per_s']:,.0f} events/s")
    return "   ".join(parts) if parts else "no timing information"


def _drawdown(st: dict[str, Any]) -> str:
    if st["max_drawdown"] is None:
        return "n/a"
    frac = "" if st["max_drawdown_frac"] is None else f" ({st['max_drawdown_frac']:.4%})"
    state = "recovered" if st["max_drawdown_recovered"] else "not recovered"
    return (
        f"{fmt_num(st['max_drawdown'])}{frac} over {fmt_duration(st['max_drawdown_duration_s'])}"
        f", {state}"
    )


def fmt_num(x: float | int | None, digits: int = 6) -> str:
    """Format a number for reading: thousands separators, ``digits`` significant digits."""
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 10**digits:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}"


def fmt_ratio(x: float | None) -> str:
    """Format a Sharpe-like ratio with two decimals (``n/a`` when undefined)."""
    return "n/a" if x is None else f"{x:,.2f}"


def fmt_ts(ns: int) -> str:
    """Format ns since the epoch as ISO-8601 UTC with milliseconds."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000 // 1_000_000:03d}Z"


def fmt_duration(seconds: float | None) -> str:
    """Format seconds as ``1d 2h 3m 4s`` (sub-second values in ms)."""
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1e3:g} ms"
    total = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    if total or not parts:
        parts.append(f"{total}s")
    return " ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


# --- figure ----------------------------------------------------------------------------------


def plot_result(result: BacktestResult) -> Figure:
    """Return a Figure: rows equity, position, price with fills; one column per asset.

    The x axis is the time since the first sample in a unit that suits the span (a plain
    number axis draws far faster than a date axis); its label names the start time.
    """
    from matplotlib.figure import Figure

    n = max(1, len(result.instruments))
    fig = Figure(figsize=(6.0 * n, 8.0), dpi=100)
    fig.subplots_adjust(left=0.14 / n, right=1 - 0.03 / n, top=0.95, bottom=0.07, wspace=0.3)
    axes = fig.subplots(3, n, sharex="col", squeeze=False)
    st = result.stats()
    start = st["start_ts"]
    unit, size = _time_unit(st["duration_s"])
    for a, ins in enumerate(result.instruments):
        rec = result.records[result.records["asset"] == a]
        rec = rec[np.argsort(rec["ts"], kind="stable")]
        t = (_thin(rec["ts"]) - start) / (size * 1e9)
        eq_ax, pos_ax, px_ax = axes[0, a], axes[1, a], axes[2, a]
        eq_ax.plot(t, _thin(rec["equity"]), color="tab:blue", linewidth=0.8)
        eq_ax.set_title(ins.key)
        eq_ax.set_ylabel(f"equity ({st['assets'][a]['currency']})")
        pos_ax.plot(t, _thin(rec["position"]), color="tab:purple", linewidth=0.8)
        pos_ax.axhline(0.0, color="grey", linewidth=0.5)
        pos_ax.set_ylabel("position")
        px_ax.plot(t, _thin(rec["mid"]), color="black", linewidth=0.6, label="mid")
        f = result.fills[result.fills["asset"] == a]
        for side, marker, color in ((BUY, "^", "tab:green"), (SELL, "v", "tab:red")):
            fs = f[f["side"] == side]
            if len(fs):
                px_ax.scatter(
                    (_thin(fs["local_ts"]) - start) / (size * 1e9),
                    ins.ticks_to_price(_thin(fs["px"])),
                    marker=marker,
                    color=color,
                    s=12,
                    label="buy" if side == BUY else "sell",
                    zorder=3,
                )
        px_ax.set_ylabel("price")
        px_ax.set_xlabel(f"{unit} since {fmt_ts(start)}")
        px_ax.legend(loc="upper left", fontsize="small")
        for ax in (eq_ax, pos_ax, px_ax):
            ax.grid(True, linewidth=0.3)
            ax.tick_params(labelsize="small")
    return fig


def _time_unit(seconds: float) -> tuple[str, float]:
    """Return the x-axis unit for a span: seconds, minutes, hours or days."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 3 * size:
            return unit, size
    return "seconds", 1.0


def write_png(fig: Figure) -> bytes:
    """Return ``fig`` as PNG bytes with no software or date metadata (deterministic)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _thin(values: np.ndarray) -> np.ndarray:
    step = -(-len(values) // MAX_POINTS) if len(values) > MAX_POINTS else 1
    return np.ascontiguousarray(values[::step])


# --- HTML ------------------------------------------------------------------------------------


def render_html(result: BacktestResult) -> str:
    """Return a self-contained HTML report: tables, the figure as base64 PNG, last fills."""
    st = result.stats()
    png = base64.b64encode(write_png(result.plot())).decode("ascii")
    title = html.escape(f"Backtest report {result.info.get('strategy', '')}".rstrip())
    top = {k: v for k, v in st.items() if k not in ("assets", "notes")}
    per_asset = {a["instrument"]: a for a in st["assets"]}
    rows = sorted({k for a in st["assets"] for k in a} - {"instrument"})
    fills = result.fills_frame().tail(LAST_FILLS)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "th{background:#f0f0f0}pre{background:#f8f8f8;padding:1em}</style>",
        "</head><body>",
        f"<h1>{title}</h1>",
        "<h2>Summary</h2>",
        _table(result.to_json()),
        "<h2>Run</h2>",
        _table(result.info),
        "<h2>Statistics</h2>",
        _table(top),
        "<h2>Per asset</h2>",
        _grid(rows, per_asset),
    ]
    if st["notes"]:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in st["notes"]) + "</ul>")
    parts += [
        "<h2>Chart</h2>",
        f'<img alt="equity, position and price" src="data:image/png;base64,{png}">',
        f"<h2>Last {len(fills)} fills</h2>",
        fills.to_html(border=0),
        "<h2>Text summary</h2>",
        f"<pre>{html.escape(result.summary())}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return html.escape(fmt_num(value, 8))
    return html.escape(_text(value) if value is not None else "n/a")


def _table(mapping: dict[str, Any]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>"
        for k, v in sorted(mapping.items())
    )
    return f"<table>{body}</table>"


def _grid(rows: list[str], columns: dict[str, dict[str, Any]]) -> str:
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"
    body = "".join(
        f"<tr><th>{html.escape(r)}</th>"
        + "".join(f"<td>{_cell(col.get(r))}</td>" for col in columns.values())
        + "</tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"

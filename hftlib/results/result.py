"""The outcome of one backtest: raw arrays, statistics, frames, and files on disk.

:class:`BacktestResult` keeps the engine's arrays as they are (ticks, lots) and converts on
the way out: pandas frames in prices and sizes, a JSON summary, a text summary, a PNG and an
HTML report. pandas, pyarrow and matplotlib are imported only by the methods that need them,
so importing this module costs numpy alone.

Files written by :meth:`BacktestResult.save` are deterministic: the same result gives
byte-identical files. The Parquet files hold the raw dtype columns (lossless, so
:meth:`BacktestResult.load` rebuilds the exact arrays); ``result.json`` holds everything
else. The only times in them are the data's own timestamps and the run info's durations.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hftlib.engine.types import (
    BUY,
    CODE_NAMES,
    FILL_DTYPE,
    ORDER_LOG_DTYPE,
    RECORD_DTYPE,
    STATUS_NAMES,
)
from hftlib.instrument import Instrument
from hftlib.results.stats import compute_stats

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

FORMAT_VERSION = 1
"""Bumped when the saved layout changes incompatibly."""

JSON_KEYS = (
    "events",
    "elapsed_s",
    "events_per_s",
    "compile_s",
    "orders",
    "fills",
    "equity",
    "position",
    "fees",
    "volume",
    "pnl",
    "sharpe",
    "sortino",
    "max_drawdown",
    "counters",
)
"""Keys of :meth:`BacktestResult.to_json`, what ``hft backtest --json`` prints."""

RECORDS_FILE = "records.parquet"
FILLS_FILE = "fills.parquet"
ORDERS_FILE = "orders.parquet"
SUMMARY_FILE = "summary.txt"
REPORT_FILE = "report.html"
RESULT_FILE = "result.json"

_OTYPE_NAMES = {0: "limit", 1: "market"}
_TIF_NAMES = {0: "gtc", 1: "gtx", 2: "ioc", 3: "fok"}
_ARRAYS = (
    ("records", RECORDS_FILE, RECORD_DTYPE),
    ("fills", FILLS_FILE, FILL_DTYPE),
    ("orders_log", ORDERS_FILE, ORDER_LOG_DTYPE),
)


class BacktestResult:
    """Arrays and run information of one backtest, with stats, frames and reports.

    Parameters
    ----------
    records : numpy.ndarray
        ``RECORD_DTYPE`` samples, one row per asset every ``record_interval_ns``.
    fills : numpy.ndarray
        ``FILL_DTYPE`` fills log (prices in ticks, sizes in lots).
    orders_log : numpy.ndarray
        ``ORDER_LOG_DTYPE`` order state changes.
    instruments : sequence of Instrument
        Specs by asset index.
    counters : mapping of str to int, optional
        Action, risk and venue code counts by ``CODE_NAMES`` name. Default None (empty).
    info : mapping, optional
        Run information: ``events``, ``elapsed_s``, ``compile_s``, ``events_per_s``,
        ``start_ts``, ``end_ts``, ``strategy``, ``params``, ``seed``, model descriptions,
        ``orders_submitted``, ... Default None (empty).
    record_interval_ns : int
        Sampling interval of the records (keyword only, required).
    capital : float, optional
        Capital in the settlement currency, for returns and turnover. Default None.
    currencies : sequence of str, optional
        Settlement currency per asset, overriding the one read from the symbol. Default None.
    """

    def __init__(
        self,
        records: np.ndarray,
        fills: np.ndarray,
        orders_log: np.ndarray,
        instruments: Sequence[Instrument],
        counters: Mapping[str, int] | None = None,
        info: Mapping[str, Any] | None = None,
        *,
        record_interval_ns: int,
        capital: float | None = None,
        currencies: Sequence[str] | None = None,
    ) -> None:
        for name, arr, dtype in (
            ("records", records, RECORD_DTYPE),
            ("fills", fills, FILL_DTYPE),
            ("orders_log", orders_log, ORDER_LOG_DTYPE),
        ):
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                raise TypeError(f"{name} must be an array of the engine's {name} dtype")
        if record_interval_ns <= 0:
            raise ValueError(f"record_interval_ns must be > 0, got {record_interval_ns}")
        self.records = records
        self.fills = fills
        self.orders_log = orders_log
        self.instruments = list(instruments)
        self.counters = {str(k): int(v) for k, v in (counters or {}).items()}
        self.info = dict(info or {})
        self.record_interval_ns = int(record_interval_ns)
        self.capital = None if capital is None else float(capital)
        self.currencies = None if currencies is None else [str(c) for c in currencies]
        self._stats: dict[str, Any] | None = None

    def __repr__(self) -> str:
        keys = ", ".join(i.key for i in self.instruments)
        return (
            f"BacktestResult({keys}; {len(self.records)} records, {len(self.fills)} fills, "
            f"{len(self.orders_log)} order log rows)"
        )

    # --- numbers ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return the statistics of :func:`hftlib.results.stats.compute_stats` (cached)."""
        if self._stats is None:
            submitted = self.info.get("orders_submitted")
            self._stats = compute_stats(
                self.records,
                self.fills,
                self.orders_log,
                self.instruments,
                self.record_interval_ns,
                self.capital,
                orders_submitted=None if submitted is None else int(submitted),
                currencies=self.currencies,
            )
        return self._stats

    def to_json(self) -> dict[str, Any]:
        """Return the headline figures as a JSON-serialisable dict (keys :data:`JSON_KEYS`).

        ``equity``, ``pnl``, ``fees`` and ``volume`` are totals in the common settlement
        currency (``None`` when the assets settle in different ones); ``position`` maps each
        instrument key to its final position in base units; ``counters`` holds the non-zero
        counters by name.
        """
        st = self.stats()
        events = self.info.get("events")
        elapsed = self.info.get("elapsed_s")
        rate = self.info.get("events_per_s")
        if rate is None and events is not None and elapsed:
            rate = events / elapsed
        out = {
            "events": None if events is None else int(events),
            "elapsed_s": _clean(elapsed),
            "events_per_s": _clean(rate),
            "compile_s": _clean(self.info.get("compile_s")),
            "orders": st["orders"],
            "fills": st["fills"],
            "equity": st["final_equity"],
            "position": {a["instrument"]: a["position_final"] for a in st["assets"]},
            "fees": st["fees"],
            "volume": st["volume"],
            "pnl": st["pnl"],
            "sharpe": st["sharpe"],
            "sortino": st["sortino"],
            "max_drawdown": st["max_drawdown"],
            "counters": self.nonzero_counters(),
        }
        return {k: _clean(out[k]) for k in JSON_KEYS}

    def nonzero_counters(self) -> dict[str, int]:
        """Return the counters with a non-zero count, sorted by name."""
        return {k: v for k, v in sorted(self.counters.items()) if v}

    def summary(self) -> str:
        """Return a readable multi-line text summary of the run and its statistics."""
        from hftlib.results.report import render_summary

        return render_summary(self)

    # --- frames ----------------------------------------------------------------------------

    def asset_index(self, asset: int | str) -> int:
        """Return the asset index of ``asset``: an index, ``venue:symbol`` or a unique symbol."""
        if isinstance(asset, (int, np.integer)):
            if not 0 <= int(asset) < len(self.instruments):
                raise KeyError(f"asset {asset} out of range 0..{len(self.instruments) - 1}")
            return int(asset)
        hits = [i for i, ins in enumerate(self.instruments) if asset in (ins.key, ins.symbol)]
        if len(hits) != 1:
            keys = ", ".join(i.key for i in self.instruments)
            raise KeyError(f"asset {asset!r} is {'ambiguous' if hits else 'unknown'} ({keys})")
        return hits[0]

    def frame(self, asset: int | str | None = None) -> pd.DataFrame:
        """Return the records as a DataFrame indexed by sample time (UTC).

        Prices (``mid``) are in price units, positions in base units, money in the asset's
        settlement currency. With several assets and ``asset=None`` every row is kept and an
        ``asset`` column tells them apart; otherwise one asset's rows without that column.
        """
        pd = _pandas()
        rec = self.records
        multi = asset is None and len(self.instruments) > 1
        if not multi and len(self.instruments):
            rec = rec[rec["asset"] == self.asset_index(0 if asset is None else asset)]
        rec = rec[np.argsort(rec["ts"], kind="stable")]
        cols = [n for n in RECORD_DTYPE.names or () if n != "ts" and (multi or n != "asset")]
        data = {n: np.ascontiguousarray(rec[n]) for n in cols}
        return pd.DataFrame(data, index=_time_index(pd, rec["ts"], "ts"))

    def fills_frame(self) -> pd.DataFrame:
        """Return the fills with prices, sizes, side names and fees, indexed by local time.

        ``qty`` is the fill size and ``position`` the position after it, in base units
        (lots times lot size times contract multiplier, like the records' position).
        """
        pd = _pandas()
        f = self.fills
        price = np.zeros(len(f))
        qty = np.zeros(len(f))
        pos = np.zeros(len(f))
        for a, ins in enumerate(self.instruments):
            m = f["asset"] == a
            price[m] = ins.ticks_to_price(f["px"][m])
            qty[m] = ins.lots_to_size(f["qty"][m]) * ins.contract_multiplier
            pos[m] = ins.lots_to_size(f["position"][m]) * ins.contract_multiplier
        data = {
            "exch_ts": pd.to_datetime(np.ascontiguousarray(f["exch_ts"]), unit="ns", utc=True),
            "order_id": np.ascontiguousarray(f["order_id"]),
            "client_id": np.ascontiguousarray(f["client_id"]),
            "asset": np.ascontiguousarray(f["asset"]),
            "instrument": self._keys(f["asset"]),
            "side": np.where(f["side"] == BUY, "buy", "sell").astype(object),
            "price": price,
            "qty": qty,
            "maker": f["maker"] != 0,
            "fee": np.ascontiguousarray(f["fee"]),
            "position": pos,
        }
        return pd.DataFrame(data, index=_time_index(pd, f["local_ts"], "local_ts"))

    def orders_frame(self) -> pd.DataFrame:
        """Return the order log with prices, sizes and names, indexed by local time.

        ``reason`` is the ``CODE_NAMES`` name of the last rejection code (``""`` if none).
        """
        pd = _pandas()
        o = self.orders_log
        price = np.zeros(len(o))
        qty = np.zeros(len(o))
        leaves = np.zeros(len(o))
        for a, ins in enumerate(self.instruments):
            m = o["asset"] == a
            price[m] = ins.ticks_to_price(o["px"][m])
            qty[m] = ins.lots_to_size(o["qty"][m]) * ins.contract_multiplier
            leaves[m] = ins.lots_to_size(o["leaves"][m]) * ins.contract_multiplier
        data = {
            "exch_ts": pd.to_datetime(np.ascontiguousarray(o["exch_ts"]), unit="ns", utc=True),
            "order_id": np.ascontiguousarray(o["order_id"]),
            "client_id": np.ascontiguousarray(o["client_id"]),
            "asset": np.ascontiguousarray(o["asset"]),
            "instrument": self._keys(o["asset"]),
            "side": np.where(o["side"] == BUY, "buy", "sell").astype(object),
            "price": price,
            "qty": qty,
            "leaves": leaves,
            "type": _names(o["otype"], _OTYPE_NAMES),
            "tif": _names(o["tif"], _TIF_NAMES),
            "status": _names(o["status"], STATUS_NAMES),
            "reason": _names(o["reason"], {**CODE_NAMES, 0: ""}),
        }
        return pd.DataFrame(data, index=_time_index(pd, o["local_ts"], "local_ts"))

    def _keys(self, assets: np.ndarray) -> np.ndarray:
        keys = np.array([i.key for i in self.instruments] or [""], dtype=object)
        out: np.ndarray = keys[np.clip(assets, 0, len(keys) - 1)]
        return out

    # --- reports ---------------------------------------------------------------------------

    def plot(self, path: str | Path | None = None) -> Figure:
        """Return a Figure of equity, position and price with fills, one column per asset.

        Uses the Agg backend and never opens a window. With ``path``, also write it as PNG.
        """
        from hftlib.results.report import plot_result, write_png

        fig = plot_result(self)
        if path is not None:
            _atomic_write(Path(path), write_png(fig))
        return fig

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report (tables, embedded PNG, last fills) to ``path``."""
        from hftlib.results.report import render_html

        out = Path(path)
        _atomic_write(out, render_html(self).encode())
        return out

    # --- files -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the result to ``directory`` (created if needed) and return it.

        Writes ``records.parquet``, ``fills.parquet``, ``orders.parquet`` (raw dtype columns),
        ``summary.txt``, ``report.html`` and ``result.json``, each atomically.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for attr, name, _ in _ARRAYS:
            _write_parquet(out / name, getattr(self, attr))
        _atomic_write(out / SUMMARY_FILE, self.summary().encode())
        self.to_html(out / REPORT_FILE)
        doc = {
            "format_version": FORMAT_VERSION,
            "summary": self.to_json(),
            "stats": self.stats(),
            "instruments": [i.to_dict() for i in self.instruments],
            "counters": self.counters,
            "info": self.info,
            "record_interval_ns": self.record_interval_ns,
            "capital": self.capital,
            "currencies": self.currencies,
        }
        _atomic_write(out / RESULT_FILE, dumps(doc).encode())
        return out

    @classmethod
    def load(cls, directory: str | Path) -> BacktestResult:
        """Read a result written by :meth:`save`.

        The arrays come back exactly; ``info`` comes back as its JSON form (tuples as
        lists, non-finite floats as None, unknown objects as strings).
        """
        src = Path(directory)
        doc = json.loads((src / RESULT_FILE).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{src / RESULT_FILE}: format_version {doc.get('format_version')!r}, "
                f"this hftlib reads {FORMAT_VERSION}"
            )
        arrays = {attr: _read_parquet(src / name, dtype) for attr, name, dtype in _ARRAYS}
        return cls(
            arrays["records"],
            arrays["fills"],
            arrays["orders_log"],
            [Instrument.from_dict(d) for d in doc["instruments"]],
            doc["counters"],
            doc["info"],
            record_interval_ns=doc["record_interval_ns"],
            capital=doc["capital"],
            currencies=doc["currencies"],
        )


# --- helpers ---------------------------------------------------------------------------------


def dumps(obj: Any) -> str:
    """Return deterministic JSON text of ``obj`` (sorted keys, NaN-free) ending in a newline."""
    return json.dumps(_clean(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _clean(obj: Any) -> Any:
    """Return ``obj`` as plain JSON types: numpy scalars unwrapped, NaN/inf as None."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def _names(codes: np.ndarray, names: Mapping[int, str]) -> np.ndarray:
    """Map integer codes to names, looking up each distinct code once."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    table = np.array([names.get(int(c), str(int(c))) for c in uniq] or [""], dtype=object)
    out: np.ndarray = table[inverse.reshape(-1)] if len(codes) else table[:0]
    return out


def _time_index(pd: Any, ns: np.ndarray, name: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.to_datetime(np.ascontiguousarray(ns), unit="ns", utc=True), name=name
    )


def _pandas() -> Any:
    import pandas as pd

    return pd


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name and rename it into place."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_parquet(path: Path, arr: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(arr.dtype.names or ())
    table = pa.Table.from_arrays([pa.array(np.ascontiguousarray(arr[n])) for n in names], names)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_parquet(path: Path, dtype: np.dtype[Any]) -> np.ndarray:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out = np.zeros(table.num_rows, dtype=dtype)
    for name in dtype.names or ():
        if name not in table.column_names:
            raise ValueError(f"{path}: column {name!r} missing")
        out[name] = table.column(name).to_numpy()
    return out

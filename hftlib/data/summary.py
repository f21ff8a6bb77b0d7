"""A one-pass summary of an event stream (what `hft data inspect` prints)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hftlib.instrument import Instrument
from hftlib.types import F_REPAIRED_TS, F_SYNTHETIC, K_BBO, K_TRADE, KIND_MASK, KIND_NAMES


@dataclass
class EventSummary:
    """Counts and ranges accumulated chunk by chunk; memory does not grow with rows."""

    rows: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    first_local_ts: int = 0
    last_local_ts: int = 0
    first_exch_ts: int = 0
    last_exch_ts: int = 0
    px_min: int = 0
    px_max: int = 0
    trade_qty: int = 0
    repaired_ts: int = 0
    synthetic: int = 0
    _latency_sum: int = 0
    _priced: bool = False

    def add(self, chunk: np.ndarray) -> None:
        """Fold one chunk into the summary."""
        if not len(chunk):
            return
        kinds = chunk["flags"] & KIND_MASK
        counts = np.bincount(kinds, minlength=KIND_MASK + 1)
        for k in np.flatnonzero(counts):
            name = KIND_NAMES.get(int(k), f"kind{int(k)}")
            self.by_kind[name] = self.by_kind.get(name, 0) + int(counts[k])
        priced = chunk["px"][(kinds == K_TRADE) | (kinds == K_BBO) | (chunk["qty"] > 0)]
        if len(priced):
            lo, hi = int(priced.min()), int(priced.max())
            seen = self._priced
            self.px_min = min(self.px_min, lo) if seen else lo
            self.px_max = max(self.px_max, hi) if seen else hi
            self._priced = True
        if self.rows == 0:
            self.first_local_ts = int(chunk["local_ts"][0])
            self.first_exch_ts = int(chunk["exch_ts"][0])
        self.last_local_ts = int(chunk["local_ts"][-1])
        self.last_exch_ts = int(chunk["exch_ts"][-1])
        self.trade_qty += int(chunk["qty"][kinds == K_TRADE].sum())
        self.repaired_ts += int(np.count_nonzero(chunk["flags"] & F_REPAIRED_TS))
        self.synthetic += int(np.count_nonzero(chunk["flags"] & F_SYNTHETIC))
        self._latency_sum += int((chunk["local_ts"] - chunk["exch_ts"]).sum())
        self.rows += len(chunk)

    def to_dict(self, instrument: Instrument | None = None) -> dict[str, Any]:
        """Return JSON-ready figures; prices and sizes in units too when ``instrument`` is given."""
        span_s = (self.last_local_ts - self.first_local_ts) / 1e9 if self.rows else 0.0
        out: dict[str, Any] = {
            "rows": self.rows,
            "by_kind": dict(sorted(self.by_kind.items())),
            "first_local_time": _iso(self.first_local_ts) if self.rows else None,
            "last_local_time": _iso(self.last_local_ts) if self.rows else None,
            "span_seconds": round(span_s, 6),
            "events_per_second": round(self.rows / span_s, 1) if span_s > 0 else None,
            "mean_feed_latency_us": round(self._latency_sum / self.rows / 1e3, 3)
            if self.rows
            else None,
            "px_min_ticks": self.px_min,
            "px_max_ticks": self.px_max,
            "trade_qty_lots": self.trade_qty,
            "repaired_ts_rows": self.repaired_ts,
            "synthetic_rows": self.synthetic,
        }
        if instrument is not None:
            out["instrument"] = instrument.key
            out["price_min"] = float(instrument.ticks_to_price(self.px_min))
            out["price_max"] = float(instrument.ticks_to_price(self.px_max))
            out["trade_volume"] = float(instrument.lots_to_size(self.trade_qty))
        return out


def summarize(chunks: Iterable[np.ndarray]) -> EventSummary:
    """Summarise every chunk of a stream."""
    summary = EventSummary()
    for chunk in chunks:
        summary.add(chunk)
    return summary


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat(timespec="microseconds")

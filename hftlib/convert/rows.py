"""Event arrays from integer columns, for converters that compute ticks and lots themselves.

:class:`hftlib.convert.base.EventBuilder` converts raw prices through the float tick grid.
The L3 converters (LOBSTER, Bitstamp) convert exactly with :mod:`hftlib.convert.exact` and
build their rows in numba kernels, so they only need to pack finished int64 columns into
:data:`hftlib.types.EVENT_DTYPE` and cut the result into bounded chunks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hftlib.types import EVENT_DTYPE


def pack_events(
    flags: np.ndarray,
    exch_ts: np.ndarray,
    local_ts: np.ndarray,
    px: np.ndarray,
    qty: np.ndarray,
    order_id: np.ndarray,
    seq: np.ndarray,
    aux: np.ndarray,
) -> np.ndarray:
    """Return an event array built from equal-length columns (``asset`` is 0)."""
    out = np.empty(len(flags), dtype=EVENT_DTYPE)
    out["flags"] = flags
    out["asset"] = 0
    out["exch_ts"] = exch_ts
    out["local_ts"] = local_ts
    out["px"] = px
    out["qty"] = qty
    out["order_id"] = order_id
    out["seq"] = seq
    out["aux"] = aux
    return out


class ChunkQueue:
    """Collects event arrays and hands them out in chunks of exactly ``chunk_rows`` rows.

    Parameters
    ----------
    chunk_rows : int
        Rows per yielded chunk; the final :meth:`flush` may yield a shorter one.
    """

    __slots__ = ("_parts", "_rows", "chunk_rows")

    def __init__(self, chunk_rows: int) -> None:
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
        self.chunk_rows = chunk_rows
        self._parts: list[np.ndarray] = []
        self._rows = 0

    def push(self, events: np.ndarray) -> Iterator[np.ndarray]:
        """Queue ``events`` and yield every full chunk now available."""
        if len(events):
            self._parts.append(events)
            self._rows += len(events)
        while self._rows >= self.chunk_rows:
            yield self._take(self.chunk_rows)

    def flush(self) -> Iterator[np.ndarray]:
        """Yield whatever is left (at most one chunk per ``chunk_rows`` rows)."""
        while self._rows:
            yield self._take(min(self._rows, self.chunk_rows))

    def _take(self, n: int) -> np.ndarray:
        joined = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts)
        head, rest = joined[:n], joined[n:]
        self._parts = [rest] if len(rest) else []
        self._rows = len(rest)
        return head

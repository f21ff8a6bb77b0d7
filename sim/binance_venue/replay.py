"""The recorded market: hftlib event files read back as venue messages, in time order.

Rows are grouped into messages by ``F_LAST`` (per instrument, so merged files of several
symbols interleave correctly). A message becomes one exchange step:

- ``K_CLEAR`` followed by ``K_SNAPSHOT`` rows: replace the recorded book (a lone ``K_CLEAR``,
  the converter's gap marker, empties it until the next snapshot);
- ``K_DEPTH`` rows: one diff of absolute sizes;
- ``K_TRADE``: one recorded trade per row (the side flag is the aggressor's);
- ``K_BBO`` rows are not applied: the venue publishes its own best bid/offer from its book.
  They and L3 kinds are counted in :attr:`RecordedMarket.counts` (``bbo``, ``ignored``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hftlib.data.reader import EventStream, group_sources
from hftlib.engine.types import BUY, SELL
from hftlib.instrument import Instrument
from hftlib.types import F_BID, F_LAST, K_BBO, K_CLEAR, K_DEPTH, K_SNAPSHOT, K_TRADE, KIND_MASK

CHUNK_ROWS = 1 << 16

SNAPSHOT = 0
DEPTH = 1
TRADE = 2
OTHER = 3


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded venue message.

    ``rows`` are ``(is_bid, price ticks, lots)`` for book messages and ``(taker_side, price
    ticks, lots)`` for trades.
    """

    local_ts: int
    symbol: str
    kind: int
    rows: Sequence[tuple[int, int, int]]


class RecordedMarket:
    """Event files of one or more instruments, replayed as messages.

    Parameters
    ----------
    paths : Sequence[str | Path]
        hftlib event files (``.npy``/``.parquet``) or folders of them; files of one
        instrument are consecutive parts of one recording.
    """

    def __init__(self, paths: Sequence[str | Path], chunk_rows: int = CHUNK_ROWS) -> None:
        self.sources = group_sources(paths)
        self.instruments: list[Instrument] = [s.instrument for s in self.sources]
        self.chunk_rows = chunk_rows
        self.counts: dict[str, int] = {"messages": 0, "rows": 0, "bbo": 0, "ignored": 0}
        self._iter: Iterator[Message] | None = None
        self.done = False

    @property
    def rows(self) -> int:
        """Total rows over all files."""
        return sum(s.rows for s in self.sources)

    def next(self) -> Message | None:
        """Return the next message, or None at the end of the recording."""
        if self._iter is None:
            self._iter = self._messages()
        msg = next(self._iter, None)
        if msg is None:
            self.done = True
        return msg

    def _messages(self) -> Iterator[Message]:
        symbols = [inst.symbol for inst in self.instruments]
        counts = self.counts
        carry: np.ndarray | None = None
        for chunk in EventStream(self.sources, chunk_rows=self.chunk_rows):
            counts["rows"] += len(chunk)
            if carry is not None:
                chunk = np.concatenate([carry, chunk])
            ends = np.flatnonzero(chunk["flags"] & F_LAST)
            if not len(ends):
                carry = chunk
                continue
            cut = int(ends[-1]) + 1
            carry = chunk[cut:] if cut < len(chunk) else None
            yield from self._split(chunk[:cut], ends, symbols)
        if carry is not None and len(carry):  # a recording cut mid-message: apply what is there
            ends = np.array([len(carry) - 1])
            yield from self._split(carry, ends, symbols)

    def _split(self, body: np.ndarray, ends: np.ndarray, symbols: list[str]) -> Iterator[Message]:
        """Yield the messages of rows ending (``F_LAST``) at ``ends``."""
        counts = self.counts
        flags = body["flags"]
        kinds = (flags & KIND_MASK).tolist()
        is_bid = ((flags & F_BID) != 0).tolist()
        assets = body["asset"].tolist()
        ts = body["local_ts"].tolist()
        px = body["px"].tolist()
        qty = body["qty"].tolist()
        start = 0
        for end in (ends + 1).tolist():
            s, start = start, end
            kind = kinds[s]
            if kind == K_BBO and kinds[end - 1] == K_BBO:
                counts["bbo"] += end - s
                continue
            if assets[s] != assets[end - 1] or len(set(assets[s:end])) > 1:
                # rows of several instruments between two ends: rare; keep each one's rows
                for asset in sorted(set(assets[s:end])):
                    idx = [i for i in range(s, end) if assets[i] == asset]
                    msg = _message(
                        symbols[asset],
                        kinds[idx[0]],
                        ts[idx[-1]],
                        [is_bid[i] for i in idx],
                        [px[i] for i in idx],
                        [qty[i] for i in idx],
                        [kinds[i] for i in idx],
                        counts,
                    )
                    if msg is not None:
                        yield msg
                continue
            msg = _message(
                symbols[assets[s]],
                kind,
                ts[end - 1],
                is_bid[s:end],
                px[s:end],
                qty[s:end],
                kinds[s:end],
                counts,
            )
            if msg is not None:
                yield msg


def _message(
    symbol: str,
    kind: int,
    ts: int,
    is_bid: list[bool],
    px: list[int],
    qty: list[int],
    kinds: list[int],
    counts: dict[str, int],
) -> Message | None:
    if kind == K_DEPTH:
        msg = Message(ts, symbol, DEPTH, list(zip(is_bid, px, qty, strict=True)))
    elif kind == K_TRADE:
        sides = [BUY if b else SELL for b in is_bid]
        msg = Message(ts, symbol, TRADE, list(zip(sides, px, qty, strict=True)))
    elif kind in (K_CLEAR, K_SNAPSHOT):
        rows = [
            (b, p, q) for b, p, q, k in zip(is_bid, px, qty, kinds, strict=True) if k == K_SNAPSHOT
        ]
        msg = Message(ts, symbol, SNAPSHOT, rows)
    else:
        counts["bbo" if kind == K_BBO else "ignored"] += len(px)
        return None
    counts["messages"] += 1
    return msg

"""Book-level row helpers shared by the vendor converters: whole-book clears, bounded chunks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hftlib.convert.base import EventBuilder
from hftlib.types import F_ASK, F_BID, F_SYNTHETIC, K_CLEAR

WHOLE_BOOK_CLEAR = K_CLEAR | F_BID | F_ASK
"""Flags of a ``K_CLEAR`` that empties both sides of the book."""


def add_clear(
    builder: EventBuilder,
    exch_ts: int,
    local_ts: int,
    *,
    seq: int,
    line: int,
    synthetic: bool = False,
) -> None:
    """Add a whole-book ``K_CLEAR`` row (price ``NO_PX``).

    Parameters
    ----------
    builder : EventBuilder
        Receives the row.
    exch_ts, local_ts : int
        Timestamps in ns, those of the message the clear belongs to.
    seq : int
        Sequence of that message (all its rows share it).
    line : int
        Input line the clear comes from, for error messages.
    synthetic : bool
        Flag the row :data:`F_SYNTHETIC`: the converter made it (a resync after a gap),
        the venue did not send it. Default False.
    """
    flags = WHOLE_BOOK_CLEAR | (F_SYNTHETIC if synthetic else 0)
    builder.add_clear(flags, exch_ts, local_ts, seq=seq, line=line)


def drain(builder: EventBuilder) -> Iterator[np.ndarray]:
    """Convert the builder's pending rows and yield them in slices of at most ``chunk_rows``.

    Call it only between messages: the builder moves a rejected row's ``F_LAST`` within the
    rows it converts at once, so a message must not straddle two calls.
    """
    out = builder.take()
    if len(out) == 0:
        return
    step = builder.chunk_rows
    for start in range(0, len(out), step):
        yield out[start : start + step]

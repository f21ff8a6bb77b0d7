"""The one event format: every market-data event hftlib reads, stores or replays.

Each event is one 64-byte row of :data:`EVENT_DTYPE` (a C-aligned numpy structured
dtype, so a memory-mapped ``.npy`` file is an array of cache-line-sized records).
Prices and sizes are fixed point: ``px`` counts ticks and ``qty`` counts lots of the
file's :class:`hftlib.instrument.Instrument`; they are converted once, at ingest.

Fields
------
flags : uint32
    ``kind`` in bits 0-7 (one of the ``K_*`` constants) OR-ed with ``F_*`` flag bits.
asset : uint32
    Index of the instrument in a merged stream (the order of sources given to
    :class:`hftlib.data.reader.EventStream`); 0 in a single-instrument file.
exch_ts : int64
    Exchange timestamp, ns since the Unix epoch (the venue's event/transaction time).
local_ts : int64
    Local receive timestamp, ns since the Unix epoch. Streams are ordered by it and it is
    never earlier than ``exch_ts`` once validated (see :mod:`hftlib.data.validate`).
px : int64
    Price in ticks (``NO_PX`` where a kind has no price, e.g. a whole-side ``K_CLEAR``).
qty : int64
    Size in lots. For ``K_DEPTH``/``K_SNAPSHOT``/``K_BBO`` it is the *absolute* size now
    resting at ``px`` (0 deletes the level); for ``K_TRADE``/``K_L3_FILL`` the executed
    size; for ``K_L3_ADD``/``K_L3_MODIFY`` the order's remaining size after the event; for
    ``K_L3_CANCEL`` the size removed.
order_id : int64
    ``K_L3_*``: the venue order id. ``K_TRADE``: the resting (maker) order id when the venue
    publishes it, else ``NO_ID``.
seq : int64
    The venue's sequence for the message the row came from: Binance depth/bookTicker ``u``
    (final update id), trade id for trades, Bybit ``u``, LOBSTER/Bitstamp row number when
    the venue has none. All rows of one message share it.
aux : int64
    Kind-specific. ``K_DEPTH``: the id this message chains from (Binance spot ``U - 1``,
    USD-M ``pu``), so a gap is ``aux != previous seq``; ``NO_ID`` when the venue has no
    chain. ``K_TRADE``: the taker order id when published. ``K_L3_FILL``: the trade id.
    Otherwise ``NO_ID``.

Kinds
-----
K_DEPTH      an L2 level update (absolute size at ``px`` on the flagged side)
K_TRADE      a public trade; the side flag is the *aggressor* (taker) side
K_SNAPSHOT   one level of a book snapshot; a snapshot starts with a ``K_CLEAR``
K_CLEAR      remove every level of the flagged side(s) (both flags: whole book)
K_BBO        best bid or offer (one row per side, as the venue's top-of-book feed says)
K_L3_ADD     an order enters the book
K_L3_MODIFY  an order changes size and/or price (``px``/``qty`` are the new values)
K_L3_CANCEL  an order leaves the book without trading (``qty`` = size removed)
K_L3_FILL    a resting order trades (``qty`` = size executed; it leaves when none remains)

Flags
-----
F_BID / F_ASK    side: the bid (buy) side or the ask (sell) side
F_LAST           last row of one venue message: the book is consistent after this row
F_REPAIRED_TS    ``local_ts`` was raised by the validator (negative feed latency)
F_SYNTHETIC      made by the recorder, not the venue (e.g. Bitstamp's start-of-capture book)
"""

from __future__ import annotations

from typing import Final

import numpy as np

EVENT_DTYPE: Final = np.dtype(
    [
        ("flags", "<u4"),
        ("asset", "<u4"),
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("px", "<i8"),
        ("qty", "<i8"),
        ("order_id", "<i8"),
        ("seq", "<i8"),
        ("aux", "<i8"),
    ],
    align=True,
)
"""One event row; see the module docstring for every field."""

EVENT_FIELDS: Final = tuple(EVENT_DTYPE.names or ())

# --- kinds (bits 0-7 of ``flags``) -------------------------------------------------------
KIND_MASK: Final = 0xFF
K_DEPTH: Final = 1
K_TRADE: Final = 2
K_SNAPSHOT: Final = 3
K_CLEAR: Final = 4
K_BBO: Final = 5
K_L3_ADD: Final = 6
K_L3_MODIFY: Final = 7
K_L3_CANCEL: Final = 8
K_L3_FILL: Final = 9

KIND_NAMES: Final = {
    K_DEPTH: "depth",
    K_TRADE: "trade",
    K_SNAPSHOT: "snapshot",
    K_CLEAR: "clear",
    K_BBO: "bbo",
    K_L3_ADD: "l3_add",
    K_L3_MODIFY: "l3_modify",
    K_L3_CANCEL: "l3_cancel",
    K_L3_FILL: "l3_fill",
}

# --- flag bits ----------------------------------------------------------------------------
F_BID: Final = 1 << 8
F_ASK: Final = 1 << 9
F_LAST: Final = 1 << 10
F_REPAIRED_TS: Final = 1 << 11
F_SYNTHETIC: Final = 1 << 12
SIDE_MASK: Final = F_BID | F_ASK

# --- sentinels ------------------------------------------------------------------------------
NO_ID: Final = -1
"""An id field with no value (no order id, no chain id)."""
NO_PX: Final = np.iinfo(np.int64).min
"""A price field with no value (e.g. a whole-side clear)."""


def empty_events(n: int = 0) -> np.ndarray:
    """Return a zero-filled event array of ``n`` rows with id fields set to ``NO_ID``."""
    out = np.zeros(n, dtype=EVENT_DTYPE)
    out["order_id"] = NO_ID
    out["aux"] = NO_ID
    return out


def kind_of(flags: np.ndarray | int) -> np.ndarray | int:
    """Return the kind part of ``flags`` (vectorised over arrays)."""
    return flags & KIND_MASK


def describe_flags(flags: int) -> str:
    """Return a readable form of one ``flags`` value, e.g. ``'depth|bid|last'``."""
    parts = [KIND_NAMES.get(flags & KIND_MASK, f"kind{flags & KIND_MASK}")]
    for bit, name in (
        (F_BID, "bid"),
        (F_ASK, "ask"),
        (F_LAST, "last"),
        (F_REPAIRED_TS, "repaired_ts"),
        (F_SYNTHETIC, "synthetic"),
    ):
        if flags & bit:
            parts.append(name)
    return "|".join(parts)


if EVENT_DTYPE.itemsize != 64:  # the layout is a contract: one row, one cache line
    raise ImportError(f"EVENT_DTYPE is {EVENT_DTYPE.itemsize} bytes, expected 64")

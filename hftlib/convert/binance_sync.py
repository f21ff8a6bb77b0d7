"""Binance local order book sync: the official diff/snapshot procedure as a state machine.

Pure logic with no I/O and no event output, so it can be tested on its own. The converter
(:mod:`hftlib.convert.binance_ws`) feeds it every depth diff's update ids and every REST
snapshot's ``lastUpdateId`` and acts on the verdicts.

States
------
WAITING
    No valid book. Diffs are buffered (the caller's payload is kept) until a snapshot bridges them.
BRIDGING
    A snapshot was accepted and emitted; no diff applied yet. The next diff must bridge the
    snapshot's ``lastUpdateId`` (older ones are discarded as the procedure says).
SYNCED
    The book is valid at update id :attr:`BookSync.book_id`; each diff must chain exactly.

Rules (venue-protocols.md §1.4, §2)
-----------------------------------
===============  ===================================  ===================================
rule             spot                                 USD-M futures
===============  ===================================  ===================================
discard          ``u <= lastUpdateId``                ``u < lastUpdateId``
bridge           ``U <= lastUpdateId + 1 <= u``       ``U <= lastUpdateId <= u``
chain            ``U == previous u + 1``              ``pu == previous u``
===============  ===================================  ===================================

A diff that does not chain is a gap unless its ``u`` is at or below the book id, which means
the stream went backwards (a duplicate or replayed message): that is reported as
:data:`STALE` and changes nothing.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

WAITING: Final = 0
BRIDGING: Final = 1
SYNCED: Final = 2

# --- verdicts on a diff ------------------------------------------------------------------------
APPLY: Final = 0
"""Apply the diff to the book (it chains or bridges)."""
BUFFER: Final = 1
"""The diff was buffered: no book yet."""
DISCARD: Final = 2
"""The diff is older than the snapshot: drop it (normal right after a snapshot)."""
STALE: Final = 3
"""The diff's ``u`` is not above the book id: the stream went backwards; nothing changed."""
GAP: Final = 4
"""The diff does not chain: the book is invalid; the diff was buffered for the next snapshot."""

# --- verdicts on a snapshot --------------------------------------------------------------------
ACCEPTED: Final = 0
"""Emit the snapshot, then apply (through :meth:`BookSync.diff`) the diffs returned with it."""
TOO_OLD: Final = 1
"""The snapshot predates the first buffered diff that it would need: keep waiting."""
IGNORED: Final = 2
"""The book is already synced; a REST snapshot adds nothing."""


class BookSync:
    """Track one Binance diff stream's sync state.

    Parameters
    ----------
    futures : bool
        Use the USD-M/COIN-M rules (``pu`` chain) instead of the spot rules (``U`` chain).
    """

    __slots__ = ("book_id", "buffer", "futures", "state")

    def __init__(self, futures: bool) -> None:
        self.futures = futures
        self.state = WAITING
        self.book_id = -1
        self.buffer: deque[tuple[int, int, Any]] = deque()

    def diff(self, first: int, last: int, prev: int, payload: Any = None) -> int:
        """Return the verdict for a diff ``[first, last]`` chained from ``prev``; update the state.

        ``prev`` is ``pu`` on futures and ``U - 1`` on spot. ``payload`` is kept with the
        diff when it is buffered (:data:`BUFFER` or :data:`GAP`).
        """
        state = self.state
        if state == SYNCED:
            if prev == self.book_id if self.futures else first == self.book_id + 1:
                self.book_id = last
                return APPLY
            if last <= self.book_id:
                return STALE
            self.state = WAITING
            self.buffer.append((first, last, payload))
            return GAP
        if state == BRIDGING:
            lid = self.book_id
            if last < lid or (last == lid and not self.futures):
                return DISCARD
            if self._bridges(first, last, lid):
                self.state = SYNCED
                self.book_id = last
                return APPLY
            self.state = WAITING
            self.buffer.append((first, last, payload))
            return GAP
        self.buffer.append((first, last, payload))
        return BUFFER

    def snapshot(self, last_update_id: int) -> tuple[int, list[Any], list[Any]]:
        """Return ``(verdict, payloads to apply in order, payloads discarded as too old)``.

        On :data:`ACCEPTED` the state becomes BRIDGING at ``last_update_id`` and the caller
        must emit the snapshot and then pass each returned payload's diff to :meth:`diff`
        again (a gap among them is detected there).
        """
        if self.state == SYNCED:
            return IGNORED, [], []
        lid = last_update_id
        keep = list(self.buffer)
        n_old = 0
        for _, last, _ in keep:
            if last < lid or (last == lid and not self.futures):
                n_old += 1
            else:
                break
        rest = keep[n_old:]
        # Every diff left ends at or past the bridge target, so a miss means it starts after it.
        if rest and not self._bridges(rest[0][0], rest[0][1], lid):
            return TOO_OLD, [], []
        self.buffer.clear()
        self.state = BRIDGING
        self.book_id = lid
        return ACCEPTED, [p for _, _, p in rest], [p for _, _, p in keep[:n_old]]

    def chained(self, last_update_id: int) -> None:
        """Record diffs applied outside :meth:`diff` (the converter's compiled lane).

        The lane applies only diffs that chain onto a synced book, so the state stays SYNCED
        and only the book id moves on.
        """
        if self.state != SYNCED:
            raise RuntimeError("chained() needs a synced book")
        self.book_id = last_update_id

    def evict_oldest(self) -> Any:
        """Remove and return the oldest buffered payload (to bound memory while unsynced)."""
        return self.buffer.popleft()[2]

    def drain(self) -> list[Any]:
        """Remove and return every buffered payload (at end of input: never applied)."""
        out = [p for _, _, p in self.buffer]
        self.buffer.clear()
        return out

    def _bridges(self, first: int, last: int, lid: int) -> bool:
        target = lid if self.futures else lid + 1
        return first <= target <= last

"""Client order ids: engine order slots <-> the strings venues key orders by.

An id is ``hft-<strategy>-<session>-<counter>``: the ``hft-`` prefix marks orders this system
sent; ``<strategy>`` is the strategy id (shortened with a digest when long); ``<session>``
(base 36) tells runs apart so a restarted runner never reuses an id of an order still open
at the venue; ``<counter>`` (base 36) counts the run's requests. Ids are deterministic (the
same session and request sequence give the same ids), unique within a session, at most
36 characters (Binance's limit) and use only ``[a-z0-9._-]``, which every supported venue
accepts.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

PREFIX: Final = "hft-"
MAX_LEN: Final = 36
SID_MAX: Final = 15
"""Longest strategy part kept as it is; longer ids become 7 chars + '.' + 7 hex digest."""
SESSION_MAX: Final = 36**7 - 1
COUNTER_MAX: Final = 36**8 - 1

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_PATTERN = re.compile(r"^hft-([a-z0-9_.]{1,15})-([0-9a-z]{1,7})-([0-9a-z]{1,8})$")


def _base36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


def strategy_tag(strategy_id: str) -> str:
    """Return the strategy part of an id: the id itself, or a short form with a digest."""
    sid = strategy_id.lower()
    if not sid or not re.fullmatch(r"[a-z0-9_]+", sid):
        raise ValueError(f"strategy id {strategy_id!r} must be lower case letters, digits and _")
    if len(sid) <= SID_MAX:
        return sid
    digest = hashlib.sha256(sid.encode()).hexdigest()[:7]
    return f"{sid[:7]}.{digest}"


def make_client_id(strategy_id: str, session: int, counter: int) -> str:
    """Return the client id of request ``counter`` of ``strategy_id`` in ``session``."""
    if not 0 <= session <= SESSION_MAX:
        raise ValueError(f"session must be in 0..{SESSION_MAX}, got {session}")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError(f"counter must be in 0..{COUNTER_MAX}, got {counter}")
    return f"{PREFIX}{strategy_tag(strategy_id)}-{_base36(session)}-{_base36(counter)}"


def parse_client_id(client_id: str) -> tuple[str, int, int] | None:
    """Return ``(strategy tag, session, counter)`` of one of our ids, or None."""
    m = _PATTERN.match(client_id)
    if m is None:
        return None
    return m.group(1), int(m.group(2), 36), int(m.group(3), 36)


class ClientIds:
    """Map a strategy's order slots to client ids and back.

    A slot keeps every id it was known by (a venue that replaces an order on modify gives it
    a new id) until the slot is reused by a new order; a report for a forgotten id is
    not ours any more (the engine would ignore it too).
    """

    def __init__(self, strategy_id: str, session: int = 0) -> None:
        self.strategy_id = strategy_id
        self.tag = strategy_tag(strategy_id)
        self.session = session
        self.counter = 0
        self._slot: dict[str, tuple[int, int]] = {}
        self._ids: dict[int, list[str]] = {}
        self._current: dict[int, str] = {}

    def next_id(self) -> str:
        """Return a fresh id (the counter advances)."""
        self.counter += 1
        return make_client_id(self.strategy_id, self.session, self.counter)

    def new_order(self, slot: int, order_id: int) -> str:
        """Return the id of a new order in ``slot``, forgetting the slot's earlier orders."""
        for old in self._ids.pop(slot, ()):
            self._slot.pop(old, None)
        self._current.pop(slot, None)
        cid = self.next_id()
        self._slot[cid] = (slot, order_id)
        self._ids[slot] = [cid]
        self._current[slot] = cid
        return cid

    def alias(self, slot: int, client_id: str) -> None:
        """Let ``client_id`` also name the order in ``slot`` (the id a modify offers).

        Venues that amend in place keep reporting the old id; venues that replace the
        order report the new one, which then becomes current (:meth:`seen`).
        """
        ids = self._ids.get(slot)
        if not ids:
            raise KeyError(f"slot {slot} holds no order of ours")
        order_id = self._slot[ids[0]][1]
        self._slot[client_id] = (slot, order_id)
        ids.append(client_id)

    def seen(self, client_id: str) -> None:
        """Note that the venue reported the order under ``client_id`` (it becomes current)."""
        hit = self._slot.get(client_id)
        if hit is not None:
            self._current[hit[0]] = client_id

    def current(self, slot: int) -> str:
        """Return the id the venue knows the order in ``slot`` by (last reported, or first)."""
        return self._current[slot]

    def lookup(self, client_id: str) -> tuple[int, int] | None:
        """Return ``(slot, order_id)`` of an id, or None if it is not (or no longer) ours."""
        return self._slot.get(client_id)

    def __len__(self) -> int:
        return len(self._slot)

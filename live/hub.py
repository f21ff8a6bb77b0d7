"""What both run loops share: which host gets which message, and which venue takes a request.

:class:`Hub` holds the run's strategy hosts and venues (by name). Market batches go to every
host trading the batch's ``(venue, symbol)``; order updates go to the host whose client-id
tag (:mod:`hftlib.live.ids`) they carry; reports of ids that are not ours are counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from hftlib.live.host import HostRequest, StrategyHost
from hftlib.live.ids import parse_client_id

from hftlib.venue.interface import MarketBatch, OrderUpdate, Venue

log = logging.getLogger("hftlib.live")


class Hub:
    """Route market data and order updates between venues and strategy hosts."""

    def __init__(self, venues: Mapping[str, Venue], hosts: Sequence[StrategyHost]) -> None:
        self.venues = dict(venues)
        self.hosts = list(hosts)
        self._by_tag = {h.ids.tag: h for h in self.hosts}
        if len(self._by_tag) != len(self.hosts):
            raise ValueError("two strategies share a client-id tag; give them distinct ids")
        self._subscribers: dict[tuple[str, str], list[StrategyHost]] = {}
        for h in self.hosts:
            for venue, symbol in h.assets:
                if venue not in self.venues:
                    raise ValueError(f"strategy {h.strategy_id} trades on unknown venue {venue}")
                self._subscribers.setdefault((venue, symbol), []).append(h)
        self.foreign_updates = 0

    def symbols(self, venue: str) -> list[str]:
        """Return the symbols any strategy trades on ``venue``, in first-seen order."""
        return list(dict.fromkeys(s for (v, s) in self._subscribers if v == venue))

    def market(self, venue: str, batch: MarketBatch) -> list[HostRequest]:
        """Feed a batch to the hosts trading it; return their requests."""
        out: list[HostRequest] = []
        for h in self._subscribers.get((venue, batch.symbol), ()):
            out += h.feed(venue, batch)
        return out

    def host_of(self, client_id: str) -> StrategyHost | None:
        """Return the host that sent ``client_id``, or None."""
        parsed = parse_client_id(client_id)
        return None if parsed is None else self._by_tag.get(parsed[0])

    def update(self, update: OrderUpdate, req: int) -> list[HostRequest]:
        """Give an order update to the host that sent the order; return its requests."""
        host = self.host_of(update.client_id)
        if host is None:
            self.foreign_updates += 1
            log.debug("update for an order that is not ours: %s", update.client_id)
            return []
        return host.report(update, req)

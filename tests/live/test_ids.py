"""Client order ids: format, uniqueness and the slot mapping (hypothesis properties)."""

from __future__ import annotations

import re

import pytest
from hftlib.live.ids import (
    COUNTER_MAX,
    MAX_LEN,
    SESSION_MAX,
    ClientIds,
    make_client_id,
    parse_client_id,
    strategy_tag,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# Binance's clientOrderId / newClientOrderId rule, the strictest of the supported venues
BINANCE_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

strategy_ids = st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True)
sessions = st.integers(0, SESSION_MAX)
counters = st.integers(0, COUNTER_MAX)


@settings(max_examples=200, deadline=None)
@given(strategy_ids, sessions, counters)
def test_ids_fit_every_venue_and_parse_back(sid: str, session: int, counter: int) -> None:
    cid = make_client_id(sid, session, counter)
    assert cid.startswith("hft-")
    assert len(cid) <= MAX_LEN
    assert BINANCE_ID.match(cid)
    assert parse_client_id(cid) == (strategy_tag(sid), session, counter)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(strategy_ids, sessions, counters), min_size=2, max_size=30, unique=True))
def test_distinct_requests_get_distinct_ids(keys: list[tuple[str, int, int]]) -> None:
    tags = {strategy_tag(s) for s, _, _ in keys}
    sids = {s for s, _, _ in keys}
    if len(tags) == len(sids):  # distinct strategies keep distinct tags (digest for long ids)
        ids = [make_client_id(*k) for k in keys]
        assert len(set(ids)) == len(ids)


@settings(max_examples=100, deadline=None)
@given(strategy_ids, sessions, st.lists(st.integers(0, 7), min_size=1, max_size=60))
def test_slot_mapping_follows_reuse(sid: str, session: int, slots: list[int]) -> None:
    ids = ClientIds(sid, session)
    latest: dict[int, str] = {}
    issued: list[str] = []
    for order_id, slot in enumerate(slots, start=1):
        cid = ids.new_order(slot, order_id)
        issued.append(cid)
        latest[slot] = cid
        assert ids.lookup(cid) == (slot, order_id)
        assert ids.current(slot) == cid
    assert len(set(issued)) == len(issued)  # deterministic counter: never repeats
    for cid in issued:  # an id is forgotten exactly when its slot took a newer order
        assert (ids.lookup(cid) is not None) == (cid in latest.values())
    assert len(ids) == len(latest)
    again = ClientIds(sid, session)
    assert [again.new_order(s, i) for i, s in enumerate(slots, start=1)] == issued


def test_modify_alias_becomes_current_once_the_venue_uses_it() -> None:
    ids = ClientIds("mm", 5)
    cid = ids.new_order(3, 11)
    new = ids.next_id()
    ids.alias(3, new)
    assert ids.current(3) == cid  # an amend-in-place venue keeps reporting the old id
    assert ids.lookup(new) == (3, 11)
    ids.seen(new)  # a cancel-replace venue reported the new one
    assert ids.current(3) == new
    with pytest.raises(KeyError):
        ids.alias(4, "hft-x-0-1")


def test_long_strategy_ids_are_shortened_with_a_digest() -> None:
    long_a = "market_maker_btc_usdt_perpetual_a"
    long_b = "market_maker_btc_usdt_perpetual_b"
    assert strategy_tag(long_a) != strategy_tag(long_b)
    assert len(strategy_tag(long_a)) == 15
    assert strategy_tag("mm") == "mm"


@pytest.mark.parametrize(
    ("sid", "session", "counter"),
    [("Bad-Id", 0, 0), ("", 0, 0), ("ok", -1, 0), ("ok", SESSION_MAX + 1, 0), ("ok", 0, -1)],
)
def test_bad_inputs_are_refused(sid: str, session: int, counter: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        make_client_id(sid, session, counter)


def test_foreign_ids_do_not_parse() -> None:
    for text in ("web-123", "hft-", "hft-mm-0", "hft-MM-0-1", "x" * 40):
        assert parse_client_id(text) is None

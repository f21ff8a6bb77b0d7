"""The reference books are the oracle for verifiers: check them against plain dict models."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftlib.refbook import L2Book, L3Book
from hftlib.types import (
    F_ASK,
    F_BID,
    K_CLEAR,
    K_DEPTH,
    K_L3_ADD,
    K_L3_CANCEL,
    K_L3_FILL,
    K_L3_MODIFY,
    K_SNAPSHOT,
    NO_PX,
)

level_ops = st.lists(
    st.tuples(st.booleans(), st.integers(90, 110), st.integers(0, 5)), max_size=200
)


@settings(max_examples=200, deadline=None)
@given(level_ops)
def test_l2_book_matches_a_dict_model(ops: list[tuple[bool, int, int]]) -> None:
    book = L2Book()
    model: dict[bool, dict[int, int]] = {True: {}, False: {}}
    for is_bid, px, qty in ops:
        book.apply(K_DEPTH | (F_BID if is_bid else F_ASK), px, qty)
        if qty:
            model[is_bid][px] = qty
        else:
            model[is_bid].pop(px, None)
        assert dict(book.bids) == model[True]
        assert dict(book.asks) == model[False]
        bb = max(model[True].items(), default=None)
        ba = min(model[False].items(), default=None)
        assert book.best_bid() == bb
        assert book.best_ask() == ba
        assert book.crossed() == bool(bb and ba and bb[0] >= ba[0])
        assert 0 not in book.bids.values()
        assert 0 not in book.asks.values()


def test_clear_whole_book_one_side_and_through_a_price() -> None:
    book = L2Book()
    for px in (97, 98, 99):
        book.apply(K_SNAPSHOT | F_BID, px, 1)
    for px in (101, 102, 103):
        book.apply(K_SNAPSHOT | F_ASK, px, 1)
    book.apply(K_CLEAR | F_BID, 98, 0)
    assert list(book.bids) == [97]
    book.apply(K_CLEAR | F_ASK, 102, 0)
    assert list(book.asks) == [103]
    book.apply(K_CLEAR | F_ASK, NO_PX, 0)
    assert not book.asks
    assert list(book.bids) == [97]
    book.apply(K_CLEAR | F_BID | F_ASK, NO_PX, 0)
    assert not book.bids


l3_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "modify", "cancel", "fill"]),
        st.integers(0, 12),
        st.booleans(),
        st.integers(95, 105),
        st.integers(1, 9),
    ),
    max_size=150,
)


@settings(max_examples=200, deadline=None)
@given(l3_ops)
def test_l3_book_aggregates_to_the_right_levels(ops) -> None:
    book = L3Book()
    model: dict[int, tuple[bool, int, int]] = {}
    for op, oid, is_bid, px, qty in ops:
        side = F_BID if is_bid else F_ASK
        if op == "add" and oid not in model:
            book.apply(K_L3_ADD | side, oid, px, qty)
            model[oid] = (is_bid, px, qty)
        elif op == "modify" and oid in model:
            book.apply(K_L3_MODIFY, oid, px, qty)
            model[oid] = (model[oid][0], px, qty)
        elif op in ("cancel", "fill") and oid in model:
            book.apply(K_L3_CANCEL if op == "cancel" else K_L3_FILL, oid, 0, qty)
            b, p, q = model[oid]
            if q - qty > 0:
                model[oid] = (b, p, q - qty)
            else:
                del model[oid]
        levels: dict[bool, dict[int, int]] = {True: {}, False: {}}
        for b, p, q in model.values():
            levels[b][p] = levels[b].get(p, 0) + q
        assert dict(book.levels.bids) == levels[True]
        assert dict(book.levels.asks) == levels[False]
        assert set(book.orders) == set(model)


def test_l3_unknown_and_duplicate_ids_raise() -> None:
    book = L3Book()
    book.add(1, True, 100, 5)
    with pytest.raises(KeyError, match="already"):
        book.add(1, True, 100, 5)
    with pytest.raises(KeyError):
        book.apply(K_L3_CANCEL, 2, 100, 1)
    assert book.remove(1).qty == 5
    assert not book.levels.bids


def test_from_events_replays_an_event_array() -> None:
    from hftlib.types import F_LAST, empty_events

    ev = empty_events(3)
    ev["flags"] = [K_SNAPSHOT | F_BID, K_SNAPSHOT | F_ASK | F_LAST, K_DEPTH | F_BID | F_LAST]
    ev["px"] = [99, 101, 99]
    ev["qty"] = [5, 6, 0]
    book = L2Book.from_events(ev)
    assert book.best_bid() is None
    assert book.best_ask() == (101, 6)

"""The matching engine's rules, one scenario each (the state machine covers combinations)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hftlib.sim.matching import (
    RECORDED,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_NONE,
    WOULD_MATCH,
    EngineError,
    Fees,
    MatchingEngine,
)

from hftlib.engine.types import BUY, OT_MARKET, SELL, TIF_FOK, TIF_GTX, TIF_IOC


def engine() -> MatchingEngine:
    e = MatchingEngine(
        Fees(Decimal("0.0002"), Decimal("0.0005")), Decimal("0.0001"), Decimal("0.001")
    )
    e.reset_recorded([(True, 100, 5), (True, 99, 3), (False, 101, 4), (False, 102, 6)])
    return e


def test_price_time_priority_between_participants() -> None:
    e = engine()
    first, _ = e.submit(1, SELL, 2, 103)
    second, _ = e.submit(2, SELL, 2, 103)
    better, _ = e.submit(3, SELL, 1, 102)
    _, reports = e.submit(4, BUY, 14, 103)
    makers = [
        (r.fill.maker_account, r.fill.price, r.fill.qty)
        for r in reports
        if r.fill and not r.is_maker
    ]
    # recorded 101 (4), then 102: the recorded 6 queued before account 3, then 103: 1 then 2
    assert makers == [(RECORDED, 101, 4), (RECORDED, 102, 6), (3, 102, 1), (1, 103, 2), (2, 103, 1)]
    assert first.status == "FILLED"
    assert second.status == "PARTIALLY_FILLED"
    assert better.status == "FILLED"


def test_limit_maker_is_rejected_when_it_would_take() -> None:
    e = engine()
    order, reports = e.submit(1, BUY, 1, 101, tif=TIF_GTX)
    assert order.status == "REJECTED"
    assert reports[0].reason == WOULD_MATCH
    assert e.depth() == ([(100, 5), (99, 3)], [(101, 4), (102, 6)])
    resting, _ = e.submit(1, BUY, 1, 100, tif=TIF_GTX)
    assert resting.status == "NEW"
    assert e.level_size(True, 100) == 6


def test_fok_fills_completely_or_expires_untouched() -> None:
    e = engine()
    order, reports = e.submit(1, BUY, 11, 102, tif=TIF_FOK)
    assert order.status == "EXPIRED"
    assert order.filled == 0
    assert [r.exec_type for r in reports] == ["NEW", "EXPIRED"]
    order, _ = e.submit(1, BUY, 10, 102, tif=TIF_FOK)
    assert order.status == "FILLED"
    assert order.quote == 4 * 101 + 6 * 102


def test_ioc_and_market_expire_the_rest() -> None:
    e = engine()
    ioc, reports = e.submit(1, SELL, 10, 100, tif=TIF_IOC)
    assert (ioc.status, ioc.filled) == ("EXPIRED", 5)
    assert reports[-1].exec_type == "EXPIRED"
    market, _ = e.submit(1, SELL, 10, order_type=OT_MARKET)
    assert (market.status, market.filled) == ("EXPIRED", 3)
    assert e.best(True) is None


def test_self_trade_prevention_modes() -> None:
    e = engine()
    maker, _ = e.submit(1, SELL, 2, 101)  # behind the recorded 4 at 101
    taker, reports = e.submit(1, BUY, 10, 101)  # default: expire taker
    assert taker.status == "EXPIRED_IN_MATCH"
    assert taker.filled == 4
    assert maker.status == "NEW"
    assert reports[-1].exec_type == "TRADE_PREVENTION"
    taker, _ = e.submit(1, BUY, 1, 101, stp=STP_EXPIRE_MAKER)
    assert maker.status == "EXPIRED_IN_MATCH"
    assert taker.status == "NEW"
    m2, _ = e.submit(2, SELL, 1, 102)
    t2, _ = e.submit(2, BUY, 1, 102, stp=STP_EXPIRE_BOTH)
    assert (t2.status, m2.status) == ("FILLED", "NEW")  # the recorded 6 came first
    b1, _ = e.submit(2, BUY, 6, 102, stp=STP_EXPIRE_BOTH)  # 5 recorded left, then own m2
    assert (b1.filled, b1.status, m2.status) == (5, "EXPIRED_IN_MATCH", "EXPIRED_IN_MATCH")
    own, _ = e.submit(3, SELL, 1, 105)
    crossing, _ = e.submit(3, BUY, 2, 105, stp=STP_NONE)
    assert own.status == "FILLED"
    assert crossing.filled == 1
    assert crossing.status == "PARTIALLY_FILLED"


def test_queue_position_behind_recorded_size_and_risk_averse_cancels() -> None:
    e = engine()
    order, _ = e.submit(1, BUY, 2, 100)
    assert order.ahead == 5
    e.update_recorded([(True, 100, 9)])  # growth joins behind us
    assert order.ahead == 5
    e.update_recorded([(True, 100, 6)])  # shrink from the back: 4 behind, so still 5 ahead...
    assert order.ahead == 5
    e.update_recorded([(True, 100, 3)])  # below our queue: ahead shrinks to the level
    assert order.ahead == 3
    assert e.recorded_trade(SELL, 100, 2) == []
    reports = e.recorded_trade(SELL, 100, 2)
    assert order.filled == 1
    assert reports[0].fill.taker_account == RECORDED
    e.recorded_trade(SELL, 99, 5)  # traded through our price: the rest fills
    assert order.status == "FILLED"


def test_taken_recorded_liquidity_stays_gone_until_the_feed_drops_it() -> None:
    e = engine()
    e.submit(1, BUY, 3, 101)
    assert e.level_size(False, 101) == 1
    e.update_recorded([(False, 101, 6)])  # the recording does not know we took 3
    assert e.level_size(False, 101) == 3
    e.recorded_trade(BUY, 101, 2)  # the same front-of-queue lots we took: nothing new
    assert e.level_size(False, 101) == 3
    e.update_recorded([(False, 101, 0)])
    e.update_recorded([(False, 101, 2)])
    assert e.level_size(False, 101) == 2


def test_recorded_increase_crossing_a_participant_trades_with_it() -> None:
    e = engine()
    bid, _ = e.submit(1, BUY, 2, 100)
    reports = e.update_recorded([(True, 100, 0), (False, 100, 5)])
    assert bid.status == "FILLED"
    assert reports[-1].fill.price == 100
    assert e.depth() == ([(99, 3)], [(100, 3), (101, 4), (102, 6)])


def test_amend_down_keeps_priority_and_rejects_increases() -> None:
    e = engine()
    a, _ = e.submit(1, SELL, 5, 103)
    b, _ = e.submit(2, SELL, 5, 103)
    e.amend_down(a.order_id, 2)
    _, reports = e.submit(3, BUY, 13, 103)
    assert [r.fill.maker_account for r in reports if r.fill and not r.is_maker][-2:] == [1, 2]
    with pytest.raises(EngineError):
        e.amend_down(b.order_id, 9)


def test_cancel_and_cancel_all() -> None:
    e = engine()
    orders = [e.submit(1, BUY, 1, 90 + i)[0] for i in range(3)]
    other, _ = e.submit(2, BUY, 1, 95)
    assert e.cancel(orders[0].order_id).status == "CANCELED"
    with pytest.raises(EngineError):
        e.cancel(orders[0].order_id)
    assert [r.order.order_id for r in e.cancel_all(1)] == [o.order_id for o in orders[1:]]
    assert list(e.orders) == [other.order_id]


def test_fills_carry_trade_ids_roles_and_commissions() -> None:
    e = engine()
    _, reports = e.submit(1, BUY, 4, 101)
    fill = reports[-1].fill
    assert fill.trade_id == 1
    assert fill.taker_order == 1
    assert fill.maker_order == -1
    notional = Decimal(101 * 4) * Decimal("0.0001")
    assert fill.taker_fee == notional * Decimal("0.0005")
    assert fill.maker_fee == notional * Decimal("0.0002")

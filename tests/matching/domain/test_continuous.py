"""Continuous price-time matching: one rule per test."""

import pytest

from services.matching.domain import (
    MarketState, OrderEventType, OrderState, OrderType, Reason, SelfTradePrevention,
    Side, TimeInForce,
)
from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

BUY, SELL = Side.BUY, Side.SELL


def test_non_crossing_limit_order_rests_open(book, limit):
    result = limit(book, "b1", BUY, 100, 5)
    assert (result.state, result.remaining, result.trades) == (OrderState.OPEN, 5, [])
    assert book.book().bids[0] == (100, 5, 1)


def test_crossing_order_trades_at_the_resting_price(book, limit):
    limit(book, "s1", SELL, 100, 5)
    result = limit(book, "b1", BUY, 105, 5)
    assert [(t.price, t.quantity, t.buy_order, t.sell_order) for t in result.trades] == [(100, 5, "b1", "s1")]
    assert result.state == OrderState.FILLED


def test_trade_names_both_accounts_and_the_taker_side(book, limit):
    limit(book, "s1", SELL, 100, 5, account="alice")
    trade = limit(book, "b1", BUY, 100, 5, account="bob", now=7).trades[0]
    assert (trade.buyer, trade.seller, trade.taker_side, trade.auction, trade.time) == ("bob", "alice", BUY, None, 7)


def test_better_price_fills_first(book, limit):
    limit(book, "s1", SELL, 102, 5)
    limit(book, "s2", SELL, 101, 5)
    result = limit(book, "b1", BUY, 102, 5)
    assert [t.sell_order for t in result.trades] == ["s2"]


def test_same_price_fills_in_arrival_order(book, limit):
    limit(book, "s1", SELL, 100, 5)
    limit(book, "s2", SELL, 100, 5)
    result = limit(book, "b1", BUY, 100, 7)
    assert [(t.sell_order, t.quantity) for t in result.trades] == [("s1", 5), ("s2", 2)]


def test_taker_sweeps_levels_up_to_its_limit_and_rests_the_rest(book, limit):
    limit(book, "s1", SELL, 100, 3)
    limit(book, "s2", SELL, 101, 3)
    limit(book, "s3", SELL, 103, 3)
    result = limit(book, "b1", BUY, 101, 10)
    assert [t.price for t in result.trades] == [100, 101]
    assert (result.state, result.filled, result.remaining) == (OrderState.PARTIALLY_FILLED, 6, 4)
    assert book.book().bids[0] == (101, 4, 1)


def test_partially_filled_maker_keeps_its_place(book, limit):
    limit(book, "s1", SELL, 100, 10)
    limit(book, "s2", SELL, 100, 10)
    limit(book, "b1", BUY, 100, 4)
    result = limit(book, "b2", BUY, 100, 7)
    assert [(t.sell_order, t.quantity) for t in result.trades] == [("s1", 6), ("s2", 1)]


def test_trade_sequence_is_monotonic_without_gaps(book, limit):
    limit(book, "s1", SELL, 100, 1)
    limit(book, "s2", SELL, 101, 1)
    first = limit(book, "b1", BUY, 101, 2).trades
    limit(book, "s3", SELL, 100, 1)
    second = limit(book, "b2", BUY, 100, 1).trades
    assert [t.sequence for t in first + second] == [1, 2, 3]


def test_cancel_removes_the_order_and_reports_the_cancelled_quantity(book, limit):
    limit(book, "b1", BUY, 100, 5)
    result = book.cancel("b1", now=2)
    assert (result.state, result.cancelled) == (OrderState.CANCELLED, 5)
    assert book.book().bids == []


def test_cancelled_order_is_never_matched(book, limit):
    limit(book, "s1", SELL, 100, 5)
    limit(book, "s2", SELL, 100, 5)
    book.cancel("s1", now=2)
    assert [t.sell_order for t in limit(book, "b1", BUY, 100, 5).trades] == ["s2"]


def test_cancel_of_unknown_order_is_not_found(book):
    with pytest.raises(NotFound) as error:
        book.cancel("nope", now=1)
    assert error.value.reason == "ORDER_NOT_FOUND"


def test_duplicate_resting_order_id_is_rejected(book, limit):
    limit(book, "b1", BUY, 100, 5)
    with pytest.raises(AlreadyExists):
        limit(book, "b1", BUY, 100, 5)


def test_ioc_remainder_is_cancelled_not_rested(book, limit):
    limit(book, "s1", SELL, 100, 3)
    result = limit(book, "b1", BUY, 100, 5, time_in_force=TimeInForce.IOC)
    assert (result.state, result.filled, result.reason) == (OrderState.CANCELLED, 3, Reason.IOC_REMAINDER)
    assert book.book().bids == []


def test_market_order_takes_any_price_and_never_rests(book, market_order, limit):
    limit(book, "s1", SELL, 100, 2)
    limit(book, "s2", SELL, 900, 2)
    result = market_order(book, "m1", BUY, 6)
    assert [t.price for t in result.trades] == [100, 900]
    assert (result.state, result.filled, result.remaining) == (OrderState.CANCELLED, 4, 0)
    assert book.book().bids == []


def test_market_buy_never_spends_more_than_its_budget(book, market_order, limit):
    limit(book, "s1", SELL, 100, 2)
    limit(book, "s2", SELL, 150, 10)
    result = market_order(book, "m1", BUY, 10, max_notional=700)
    assert [(t.price, t.quantity) for t in result.trades] == [(100, 2), (150, 3)]
    assert sum(t.price * t.quantity for t in result.trades) <= 700


def test_fok_that_cannot_fill_completely_changes_nothing(book, limit):
    limit(book, "s1", SELL, 100, 3)
    limit(book, "s2", SELL, 105, 3)
    result = limit(book, "b1", BUY, 104, 5, time_in_force=TimeInForce.FOK)
    assert (result.state, result.filled, result.reason) == (OrderState.CANCELLED, 0, Reason.FOK_UNFILLABLE)
    assert book.book().asks == [(100, 3, 1), (105, 3, 1)]


def test_fok_within_its_price_cap_fills_completely(book, limit):
    limit(book, "s1", SELL, 100, 3)
    limit(book, "s2", SELL, 104, 3)
    result = limit(book, "b1", BUY, 104, 5, time_in_force=TimeInForce.FOK)
    assert (result.state, result.filled) == (OrderState.FILLED, 5)


def test_post_only_that_would_take_is_rejected(book, limit):
    limit(book, "s1", SELL, 100, 3)
    result = limit(book, "b1", BUY, 100, 5, post_only=True)
    assert (result.state, result.reason) == (OrderState.REJECTED, Reason.POST_ONLY_WOULD_TAKE)
    assert book.book().asks == [(100, 3, 1)]


def test_post_only_that_does_not_cross_rests(book, limit):
    limit(book, "s1", SELL, 100, 3)
    assert limit(book, "b1", BUY, 99, 5, post_only=True).state == OrderState.OPEN


def test_self_trade_cancels_the_resting_order_by_default(book, limit):
    limit(book, "s1", SELL, 100, 3, account="alice")
    limit(book, "s2", SELL, 100, 3, account="bob")
    result = limit(book, "b1", BUY, 100, 3, account="alice")
    assert [t.seller for t in result.trades] == ["bob"]
    assert book.resting_order("s1") is None
    cancels = [e for e in book.drain_events() if e.type == OrderEventType.CANCELLED]
    assert [(e.order_id, e.reason) for e in cancels] == [("s1", Reason.SELF_TRADE_PREVENTED)]


def test_self_trade_policy_cancel_taker_keeps_the_resting_order(engine_with, limit):
    engine = engine_with(SelfTradePrevention.CANCEL_TAKER)
    limit(engine, "s1", SELL, 100, 3, account="alice")
    result = limit(engine, "b1", BUY, 100, 3, account="alice")
    assert (result.state, result.reason, result.trades) == (OrderState.CANCELLED, Reason.SELF_TRADE_PREVENTED, [])
    assert engine.resting_order("s1") is not None


def test_self_trade_policy_cancel_both_removes_both(engine_with, limit):
    engine = engine_with(SelfTradePrevention.CANCEL_BOTH)
    limit(engine, "s1", SELL, 100, 3, account="alice")
    result = limit(engine, "b1", BUY, 100, 3, account="alice")
    assert result.state == OrderState.CANCELLED
    assert engine.book().asks == [] and engine.book().bids == []


def test_full_book_rejects_orders_that_could_rest(engine_with, limit):
    engine = engine_with(max_book_size=2)
    limit(engine, "b1", BUY, 100, 1)
    limit(engine, "b2", BUY, 100, 1)
    with pytest.raises(ResourceExhausted) as error:
        limit(engine, "b3", BUY, 100, 1)
    assert error.value.reason == "ORDER_BOOK_FULL"


def test_halted_market_refuses_orders_but_accepts_cancels(book, limit):
    limit(book, "b1", BUY, 100, 1)
    book.set_state(MarketState.HALTED, now=2)
    with pytest.raises(FailedPrecondition) as error:
        limit(book, "b2", BUY, 100, 1, now=3)
    assert error.value.reason == "MARKET_HALTED"
    assert book.cancel("b1", now=4).state == OrderState.CANCELLED


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"price": 0}, "price"),
        ({"quantity": 0}, "quantity"),
        ({"time_in_force": TimeInForce.GTT}, "expire_time"),
        ({"post_only": True, "time_in_force": TimeInForce.IOC}, "post_only"),
    ],
)
def test_invalid_limit_orders_name_the_offending_field(book, options, field):
    arguments = {"price": 100, "quantity": 1, **options}
    with pytest.raises(InvalidArgument) as error:
        book.submit("x", "a", BUY, OrderType.LIMIT, arguments.pop("quantity"), now=1, **arguments)
    assert field in [f for f, _ in error.value.violations]


def test_market_order_cannot_be_good_till_cancelled(book):
    with pytest.raises(InvalidArgument):
        book.submit("m", "a", BUY, OrderType.MARKET, 1, time_in_force=TimeInForce.GTC, now=1)


def test_events_follow_an_order_through_its_life_with_one_market_sequence(book, limit):
    limit(book, "s1", SELL, 100, 5)
    limit(book, "b1", BUY, 100, 2)
    book.cancel("s1", now=2)
    events = book.drain_events()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    s1 = [(e.type, e.filled, e.remaining) for e in events if e.order_id == "s1"]
    assert s1 == [
        (OrderEventType.ACCEPTED, 0, 5),
        (OrderEventType.PARTIALLY_FILLED, 2, 3),
        (OrderEventType.CANCELLED, 2, 0),
    ]
    assert book.sequence == events[-1].sequence


def test_book_view_aggregates_levels_to_the_requested_depth(book, limit):
    for index, price in enumerate([100, 100, 99, 98]):
        limit(book, f"b{index}", BUY, price, 2)
    view = book.book(depth=2)
    assert view.bids == [(100, 4, 2), (99, 2, 1)]
    assert view.sequence == book.sequence


def test_recording_events_off_keeps_identical_sequences(engine_with, limit):
    quiet, loud = engine_with(record_events=False), engine_with()
    for engine in (quiet, loud):
        limit(engine, "s1", SELL, 100, 5)
        limit(engine, "b1", BUY, 100, 2)
    assert quiet.sequence == loud.sequence and quiet.drain_events() == []

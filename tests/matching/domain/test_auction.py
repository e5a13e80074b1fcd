"""Periodic uniform-price double auction."""

import pytest

from services.matching.domain import MarketMode, MatchingEngine, OrderType, Side, TimeInForce
from services.runtime.errors import FailedPrecondition, InvalidArgument

BUY, SELL = Side.BUY, Side.SELL


def submit_all(engine, limit, bids, asks):
    for index, (price, quantity) in enumerate(bids):
        limit(engine, f"b{index}", BUY, price, quantity, account=f"buyer{index}")
    for index, (price, quantity) in enumerate(asks):
        limit(engine, f"a{index}", SELL, price, quantity, account=f"seller{index}")


def test_orders_collect_without_matching_on_arrival(auction, limit):
    limit(auction, "b", BUY, 110, 5)
    result = limit(auction, "a", SELL, 100, 5)
    assert result.trades == [] and len(auction) == 2


def test_reference_worked_example_clears_12_at_103(auction, limit):
    submit_all(auction, limit, bids=[(105, 10), (103, 5), (101, 8)], asks=[(99, 6), (102, 6), (104, 10)])
    record, trades = auction.clear(10)
    assert (record.price, record.volume) == (103, 12)
    assert {t.price for t in trades} == {103}
    bought = {}
    for trade in trades:
        bought[trade.buy_order] = bought.get(trade.buy_order, 0) + trade.quantity
    assert bought == {"b0": 10, "b1": 2}
    assert auction.book().bids == [(103, 3, 1), (101, 8, 1)]


def test_auction_record_counts_orders_and_trades(auction, limit):
    submit_all(auction, limit, bids=[(105, 10), (103, 5), (101, 8)], asks=[(99, 6), (102, 6), (104, 10)])
    record, trades = auction.clear(10)
    assert (record.sequence, record.time, record.order_count, record.trade_count) == (1, 10, 4, len(trades))


def test_auction_fills_carry_the_auction_id_and_no_taker_side(auction, limit):
    submit_all(auction, limit, bids=[(101, 5)], asks=[(100, 5)])
    _, trades = auction.clear(10)
    assert [(t.auction, t.taker_side) for t in trades] == [(1, None)]


def test_marginal_price_fills_by_time_priority(auction, limit):
    limit(auction, "early", BUY, 100, 5, now=1)
    limit(auction, "late", BUY, 100, 5, now=2)
    limit(auction, "ask", SELL, 100, 6, now=3)
    _, trades = auction.clear(10)
    assert [(t.buy_order, t.quantity) for t in trades] == [("early", 5), ("late", 1)]


def test_nothing_crossing_publishes_an_empty_auction(auction, limit):
    submit_all(auction, limit, bids=[(99, 5)], asks=[(100, 5)])
    record, trades = auction.clear(10)
    assert (record.price, record.volume, trades) == (None, 0, [])


def test_indeterminate_price_prefers_the_last_clearing_price(auction, limit):
    submit_all(auction, limit, bids=[(101, 5)], asks=[(100, 5)])
    assert auction.clear(10)[0].price in (100, 101)
    limit(auction, "b9", BUY, 120, 5, now=11)
    limit(auction, "a9", SELL, 90, 5, now=11)
    first_price = auction.last_clearing_price
    assert auction.clear(20)[0].price == first_price


def test_indeterminate_price_without_history_uses_the_reference_price(make_market, limit):
    engine = MatchingEngine(make_market(MarketMode.PERIODIC_AUCTION))
    reference = engine.market.reference_ticks
    submit_all(engine, limit, bids=[(reference + 50, 5)], asks=[(reference - 50, 5)])
    assert engine.clear(10)[0].price == reference


def test_clearing_a_continuous_market_is_refused(book):
    with pytest.raises(FailedPrecondition):
        book.clear(1)


@pytest.mark.parametrize(
    "options",
    [{"time_in_force": TimeInForce.IOC}, {"post_only": True}],
)
def test_auction_market_takes_only_resting_limit_orders(auction, options):
    with pytest.raises(InvalidArgument):
        auction.submit("x", "a", BUY, OrderType.LIMIT, 1, price=100, now=1, **options)


def test_auction_market_refuses_market_orders(auction):
    with pytest.raises(InvalidArgument):
        auction.submit("x", "a", BUY, OrderType.MARKET, 1, now=1)

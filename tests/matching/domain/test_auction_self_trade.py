"""Self-trade prevention in the periodic auction: an account never trades with itself; the
self-matched quantity is cancelled from both of its orders (decrement both)."""

from services.matching.domain import OrderEventType, OrderState, Reason, Side

BUY, SELL = Side.BUY, Side.SELL


def test_an_account_never_trades_with_itself_in_an_auction(auction, limit):
    limit(auction, "own-buy", BUY, 105, 5, account="same")
    limit(auction, "own-sell", SELL, 100, 5, account="same")
    limit(auction, "other-sell", SELL, 101, 5, account="other")

    _, trades = auction.clear(10)

    assert all(trade.buyer != trade.seller for trade in trades)


def test_the_self_matched_quantity_is_cancelled_from_both_orders(auction, limit):
    limit(auction, "own-buy", BUY, 105, 5, account="same")
    limit(auction, "own-sell", SELL, 100, 5, account="same")
    auction.drain_events()

    record, trades = auction.clear(10)

    events = {event.order_id: event for event in auction.drain_events()}
    assert (list(trades), record.volume) == ([], 0)
    assert len(auction) == 0
    assert {(e.type, e.state, e.filled, e.reason) for e in events.values()} == {
        (OrderEventType.CANCELLED, OrderState.CANCELLED, 0, Reason.SELF_TRADE_PREVENTED)}


def test_other_pairs_of_the_same_clearing_still_trade(auction, limit):
    limit(auction, "own-buy", BUY, 105, 5, account="same")
    limit(auction, "other-buy", BUY, 104, 5, account="other")
    limit(auction, "own-sell", SELL, 100, 5, account="same")
    limit(auction, "third-sell", SELL, 100, 5, account="third")

    record, trades = auction.clear(10)

    assert [(t.buy_order, t.sell_order, t.quantity) for t in trades] == [("other-buy", "third-sell", 5)]
    assert record.volume == 5


def test_one_event_per_order_per_clearing_carries_what_it_traded(auction, limit):
    limit(auction, "b", BUY, 105, 10, account="buyer")
    for index in range(3):
        limit(auction, f"s{index}", SELL, 100, 2, account=f"seller{index}")
    auction.drain_events()

    _, trades = auction.clear(10)

    events = [event for event in auction.drain_events() if event.order_id == "b"]
    assert len(trades) == 3
    assert [(e.type, e.filled, e.remaining, e.last_quantity) for e in events] == [
        (OrderEventType.PARTIALLY_FILLED, 6, 4, 6)]

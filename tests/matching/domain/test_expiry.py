"""Expiry of GTT orders and of orders past the default lifetime."""

from services.matching.domain import OrderEventType, Reason, Side, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
HOUR = 3600 * 10**9


def test_gtt_order_expires_at_its_expire_time(book, limit):
    limit(book, "b1", BUY, 100, 5, time_in_force=TimeInForce.GTT, expire_at=50, now=10)
    assert book.expire(49) == []
    assert book.expire(50) == ["b1"]
    assert book.book().bids == []


def test_gtc_order_expires_after_the_default_lifetime(engine_with, limit):
    engine = engine_with(default_order_lifetime_ns=24 * HOUR)
    limit(engine, "b1", BUY, 100, 5, now=HOUR)
    assert engine.expire(25 * HOUR - 1) == []
    assert engine.expire(25 * HOUR) == ["b1"]


def test_expiry_is_checked_when_the_next_command_arrives(book, limit):
    limit(book, "s1", SELL, 100, 5, time_in_force=TimeInForce.GTT, expire_at=50, now=10)
    result = limit(book, "b1", BUY, 100, 5, now=60)
    assert result.trades == []
    assert book.resting_order("s1") is None


def test_expired_orders_emit_events_in_expiry_time_then_arrival_order(book, limit):
    limit(book, "b1", BUY, 100, 1, time_in_force=TimeInForce.GTT, expire_at=40, now=1)
    limit(book, "b2", BUY, 100, 1, time_in_force=TimeInForce.GTT, expire_at=30, now=2)
    limit(book, "b3", BUY, 100, 1, time_in_force=TimeInForce.GTT, expire_at=30, now=3)
    book.drain_events()
    book.expire(100)
    assert [(e.order_id, e.type, e.reason) for e in book.drain_events()] == [
        ("b2", OrderEventType.EXPIRED, Reason.EXPIRED),
        ("b3", OrderEventType.EXPIRED, Reason.EXPIRED),
        ("b1", OrderEventType.EXPIRED, Reason.EXPIRED),
    ]


def test_filled_order_does_not_expire_again(book, limit):
    limit(book, "s1", SELL, 100, 5, time_in_force=TimeInForce.GTT, expire_at=50, now=1)
    limit(book, "b1", BUY, 100, 5, now=2)
    assert book.expire(60) == []


def test_clock_never_runs_backwards(book, limit):
    limit(book, "b1", BUY, 100, 5, time_in_force=TimeInForce.GTT, expire_at=50, now=10)
    book.expire(60)
    late = limit(book, "b2", BUY, 100, 5, now=5)
    assert book.drain_events()[-1].time == 60 and late.state.name == "OPEN"

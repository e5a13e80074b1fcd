"""Journal blocks decode to exactly what was encoded: every command kind, every record field."""

from __future__ import annotations

import orjson

from services.matching.blocks import decode_commands, decode_events, decode_trades, encode_commands, encode_records
from services.matching.domain import (
    CancelOrder,
    ClearAuction,
    Command,
    Expire,
    MarketState,
    OrderEvent,
    OrderEventType,
    OrderState,
    OrderType,
    SetMarketState,
    Side,
    SubmitOrder,
    TimeInForce,
    Trade,
)

COMMANDS: list[Command] = [
    SubmitOrder("o1", "alice", Side.BUY, OrderType.LIMIT, 5, 10, price=100, time_in_force=TimeInForce.GTT,
                post_only=True, max_notional=900, expire_at=99),
    SubmitOrder("o2", "bob", Side.SELL, OrderType.MARKET, 3, 11),
    CancelOrder("o1", 12),
    ClearAuction(13),
    Expire(14),
    SetMarketState(MarketState.HALTED, 15),
]


def test_every_command_kind_survives_a_block() -> None:
    decoded = decode_commands(encode_commands(COMMANDS))

    assert decoded == COMMANDS
    assert [type(command) for command in decoded] == [type(command) for command in COMMANDS]
    submit, halt = decoded[0], decoded[5]
    assert isinstance(submit, SubmitOrder) and isinstance(halt, SetMarketState)
    assert type(submit.side) is Side and type(halt.state) is MarketState


def test_a_command_block_stores_enums_as_integers() -> None:
    stored = orjson.loads(encode_commands(COMMANDS[:1]))

    assert stored == {"kinds": "S", "values": [["o1", "alice", 1, int(OrderType.LIMIT), 5, 10, 100,
                                                 int(TimeInForce.GTT), True, 900, 99]]}


def test_trades_survive_a_block_with_and_without_a_taker() -> None:
    trades = [Trade(1, 100, 5, "b1", "s1", "alice", "bob", Side.BUY, None, 7),
              Trade(2, 101, 1, "b2", "s2", "carol", "dave", None, 3, 8)]

    decoded = decode_trades(encode_records(trades))

    assert decoded == trades
    assert type(decoded[0]) is Trade and type(decoded[0].taker_side) is Side and decoded[1].taker_side is None


def test_order_events_survive_a_block_as_named_columns() -> None:
    events = [OrderEvent(1, "o1", "alice", OrderEventType.ACCEPTED, OrderState.OPEN, 0, 5, None, None, None, "", 9),
              OrderEvent(2, "o1", "alice", OrderEventType.FILLED, OrderState.FILLED, 5, 0, 1, 100, 5, "", 10)]

    payload = encode_records(events)
    decoded = decode_events(payload)

    assert decoded == events
    assert type(decoded[1].state) is OrderState and type(decoded[1].type) is OrderEventType
    assert orjson.loads(payload)["order_id"] == ["o1", "o1"]

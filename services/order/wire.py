"""Translation between the Order service's records and protobuf messages, and Matching's
messages into the domain's integer units."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clearmesh.matching.v1 import matching_pb2
from clearmesh.order.v1 import order_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.order.domain.enums import STATE_NUMBERS, STATES_BY_NUMBER, OrderState
from services.order.domain.market import MarketRules
from services.order.domain.orders import FillEvent, Order


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def decimal_text(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def units_text(units: int, decimals: int) -> str:
    """An amount of the Wallet's smallest units as the decimal string the Wallet reads."""
    return format(Decimal(units).scaleb(-decimals), "f")


def enum(value: int) -> Any:
    """A domain IntEnum as the generated enum field wants it (same numbers by design)."""
    return int(value)


def order_message(order: Order) -> order_pb2.Order:
    spec = order.spec
    message = order_pb2.Order(
        name=order.name, account=order.account, market=f"markets/{order.market_id}", side=enum(spec.side),
        type=enum(spec.order_type), time_in_force=enum(spec.time_in_force), price=decimal_text(spec.price),
        quantity=decimal_text(spec.quantity), max_notional=decimal_text(spec.max_notional),
        post_only=spec.post_only, state=enum(STATE_NUMBERS[order.state]),
        filled_quantity=decimal_text(order.filled_quantity),
        average_price=order.average_price, reject_reason=order.reject_reason,
        create_time=timestamp(order.create_time), update_time=timestamp(order.update_time),
        client_order_id=spec.client_order_id)
    if spec.expire_time is not None:
        message.expire_time.CopyFrom(timestamp(spec.expire_time))
    return message


def order_state(number: int) -> OrderState:
    state = STATES_BY_NUMBER.get(number)
    if state is None or state is OrderState.PENDING:
        raise ValueError(f"Matching answered an unknown order state {number}")
    return state


def lots(market: MarketRules, text: str) -> int:
    return market.lots(Decimal(text)) if text else 0


def fill_event(market: MarketRules, event: matching_pb2.OrderEvent) -> FillEvent:
    return FillEvent(
        sequence=event.sequence, state=order_state(event.state),
        filled_quantity=Decimal(event.filled_quantity or "0"),
        last_ticks=market.ticks(Decimal(event.last_price)) if event.last_price else 0,
        last_lots=lots(market, event.last_quantity), reason=event.reason,
        time=event.event_time.ToDatetime(tzinfo=UTC))

"""Validation of every Order request: each bad field named at once, before anything is read,
held or written. Parsing yields plain typed commands; the market's rules are the domain's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from clearmesh.order.v1 import order_service_pb2 as pb

from services.order.domain.enums import STATES_BY_NUMBER, OrderState
from services.order.domain.reasons import OrderReason
from services.order.domain.validation import OrderDraft
from services.runtime.errors import InvalidArgument
from services.runtime.validation import Violations

ORDERS = "orders"
MARKETS = "markets"
ACCOUNTS = "accounts"


@dataclass(frozen=True, slots=True)
class PlaceCommand:
    market_id: str
    draft: OrderDraft
    request_id: str


def _decimal(violations: Violations, field: str, text: str) -> Decimal | None:
    return violations.decimal(field, text) if text else None


def parse_place_order(request: pb.PlaceOrderRequest) -> tuple[PlaceCommand, Violations]:
    """The command, and the violations found so far: the market's rules add theirs before any
    is reported, so one answer names every bad field."""
    violations = Violations()
    order = request.order
    market_id = None
    if not request.HasField("order"):
        violations.add("order", "is required")
    elif violations.require("order.market", order.market):
        market_id = violations.resource_name("order.market", order.market, MARKETS)
    request_id = violations.request_id(request.request_id, required=True)
    # Output-only fields (name, account, state, fills) are ignored (AIP-203): the service sets them.
    draft = OrderDraft(
        side=order.side, order_type=order.type, time_in_force=order.time_in_force,
        price=_decimal(violations, "order.price", order.price),
        quantity=_decimal(violations, "order.quantity", order.quantity),
        max_notional=_decimal(violations, "order.max_notional", order.max_notional),
        post_only=order.post_only,
        expire_time=order.expire_time.ToDatetime(tzinfo=UTC) if order.HasField("expire_time") else None,
        client_order_id=order.client_order_id)
    if market_id is None or request_id is None:
        violations.raise_if_any("the order is invalid", reason=OrderReason.INVALID_ORDER)
    return PlaceCommand(market_id or "", draft, request_id or ""), violations


def parse_order_name(name: str, field: str = "name") -> str:
    """The order id of `orders/{uuid}`."""
    violations = Violations()
    order_id = violations.resource_name(field, name, ORDERS) if violations.require(field, name) else None
    if order_id is not None and not _is_uuid(order_id):
        violations.add(field, "must look like orders/{uuid}")
    violations.raise_if_any()
    if order_id is None:
        raise InvalidArgument(OrderReason.INVALID_ARGUMENT, "the order name is invalid", violations=[(field, "is invalid")])
    return order_id


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class CancelCommand:
    order_id: str
    request_id: str | None


def parse_cancel_order(request: pb.CancelOrderRequest) -> CancelCommand:
    violations = Violations()
    request_id = violations.request_id(request.request_id, required=False)
    violations.raise_if_any()
    return CancelCommand(parse_order_name(request.name), request_id)


@dataclass(frozen=True, slots=True)
class ListQuery:
    market_id: str | None
    states: tuple[OrderState, ...]
    account: str | None  # `accounts/{id}`: the filter asked for (operators) or the caller's own

    def token_scope(self) -> str:
        """What a page token is bound to: the same filters on the next page."""
        return "|".join((self.account or "", self.market_id or "", ",".join(state.value for state in self.states)))


def parse_list_orders(request: pb.ListOrdersRequest) -> ListQuery:
    violations = Violations()
    market_id = violations.resource_name("market", request.market, MARKETS) if request.market else None
    account = None
    if request.account and violations.resource_name("account", request.account, ACCOUNTS) is not None:
        account = request.account
    states: list[OrderState] = []
    for index, number in enumerate(request.states):
        state = STATES_BY_NUMBER.get(number)
        if state is None or state is OrderState.PENDING:
            violations.add(f"states[{index}]", "is not an order state")
        elif state not in states:
            states.append(state)
    violations.raise_if_any()
    return ListQuery(market_id, tuple(sorted(states)), account)

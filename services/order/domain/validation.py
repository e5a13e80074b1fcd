"""An order checked against its market before anything is stored or held: every violated
rule named at once (the same rules Matching applies, so Matching refusing it is the exception)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.order.domain.enums import OrderType, Side, TimeInForce
from services.order.domain.market import MarketRules
from services.order.domain.reasons import OrderReason
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.steps import MAX_STEPS, count_steps, is_whole
from services.runtime.validation import Violations

MAX_CLIENT_ORDER_ID = 128


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """A PlaceOrder request with its decimals parsed, not yet checked against the market."""

    side: int
    order_type: int
    time_in_force: int
    price: Decimal | None
    quantity: Decimal | None
    max_notional: Decimal | None
    post_only: bool
    expire_time: datetime | None
    client_order_id: str


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A valid order on its market: enums resolved, the time in force made explicit."""

    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal | None
    quantity: Decimal | None
    max_notional: Decimal | None
    post_only: bool
    expire_time: datetime | None
    client_order_id: str

    def notional(self) -> Decimal | None:
        """What a BUY may spend: limit × quantity, or a market buy's budget."""
        if self.price is not None and self.quantity is not None:
            return self.price * self.quantity
        return self.max_notional


def _multiple(violations: Violations, field: str, value: Decimal, step: Decimal, step_name: str) -> None:
    steps = count_steps(value, step)
    if steps is None:
        violations.add(field, f"is too large: at most {MAX_STEPS} times the {step_name} {step}")
    elif not steps[1]:
        violations.add(field, f"must be a multiple of the {step_name} {step}")


def _side(violations: Violations, value: int) -> Side | None:
    if value in Side._value2member_map_:
        return Side(value)
    violations.add("order.side", "is required" if value == 0 else "is not a known value")
    return None


def _order_type(violations: Violations, value: int) -> OrderType | None:
    if value in OrderType._value2member_map_:
        return OrderType(value)
    violations.add("order.type", "is required" if value == 0 else "is not a known value")
    return None


def check_order(draft: OrderDraft, market: MarketRules, now: datetime, violations: Violations) -> OrderSpec:
    """The order as `OrderSpec`, or InvalidArgument INVALID_ORDER listing every violation
    (including those already in `violations`)."""
    side = _side(violations, draft.side)
    order_type = _order_type(violations, draft.order_type)
    is_market = order_type is OrderType.MARKET
    tif: TimeInForce | None
    if draft.time_in_force == 0:
        tif = TimeInForce.IOC if is_market else TimeInForce.GTC
    elif draft.time_in_force in TimeInForce._value2member_map_:
        tif = TimeInForce(draft.time_in_force)
    else:
        tif = None
        violations.add("order.time_in_force", "is not a known value")

    if draft.price is not None:
        if is_market:
            violations.add("order.price", "a market order takes no price")
        else:
            _multiple(violations, "order.price", draft.price, market.tick, "tick size")
    elif order_type is OrderType.LIMIT:
        violations.add("order.price", "is required for a limit order")

    if draft.quantity is not None:
        _multiple(violations, "order.quantity", draft.quantity, market.lot, "lot size")
        if market.min_quantity is not None and draft.quantity < market.min_quantity:
            violations.add("order.quantity", f"must be at least {market.min_quantity}")
        if market.max_quantity is not None and draft.quantity > market.max_quantity:
            violations.add("order.quantity", f"must be at most {market.max_quantity}")
    elif not (is_market and side is Side.BUY and draft.max_notional is not None):
        violations.add("order.quantity", "is required (a market buy may give max_notional instead)")

    if draft.max_notional is not None:
        if not (is_market and side is Side.BUY):
            violations.add("order.max_notional", "only market buy orders carry a budget")
        elif draft.max_notional < market.step_notional:
            violations.add("order.max_notional", f"must be at least one lot at one tick ({market.step_notional})")
        elif not is_whole(draft.max_notional, market.quote_decimals):
            violations.add("order.max_notional", f"must have at most {market.quote_decimals} decimals")
    elif is_market and side is Side.BUY:
        violations.add("order.max_notional", "is required for a market buy")

    if is_market and tif not in (None, TimeInForce.IOC, TimeInForce.FOK):
        violations.add("order.time_in_force", "market orders are IOC or FOK")
    if draft.post_only:
        if is_market:
            violations.add("order.post_only", "market orders always take")
        elif tif in (TimeInForce.IOC, TimeInForce.FOK):
            violations.add("order.post_only", "post-only orders must be allowed to rest")
        elif market.auction:
            violations.add("order.post_only", "auction orders are neither maker nor taker")
    if tif is TimeInForce.GTT:
        if draft.expire_time is None:
            violations.add("order.expire_time", "is required for GTT orders")
        elif draft.expire_time <= now:
            violations.add("order.expire_time", "must be in the future")
    elif draft.expire_time is not None:
        violations.add("order.expire_time", "only GTT orders carry an expire time")
    if market.auction:
        if is_market:
            violations.add("order.type", "periodic auction markets take limit orders only")
        elif tif in (TimeInForce.IOC, TimeInForce.FOK):
            violations.add("order.time_in_force", "periodic auction orders are GTC or GTT")
    if len(draft.client_order_id) > MAX_CLIENT_ORDER_ID or not draft.client_order_id.isprintable():
        violations.add("order.client_order_id", f"must be at most {MAX_CLIENT_ORDER_ID} printable characters")

    violations.raise_if_any("the order is invalid", reason=OrderReason.INVALID_ORDER)
    if side is None or order_type is None or tif is None:  # each added a violation, raised just above
        raise InvalidArgument(OrderReason.INVALID_ORDER, "the order is invalid")  # pragma: no cover
    if market.halted:
        raise FailedPrecondition(OrderReason.MARKET_HALTED, f"{market.name} is halted and takes no new orders",
                                 metadata={"market": market.name})
    return OrderSpec(side, order_type, tif, draft.price, draft.quantity, draft.max_notional,
                     draft.post_only, draft.expire_time, draft.client_order_id)

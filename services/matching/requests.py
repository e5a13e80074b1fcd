"""Matching's requests parsed and validated into domain values: every bad field is named at once
(InvalidArgument with BadRequest), before anything is written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from clearmesh.matching.v1 import matching_service_pb2 as pb
from services.matching.domain import (
    Market,
    MarketMode,
    MarketState,
    OrderType,
    SelfTradePrevention,
    Side,
    SubmitOrder,
    TimeInForce,
    notional_to_units,
    price_to_ticks,
    quantity_to_lots,
)
from services.matching.domain.market import require_fitting_assets
from services.matching.domain.reasons import MatchingReason
from services.runtime.errors import InvalidArgument
from services.runtime.steps import MAX_STEPS, count_steps
from services.runtime.timestamps import nanos_of
from services.runtime.validation import Violations

MARKET_ID = re.compile(r"^[A-Z][A-Z0-9]{1,15}-[A-Z][A-Z0-9]{1,15}$")
DEFAULT_DEPTH = 50
MAX_DEPTH = 1000


def market_id(violations: Violations, field: str, value: str) -> str | None:
    """The market id of a `markets/{id}` name, or None after recording the violation."""
    if not violations.require(field, value):
        return None
    return violations.resource_name(field, value, "markets")


def parse_market(field: str, value: str, violations: Violations | None = None) -> str:
    """The market id of a request naming one market; raises with this and any earlier violation."""
    violations = violations if violations is not None else Violations()
    found = market_id(violations, field, value)
    violations.raise_if_any()
    if found is None:  # raise_if_any raised already; this narrows the type
        raise InvalidArgument(MatchingReason.INVALID_ARGUMENT, f"{field} is invalid", violations=[(field, "is invalid")])
    return found


def parse_book_request(request: pb.GetOrderBookRequest) -> tuple[str, int]:
    """(market id, depth): depth 0 means the default, and no more than MAX_DEPTH levels a side."""
    violations = Violations()
    if request.depth < 0:
        violations.add("depth", "must not be negative")
    return parse_market("market", request.market, violations), min(request.depth or DEFAULT_DEPTH, MAX_DEPTH)


# Trades a StreamTrades message may carry (`max_trades_per_message`): ~300 bytes each, so a
# full message stays far below the gRPC message cap.
MAX_TRADES_PER_MESSAGE = 1000


def parse_stream_request(market: str, after_sequence: int, *, max_per_message: int = 0) -> str:
    violations = Violations()
    if after_sequence < 0:
        violations.add("after_sequence", "must not be negative")
    if not 0 <= max_per_message <= MAX_TRADES_PER_MESSAGE:
        violations.add("max_trades_per_message", f"must be between 0 and {MAX_TRADES_PER_MESSAGE}")
    return parse_market("market", market, violations)


def parse_cancel_request(request: pb.CancelOrderRequest) -> str:
    violations = Violations()
    violations.require("order", request.order)
    return parse_market("market", request.market, violations)


def parse_submit_market(request: pb.SubmitOrderRequest) -> str:
    """The market a submission names; the order itself is parsed against it (parse_submit_order)."""
    violations = Violations()
    found = market_id(violations, "market", request.market)
    violations.require("order", request.order)
    violations.require("account", request.account)
    violations.raise_if_any()
    if found is None:
        raise InvalidArgument(MatchingReason.INVALID_ARGUMENT, "market is invalid", violations=[("market", "is invalid")])
    return found


def parse_submit_order(market: Market, request: pb.SubmitOrderRequest, now: int) -> SubmitOrder:
    """The domain command for a submission; every bad field is reported at once, before any write."""
    violations = Violations()
    problems = violations.items
    if request.side not in (Side.BUY, Side.SELL):
        violations.add("side", "must be BUY or SELL")
    if request.type not in (OrderType.LIMIT, OrderType.MARKET):
        violations.add("type", "must be LIMIT or MARKET")
    time_in_force = TimeInForce(request.time_in_force) if request.time_in_force in TimeInForce._value2member_map_ else None
    if request.time_in_force and time_in_force is None:
        violations.add("time_in_force", "is not a known time in force")
    is_market = request.type == OrderType.MARKET
    price = None
    if is_market:
        if request.price:
            violations.add("price", "a market order takes no limit price")
    elif violations.require("price", request.price):
        price = price_to_ticks(market, request.price, problems)
    quantity = None
    budget = None
    if request.max_notional:
        budget = notional_to_units(market, request.max_notional, problems)
    if request.quantity:
        quantity = quantity_to_lots(market, request.quantity, problems)
    elif not (is_market and request.side == Side.BUY and request.max_notional):
        violations.add("quantity", "is required")
    expire_at = nanos_of(request.expire_time) if request.HasField("expire_time") else None
    if time_in_force == TimeInForce.GTT:
        if expire_at is None:
            violations.add("expire_time", "is required for GTT orders")
        elif expire_at <= now:
            violations.add("expire_time", "must be in the future")
    violations.raise_if_any("the order is invalid")
    if quantity is None:
        # A market buy bounded only by its budget: as many lots as the budget can ever buy.
        quantity = market.max_lots or (1 << 62)
    return SubmitOrder(request.order, request.account, Side(request.side), OrderType(request.type), quantity, now,
                       price=price, time_in_force=time_in_force, post_only=request.post_only,
                       max_notional=budget, expire_at=expire_at)


def parse_create_market(request: pb.CreateMarketRequest, precisions: Mapping[str, int]) -> Market:
    """The market a CreateMarketRequest defines, checked against the platform's assets
    (`precisions`: asset code -> decimals)."""
    violations = Violations()
    if violations.require("market_id", request.market_id) and not MARKET_ID.match(request.market_id):
        violations.add("market_id", "must look like BASE-QUOTE in capitals, e.g. ETH-USDC")
    violations.request_id(request.request_id, required=False)
    if not request.HasField("market"):
        violations.add("market", "is required")
        violations.raise_if_any()
    definition = request.market
    violations.require("market.base_asset", definition.base_asset)
    violations.require("market.quote_asset", definition.quote_asset)
    tick = _decimal(violations, "market.tick_size", definition.tick_size, required=True)
    lot = _decimal(violations, "market.lot_size", definition.lot_size, required=True)
    minimum = _decimal(violations, "market.min_quantity", definition.min_quantity)
    maximum = _decimal(violations, "market.max_quantity", definition.max_quantity)
    reference = _decimal(violations, "market.reference_price", definition.reference_price)
    if minimum is not None and maximum is not None and minimum > maximum:
        violations.add("market.max_quantity", "must not be below min_quantity")
    for field, value, step, step_name in (("market.min_quantity", minimum, lot, "lot_size"),
                                          ("market.max_quantity", maximum, lot, "lot_size"),
                                          ("market.reference_price", reference, tick, "tick_size")):
        if value is None or step is None:
            continue
        steps = count_steps(value, step)
        if steps is None:
            violations.add(field, f"is too large: at most {MAX_STEPS} times {step_name}")
        elif not steps[1]:
            violations.add(field, f"must be a multiple of {step_name}")
    interval_ms: int | None = None
    if definition.mode == MarketMode.PERIODIC_AUCTION:
        interval = definition.auction_interval
        interval_ms = interval.seconds * 1000 + interval.nanos // 1_000_000
        if not definition.HasField("auction_interval") or interval_ms <= 0:
            violations.add("market.auction_interval", "a periodic auction needs a positive interval")
    elif definition.mode == MarketMode.CONTINUOUS:
        if definition.HasField("auction_interval"):
            violations.add("market.auction_interval", "only periodic auction markets have one")
    else:
        violations.add("market.mode", "must be CONTINUOUS or PERIODIC_AUCTION")
    if definition.state not in (0, *MarketState._value2member_map_):
        violations.add("market.state", "is not a known market state")
    if definition.self_trade_prevention not in (0, *SelfTradePrevention._value2member_map_):
        violations.add("market.self_trade_prevention", "is not a known policy")
    violations.raise_if_any("the market is invalid")
    if tick is None or lot is None:  # required above, so raise_if_any raised; this narrows the types
        raise InvalidArgument(MatchingReason.INVALID_ARGUMENT, "the market is invalid", violations=violations.items)
    market = Market(
        name=request.market_id, base_asset=definition.base_asset, quote_asset=definition.quote_asset,
        tick_size=tick, lot_size=lot, min_quantity=minimum, max_quantity=maximum,
        mode=MarketMode(definition.mode), auction_interval_ms=interval_ms,
        state=MarketState(definition.state or MarketState.OPEN),
        self_trade_prevention=SelfTradePrevention(definition.self_trade_prevention
                                                  or SelfTradePrevention.CANCEL_RESTING),
        reference_price=reference)
    require_fitting_assets(market, precisions)
    return market


def _decimal(violations: Violations, field: str, text: str, *, required: bool = False) -> Decimal | None:
    if not text:
        if required:
            violations.add(field, "is required")
        return None
    return violations.decimal(field, text)

"""Checks an order submission against its market's rules before it touches the book."""

from __future__ import annotations

from .enums import MarketMode, OrderType, Side, TimeInForce
from .market import Market
from .units import raise_if_invalid

# Module constants: reading members off an Enum class is slow, and this runs for every order.
_BUY, _SELL = Side.BUY, Side.SELL
_LIMIT, _MARKET = OrderType.LIMIT, OrderType.MARKET
_GTC, _IOC, _FOK, _GTT = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTT


class OrderRules:
    """A market's order rules with the decimal limits pre-converted to lots (checked per order)."""

    __slots__ = ("min_lots", "max_lots", "auction")

    def __init__(self, market: Market) -> None:
        self.min_lots = market.min_lots
        self.max_lots = market.max_lots
        self.auction = market.mode == MarketMode.PERIODIC_AUCTION

    def check(
        self,
        side: Side,
        order_type: OrderType,
        quantity: int,
        price: int | None,
        time_in_force: TimeInForce,
        post_only: bool,
        max_notional: int | None,
        expire_at: int | None,
        now: int,
    ) -> None:
        """Raise InvalidArgument listing every violated rule."""
        if (
            order_type == _LIMIT
            and time_in_force == _GTC
            and expire_at is None
            and max_notional is None
            and not post_only
            and (side == _BUY or side == _SELL)
            and price is not None
            and price > 0
            and quantity >= self.min_lots
            and (self.max_lots is None or quantity <= self.max_lots)
        ):
            return  # the common plain limit order: valid in every market
        violations: list[tuple[str, str]] = []
        if side != _BUY and side != _SELL:
            violations.append(("side", "must be BUY or SELL"))
        if quantity < self.min_lots:
            violations.append(("quantity", f"must be at least {self.min_lots} lots"))
        elif self.max_lots is not None and quantity > self.max_lots:
            violations.append(("quantity", f"must be at most {self.max_lots} lots"))
        if order_type == _LIMIT:
            if price is None or price <= 0:
                violations.append(("price", "a limit order needs a positive price"))
            if max_notional is not None:
                violations.append(("max_notional", "only market buy orders carry a budget"))
        elif order_type == _MARKET:
            if time_in_force != _IOC and time_in_force != _FOK:
                violations.append(("time_in_force", "market orders are IOC or FOK"))
            if post_only:
                violations.append(("post_only", "market orders always take"))
            if max_notional is not None and (side != _BUY or max_notional <= 0):
                violations.append(("max_notional", "must be positive and only on market buy orders"))
        else:
            violations.append(("type", "must be LIMIT or MARKET"))
        if post_only and (time_in_force == _IOC or time_in_force == _FOK):
            violations.append(("post_only", "post-only orders must be allowed to rest"))
        if time_in_force == _GTT:
            if expire_at is None:
                violations.append(("expire_time", "GTT orders need an expire time"))
            elif expire_at <= now:
                violations.append(("expire_time", "must be in the future"))
        elif expire_at is not None:
            violations.append(("expire_time", "only GTT orders carry an expire time"))
        if self.auction:
            # Orders only collect until the next clearing, so they must be able to rest.
            if order_type != _LIMIT:
                violations.append(("type", "periodic auction markets take limit orders only"))
            elif time_in_force != _GTC and time_in_force != _GTT:
                violations.append(("time_in_force", "periodic auction orders are GTC or GTT"))
            if post_only:
                violations.append(("post_only", "auction orders are neither maker nor taker"))
        if violations:
            raise_if_invalid(violations)

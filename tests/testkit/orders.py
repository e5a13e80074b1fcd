"""Orders as the Order service stores them, for tests that write them without a placement."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.order.domain.enums import OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import Order
from services.order.domain.validation import OrderSpec


def pending_order(order_id: str) -> Order:
    """A PENDING limit buy of 0.001 BTC at 1.00 USDC by alice, its request id derived from its id."""
    spec = OrderSpec(Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Decimal("1.00"), Decimal("0.001"), None, False,
                     None, "")
    now = datetime.now(UTC)
    return Order(order_id, "accounts/alice", "BTC-USDC", spec, f"request-{order_id}", "f", "USDC", 1000, 0,
                 OrderState.PENDING, Decimal(0), "", "", now, now)

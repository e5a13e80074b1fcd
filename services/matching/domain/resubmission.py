"""Is a resubmitted order the same order? (SubmitOrder is idempotent by order id.)

A resubmission with the order id of a known order answers that order's state only when it asks
for the same thing; otherwise the id is being reused for another order, which is refused
(ALREADY_EXISTS, ORDER_ID_REUSED) naming the fields that differ. What is compared is what is
still known of the first submission: its whole command while the writer remembers it; for an
order restored from a snapshot, what its resting entry holds; for an old finished order, whose
record is its last event, the account.
"""

from __future__ import annotations

from .book import RestingOrder
from .commands import SubmitOrder
from .enums import OrderType, TimeInForce

Terms = dict[str, object]  # wire field name -> value, in engine units


def command_terms(command: SubmitOrder) -> Terms:
    """Everything a submission asks for (its time of arrival is not part of it)."""
    time_in_force = command.time_in_force
    if time_in_force is None:  # the engine's default, so "unset" and the default compare equal
        time_in_force = TimeInForce.GTC if command.order_type == OrderType.LIMIT else TimeInForce.IOC
    return {
        "account": command.account,
        "side": command.side,
        "type": command.order_type,
        "price": command.price,
        "quantity": command.quantity,
        "time_in_force": time_in_force,
        "post_only": command.post_only,
        "max_notional": command.max_notional,
        "expire_time": command.expire_at,
    }


def resting_terms(order: RestingOrder) -> Terms:
    """What a resting order's entry still says of its submission (only GTC and GTT limits rest)."""
    explicit_expiry = order.expire_at is not None and not order.default_expiry
    return {
        "account": order.account,
        "side": order.side,
        "type": OrderType.LIMIT,
        "price": order.price,
        "quantity": order.quantity,
        "time_in_force": TimeInForce.GTT if explicit_expiry else TimeInForce.GTC,
        "expire_time": order.expire_at if explicit_expiry else None,
    }


def differing_fields(known: Terms, again: SubmitOrder) -> list[str]:
    """The fields of `again` that differ from what is known of the first submission."""
    asked = command_terms(again)
    return [field for field, value in known.items() if asked[field] != value]

"""Order book storage: price levels in FIFO order, one sorted key list per side.

Each side keeps its level keys ascending with the best level LAST so that taking the best
level and deleting an emptied best level are O(1) list operations. Bids use key = price and
asks key = -price, so the same code serves both sides. Cancelled orders are removed lazily:
they stay in their level's deque with `remaining == 0` and are skipped when reached, which
makes cancel O(1) instead of O(level length).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator


class RestingOrder:
    """An order the engine is handling; only LIMIT orders ever rest."""

    __slots__ = ("order_id", "account", "side", "price", "quantity", "remaining", "filled", "seq",
                 "expire_at", "default_expiry")

    def __init__(
        self,
        order_id: str,
        account: str,
        side: int,
        price: int,
        quantity: int,
        seq: int,
        expire_at: int | None,
        default_expiry: bool,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.quantity = quantity
        self.remaining = quantity
        self.filled = 0
        self.seq = seq
        self.expire_at = expire_at
        self.default_expiry = default_expiry  # expiry from the default lifetime, kept in arrival order


class PriceLevel:
    __slots__ = ("price", "orders", "quantity", "count")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[RestingOrder] = deque()
        self.quantity = 0  # live quantity
        self.count = 0  # live orders


class BookSide:
    __slots__ = ("sign", "keys", "levels")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # +1 bids, -1 asks: key = sign * price, best key is the largest
        self.keys: list[int] = []
        self.levels: dict[int, PriceLevel] = {}

    def add(self, order: RestingOrder) -> None:
        key = self.sign * order.price
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = PriceLevel(order.price)
            insort(self.keys, key)
        level.orders.append(order)
        level.quantity += order.remaining
        level.count += 1

    def discard(self, order: RestingOrder) -> None:
        """Remove a live order (lazily): zero its remaining and drop its level when empty."""
        key = self.sign * order.price
        level = self.levels[key]
        level.quantity -= order.remaining
        level.count -= 1
        order.remaining = 0
        if level.count == 0:
            del self.levels[key]
            del self.keys[bisect_left(self.keys, key)]

    def best_price(self) -> int | None:
        return self.sign * self.keys[-1] if self.keys else None

    def levels_best_first(self) -> Iterator[PriceLevel]:
        levels = self.levels
        for key in reversed(self.keys):
            yield levels[key]

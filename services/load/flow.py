"""The order flow: what many traders do on the two default markets, as a pure, seeded sequence.

No I/O and no clock: the same seed and settings give the same actions, so a run (or a failing
chaos test) can be replayed. Most orders rest a few ticks away from a fixed mid price; about
`crossing` of them are marketable (a limit through the far side of the resting band, an IOC
limit, or a market order), and some actions cancel one of the trader's earlier orders.

Markets and their grids are the defaults Matching starts with (services/matching/domain/
market.py): BTC-USDC is a continuous book (tick 0.01, lot 0.0001), GRID-USDC a periodic
auction (tick 0.001, lot 0.001) that takes only GTC/GTT limit orders — so market and IOC
orders go to BTC-USDC only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

# An order's side is the one vocabulary Order and Matching share (re-exported for the drivers).
from services.runtime.trading import Side as Side


class Kind(Enum):
    LIMIT = "LIMIT"  # good till cancelled
    IOC = "IOC"  # a limit order whose unfilled rest is cancelled at once
    MARKET = "MARKET"  # IOC at any price: a buy carries a budget (max_notional), a sell a quantity


@dataclass(frozen=True)
class MarketGrid:
    """One market as the flow prices it: the mid, the tick and lot grids, and how wide it quotes."""

    name: str
    mid: Decimal
    tick: Decimal
    lot: Decimal
    continuous: bool
    rest_ticks: int  # resting orders sit 1..rest_ticks ticks from the mid
    cross_ticks: int  # marketable limits go this far through the mid: past every resting order
    lots: tuple[int, int]  # quantity range, in lots


BTC_USDC = MarketGrid("markets/BTC-USDC", Decimal("100.00"), Decimal("0.01"), Decimal("0.0001"),
                      continuous=True, rest_ticks=20, cross_ticks=25, lots=(1, 10))
GRID_USDC = MarketGrid("markets/GRID-USDC", Decimal("0.100"), Decimal("0.001"), Decimal("0.001"),
                       continuous=False, rest_ticks=10, cross_ticks=15, lots=(1000, 10000))
DEFAULT_MARKETS = (BTC_USDC, GRID_USDC)


@dataclass(frozen=True)
class Mix:
    """Shares of the flow. `crossing`: of placed orders, those meant to trade at once; of
    those, `market` are market orders and `ioc` IOC limits (continuous market only)."""

    crossing: float = 0.30
    cancel: float = 0.10  # of actions: cancel one of the trader's earlier orders
    market: float = 0.10
    ioc: float = 0.20
    auction: float = 0.30  # of placed orders: on GRID-USDC

    def __post_init__(self) -> None:
        for name in ("crossing", "cancel", "market", "ioc", "auction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1")
        if self.market + self.ioc > 1:
            raise ValueError("market + ioc must not exceed 1 (they are shares of the crossing orders)")


@dataclass(frozen=True)
class Place:
    """Place one order. `number` is its place in the flow (0, 1, ...): a later Cancel names it."""

    number: int
    trader: int
    market: str
    side: Side
    kind: Kind
    price: str | None  # None for a market order
    quantity: str | None  # None for a market buy, which carries max_notional instead
    max_notional: str | None
    crossing: bool


@dataclass(frozen=True)
class Cancel:
    """Cancel the order that Place `number` made (if it was placed and is still live)."""

    trader: int
    number: int


Action = Place | Cancel


@dataclass
class Flow:
    """An endless, reproducible stream of actions by `traders` traders."""

    seed: int
    traders: int
    mix: Mix = field(default_factory=Mix)
    markets: tuple[MarketGrid, MarketGrid] = DEFAULT_MARKETS

    def __post_init__(self) -> None:
        if self.traders < 1:
            raise ValueError("at least one trader")
        self._random = random.Random(self.seed)
        self._placed = 0
        # Each trader's resting-capable orders (GTC limits), oldest first, for cancels to pick.
        self._cancellable: dict[int, list[int]] = {trader: [] for trader in range(self.traders)}

    def __iter__(self) -> Iterator[Action]:
        return self

    def __next__(self) -> Action:
        draw = self._random
        trader = draw.randrange(self.traders)
        mine = self._cancellable[trader]
        if mine and draw.random() < self.mix.cancel:
            return Cancel(trader, mine.pop(draw.randrange(len(mine))))
        return self._place(trader)

    def _place(self, trader: int) -> Place:
        draw = self._random
        number = self._placed
        self._placed += 1
        continuous, auction = self.markets
        grid = auction if draw.random() < self.mix.auction else continuous
        side = Side.BUY if draw.random() < 0.5 else Side.SELL
        quantity = grid.lot * draw.randint(*grid.lots)
        crossing = draw.random() < self.mix.crossing
        kind = Kind.LIMIT
        if crossing and grid.continuous:
            pick = draw.random()
            kind = Kind.MARKET if pick < self.mix.market else Kind.IOC if pick < self.mix.market + self.mix.ioc else Kind.LIMIT
        toward = 1 if side is Side.BUY else -1  # a buy crosses upwards, a sell downwards
        ticks = grid.cross_ticks if crossing else -draw.randint(1, grid.rest_ticks)
        price = grid.mid + toward * ticks * grid.tick
        if kind is Kind.LIMIT:
            self._cancellable[trader].append(number)
        if kind is Kind.MARKET:
            if side is Side.BUY:  # a budget of what the quantity would cost at the crossing price
                return Place(number, trader, grid.name, side, kind, None, None, str(price * quantity), crossing)
            return Place(number, trader, grid.name, side, kind, None, str(quantity), None, crossing)
        return Place(number, trader, grid.name, side, kind, str(price), str(quantity), None, crossing)

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from services.matching.domain import (
    Market,
    MarketMode,
    MatchingEngine,
    OrderType,
    SelfTradePrevention,
    Side,
    SubmitResult,
    default_markets,
)


def market(mode: MarketMode = MarketMode.CONTINUOUS, **changes: Any) -> Market:
    base = next(m for m in default_markets() if m.mode == mode)
    return replace(base, **changes)


@pytest.fixture
def book() -> MatchingEngine:
    """A continuous market with no size limits worth hitting in tests."""
    return MatchingEngine(market())


@pytest.fixture
def auction() -> MatchingEngine:
    return MatchingEngine(market(MarketMode.PERIODIC_AUCTION, reference_price=None))


@pytest.fixture
def engine_with() -> Callable[..., MatchingEngine]:
    def build(stp: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING, **options: Any) -> MatchingEngine:
        return MatchingEngine(market(self_trade_prevention=stp), **options)

    return build


def _limit(engine: MatchingEngine, order_id: str, side: Side, price: int, quantity: int, *, account: str | None = None,
          now: int = 1, **options: Any) -> SubmitResult:
    return engine.submit(order_id, account or f"acct-{order_id}", side, OrderType.LIMIT, quantity, price=price,
                         now=now, **options)


def _market_order(engine: MatchingEngine, order_id: str, side: Side, quantity: int, *, account: str | None = None,
                 now: int = 1, **options: Any) -> SubmitResult:
    return engine.submit(order_id, account or f"acct-{order_id}", side, OrderType.MARKET, quantity, now=now,
                         **options)


@pytest.fixture
def limit() -> Callable[..., SubmitResult]:
    """Submit a limit order: limit(engine, id, side, price, quantity, account=..., now=..., **options)."""
    return _limit


@pytest.fixture
def market_order() -> Callable[..., SubmitResult]:
    """Submit a market order: market_order(engine, id, side, quantity, account=..., now=..., **options)."""
    return _market_order


@pytest.fixture
def make_market() -> Callable[..., Market]:
    return market

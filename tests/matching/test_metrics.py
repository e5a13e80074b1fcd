"""Matching's market metrics: the books as a scrape reads them, trades counted once journaled,
the time to match each batch, and the auction clock's heartbeat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.matching.domain import MatchingEngine, OrderType, Side, SubmitOrder, apply, default_markets
from services.matching.metrics import BookCollector
from services.runtime.settings import Settings

GRID, BTC = default_markets()


def scraped(collector: BookCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    """(metric, label values) → value, for everything the collector reports now."""
    return {(family.name, tuple(sample.labels.values())): sample.value
            for family in collector.collect() for sample in family.samples}


class Exchange:
    """What the collector reads of Matching's exchange: its writers, each with its engine."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.writers = {engine.market.name: SimpleNamespace(engine=engine)}


def book_of(*orders: tuple[Side, int, int]) -> dict[tuple[str, tuple[str, ...]], float]:
    """A scrape of one BTC-USDC book holding these (side, price in ticks, lots) orders."""
    engine = MatchingEngine(BTC)
    for number, (side, price, lots) in enumerate(orders):
        apply(engine, SubmitOrder(f"o{number}", f"trader{number}", side, OrderType.LIMIT, lots, number + 1, price=price))
    collector, exchange = BookCollector(), Exchange(engine)
    collector.watch(exchange)  # weakly: `exchange` lives until the scrape below is taken
    return scraped(collector)


def test_the_book_size_counts_resting_orders_by_side() -> None:
    book = book_of((Side.BUY, 10_000, 5), (Side.BUY, 10_000, 3), (Side.BUY, 9_900, 5), (Side.SELL, 10_100, 5))
    assert book[("market_order_book_size", ("BTC-USDC", "buy"))] == 3  # orders, not price levels
    assert book[("market_order_book_size", ("BTC-USDC", "sell"))] == 1


def test_the_spread_is_the_best_ask_less_the_best_bid_in_the_quote_asset() -> None:
    book = book_of((Side.BUY, 10_000, 5), (Side.BUY, 9_900, 5), (Side.SELL, 10_100, 5), (Side.SELL, 10_300, 5))
    assert book[("market_best_price", ("BTC-USDC", "buy"))] == 100.0  # 10 000 ticks of 0.01
    assert book[("market_best_price", ("BTC-USDC", "sell"))] == 101.0
    assert book[("market_spread", ("BTC-USDC",))] == 1.0


def test_a_one_sided_book_has_no_spread_and_a_filled_one_is_empty() -> None:
    one_sided = book_of((Side.BUY, 10_000, 5))
    assert ("market_spread", ("BTC-USDC",)) not in one_sided
    crossed = book_of((Side.BUY, 10_000, 5), (Side.SELL, 10_000, 5))
    assert crossed[("market_order_book_size", ("BTC-USDC", "buy"))] == 0
    assert ("market_best_price", ("BTC-USDC", "buy")) not in crossed


@pytest.fixture
async def matching(open_matching: Callable[[Settings], Any], settings: Settings) -> AsyncIterator[Any]:
    """On SQLite only (the metrics do not depend on the store), auctions every 100 ms."""
    async with open_matching(settings.model_copy(update={"migrate_on_start": True, "matching_interval_ms": 100})) as running:
        yield running


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_trade_is_counted_once_its_batch_is_journaled(matching: Any) -> None:
    trades, batches = _value("market_trades_total", market="BTC-USDC"), \
        _value("market_matching_duration_seconds_count", market="BTC-USDC")
    await matching.submit("orders/s1", 2, "100.00", "0.5", account="accounts/sam")
    await matching.submit("orders/b1", 1, "100.00", "0.5", account="accounts/bea")
    assert _value("market_trades_total", market="BTC-USDC") == trades + 1
    assert _value("market_matching_duration_seconds_count", market="BTC-USDC") >= batches + 2


async def test_the_auction_clock_reports_each_round_and_its_interval(matching: Any) -> None:
    started = time.time()
    interval = matching.running.runtime.settings.matching_interval_ms / 1000

    def heartbeat() -> float:
        return _value("market_auction_last_run_timestamp_seconds", market="GRID-USDC")

    deadline = time.monotonic() + 10 * interval + 5
    while heartbeat() < started and time.monotonic() < deadline:
        await matching.book("GRID-USDC")  # yields to the service's loop, in this process
    assert heartbeat() >= started
    assert _value("market_auction_interval_seconds", market="GRID-USDC") == interval

"""Matching's market metrics: trades, the time to match a batch, the auction clock's heartbeat,
and the books (size, best prices, spread) read at scrape time.

The writer's hot loop pays per batch, not per command: one counter increment for the batch's
trades and one histogram observation for its matching time, on children kept by the writer.
The books cost nothing until Prometheus scrapes: the collector reads them then.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.matching.domain import MatchingEngine, ticks_to_price
from services.matching.domain.book import BookSide

TRADES = Counter("market_trades_total", "Trades made, by market (counted once their batch is journaled).",
                 ["market"])
# A batch is every command that arrived while the previous one was being journaled.
MATCHING_DURATION = Histogram(
    "market_matching_duration_seconds", "Time to match one batch of commands against a market's book.",
    ["market"], buckets=(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                         0.025, 0.05, 0.1, 0.25, 1))
AUCTION_LAST_RUN = Gauge(
    "market_auction_last_run_timestamp_seconds",
    "When a periodic-auction market's clock last ran to the end of a round (cleared, or nothing crossed).",
    ["market"])
AUCTION_INTERVAL = Gauge("market_auction_interval_seconds", "A periodic-auction market's clearing interval.",
                         ["market"])

SIDES = ("buy", "sell")


class MarketChildren:
    """One market's labelled children, resolved once when its writer starts."""

    __slots__ = ("trades", "matching")

    def __init__(self, market: str) -> None:
        self.trades = TRADES.labels(market)
        self.matching = MATCHING_DURATION.labels(market)


class BookCollector(Collector):
    """market_order_book_size, market_best_price and market_spread of every market of every
    Matching running in this process (tests run several), read when scraped."""

    def __init__(self) -> None:
        # Keyed weakly: a closed exchange's writers vanish with it.
        self._sources: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, exchange: Any) -> None:
        """`exchange` has `writers`: market name → writer with an `engine`."""
        self._sources.add(exchange)

    def _engines(self) -> Iterator[MatchingEngine]:
        for exchange in list(self._sources):
            for writer in list(exchange.writers.values()):
                yield writer.engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        size = GaugeMetricFamily("market_order_book_size", "Orders resting in the book, by market and side.",
                                 labels=["market", "side"])
        best = GaugeMetricFamily("market_best_price", "The best resting price, by market and side (absent when empty).",
                                 labels=["market", "side"])
        spread = GaugeMetricFamily("market_spread", "Best ask minus best bid, by market (absent unless both sides rest).",
                                   labels=["market"])
        for engine in self._engines():
            market = engine.market
            prices: list[int | None] = []
            for side, book in zip(SIDES, (engine.bids, engine.asks)):
                size.add_metric([market.name, side], sum(level.count for level in list(book.levels.values())))
                price = _best_price(book)
                prices.append(price)
                if price is not None:
                    best.add_metric([market.name, side], float(ticks_to_price(market, price)))
            bid, ask = prices
            if bid is not None and ask is not None:
                spread.add_metric([market.name], float(ticks_to_price(market, ask - bid)))
        return [size, best, spread]


def _best_price(book: BookSide) -> int | None:
    """The side's best price; the scrape runs on the exporter's thread while the event loop
    may empty the side between the look and the read."""
    try:
        return book.best_price()
    except IndexError:
        return None


BOOKS = BookCollector()
REGISTRY.register(BOOKS)

"""Stable UPPER_SNAKE reasons Matching attaches to its errors (ErrorInfo.reason).

One enum so the engine, the writer, the adapter and the tests name every failure the same way;
values never change once released. (The reasons carried by order events — why an order was
cancelled or rejected — are `enums.Reason`: they are data, not errors.)
"""

from __future__ import annotations

from enum import StrEnum


class MatchingReason(StrEnum):
    # Input validation (InvalidArgument).
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_ORDER = "INVALID_ORDER"
    # Market definitions against the configured assets (InvalidArgument).
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    PRECISION_MISMATCH = "PRECISION_MISMATCH"
    # State (FailedPrecondition, ResourceExhausted).
    MARKET_HALTED = "MARKET_HALTED"
    NOT_AN_AUCTION_MARKET = "NOT_AN_AUCTION_MARKET"
    UNSUPPORTED_SNAPSHOT = "UNSUPPORTED_SNAPSHOT"
    ORDER_BOOK_FULL = "ORDER_BOOK_FULL"
    # The market is another Matching shard's (services/runtime/shards.py).
    MARKET_ON_ANOTHER_SHARD = "MARKET_ON_ANOTHER_SHARD"
    # Lookups (NotFound).
    MARKET_NOT_FOUND = "MARKET_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    # Existence (AlreadyExists): a name taken, or an order id reused for another order.
    MARKET_ALREADY_EXISTS = "MARKET_ALREADY_EXISTS"
    ORDER_ALREADY_EXISTS = "ORDER_ALREADY_EXISTS"
    ORDER_ID_REUSED = "ORDER_ID_REUSED"
    # Retry (Aborted, Unavailable).
    ORDER_IN_FLIGHT = "ORDER_IN_FLIGHT"
    JOURNAL_UNAVAILABLE = "JOURNAL_UNAVAILABLE"
    # The shard that owns the market, asked on a user's behalf, did not answer (Unavailable).
    SHARD_UNAVAILABLE = "SHARD_UNAVAILABLE"

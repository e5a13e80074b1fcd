"""Stable UPPER_SNAKE reasons the Order service attaches to its errors and rejected orders."""

from __future__ import annotations

from enum import StrEnum


class OrderReason(StrEnum):
    # Input validation (InvalidArgument).
    INVALID_ORDER = "INVALID_ORDER"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    # State (FailedPrecondition).
    ORDER_NOT_OPEN = "ORDER_NOT_OPEN"
    MARKET_HALTED = "MARKET_HALTED"
    KYC_DENIED = "KYC_DENIED"  # KYC refused without a reason of its own
    # Lookups (NotFound): another account's order is reported exactly like a missing one.
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    # Ownership (PermissionDenied).
    NOT_ACCOUNT_OWNER = "NOT_ACCOUNT_OWNER"
    # A peer could not answer (Unavailable); also the reject_reason of the order it concerned.
    MATCHING_UNAVAILABLE = "MATCHING_UNAVAILABLE"
    WALLET_UNAVAILABLE = "WALLET_UNAVAILABLE"
    KYC_UNAVAILABLE = "KYC_UNAVAILABLE"
    # The Wallet has no precision for an asset of the market: nothing can be held in it.
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    # tick × lot is finer than the quote asset's unit (a market from before Matching refused those).
    MARKET_NOT_SETTLEABLE = "MARKET_NOT_SETTLEABLE"
    # A cancel Matching confirmed (Matching's own reason for it).
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    # The same PlaceOrder request_id is being worked on by a concurrent call.
    ORDER_IN_FLIGHT = "ORDER_IN_FLIGHT"
    # (Aborted) The account's orders were stored through other replicas while this one was
    # placed, each of several times, beyond what KYC's answer left room for.
    CONCURRENT_PLACEMENTS = "CONCURRENT_PLACEMENTS"

"""Stable UPPER_SNAKE reasons the Settlement service attaches to its errors (ErrorInfo.reason).

One enum so the service, the chain adapters and the tests name every failure the same way;
values never change once released. A FAILED settlement's `failure_reason` starts with one
(its own, or the Wallet's).
"""

from __future__ import annotations

from enum import StrEnum


class SettlementReason(StrEnum):
    # Lookups (NotFound) and access (PermissionDenied).
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    MARKET_NOT_FOUND = "MARKET_NOT_FOUND"
    NOT_SETTLEMENT_PARTY = "NOT_SETTLEMENT_PARTY"
    # State (FailedPrecondition).
    SETTLEMENT_NOT_FAILED = "SETTLEMENT_NOT_FAILED"
    SETTLEMENT_NOT_ANCHORED = "SETTLEMENT_NOT_ANCHORED"
    # A trade that cannot be charged as it stands (its settlement is FAILED at intake).
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    INVALID_TRADE = "INVALID_TRADE"
    # Reconcile could not read Matching or the Wallet (Unavailable).
    PEER_UNAVAILABLE = "PEER_UNAVAILABLE"
    # The chain (Unavailable): the RPC node cannot be reached or answered with an error, or
    # the cluster refused the anchor transaction (e.g. the payer cannot pay the fee).
    CHAIN_UNAVAILABLE = "CHAIN_UNAVAILABLE"
    # The anchor transaction was sent but not seen at the wanted commitment in time
    # (DeadlineExceeded); it may still land, so the batch stays unanchored until re-checked.
    ANCHOR_NOT_CONFIRMED = "ANCHOR_NOT_CONFIRMED"
    # A transaction signature that is not base58 of 64 bytes (InvalidArgument).
    INVALID_ANCHOR_SIGNATURE = "INVALID_ANCHOR_SIGNATURE"

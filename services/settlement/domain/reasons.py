"""Stable UPPER_SNAKE reasons the Settlement service attaches to its errors (ErrorInfo.reason).

Values never change once released; `failure_reason` of a FAILED settlement starts with one.
"""

from __future__ import annotations

from enum import StrEnum


class SettlementReason(StrEnum):
    # Lookups (NotFound) and access (PermissionDenied).
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    NOT_SETTLEMENT_PARTY = "NOT_SETTLEMENT_PARTY"
    # State (FailedPrecondition).
    SETTLEMENT_NOT_FAILED = "SETTLEMENT_NOT_FAILED"
    SETTLEMENT_NOT_ANCHORED = "SETTLEMENT_NOT_ANCHORED"
    # A trade that cannot be charged as it stands (its settlement is FAILED at intake).
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    INVALID_TRADE = "INVALID_TRADE"

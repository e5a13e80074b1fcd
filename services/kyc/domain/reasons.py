"""Stable UPPER_SNAKE reasons the KYC service reports (ErrorInfo.reason on the wire).

One enum so the domain, the adapter, the store and the tests name every outcome the same way;
values never change once released.
"""

from __future__ import annotations

from enum import StrEnum


class KycReason(StrEnum):
    # Input validation (InvalidArgument).
    INVALID_APPLICANT = "INVALID_APPLICANT"
    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    INVALID_REVIEW = "INVALID_REVIEW"
    INVALID_ELIGIBILITY_REQUEST = "INVALID_ELIGIBILITY_REQUEST"
    INVALID_KYC_CONFIG = "INVALID_KYC_CONFIG"
    # State (AlreadyExists, FailedPrecondition).
    APPLICANT_ALREADY_EXISTS = "APPLICANT_ALREADY_EXISTS"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
    TOO_MANY_DOCUMENTS = "TOO_MANY_DOCUMENTS"
    # A lost race between two writers of one applicant (Aborted: retry).
    CONCURRENT_MODIFICATION = "CONCURRENT_MODIFICATION"
    # Lookups and ownership (NotFound, PermissionDenied).
    APPLICANT_NOT_FOUND = "APPLICANT_NOT_FOUND"
    APPLICANT_NOT_OWNED = "APPLICANT_NOT_OWNED"
    ACCOUNT_NOT_OWNED = "ACCOUNT_NOT_OWNED"

    # Eligibility denials (values of EligibilityDecision.reason).
    KYC_REQUIRED = "KYC_REQUIRED"
    KYC_TIER_TOO_LOW = "KYC_TIER_TOO_LOW"
    KYC_LIMIT_EXCEEDED = "KYC_LIMIT_EXCEEDED"

    # Screening findings (codes of ScreeningFinding).
    UNDERAGE = "UNDERAGE"
    COUNTRY_DENIED = "COUNTRY_DENIED"
    SANCTIONS_MATCH = "SANCTIONS_MATCH"

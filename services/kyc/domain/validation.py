"""Turns raw inputs into valid values, or one InvalidArgument listing every bad field.

Descriptions never echo the offending value: it may be PII and error messages end up in logs.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import TypeVar

import pycountry

from services.kyc.domain.reasons import KycReason
from services.kyc.domain.inputs import ApplicantInput, DocumentInput, ReviewInput
from services.kyc.domain.model import (
    IDENTITY_DOCUMENT_TYPES,
    ApplicantProfile,
    DocumentType,
    ReviewDecision,
    Tier,
)
from services.kyc.domain.pii import normalize_document_number
from services.runtime.validation import Violations

MAX_LEGAL_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 1000
MAX_REASON_LENGTH = 1000
MAX_DOCUMENT_NUMBER_LENGTH = 64
# Nobody alive was born earlier; an older date is a typo, not a customer.
EARLIEST_DATE_OF_BIRTH = date(1900, 1, 1)
# Stands in for a refused date beside its violation (as UNSPECIFIED does for enums), so the
# validators stay total; raise_if_any never lets it out.
_REFUSED_DATE = date.min
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Machine-readable zones use A-Z and 0-9 only, so a normalized number must too.
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

E = TypeVar("E", bound=Enum)


def _collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text if char not in "\n\r\t")


def _free_text(value: str, field: str, max_length: int, violations: Violations) -> str:
    """Non-empty printable text of bounded length, whitespace collapsed."""
    text = _collapse_whitespace(value or "")
    if not text:
        violations.add(field, "must not be empty")
    elif len(text) > max_length:
        violations.add(field, f"must be at most {max_length} characters")
    elif _has_control_characters(value):
        violations.add(field, "must not contain control characters")
    return text


def country_code(value: str, field: str, violations: Violations) -> str:
    """An ISO 3166-1 alpha-2 code, uppercased; unknown codes (including 'XX') are violations."""
    code = (value or "").strip().upper()
    if not code:
        violations.add(field, "must be an ISO 3166-1 alpha-2 country code")
    elif len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        violations.add(field, "is not a known ISO 3166-1 alpha-2 country code")
    return code


def _date_of_birth(value: date | str, today: date, violations: Violations) -> date:
    """The date, or _REFUSED_DATE with a violation. The words name a year, a month and a day,
    not a text format: the contract's date is a google.type.Date, never a string."""
    field = "date_of_birth"
    if isinstance(value, date):
        parsed = value
    elif not value:
        violations.add(field, "is required")
        return _REFUSED_DATE
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            violations.add(field, "is not a valid calendar date (year, month and day)")
            return _REFUSED_DATE
    else:
        violations.add(field, "must be a calendar date: a year, a month and a day")
        return _REFUSED_DATE
    if parsed > today:
        violations.add(field, "must not be in the future")
        return _REFUSED_DATE
    if parsed < EARLIEST_DATE_OF_BIRTH:
        violations.add(field, f"must not be before {EARLIEST_DATE_OF_BIRTH.isoformat()}")
        return _REFUSED_DATE
    return parsed


def _enum_member(enum_type: type[E], value: E | str, unspecified: E, field: str, violations: Violations) -> E:
    try:
        member = enum_type(value)
    except ValueError:
        violations.add(field, f"must be one of {', '.join(m.value for m in enum_type if m is not unspecified)}")
        return unspecified
    if member is unspecified:
        violations.add(field, "must be specified")
    return member


def valid_profile(request: ApplicantInput, today: date) -> ApplicantProfile:
    violations = Violations()
    legal_name = _free_text(request.legal_name, "legal_name", MAX_LEGAL_NAME_LENGTH, violations)
    if legal_name and not any(unicodedata.category(c).startswith("L") for c in legal_name):
        violations.add("legal_name", "must contain at least one letter")
    date_of_birth = _date_of_birth(request.date_of_birth, today, violations)
    country = country_code(request.country, "country", violations)
    address = _free_text(request.address, "address", MAX_ADDRESS_LENGTH, violations)
    violations.raise_if_any("the applicant has invalid fields", reason=KycReason.INVALID_APPLICANT)
    return ApplicantProfile(legal_name, date_of_birth, country, address)


@dataclass(frozen=True, slots=True)
class ValidDocument:
    type: DocumentType
    issuing_country: str
    normalized_number: str | None = field(repr=False)  # None when the type carries no number
    sha256: str
    size_bytes: int


def valid_document(request: DocumentInput) -> ValidDocument:
    violations = Violations()
    doc_type = _enum_member(DocumentType, request.type, DocumentType.UNSPECIFIED, "document.type", violations)
    issuing_country = country_code(request.issuing_country, "document.issuing_country", violations)
    number = normalize_document_number(request.number or "")
    if number:
        if len(number) > MAX_DOCUMENT_NUMBER_LENGTH:
            violations.add("document.number", f"must be at most {MAX_DOCUMENT_NUMBER_LENGTH} characters")
        elif not _DOCUMENT_NUMBER.fullmatch(number):
            violations.add("document.number", "may contain only letters A-Z, digits and separators")
    elif doc_type in IDENTITY_DOCUMENT_TYPES:
        violations.add("document.number", "is required for identity documents")
    sha256 = (request.sha256 or "").strip().lower()
    if not _SHA256_HEX.fullmatch(sha256):
        violations.add("document.sha256", "must be 64 hexadecimal characters")
    # bool is an int subclass; True is not a file size.
    if not isinstance(request.size_bytes, int) or isinstance(request.size_bytes, bool):
        violations.add("document.size_bytes", "must be an integer")
    elif request.size_bytes <= 0:
        violations.add("document.size_bytes", "must be positive")
    violations.raise_if_any("the document has invalid fields", reason=KycReason.INVALID_DOCUMENT)
    return ValidDocument(doc_type, issuing_country, number or None, sha256, request.size_bytes)


@dataclass(frozen=True, slots=True)
class ValidReview:
    decision: ReviewDecision
    tier: Tier
    reason: str


def valid_review(request: ReviewInput) -> ValidReview:
    violations = Violations()
    decision = _enum_member(ReviewDecision, request.decision, ReviewDecision.UNSPECIFIED, "decision", violations)
    reason = _collapse_whitespace(request.reason or "")
    if len(reason) > MAX_REASON_LENGTH:
        violations.add("reason", f"must be at most {MAX_REASON_LENGTH} characters")
    tier = Tier.TIER_0
    if decision is ReviewDecision.APPROVE:
        # Approving into tier 0 would be an approval that allows nothing; reject instead.
        if request.tier not in (Tier.TIER_1, Tier.TIER_2):
            violations.add("tier", "must be 1 or 2 to approve")
        else:
            tier = Tier(request.tier)
    elif decision is ReviewDecision.REJECT:
        if request.tier != Tier.TIER_0:
            violations.add("tier", "must be unset when rejecting")
        if not reason:
            violations.add("reason", "is required when rejecting")
    violations.raise_if_any("the review has invalid fields", reason=KycReason.INVALID_REVIEW)
    return ValidReview(decision, tier, reason)

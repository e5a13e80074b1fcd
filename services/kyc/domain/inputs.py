"""What callers pass to the transitions, before validation (the adapter maps protos onto these).

Fields holding PII are excluded from repr so a logged request cannot leak them.
"""

from dataclasses import dataclass, field
from datetime import date

from services.kyc.domain.model import DocumentType, ReviewDecision


@dataclass(frozen=True, slots=True)
class ApplicantInput:
    legal_name: str = field(repr=False)
    date_of_birth: date | str = field(repr=False)  # a date, or "YYYY-MM-DD"
    country: str = field(repr=False)  # ISO 3166-1 alpha-2
    address: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DocumentInput:
    type: DocumentType | str
    issuing_country: str
    number: str = field(repr=False)  # hashed on arrival, never stored
    sha256: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ReviewInput:
    decision: ReviewDecision | str
    tier: int = 0  # required (1 or 2) to approve; must stay 0 to reject
    reason: str = ""  # required to reject

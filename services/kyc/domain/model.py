"""Value objects of the KYC domain. All frozen: a transition returns a new Applicant."""

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum

from services.kyc.domain.pii import redact
from services.kyc.domain.screening_result import ScreeningResult


class ApplicantState(StrEnum):
    PENDING = "PENDING"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class DocumentType(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    PASSPORT = "PASSPORT"
    NATIONAL_ID = "NATIONAL_ID"
    PROOF_OF_ADDRESS = "PROOF_OF_ADDRESS"


# Documents that prove who the applicant is; screening waits for one of them.
IDENTITY_DOCUMENT_TYPES = frozenset({DocumentType.PASSPORT, DocumentType.NATIONAL_ID})


class ReviewDecision(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class Tier(IntEnum):
    TIER_0 = 0
    TIER_1 = 1
    TIER_2 = 2


@dataclass(frozen=True, slots=True)
class ApplicantProfile:
    """The applicant's PII. Its repr shows only which fields are present, never their values."""

    legal_name: str
    date_of_birth: date
    country: str  # ISO 3166-1 alpha-2, uppercase
    address: str

    def __repr__(self) -> str:
        return (
            f"ApplicantProfile(legal_name={redact(self.legal_name)}, "
            f"date_of_birth={redact(self.date_of_birth)}, country={redact(self.country)}, "
            f"address={redact(self.address)})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Document:
    """Metadata of one submitted file; the image itself never reaches this service."""

    document_id: str
    type: DocumentType
    issuing_country: str
    # Keyed hash of the normalized number (None for documents without one, e.g. a utility bill).
    # Hidden from repr anyway: it is a stable identifier that links records across systems.
    number_hash: str | None = field(repr=False)
    sha256: str
    size_bytes: int
    submit_time: datetime


@dataclass(frozen=True, slots=True)
class Applicant:
    applicant_id: str
    account_id: str
    state: ApplicantState
    profile: ApplicantProfile
    tier: Tier
    create_time: datetime
    update_time: datetime
    # Incremented by every transition; the store uses it as the etag for optimistic locking.
    revision: int
    documents: tuple[Document, ...] = ()
    screening: ScreeningResult | None = None
    rejection_reason: str | None = None

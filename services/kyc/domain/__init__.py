"""The KYC service's pure domain: applicant lifecycle, screening, tiers and eligibility, PII.

No gRPC, protobuf, storage or wall clock here; see lifecycle.py for the state machine.
"""

from services.kyc.domain.audit import SCREENING_ACTOR, AuditAction, AuditEvent, Transition
from services.kyc.domain.eligibility import (
    EligibilityAction,
    EligibilityDecision,
    KycStanding,
    KycStatus,
    check_eligibility,
)
from services.kyc.domain.inputs import ApplicantInput, DocumentInput, ReviewInput
from services.kyc.domain.lifecycle import create_applicant, review_applicant, submit_document
from services.kyc.domain.model import (
    Applicant,
    ApplicantProfile,
    ApplicantState,
    Document,
    DocumentType,
    ReviewDecision,
    Tier,
)
from services.kyc.domain.names import normalize_name
from services.kyc.domain.pii import DocumentNumberHasher, PiiCipher, PiiDecryptionError, redact
from services.kyc.domain.reasons import KycReason
from services.kyc.domain.sanctions import SanctionsEntry, SanctionsList, SanctionsMatch
from services.kyc.domain.screening import ScreeningPolicy, SanctionsMatchAction, age_on, screen
from services.kyc.domain.screening_result import ScreeningFinding, ScreeningOutcome, ScreeningResult
from services.kyc.domain.tiers import DEFAULT_TIER_TABLE, TierLimits, TierTable

__all__ = [
    "DEFAULT_TIER_TABLE",
    "SCREENING_ACTOR",
    "Applicant",
    "ApplicantInput",
    "ApplicantProfile",
    "ApplicantState",
    "AuditAction",
    "AuditEvent",
    "Document",
    "DocumentInput",
    "DocumentNumberHasher",
    "DocumentType",
    "EligibilityAction",
    "EligibilityDecision",
    "KycReason",
    "KycStanding",
    "KycStatus",
    "PiiCipher",
    "PiiDecryptionError",
    "ReviewDecision",
    "ReviewInput",
    "SanctionsEntry",
    "SanctionsList",
    "SanctionsMatch",
    "SanctionsMatchAction",
    "ScreeningFinding",
    "ScreeningOutcome",
    "ScreeningPolicy",
    "ScreeningResult",
    "Tier",
    "TierLimits",
    "TierTable",
    "Transition",
    "age_on",
    "check_eligibility",
    "create_applicant",
    "normalize_name",
    "redact",
    "review_applicant",
    "screen",
    "submit_document",
]

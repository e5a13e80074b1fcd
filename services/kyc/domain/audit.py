"""The audit trail: every transition yields immutable events; the store appends them as they are."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.kyc.domain.model import Applicant, ApplicantState, Tier

# Who acts when no person does: automatic screening, i.e. the KYC service itself (the contract's
# actors are `accounts/{account}` or `services/{service}`).
SCREENING_ACTOR = "services/kyc"


class AuditAction(StrEnum):
    CREATED = "CREATED"
    DOCUMENT_SUBMITTED = "DOCUMENT_SUBMITTED"
    SCREENED = "SCREENED"
    REVIEWED = "REVIEWED"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    applicant_id: str
    revision: int  # the applicant revision this event produced; orders the trail
    action: AuditAction
    actor: str
    time: datetime
    from_state: ApplicantState | None  # None for creation
    to_state: ApplicantState
    tier: Tier  # the tier after the event, so tier changes show in the trail
    reason: str  # never PII: codes, document ids, operator-written review reasons


@dataclass(frozen=True, slots=True)
class Transition:
    """A transition's whole output: the applicant to store and the events to append with it."""

    applicant: Applicant
    events: tuple[AuditEvent, ...]

"""The applicant state machine. Each transition is a pure function: current applicant + input +
actor + `now` in, a Transition (new applicant + audit events) out; nothing is stored here.

    (none) --CreateApplicant--> PENDING
    PENDING --SubmitDocument (identity doc) + screening--> IN_REVIEW, or REJECTED on a hard finding
    PENDING --SubmitDocument (proof of address only)--> PENDING   (screening waits for an identity doc)
    IN_REVIEW --SubmitDocument--> IN_REVIEW (re-screened), or REJECTED on a hard finding
    IN_REVIEW --Review APPROVE(tier 1|2)--> APPROVED;  --Review REJECT(reason)--> REJECTED
    APPROVED --Review APPROVE(other tier)--> APPROVED  (operators move tiers up or down)
    APPROVED --Review REJECT(reason)--> REJECTED       (approval revoked, e.g. a later sanctions hit)

Everything else is INVALID_STATE_TRANSITION: reviewing a PENDING applicant would skip
screening, and REJECTED is final (reopening would be a new, explicit transition). Documents are
accepted only while the applicant waits for a decision (PENDING, IN_REVIEW).
"""

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from services.kyc.domain.reasons import KycReason
from services.kyc.domain.audit import SCREENING_ACTOR, AuditAction, AuditEvent, Transition
from services.kyc.domain.inputs import ApplicantInput, DocumentInput, ReviewInput
from services.kyc.domain.model import (
    IDENTITY_DOCUMENT_TYPES,
    Applicant,
    ApplicantState,
    Document,
    ReviewDecision,
    Tier,
)
from services.kyc.domain.pii import DocumentNumberHasher
from services.kyc.domain.sanctions import SanctionsList
from services.kyc.domain.screening import ScreeningPolicy, screen
from services.kyc.domain.screening_result import ScreeningOutcome, ScreeningResult
from services.kyc.domain.validation import valid_document, valid_profile, valid_review
from services.runtime.errors import AlreadyExists, FailedPrecondition, PermissionDenied

# Bounds storage per applicant; a genuine applicant needs two or three.
MAX_DOCUMENTS_PER_APPLICANT = 10


def _utc_date(now: datetime) -> date:
    """Ages and "future" dates are judged on the UTC calendar day of `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).date()


def _invalid_transition(applicant: Applicant, action: str) -> FailedPrecondition:
    return FailedPrecondition(
        KycReason.INVALID_STATE_TRANSITION,
        f"cannot {action} an applicant in state {applicant.state.value}",
        metadata={"state": applicant.state.value},
    )


class _EventLog:
    """Builds successive versions of one applicant with their events and consecutive revisions."""

    def __init__(self, applicant: Applicant) -> None:
        self.applicant = applicant
        self.events: list[AuditEvent] = []

    def record(self, action: AuditAction, actor: str, now: datetime, reason: str, **changes: Any) -> None:
        before = self.applicant
        after = replace(before, update_time=now, revision=before.revision + 1, **changes)
        self.events.append(
            AuditEvent(after.applicant_id, after.revision, action, actor, now, before.state, after.state, after.tier, reason)
        )
        self.applicant = after

    def transition(self) -> Transition:
        return Transition(self.applicant, tuple(self.events))


def create_applicant(
    *,
    applicant_id: str,
    account_id: str,
    request: ApplicantInput,
    existing: Applicant | None,
    actor: str,
    now: datetime,
) -> Transition:
    """`existing` is the account's current applicant, if any: one applicant per account. (The
    store's unique key on account_id still settles a race between two concurrent creates.)"""
    if existing is not None:
        raise AlreadyExists(
            KycReason.APPLICANT_ALREADY_EXISTS,
            "the account already has an applicant",
            metadata={"applicant": existing.applicant_id},
        )
    profile = valid_profile(request, _utc_date(now))
    applicant = Applicant(
        applicant_id=applicant_id,
        account_id=account_id,
        state=ApplicantState.PENDING,
        profile=profile,
        tier=Tier.TIER_0,
        create_time=now,
        update_time=now,
        revision=1,
    )
    event = AuditEvent(applicant_id, 1, AuditAction.CREATED, actor, now, None, ApplicantState.PENDING, Tier.TIER_0, "created")
    return Transition(applicant, (event,))


def _state_after_screening(current: ApplicantState, result: ScreeningResult) -> ApplicantState:
    if result.outcome is ScreeningOutcome.REJECTED:
        return ApplicantState.REJECTED
    return ApplicantState.IN_REVIEW if current is ApplicantState.PENDING else current


def _screening_reason(result: ScreeningResult) -> str:
    codes = sorted({finding.code for finding in result.findings})
    return f"screening {result.outcome.value}" + (f": {', '.join(codes)}" if codes else "")


def submit_document(
    applicant: Applicant,
    *,
    caller_account_id: str,
    document_id: str,
    request: DocumentInput,
    hasher: DocumentNumberHasher,
    sanctions: SanctionsList,
    policy: ScreeningPolicy,
    now: datetime,
) -> Transition:
    """Adds a document; once an identity document is on file, screens the applicant."""
    if caller_account_id != applicant.account_id:
        raise PermissionDenied(KycReason.APPLICANT_NOT_OWNED, "documents may be submitted only by the applicant's owner")
    valid = valid_document(request)
    if applicant.state not in (ApplicantState.PENDING, ApplicantState.IN_REVIEW):
        raise _invalid_transition(applicant, "submit a document for")
    if len(applicant.documents) >= MAX_DOCUMENTS_PER_APPLICANT:
        raise FailedPrecondition(KycReason.TOO_MANY_DOCUMENTS, f"at most {MAX_DOCUMENTS_PER_APPLICANT} documents per applicant")

    document = Document(
        document_id=document_id,
        type=valid.type,
        issuing_country=valid.issuing_country,
        number_hash=hasher.hash(valid.normalized_number) if valid.normalized_number else None,
        sha256=valid.sha256,
        size_bytes=valid.size_bytes,
        submit_time=now,
    )
    log = _EventLog(applicant)
    log.record(
        AuditAction.DOCUMENT_SUBMITTED,
        caller_account_id,
        now,
        f"document {document_id} ({document.type.value})",
        documents=(*applicant.documents, document),
    )
    documents = log.applicant.documents
    if any(doc.type in IDENTITY_DOCUMENT_TYPES for doc in documents):
        result = screen(applicant.profile, documents, sanctions, policy, _utc_date(now), now)
        rejected = result.outcome is ScreeningOutcome.REJECTED
        reason = _screening_reason(result)
        log.record(
            AuditAction.SCREENED,
            SCREENING_ACTOR,
            now,
            reason,
            screening=result,
            state=_state_after_screening(applicant.state, result),
            rejection_reason=reason if rejected else None,
        )
    return log.transition()


def review_applicant(applicant: Applicant, *, request: ReviewInput, actor: str, now: datetime) -> Transition:
    """An operator's decision. The caller has already checked that `actor` is an operator."""
    review = valid_review(request)
    if applicant.state not in (ApplicantState.IN_REVIEW, ApplicantState.APPROVED):
        raise _invalid_transition(applicant, "review")
    log = _EventLog(applicant)
    if review.decision is ReviewDecision.APPROVE:
        if applicant.state is ApplicantState.APPROVED and applicant.tier == review.tier:
            raise FailedPrecondition(
                KycReason.INVALID_STATE_TRANSITION,
                f"the applicant is already approved at tier {review.tier.value}",
                metadata={"state": applicant.state.value, "tier": str(review.tier.value)},
            )
        log.record(
            AuditAction.REVIEWED,
            actor,
            now,
            review.reason or f"approved at tier {review.tier.value}",
            state=ApplicantState.APPROVED,
            tier=review.tier,
            rejection_reason=None,
        )
    else:
        log.record(
            AuditAction.REVIEWED,
            actor,
            now,
            review.reason,
            state=ApplicantState.REJECTED,
            tier=Tier.TIER_0,
            rejection_reason=review.reason,
        )
    return log.transition()

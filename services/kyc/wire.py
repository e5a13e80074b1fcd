"""Between the contract's messages and the domain's values. Where they differ, the proto wins.

- Enums: the proto's prefixed names map onto the domain's (`DOCUMENT_TYPE_PASSPORT` →
  `PASSPORT`); a number the contract does not define becomes a name the domain refuses.
- Dates: `google.type.Date` becomes the domain's ISO text, so the domain alone decides what a
  valid date of birth is (an unset date is "", a 30 February is invalid).
- Names: `applicants/{id}`, `applicants/{id}/documents/{id}`, `applicants/{id}/auditEvents/{revision}`.
"""

from __future__ import annotations

from decimal import Decimal

from google.type import date_pb2

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2
from services.kyc.domain import (
    Applicant,
    ApplicantInput,
    ApplicantState,
    AuditEvent,
    Document,
    DocumentInput,
    EligibilityAction,
    EligibilityDecision,
    ReviewInput,
)
from services.runtime.timestamps import timestamp

APPLICANTS = "applicants"
_UNKNOWN = "UNKNOWN"  # not a member of any domain enum: the domain names the field as invalid

_STATE_TO_PB = {
    ApplicantState.PENDING: kyc_pb2.APPLICANT_STATE_PENDING,
    ApplicantState.IN_REVIEW: kyc_pb2.APPLICANT_STATE_IN_REVIEW,
    ApplicantState.APPROVED: kyc_pb2.APPLICANT_STATE_APPROVED,
    ApplicantState.REJECTED: kyc_pb2.APPLICANT_STATE_REJECTED,
}


def _enum_name(enum: object, number: int, prefix: str) -> str:
    try:
        name: str = enum.Name(number)  # type: ignore[attr-defined]
    except ValueError:
        return _UNKNOWN
    return name.removeprefix(prefix)


def applicant_name(applicant_id: str) -> str:
    return f"{APPLICANTS}/{applicant_id}"


def _iso_date(value: date_pb2.Date) -> str:
    if not (value.year or value.month or value.day):
        return ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


# Requests → domain inputs


def applicant_input(message: kyc_pb2.Applicant) -> ApplicantInput:
    return ApplicantInput(legal_name=message.legal_name, date_of_birth=_iso_date(message.date_of_birth),
                          country=message.country, address=message.address)


def document_input(message: kyc_pb2.Document) -> DocumentInput:
    return DocumentInput(type=_enum_name(kyc_pb2.DocumentType, message.type, "DOCUMENT_TYPE_"),
                         issuing_country=message.issuing_country, number=message.number,
                         sha256=message.sha256, size_bytes=message.size_bytes)


def review_input(request: kyc_service_pb2.ReviewApplicantRequest) -> ReviewInput:
    return ReviewInput(decision=_enum_name(kyc_service_pb2.ReviewDecision, request.decision, "REVIEW_DECISION_"),
                       tier=request.tier, reason=request.reason)


def eligibility_action(number: int) -> EligibilityAction | str:
    return _enum_name(kyc_service_pb2.EligibilityAction, number, "ELIGIBILITY_ACTION_")


# Domain values → responses


def applicant_pb(applicant: Applicant) -> kyc_pb2.Applicant:
    """With the PII decrypted: only the owner and operators are ever answered with it."""
    profile = applicant.profile
    findings = applicant.screening.findings if applicant.screening else ()
    return kyc_pb2.Applicant(
        name=applicant_name(applicant.applicant_id),
        account=applicant.account_id,
        legal_name=profile.legal_name,
        date_of_birth=date_pb2.Date(year=profile.date_of_birth.year, month=profile.date_of_birth.month,
                                    day=profile.date_of_birth.day),
        country=profile.country,
        address=profile.address,
        state=_STATE_TO_PB[applicant.state],
        tier=int(applicant.tier),
        screening_flags=sorted({finding.code for finding in findings}),
        reject_reason=applicant.rejection_reason or "",
        create_time=timestamp(applicant.create_time),
        update_time=timestamp(applicant.update_time),
    )


def document_pb(applicant_id: str, document: Document) -> kyc_pb2.Document:
    """The number is INPUT_ONLY: it is never answered (and only its keyed hash is kept)."""
    return kyc_pb2.Document(
        name=f"{applicant_name(applicant_id)}/documents/{document.document_id}",
        type=f"DOCUMENT_TYPE_{document.type.value}",
        issuing_country=document.issuing_country,
        sha256=document.sha256,
        size_bytes=document.size_bytes,
        create_time=timestamp(document.submit_time),
    )


def audit_event_pb(event: AuditEvent) -> kyc_pb2.AuditEvent:
    return kyc_pb2.AuditEvent(
        name=f"{applicant_name(event.applicant_id)}/auditEvents/{event.revision}",
        actor=event.actor,
        from_state=_STATE_TO_PB[event.from_state] if event.from_state else kyc_pb2.APPLICANT_STATE_UNSPECIFIED,
        to_state=_STATE_TO_PB[event.to_state],
        reason=event.reason,
        create_time=timestamp(event.time),
    )


def decimal_text(value: Decimal) -> str:
    """A plain decimal string, never an exponent ("10000", not "1E+4")."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def eligibility_pb(decision: EligibilityDecision, amount: Decimal) -> kyc_service_pb2.CheckEligibilityResponse:
    """`remaining` per the contract: what is left of the binding limit after this amount. The
    domain reports the headroom before the request, so an allowed amount is subtracted; a
    denied one uses nothing, so what is left is the whole headroom (the most that would pass).
    Empty when no limit binds."""
    remaining = ""
    if decision.remaining is not None:
        left = decision.remaining - amount if decision.allowed else decision.remaining
        remaining = decimal_text(left)
    return kyc_service_pb2.CheckEligibilityResponse(
        allowed=decision.allowed,
        tier=int(decision.tier),
        reason=decision.reason or "",
        remaining=remaining,
    )

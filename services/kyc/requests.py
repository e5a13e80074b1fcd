"""Parsing of every KYC request into the domain's inputs: each bad field named at once, before
anything is read or written. The field rules are the domain's (services/kyc/domain/validation.py);
this module maps a request onto them and names each field as the request nests it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from clearmesh.kyc.v1 import kyc_service_pb2 as pb
from services.kyc import wire
from services.kyc.domain import ApplicantInput, DocumentInput, EligibilityAction, KycReason, ReviewInput
from services.kyc.domain.validation import valid_document, valid_profile, valid_review
from services.runtime.errors import InvalidArgument
from services.runtime.paging import Page, read_page
from services.runtime.validation import Violations

T = TypeVar("T")
C = TypeVar("C", DocumentInput, ReviewInput)


@dataclass(frozen=True, slots=True)
class CreateApplicant:
    applicant: ApplicantInput
    request_id: str  # "" when the caller sent none


@dataclass(frozen=True, slots=True)
class ApplicantChange(Generic[C]):
    """A change to one applicant: a document to add (SubmitDocument) or a review."""

    applicant_id: str
    change: C
    request_id: str


@dataclass(frozen=True, slots=True)
class CheckEligibility:
    account: str  # accounts/{id}
    action: EligibilityAction | str  # the domain refuses an unknown action by name
    asset: str
    amount: Decimal
    used_24h: Decimal


@dataclass(frozen=True, slots=True)
class ListAuditEvents:
    applicant_id: str
    page: Page


def applicant_id(field: str, name: str) -> str:
    """The id of `applicants/{id}`, or InvalidArgument naming `field`."""
    violations = Violations()
    parsed = violations.resource_name(field, name, wire.APPLICANTS)
    if parsed is None:
        raise violations.error(f"{field} must name an applicant")
    return parsed


def _request_id(request_id: str) -> str:
    violations = Violations()
    violations.request_id(request_id, required=False)
    violations.raise_if_any()
    return request_id


def _nested(prefix: str, validate: Callable[[], T]) -> T:
    """The domain names profile fields bare (`legal_name`); the request nests them in `applicant`."""
    try:
        return validate()
    except InvalidArgument as error:
        error.violations = [(prefix + field, description) for field, description in error.violations]
        raise


def parse_create_applicant(request: pb.CreateApplicantRequest, today: date) -> CreateApplicant:
    applicant = wire.applicant_input(request.applicant)
    _nested("applicant.", lambda: valid_profile(applicant, today))
    return CreateApplicant(applicant, _request_id(request.request_id))


def parse_submit_document(request: pb.SubmitDocumentRequest) -> ApplicantChange[DocumentInput]:
    parent = applicant_id("parent", request.parent)
    document = wire.document_input(request.document)
    valid_document(document)
    return ApplicantChange(parent, document, _request_id(request.request_id))


def parse_review_applicant(request: pb.ReviewApplicantRequest) -> ApplicantChange[ReviewInput]:
    name = applicant_id("name", request.name)
    review = wire.review_input(request)
    valid_review(review)
    return ApplicantChange(name, review, _request_id(request.request_id))


def parse_check_eligibility(request: pb.CheckEligibilityRequest) -> CheckEligibility:
    violations = Violations()
    violations.resource_name("account", request.account, "accounts")
    amount = violations.decimal("amount", request.amount) if violations.require("amount", request.amount) else None
    used = Decimal(0)  # the contract: empty means zero
    if request.used_amount:
        parsed_used = violations.decimal("used_amount", request.used_amount, positive=False)
        if parsed_used is not None and parsed_used < 0:
            violations.add("used_amount", "must not be negative")
        elif parsed_used is not None:
            used = parsed_used
    if amount is None or violations.items:
        raise violations.error("the eligibility request has invalid fields",
                               reason=KycReason.INVALID_ELIGIBILITY_REQUEST)
    return CheckEligibility(request.account, wire.eligibility_action(request.action), request.asset,
                            amount, used)


def parse_list_audit_events(request: pb.ListAuditEventsRequest) -> ListAuditEvents:
    parent = applicant_id("parent", request.parent)
    return ListAuditEvents(parent, read_page(request.page_size, request.page_token, request.parent))

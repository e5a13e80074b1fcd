"""The applicant state machine: each allowed transition, each refused one, and its audit events."""

from dataclasses import replace

import pytest

from services.kyc.domain import (
    SCREENING_ACTOR,
    ApplicantState,
    AuditAction,
    DocumentType,
    ReviewDecision,
    ReviewInput,
    ScreeningOutcome,
    ScreeningPolicy,
    SanctionsMatchAction,
    Tier,
    create_applicant,
    review_applicant,
    submit_document,
)
from services.kyc.domain.lifecycle import MAX_DOCUMENTS_PER_APPLICANT
from services.kyc.domain.reasons import KycReason
from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied


def approve(applicant, journey, tier=Tier.TIER_1):
    return review_applicant(applicant, request=ReviewInput(ReviewDecision.APPROVE, tier), actor=journey.operator, now=journey.now)


def reject(applicant, journey, reason="documents do not match"):
    return review_applicant(applicant, request=ReviewInput(ReviewDecision.REJECT, reason=reason), actor=journey.operator, now=journey.now)


# --- CreateApplicant -------------------------------------------------------------------------


def test_a_new_applicant_is_pending_at_tier_zero(journey):
    applicant = journey.create()
    assert (applicant.state, applicant.tier, applicant.revision) == (ApplicantState.PENDING, Tier.TIER_0, 1)


def test_creation_is_audited_from_nothing_to_pending_by_the_owner(journey):
    transition = create_applicant(
        applicant_id="applicants/a1", account_id=journey.owner, request=journey.adult_input, existing=None, actor=journey.owner, now=journey.now
    )
    (event,) = transition.events
    assert (event.action, event.actor, event.from_state, event.to_state, event.time) == (
        AuditAction.CREATED,
        journey.owner,
        None,
        ApplicantState.PENDING,
        journey.now,
    )


def test_a_second_applicant_for_the_same_account_already_exists(journey):
    existing = journey.create()
    with pytest.raises(AlreadyExists) as raised:
        create_applicant(
            applicant_id="applicants/a2", account_id=journey.owner, request=journey.adult_input, existing=existing, actor=journey.owner, now=journey.now
        )
    assert raised.value.reason == "APPLICANT_ALREADY_EXISTS"


def test_creation_requires_a_timezone_aware_now(journey):
    with pytest.raises(ValueError):
        journey.create(now=journey.now.replace(tzinfo=None))


# --- SubmitDocument + screening --------------------------------------------------------------


def test_an_identity_document_screens_a_pending_applicant_into_review(journey):
    transition = journey.submit(journey.create())
    assert transition.applicant.state is ApplicantState.IN_REVIEW
    assert transition.applicant.screening.outcome is ScreeningOutcome.CLEAR


def test_submission_is_audited_as_document_then_screening(journey):
    transition = journey.submit(journey.create())
    assert [(e.action, e.actor, e.from_state, e.to_state) for e in transition.events] == [
        (AuditAction.DOCUMENT_SUBMITTED, journey.owner, ApplicantState.PENDING, ApplicantState.PENDING),
        (AuditAction.SCREENED, SCREENING_ACTOR, ApplicantState.PENDING, ApplicantState.IN_REVIEW),
    ]


def test_each_audit_event_carries_the_next_revision(journey):
    created = journey.create()
    transition = journey.submit(created)
    assert [e.revision for e in transition.events] == [created.revision + 1, created.revision + 2]
    assert transition.applicant.revision == created.revision + 2


def test_proof_of_address_alone_keeps_the_applicant_pending(journey):
    transition = journey.submit(journey.create(), journey.proof_of_address())
    assert transition.applicant.state is ApplicantState.PENDING
    assert [e.action for e in transition.events] == [AuditAction.DOCUMENT_SUBMITTED]


def test_the_document_number_is_stored_only_as_its_keyed_hash(journey):
    document = journey.submit(journey.create(), journey.passport(number="c01x-00t47")).applicant.documents[0]
    assert document.number_hash == journey.hasher.hash("C01X00T47")


def test_the_document_keeps_file_digest_and_size(journey):
    document = journey.submit(journey.create(), journey.passport(sha256="AB" * 32, size_bytes=99)).applicant.documents[0]
    assert (document.sha256, document.size_bytes, document.type) == ("ab" * 32, 99, DocumentType.PASSPORT)


def test_documents_for_someone_elses_applicant_are_denied(journey):
    with pytest.raises(PermissionDenied):
        submit_document(
            journey.create(),
            caller_account_id="accounts/mallory",
            document_id="d1",
            request=journey.passport(),
            hasher=journey.hasher,
            sanctions=journey.sanctions,
            policy=journey.policy,
            now=journey.now,
        )


def test_an_invalid_document_is_refused_before_anything_changes(journey):
    with pytest.raises(InvalidArgument):
        journey.submit(journey.create(), journey.passport(size_bytes=-1))


def test_a_document_in_review_is_added_and_rescreened(journey):
    transition = journey.submit(journey.in_review(), journey.proof_of_address(), document_id="d2")
    assert transition.applicant.state is ApplicantState.IN_REVIEW
    assert [e.action for e in transition.events] == [AuditAction.DOCUMENT_SUBMITTED, AuditAction.SCREENED]
    assert len(transition.applicant.documents) == 2


@pytest.mark.parametrize("decided", ["approved", "rejected"])
def test_documents_are_refused_once_decided(journey, decided):
    applicant = journey.approved() if decided == "approved" else reject(journey.in_review(), journey).applicant
    with pytest.raises(FailedPrecondition) as raised:
        journey.submit(applicant, document_id="d9")
    assert raised.value.reason == "INVALID_STATE_TRANSITION"


def test_documents_are_capped_per_applicant(journey):
    applicant = journey.create()
    for index in range(MAX_DOCUMENTS_PER_APPLICANT):
        applicant = journey.submit(applicant, journey.proof_of_address(), document_id=f"d{index}").applicant
    with pytest.raises(FailedPrecondition) as raised:
        journey.submit(applicant, journey.proof_of_address(), document_id="one-too-many")
    assert raised.value.reason == KycReason.TOO_MANY_DOCUMENTS


def test_an_underage_applicant_is_rejected_by_screening(journey):
    minor = replace(journey.adult_input, date_of_birth=journey.birthday_years_before(journey.now.date(), 17))
    transition = journey.submit(journey.create(minor))
    assert transition.applicant.state is ApplicantState.REJECTED
    assert transition.events[-1].actor == SCREENING_ACTOR
    assert "UNDERAGE" in transition.applicant.rejection_reason


def test_a_sanctions_match_goes_to_review_flagged_by_default(journey):
    listed = replace(journey.adult_input, legal_name="Ivana Testerova")
    applicant = journey.submit(journey.create(listed)).applicant
    assert (applicant.state, applicant.screening.outcome) == (ApplicantState.IN_REVIEW, ScreeningOutcome.FLAGGED)


def test_a_sanctions_match_is_rejected_when_policy_says_so(journey):
    journey.policy = ScreeningPolicy(sanctions_match_action=SanctionsMatchAction.REJECT)
    listed = replace(journey.adult_input, legal_name="Ivana Testerova")
    assert journey.submit(journey.create(listed)).applicant.state is ApplicantState.REJECTED


# --- ReviewApplicant -------------------------------------------------------------------------


def test_an_operator_approves_an_applicant_in_review_with_a_tier(journey):
    applicant = approve(journey.in_review(), journey, Tier.TIER_2).applicant
    assert (applicant.state, applicant.tier) == (ApplicantState.APPROVED, Tier.TIER_2)


def test_approval_is_audited_with_operator_states_and_tier(journey):
    (event,) = approve(journey.in_review(), journey, Tier.TIER_2).events
    assert (event.action, event.actor, event.from_state, event.to_state, event.tier) == (
        AuditAction.REVIEWED,
        journey.operator,
        ApplicantState.IN_REVIEW,
        ApplicantState.APPROVED,
        Tier.TIER_2,
    )


def test_an_operator_rejects_an_applicant_in_review_with_a_reason(journey):
    transition = reject(journey.in_review(), journey, "blurred passport photo")
    assert (transition.applicant.state, transition.applicant.rejection_reason) == (ApplicantState.REJECTED, "blurred passport photo")
    assert transition.events[0].reason == "blurred passport photo"


def test_a_flagged_applicant_can_still_be_approved_by_an_operator(journey):
    flagged = journey.in_review(replace(journey.adult_input, legal_name="Ivana Testerova"))
    assert approve(flagged, journey).applicant.state is ApplicantState.APPROVED


def test_a_pending_applicant_cannot_be_reviewed_before_screening(journey):
    with pytest.raises(FailedPrecondition) as raised:
        approve(journey.create(), journey)
    assert raised.value.reason == "INVALID_STATE_TRANSITION"


def test_a_rejected_applicant_cannot_be_reviewed_again(journey):
    rejected = reject(journey.in_review(), journey).applicant
    with pytest.raises(FailedPrecondition) as raised:
        approve(rejected, journey)
    assert raised.value.reason == "INVALID_STATE_TRANSITION"


def test_an_operator_changes_an_approved_applicants_tier(journey):
    transition = approve(journey.approved(Tier.TIER_1), journey, Tier.TIER_2)
    assert transition.applicant.tier is Tier.TIER_2
    assert (transition.events[0].from_state, transition.events[0].to_state) == (ApplicantState.APPROVED, ApplicantState.APPROVED)


def test_reapproving_at_the_same_tier_is_refused(journey):
    with pytest.raises(FailedPrecondition) as raised:
        approve(journey.approved(Tier.TIER_1), journey, Tier.TIER_1)
    assert raised.value.reason == "INVALID_STATE_TRANSITION"


def test_revoking_an_approval_drops_the_tier_to_zero(journey):
    applicant = reject(journey.approved(Tier.TIER_2), journey, "sanctions list update").applicant
    assert (applicant.state, applicant.tier) == (ApplicantState.REJECTED, Tier.TIER_0)


def test_transitions_leave_the_input_applicant_untouched(journey):
    in_review = journey.in_review()
    approve(in_review, journey)
    assert in_review.state is ApplicantState.IN_REVIEW

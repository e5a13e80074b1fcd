"""An applicant's way from creation to a tier, over gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb

Kyc = Any


async def test_an_applicant_is_created_pending_for_the_callers_account(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    created = await kyc.create("alice")
    assert created.name.startswith("applicants/")
    assert created.account == "accounts/alice"
    assert created.state == kyc_pb2.APPLICANT_STATE_PENDING
    assert created.tier == 0
    assert (created.legal_name, created.country, created.address) == (kyc.LEGAL_NAME, "NL", kyc.ADDRESS)
    assert created.date_of_birth == kyc.DATE_OF_BIRTH


async def test_the_full_lifecycle_ends_in_the_reviewed_tier(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    created = await kyc.create("alice")
    await kyc.submit(created, "alice")
    assert (await kyc.get(created.name)).state == kyc_pb2.APPLICANT_STATE_IN_REVIEW

    approved = await kyc.review(created.name, pb.REVIEW_DECISION_APPROVE, tier=2)

    assert (approved.state, approved.tier) == (kyc_pb2.APPLICANT_STATE_APPROVED, 2)
    assert await kyc.get(created.name) == approved
    check = await kyc.check("alice", pb.ELIGIBILITY_ACTION_PLACE_ORDER, "1000")
    assert (check.allowed, check.tier) == (True, 2)


async def test_a_rejection_keeps_the_operators_reason(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    created = await kyc.create("alice")
    await kyc.submit(created, "alice")
    rejected = await kyc.review(created.name, pb.REVIEW_DECISION_REJECT, reason="document unreadable")
    assert (rejected.state, rejected.tier, rejected.reject_reason) == (
        kyc_pb2.APPLICANT_STATE_REJECTED, 0, "document unreadable")


async def test_a_document_answer_keeps_the_metadata_but_never_the_number(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    created = await kyc.create("alice")
    document = await kyc.submit(created, "alice", size_bytes=1234)
    assert document.name.startswith(f"{created.name}/documents/")
    assert (document.type, document.issuing_country, document.size_bytes) == (
        kyc_pb2.DOCUMENT_TYPE_PASSPORT, "NL", 1234)
    assert document.number == ""
    assert document.create_time.seconds > 0


async def test_a_retried_create_with_the_same_request_id_answers_the_first_result(kyc: Kyc) -> None:
    request = pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(
        legal_name=kyc.LEGAL_NAME, date_of_birth=kyc.DATE_OF_BIRTH, country="NL", address=kyc.ADDRESS),
        request_id="create-1")
    first = await kyc.stub.CreateApplicant(request, metadata=kyc.trader("alice"))
    retried = await kyc.stub.CreateApplicant(request, metadata=kyc.trader("alice"))
    assert retried == first
    assert (await kyc.counts()).applicants == 1


async def test_concurrent_documents_for_one_applicant_never_lose_an_update(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    created = await kyc.create("alice")
    outcomes = await asyncio.gather(*(kyc.submit(created, "alice", size_bytes=size) for size in (1, 2, 3)),
                                    return_exceptions=True)
    accepted = [outcome for outcome in outcomes if isinstance(outcome, kyc_pb2.Document)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
    assert len(accepted) + len(refused) == 3 and accepted
    assert {error.code() for error in refused} <= {grpc.StatusCode.ABORTED}
    counts = await kyc.counts()
    # Each accepted passport adds itself and a screening event to the one creation event.
    assert (counts.documents, counts.audit_events) == (len(accepted), 1 + 2 * len(accepted))

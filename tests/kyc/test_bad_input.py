"""Bad input is refused with the right code, ErrorInfo reason and field violations, and nothing
is stored (row counts unchanged), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.type import date_pb2

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb

Kyc = Any


@pytest.mark.parametrize(("changes", "field"), [
    ({"date_of_birth": date_pb2.Date(year=1990, month=2, day=30)}, "applicant.date_of_birth"),
    ({"date_of_birth": date_pb2.Date(year=1990, month=13, day=1)}, "applicant.date_of_birth"),
    ({"date_of_birth": date_pb2.Date()}, "applicant.date_of_birth"),
    ({"date_of_birth": date_pb2.Date(year=2027, month=1, day=1)}, "applicant.date_of_birth"),
    ({"country": "XX"}, "applicant.country"),
    ({"country": "Netherlands"}, "applicant.country"),
    ({"legal_name": ""}, "applicant.legal_name"),
    ({"address": "  "}, "applicant.address"),
])
async def test_an_invalid_applicant_field_is_named_and_nothing_is_stored(kyc: Kyc, changes: dict[str, Any],
                                                                         field: str) -> None:
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.create("alice", **changes))
    assert (refusal.code, refusal.reason, refusal.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_APPLICANT", [field])
    assert await kyc.counts() == before


@pytest.mark.parametrize(("date_of_birth", "description"), [
    (date_pb2.Date(), "is required"),
    (date_pb2.Date(year=1990, month=2, day=30), "is not a valid calendar date (year, month and day)"),
    (date_pb2.Date(year=1990), "is not a valid calendar date (year, month and day)"),
])
async def test_a_bad_date_of_birth_is_described_as_the_contract_takes_it(kyc: Kyc, date_of_birth: date_pb2.Date,
                                                                        description: str) -> None:
    """The contract's date is {year, month, day}; no text format is named to a caller."""
    refusal = await kyc.refused(kyc.create("alice", date_of_birth=date_of_birth))
    assert (refusal.fields, refusal.descriptions) == (["applicant.date_of_birth"], [description])


async def test_every_bad_applicant_field_is_named_at_once(kyc: Kyc) -> None:
    refusal = await kyc.refused(kyc.stub.CreateApplicant(pb.CreateApplicantRequest(), metadata=kyc.trader("alice")))
    assert refusal.fields == ["applicant.legal_name", "applicant.date_of_birth", "applicant.country",
                              "applicant.address"]


async def test_a_second_applicant_for_the_account_already_exists(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    await kyc.create("alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.create("alice", legal_name="Someone Else"))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.ALREADY_EXISTS, "APPLICANT_ALREADY_EXISTS")
    assert await kyc.counts() == before


async def test_of_two_concurrent_creates_for_one_account_exactly_one_wins(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    outcomes = await asyncio.gather(*(kyc.create("alice") for _ in range(4)), return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(failures) == 3
    codes = {failure.code() if isinstance(failure, grpc.aio.AioRpcError) else failure for failure in failures}
    assert codes == {grpc.StatusCode.ALREADY_EXISTS}
    counts = await kyc.counts()
    assert (counts.applicants, counts.audit_events) == (1, 1)


async def test_a_document_for_someone_elses_applicant_is_denied_and_not_stored(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    alices = await kyc.create("alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.submit(alices, "mallory"))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "APPLICANT_NOT_OWNED")
    assert await kyc.counts() == before


async def test_a_document_for_a_missing_applicant_is_denied_like_someone_elses(kyc: Kyc) -> None:
    missing = kyc_pb2.Applicant(name="applicants/00000000-0000-0000-0000-000000000000")
    refusal = await kyc.refused(kyc.submit(missing, "mallory"))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "APPLICANT_NOT_OWNED")


@pytest.mark.parametrize(("changes", "field"), [
    ({"type": kyc_pb2.DOCUMENT_TYPE_UNSPECIFIED}, "document.type"),
    ({"type": 99}, "document.type"),
    ({"issuing_country": "ZZ"}, "document.issuing_country"),
    ({"number": ""}, "document.number"),
    ({"sha256": "not-a-digest"}, "document.sha256"),
    ({"size_bytes": -5}, "document.size_bytes"),
])
async def test_an_invalid_document_field_is_named_and_nothing_is_stored(kyc: Kyc, changes: dict[str, Any],
                                                                        field: str) -> None:
    applicant = await kyc.create("alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.submit(applicant, "alice", **changes))
    assert (refusal.code, refusal.reason, refusal.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_DOCUMENT", [field])
    assert await kyc.counts() == before
    assert (await kyc.get(applicant.name)).state == kyc_pb2.APPLICANT_STATE_PENDING


async def test_a_review_by_a_trader_is_denied_and_changes_nothing(kyc: Kyc) -> None:
    applicant = await kyc.create("alice")
    await kyc.submit(applicant, "alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.stub.ReviewApplicant(
        pb.ReviewApplicantRequest(name=applicant.name, decision=pb.REVIEW_DECISION_APPROVE, tier=2),
        metadata=kyc.trader("alice")))
    assert refusal.code == grpc.StatusCode.PERMISSION_DENIED
    assert await kyc.counts() == before
    assert (await kyc.get(applicant.name)).state == kyc_pb2.APPLICANT_STATE_IN_REVIEW


@pytest.mark.parametrize(("decision", "tier", "reason", "fields"), [
    (pb.REVIEW_DECISION_APPROVE, 0, "", ["tier"]),
    (pb.REVIEW_DECISION_APPROVE, 3, "", ["tier"]),
    (pb.REVIEW_DECISION_REJECT, 0, "", ["reason"]),
    (pb.REVIEW_DECISION_UNSPECIFIED, 0, "", ["decision"]),
])
async def test_an_invalid_review_is_refused_and_changes_nothing(kyc: Kyc, decision: int, tier: int, reason: str,
                                                                 fields: list[str]) -> None:
    applicant = await kyc.create("alice")
    await kyc.submit(applicant, "alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.review(applicant.name, decision, tier=tier, reason=reason))
    assert (refusal.code, refusal.reason, refusal.fields) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REVIEW", fields)
    assert await kyc.counts() == before


async def test_reviewing_an_applicant_that_has_not_been_screened_is_a_failed_precondition(kyc: Kyc) -> None:
    applicant = await kyc.create("alice")
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.review(applicant.name, pb.REVIEW_DECISION_APPROVE, tier=1))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert await kyc.counts() == before


async def test_reviewing_a_missing_applicant_is_not_found(kyc: Kyc) -> None:
    refusal = await kyc.refused(kyc.review("applicants/nobody", pb.REVIEW_DECISION_APPROVE, tier=1))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.NOT_FOUND, "APPLICANT_NOT_FOUND")


@pytest.mark.parametrize("name", ["", "alice", "applicants/", "applicants/a/b", "accounts/alice"])
async def test_a_malformed_applicant_name_is_an_invalid_argument(kyc: Kyc, name: str) -> None:
    refusal = await kyc.refused(kyc.get(name))
    assert (refusal.code, refusal.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["name"])


async def test_a_request_id_reused_for_another_request_is_refused(kyc: Kyc) -> None:
    applicant = await kyc.create("alice")
    first = pb.SubmitDocumentRequest(parent=applicant.name, request_id="doc-1", document=kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number="AB1", sha256="a" * 64, size_bytes=1))
    await kyc.stub.SubmitDocument(first, metadata=kyc.trader("alice"))
    before = await kyc.counts()
    other = pb.SubmitDocumentRequest()
    other.CopyFrom(first)
    other.document.size_bytes = 2
    refusal = await kyc.refused(kyc.stub.SubmitDocument(other, metadata=kyc.trader("alice")))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    assert await kyc.counts() == before


async def test_a_document_for_a_rejected_applicant_is_a_failed_precondition(kyc: Kyc) -> None:
    applicant = await kyc.create("alice", country="KP")
    await kyc.submit(applicant, "alice")  # screening rejects: residence in a denied country
    before = await kyc.counts()
    refusal = await kyc.refused(kyc.submit(applicant, "alice"))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION")
    assert await kyc.counts() == before

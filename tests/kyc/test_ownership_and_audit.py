"""Who may read an applicant, and the audit trail operators read."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb

Kyc = Any
PENDING, IN_REVIEW, APPROVED, REJECTED = (kyc_pb2.APPLICANT_STATE_PENDING, kyc_pb2.APPLICANT_STATE_IN_REVIEW,
                                          kyc_pb2.APPLICANT_STATE_APPROVED, kyc_pb2.APPLICANT_STATE_REJECTED)


async def test_the_owner_reads_their_applicant_with_its_personal_data(kyc: Kyc) -> None:
    created = await kyc.create("alice")
    read = await kyc.get(created.name, kyc.trader("alice"))
    assert (read.legal_name, read.address, read.date_of_birth) == (kyc.LEGAL_NAME, kyc.ADDRESS, kyc.DATE_OF_BIRTH)


async def test_an_operator_reads_any_applicant_with_its_personal_data(kyc: Kyc) -> None:
    created = await kyc.create("alice")
    assert (await kyc.get(created.name, kyc.operator())).legal_name == kyc.LEGAL_NAME


async def test_another_trader_is_denied_an_applicant(kyc: Kyc) -> None:
    created = await kyc.create("alice")
    refusal = await kyc.refused(kyc.get(created.name, kyc.trader("mallory")))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "APPLICANT_NOT_OWNED")


async def test_a_trader_cannot_learn_whether_an_applicant_exists(kyc: Kyc) -> None:
    refusal = await kyc.refused(kyc.get("applicants/no-such-one", kyc.trader("mallory")))
    assert refusal.code == grpc.StatusCode.PERMISSION_DENIED


async def test_an_operator_asking_for_a_missing_applicant_gets_not_found(kyc: Kyc) -> None:
    refusal = await kyc.refused(kyc.get("applicants/no-such-one", kyc.operator()))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.NOT_FOUND, "APPLICANT_NOT_FOUND")


async def _events(kyc: Kyc, name: str, page_size: int = 0, page_token: str = "") -> pb.ListAuditEventsResponse:
    return await kyc.stub.ListAuditEvents(
        pb.ListAuditEventsRequest(parent=name, page_size=page_size, page_token=page_token), metadata=kyc.operator())


async def test_the_audit_trail_records_every_change_in_order_with_actor_and_reason(kyc_on_each_database: Kyc) -> None:
    kyc = kyc_on_each_database
    approved = await kyc.approved("alice", tier=1)
    await kyc.review(approved.name, pb.REVIEW_DECISION_REJECT, reason="approval revoked")

    trail = (await _events(kyc, approved.name)).audit_events

    assert [(e.actor, e.from_state, e.to_state) for e in trail] == [
        ("accounts/alice", kyc_pb2.APPLICANT_STATE_UNSPECIFIED, PENDING),
        ("accounts/alice", PENDING, PENDING),
        ("services/kyc", PENDING, IN_REVIEW),
        ("accounts/op", IN_REVIEW, APPROVED),
        ("accounts/op", APPROVED, REJECTED),
    ]
    assert [e.reason for e in trail][2:] == ["screening CLEAR", "approved at tier 1", "approval revoked"]
    assert [e.name for e in trail] == [f"{approved.name}/auditEvents/{revision}" for revision in range(1, 6)]
    assert {e.create_time.ToDatetime().isoformat() for e in trail} == {"2026-11-21T12:00:00"}


async def test_the_audit_trail_is_paginated(kyc: Kyc) -> None:
    approved = await kyc.approved("alice")  # four events: created, document submitted, screened, approved
    first = await _events(kyc, approved.name, page_size=3)
    second = await _events(kyc, approved.name, page_size=3, page_token=first.next_page_token)
    everything = await _events(kyc, approved.name)
    assert [len(first.audit_events), len(second.audit_events)] == [3, 1]
    assert list(first.audit_events) + list(second.audit_events) == list(everything.audit_events)
    assert second.next_page_token == ""


async def test_a_page_token_for_another_applicant_is_refused(kyc: Kyc) -> None:
    alices = await kyc.approved("alice")
    bobs = await kyc.create("bob")
    first = await _events(kyc, alices.name, page_size=1)
    refusal = await kyc.refused(_events(kyc, bobs.name, page_token=first.next_page_token))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")


async def test_the_audit_trail_of_a_missing_applicant_is_not_found(kyc: Kyc) -> None:
    refusal = await kyc.refused(_events(kyc, "applicants/no-such-one"))
    assert refusal.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("roles", [("trader",), ()])
async def test_only_operators_list_the_audit_trail(kyc: Kyc, roles: tuple[str, ...]) -> None:
    created = await kyc.create("alice")
    refusal = await kyc.refused(kyc.stub.ListAuditEvents(pb.ListAuditEventsRequest(parent=created.name),
                                                         metadata=kyc.bearer(account="alice", roles=roles)))
    assert refusal.code == grpc.StatusCode.PERMISSION_DENIED

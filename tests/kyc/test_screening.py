"""Automatic screening runs when an identity document arrives; each outcome, as the applicant shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.type import date_pb2

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb

Kyc = Any


async def _screened(kyc: Kyc, document: dict[str, Any] | None = None, **applicant: Any) -> kyc_pb2.Applicant:
    created = await kyc.create("alice", **applicant)
    await kyc.submit(created, "alice", **(document or {}))
    return await kyc.get(created.name)


async def test_a_clear_applicant_waits_for_review_without_flags(kyc: Kyc) -> None:
    screened = await _screened(kyc)
    assert screened.state == kyc_pb2.APPLICANT_STATE_IN_REVIEW
    assert list(screened.screening_flags) == []


async def test_an_applicant_under_18_is_rejected(kyc: Kyc) -> None:
    # NOW is 2026-11-21: born a day after 2008-11-21, seventeen today.
    screened = await _screened(kyc, date_of_birth=date_pb2.Date(year=2008, month=11, day=22))
    assert screened.state == kyc_pb2.APPLICANT_STATE_REJECTED
    assert list(screened.screening_flags) == ["UNDERAGE"]


async def test_an_applicant_turning_18_today_passes_the_age_check(kyc: Kyc) -> None:
    screened = await _screened(kyc, date_of_birth=date_pb2.Date(year=2008, month=11, day=21))
    assert screened.state == kyc_pb2.APPLICANT_STATE_IN_REVIEW


async def test_residence_in_a_denied_country_is_rejected(kyc: Kyc) -> None:
    screened = await _screened(kyc, country="KP")
    assert screened.state == kyc_pb2.APPLICANT_STATE_REJECTED
    assert list(screened.screening_flags) == ["COUNTRY_DENIED"]


async def test_an_identity_document_from_a_denied_country_is_rejected(kyc: Kyc) -> None:
    screened = await _screened(kyc, document={"issuing_country": "IR"})
    assert screened.state == kyc_pb2.APPLICANT_STATE_REJECTED
    assert list(screened.screening_flags) == ["COUNTRY_DENIED"]


async def test_a_sanctions_list_match_is_flagged_for_the_operator(kyc: Kyc) -> None:
    screened = await _screened(kyc, legal_name=kyc.SANCTIONED_NAME)
    assert screened.state == kyc_pb2.APPLICANT_STATE_IN_REVIEW
    assert list(screened.screening_flags) == ["SANCTIONS_MATCH"]


async def test_a_screening_rejection_cannot_be_approved(kyc: Kyc) -> None:
    screened = await _screened(kyc, country="KP")
    refusal = await kyc.refused(kyc.review(screened.name, pb.REVIEW_DECISION_APPROVE, tier=1))
    assert (refusal.code.name, refusal.reason) == ("FAILED_PRECONDITION", "INVALID_STATE_TRANSITION")


async def test_proof_of_address_alone_does_not_start_screening(kyc: Kyc) -> None:
    screened = await _screened(kyc, document={"type": kyc_pb2.DOCUMENT_TYPE_PROOF_OF_ADDRESS, "number": ""})
    assert screened.state == kyc_pb2.APPLICANT_STATE_PENDING


async def test_the_sanctions_list_comes_from_the_configured_file(kyc_service: Any, settings: Any,
                                                                 tmp_path: Path) -> None:
    listed = tmp_path / "sanctions.csv"
    listed.write_text("entry_id,name,aliases,program\nTEST-1,Quillon Vandermeer,,TEST\n", encoding="utf-8")
    async with kyc_service(settings.model_copy(update={"kyc_sanctions_path": listed})) as kyc:
        screened = await _screened(kyc, legal_name="Quillon Vandermeer")
    assert list(screened.screening_flags) == ["SANCTIONS_MATCH"]

"""Personal data is encrypted at rest, never logged, and its keys are kept or configured."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb
from services.runtime.logs import JsonFormatter

Kyc = Any


def _personal_data(kyc: Kyc) -> list[str]:
    """Each PII value in the forms a careless log line or row would show it."""
    born = kyc.DATE_OF_BIRTH
    return [kyc.LEGAL_NAME, kyc.ADDRESS, kyc.DOCUMENT_NUMBER, f"{born.year}-{born.month:02d}-{born.day:02d}",
            f"{born.year}, {born.month}, {born.day}", "Okonkwo", "Quayside"]


async def _every_rpc(kyc: Kyc) -> None:
    """Every RPC, succeeding and failing, with the personal data in play."""
    applicant = await kyc.create("alice")
    await kyc.refused(kyc.create("alice"))  # already exists
    await kyc.refused(kyc.create("bob", country="XX"))  # invalid, with the PII in the request
    await kyc.submit(applicant, "alice")
    await kyc.refused(kyc.submit(applicant, "alice", sha256="bad"))
    await kyc.refused(kyc.submit(applicant, "mallory"))
    await kyc.get(applicant.name, kyc.trader("alice"))
    await kyc.review(applicant.name, pb.REVIEW_DECISION_APPROVE, tier=1)
    await kyc.check("alice", pb.ELIGIBILITY_ACTION_WITHDRAW, "0.1", "BTC")
    await kyc.stub.ListAuditEvents(pb.ListAuditEventsRequest(parent=applicant.name), metadata=kyc.operator())


async def test_no_log_record_contains_personal_data(kyc_service: Any, settings: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with kyc_service(settings) as kyc:
        await _every_rpc(kyc)
        pii = _personal_data(kyc)
    formatter = JsonFormatter()
    logged = [formatter.format(record) + repr(record.__dict__) for record in caplog.records]
    assert len(logged) > 10  # the RPCs were logged, at DEBUG too
    assert [(value, line) for line in logged for value in pii if value in line] == []


async def test_the_database_file_holds_no_personal_data_in_clear(kyc: Kyc, settings: Any) -> None:
    await _every_rpc(kyc)
    stored = b"".join(path.read_bytes() for path in Path(settings.data_dir).glob("kyc.db*"))
    assert len(stored) > 0
    assert [value for value in _personal_data(kyc) if value.encode() in stored] == []


async def test_generated_keys_are_kept_private_and_reused_after_a_restart(kyc_service: Any, settings: Any) -> None:
    async with kyc_service(settings) as kyc:
        created = await kyc.create("alice")
    async with kyc_service(settings) as kyc:
        assert (await kyc.get(created.name)).legal_name == kyc.LEGAL_NAME
    for key_file in ("kyc_pii_key", "kyc_hash_key"):
        assert (Path(settings.data_dir) / key_file).stat().st_mode & 0o077 == 0


async def test_configured_pii_keys_rotate_with_the_old_key_still_decrypting(kyc_service: Any, settings: Any) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with kyc_service(settings.model_copy(update={"kyc_pii_keys": SecretStr(old)})) as kyc:
        created = await kyc.create("alice")
    async with kyc_service(settings.model_copy(update={"kyc_pii_keys": SecretStr(f"{new},{old}")})) as kyc:
        read = await kyc.get(created.name)
    assert (read.legal_name, read.state) == (kyc.LEGAL_NAME, kyc_pb2.APPLICANT_STATE_PENDING)

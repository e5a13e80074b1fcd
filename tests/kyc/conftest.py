"""The KYC service served over real sockets, and a client that speaks for its callers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from sqlalchemy import func, select

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as pb, kyc_service_pb2_grpc as pb_grpc
from services.kyc import tables
from services.kyc.service import SPEC
from services.runtime.clock import FixedClock
from services.runtime.server import RunningService
from services.runtime.settings import Settings
from tests.testkit.rpc import field_violations, reason

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
Bearer = Callable[..., tuple[tuple[str, str], ...]]

# Personal data the tests submit, so they can look for it where it must not be.
LEGAL_NAME = "Marguerite Okonkwo-Lindqvist"
ADDRESS = "17 Quayside Lane, Harbourtown"
DATE_OF_BIRTH = date_pb2.Date(year=1984, month=3, day=9)
DOCUMENT_NUMBER = "X9Q4471203"
SANCTIONED_NAME = "Ivana Testerova"  # in services/kyc/data/sanctions_sample.csv


def applicant_message(**changes: Any) -> kyc_pb2.Applicant:
    fields: dict[str, Any] = {"legal_name": LEGAL_NAME, "date_of_birth": DATE_OF_BIRTH, "country": "NL",
                              "address": ADDRESS}
    fields.update(changes)
    return kyc_pb2.Applicant(**fields)


def document_message(**changes: Any) -> kyc_pb2.Document:
    fields: dict[str, Any] = {"type": kyc_pb2.DOCUMENT_TYPE_PASSPORT, "issuing_country": "NL",
                              "number": DOCUMENT_NUMBER, "sha256": hashlib.sha256(b"scan").hexdigest(),
                              "size_bytes": 48_213}
    fields.update(changes)
    return kyc_pb2.Document(**fields)


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    reason: str  # ErrorInfo.reason
    fields: list[str]  # BadRequest field violations, in order
    descriptions: list[str]  # what each of those violations says, in the same order


def _refusal(error: grpc.aio.AioRpcError) -> Refusal:
    violations = field_violations(error)
    return Refusal(error.code(), reason(error), [violation.field for violation in violations],
                   [violation.description for violation in violations])


@dataclass(frozen=True)
class Counts:
    applicants: int
    documents: int
    audit_events: int


@dataclass
class KycClient:
    running: RunningService
    stub: pb_grpc.KycServiceStub
    bearer: Bearer
    clock: FixedClock

    # Personal data the tests submit, so they can look for it where it must not be.
    LEGAL_NAME = LEGAL_NAME
    ADDRESS = ADDRESS
    DATE_OF_BIRTH = DATE_OF_BIRTH
    DOCUMENT_NUMBER = DOCUMENT_NUMBER
    SANCTIONED_NAME = SANCTIONED_NAME

    @staticmethod
    async def refused(call: Awaitable[Any]) -> Refusal:
        """The refusal a call must end in."""
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        return _refusal(raised.value)

    def trader(self, account: str) -> tuple[tuple[str, str], ...]:
        return self.bearer(account=account, roles=("trader",))

    def operator(self, account: str = "op") -> tuple[tuple[str, str], ...]:
        return self.bearer(account=account, roles=("operator",))

    async def create(self, account: str = "alice", **changes: Any) -> kyc_pb2.Applicant:
        return await self.stub.CreateApplicant(pb.CreateApplicantRequest(applicant=applicant_message(**changes)),
                                               metadata=self.trader(account))

    async def submit(self, applicant: kyc_pb2.Applicant, account: str = "alice", **changes: Any) -> kyc_pb2.Document:
        return await self.stub.SubmitDocument(
            pb.SubmitDocumentRequest(parent=applicant.name, document=document_message(**changes)),
            metadata=self.trader(account))

    async def get(self, name: str, metadata: tuple[tuple[str, str], ...] | None = None) -> kyc_pb2.Applicant:
        return await self.stub.GetApplicant(pb.GetApplicantRequest(name=name), metadata=metadata or self.operator())

    async def review(self, name: str, decision: int, tier: int = 0, reason: str = "") -> kyc_pb2.Applicant:
        return await self.stub.ReviewApplicant(
            pb.ReviewApplicantRequest(name=name, decision=decision,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                      tier=tier, reason=reason),
            metadata=self.operator())

    async def approved(self, account: str = "alice", tier: int = 1) -> kyc_pb2.Applicant:
        applicant = await self.create(account)
        await self.submit(applicant, account)
        return await self.review(applicant.name, pb.REVIEW_DECISION_APPROVE, tier=tier)

    async def check(self, account: str, action: int, amount: str, asset: str = "USDC", used: str = "",
                    metadata: tuple[tuple[str, str], ...] | None = None) -> pb.CheckEligibilityResponse:
        return await self.stub.CheckEligibility(
            pb.CheckEligibilityRequest(account=f"accounts/{account}", action=action,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                       asset=asset, amount=amount, used_amount=used),
            metadata=metadata or self.bearer(service="wallet"))

    async def counts(self) -> Counts:
        async with self.running.runtime.transactions.reading() as session:
            async def count(table: Any) -> int:
                return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

            return Counts(await count(tables.applicants), await count(tables.documents),
                          await count(tables.audit_events))


@pytest.fixture
def kyc_service(serve: Any, bearer: Bearer) -> Callable[[Settings], AbstractAsyncContextManager[KycClient]]:
    """`async with kyc_service(settings) as kyc:` the service under particular settings."""

    @asynccontextmanager
    async def run(service_settings: Settings) -> AsyncIterator[KycClient]:
        clock = FixedClock(NOW)
        async with serve(SPEC, service_settings, clock=clock) as running:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield KycClient(running, pb_grpc.KycServiceStub(channel), bearer, clock)

    return run


@pytest.fixture
async def kyc(kyc_service: Any, settings: Settings) -> AsyncIterator[KycClient]:
    """The service on its embedded default: a SQLite file in the data directory, no Redis."""
    async with kyc_service(settings) as client:
        yield client


@pytest.fixture
async def kyc_on_each_database(kyc_service: Any, settings: Settings, database_url: str) -> AsyncIterator[KycClient]:
    """The service on SQLite and on PostgreSQL."""
    async with kyc_service(settings.model_copy(update={"database_url": database_url, "migrate_on_start": True})) as client:
        yield client

"""The Wallet served for real over gRPC on SQLite and PostgreSQL, with a stand-in KYC service.

The KYC stand-in is a real grpc.aio server implementing only CheckEligibility, with an
answer each test sets; it records what it was asked.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb, kyc_service_pb2_grpc as kyc_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.runtime.clock import FixedClock
from services.runtime.database import create_engine
from services.runtime.settings import Settings
from services.wallet.domain import DEFAULT_ASSETS, ConsistencyReport
from services.wallet.service import SPEC
from services.wallet.store import WalletStore
from tests.testkit.rpc import error_info, field_violations
from tests.testkit.stand_ins import stand_in

Metadata = tuple[tuple[str, str], ...]
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class FakeKyc(kyc_grpc.KycServiceServicer):
    """CheckEligibility answering `self.answer`; every request kept in `self.asked`."""

    def __init__(self) -> None:
        self.answer: kyc_pb.CheckEligibilityResponse | None = kyc_pb.CheckEligibilityResponse(
            allowed=True, tier=2, remaining="1000000")
        self.asked: list[kyc_pb.CheckEligibilityRequest] = []

    async def CheckEligibility(self, request: kyc_pb.CheckEligibilityRequest,
                               context: grpc.aio.ServicerContext) -> kyc_pb.CheckEligibilityResponse:
        self.asked.append(request)
        if self.answer is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "KYC is down")
        return self.answer

    def deny(self, reason: str, remaining: str = "0") -> None:
        self.answer = kyc_pb.CheckEligibilityResponse(allowed=False, tier=1, reason=reason, remaining=remaining)


@dataclass
class KycStandIn:
    servicer: FakeKyc
    address: str


@pytest.fixture
async def kyc() -> AsyncIterator[KycStandIn]:
    servicer = FakeKyc()
    async with stand_in(lambda server: kyc_grpc.add_KycServiceServicer_to_server(servicer, server)) as address:
        yield KycStandIn(servicer, address)


@dataclass
class WalletUnderTest:
    """A running Wallet and the callers the tests act as."""

    stub: pb_grpc.WalletServiceStub
    clock: FixedClock
    database_url: str
    operator: Metadata
    order: Metadata
    settlement: Metadata
    as_user: Callable[[str], Metadata]
    _request_ids: Iterator[int] = field(default_factory=itertools.count)

    async def deposit(self, account: str, amount: str, asset: str = "USDC", request_id: str | None = None) -> pb.DepositResponse:
        request_id = request_id or f"deposit-{next(self._request_ids)}"
        return await self.stub.Deposit(
            pb.DepositRequest(account=account, asset=asset, amount=amount, request_id=request_id),
            metadata=self.operator)

    async def balances(self, account: str) -> dict[str, tuple[str, str, str]]:
        """asset → (available, held, total), read as an operator."""
        response = await self.stub.ListBalances(pb.ListBalancesRequest(account=account), metadata=self.operator)
        return {b.asset: (b.available, b.held, b.total) for b in response.balances}

    async def entry_count(self, account: str) -> int:
        response = await self.stub.ListEntries(
            pb.ListEntriesRequest(account=account, page_size=1000), metadata=self.operator)
        return len(response.entries)

    @staticmethod
    def reason(error: grpc.aio.AioRpcError) -> str:
        return error_info(error).reason

    @staticmethod
    def metadata(error: grpc.aio.AioRpcError) -> dict[str, str]:
        return dict(error_info(error).metadata)

    @staticmethod
    def fields(error: grpc.aio.AioRpcError) -> set[str]:
        return {violation.field for violation in field_violations(error)}

    async def consistency(self) -> ConsistencyReport:
        store = WalletStore(create_engine(self.database_url), DEFAULT_ASSETS)
        return await store.consistency_report()


@pytest.fixture
async def wallet(serve: Any, settings: Settings, database_url: str, kyc: KycStandIn,
                 bearer: Callable[..., Metadata]) -> AsyncIterator[WalletUnderTest]:
    wallet_settings = settings.model_copy(update={
        "database_url": database_url, "migrate_on_start": True, "kyc_addr": kyc.address})
    clock = FixedClock(START)
    async with serve(SPEC, wallet_settings, clock=clock) as running:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        try:
            yield WalletUnderTest(
                stub=pb_grpc.WalletServiceStub(channel), clock=clock,
                database_url=wallet_settings.database_url_for(SPEC.name),
                operator=bearer(account="ops", roles=("operator",)),
                order=bearer(service="order"), settlement=bearer(service="settlement"),
                as_user=lambda user: bearer(account=user, roles=("trader",)),
            )
        finally:
            await channel.close()


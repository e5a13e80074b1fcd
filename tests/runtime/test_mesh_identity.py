"""A service calls its peers as itself: with its HS256 service token locally, and with no token
in the mesh, where its mTLS identity names it (a token would meet the sidecar's JWT check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc

from services.runtime.auth import TokenIssuer
from services.runtime.clock import SystemClock
from services.runtime.server import ServiceRuntime
from services.runtime.settings import Settings
from services.wallet.service import SPEC as WALLET
from tests.testkit.stand_ins import stand_in


class RecordingKyc(kyc_grpc.KycServiceServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []

    async def CheckEligibility(self, request: kyc_pb.CheckEligibilityRequest, context: Any) -> kyc_pb.CheckEligibilityResponse:
        self.metadata.append({key: str(value) for key, value in context.invocation_metadata()})
        return kyc_pb.CheckEligibilityResponse(allowed=True)


@pytest.fixture
async def kyc() -> AsyncIterator[tuple[RecordingKyc, str]]:
    servicer = RecordingKyc()
    async with stand_in(lambda server: kyc_grpc.add_KycServiceServicer_to_server(servicer, server)) as address:
        yield servicer, address


async def _headers_seen_by_kyc(settings: Settings, kyc: tuple[RecordingKyc, str], mesh: bool) -> dict[str, str]:
    servicer, address = kyc
    runtime = ServiceRuntime(WALLET, settings.model_copy(update={
        "kyc_addr": address, "trust_mesh_identity": mesh}), SystemClock())
    try:
        await kyc_grpc.KycServiceStub(runtime.channel("kyc")).CheckEligibility(kyc_pb.CheckEligibilityRequest())
    finally:
        await runtime.close()
    return servicer.metadata[-1]


async def test_locally_a_service_calls_with_its_service_token(
        settings: Settings, kyc: tuple[RecordingKyc, str], issuer: TokenIssuer) -> None:
    headers = await _headers_seen_by_kyc(settings, kyc, mesh=False)
    scheme, _, token = headers["authorization"].partition(" ")
    assert (scheme, issuer.verify(token).service) == ("Bearer", "wallet")


async def test_in_the_mesh_a_service_calls_with_no_token(settings: Settings, kyc: tuple[RecordingKyc, str]) -> None:
    assert "authorization" not in await _headers_seen_by_kyc(settings, kyc, mesh=True)

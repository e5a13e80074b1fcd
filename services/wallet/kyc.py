"""The Wallet's one question to KYC: may this account withdraw this much today?

KYC owns the policy (tiers and limits); the Wallet owns the fact it is asked about — what the
account already withdrew of the asset in the rolling 24 h — and sends it as `used_amount`.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

from clearmesh.kyc.v1 import kyc_service_pb2, kyc_service_pb2_grpc
from services.runtime.errors import FailedPrecondition, Unavailable
from services.wallet.domain import Asset, format_units

KYC_TIMEOUT_SECS = 5.0


class WithdrawalLimits:
    def __init__(self, channel: Callable[[], grpc.aio.Channel], timeout: float = KYC_TIMEOUT_SECS) -> None:
        self._channel = channel
        self._timeout = timeout

    async def check(self, account: str, asset: Asset, units: int, used_units: int) -> None:
        """Return if KYC allows it; FAILED_PRECONDITION with KYC's reason if not; UNAVAILABLE if KYC cannot say."""
        request = kyc_service_pb2.CheckEligibilityRequest(
            account=account, action=kyc_service_pb2.ELIGIBILITY_ACTION_WITHDRAW, asset=asset.code,
            amount=format_units(asset, units), used_amount=format_units(asset, used_units))
        try:
            answer = await kyc_service_pb2_grpc.KycServiceStub(self._channel()).CheckEligibility(
                request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            # Without KYC's word no withdrawal is allowed; the caller may retry later.
            raise Unavailable("KYC_UNAVAILABLE", f"the KYC service could not check the limits: {error.code().name}",
                              metadata={"kycStatus": error.code().name}) from None
        if not answer.allowed:
            raise FailedPrecondition(
                answer.reason or "KYC_DENIED", f"KYC does not allow this withdrawal: {answer.reason}",
                metadata={"remaining": answer.remaining, "tier": str(answer.tier)})

"""A withdrawal across the real Wallet and the real KYC service, over real sockets: the
Wallet asks KYC, KYC answers from the applicant's tier and the Wallet's own usage."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb, kyc_service_pb2_grpc as kyc_grpc
from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.kyc.service import SPEC as KYC
from services.runtime.settings import Settings
from services.wallet.service import SPEC as WALLET
from tests.testkit.rpc import reason
from tests.testkit.traders import approve_async


async def _approve(kyc: kyc_grpc.KycServiceStub, bearer: Any, account: str, tier: int) -> None:
    await approve_async(kyc, bearer(account=account), bearer(account="op", roles=("operator",)),
                        passport="NX1234567", tier=tier, legal_name="Alice Example")


async def test_a_withdrawal_is_allowed_by_the_tier_and_refused_once_the_daily_limit_is_used(
        serve: Any, settings: Settings, bearer: Any) -> None:
    async with serve(KYC) as kyc_running:
        wallet_settings = settings.model_copy(update={"kyc_addr": f"127.0.0.1:{kyc_running.port}"})
        async with serve(WALLET, wallet_settings) as wallet_running:
            kyc = kyc_grpc.KycServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{kyc_running.port}"))
            wallet = pb_grpc.WalletServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{wallet_running.port}"))
            alice = bearer(account="alice")
            with pytest.raises(grpc.aio.AioRpcError) as before_kyc:
                await wallet.Withdraw(pb.WithdrawRequest(account="accounts/alice", asset="USDC", amount="1",
                                                         destination="addr", request_id="w0"), metadata=alice)
            await _approve(kyc, bearer, "alice", tier=1)
            limit = (await kyc.CheckEligibility(kyc_pb.CheckEligibilityRequest(
                account="accounts/alice", action=kyc_pb.ELIGIBILITY_ACTION_WITHDRAW, asset="USDC", amount="0.000001"),
                metadata=alice)).remaining
            await wallet.Deposit(pb.DepositRequest(account="accounts/alice", asset="USDC", amount="100000000",
                                                   request_id="d1"), metadata=bearer(account="op", roles=("operator",)))
            first = await wallet.Withdraw(pb.WithdrawRequest(
                account="accounts/alice", asset="USDC", amount=limit, destination="addr", request_id="w1"), metadata=alice)
            with pytest.raises(grpc.aio.AioRpcError) as over_limit:
                await wallet.Withdraw(pb.WithdrawRequest(account="accounts/alice", asset="USDC", amount="1",
                                                         destination="addr", request_id="w2"), metadata=alice)
    assert before_kyc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first.state == wallet_pb2.WITHDRAWAL_STATE_PENDING
    assert over_limit.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(over_limit.value) == "KYC_LIMIT_EXCEEDED"
    assert reason(before_kyc.value) == "KYC_REQUIRED"


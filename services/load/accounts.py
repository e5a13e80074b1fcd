"""The load's traders: each through KYC (applicant, passport, approved at tier 2 by an
operator) and funded with every asset the default markets trade, over gRPC.

Always gRPC, whatever the flow is sent over: setting up is not what a run measures."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import grpc

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2 as kyc_pb, kyc_service_pb2_grpc as kyc_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from google.type import date_pb2
from services.runtime.auth import TokenIssuer

# Enough for a long run at this flow's sizes (BTC orders ≤ 0.001 at ~100 USDC, GRID ≤ 10 kWh):
# funds never run out, so a refusal for INSUFFICIENT_FUNDS would be news.
FUNDING = {"USDC": "1000000", "BTC": "100", "GRID": "1000000"}
TIER = 2  # its limits (250 000 USDC an order, 2 000 000 a day) are far above the flow's
SETUP_CONCURRENCY = 8

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Trader:
    account: str  # the id: `accounts/{account}`
    token: str

    @property
    def metadata(self) -> Metadata:
        return (("authorization", f"Bearer {self.token}"),)


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def _prepare(kyc: kyc_grpc.KycServiceStub, wallet: wallet_grpc.WalletServiceStub, operator: Metadata,
                   trader: Trader) -> None:
    applicant = await kyc.CreateApplicant(kyc_pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(
        legal_name="Load Trader", country="NL", address="1 Canal Street, Amsterdam",
        date_of_birth=date_pb2.Date(year=1990, month=4, day=2))), metadata=trader.metadata)
    number = "LD" + hashlib.sha256(trader.account.encode()).hexdigest()[:10].upper()
    await kyc.SubmitDocument(kyc_pb.SubmitDocumentRequest(parent=applicant.name, document=kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number=number,
        sha256="ab" * 32, size_bytes=120_000)), metadata=trader.metadata)
    await kyc.ReviewApplicant(kyc_pb.ReviewApplicantRequest(
        name=applicant.name, decision=kyc_pb.REVIEW_DECISION_APPROVE, tier=TIER,
        request_id=f"load-review-{trader.account}"), metadata=operator)
    for asset, amount in FUNDING.items():
        await wallet.Deposit(wallet_pb.DepositRequest(
            account=f"accounts/{trader.account}", asset=asset, amount=amount,
            request_id=f"load-fund-{trader.account}-{asset}"), metadata=operator)


async def prepare_traders(issuer: TokenIssuer, kyc_addr: str, wallet_addr: str, prefix: str,
                          count: int) -> list[Trader]:
    """`count` traders named `{prefix}{i}`, approved and funded; a few set up at a time."""
    traders = [Trader(f"{prefix}{index}", issuer.mint(account=f"{prefix}{index}", roles=("trader",)))
               for index in range(count)]
    operator = bearer(issuer.mint(account="clearmesh-load", roles=("operator",)))
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    async with grpc.aio.insecure_channel(kyc_addr) as kyc_channel, grpc.aio.insecure_channel(wallet_addr) as wallet_channel:
        kyc, wallet = kyc_grpc.KycServiceStub(kyc_channel), wallet_grpc.WalletServiceStub(wallet_channel)

        async def one(trader: Trader) -> None:
            async with gate:
                await _prepare(kyc, wallet, operator, trader)

        await asyncio.gather(*(one(trader) for trader in traders))
    return traders

"""Never negative under concurrency, and the stored balances are always what the journal says."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from clearmesh.wallet.v1 import wallet_service_pb2 as pb

ALICE = "accounts/alice"
CALLS = 100
COVERED = 37


async def _outcomes(calls: list[Any]) -> tuple[int, list[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, grpc.aio.AioRpcError)]
    assert not unexpected
    return len(results) - len(refused), [f"{r.code().name}" for r in refused]


async def test_100_concurrent_holds_against_funds_for_37_hold_exactly_37(wallet: Any) -> None:
    await wallet.deposit(ALICE, str(COVERED * 2))
    calls = [wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/o{i}", account=ALICE, asset="USDC", amount="2"),
                                   metadata=wallet.order) for i in range(CALLS)]
    succeeded, refused = await _outcomes(calls)

    assert succeeded == COVERED
    assert refused == ["FAILED_PRECONDITION"] * (CALLS - COVERED)
    assert (await wallet.balances(ALICE))["USDC"] == ("0.000000", "74.000000", "74.000000")
    assert (await wallet.consistency()).ok



async def test_20_concurrent_retries_of_one_deposit_credit_once_and_all_answer_the_first(wallet: Any) -> None:
    answers = await asyncio.gather(*(wallet.deposit(ALICE, "5", request_id="d1") for _ in range(20)))

    assert all(answer == answers[0] for answer in answers)
    assert answers[0].balance.total == "5.000000"
    assert (await wallet.balances(ALICE))["USDC"][2] == "5.000000"
    assert await wallet.entry_count(ALICE) == 1


async def test_100_concurrent_withdrawals_against_funds_for_37_open_exactly_37(wallet: Any) -> None:
    await wallet.deposit(ALICE, str(COVERED * 2))
    calls = [wallet.stub.Withdraw(pb.WithdrawRequest(account=ALICE, asset="USDC", amount="2", destination="0xabc",
                                                     request_id=f"w{i}"), metadata=wallet.as_user("alice"))
             for i in range(CALLS)]
    succeeded, refused = await _outcomes(calls)

    assert succeeded == COVERED
    assert set(refused) == {"FAILED_PRECONDITION"}
    assert (await wallet.balances(ALICE))["USDC"][0] == "0.000000"


async def test_the_stored_balances_equal_those_recomputed_from_the_journal_after_a_session(wallet: Any) -> None:
    await wallet.deposit(ALICE, "50")
    await wallet.deposit("accounts/bob", "8", asset="GRID")
    for hold, account, asset, amount in (("holds/b", ALICE, "USDC", "20"), ("holds/s", "accounts/bob", "GRID", "5")):
        await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=hold, account=account, asset=asset, amount=amount),
                                    metadata=wallet.order)
    await wallet.stub.PostTransfer(pb.PostTransferRequest(transfer="transfers/t1", postings=[
        {"account": ALICE, "asset": "USDC", "amount": "-12", "hold": "holds/b"},
        {"account": "accounts/bob", "asset": "USDC", "amount": "11.9"},
        {"account": "system/fees", "asset": "USDC", "amount": "0.1"},
        {"account": "accounts/bob", "asset": "GRID", "amount": "-3", "hold": "holds/s"},
        {"account": ALICE, "asset": "GRID", "amount": "3"},
    ]), metadata=wallet.settlement)
    await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/b"), metadata=wallet.order)
    await wallet.stub.Withdraw(pb.WithdrawRequest(account=ALICE, asset="USDC", amount="7", destination="0x1",
                                                  request_id="w1"), metadata=wallet.as_user("alice"))
    await wallet.stub.CompleteWithdrawal(pb.CompleteWithdrawalRequest(name="accounts/alice/withdrawals/w1"),
                                         metadata=wallet.operator)

    report = await wallet.consistency()

    assert report.ok, report
    assert (await wallet.balances(ALICE))["USDC"] == ("31.000000", "0.000000", "31.000000")

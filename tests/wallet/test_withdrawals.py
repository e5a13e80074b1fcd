"""Withdraw within the KYC tier's rolling 24 h limits; an operator completes or fails it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest

from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb

ALICE = "accounts/alice"
W1 = "accounts/alice/withdrawals/w1"


def withdraw_request(amount: str = "4", request_id: str = "w1", **fields: str) -> pb.WithdrawRequest:
    return pb.WithdrawRequest(**({"account": ALICE, "asset": "USDC", "amount": amount,
                                  "destination": "0xabc", "request_id": request_id} | fields))


async def withdraw(wallet: Any, amount: str = "4", request_id: str = "w1", **fields: str) -> wallet_pb2.Withdrawal:
    return await wallet.stub.Withdraw(withdraw_request(amount, request_id, **fields), metadata=wallet.as_user("alice"))


async def test_a_withdrawal_holds_the_amount_and_is_pending(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    withdrawal = await withdraw(wallet)

    assert (withdrawal.name, withdrawal.amount, withdrawal.state) == (W1, "4.000000", wallet_pb2.WITHDRAWAL_STATE_PENDING)
    assert (await wallet.balances(ALICE))["USDC"] == ("6.000000", "4.000000", "10.000000")


async def test_kyc_is_asked_as_the_wallet_with_what_was_withdrawn_in_the_last_24_hours(wallet: Any, kyc: Any) -> None:
    await wallet.deposit(ALICE, "100")
    await withdraw(wallet, "4", "w1")
    wallet.clock.set(wallet.clock.now() + timedelta(hours=20))
    await withdraw(wallet, "5", "w2")
    wallet.clock.set(wallet.clock.now() + timedelta(hours=5))
    await withdraw(wallet, "1", "w3")

    assert [(a.account, a.action, a.asset, a.amount, a.used_amount) for a in kyc.servicer.asked] == [
        (ALICE, kyc_pb.ELIGIBILITY_ACTION_WITHDRAW, "USDC", "4.000000", "0.000000"),
        (ALICE, kyc_pb.ELIGIBILITY_ACTION_WITHDRAW, "USDC", "5.000000", "4.000000"),
        (ALICE, kyc_pb.ELIGIBILITY_ACTION_WITHDRAW, "USDC", "1.000000", "5.000000"),
    ]


async def test_a_failed_withdrawal_does_not_count_against_the_limit(wallet: Any, kyc: Any) -> None:
    await wallet.deposit(ALICE, "100")
    await withdraw(wallet, "4", "w1")
    await wallet.stub.FailWithdrawal(pb.FailWithdrawalRequest(name=W1, reason="bounced"), metadata=wallet.operator)
    await withdraw(wallet, "1", "w2")

    assert kyc.servicer.asked[-1].used_amount == "0.000000"


@pytest.mark.parametrize("reason", ["KYC_REQUIRED", "KYC_TIER_TOO_LOW", "KYC_LIMIT_EXCEEDED"])
async def test_a_withdrawal_kyc_denies_is_failed_precondition_with_its_reason_and_remaining(
    wallet: Any, kyc: Any, reason: str,
) -> None:
    await wallet.deposit(ALICE, "10")
    kyc.servicer.deny(reason, remaining="2.5")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await withdraw(wallet)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(caught.value) == reason
    assert wallet.metadata(caught.value)["remaining"] == "2.5"
    assert (await wallet.balances(ALICE))["USDC"][1] == "0.000000"


async def test_a_withdrawal_while_kyc_is_unreachable_is_unavailable_and_writes_nothing(wallet: Any, kyc: Any) -> None:
    await wallet.deposit(ALICE, "10")
    kyc.servicer.answer = None  # the stand-in then fails every call
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await withdraw(wallet)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert wallet.reason(caught.value) == "KYC_UNAVAILABLE"
    assert (await wallet.balances(ALICE))["USDC"][1] == "0.000000"


async def test_a_withdrawal_beyond_available_is_insufficient_funds(wallet: Any) -> None:
    await wallet.deposit(ALICE, "3")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await withdraw(wallet, "4")

    assert wallet.reason(caught.value) == "INSUFFICIENT_FUNDS"


async def test_a_retried_withdrawal_answers_the_first_without_asking_kyc_again(wallet: Any, kyc: Any) -> None:
    await wallet.deposit(ALICE, "10")
    first = await withdraw(wallet)
    again = await withdraw(wallet)

    assert again == first
    assert len(kyc.servicer.asked) == 1
    assert (await wallet.balances(ALICE))["USDC"][1] == "4.000000"


async def test_a_request_id_reused_for_another_withdrawal_is_already_exists(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await withdraw(wallet, "5")

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_nobody_may_withdraw_from_another_account(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.Withdraw(withdraw_request(), metadata=wallet.as_user("mallory"))

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await wallet.balances(ALICE))["USDC"][1] == "0.000000"


@pytest.mark.parametrize(("fields", "bad_fields"), [
    ({"amount": "1.0000001", "destination": ""}, {"amount", "destination"}),
    ({"request_id": "a/b"}, {"request_id"}),
    ({"asset": "DOGE"}, {"asset"}),
])
async def test_a_bad_withdrawal_is_refused_with_its_fields_and_writes_nothing(
    wallet: Any, kyc: Any, fields: dict[str, str], bad_fields: set[str],
) -> None:
    await wallet.deposit(ALICE, "10")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.Withdraw(withdraw_request(**fields), metadata=wallet.as_user("alice"))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == bad_fields
    assert kyc.servicer.asked == []


async def test_the_owner_and_operators_may_get_a_withdrawal_and_others_may_not(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    created = await withdraw(wallet)

    assert await wallet.stub.GetWithdrawal(pb.GetWithdrawalRequest(name=W1), metadata=wallet.as_user("alice")) == created
    assert await wallet.stub.GetWithdrawal(pb.GetWithdrawalRequest(name=W1), metadata=wallet.operator) == created
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.GetWithdrawal(pb.GetWithdrawalRequest(name=W1), metadata=wallet.as_user("mallory"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_getting_an_unknown_withdrawal_is_not_found(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.GetWithdrawal(pb.GetWithdrawalRequest(name=W1), metadata=wallet.as_user("alice"))

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_completing_a_withdrawal_pays_the_held_amount_out_to_withdrawals_in_transit(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    done = await wallet.stub.CompleteWithdrawal(
        pb.CompleteWithdrawalRequest(name=W1, tx_reference="tx-1"), metadata=wallet.operator)

    assert (done.state, done.tx_reference) == (wallet_pb2.WITHDRAWAL_STATE_COMPLETED, "tx-1")
    assert (await wallet.balances(ALICE))["USDC"] == ("6.000000", "0.000000", "6.000000")
    assert (await wallet.balances("system/withdrawals-in-transit"))["USDC"][2] == "4.000000"


async def test_completing_again_with_the_same_reference_answers_the_same_and_pays_once(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    complete = pb.CompleteWithdrawalRequest(name=W1, tx_reference="tx-1")
    first = await wallet.stub.CompleteWithdrawal(complete, metadata=wallet.operator)
    again = await wallet.stub.CompleteWithdrawal(complete, metadata=wallet.operator)

    assert again == first
    assert (await wallet.balances(ALICE))["USDC"][2] == "6.000000"


async def test_failing_a_withdrawal_releases_its_hold(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    failed = await wallet.stub.FailWithdrawal(pb.FailWithdrawalRequest(name=W1, reason="bounced"), metadata=wallet.operator)
    again = await wallet.stub.FailWithdrawal(pb.FailWithdrawalRequest(name=W1, reason="bounced"), metadata=wallet.operator)

    assert (failed.state, failed.failure_reason) == (wallet_pb2.WITHDRAWAL_STATE_FAILED, "bounced")
    assert again == failed
    assert (await wallet.balances(ALICE))["USDC"] == ("10.000000", "0.000000", "10.000000")


async def test_a_completed_withdrawal_cannot_be_failed(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    await wallet.stub.CompleteWithdrawal(pb.CompleteWithdrawalRequest(name=W1), metadata=wallet.operator)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.FailWithdrawal(pb.FailWithdrawalRequest(name=W1, reason="late"), metadata=wallet.operator)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(caught.value) == "WITHDRAWAL_NOT_PENDING"
    assert (await wallet.balances(ALICE))["USDC"][2] == "6.000000"


async def test_only_operators_may_complete_withdrawals(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await withdraw(wallet)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.CompleteWithdrawal(pb.CompleteWithdrawalRequest(name=W1), metadata=wallet.as_user("alice"))

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

"""Deposit: an operator credits a user from deposits-in-transit, once per request_id."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import delete

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.runtime.database import create_engine
from services.runtime.idempotency import request_log

ALICE = "accounts/alice"


async def test_a_deposit_credits_the_account_from_deposits_in_transit(wallet: Any) -> None:
    response = await wallet.deposit(ALICE, "12.5", request_id="d1")

    assert response.balance == wallet_pb2.Balance(asset="USDC", available="12.500000", held="0.000000", total="12.500000")
    assert response.transfer.name == "transfers/deposits/d1"
    assert [(p.account, p.amount, p.kind) for p in response.transfer.postings] == [
        ("system/deposits-in-transit", "-12.500000", wallet_pb2.ENTRY_KIND_DEPOSIT),
        (ALICE, "12.500000", wallet_pb2.ENTRY_KIND_DEPOSIT),
    ]
    assert (await wallet.balances("system/deposits-in-transit"))["USDC"][2] == "-12.500000"


async def test_a_retried_deposit_answers_the_first_response_and_credits_once(wallet: Any) -> None:
    first = await wallet.deposit(ALICE, "5", request_id="d1")
    wallet.clock.set(wallet.clock.now().replace(hour=13))
    again = await wallet.deposit(ALICE, "5", request_id="d1")

    assert again == first
    assert (await wallet.balances(ALICE))["USDC"] == ("5.000000", "0.000000", "5.000000")
    assert await wallet.entry_count(ALICE) == 1


async def test_a_request_id_reused_for_another_deposit_is_already_exists(wallet: Any) -> None:
    await wallet.deposit(ALICE, "5", request_id="d1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.deposit(ALICE, "6", request_id="d1")

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await wallet.balances(ALICE))["USDC"][0] == "5.000000"


@pytest.mark.parametrize(("request_fields", "bad_fields", "reason"), [
    ({"amount": "1.0000001"}, {"amount"}, "AMOUNT_TOO_PRECISE"),
    ({"asset": "GRID", "amount": "0.0001"}, {"amount"}, "AMOUNT_TOO_PRECISE"),
    ({"amount": "-1"}, {"amount"}, "AMOUNT_NOT_POSITIVE"),
    ({"amount": "0"}, {"amount"}, "AMOUNT_NOT_POSITIVE"),
    ({"amount": "1e3"}, {"amount"}, "INVALID_AMOUNT"),
    ({"amount": "NaN"}, {"amount"}, "INVALID_AMOUNT"),
    ({"amount": "99999999999999999999"}, {"amount"}, "AMOUNT_TOO_LARGE"),
    ({"asset": "DOGE"}, {"asset"}, "UNKNOWN_ASSET"),
    ({"account": "alice"}, {"account"}, "INVALID_ACCOUNT"),
    ({"account": "system/fees"}, {"account"}, "INVALID_ACCOUNT"),
    ({"request_id": ""}, {"request_id"}, "INVALID_ARGUMENT"),
    ({"request_id": "has space"}, {"request_id"}, "INVALID_ID"),
    ({"account": "", "asset": "", "amount": "", "request_id": ""},
     {"account", "asset", "amount", "request_id"}, "INVALID_ARGUMENT"),
])
async def test_a_bad_deposit_is_refused_with_its_fields_and_writes_nothing(
    wallet: Any, request_fields: dict[str, str], bad_fields: set[str], reason: str,
) -> None:
    request = {"account": ALICE, "asset": "USDC", "amount": "1", "request_id": "bad-1"} | request_fields
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.Deposit(pb.DepositRequest(**request), metadata=wallet.operator)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == bad_fields
    assert wallet.reason(caught.value) == reason
    assert await wallet.balances(ALICE) == {}
    assert await wallet.entry_count("system/deposits-in-transit") == 0


async def test_only_an_operator_may_deposit(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.Deposit(
            pb.DepositRequest(account=ALICE, asset="USDC", amount="1", request_id="d1"),
            metadata=wallet.as_user("alice"))

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await wallet.balances(ALICE) == {}


async def test_a_deposit_whose_request_log_entry_is_gone_is_answered_from_its_posted_transfer(wallet: Any) -> None:
    # The transfer's id comes from the request_id, so the posted transfer still tells a retry
    # apart, and the answer's balance is the account's as it stands: it is credited once.
    first = await wallet.deposit(ALICE, "5", request_id="d1")
    await wallet.deposit(ALICE, "2", request_id="d2")
    engine = create_engine(wallet.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(request_log).where(request_log.c.request_id == "d1"))
    finally:
        await engine.dispose()

    again = await wallet.deposit(ALICE, "5", request_id="d1")

    assert again.transfer == first.transfer
    assert again.balance.total == "7.000000"
    assert await wallet.entry_count(ALICE) == 2

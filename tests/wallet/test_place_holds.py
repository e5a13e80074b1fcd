"""PlaceHolds: the Order service's concurrent holds in one call, each hold answered (or
refused) on its own, exactly as PlaceHold would have answered it alone."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from tests.testkit.rpc import status as status_of

ALICE, BOB = "accounts/alice", "accounts/bob"


def hold(hold_id: str, amount: str = "4", account: str = ALICE, **fields: str) -> pb.PlaceHoldRequest:
    return pb.PlaceHoldRequest(**({"hold": f"holds/{hold_id}", "account": account, "asset": "USDC",
                                   "amount": amount} | fields))


async def place_all(wallet: Any, *holds: pb.PlaceHoldRequest) -> list[pb.PlaceHoldResult]:
    answer = await wallet.stub.PlaceHolds(pb.PlaceHoldsRequest(holds=holds), metadata=wallet.order)
    return list(answer.results)


async def unary_status(wallet: Any, request: pb.PlaceHoldRequest) -> status_pb2.Status:
    """The status PlaceHold ends with for `request`."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHold(request, metadata=wallet.order)
    return status_of(caught.value)


async def test_a_batch_places_every_hold_and_answers_them_in_order(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.deposit(BOB, "10")
    results = await place_all(wallet, hold("o1", "4"), hold("o2", "3", account=BOB), hold("o3", "5"))

    assert [result.hold.name for result in results] == ["holds/o1", "holds/o2", "holds/o3"]
    assert results[0].hold == wallet_pb2.Hold(name="holds/o1", account=ALICE, asset="USDC", amount="4.000000",
                                              remaining="4.000000", state=wallet_pb2.HOLD_STATE_OPEN)
    assert (await wallet.balances(ALICE))["USDC"] == ("1.000000", "9.000000", "10.000000")
    assert (await wallet.balances(BOB))["USDC"] == ("7.000000", "3.000000", "10.000000")


async def test_a_hold_short_of_funds_is_refused_alone_with_the_status_place_hold_gives(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.deposit(BOB, "2")
    short = hold("o2", "3", account=BOB)
    alone = await unary_status(wallet, short)

    results = await place_all(wallet, hold("o1", "4"), short, hold("o3", "5"))

    assert [result.WhichOneof("result") for result in results] == ["hold", "error", "hold"]
    assert results[1].error == alone
    assert results[1].error.code == code_pb2.FAILED_PRECONDITION
    assert (await wallet.balances(ALICE))["USDC"] == ("1.000000", "9.000000", "10.000000")
    assert (await wallet.balances(BOB))["USDC"] == ("2.000000", "0.000000", "2.000000")
    assert (await wallet.consistency()).ok


async def test_holds_that_together_exceed_an_account_are_placed_until_it_is_spent(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    results = await place_all(wallet, hold("o1", "6"), hold("o2", "6"), hold("o3", "4"))

    assert [result.WhichOneof("result") for result in results] == ["hold", "error", "hold"]
    assert (await wallet.balances(ALICE))["USDC"] == ("0.000000", "10.000000", "10.000000")


async def test_an_invalid_hold_is_refused_alone_naming_its_fields_as_place_hold_does(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    invalid = hold("o1", "-1")
    alone = await unary_status(wallet, invalid)

    results = await place_all(wallet, invalid, hold("o2", "4"))

    assert results[0].error == alone
    assert results[0].error.code == code_pb2.INVALID_ARGUMENT
    assert results[1].hold.remaining == "4.000000"


async def test_a_hold_placed_twice_in_one_batch_reserves_once(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    results = await place_all(wallet, hold("o1", "4"), hold("o1", "4"))

    assert results[0].hold == results[1].hold
    assert (await wallet.balances(ALICE))["USDC"] == ("6.000000", "4.000000", "10.000000")


async def test_an_empty_batch_is_invalid_argument(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place_all(wallet)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == {"holds"}


async def test_only_the_order_service_may_place_a_batch(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHolds(pb.PlaceHoldsRequest(holds=[hold("o1")]), metadata=wallet.settlement)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

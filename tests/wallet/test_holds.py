"""PlaceHold and ReleaseHold: the Order service reserves funds per order and gives them back."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb

ALICE = "accounts/alice"


def hold_request(hold: str = "holds/o1", amount: str = "4", **fields: str) -> pb.PlaceHoldRequest:
    return pb.PlaceHoldRequest(**({"hold": hold, "account": ALICE, "asset": "USDC", "amount": amount} | fields))


async def test_a_hold_moves_available_to_held(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    hold = await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)

    assert hold == wallet_pb2.Hold(name="holds/o1", account=ALICE, asset="USDC", amount="4.000000",
                                   remaining="4.000000", state=wallet_pb2.HOLD_STATE_OPEN)
    assert (await wallet.balances(ALICE))["USDC"] == ("6.000000", "4.000000", "10.000000")


async def test_placing_the_same_hold_again_reserves_nothing_more(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    first = await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    again = await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)

    assert again == first
    assert (await wallet.balances(ALICE))["USDC"][1] == "4.000000"


async def test_the_same_hold_id_with_another_amount_is_already_exists_naming_it(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHold(hold_request(amount="5"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert wallet.reason(caught.value) == "HOLD_EXISTS_WITH_DIFFERENT_PARAMS"
    assert wallet.metadata(caught.value)["differentFields"] == "amount"


async def test_a_hold_beyond_available_is_insufficient_funds(wallet: Any) -> None:
    await wallet.deposit(ALICE, "3")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHold(hold_request(amount="3.000001"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(caught.value) == "INSUFFICIENT_FUNDS"
    assert (await wallet.balances(ALICE))["USDC"] == ("3.000000", "0.000000", "3.000000")


async def test_a_failed_hold_may_be_retried_after_a_deposit(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    await wallet.deposit(ALICE, "4")

    assert (await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)).remaining == "4.000000"


@pytest.mark.parametrize(("fields", "bad_fields"), [
    ({"hold": "o1"}, {"hold"}),
    ({"hold": "holds/withdrawals/x"}, {"hold"}),
    ({"account": "system/fees"}, {"account"}),
    ({"amount": "0.0000001"}, {"amount"}),
    ({"asset": "usdc"}, {"asset"}),
    ({"hold": "", "account": "", "amount": ""}, {"hold", "account", "amount"}),
])
async def test_a_bad_hold_is_refused_with_its_fields_and_writes_nothing(
    wallet: Any, fields: dict[str, str], bad_fields: set[str],
) -> None:
    await wallet.deposit(ALICE, "10")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHold(hold_request(**fields), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == bad_fields
    assert (await wallet.balances(ALICE))["USDC"][1] == "0.000000"


async def test_only_the_order_service_may_place_holds(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PlaceHold(hold_request(), metadata=wallet.as_user("alice"))

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_partial_release_returns_that_much_and_keeps_the_hold_open(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    hold = await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1", amount="1.5"), metadata=wallet.order)

    assert (hold.remaining, hold.state) == ("2.500000", wallet_pb2.HOLD_STATE_OPEN)
    assert (await wallet.balances(ALICE))["USDC"] == ("7.500000", "2.500000", "10.000000")


async def test_a_full_release_closes_the_hold_and_repeating_it_changes_nothing(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    first = await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1"), metadata=wallet.order)
    again = await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1"), metadata=wallet.order)

    assert first == again
    assert (first.remaining, first.state) == ("0.000000", wallet_pb2.HOLD_STATE_CLOSED)
    assert (await wallet.balances(ALICE))["USDC"] == ("10.000000", "0.000000", "10.000000")


async def test_a_partial_release_retried_with_its_request_id_releases_once(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    release = pb.ReleaseHoldRequest(hold="holds/o1", amount="1", request_id="r1")
    first = await wallet.stub.ReleaseHold(release, metadata=wallet.order)
    again = await wallet.stub.ReleaseHold(release, metadata=wallet.order)

    assert again == first
    assert (await wallet.balances(ALICE))["USDC"][1] == "3.000000"


async def test_releasing_more_than_remains_is_hold_exceeded(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1", amount="4.000001"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(caught.value) == "HOLD_EXCEEDED"
    assert (await wallet.balances(ALICE))["USDC"][1] == "4.000000"


async def test_releasing_an_unknown_hold_is_not_found(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/nope"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert wallet.reason(caught.value) == "HOLD_NOT_FOUND"


@pytest.mark.parametrize("request_id", ["", "release-o1"])
async def test_a_hold_placed_after_its_id_was_released_is_refused_and_holds_nothing(
        wallet: Any, request_id: str) -> None:
    # The release of a rejected order overtook its late PlaceHold: NOT_FOUND, nothing was held...
    await wallet.deposit(ALICE, "10")
    with pytest.raises(grpc.aio.AioRpcError) as released:
        await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1", amount="4", request_id=request_id),
                                      metadata=wallet.order)
    assert released.value.code() == grpc.StatusCode.NOT_FOUND
    assert wallet.reason(released.value) == "HOLD_NOT_FOUND"
    # ...and the id is released: the late PlaceHold cannot hold money nothing would release.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await wallet.stub.PlaceHold(hold_request(), metadata=wallet.order)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(refused.value) == "HOLD_RELEASED"
    assert (await wallet.balances(ALICE))["USDC"] == ("10.000000", "0.000000", "10.000000")


async def test_releasing_an_unplaced_hold_id_again_answers_not_found_again(wallet: Any) -> None:
    for _ in range(2):
        with pytest.raises(grpc.aio.AioRpcError) as released:
            await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1"), metadata=wallet.order)
        assert wallet.reason(released.value) == "HOLD_NOT_FOUND"


async def test_a_release_more_precise_than_the_hold_asset_is_refused(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10", asset="GRID")
    await wallet.stub.PlaceHold(hold_request(asset="GRID"), metadata=wallet.order)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1", amount="0.0001"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.reason(caught.value) == "AMOUNT_TOO_PRECISE"
    assert (await wallet.balances(ALICE))["GRID"][1] == "4.000"

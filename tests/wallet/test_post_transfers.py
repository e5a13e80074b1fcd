"""PostTransfers: Settlement posts many trades in one transaction, whole or not at all."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.wallet.domain import DEFAULT_ASSETS, build_trade_legs, format_units, legs_to_postings

BUYER, SELLER, FEES = "accounts/buyer", "accounts/seller", "system/fees"
USDC, GRID = DEFAULT_ASSETS["USDC"], DEFAULT_ASSETS["GRID"]


def trade(transfer: str, quantity: str = "1", quote: str = "5", fee: str = "0.01",
          buyer: str = BUYER, seller: str = SELLER, hold_suffix: str = "1") -> pb.PostTransferRequest:
    """A trade paid out of the buyer's and the seller's order holds, both fees to system/fees."""
    legs = build_trade_legs(
        buyer=buyer, seller=seller, base=GRID, quote=USDC, quantity=Decimal(quantity),
        quote_amount=Decimal(quote), buyer_fee=Decimal(fee), seller_fee=Decimal(fee),
        buyer_hold_id=f"buy-{hold_suffix}", seller_hold_id=f"sell-{hold_suffix}")
    return pb.PostTransferRequest(transfer=f"transfers/{transfer}", postings=[
        wallet_pb2.Posting(account=p.account, asset=p.asset, amount=format_units(DEFAULT_ASSETS[p.asset], p.units),
                           hold=f"holds/{p.hold_id}" if p.hold_id else "")
        for p in legs_to_postings(legs, DEFAULT_ASSETS)
    ])


async def fund(wallet: Any, buyer: str = BUYER, seller: str = SELLER, hold_suffix: str = "1",
               quote: str = "100", base: str = "10") -> None:
    await wallet.deposit(buyer, quote)
    await wallet.deposit(seller, base, asset="GRID")
    await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/buy-{hold_suffix}", account=buyer, asset="USDC",
                                                    amount=quote), metadata=wallet.order)
    await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/sell-{hold_suffix}", account=seller, asset="GRID",
                                                    amount=base), metadata=wallet.order)


async def post(wallet: Any, *transfers: pb.PostTransferRequest) -> pb.PostTransfersResponse:
    return await wallet.stub.PostTransfers(pb.PostTransfersRequest(transfers=transfers), metadata=wallet.settlement)


async def refused(wallet: Any, *transfers: pb.PostTransferRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, *transfers)
    return caught.value


async def test_a_batch_posts_every_transfer_and_answers_them_in_order(wallet: Any) -> None:
    await fund(wallet)
    answer = await post(wallet, trade("t1"), trade("t2", quantity="2", quote="10"), trade("t3"))

    assert [t.name for t in answer.transfers] == ["transfers/t1", "transfers/t2", "transfers/t3"]
    # The buyer paid 20 + 3 fees of 0.01 out of its 100 hold and received 4 GRID.
    assert await wallet.balances(BUYER) == {"USDC": ("0.000000", "79.970000", "79.970000"),
                                            "GRID": ("4.000", "0.000", "4.000")}
    assert await wallet.balances(SELLER) == {"USDC": ("19.970000", "0.000000", "19.970000"),
                                             "GRID": ("0.000", "6.000", "6.000")}
    assert (await wallet.consistency()).ok


async def test_a_read_mask_of_name_answers_each_transfer_by_its_name_alone(wallet: Any) -> None:
    await fund(wallet)
    answer = await wallet.stub.PostTransfers(pb.PostTransfersRequest(
        transfers=[trade("t1"), trade("t2")], read_mask=FieldMask(paths=["name"])), metadata=wallet.settlement)

    assert list(answer.transfers) == [wallet_pb2.Transfer(name="transfers/t1"), wallet_pb2.Transfer(name="transfers/t2")]
    assert await wallet.entry_count(FEES) == 2  # posted all the same: one fee entry each


async def test_a_read_mask_naming_what_a_transfer_lacks_is_refused_and_writes_nothing(wallet: Any) -> None:
    await fund(wallet)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PostTransfers(pb.PostTransfersRequest(
            transfers=[trade("t1")], read_mask=FieldMask(paths=["name", "balance"])), metadata=wallet.settlement)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == {"read_mask"}
    assert await wallet.entry_count(FEES) == 0


async def test_the_fee_account_holds_the_sum_of_the_batch_fee_legs(wallet: Any) -> None:
    await fund(wallet)
    answer = await post(wallet, trade("t1", fee="0.01"), trade("t2", fee="0.02"), trade("t3", fee="0"))

    fee_legs = [Decimal(p.amount) for t in answer.transfers for p in t.postings if p.account == FEES]
    assert sum(fee_legs) == Decimal("0.06")
    assert (await wallet.balances(FEES))["USDC"] == ("0.060000", "0.000000", "0.060000")
    assert await wallet.entry_count(FEES) == 2  # one entry per fee leg; a zero fee moves nothing


async def test_each_transfer_keeps_its_own_entries(wallet: Any) -> None:
    await fund(wallet)
    await post(wallet, trade("t1"), trade("t2"))

    entries = (await wallet.stub.ListEntries(pb.ListEntriesRequest(account=SELLER, page_size=100),
                                             metadata=wallet.operator)).entries
    assert [e.transfer for e in entries] == ["transfers/deposits/deposit-1", "transfers/t1", "transfers/t1",
                                             "transfers/t2", "transfers/t2"]


async def test_a_replayed_batch_answers_the_same_transfers_and_moves_nothing(wallet: Any) -> None:
    await fund(wallet)
    first = await post(wallet, trade("t1"), trade("t2"))
    wallet.clock.set(wallet.clock.now().replace(hour=18))
    again = await post(wallet, trade("t1"), trade("t2"))

    assert again == first
    assert (await wallet.balances(SELLER))["USDC"][2] == "9.980000"
    assert await wallet.entry_count(SELLER) == 5


async def test_a_batch_with_posted_and_new_transfers_posts_only_the_new(wallet: Any) -> None:
    await fund(wallet)
    first = await post(wallet, trade("t1"))
    answer = await post(wallet, trade("t1"), trade("t2"))

    assert answer.transfers[0] == first.transfers[0]
    assert (await wallet.balances(SELLER))["USDC"][2] == "9.980000"


async def test_a_posted_id_with_other_postings_is_already_exists_naming_the_transfer(wallet: Any) -> None:
    await fund(wallet)
    await post(wallet, trade("t1"))
    error = await refused(wallet, trade("t2"), trade("t1", quote="6"))

    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert wallet.reason(error) == "TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS"
    assert wallet.metadata(error)["transferIndex"] == "1"
    assert wallet.metadata(error)["differentFields"] == "postings"
    assert await wallet.entry_count(SELLER) == 3  # t2 was not posted either


async def test_a_batch_with_one_malformed_transfer_names_its_field_and_writes_nothing(wallet: Any) -> None:
    await fund(wallet)
    bad = trade("t4")
    bad.postings[1].amount = "0.0000001"
    error = await refused(wallet, trade("t1"), trade("t2"), trade("t3"), bad)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(error) == {"transfers[3].postings[1].amount"}
    assert await wallet.entry_count(SELLER) == 1


async def test_an_unbalanced_transfer_is_named_by_its_index(wallet: Any) -> None:
    await fund(wallet)
    bad = trade("t2")
    bad.postings[0].amount = "-4"
    error = await refused(wallet, trade("t1"), bad)

    assert wallet.reason(error) == "UNBALANCED_TRANSFER"
    assert wallet.fields(error) == {"transfers[1].postings"}


async def test_a_transfer_beyond_its_hold_fails_the_batch_naming_it_and_writes_nothing(wallet: Any) -> None:
    await fund(wallet)
    # Together the three would take 11 GRID from a 10 GRID hold: the third one is refused.
    error = await refused(wallet, trade("t1", quantity="5"), trade("t2", quantity="5"), trade("t3", quantity="1"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(error) == "HOLD_EXCEEDED"
    assert wallet.metadata(error)["transferIndex"] == "2"
    assert await wallet.balances(SELLER) == {"GRID": ("0.000", "10.000", "10.000")}
    assert await wallet.entry_count(FEES) == 0


async def test_the_same_id_twice_in_one_batch_is_refused(wallet: Any) -> None:
    await fund(wallet)
    error = await refused(wallet, trade("t1"), trade("t2"), trade("t1"))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.reason(error) == "DUPLICATE_TRANSFER"
    assert wallet.fields(error) == {"transfers[2].transfer"}
    assert await wallet.entry_count(SELLER) == 1


async def test_more_than_1000_transfers_are_refused(wallet: Any) -> None:
    error = await refused(wallet, *(trade(f"t{i}") for i in range(1001)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.reason(error) == "BATCH_TOO_LARGE"
    assert wallet.fields(error) == {"transfers"}


async def test_an_empty_batch_is_refused(wallet: Any) -> None:
    error = await refused(wallet)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(error) == {"transfers"}


async def test_only_the_settlement_service_may_post_batches(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PostTransfers(pb.PostTransfersRequest(transfers=[trade("t1")]), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_two_concurrent_batches_on_the_same_accounts_both_commit(wallet: Any) -> None:
    # Two order pairs of the same two parties: both batches lock the same balance rows and system/fees.
    await fund(wallet, hold_suffix="a", quote="50", base="5")
    await fund(wallet, hold_suffix="b", quote="50", base="5")
    first = [trade(f"a{i}", hold_suffix="a") for i in range(5)]
    second = [trade(f"b{i}", hold_suffix="b") for i in range(5)]
    await asyncio.gather(post(wallet, *first), post(wallet, *second))

    assert await wallet.balances(BUYER) == {"USDC": ("0.000000", "49.900000", "49.900000"),
                                            "GRID": ("10.000", "0.000", "10.000")}
    assert await wallet.balances(SELLER) == {"USDC": ("49.900000", "0.000000", "49.900000"),
                                             "GRID": ("0.000", "0.000", "0.000")}
    assert (await wallet.balances(FEES))["USDC"][2] == "0.200000"
    assert (await wallet.consistency()).ok

"""PostTransfer: Settlement posts a trade's legs out of the parties' holds, once per transfer id."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc
import pytest

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.wallet.domain import DEFAULT_ASSETS, build_trade_legs, legs_to_postings

BUYER, SELLER = "accounts/buyer", "accounts/seller"


def trade_postings(quantity: str = "2", quote: str = "10", fee: str = "0.01") -> list[wallet_pb2.Posting]:
    legs = build_trade_legs(
        buyer=BUYER, seller=SELLER, base=DEFAULT_ASSETS["GRID"], quote=DEFAULT_ASSETS["USDC"],
        quantity=Decimal(quantity), quote_amount=Decimal(quote), buyer_fee=Decimal(fee), seller_fee=Decimal(fee),
        buyer_hold_id="buy-1", seller_hold_id="sell-1")
    return [
        wallet_pb2.Posting(account=p.account, asset=p.asset, amount=str(Decimal(p.units).scaleb(-DEFAULT_ASSETS[p.asset].precision)),
                           hold=f"holds/{p.hold_id}" if p.hold_id else "")
        for p in legs_to_postings(legs, DEFAULT_ASSETS)
    ]


async def fund_trade(wallet: Any) -> None:
    await wallet.deposit(BUYER, "100")
    await wallet.deposit(SELLER, "5", asset="GRID")
    await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold="holds/buy-1", account=BUYER, asset="USDC", amount="20"),
                                metadata=wallet.order)
    await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold="holds/sell-1", account=SELLER, asset="GRID", amount="2"),
                                metadata=wallet.order)


async def post(wallet: Any, postings: list[wallet_pb2.Posting], transfer: str = "transfers/trade-1") -> wallet_pb2.Transfer:
    return await wallet.stub.PostTransfer(pb.PostTransferRequest(transfer=transfer, postings=postings),
                                          metadata=wallet.settlement)


async def test_a_trade_consumes_both_holds_and_credits_the_counterparties_and_fees(wallet: Any) -> None:
    await fund_trade(wallet)
    transfer = await post(wallet, trade_postings())

    assert transfer.name == "transfers/trade-1"
    assert await wallet.balances(BUYER) == {"USDC": ("80.000000", "9.990000", "89.990000"),
                                            "GRID": ("2.000", "0.000", "2.000")}
    assert await wallet.balances(SELLER) == {"USDC": ("9.990000", "0.000000", "9.990000"),
                                             "GRID": ("3.000", "0.000", "3.000")}
    assert (await wallet.balances("system/fees"))["USDC"][2] == "0.020000"
    assert [p.kind for p in transfer.postings if p.account == "system/fees"] == [wallet_pb2.ENTRY_KIND_FEE]


async def test_posting_the_same_transfer_again_answers_the_first_and_moves_nothing(wallet: Any) -> None:
    await fund_trade(wallet)
    first = await post(wallet, trade_postings())
    wallet.clock.set(wallet.clock.now().replace(hour=18))
    again = await post(wallet, trade_postings())

    assert again == first
    assert (await wallet.balances(SELLER))["USDC"][2] == "9.990000"


async def test_the_same_transfer_id_with_other_postings_is_already_exists_with_details(wallet: Any) -> None:
    await fund_trade(wallet)
    await post(wallet, trade_postings())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, trade_postings(quote="11"))

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert wallet.reason(caught.value) == "TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS"
    assert wallet.metadata(caught.value)["differentFields"] == "postings"


async def test_a_trade_beyond_its_hold_is_hold_exceeded_and_moves_nothing(wallet: Any) -> None:
    await fund_trade(wallet)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, trade_postings(quote="30"))

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wallet.reason(caught.value) == "HOLD_EXCEEDED"
    assert (await wallet.balances(BUYER))["USDC"] == ("80.000000", "20.000000", "100.000000")
    assert await wallet.entry_count(SELLER) == 1


async def test_a_debit_without_a_hold_may_not_overdraw_available(wallet: Any) -> None:
    await wallet.deposit(BUYER, "1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, [wallet_pb2.Posting(account=BUYER, asset="USDC", amount="-2"),
                            wallet_pb2.Posting(account=SELLER, asset="USDC", amount="2")])

    assert wallet.reason(caught.value) == "INSUFFICIENT_FUNDS"
    assert await wallet.balances(SELLER) == {}


@pytest.mark.parametrize(("postings", "bad_fields", "reason"), [
    ([("accounts/buyer", "USDC", "-1"), ("accounts/seller", "USDC", "2")], {"postings"}, "UNBALANCED_TRANSFER"),
    ([("accounts/buyer", "USDC", "-1.0000001"), ("accounts/seller", "USDC", "1.0000001")],
     {"postings[0].amount", "postings[1].amount"}, "AMOUNT_TOO_PRECISE"),
    ([("accounts/buyer", "USDC", "0"), ("accounts/seller", "USDC", "0")],
     {"postings[0].amount", "postings[1].amount"}, "AMOUNT_NOT_POSITIVE"),
    ([("nobody", "USDC", "-1"), ("accounts/seller", "XXX", "1")],
     {"postings[0].account", "postings[1].asset"}, "INVALID_ARGUMENT"),
    ([], {"postings"}, "INVALID_ARGUMENT"),
])
async def test_a_bad_transfer_is_refused_with_its_fields_and_writes_nothing(
    wallet: Any, postings: list[tuple[str, str, str]], bad_fields: set[str], reason: str,
) -> None:
    await wallet.deposit(BUYER, "10")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, [wallet_pb2.Posting(account=a, asset=s, amount=m) for a, s, m in postings])

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == bad_fields
    assert wallet.reason(caught.value) == reason
    assert await wallet.entry_count(BUYER) == 1


async def test_a_credit_may_not_name_a_hold(wallet: Any) -> None:
    await fund_trade(wallet)
    postings = [wallet_pb2.Posting(account=BUYER, asset="USDC", amount="-1"),
                wallet_pb2.Posting(account=SELLER, asset="USDC", amount="1", hold="holds/buy-1")]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await post(wallet, postings)

    assert wallet.fields(caught.value) == {"postings[1].hold"}


async def test_only_the_settlement_service_may_post_transfers(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.PostTransfer(pb.PostTransferRequest(transfer="transfers/t"), metadata=wallet.order)

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

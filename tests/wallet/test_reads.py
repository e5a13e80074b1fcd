"""ListBalances and ListEntries: paginated, owners see only their own account, operators any."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb

ALICE = "accounts/alice"


async def test_entries_page_through_the_journal_in_order_and_filter_by_asset(wallet: Any) -> None:
    for amount in ("1", "2", "3"):
        await wallet.deposit(ALICE, amount)
    await wallet.deposit(ALICE, "4", asset="GRID")
    first = await wallet.stub.ListEntries(pb.ListEntriesRequest(account=ALICE, page_size=2, asset="USDC"),
                                          metadata=wallet.as_user("alice"))
    rest = await wallet.stub.ListEntries(
        pb.ListEntriesRequest(account=ALICE, page_size=2, asset="USDC", page_token=first.next_page_token),
        metadata=wallet.as_user("alice"))

    assert [e.amount for e in first.entries] + [e.amount for e in rest.entries] == ["1.000000", "2.000000", "3.000000"]
    assert rest.next_page_token == ""
    assert first.entries[0].kind == wallet_pb2.ENTRY_KIND_DEPOSIT


async def test_balances_page_by_asset(wallet: Any) -> None:
    await wallet.deposit(ALICE, "1")
    await wallet.deposit(ALICE, "2", asset="GRID")
    first = await wallet.stub.ListBalances(pb.ListBalancesRequest(account=ALICE, page_size=1), metadata=wallet.operator)
    rest = await wallet.stub.ListBalances(
        pb.ListBalancesRequest(account=ALICE, page_size=1, page_token=first.next_page_token), metadata=wallet.operator)

    assert [b.asset for b in first.balances] + [b.asset for b in rest.balances] == ["GRID", "USDC"]
    assert rest.next_page_token == ""


async def test_a_page_token_for_another_filter_is_refused(wallet: Any) -> None:
    await wallet.deposit(ALICE, "1")
    await wallet.deposit(ALICE, "2")
    first = await wallet.stub.ListEntries(pb.ListEntriesRequest(account=ALICE, page_size=1), metadata=wallet.operator)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.ListEntries(
            pb.ListEntriesRequest(account=ALICE, asset="GRID", page_token=first.next_page_token), metadata=wallet.operator)

    assert wallet.reason(caught.value) == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize("method", ["ListBalances", "ListEntries"])
async def test_a_trader_may_not_read_another_account(wallet: Any, method: str) -> None:
    request = getattr(pb, f"{method}Request")(account=ALICE)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(wallet.stub, method)(request, metadata=wallet.as_user("mallory"))

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert wallet.reason(caught.value) == "NOT_ACCOUNT_OWNER"


async def test_a_list_with_bad_fields_names_them(wallet: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallet.stub.ListEntries(pb.ListEntriesRequest(account="alice", asset="DOGE"), metadata=wallet.operator)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wallet.fields(caught.value) == {"account", "asset"}

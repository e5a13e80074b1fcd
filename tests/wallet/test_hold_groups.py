"""Group commit of PlaceHold and ReleaseHold: concurrent calls share a transaction, each keeps its answer."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb

USERS = 50


def place(wallet: Any, hold: str, account: str, amount: str) -> Any:
    return wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/{hold}", account=account, asset="USDC",
                                                     amount=amount), metadata=wallet.order)


def release(wallet: Any, hold: str) -> Any:
    return wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold=f"holds/{hold}"), metadata=wallet.order)


def codes(results: list[Any]) -> list[str]:
    return ["OK" if isinstance(r, wallet_pb2.Hold) else r.code().name for r in results]


async def gathered(calls: list[Any]) -> list[Any]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, (wallet_pb2.Hold, grpc.aio.AioRpcError)) for r in results)
    return results


async def test_50_concurrent_holds_succeed_exactly_where_funds_cover_them(wallet: Any) -> None:
    for user in range(USERS):
        await wallet.deposit(f"accounts/u{user}", "10")
    # Every third order asks more than its account has.
    amounts = ["10.000001" if user % 3 == 0 else "10" for user in range(USERS)]
    results = await gathered([place(wallet, f"o{user}", f"accounts/u{user}", amounts[user]) for user in range(USERS)])

    assert codes(results) == ["FAILED_PRECONDITION" if user % 3 == 0 else "OK" for user in range(USERS)]
    assert {wallet.reason(r) for r in results if isinstance(r, grpc.aio.AioRpcError)} == {"INSUFFICIENT_FUNDS"}
    for user in (0, 1):
        expected = ("10.000000", "0.000000", "10.000000") if user % 3 == 0 else ("0.000000", "10.000000", "10.000000")
        assert (await wallet.balances(f"accounts/u{user}"))["USDC"] == expected
    assert (await wallet.consistency()).ok


async def test_50_concurrent_holds_on_one_account_take_exactly_what_it_has(wallet: Any) -> None:
    await wallet.deposit("accounts/alice", "20.5")
    results = await gathered([place(wallet, f"o{i}", "accounts/alice", "1") for i in range(USERS)])

    assert sorted(codes(results)) == ["FAILED_PRECONDITION"] * 30 + ["OK"] * 20
    assert (await wallet.balances("accounts/alice"))["USDC"] == ("0.500000", "20.000000", "20.500000")
    assert (await wallet.consistency()).ok


async def test_a_hold_placed_twice_in_one_group_is_held_once_and_answered_alike(wallet: Any) -> None:
    await wallet.deposit("accounts/alice", "10")
    calls = [place(wallet, "same", "accounts/alice", "4") for _ in range(3)]
    calls += [place(wallet, f"o{i}", "accounts/alice", "1") for i in range(5)]
    results = await gathered(calls)

    assert codes(results) == ["OK"] * 8
    assert results[0] == results[1] == results[2]
    assert (await wallet.balances("accounts/alice"))["USDC"] == ("1.000000", "9.000000", "10.000000")


async def test_a_hold_id_reused_with_another_amount_in_one_group_is_already_exists(wallet: Any) -> None:
    await wallet.deposit("accounts/alice", "10")
    results = await gathered([place(wallet, "same", "accounts/alice", "4"), place(wallet, "same", "accounts/alice", "5")])

    assert sorted(codes(results)) == ["ALREADY_EXISTS", "OK"]
    held = next(r for r in results if isinstance(r, wallet_pb2.Hold)).amount
    assert (await wallet.balances("accounts/alice"))["USDC"][1] == held


async def test_concurrent_releases_each_give_back_their_hold_and_an_unknown_one_is_not_found(wallet: Any) -> None:
    await wallet.deposit("accounts/alice", "10")
    for i in range(10):
        await place(wallet, f"o{i}", "accounts/alice", "1")
    results = await gathered([release(wallet, f"o{i}") for i in range(10)] + [release(wallet, "nope")])

    assert codes(results) == ["OK"] * 10 + ["NOT_FOUND"]
    assert wallet.reason(results[-1]) == "HOLD_NOT_FOUND"
    assert all(r.state == wallet_pb2.HOLD_STATE_CLOSED for r in results[:10])
    assert (await wallet.balances("accounts/alice"))["USDC"] == ("10.000000", "0.000000", "10.000000")
    assert (await wallet.consistency()).ok

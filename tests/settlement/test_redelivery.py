"""Exactly once: a restarted Settlement resumes its cursor, a replay from the start records
nothing twice, and a settlement posted again is a no-op at the Wallet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb
from services.settlement import tables

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED


async def settle_all(mesh: Any) -> list[settlement_pb2.Settlement]:
    answer = await mesh.stub.ListSettlements(pb.ListSettlementsRequest(page_size=1000), metadata=mesh.operator)
    return list(answer.settlements)


async def test_a_restarted_settlement_resumes_after_its_cursor(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    async with mesh.running_settlement():
        [first] = await mesh.trade("alice", "bob", "100.00", "0.1")
        await mesh.reaches(first, ANCHORED)
    [second] = await mesh.trade("alice", "bob", "100.00", "0.1")  # while Settlement is down

    async with mesh.running_settlement():
        await mesh.reaches(second, ANCHORED)
        settlements = await settle_all(mesh)

    assert [s.trade for s in settlements] == [first, second]
    assert await mesh.balances("system/fees") == {"USDC": "0.040000"}
    assert await mesh.balances("accounts/bob") == {"USDC": "19.980000", "BTC": "0.80000000"}


async def test_a_replay_from_the_first_trade_settles_nothing_twice(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    async with mesh.running_settlement():
        trades = [*await mesh.trade("alice", "bob", "100.00", "0.1"), *await mesh.trade("alice", "bob", "50.00", "0.2")]
        for trade in trades:
            await mesh.reaches(trade, ANCHORED)
        before = await settle_all(mesh)
    tx, store = mesh.store()
    await tx.write(lambda session: store.rewind(session, "markets/BTC-USDC", 0))

    async with mesh.running_settlement():
        [later] = await mesh.trade("alice", "bob", "10.00", "0.1")  # proves the replay got past them
        await mesh.reaches(later, ANCHORED)
        after = await settle_all(mesh)

    assert [(s.name, s.anchor_signature) for s in after[:2]] == [(s.name, s.anchor_signature) for s in before]
    assert len(after) == 3
    assert await mesh.balances("system/fees") == {"USDC": "0.042000"}


async def test_a_settlement_posted_again_moves_no_money_twice(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    async with mesh.running_settlement():
        [trade] = await mesh.trade("alice", "bob", "100.00", "0.1")
        await mesh.reaches(trade, ANCHORED)
    balances = {account: await mesh.balances(account) for account in ("accounts/alice", "accounts/bob", "system/fees")}
    tx, _ = mesh.store()
    # As if the Wallet had committed and Settlement crashed before recording POSTED.
    await tx.write(lambda session: session.execute(update(tables.settlements).values(
        state="PENDING", batch_id=None, batch_position=None)))

    async with mesh.running_settlement():
        await mesh.reaches(trade, ANCHORED)

    assert {account: await mesh.balances(account) for account in balances} == balances

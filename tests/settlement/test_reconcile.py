"""Reconcile: clean when trades, settlements, postings and anchors agree; each difference a
line when something is broken on purpose; `clearmesh reconcile` prints them."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import grpc
import pytest
from sqlalchemy import delete, update
from tests.testkit.processes import run_cli

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb
from services.runtime.settings import ensure_jwt_secret
from services.settlement import tables

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED


@pytest.fixture
async def two_settled(settled: Any) -> list[str]:
    trades = [*await settled.trade("alice", "bob", "100.00", "0.1"), *await settled.trade("alice", "bob", "50.00", "0.1")]
    for trade in trades:
        await settled.reaches(trade, ANCHORED)
    return trades


async def reconcile(mesh: Any, **fields: Any) -> pb.ReconcileResponse:
    return await mesh.stub.Reconcile(pb.ReconcileRequest(**fields), metadata=mesh.operator)


async def test_a_consistent_platform_reconciles_clean(settled: Any, two_settled: list[str]) -> None:
    answer = await reconcile(settled)

    assert (answer.checked_count, list(answer.mismatches)) == (2, [])


async def test_a_wrong_fee_is_reported_in_the_transfer_the_total_and_the_batch_root(
        settled: Any, two_settled: list[str]) -> None:
    tx, _ = settled.store()
    await tx.write(lambda session: session.execute(update(tables.settlements).where(
        tables.settlements.c.trade == two_settled[0]).values(buyer_fee_units=10_001)))

    answer = await reconcile(settled)

    assert answer.mismatches[0] == (f"{two_settled[0]}: the fee account received 20000 USDC units in its "
                                    "transfer, the fees are 20001")
    assert answer.mismatches[1] == "system/fees holds 30000 USDC units, the settled fees sum to 30001"
    assert answer.mismatches[2].startswith("batch ") and "root recomputed from its leaves" in answer.mismatches[2]


async def test_a_trade_without_a_settlement_is_reported(settled: Any, two_settled: list[str]) -> None:
    tx, _ = settled.store()
    await tx.write(lambda session: session.execute(delete(tables.settlements).where(
        tables.settlements.c.trade == two_settled[1], tables.settlements.c.batch_id.is_(None))))
    await tx.write(lambda session: session.execute(update(tables.settlements).where(
        tables.settlements.c.trade == two_settled[1]).values(trade="markets/BTC-USDC/trades/99")))

    answer = await reconcile(settled, market="markets/BTC-USDC")

    assert answer.mismatches[:2] == [
        f"{two_settled[1]}: traded but has no settlement",
        "markets/BTC-USDC/trades/99: settlement settlements/BTC-USDC-2 has no trade in Matching"]


async def test_a_trader_may_not_reconcile(settled: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await settled.stub.Reconcile(pb.ReconcileRequest(), metadata=settled.trader("alice"))
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_the_cli_prints_each_mismatch_and_fails(settled: Any, two_settled: list[str]) -> None:
    tx, _ = settled.store()
    await tx.write(lambda session: session.execute(update(tables.settlements).where(
        tables.settlements.c.trade == two_settled[0]).values(seller_fee_units=0)))
    env = {**os.environ, "JWT_SECRET": ensure_jwt_secret(settled.settings),
           "CLEARMESH_SETTLEMENT_ADDR": f"127.0.0.1:{settled.settlement_running.port}"}

    # In a thread, not asyncio.create_subprocess_exec: this loop is uvloop, which fork()s while
    # this process's gRPC threads serve, and the child can crash before its exec (run_cli).
    done = await asyncio.to_thread(run_cli, ["reconcile"], env)

    lines = done.stdout.splitlines()
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    assert lines[0] == f"MISMATCH {two_settled[0]}: the fee account received 20000 USDC units in its transfer, the fees are 10000"
    assert lines[-1] == "checked 2 trades, 3 mismatches"

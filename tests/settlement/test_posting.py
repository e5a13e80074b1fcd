"""A trade becomes POSTED then ANCHORED, charging exactly what the hold protocol expects."""

from __future__ import annotations

from typing import Any

from clearmesh.settlement.v1 import settlement_pb2

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED


async def test_a_trade_is_posted_then_anchored(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "100.00", "0.5")

    anchored = await settled.reaches(trade, ANCHORED)

    assert anchored.trade == trade
    assert (anchored.buyer, anchored.seller) == ("accounts/alice", "accounts/bob")
    assert (anchored.buyer_fee, anchored.seller_fee, anchored.fee_asset) == (
        "0.050000", "0.050000", "USDC")
    assert len(anchored.batch_root) == 64 and anchored.anchor_signature
    assert anchored.anchor_slot > 0


async def test_balances_move_by_notional_and_fees(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "100.00", "0.5")
    await settled.reaches(trade, ANCHORED)

    alice, bob = await settled.balances("accounts/alice"), await settled.balances("accounts/bob")

    # alice paid 50 + 0.05 fee out of her hold; bob received 50 − 0.05 and delivered 0.5 BTC.
    assert alice == {"USDC": "99949.950000", "BTC": "0.50000000"}
    assert bob == {"USDC": "49.950000", "BTC": "9.50000000"}


async def test_the_fee_account_holds_the_sum_of_fees(settled: Any) -> None:
    trades = [*await settled.trade("alice", "bob", "100.00", "0.5"), *await settled.trade("alice", "bob", "20.00", "0.25")]
    for trade in trades:
        await settled.reaches(trade, ANCHORED)

    fees = await settled.balances("system/fees")

    # (0.05 + 0.05) + (0.005 + 0.005)
    assert fees == {"USDC": "0.110000"}


async def test_a_fee_is_rounded_up_to_the_quote_unit(settled: Any) -> None:
    # 1.23 × 0.001 = 0.00123 USDC = 1230 units; a fee of 0.1 % is 1.23 units → 2 units.
    [trade] = await settled.trade("alice", "bob", "1.23", "0.001")

    settlement = await settled.reaches(trade, ANCHORED)

    assert (settlement.buyer_fee, settlement.seller_fee) == ("0.000002", "0.000002")

"""What PlaceOrder holds, and that a refusal at any step leaves nothing held."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc
import pytest
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb

from services.matching.service import SPEC as MATCHING
from services.order.domain.orders import Release
from services.order.store import OrderStore

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
OPEN, CANCELLED, REJECTED = (trading_pb2.ORDER_STATE_OPEN, trading_pb2.ORDER_STATE_CANCELLED,
                             trading_pb2.ORDER_STATE_REJECTED)


async def _orders(mesh: Any, caller: Any) -> list[Any]:
    return list((await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=caller)).orders)


async def test_a_limit_buy_holds_its_notional_and_the_fee_reserve_in_the_quote_asset(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")
    # 50 USDC of notional (tick × lot is one USDC unit, so no fill's notional rounds) and its
    # fee, 0.05: the fees of however many fills add up to the fee of the total.
    assert await mesh.balance("alice", "USDC") == ("949.950000", "50.050000")


async def test_a_cancel_releases_the_whole_hold(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    order = await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")
    cancelled = await mesh.order.CancelOrder(pb.CancelOrderRequest(name=order.name), metadata=alice)
    assert cancelled.state == CANCELLED
    assert cancelled.reject_reason == "CANCELLED_BY_USER"
    await mesh.held_becomes("alice", "USDC", "0")
    assert (await mesh.balance("alice", "USDC"))[0] == "1000.000000"


async def test_cancelling_a_final_order_is_refused_as_not_open(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    order = await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")
    await mesh.order.CancelOrder(pb.CancelOrderRequest(name=order.name), metadata=alice)
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await mesh.order.CancelOrder(pb.CancelOrderRequest(name=order.name), metadata=alice)
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(again.value) == "ORDER_NOT_OPEN"


async def test_an_order_beyond_the_balance_is_refused_with_insufficient_funds_and_holds_nothing(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "10"})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused.value) == "INSUFFICIENT_FUNDS"
    assert await mesh.balance("alice", "USDC") == ("10.000000", "0.000000")
    [order] = await _orders(mesh, alice)
    assert (order.state, order.reject_reason) == (REJECTED, "INSUFFICIENT_FUNDS")


async def test_an_account_without_kyc_is_refused_and_nothing_is_held_or_stored(mesh: Any) -> None:
    nobody = await mesh.trader("nobody", tier=0, deposits={"USDC": "1000"})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(nobody, side=BUY, price="100.00", quantity="0.5")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused.value) == "KYC_REQUIRED"
    assert await mesh.balance("nobody", "USDC") == ("1000.000000", "0.000000")
    assert await _orders(mesh, nobody) == []


async def test_an_order_above_the_tiers_order_limit_is_refused_by_kyc(mesh: Any) -> None:
    alice = await mesh.trader("alice", tier=1, deposits={"USDC": "100000"})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(alice, side=BUY, price="30000.00", quantity="1")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused.value) == "KYC_LIMIT_EXCEEDED"


async def test_an_invalid_order_names_every_violation_and_stores_nothing(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(alice, side=BUY, price="100.001", quantity="0.000001", post_only=True,
                         time_in_force=trading_pb2.TIME_IN_FORCE_IOC)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert mesh.reason(refused.value) == "INVALID_ORDER"
    assert mesh.fields(refused.value) == {"order.price", "order.quantity", "order.post_only"}
    assert await _orders(mesh, alice) == []


async def test_matching_stopped_during_placement_answers_unavailable_and_keeps_the_hold_until_matching_answers(
        mesh: Any, serve: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    await mesh.place(alice, side=BUY, price="1.00", quantity="0.1")  # the market is known now
    matching = mesh.services["matching"]
    settings, port = matching.runtime.settings, matching.port
    await matching.stop(grace=0)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert mesh.reason(refused.value) == "MATCHING_UNAVAILABLE"
    # Matching may have taken (and filled) it before falling silent: not rejected, still held.
    unresolved = (await _orders(mesh, alice))[1]
    assert unresolved.state == trading_pb2.ORDER_STATE_UNSPECIFIED  # PENDING
    assert await mesh.balance("alice", "USDC") == ("949.849900", "50.150100")
    async with serve(MATCHING, settings, port=port):
        # The repair asks Matching again: it never had the order, so the order is withdrawn
        # (placed by its id, then cancelled) and its whole hold given back, once.
        withdrawn = await mesh.state_becomes(unresolved.name, CANCELLED)
        assert withdrawn.reject_reason == "MATCHING_UNAVAILABLE"
        await mesh.held_becomes("alice", "USDC", "0.100100")
        assert await mesh.balance("alice", "USDC") == ("999.899900", "0.100100")
        # Once: by the normal ended-order path, all of the hold (it consumed nothing), and done
        # (marked so just after the Wallet's answer: waited for, not raced).
        order_id = unresolved.name.removeprefix("orders/")

        async def stored() -> Any:
            return await mesh.services["order"].runtime.transactions.read(
                lambda session: OrderStore().get(session, order_id))

        async def done() -> bool:
            return (await stored()).release is Release.DONE

        await mesh.eventually(done)
        assert (await stored()).release_units == (await stored()).hold_units
        # Asking the Wallet to release it again under the same request id changes nothing.
        again = await mesh.wallet.ReleaseHold(wallet_pb.ReleaseHoldRequest(
            hold=f"holds/{order_id}", amount="50.050000", request_id=f"release-{order_id}"),
            metadata=mesh.bearer(service="order"))
        assert again.remaining == "0.000000" or Decimal(again.remaining) == 0
        assert await mesh.balance("alice", "USDC") == ("999.899900", "0.100100")


async def test_the_daily_notional_counts_the_accounts_orders_of_the_last_24_hours(mesh: Any) -> None:
    alice = await mesh.trader("alice", tier=1, deposits={"USDC": "100000"})
    for _ in range(5):  # 5 × 9 000 of the tier's 50 000 a day
        await mesh.place(alice, side=BUY, price="9000.00", quantity="1")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mesh.place(alice, side=BUY, price="9000.00", quantity="1")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused.value) == "KYC_LIMIT_EXCEEDED"
    assert len(await _orders(mesh, alice)) == 5

"""Order killed with `kill -9` between the hold and Matching's answer: after a restart the order
is neither lost nor doubled and no money is orphaned. Four real processes on free ports.

Matching is SIGSTOPped so SubmitOrder hangs once the hold is placed; Order is killed there;
Matching is resumed (it may or may not have journaled the order); Order starts again on its
database and its repair submits the PENDING order (idempotent by order id)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from tests.testkit.processes import Metadata, Processes, eventually
from tests.testkit.traders import approve

SERVICES = ("kyc", "wallet", "matching", "order")


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path, SERVICES)
    try:
        for name in SERVICES:
            running.start(name)
        yield running
    finally:
        running.stop_all()


def test_an_order_killed_between_hold_and_submit_is_placed_once_after_a_restart(mesh: Processes) -> None:
    alice: Metadata = mesh.bearer("alice")
    operator: Metadata = mesh.bearer("ops", "operator")
    approve(kyc_grpc.KycServiceStub(mesh.channel("kyc")), alice, operator, passport="NX1234567",
            legal_name="Alice Example")
    wallet = wallet_grpc.WalletServiceStub(mesh.channel("wallet"))
    wallet.Deposit(wallet_pb.DepositRequest(account="accounts/alice", asset="USDC", amount="1000",
                                            request_id="d1"), metadata=operator)

    def held() -> Decimal:
        balances = wallet.ListBalances(wallet_pb.ListBalancesRequest(account="accounts/alice"), metadata=operator)
        return sum((Decimal(b.held) for b in balances.balances if b.asset == "USDC"), Decimal(0))

    os.kill(mesh.running["matching"].pid, signal.SIGSTOP)
    order_stub = pb_grpc.OrderServiceStub(mesh.channel("order"))
    placing = order_stub.PlaceOrder.future(pb.PlaceOrderRequest(order=order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="100.00", quantity="0.1"), request_id="crash-1"), metadata=alice)
    hold = eventually(held, bool, "the hold")  # the hold is placed; SubmitOrder now hangs on Matching
    mesh.kill("order")
    with pytest.raises(grpc.RpcError):
        placing.result(timeout=10)
    os.kill(mesh.running["matching"].pid, signal.SIGCONT)
    mesh.start("order")

    order_stub = pb_grpc.OrderServiceStub(mesh.channel("order"))

    def the_order() -> order_pb2.Order | None:
        orders = order_stub.ListOrders(pb.ListOrdersRequest(), metadata=alice).orders
        return orders[0] if len(orders) == 1 and orders[0].state == trading_pb2.ORDER_STATE_OPEN else None

    order = eventually(the_order, lambda found: found is not None, "the order OPEN once")
    assert held() == hold
    book = matching_grpc.MatchingServiceStub(mesh.channel("matching")).GetOrderBook(
        matching_pb.GetOrderBookRequest(market="markets/BTC-USDC"), metadata=operator)
    assert [(level.price, level.quantity, level.order_count) for level in book.bids] == [("100.00", "0.1000", 1)]
    # The client's retry finds the same order.
    again = order_stub.PlaceOrder(pb.PlaceOrderRequest(order=order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="100.00", quantity="0.1"), request_id="crash-1"), metadata=alice)
    assert order is not None and again.name == order.name

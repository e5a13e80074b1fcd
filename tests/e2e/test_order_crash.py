"""Order killed with `kill -9` between the hold and Matching's answer: after a restart the order
is neither lost nor doubled and no money is orphaned. Four real processes on free ports.

Matching is SIGSTOPped so SubmitOrder hangs once the hold is placed; Order is killed there;
Matching is resumed (it may or may not have journaled the order); Order starts again on its
database and its repair submits the PENDING order (idempotent by order id)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.auth import TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-secret-" + "x" * 32
SERVICES = ("kyc", "wallet", "matching", "order")
WAIT_SECS = 30.0
Metadata = tuple[tuple[str, str], ...]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mesh:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {name: _free_port() for name in SERVICES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
                    "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}",
                    **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()}}

    def start(self, name: str) -> None:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "CLEARMESH_GRPC_PORT": str(self.ports[name])})
        with grpc.insecure_channel(f"127.0.0.1:{self.ports[name]}") as channel:
            _eventually(lambda: _serving(channel))

    def channel(self, name: str) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{self.ports[name]}")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            process.wait(timeout=30)


def _serving(channel: grpc.Channel) -> bool:
    try:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def _eventually(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECS
    while not (answer := check()):
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        time.sleep(0.05)
    return answer


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    running = Mesh(tmp_path)
    try:
        for name in SERVICES:
            running.start(name)
        yield running
    finally:
        running.stop_all()


def test_an_order_killed_between_hold_and_submit_is_placed_once_after_a_restart(mesh: Mesh) -> None:
    issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
    alice: Metadata = (("authorization", f"Bearer {issuer.mint(account='alice', roles=('trader',))}"),)
    operator: Metadata = (("authorization", f"Bearer {issuer.mint(account='ops', roles=('operator',))}"),)
    kyc = kyc_grpc.KycServiceStub(mesh.channel("kyc"))
    applicant = kyc.CreateApplicant(kyc_pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(
        legal_name="Alice Example", country="NL", address="1 Canal Street, Amsterdam",
        date_of_birth=date_pb2.Date(year=1990, month=4, day=2))), metadata=alice)
    kyc.SubmitDocument(kyc_pb.SubmitDocumentRequest(parent=applicant.name, document=kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number="NX1234567",
        sha256="ab" * 32, size_bytes=120_000)), metadata=alice)
    kyc.ReviewApplicant(kyc_pb.ReviewApplicantRequest(
        name=applicant.name, decision=kyc_pb.REVIEW_DECISION_APPROVE, tier=1), metadata=operator)
    wallet = wallet_grpc.WalletServiceStub(mesh.channel("wallet"))
    wallet.Deposit(wallet_pb.DepositRequest(account="accounts/alice", asset="USDC", amount="1000",
                                            request_id="d1"), metadata=operator)

    def held() -> Decimal:
        balances = wallet.ListBalances(wallet_pb.ListBalancesRequest(account="accounts/alice"), metadata=operator)
        return sum((Decimal(b.held) for b in balances.balances if b.asset == "USDC"), Decimal(0))

    os.kill(mesh.processes["matching"].pid, signal.SIGSTOP)
    order_stub = pb_grpc.OrderServiceStub(mesh.channel("order"))
    placing = order_stub.PlaceOrder.future(pb.PlaceOrderRequest(order=order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="100.00", quantity="0.1"), request_id="crash-1"), metadata=alice)
    hold = _eventually(lambda: held())  # the hold is placed; SubmitOrder now hangs on Matching
    mesh.processes["order"].kill()  # kill -9
    mesh.processes["order"].wait(timeout=10)
    with pytest.raises(grpc.RpcError):
        placing.result(timeout=10)
    os.kill(mesh.processes["matching"].pid, signal.SIGCONT)
    mesh.start("order")

    order_stub = pb_grpc.OrderServiceStub(mesh.channel("order"))

    def the_order() -> order_pb2.Order | None:
        orders = order_stub.ListOrders(pb.ListOrdersRequest(), metadata=alice).orders
        return orders[0] if len(orders) == 1 and orders[0].state == trading_pb2.ORDER_STATE_OPEN else None

    order = _eventually(the_order)
    assert held() == hold
    book = matching_grpc.MatchingServiceStub(mesh.channel("matching")).GetOrderBook(
        matching_pb.GetOrderBookRequest(market="markets/BTC-USDC"), metadata=operator)
    assert [(level.price, level.quantity, level.order_count) for level in book.bids] == [("100.00", "0.1000", 1)]
    # The client's retry finds the same order.
    again = order_stub.PlaceOrder(pb.PlaceOrderRequest(order=order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="100.00", quantity="0.1"), request_id="crash-1"), metadata=alice)
    assert again.name == order.name

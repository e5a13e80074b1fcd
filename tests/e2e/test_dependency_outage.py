"""PostgreSQL or Redis gone for a while, in front of real service processes: the RPCs that need
it answer UNAVAILABLE within their deadline (they never hang), the services recover by
themselves once it is back (no restart), nothing is half-written, and losing Redis costs only
speed. The machine's servers cannot be stopped, so a proxy the test controls stands between
each service and them (tests/testkit/tcp_proxy.py) and is cut:
  - "reset": the server restarted or crashed: connections reset, new ones refused;
  - "stall": a partition: connections accepted, nothing ever answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import make_url

from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from tests.testkit.processes import Processes, eventually
from tests.testkit.tcp_proxy import Mode, TcpProxy

DEADLINE_SECS = 6.0  # the callers' deadline; the services give the database 1.5 s (below)
OUTAGE_ENV = {"CLEARMESH_MIGRATE_ON_START": "true", "CLEARMESH_DATABASE_TIMEOUT_SECS": "1.5"}


@pytest.fixture
def postgres_proxy(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of PostgreSQL and the test database's URL through it."""
    url = make_url(postgres_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield proxy, through


def started(tmp_path: Path, service: str, env: dict[str, str]) -> Processes:
    processes = Processes(tmp_path, (service,), {**OUTAGE_ENV, **env})
    try:
        processes.start(service)
    except BaseException:
        processes.stop_all()
        raise
    return processes


def refused_within_deadline(call: grpc.UnaryUnaryMultiCallable, request: object,
                            metadata: tuple[tuple[str, str], ...]) -> tuple[grpc.StatusCode, float]:
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        call(request, metadata=metadata, timeout=DEADLINE_SECS)
    return refused.value.code(), time.monotonic() - began


@pytest.mark.parametrize("mode", ["reset", "stall"])
def test_the_wallet_answers_unavailable_without_its_database_and_recovers_without_half_a_deposit(
        tmp_path: Path, postgres_proxy: tuple[TcpProxy, str], mode: Mode) -> None:
    proxy, url = postgres_proxy
    processes = started(tmp_path, "wallet", {"DATABASE_URL": url})
    try:
        operator = processes.bearer("ops", "operator")
        wallet = wallet_grpc.WalletServiceStub(processes.channel("wallet"))

        def deposit(request_id: str, amount: str) -> wallet_pb.DepositResponse:
            return wallet.Deposit(wallet_pb.DepositRequest(account="accounts/alice", asset="USDC", amount=amount,
                                                           request_id=request_id), metadata=operator, timeout=DEADLINE_SECS)

        deposit("before", "100")
        proxy.cut(mode)
        code, took = refused_within_deadline(wallet.Deposit, wallet_pb.DepositRequest(
            account="accounts/alice", asset="USDC", amount="50", request_id="during"), operator)
        proxy.restore()

        def retried() -> wallet_pb.DepositResponse | None:
            try:
                return deposit("during", "50")  # the caller retries the same request
            except grpc.RpcError:
                return None

        eventually(retried, lambda answer: answer is not None, "the wallet to recover", 20)
        balances = wallet.ListBalances(wallet_pb.ListBalancesRequest(account="accounts/alice"), metadata=operator)
        entries = wallet.ListEntries(wallet_pb.ListEntriesRequest(account="accounts/alice"), metadata=operator)
    finally:
        processes.stop_all()
    assert code == grpc.StatusCode.UNAVAILABLE
    assert took < DEADLINE_SECS
    assert [Decimal(b.total) for b in balances.balances if b.asset == "USDC"] == [Decimal(150)]
    assert len(entries.entries) == 2  # one ledger entry per deposit: none lost, none doubled


def test_matching_refuses_orders_while_its_journal_is_unreachable_and_takes_them_once_it_is_back(
        tmp_path: Path, postgres_proxy: tuple[TcpProxy, str]) -> None:
    proxy, url = postgres_proxy
    processes = started(tmp_path, "matching", {"DATABASE_URL": url})
    try:
        as_order = (("authorization", f"Bearer {processes.issuer.mint(service='order')}"),)
        trader = processes.bearer("alice")
        matching = matching_grpc.MatchingServiceStub(processes.channel("matching"))

        def order(number: int) -> matching_pb.SubmitOrderRequest:
            return matching_pb.SubmitOrderRequest(
                order=f"orders/o{number}", account="accounts/alice", market="markets/BTC-USDC",
                side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT, price=f"{100 + number}",
                quantity="1")

        matching.SubmitOrder(order(1), metadata=as_order, timeout=DEADLINE_SECS)
        proxy.cut("stall")
        code, took = refused_within_deadline(matching.SubmitOrder, order(2), as_order)
        proxy.restore()

        def resubmitted() -> matching_pb.SubmitOrderResponse | None:
            try:
                return matching.SubmitOrder(order(2), metadata=as_order, timeout=DEADLINE_SECS)
            except grpc.RpcError:
                return None

        eventually(resubmitted, lambda answer: answer is not None, "matching to recover", 30)
        matching.SubmitOrder(order(2), metadata=as_order, timeout=DEADLINE_SECS)  # idempotent
        book = matching.GetOrderBook(matching_pb.GetOrderBookRequest(market="markets/BTC-USDC"), metadata=trader)
    finally:
        processes.stop_all()
    assert code == grpc.StatusCode.UNAVAILABLE
    assert took < DEADLINE_SECS
    assert sorted((Decimal(level.price), level.order_count) for level in book.bids) == [
        (Decimal(101), 1), (Decimal(102), 1)]  # each order rests once


@pytest.mark.parametrize("mode", ["reset", "stall"])
def test_kyc_answers_from_its_database_while_redis_is_gone(
        tmp_path: Path, redis_url: str, mode: Mode) -> None:
    target = make_url(redis_url.replace("redis://", "postgresql://", 1))  # only host and port are read
    with TcpProxy(target.host or "127.0.0.1", target.port or 6379) as proxy:
        through = redis_url.replace(f"{target.host}:{target.port}", proxy.address)
        processes = started(tmp_path, "kyc", {"REDIS_URL": through})
        try:
            alice = processes.bearer("alice")
            kyc = kyc_grpc.KycServiceStub(processes.channel("kyc"))
            check = kyc_pb.CheckEligibilityRequest(account="accounts/alice", action=kyc_pb.ELIGIBILITY_ACTION_PLACE_ORDER,
                                                   asset="USDC", amount="1")
            before = kyc.CheckEligibility(check, metadata=alice, timeout=DEADLINE_SECS)
            used_redis = proxy.connections
            proxy.cut(mode)
            during = kyc.CheckEligibility(check, metadata=alice, timeout=DEADLINE_SECS)
            proxy.restore()
            after = kyc.CheckEligibility(check, metadata=alice, timeout=DEADLINE_SECS)
        finally:
            processes.stop_all()
    assert used_redis > 0
    assert (before.allowed, during.allowed, after.allowed) == (False, False, False)  # no applicant: tier 0
    assert during.reason == before.reason

"""One live platform for the hostile-input tests (tests/testkit/stack.py), an edge in front of
it, and a world in which account A owns one of everything: an approved applicant, balances, an
open order (and its hold), a pending withdrawal and a settled trade."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.order.v1 import order_service_pb2_grpc as order_grpc
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.settlement.v1 import settlement_service_pb2_grpc as settlement_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from tests.testkit.stack import Stack, session_stack
from tests.testkit.traders import approve

Metadata = tuple[tuple[str, str], ...]
MARKET = "markets/BTC-USDC"  # a default market: continuous, tick 0.01, lot 0.0001


stack, edge = session_stack("hostile-stack")


@pytest.fixture(scope="session")
def channels(stack: Stack) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: grpc.insecure_channel(f"127.0.0.1:{running.port}") for name, running in stack.services.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def bearer(stack: Stack, account: str | None = None, roles: tuple[str, ...] = ("trader",),
           service: str | None = None) -> Metadata:
    token = stack.issuer.mint(service=service) if service else stack.issuer.mint(account=account, roles=roles)
    return (("authorization", f"Bearer {token}"),)


@dataclass(frozen=True)
class World:
    """A's resources by pattern, and the accounts around them."""

    a: str  # account ids
    b: str
    applicant: str
    order: str
    withdrawal: str
    settlement: str

    @property
    def account(self) -> str:
        return f"accounts/{self.a}"

    @property
    def hold(self) -> str:
        return "holds/" + self.order.removeprefix("orders/")


class Builder:
    """Puts accounts through KYC, funds them and trades, over gRPC as each caller."""

    def __init__(self, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
        self.stack = stack
        self.kyc = kyc_grpc.KycServiceStub(channels["kyc"])
        self.wallet = wallet_grpc.WalletServiceStub(channels["wallet"])
        self.order = order_grpc.OrderServiceStub(channels["order"])
        self.settlement = settlement_grpc.SettlementServiceStub(channels["settlement"])
        self.operator = bearer(stack, "ops", ("operator",))

    def trader(self, account: str) -> tuple[Metadata, str]:
        """`account` approved at tier 1 with USDC and BTC; its caller metadata and applicant."""
        caller = bearer(self.stack, account)
        applicant = approve(self.kyc, caller, self.operator, passport=f"NX{uuid.uuid4().hex[:10].upper()}")
        for asset, amount in (("USDC", "5000"), ("BTC", "1")):
            self.wallet.Deposit(wallet_pb.DepositRequest(account=f"accounts/{account}", asset=asset, amount=amount,
                                                         request_id=uuid.uuid4().hex), metadata=self.operator)
        return caller, applicant

    def place(self, caller: Metadata, side: trading_pb2.Side, price: str, quantity: str) -> order_pb2.Order:
        answer: order_pb2.Order = self.order.PlaceOrder(order_pb.PlaceOrderRequest(order=order_pb2.Order(
            market=MARKET, side=side, type=trading_pb2.ORDER_TYPE_LIMIT, price=price, quantity=quantity),
            request_id=uuid.uuid4().hex), metadata=caller)
        return answer

    def settlement_of(self, seller: str, wait_secs: float = 20) -> str:
        """The settlement of a trade `seller` sold in, once Settlement has recorded it."""
        deadline = time.monotonic() + wait_secs
        while time.monotonic() < deadline:
            page = self.settlement.ListSettlements(settlement_pb.ListSettlementsRequest(page_size=1000),
                                                   metadata=self.operator)
            for settlement in page.settlements:
                # Anchored: its last change, so later reads of it are stable.
                if settlement.seller == seller and settlement.state == settlement_pb2.SETTLEMENT_STATE_ANCHORED:
                    return str(settlement.name)
            time.sleep(0.05)
        raise AssertionError(f"no anchored settlement sold by {seller} within {wait_secs} s")


def build_world(stack: Stack, channels: dict[str, grpc.Channel]) -> World:
    builder = Builder(stack, channels)
    suffix = uuid.uuid4().hex[:8]
    a, b, c = f"alice-{suffix}", f"bob-{suffix}", f"carol-{suffix}"
    as_a, applicant = builder.trader(a)
    as_c, _ = builder.trader(c)
    builder.trader(b)
    # A trade with C (A sells, C buys at A's price), then an order of A's that rests.
    builder.place(as_a, trading_pb2.SIDE_SELL, "30000.00", "0.0010")
    builder.place(as_c, trading_pb2.SIDE_BUY, "30000.00", "0.0010")
    settlement = builder.settlement_of(f"accounts/{a}")
    resting = builder.place(as_a, trading_pb2.SIDE_BUY, "100.00", "0.0100")
    withdrawal = builder.wallet.Withdraw(wallet_pb.WithdrawRequest(
        account=f"accounts/{a}", asset="USDC", amount="10", destination="0xa11ce", request_id=uuid.uuid4().hex),
        metadata=as_a)
    return World(a=a, b=b, applicant=applicant, order=resting.name, withdrawal=withdrawal.name, settlement=settlement)


@pytest.fixture(scope="session")
def world(stack: Stack, channels: dict[str, grpc.Channel]) -> World:
    return build_world(stack, channels)

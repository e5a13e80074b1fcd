"""The Settlement service over real sockets with real Wallet and Matching servers, on SQLite
(a file per service, as `clearmesh up` runs) and on PostgreSQL (one database for all three).

A trade is made the way the Order service makes one: Wallet holds named after the orders
(notional + the fee reserve for a buy, the quantity for a sell), then the orders go straight
into Matching's internal SubmitOrder as the `order` service."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc
import pytest
from tests.testkit.rpc import field_violations, reason

from clearmesh.matching.v1 import matching_service_pb2 as matching_pb, matching_service_pb2_grpc as matching_grpc
from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb, settlement_service_pb2_grpc as pb_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from clearmesh.type.v1 import trading_pb2
from services.matching.service import SPEC as MATCHING
from services.runtime import loop
from services.runtime.database import create_engine, create_scratch_database, drop_scratch_database
from services.runtime.fees import fee_units
from services.runtime.server import RunningService, ServiceSpec
from services.runtime.settings import Settings
from services.runtime.transactions import Transactions
from services.settlement.store import SettlementStore
from services.settlement.service import SPEC as SETTLEMENT
from services.wallet.service import SPEC as WALLET

Metadata = tuple[tuple[str, str], ...]
MARKET = "markets/BTC-USDC"
BUY, SELL, LIMIT = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL, trading_pb2.ORDER_TYPE_LIMIT
FEE_RATE = Decimal("0.001")
WAIT_SECS = 20.0
SERVICES = ("wallet", "matching", "settlement")
POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
STATES = settlement_pb2.SettlementState


@pytest.fixture(params=["sqlite", "postgres"])
def databases(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Each service's database URL: "" (its own SQLite file in the data directory) or a
    PostgreSQL database of its own (a service migrates only its own tables)."""
    if request.param == "sqlite":
        yield {service: "" for service in SERVICES}
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    urls = {service: loop.run(create_scratch_database(POSTGRES_ADMIN_URL, f"clearmesh_{service}"))
            for service in SERVICES}
    yield urls
    for url in urls.values():
        loop.run(drop_scratch_database(POSTGRES_ADMIN_URL, url))


@pytest.fixture
def mesh_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "migrate_on_start": True, "settlement_fee_rate": FEE_RATE,
        "settlement_retry_attempts": 3, "settlement_retry_delay_secs": 0.05})


@dataclass
class Mesh:
    """Wallet, Matching and Settlement running; the callers the tests act as."""

    settings: Settings
    serve: Any
    bearer: Callable[..., Metadata]
    wallet: wallet_grpc.WalletServiceStub
    matching: matching_grpc.MatchingServiceStub
    settlement_running: RunningService | None = None
    settlement: pb_grpc.SettlementServiceStub | None = None
    # trade name → (buy order id, sell order id); an order's hold has its id
    orders: dict[str, tuple[str, str]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def operator(self) -> Metadata:
        return self.bearer(account="ops", roles=("operator",))

    def trader(self, account: str) -> Metadata:
        return self.bearer(account=account, roles=("trader",))

    @property
    def stub(self) -> pb_grpc.SettlementServiceStub:
        if self.settlement is None:
            raise RuntimeError("Settlement is not running")
        return self.settlement

    async def fund(self, account: str, amount: str, asset: str) -> None:
        await self.wallet.Deposit(wallet_pb.DepositRequest(
            account=f"accounts/{account}", asset=asset, amount=amount, request_id=f"fund-{next(self._ids)}"),
            metadata=self.operator)

    async def trade(self, buyer: str, seller: str, price: str, quantity: str, *,
                    seller_hold: bool = True) -> list[str]:
        """Crossing orders with their holds, as Order places them; the trade names. Without
        `seller_hold` the sell order has no hold, so its trade cannot be posted."""
        index = next(self._ids)
        notional_units = int(Decimal(price) * Decimal(quantity) * 10**6)
        buy_hold = notional_units + fee_units(notional_units, FEE_RATE)
        await self.hold(f"b{index}", buyer, "USDC", str(Decimal(buy_hold).scaleb(-6)))
        if seller_hold:
            await self.hold(f"s{index}", seller, "BTC", quantity)
        await self.submit(f"orders/s{index}", seller, SELL, price, quantity)
        answer = await self.submit(f"orders/b{index}", buyer, BUY, price, quantity)
        self.orders.update({trade.name: (f"b{index}", f"s{index}") for trade in answer.trades})
        return [trade.name for trade in answer.trades]

    async def hold(self, hold: str, account: str, asset: str, amount: str) -> None:
        await self.wallet.PlaceHold(wallet_pb.PlaceHoldRequest(
            hold=f"holds/{hold}", account=f"accounts/{account}", asset=asset, amount=amount),
            metadata=self.bearer(service="order"))

    async def submit(self, order: str, account: str, side: trading_pb2.Side, price: str, quantity: str) -> Any:
        return await self.matching.SubmitOrder(matching_pb.SubmitOrderRequest(
            order=order, account=f"accounts/{account}", market=MARKET, side=side, type=LIMIT, price=price,
            quantity=quantity), metadata=self.bearer(service="order"))

    async def get(self, trade: str) -> settlement_pb2.Settlement:
        return await self.stub.GetSettlement(pb.GetSettlementRequest(name=settlement_name(trade)),
                                             metadata=self.operator)

    async def find(self, trade: str) -> settlement_pb2.Settlement | None:
        """The trade's settlement, or None while intake has not recorded it yet."""
        try:
            return await self.get(trade)
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise

    async def reaches(self, trade: str, state: int) -> settlement_pb2.Settlement:
        """The settlement once it is in `state` (polled; fails after WAIT_SECS)."""
        return await eventually(lambda: self.find(trade), lambda s: s is not None and s.state == state,
                                f"{trade} to reach {STATES.Name(state)}")

    async def balances(self, account: str) -> dict[str, str]:
        answer = await self.wallet.ListBalances(wallet_pb.ListBalancesRequest(account=account),
                                                metadata=self.operator)
        return {balance.asset: balance.total for balance in answer.balances}

    def store(self) -> tuple[Transactions, SettlementStore]:
        """Settlement's own database, to break things on purpose."""
        url = self.settings.database_url_for("settlement")
        return Transactions(create_engine(url)), SettlementStore()

    @staticmethod
    def reason(error: grpc.aio.AioRpcError) -> str:
        return reason(error)

    @staticmethod
    def fields(error: grpc.aio.AioRpcError) -> set[str]:
        return {violation.field for violation in field_violations(error)}

    @staticmethod
    def name_of(trade: str) -> str:
        return settlement_name(trade)

    @asynccontextmanager
    async def running_settlement(self, spec: ServiceSpec = SETTLEMENT) -> AsyncIterator[pb_grpc.SettlementServiceStub]:
        async with self.serve(spec, self.settings) as running:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                self.settlement_running, self.settlement = running, pb_grpc.SettlementServiceStub(channel)
                try:
                    yield self.settlement
                finally:
                    self.settlement_running, self.settlement = None, None


def settlement_name(trade: str) -> str:
    market, _, sequence = trade.removeprefix("markets/").partition("/trades/")
    return f"settlements/{market}-{sequence}"


async def eventually(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECS
    while True:
        value = await read()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"waited {WAIT_SECS} s for {what}; last seen {value}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def mesh(serve: Any, mesh_settings: Settings, databases: dict[str, str],
               bearer: Callable[..., Metadata]) -> AsyncIterator[Mesh]:
    """Wallet and Matching running; Settlement started by the test (`mesh.running_settlement()`)."""
    def on(service: str) -> Settings:
        return mesh_settings.model_copy(update={"database_url": databases[service]})

    async with serve(WALLET, on("wallet")) as wallet, serve(MATCHING, on("matching")) as matching:
        settings = on("settlement").model_copy(update={
            "wallet_addr": f"127.0.0.1:{wallet.port}", "matching_addr": f"127.0.0.1:{matching.port}"})
        async with grpc.aio.insecure_channel(f"127.0.0.1:{wallet.port}") as wallet_channel, \
                grpc.aio.insecure_channel(f"127.0.0.1:{matching.port}") as matching_channel:
            yield Mesh(settings, serve, bearer, wallet_grpc.WalletServiceStub(wallet_channel),
                       matching_grpc.MatchingServiceStub(matching_channel))


@pytest.fixture
async def settled(mesh: Mesh) -> AsyncIterator[Mesh]:
    """The mesh with Settlement running and alice (USDC) and bob (BTC) funded."""
    await mesh.fund("alice", "100000", "USDC")
    await mesh.fund("bob", "10", "BTC")
    async with mesh.running_settlement():
        yield mesh

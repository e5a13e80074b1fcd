"""The Order service on real sockets with the real KYC, Wallet and Matching services beside it
(each its own server in this process, on free ports), and the callers the tests act as."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

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
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kyc.service import SPEC as KYC
from services.matching.service import SPEC as MATCHING
from services.order.service import SPEC as ORDER
from services.order.store import OrderStore
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.server import RunningService
from services.runtime.settings import Settings
from services.runtime.transactions import Transactions
from services.wallet.service import SPEC as WALLET
from tests.testkit.traders import approve_async

Metadata = tuple[tuple[str, str], ...]
# The platform's assets, as Matching's default markets trade them (GRID-USDC's base is GRID).
ASSETS = "USDC:6,GRID:3,BTC:8"
BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
LIMIT, MARKET = trading_pb2.ORDER_TYPE_LIMIT, trading_pb2.ORDER_TYPE_MARKET
WAIT_SECS = 20.0


@dataclass
class Mesh:
    order: pb_grpc.OrderServiceStub
    wallet: wallet_grpc.WalletServiceStub
    kyc: kyc_grpc.KycServiceStub
    matching: matching_grpc.MatchingServiceStub
    services: dict[str, RunningService]
    bearer: Callable[..., Metadata]
    orders: list[pb_grpc.OrderServiceStub]  # one per Order replica; `order` is the first
    operator: Metadata
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def request_id(self) -> str:
        return f"req-{next(self._ids)}"

    async def trader(self, account: str, *, tier: int = 1, deposits: dict[str, str] | None = None) -> Metadata:
        """A trader approved at `tier` with these deposits (asset → amount)."""
        caller = self.bearer(account=account)
        if tier:
            await approve_async(self.kyc, caller, self.operator, passport=f"NX{abs(hash(account)) % 10**7:07d}",
                                tier=tier, legal_name="Alice Example")
        for asset, amount in (deposits or {}).items():
            await self.wallet.Deposit(wallet_pb.DepositRequest(
                account=f"accounts/{account}", asset=asset, amount=amount, request_id=self.request_id()),
                metadata=self.operator)
        return caller

    async def place(self, caller: Metadata, *, market: str = "BTC-USDC", side: trading_pb2.Side = BUY, type: trading_pb2.OrderType = LIMIT,
                    request_id: str | None = None, replica: int = 0, **fields: Any) -> order_pb2.Order:
        return await self.orders[replica].PlaceOrder(pb.PlaceOrderRequest(
            order=order_pb2.Order(market=f"markets/{market}", side=side, type=type, **fields),
            request_id=request_id or self.request_id()), metadata=caller)

    async def get(self, name: str, caller: Metadata | None = None) -> order_pb2.Order:
        return await self.order.GetOrder(pb.GetOrderRequest(name=name), metadata=caller or self.operator)

    async def balance(self, account: str, asset: str) -> tuple[str, str]:
        """(available, held) of one asset, read as an operator."""
        response = await self.wallet.ListBalances(
            wallet_pb.ListBalancesRequest(account=f"accounts/{account}"), metadata=self.operator)
        for balance in response.balances:
            if balance.asset == asset:
                return balance.available, balance.held
        return "0", "0"

    async def base_asset(self, market: str) -> str:
        answer = await self.matching.GetMarket(matching_pb.GetMarketRequest(name=f"markets/{market}"),
                                               metadata=self.operator)
        return answer.base_asset

    async def eventually(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Wait until `check` holds (background work: events, releases); fail after WAIT_SECS."""
        deadline = asyncio.get_running_loop().time() + WAIT_SECS
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the condition did not come true")
            await asyncio.sleep(0.05)

    async def state_becomes(self, name: str, state: int) -> order_pb2.Order:
        async def reached() -> bool:
            return (await self.get(name)).state == state

        await self.eventually(reached)
        return await self.get(name)

    async def held_becomes(self, account: str, asset: str, held: str) -> None:
        async def reached() -> bool:
            from decimal import Decimal
            return Decimal((await self.balance(account, asset))[1]) == Decimal(held)

        await self.eventually(reached)


    @staticmethod
    def reason(error: grpc.aio.AioRpcError) -> str:
        return error_reason(error)

    @staticmethod
    def fields(error: grpc.aio.AioRpcError) -> set[str]:
        return violated_fields(error)


def error_reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return {violation.field for violation in bad.field_violations}
    return set()


@pytest.fixture
def open_mesh(serve: Any, settings: Settings, bearer: Callable[..., Metadata]) -> Callable[..., Any]:
    """`async with open_mesh(order_database_url=None) as mesh:` the four services started."""

    @asynccontextmanager
    async def run(order_database_url: str | None = None, *, matching_interval_ms: int = 100, order_replicas: int = 1,
                  **order_settings: Any) -> AsyncIterator[Mesh]:
        """`order_replicas` Order services on one database (give a PostgreSQL one: SQLite's
        statements run on the event loop's thread, which two replicas in one process share),
        as Order's replicas run; `mesh.orders` calls each, `mesh.order` the first."""
        base = settings.model_copy(update={"assets": ASSETS, "matching_interval_ms": matching_interval_ms})
        async with AsyncExitStack() as stack:
            kyc = await stack.enter_async_context(serve(KYC, base))
            wallet = await stack.enter_async_context(serve(WALLET, base.model_copy(update={
                "kyc_addr": f"127.0.0.1:{kyc.port}"})))
            matching = await stack.enter_async_context(serve(MATCHING, base))
            addresses = {"kyc_addr": f"127.0.0.1:{kyc.port}", "wallet_addr": f"127.0.0.1:{wallet.port}",
                         "matching_addr": f"127.0.0.1:{matching.port}"}
            update: dict[str, Any] = {**addresses, **order_settings}
            if order_database_url is not None:
                update.update(database_url=order_database_url, migrate_on_start=True)
            replicas = [await stack.enter_async_context(serve(ORDER, base.model_copy(update=update)))
                        for _ in range(order_replicas)]
            order = replicas[0]
            channels = {name: await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{running.port}"))
                        for name, running in (("kyc", kyc), ("wallet", wallet), ("matching", matching), ("order", order))}
            orders = [pb_grpc.OrderServiceStub(channels["order"])] + [
                pb_grpc.OrderServiceStub(await stack.enter_async_context(
                    grpc.aio.insecure_channel(f"127.0.0.1:{replica.port}"))) for replica in replicas[1:]]
            yield Mesh(
                order=orders[0], orders=orders, wallet=wallet_grpc.WalletServiceStub(channels["wallet"]),
                kyc=kyc_grpc.KycServiceStub(channels["kyc"]),
                matching=matching_grpc.MatchingServiceStub(channels["matching"]),
                services={"kyc": kyc, "wallet": wallet, "matching": matching, "order": order}, bearer=bearer,
                operator=bearer(account="ops", roles=("operator",)))

    return run


@pytest.fixture
async def mesh(open_mesh: Callable[..., Any]) -> AsyncIterator[Mesh]:
    async with open_mesh() as running:
        yield running


@dataclass
class OrderDb:
    tx: Transactions
    store: OrderStore


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[OrderDb]:
    """Order's migrated database on its own (no service), keeping its connections as the
    service's runtime does (on SQLite on the loop's thread and on PostgreSQL its statements then
    run on the driver)."""
    await migrate.upgrade(database_url, ORDER.migrations)
    engine = create_engine(database_url)
    tx = Transactions(engine, keep_connections=True)
    try:
        yield OrderDb(tx, OrderStore())
    finally:
        await tx.close()
        await engine.dispose()

"""Fixtures of the Matching service tests: the real service over a real socket, on SQLite and
PostgreSQL, with callers of each kind (the Order service, a trader, an operator)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from clearmesh.matching.v1 import matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching.service import SPEC
from services.matching.store import MatchingStore
from services.runtime.server import RunningService
from services.runtime.settings import Settings
from tests.testkit.rpc import error_info, field_violations, reason as error_reason

Metadata = tuple[tuple[str, str], ...]


@dataclass
class Matching:
    running: RunningService
    stub: pb_grpc.MatchingServiceStub
    order_service: Metadata
    trader: Metadata
    operator: Metadata

    @staticmethod
    def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
        return {violation.field: violation.description for violation in field_violations(error)}

    @staticmethod
    def reason(error: grpc.aio.AioRpcError) -> str:
        return error_reason(error)

    @staticmethod
    def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
        return error_info(error)

    @property
    def store(self) -> MatchingStore:
        return MatchingStore(self.running.runtime.engine)

    async def submit(self, order: str, side: int, price: str, quantity: str, *, market: str = "BTC-USDC",
                     account: str = "accounts/alice", **fields: Any) -> pb.SubmitOrderResponse:
        """A limit order (unless `fields` say otherwise) as the Order service sends it."""
        request = pb.SubmitOrderRequest(order=order, account=account, market=f"markets/{market}",
                                        side=side,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                        type=fields.pop("type", 1), price=price, quantity=quantity, **fields)
        return await self.stub.SubmitOrder(request, metadata=self.order_service)

    async def book(self, market: str = "BTC-USDC", depth: int = 0) -> Any:
        return await self.stub.GetOrderBook(pb.GetOrderBookRequest(market=f"markets/{market}", depth=depth),
                                            metadata=self.trader)


@pytest.fixture
def matching_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "migrate_on_start": True})


@pytest.fixture
def open_matching(serve: Any, bearer: Callable[..., Metadata]) -> Callable[[Settings], Any]:
    """`async with open_matching(settings) as matching:` the service started on those settings."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(service_settings: Settings) -> AsyncIterator[Matching]:
        async with serve(SPEC, service_settings) as running:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield Matching(running, pb_grpc.MatchingServiceStub(channel), bearer(service="order"),
                               bearer(account="alice", roles=("trader",)),
                               bearer(account="root", roles=("operator",)))

    return run


@pytest.fixture
async def matching(open_matching: Callable[[Settings], Any], matching_settings: Settings) -> AsyncIterator[Matching]:
    async with open_matching(matching_settings) as running:
        yield running

"""Orders without an expire time leave the book after ORDER_EXPIRATION_HOURS, on their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from clearmesh.matching.v1 import matching_service_pb2 as pb
from services.matching.service import SPEC
from services.runtime.clock import FixedClock

EXPIRED = 5


async def test_a_gtc_order_expires_after_the_default_lifetime(serve: Any, matching_settings: Any, bearer: Any) -> None:
    import grpc

    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    settings = matching_settings.model_copy(update={"order_expiration_hours": 1})
    async with serve(SPEC, settings, clock=clock) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            from clearmesh.matching.v1 import matching_service_pb2_grpc as pb_grpc

            stub = pb_grpc.MatchingServiceStub(channel)
            order = bearer(service="order")
            await stub.SubmitOrder(pb.SubmitOrderRequest(
                order="o1", account="accounts/alice", market="markets/BTC-USDC",
                side=1, type=1,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                price="100.00", quantity="1"), metadata=order)
            clock.set(clock.now() + timedelta(hours=1, seconds=1))
            events = stub.StreamOrderEvents(pb.StreamOrderEventsRequest(market="markets/BTC-USDC", after_sequence=1),
                                            metadata=order)
            expired = await asyncio.wait_for(events.read(), 30)  # the sweep runs every second
            events.cancel()
            book = await stub.GetOrderBook(pb.GetOrderBookRequest(market="markets/BTC-USDC"),
                                           metadata=bearer(account="alice"))

    assert (expired.event.order, expired.event.type) == ("o1", EXPIRED)
    assert list(book.bids) == []

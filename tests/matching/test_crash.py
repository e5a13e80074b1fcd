"""kill -9 in the middle of a stream of orders loses nothing that was acknowledged.

A real `clearmesh serve matching` process, clients submitting orders continuously, SIGKILL after a
few hundred acknowledgements, a restart on the same data directory. Then: every acknowledged order
was accepted, trade and event sequences are 1..N exactly once each, and the book is what replaying
the accepted orders (the acknowledged ones plus any in-flight one that made it into the journal) in
journal order produces in-process.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from decimal import Decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from clearmesh.matching.v1 import matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import wire
from services.matching.domain import MatchingEngine, OrderType, Side, default_markets
from services.runtime.auth import TokenIssuer
from services.runtime.health import wait_serving
from tests.testkit.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-secret-" + "y" * 32
ACKNOWLEDGED_BEFORE_KILL = 300
SUBMITTERS = 4


class MatchingProcess:
    def __init__(self, data_dir: Path, port: int) -> None:
        env = dict(os.environ, CLEARMESH_DATA_DIR=str(data_dir), CLEARMESH_GRPC_PORT=str(port), JWT_SECRET=SECRET,
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "protos/gen/python")]),
                   CLEARMESH_LOG_LEVEL="WARNING")
        self.process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "matching"], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def processes() -> Iterator[list[MatchingProcess]]:
    started: list[MatchingProcess] = []
    yield started
    for running in started:
        if running.process.poll() is None:
            running.kill()


async def serving(channel: grpc.aio.Channel) -> None:
    if not await wait_serving(channel, attempts=300, pause=0.05):
        raise AssertionError("the matching process never became SERVING")


def random_orders(count: int) -> list[tuple[str, bool, str, str]]:
    """(order id, is buy, price, quantity) around 100.00 so that about half of them trade."""
    rng = random.Random(7)
    return [(f"o{index}", rng.random() < 0.5, f"{rng.randint(9_990, 10_010) / 100:.2f}", f"0.{rng.randint(1, 9)}")
            for index in range(count)]


def request_of(order: tuple[str, bool, str, str]) -> pb.SubmitOrderRequest:
    order_id, is_buy, price, quantity = order
    # Buyers and sellers are different accounts, so self-trade prevention never cancels anything.
    return pb.SubmitOrderRequest(order=order_id, account="accounts/buyer" if is_buy else "accounts/seller",
                                 market="markets/BTC-USDC", side=1 if is_buy else 2, type=1,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                 price=price,
                                 quantity=quantity)


async def drain(stream: Any) -> list[Any]:
    items = []
    while True:
        try:
            items.append(await asyncio.wait_for(stream.read(), 1.0))
        except TimeoutError:
            break
    stream.cancel()
    return items


def replayed_book(orders: list[tuple[str, bool, str, str]]) -> Any:
    market = next(m for m in default_markets() if m.name == "BTC-USDC")
    engine = MatchingEngine(market)
    for now, (order_id, is_buy, price, quantity) in enumerate(orders, 1):
        request = request_of((order_id, is_buy, price, quantity))
        engine.submit(order_id, request.account, Side.BUY if is_buy else Side.SELL, OrderType.LIMIT,
                      int(Decimal(quantity) / market.lot_size), price=int(Decimal(price) / market.tick_size),
                      now=now)
    return wire.book_message(market, engine.book(1000))


async def test_kill_9_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, processes: list[MatchingProcess]) -> None:
    port = free_port()
    issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
    metadata = (("authorization", "Bearer " + issuer.mint(service="order")),)
    settlement = (("authorization", "Bearer " + issuer.mint(service="settlement")),)
    orders = random_orders(5_000)
    by_id = {order[0]: order for order in orders}
    acknowledged: set[str] = set()
    sent: set[str] = set()
    processes.append(MatchingProcess(tmp_path, port))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await serving(channel)
        stub = pb_grpc.MatchingServiceStub(channel)
        queue = iter(orders)

        async def submitter() -> None:
            """Submits orders one after another until the process dies under it."""
            for order in queue:
                sent.add(order[0])
                try:
                    await stub.SubmitOrder(request_of(order), metadata=metadata)
                except grpc.aio.AioRpcError:
                    return
                acknowledged.add(order[0])

        clients = [asyncio.ensure_future(submitter()) for _ in range(SUBMITTERS)]
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            await asyncio.sleep(0.01)
        processes[-1].kill()  # while every submitter has an order on its way
        await asyncio.gather(*clients)

    processes.append(MatchingProcess(tmp_path, port))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await serving(channel)
        stub = pb_grpc.MatchingServiceStub(channel)
        events = [item.event for item in await drain(stub.StreamOrderEvents(
            pb.StreamOrderEventsRequest(market="markets/BTC-USDC"), metadata=metadata))]
        trades = [item.trade for item in await drain(stub.StreamTrades(
            pb.StreamTradesRequest(market="markets/BTC-USDC"), metadata=settlement))]
        trader = (("authorization", "Bearer " + issuer.mint(account="t", roles=("trader",))),)
        book = await stub.GetOrderBook(pb.GetOrderBookRequest(market="markets/BTC-USDC", depth=1000),
                                       metadata=trader)

    accepted = [event.order for event in events if event.type == 1]  # in the order they were journaled
    assert acknowledged <= set(accepted)
    assert set(accepted) <= sent  # nothing invented; in-flight orders may or may not have made it
    assert len(accepted) == len(set(accepted))
    assert [trade.sequence for trade in trades] == list(range(1, len(trades) + 1))
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    expected = replayed_book([by_id[order_id] for order_id in accepted])
    assert (list(book.bids), list(book.asks)) == (list(expected.bids), list(expected.asks))

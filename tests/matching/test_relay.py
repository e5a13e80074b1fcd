"""Two Matching shards over real sockets: a user's call of a market the other shard owns is
relayed to the owner, as the user, and answered as the owner answers it; a service's call and a
call relayed once already are refused; a dead or silent owner answers UNAVAILABLE.

With two shards both default markets (BTC-USDC, GRID-USDC) are shard 0's; SOL-USDC is shard 1's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import relay
from services.matching.service import SPEC
from services.runtime.settings import Settings
from services.runtime.shards import shard_of
from tests.testkit.net import free_port
from tests.testkit.rpc import error_info

Metadata = tuple[tuple[str, str], ...]
BTC, SOL = "markets/BTC-USDC", "markets/SOL-USDC"
BUY, SELL, LIMIT = 1, 2, 1


@dataclass
class Callers:
    order: Metadata
    alice: Metadata
    bob: Metadata
    operator: Metadata


@pytest.fixture
def callers(bearer: Callable[..., Metadata]) -> Callers:
    return Callers(bearer(service="order"), bearer(account="alice", roles=("trader",)),
                   bearer(account="bob", roles=("trader",)), bearer(account="root", roles=("operator",)))


@pytest.fixture
def start_shards(serve: Any, settings: Settings) -> Callable[..., Any]:
    """`async with start_shards(addresses, running=(0, 1)) as stubs:` the shards of that map
    numbered in `running` (the others' addresses stay dead, or whatever listens there)."""

    @asynccontextmanager
    async def run(addresses: list[str], running: tuple[int, ...]) -> AsyncIterator[dict[int, pb_grpc.MatchingServiceStub]]:
        base = settings.model_copy(update={"matching_shards": addresses, "assets": "USDC:6,GRID:3,BTC:8,SOL:6",
                                           "migrate_on_start": True})
        async with AsyncExitStack() as stack:
            stubs = {}
            for shard in running:
                port = int(addresses[shard].rsplit(":", 1)[1])
                await stack.enter_async_context(serve(SPEC, base.model_copy(update={"matching_shard": shard}), port=port))
                channel = await stack.enter_async_context(grpc.aio.insecure_channel(addresses[shard]))
                stubs[shard] = pb_grpc.MatchingServiceStub(channel)
            yield stubs

    return run


@pytest.fixture
async def shards(start_shards: Callable[..., Any], callers: Callers) -> AsyncIterator[dict[int, pb_grpc.MatchingServiceStub]]:
    """Both shards; SOL-USDC created through shard 0 (relayed to its owner, shard 1); one BTC-USDC
    trade (bob sells to alice) and one order resting on each side of SOL-USDC's book."""
    async with start_shards([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], (0, 1)) as stubs:
        await stubs[0].CreateMarket(pb.CreateMarketRequest(market_id="SOL-USDC", market=matching_pb2.Market(
            base_asset="SOL", quote_asset="USDC", tick_size="0.01", lot_size="0.01", mode=matching_pb2.MARKET_MODE_CONTINUOUS)),
            metadata=callers.operator)
        for shard, order, account, market, side, price in (
                (0, "orders/b1", "accounts/bob", BTC, SELL, "100.00"), (0, "orders/a1", "accounts/alice", BTC, BUY, "100.00"),
                (1, "orders/b2", "accounts/bob", SOL, SELL, "21.00"), (1, "orders/a2", "accounts/alice", SOL, BUY, "20.00")):
            await stubs[shard].SubmitOrder(pb.SubmitOrderRequest(
                order=order, account=account, market=market, side=side, type=LIMIT, price=price,  # type: ignore[arg-type]  # wire numbers
                quantity="0.1" if market == BTC else "1"), metadata=callers.order)
        yield stubs


def test_the_map_places_the_markets_of_this_test_as_it_says() -> None:
    assert (shard_of(BTC, 2), shard_of("markets/GRID-USDC", 2), shard_of(SOL, 2)) == (0, 0, 1)


@pytest.mark.parametrize(("market", "owner", "other"), [(BTC, 0, 1), (SOL, 1, 0)])
async def test_a_users_reads_of_the_other_shards_market_answer_as_the_owners(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers, market: str, owner: int, other: int) -> None:
    def reads(stub: pb_grpc.MatchingServiceStub) -> list[Any]:
        return [stub.GetMarket(pb.GetMarketRequest(name=market), metadata=callers.alice),
                stub.GetOrderBook(pb.GetOrderBookRequest(market=market), metadata=callers.alice),
                stub.ListTrades(pb.ListTradesRequest(market=market), metadata=callers.alice),
                stub.ListAuctions(pb.ListAuctionsRequest(market=market), metadata=callers.alice)]

    direct = await asyncio.gather(*reads(shards[owner]))
    relayed = await asyncio.gather(*reads(shards[other]))

    assert relayed == direct
    assert direct[1].sequence > 0  # the owner's book, orders on it, not a second empty one


async def test_a_relayed_read_shows_the_trades_as_the_user_may_see_them(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    as_alice = (await shards[1].ListTrades(pb.ListTradesRequest(market=BTC), metadata=callers.alice)).trades
    as_operator = (await shards[1].ListTrades(pb.ListTradesRequest(market=BTC), metadata=callers.operator)).trades

    assert [(trade.buyer, trade.seller) for trade in as_alice] == [("accounts/alice", "")]
    assert [(trade.buyer, trade.seller) for trade in as_operator] == [("accounts/alice", "accounts/bob")]


async def test_a_relayed_trade_stream_follows_the_owners(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    async def first(stub: pb_grpc.MatchingServiceStub) -> pb.StreamTradesResponse:
        stream = stub.StreamTrades(pb.StreamTradesRequest(market=BTC), metadata=callers.alice)
        try:
            return await asyncio.wait_for(stream.read(), 5)
        finally:
            stream.cancel()

    assert await first(shards[1]) == await first(shards[0])


async def test_the_owners_refusal_comes_back_as_it_is(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    unknown = next(f"markets/N{index}-USDC" for index in range(100) if shard_of(f"N{index}-USDC", 2) == 0)
    refusals = []
    for shard in (0, 1):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await shards[shard].GetMarket(pb.GetMarketRequest(name=unknown), metadata=callers.alice)
        refusals.append((caught.value.code(), caught.value.details(), error_info(caught.value)))

    assert refusals[1] == refusals[0]
    assert refusals[0][2].reason == "MARKET_NOT_FOUND"


async def test_a_users_market_list_holds_every_shards_markets_page_by_page(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    every = ["markets/BTC-USDC", "markets/GRID-USDC", "markets/SOL-USDC"]
    walked = {}
    for shard in (0, 1):
        names, token = [], ""
        while True:
            page = await shards[shard].ListMarkets(pb.ListMarketsRequest(page_size=1, page_token=token),
                                                   metadata=callers.alice)
            names += [market.name for market in page.markets]
            if not (token := page.next_page_token):
                break
        walked[shard] = names
    whole = await shards[1].ListMarkets(pb.ListMarketsRequest(), metadata=callers.alice)

    assert walked == {0: every, 1: every}
    assert [market.name for market in whole.markets] == every and whole.next_page_token == ""


async def test_a_services_market_list_holds_the_shards_own_markets(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    listed = {shard: [market.name for market in (await shards[shard].ListMarkets(
        pb.ListMarketsRequest(), metadata=callers.order)).markets] for shard in (0, 1)}

    assert listed == {0: ["markets/BTC-USDC", "markets/GRID-USDC"], 1: ["markets/SOL-USDC"]}


async def test_a_services_call_of_the_other_shards_market_is_refused_and_names_the_owner(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as read:
        await shards[1].GetMarket(pb.GetMarketRequest(name=BTC), metadata=callers.order)
    with pytest.raises(grpc.aio.AioRpcError) as submitted:
        await shards[1].SubmitOrder(pb.SubmitOrderRequest(
            order="orders/x", account="accounts/alice", market=BTC, side=BUY, type=LIMIT,  # type: ignore[arg-type]  # wire numbers
            price="1.00", quantity="0.1"), metadata=callers.order)

    for caught in (read.value, submitted.value):
        assert (caught.code(), error_info(caught).reason, error_info(caught).metadata["shard"]) == (
            grpc.StatusCode.FAILED_PRECONDITION, "MARKET_ON_ANOTHER_SHARD", "0")


async def test_a_call_relayed_once_is_refused_not_relayed_again(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await shards[1].GetOrderBook(pb.GetOrderBookRequest(market=BTC),
                                     metadata=(*callers.alice, (relay.RELAYED_BY, "0")))

    assert error_info(caught.value).reason == "MARKET_ON_ANOTHER_SHARD"


async def test_a_market_created_through_another_shard_is_the_owners(
        shards: dict[int, pb_grpc.MatchingServiceStub], callers: Callers) -> None:
    answer = await shards[1].GetMarket(pb.GetMarketRequest(name=SOL), metadata=callers.order)  # the owner itself

    assert answer.base_asset == "SOL"


async def test_a_dead_owner_answers_unavailable_naming_the_shard(
        start_shards: Callable[..., Any], callers: Callers) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with start_shards([dead, f"127.0.0.1:{free_port()}"], (1,)) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as read:
            await stubs[1].GetOrderBook(pb.GetOrderBookRequest(market=BTC), metadata=callers.alice, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as listed:
            await stubs[1].ListMarkets(pb.ListMarketsRequest(), metadata=callers.alice, timeout=10)

    for caught in (read.value, listed.value):
        info = error_info(caught)
        assert (caught.code(), info.reason, info.metadata["shard"], info.metadata["address"]) == (
            grpc.StatusCode.UNAVAILABLE, "SHARD_UNAVAILABLE", "0", dead)
    assert error_info(read.value).metadata["market"] == BTC


class _Silent(pb_grpc.MatchingServiceServicer):
    """An owner that takes the call and never answers it."""

    async def GetOrderBook(self, request: pb.GetOrderBookRequest, context: Any) -> matching_pb2.OrderBook:
        await asyncio.Event().wait()
        raise AssertionError("never answers")


async def test_an_owner_silent_past_the_deadline_answers_unavailable(
        start_shards: Callable[..., Any], callers: Callers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "RELAY_TIMEOUT_SECS", 0.5)
    silent = grpc.aio.server()
    pb_grpc.add_MatchingServiceServicer_to_server(_Silent(), silent)
    port = silent.add_insecure_port("127.0.0.1:0")
    await silent.start()
    try:
        async with start_shards([f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"], (1,)) as stubs:
            started = asyncio.get_running_loop().time()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stubs[1].GetOrderBook(pb.GetOrderBookRequest(market=BTC), metadata=callers.alice, timeout=10)
            waited = asyncio.get_running_loop().time() - started
    finally:
        await silent.stop(0)

    info = error_info(caught.value)
    assert (caught.value.code(), info.reason, info.metadata["peerStatus"]) == (
        grpc.StatusCode.UNAVAILABLE, "SHARD_UNAVAILABLE", "DEADLINE_EXCEEDED")
    assert waited < 5

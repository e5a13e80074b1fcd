"""Matching in two shards, as two real processes beside the other four services: each market
has one writer, the shard the market→shard map names (services/runtime/shards.py); Order
routes each order to its market's shard, Order's follower and Settlement's intake follow every
shard's streams, a shard refuses a service's call of a market that is not its own and relays a
user's to the owner.

With two shards both default markets hash to shard 0; SOL-USDC hashes to shard 1."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import grpc
import pytest
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.type.v1 import trading_pb2
from tests.e2e.trading import CONTINUOUS, Platform
from tests.testkit.processes import eventually
from tests.testkit.rpc import error_info

from services.runtime.shards import shard_of

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
FILLED = trading_pb2.ORDER_STATE_FILLED
ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED
SOL = "markets/SOL-USDC"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("shards"), {"CLEARMESH_ASSETS": "USDC:6,GRID:3,BTC:8,SOL:6"},
                       matching_shards=2)
    try:
        running.start(markets=(sol_market(),))
        yield running
    finally:
        running.stop()


def sol_market() -> matching_pb.CreateMarketRequest:
    return matching_pb.CreateMarketRequest(market_id="SOL-USDC", market=matching_pb2.Market(
        base_asset="SOL", quote_asset="USDC", tick_size="0.01", lot_size="0.01",
        mode=matching_pb2.MARKET_MODE_CONTINUOUS))


def test_the_map_places_the_markets_of_this_test_as_it_says() -> None:
    assert (shard_of(CONTINUOUS, 2), shard_of(SOL, 2)) == (0, 1)


def test_a_shard_refuses_a_services_call_of_a_market_that_is_not_its_own_and_names_the_owner(
        platform: Platform) -> None:
    order_service = (("authorization", f"Bearer {platform.processes.issuer.mint(service='order')}"),)
    with pytest.raises(grpc.RpcError) as read_on_shard_1:
        platform.shard(1).GetMarket(matching_pb.GetMarketRequest(name=CONTINUOUS), metadata=order_service)

    assert read_on_shard_1.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(read_on_shard_1.value).reason == "MARKET_ON_ANOTHER_SHARD"
    assert error_info(read_on_shard_1.value).metadata["shard"] == "0"


def test_a_shard_relays_a_users_call_of_the_other_shards_market_to_its_owner(platform: Platform) -> None:
    with pytest.raises(grpc.RpcError) as created_again_on_shard_0:
        platform.shard(0).CreateMarket(matching_pb.CreateMarketRequest(
            market_id="SOL-USDC", market=sol_market().market), metadata=platform.operator)
    books = [platform.shard(shard).GetOrderBook(matching_pb.GetOrderBookRequest(market=CONTINUOUS),
                                                metadata=platform.operator) for shard in (0, 1)]

    assert created_again_on_shard_0.value.code() == grpc.StatusCode.ALREADY_EXISTS  # the owner's answer
    assert error_info(created_again_on_shard_0.value).reason == "MARKET_ALREADY_EXISTS"
    assert books[1] == books[0]


def test_orders_on_both_shards_fill_and_every_trade_settles(platform: Platform) -> None:
    listed = {shard: [m.name for m in platform.shard(shard).ListMarkets(
        matching_pb.ListMarketsRequest(), metadata=platform.operator).markets] for shard in (0, 1)}
    alice = platform.trader("alice", {"USDC": "10000"})
    bob = platform.trader("bob", {"BTC": "1", "SOL": "10"})

    orders = [platform.place(bob, CONTINUOUS, SELL, "100.00", "0.1"), platform.place(alice, CONTINUOUS, BUY, "100.00", "0.1"),
              platform.place(bob, SOL, SELL, "20.00", "2"), platform.place(alice, SOL, BUY, "20.00", "2")]
    states = [eventually(partial(platform.get_order, order.name), lambda o: o.state == FILLED,
                         f"{order.name} FILLED").state for order in orders]
    trades = {market: eventually(lambda market=market, shard=shard: platform.trades(market, shard),  # type: ignore[misc]
                                 lambda found: len(found) == 1, f"the trade on {market}")
              for market, shard in ((CONTINUOUS, 0), (SOL, 1))}
    settled = {market: platform.anchored(found[0]).state
               for market, found in trades.items()}
    reconciled = platform.settlement.Reconcile(settlement_pb.ReconcileRequest(), metadata=platform.operator)

    assert listed[0] == listed[1] and {"markets/BTC-USDC", "markets/SOL-USDC"} <= set(listed[0])  # every shard's
    assert states == [FILLED] * 4
    assert settled == {CONTINUOUS: ANCHORED, SOL: ANCHORED}
    assert list(reconciled.mismatches) == []

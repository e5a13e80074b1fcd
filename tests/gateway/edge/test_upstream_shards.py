"""The edge sends a Matching call that names a market to the shard that owns it, and the rest
(ListMarkets, other services) to their configured address."""

from __future__ import annotations

import pytest
from clearmesh.matching.v1 import matching_service_pb2 as pb
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb

from gateway.descriptor import load_descriptor_set
from gateway.edge.upstream import Upstreams
from gateway.transcode import load_rules
from services.runtime.settings import Settings
from services.runtime.shards import shard_of

SHARDS = ("10.0.0.1:50051", "10.0.0.2:50051")
ROUTES = {route.grpc_path.rsplit("/", 1)[1]: route for route in load_rules(load_descriptor_set()).routes}


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams(Settings(CLEARMESH_MATCHING_SHARDS=",".join(SHARDS), CLEARMESH_MATCHING_ADDR="matching:50051",
                              CLEARMESH_WALLET_ADDR="wallet:50051"), ROUTES.values())


@pytest.mark.parametrize(("method", "request_"), [
    ("GetOrderBook", pb.GetOrderBookRequest(market="markets/SOL-USDC")),
    ("GetMarket", pb.GetMarketRequest(name="markets/SOL-USDC")),
    ("StreamTrades", pb.StreamTradesRequest(market="markets/SOL-USDC")),
    ("CreateMarket", pb.CreateMarketRequest(market_id="SOL-USDC")),
])
def test_a_call_naming_a_market_goes_to_its_shard(upstreams: Upstreams, method: str, request_: object) -> None:
    assert upstreams.address_of(ROUTES[method], request_) == SHARDS[shard_of("SOL-USDC", 2)] == SHARDS[1]
    assert upstreams.address_of(ROUTES[method], type(request_)()) == "matching:50051"  # names none


def test_the_map_sends_btc_to_shard_0(upstreams: Upstreams) -> None:
    assert upstreams.address_of(ROUTES["ListTrades"], pb.ListTradesRequest(market="markets/BTC-USDC")) == SHARDS[0]


def test_calls_that_name_no_market_keep_their_address(upstreams: Upstreams) -> None:
    assert upstreams.address_of(ROUTES["ListMarkets"], pb.ListMarketsRequest()) == "matching:50051"
    assert upstreams.address_of(ROUTES["ListBalances"], wallet_pb.ListBalancesRequest(
        account="accounts/markets")) == "wallet:50051"

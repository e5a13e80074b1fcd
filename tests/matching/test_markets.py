"""ListMarkets, GetMarket and CreateMarket over a real socket."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb
from services.runtime.settings import Settings

CONTINUOUS, PERIODIC_AUCTION = 1, 2


@pytest.fixture
def matching_settings(matching_settings: Settings) -> Settings:
    """The platform's assets with ETH added, so ETH-USDC markets may be created."""
    return matching_settings.model_copy(update={"assets": "USDC:6,GRID:3,BTC:8,ETH:8"})


def eth_market(**fields: Any) -> matching_pb2.Market:
    values: dict[str, Any] = {"base_asset": "ETH", "quote_asset": "USDC", "tick_size": "0.01",
                              "lot_size": "0.001", "mode": CONTINUOUS}
    values.update(fields)
    return matching_pb2.Market(**values)


async def create(matching: Any, market_id: str, market: matching_pb2.Market, request_id: str = "") -> Any:
    return await matching.stub.CreateMarket(
        pb.CreateMarketRequest(market_id=market_id, market=market, request_id=request_id), metadata=matching.operator)


async def test_the_two_default_markets_exist_out_of_the_box(matching: Any) -> None:
    answer = await matching.stub.ListMarkets(pb.ListMarketsRequest(), metadata=matching.trader)

    assert {(m.name, m.mode) for m in answer.markets} == {
        ("markets/BTC-USDC", CONTINUOUS), ("markets/GRID-USDC", PERIODIC_AUCTION)}


async def test_get_market_answers_its_rules(matching: Any) -> None:
    market = await matching.stub.GetMarket(pb.GetMarketRequest(name="markets/GRID-USDC"), metadata=matching.trader)

    assert (market.base_asset, market.tick_size, market.lot_size, market.auction_interval.seconds) == (
        "GRID", "0.001", "0.001", 1)


async def test_get_market_of_an_unknown_market_is_not_found(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.GetMarket(pb.GetMarketRequest(name="markets/NOPE-USDC"), metadata=matching.trader)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_operator_creates_a_market_that_then_takes_orders(matching: Any) -> None:
    created = await create(matching, "ETH-USDC", eth_market())

    await matching.submit("o1", 1, "2000.01", "0.5", market="ETH-USDC")
    assert created.name == "markets/ETH-USDC"
    assert (await matching.book("ETH-USDC")).bids[0].price == "2000.01"


async def test_creating_a_market_twice_is_already_exists(matching: Any) -> None:
    await create(matching, "ETH-USDC", eth_market())

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(matching, "ETH-USDC", eth_market())
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_creating_a_market_again_with_the_same_request_id_answers_the_first_result(matching: Any) -> None:
    first = await create(matching, "ETH-USDC", eth_market(), request_id="r1")

    again = await create(matching, "ETH-USDC", eth_market(), request_id="r1")

    assert again == first


BAD_MARKETS = {
    "lower-case id": ("eth-usdc", eth_market(), "market_id"),
    "id without a quote": ("ETH", eth_market(), "market_id"),
    "zero tick": ("ETH-USDC", eth_market(tick_size="0"), "market.tick_size"),
    "negative lot": ("ETH-USDC", eth_market(lot_size="-1"), "market.lot_size"),
    "no mode": ("ETH-USDC", eth_market(mode=0), "market.mode"),
    "auction without interval": ("ETH-USDC", eth_market(mode=PERIODIC_AUCTION), "market.auction_interval"),
    "continuous with interval": ("ETH-USDC", eth_market(auction_interval=duration_pb2.Duration(seconds=1)),
                                 "market.auction_interval"),
    "missing base asset": ("ETH-USDC", eth_market(base_asset=""), "market.base_asset"),
    "reference price beyond the engine's ticks": (
        "ETH-USDC", eth_market(reference_price="489457123092403025620053072282003753540813204312.05"),
        "market.reference_price"),
    "max quantity beyond the engine's lots": ("ETH-USDC", eth_market(max_quantity="1" + "0" * 40),
                                              "market.max_quantity"),
    "a decimal longer than any amount": ("ETH-USDC", eth_market(reference_price="1" * 65), "market.reference_price"),
}


UNFIT_MARKETS = {
    "base asset the platform does not hold": (eth_market(base_asset="KWH"), "UNKNOWN_ASSET", "market.base_asset"),
    "quote asset the platform does not hold": (eth_market(quote_asset="EUR"), "UNKNOWN_ASSET", "market.quote_asset"),
    "lot finer than the base asset": (eth_market(lot_size="0.000000001"), "PRECISION_MISMATCH", "market.lot_size"),
    "tick finer than the quote asset": (eth_market(tick_size="0.0000001"), "PRECISION_MISMATCH", "market.tick_size"),
    "tick x lot not whole quote units": (eth_market(tick_size="0.01", lot_size="0.00001"), "PRECISION_MISMATCH",
                                          "market.tick_size"),
}


@pytest.mark.parametrize("case", list(UNFIT_MARKETS), ids=list(UNFIT_MARKETS))
async def test_a_market_that_does_not_fit_the_platform_assets_is_refused(matching: Any, case: str) -> None:
    market, reason, field = UNFIT_MARKETS[case]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(matching, "ETH-USDC", market)

    assert (caught.value.code(), matching.reason(caught.value)) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert field in matching.violations(caught.value)
    listed = await matching.stub.ListMarkets(pb.ListMarketsRequest(), metadata=matching.trader)
    assert len(listed.markets) == 2


async def test_a_market_whose_tick_times_lot_is_one_quote_unit_is_created(matching: Any) -> None:
    created = await create(matching, "ETH-USDC", eth_market(tick_size="0.1", lot_size="0.00001"))

    assert (created.tick_size, created.lot_size) == ("0.1", "0.00001")


@pytest.mark.parametrize("case", list(BAD_MARKETS), ids=list(BAD_MARKETS))
async def test_a_bad_market_is_invalid_argument_and_not_created(matching: Any, case: str) -> None:
    market_id, market, field = BAD_MARKETS[case]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(matching, market_id, market)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in matching.violations(caught.value)
    listed = await matching.stub.ListMarkets(pb.ListMarketsRequest(), metadata=matching.trader)
    assert len(listed.markets) == 2


async def test_markets_page_in_name_order(matching: Any) -> None:
    await create(matching, "ETH-USDC", eth_market())
    names: list[str] = []
    token = ""
    while True:
        page = await matching.stub.ListMarkets(pb.ListMarketsRequest(page_size=2, page_token=token),
                                               metadata=matching.trader)
        names += [m.name for m in page.markets]
        token = page.next_page_token
        if not token:
            break

    assert names == ["markets/BTC-USDC", "markets/ETH-USDC", "markets/GRID-USDC"]


async def test_a_trader_may_not_create_markets(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.CreateMarket(pb.CreateMarketRequest(market_id="ETH-USDC", market=eth_market()),
                                         metadata=matching.trader)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

"""The load's order flow: reproducible from its seed, on the markets' grids, about the asked
share crossing, market and IOC orders only where the market takes them, cancels only of the
trader's own earlier resting orders."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.load.flow import BTC_USDC, DEFAULT_MARKETS, GRID_USDC, Cancel, Flow, Kind, Mix, Place, Side

GRIDS = {grid.name: grid for grid in DEFAULT_MARKETS}


def take(flow: Flow, count: int) -> list[Place | Cancel]:
    return list(itertools.islice(flow, count))


def places(actions: list[Place | Cancel]) -> list[Place]:
    return [action for action in actions if isinstance(action, Place)]


@given(seed=st.integers(0, 2**32), traders=st.integers(1, 50))
@settings(max_examples=25, deadline=None)
def test_the_same_seed_gives_the_same_flow(seed: int, traders: int) -> None:
    assert take(Flow(seed, traders), 300) == take(Flow(seed, traders), 300)


def test_another_seed_gives_another_flow() -> None:
    assert take(Flow(1, 10), 100) != take(Flow(2, 10), 100)


@given(seed=st.integers(0, 2**32))
@settings(max_examples=25, deadline=None)
def test_every_price_and_quantity_is_on_its_markets_grid(seed: int) -> None:
    for place in places(take(Flow(seed, 8), 400)):
        grid = GRIDS[place.market]
        if place.price is not None:
            assert Decimal(place.price) % grid.tick == 0 and Decimal(place.price) > 0
        if place.quantity is not None:
            assert Decimal(place.quantity) % grid.lot == 0 and Decimal(place.quantity) >= grid.lot
        if place.max_notional is not None:  # a market buy's budget: whole micro-USDC
            assert Decimal(place.max_notional).scaleb(6) % 1 == 0


def test_about_the_asked_share_of_orders_cross() -> None:
    placed = places(take(Flow(7, 32), 20_000))
    assert sum(p.crossing for p in placed) / len(placed) == pytest.approx(0.30, abs=0.02)
    assert sum(p.market == GRID_USDC.name for p in placed) / len(placed) == pytest.approx(0.30, abs=0.02)


def test_resting_orders_stay_on_their_side_of_the_mid_and_crossing_ones_go_through_it() -> None:
    for place in places(take(Flow(3, 8), 2000)):
        if place.price is None:
            continue
        grid = GRIDS[place.market]
        above_mid = Decimal(place.price) > grid.mid
        buys_through = place.side is Side.BUY and above_mid
        sells_through = place.side is Side.SELL and not above_mid
        assert (buys_through or sells_through) == place.crossing


def test_market_and_ioc_orders_go_only_to_the_continuous_market_and_only_cross() -> None:
    placed = places(take(Flow(5, 16), 10_000))
    special = [p for p in placed if p.kind is not Kind.LIMIT]
    assert {p.kind for p in special} == {Kind.MARKET, Kind.IOC}
    assert all(p.market == BTC_USDC.name and p.crossing for p in special)


def test_a_market_buy_carries_a_budget_and_a_market_sell_a_quantity() -> None:
    markets = [p for p in places(take(Flow(11, 16), 10_000)) if p.kind is Kind.MARKET]
    assert markets
    for place in markets:
        assert place.price is None
        if place.side is Side.BUY:
            assert place.quantity is None and place.max_notional is not None
        else:
            assert place.quantity is not None and place.max_notional is None


def test_a_cancel_names_an_earlier_resting_order_of_the_same_trader_once() -> None:
    seen: dict[int, Place] = {}
    cancelled: set[int] = set()
    for action in take(Flow(13, 4), 5000):
        if isinstance(action, Place):
            seen[action.number] = action
            continue
        earlier = seen[action.number]
        assert earlier.trader == action.trader and earlier.kind is Kind.LIMIT
        assert action.number not in cancelled
        cancelled.add(action.number)
    assert cancelled


def test_place_numbers_count_up_from_zero() -> None:
    assert [p.number for p in places(take(Flow(17, 3), 500))] == list(range(len(places(take(Flow(17, 3), 500)))))


@pytest.mark.parametrize("mix", [{"crossing": 1.5}, {"cancel": -0.1}, {"market": 0.7, "ioc": 0.5}])
def test_a_mix_out_of_range_is_refused(mix: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Mix(**mix)


def test_a_flow_without_traders_is_refused() -> None:
    with pytest.raises(ValueError):
        Flow(1, 0)

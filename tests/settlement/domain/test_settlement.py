"""A trade's settlement: named after the trade, FAILED at intake when it cannot be charged,
and charged when retried once its asset is configured."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.runtime.errors import FailedPrecondition
from services.settlement.domain.charges import Charges, TradeTerms
from services.settlement.domain.settlement import (
    Settlement,
    charge_in_order,
    charged,
    open_settlement,
    settlement_id_for,
    transfer_id_for,
)
from services.settlement.domain.states import State
from services.wallet.domain import AssetCatalog, parse_asset_config

NOW = datetime(2026, 12, 6, tzinfo=UTC)
WITHOUT_KWH = parse_asset_config("USDC:6,BTC:8")
WITH_KWH = parse_asset_config("USDC:6,BTC:8,KWH:3")
TERMS = TradeTerms(price="0.1000", quantity="2.000", buyer="accounts/a", seller="accounts/b",
                   buy_order="orders/b", sell_order="orders/s", base_asset="KWH", quote_asset="USDC")


def energy_trade(assets: AssetCatalog) -> Settlement:
    return open_settlement(trade="markets/GRID-USDC/trades/7", market="markets/GRID-USDC", sequence=7,
                           terms=TERMS, execute_time="2026-12-06T00:00:00Z", assets=assets,
                           fee_rate=Decimal("0.001"), now=NOW)


def test_a_settlement_and_its_transfer_are_named_after_the_trade() -> None:
    assert settlement_id_for("markets/BTC-USDC/trades/42") == "BTC-USDC-42"
    assert transfer_id_for("markets/BTC-USDC/trades/42") == "markets/BTC-USDC/trades/42"


def test_a_trade_in_an_unknown_asset_is_failed_at_intake_with_the_reason() -> None:
    settlement = energy_trade(WITHOUT_KWH)

    assert settlement.progress.state is State.FAILED
    assert (settlement.progress.failure_reason or "").startswith("UNKNOWN_ASSET")
    assert settlement.charges == Charges(0, 0, 0, 0)


def test_a_retried_trade_is_charged_once_its_asset_is_configured() -> None:
    settlement, filled = charged(energy_trade(WITHOUT_KWH), {}, WITH_KWH, Decimal("0.001"))

    assert settlement.charges == Charges(notional_units=200_000, quantity_units=2000, buyer_fee_units=200,
                                         seller_fee_units=200)
    assert filled == {settlement.terms.buy_order: 200_000, settlement.terms.sell_order: 200_000}


def test_a_retried_trade_is_charged_after_what_its_orders_already_filled() -> None:
    trade = energy_trade(WITHOUT_KWH)
    # The buy order already filled 0.0006 USDC (fee 0.6 → 1 unit): 0.2 USDC more makes its fee
    # ceil(200.6) = 201 units in all, so this trade adds 200; the sell order's first fill adds 200.
    settlement, filled = charged(trade, {trade.terms.buy_order: 600}, WITH_KWH, Decimal("0.001"))

    assert (settlement.charges.buyer_fee_units, settlement.charges.seller_fee_units) == (200, 200)
    assert filled == {trade.terms.buy_order: 200_600, trade.terms.sell_order: 200_000}


def small_trade(sequence: int, buy_order: str, sell_order: str) -> Settlement:
    """0.1005 USDC of notional: a fee of 100.5 units on its own, which rounds up to 101."""
    terms = replace(TERMS, price="0.0335", quantity="3.000", base_asset="KWH",
                    buy_order=buy_order, sell_order=sell_order)
    return open_settlement(trade=f"markets/GRID-USDC/trades/{sequence}", market="markets/GRID-USDC",
                           sequence=sequence, terms=terms, execute_time="2026-12-06T00:00:00Z",
                           assets=WITH_KWH, fee_rate=Decimal("0.001"), now=NOW)


def test_an_orders_fees_over_many_trades_come_to_the_fee_of_its_whole_fill() -> None:
    # One buy order against three sellers, as an auction clearing fills it: charged trade by
    # trade, its fees come to ceil(301.5) = 302 units, not 101 + 101 + 101.
    trades = [small_trade(n, "orders/b", f"orders/s{n}") for n in (3, 1, 2)]

    charged_ones, filled = charge_in_order(trades, {}, WITH_KWH, Decimal("0.001"))

    assert [s.sequence for s in charged_ones] == [1, 2, 3]
    assert [s.charges.buyer_fee_units for s in charged_ones] == [101, 100, 101]
    assert [s.charges.seller_fee_units for s in charged_ones] == [101, 101, 101]  # three sell orders
    assert filled["orders/b"] == 3 * 100_500


def test_a_trade_still_uncharged_cannot_be_retried() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        charged(energy_trade(WITHOUT_KWH), {}, WITHOUT_KWH, Decimal("0.001"))

    assert refused.value.reason == "UNKNOWN_ASSET"

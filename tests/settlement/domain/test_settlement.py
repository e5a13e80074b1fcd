"""A trade's settlement: named after the trade, FAILED at intake when it cannot be charged,
and charged when retried once its asset is configured."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.runtime.errors import FailedPrecondition
from services.settlement.domain.charges import Charges, TradeTerms
from services.settlement.domain.settlement import (
    Settlement,
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
    settlement = charged(energy_trade(WITHOUT_KWH), WITH_KWH, Decimal("0.001"))

    assert settlement.charges == Charges(notional_units=200_000, quantity_units=2000, buyer_fee_units=200,
                                         seller_fee_units=200)


def test_a_trade_still_uncharged_cannot_be_retried() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        charged(energy_trade(WITHOUT_KWH), WITHOUT_KWH, Decimal("0.001"))

    assert refused.value.reason == "UNKNOWN_ASSET"

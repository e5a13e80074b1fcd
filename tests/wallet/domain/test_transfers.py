"""PostTransfer: a trade's linked chain posts atomically out of holds, once per trade id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.wallet.domain import (
    DEFAULT_ASSETS,
    Balance,
    Leg,
    SystemAccount,
    TransferKind,
    WalletReason,
    build_trade_legs,
)
from tests.wallet.domain.ledger_model import Ledger

ALICE, BOB = "accounts/alice", "accounts/bob"  # Alice buys GRID with USDC from Bob
TRADE_ID = "markets/GRID-USDC/trades/1"


@pytest.fixture
def market(ledger: Ledger, fund: Callable[[str, str, str], None], at: datetime) -> Ledger:
    fund(ALICE, "USDC", "100")
    fund(BOB, "GRID", "40")
    ledger.place_hold("buy-1", ALICE, "USDC", Decimal("60"), at=at)
    ledger.place_hold("sell-1", BOB, "GRID", Decimal("15"), at=at)
    return ledger


def trade_legs(quantity: str = "10", quote_amount: str = "50", fee: str = "0.05") -> list[Leg]:
    return build_trade_legs(
        buyer=ALICE, seller=BOB, base=DEFAULT_ASSETS["GRID"], quote=DEFAULT_ASSETS["USDC"],
        quantity=Decimal(quantity), quote_amount=Decimal(quote_amount),
        buyer_fee=Decimal(fee), seller_fee=Decimal(fee), buyer_hold_id="buy-1", seller_hold_id="sell-1",
    )


def test_trade_moves_held_funds_to_counterparties_and_fees(market: Ledger, at: datetime) -> None:
    market.post_transfer(TRADE_ID, trade_legs(), at=at)
    assert market.balance(ALICE, "USDC") == Balance(total=49_950_000, held=9_950_000)
    assert market.balance(ALICE, "GRID") == Balance(total=10_000, held=0)
    assert market.balance(BOB, "USDC") == Balance(total=49_950_000, held=0)
    assert market.balance(BOB, "GRID") == Balance(total=30_000, held=5_000)
    assert market.balance(SystemAccount.FEES, "USDC") == Balance(total=100_000, held=0)


def test_trade_consumes_from_the_named_holds(market: Ledger, at: datetime) -> None:
    market.post_transfer(TRADE_ID, trade_legs(), at=at)
    assert market.hold("buy-1").consumed_units == 50_050_000
    assert market.hold("sell-1").remaining_units == 5_000


def test_transfer_is_recorded_with_its_postings_as_entries(market: Ledger, at: datetime) -> None:
    transfer = market.post_transfer(TRADE_ID, trade_legs(), at=at)
    assert transfer.kind == TransferKind.TRADE
    trade_entries = [entry for entry in market.entries() if entry.transfer_id == TRADE_ID]
    assert [(e.account, e.asset, e.units) for e in trade_entries] == [
        (p.account, p.asset, p.units) for p in transfer.postings
    ]
    assert all(entry.create_time == at for entry in trade_entries)


def test_replayed_trade_returns_the_first_transfer_and_moves_nothing(market: Ledger, at: datetime) -> None:
    first = market.post_transfer(TRADE_ID, trade_legs(), at=at)
    balances = market.all_balances()
    entry_count = len(market.entries())
    assert market.post_transfer(TRADE_ID, trade_legs(), at=at + timedelta(minutes=1)) == first
    assert market.all_balances() == balances
    assert len(market.entries()) == entry_count


def test_trade_id_reused_with_other_postings_is_already_exists(market: Ledger, at: datetime) -> None:
    market.post_transfer(TRADE_ID, trade_legs(), at=at)
    with pytest.raises(AlreadyExists) as caught:
        market.post_transfer(TRADE_ID, trade_legs(quantity="11"), at=at)
    assert caught.value.reason == WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS
    assert caught.value.metadata == {"id": TRADE_ID, "differentFields": "postings"}


def test_consuming_more_than_a_hold_has_left_fails_the_whole_chain(market: Ledger, at: datetime) -> None:
    before = market.all_balances()
    with pytest.raises(FailedPrecondition) as caught:
        market.post_transfer(TRADE_ID, trade_legs(quantity="15.001"), at=at)
    assert caught.value.reason == WalletReason.HOLD_EXCEEDED
    assert caught.value.metadata["holdId"] == "sell-1"
    # The quote legs before the failing base leg did not post either.
    assert market.all_balances() == before
    assert market.transfer(TRADE_ID) is None


def test_a_hold_cannot_be_consumed_twice_past_its_amount(market: Ledger, at: datetime) -> None:
    market.post_transfer("t1", trade_legs(quantity="10"), at=at)
    with pytest.raises(FailedPrecondition) as caught:
        market.post_transfer("t2", trade_legs(quantity="10"), at=at)
    assert caught.value.reason == WalletReason.HOLD_EXCEEDED


def test_leg_from_an_unknown_hold_is_not_found(market: Ledger, at: datetime) -> None:
    with pytest.raises(NotFound) as caught:
        market.post_transfer("t1", [Leg(ALICE, BOB, "USDC", Decimal("1"), "no-such-order")], at=at)
    assert caught.value.reason == WalletReason.HOLD_NOT_FOUND


def test_leg_must_debit_the_holds_own_account_and_asset(market: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        market.post_transfer("t1", [Leg(BOB, ALICE, "USDC", Decimal("1"), "buy-1")], at=at)
    assert caught.value.reason == WalletReason.HOLD_MISMATCH


def test_leg_from_available_funds_cannot_overdraw_a_user(market: Ledger, at: datetime) -> None:
    # Alice has 40 USDC available (100 minus the 60 held).
    with pytest.raises(FailedPrecondition) as caught:
        market.post_transfer("t1", [Leg(ALICE, BOB, "USDC", Decimal("40.000001"))], at=at)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS


def test_leg_from_available_funds_within_balance_posts(market: Ledger, at: datetime) -> None:
    market.post_transfer("t1", [Leg(ALICE, BOB, "USDC", Decimal("40"))], kind=TransferKind.INTERNAL, at=at)
    assert market.balance(ALICE, "USDC").available == 0


def test_fee_account_cannot_go_negative(market: Ledger, at: datetime) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        market.post_transfer("t1", [Leg(SystemAccount.FEES, BOB, "USDC", Decimal("1"))], at=at)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS


def test_hot_wallet_may_go_negative_when_sweeping_to_cold(ledger: Ledger, at: datetime) -> None:
    ledger.post_transfer(
        "sweep-1", [Leg(SystemAccount.COLD_WALLET, SystemAccount.HOT_WALLET, "BTC", Decimal("1"))],
        kind=TransferKind.INTERNAL, at=at,
    )
    assert ledger.balance(SystemAccount.COLD_WALLET, "BTC").total == -100_000_000


def test_transfer_ids_in_the_wallets_own_namespaces_are_refused(market: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        market.post_transfer("deposits/r1", trade_legs(), at=at)
    assert caught.value.reason == WalletReason.INVALID_ID


def test_trade_cannot_spend_a_withdrawal_hold(market: Ledger, at: datetime) -> None:
    market.request_withdrawal("w1", ALICE, "USDC", Decimal("5"), "dest", at=at)
    leg = replace(trade_legs()[0], hold_id="withdrawals/w1")
    with pytest.raises(InvalidArgument) as caught:
        market.post_transfer("t1", [leg], at=at)
    assert caught.value.reason == WalletReason.INVALID_ID

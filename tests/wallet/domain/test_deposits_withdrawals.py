"""Deposits credit users from deposits-in-transit; withdrawals are hold-backed payouts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.wallet.domain import Balance, SystemAccount, TransferKind, WalletReason, WithdrawalState
from tests.wallet.domain.ledger_model import Ledger

ALICE = "accounts/alice"


def test_deposit_credits_the_user_from_deposits_in_transit(ledger: Ledger, at: datetime) -> None:
    transfer = ledger.deposit("req-1", ALICE, "BTC", Decimal("0.5"), at=at)
    assert transfer.kind == TransferKind.DEPOSIT
    assert ledger.balance(ALICE, "BTC") == Balance(total=50_000_000)
    assert ledger.balance(SystemAccount.DEPOSITS_IN_TRANSIT, "BTC") == Balance(total=-50_000_000)


def test_replayed_deposit_returns_the_first_transfer_and_credits_once(ledger: Ledger, at: datetime) -> None:
    first = ledger.deposit("req-1", ALICE, "BTC", Decimal("0.5"), at=at)
    assert ledger.deposit("req-1", ALICE, "BTC", Decimal("0.50"), at=at + timedelta(hours=1)) == first
    assert ledger.balance(ALICE, "BTC").total == 50_000_000


def test_deposit_request_id_reused_for_another_deposit_is_already_exists(ledger: Ledger, at: datetime) -> None:
    ledger.deposit("req-1", ALICE, "BTC", Decimal("0.5"), at=at)
    with pytest.raises(AlreadyExists) as caught:
        ledger.deposit("req-1", "accounts/bob", "BTC", Decimal("0.5"), at=at)
    assert caught.value.reason == WalletReason.DEPOSIT_EXISTS_WITH_DIFFERENT_PARAMS


def test_deposit_amount_beyond_asset_precision_is_refused(ledger: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ledger.deposit("req-1", ALICE, "GRID", Decimal("1.0001"), at=at)
    assert caught.value.reason == WalletReason.AMOUNT_TOO_PRECISE
    assert ledger.entries() == []


@pytest.fixture
def funded(ledger: Ledger, fund: Callable[[str, str, str], None]) -> Ledger:
    fund(ALICE, "USDC", "100")
    return ledger


def test_withdrawal_holds_the_amount_and_is_pending(funded: Ledger, at: datetime) -> None:
    withdrawal = funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    assert withdrawal.state == WithdrawalState.PENDING
    assert withdrawal.name == "accounts/alice/withdrawals/w1"
    assert funded.balance(ALICE, "USDC") == Balance(total=100_000_000, held=30_000_000)


def test_withdrawal_beyond_available_is_insufficient_funds(funded: Ledger, at: datetime) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        funded.request_withdrawal("w1", ALICE, "USDC", Decimal("100.000001"), "dest-addr", at=at)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS
    with pytest.raises(NotFound):
        funded.withdrawal("w1")


def test_replayed_withdrawal_request_holds_once(funded: Ledger, at: datetime) -> None:
    first = funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    assert funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at) == first
    assert funded.balance(ALICE, "USDC").held == 30_000_000


def test_withdrawal_request_id_reused_with_other_destination_is_already_exists(funded: Ledger, at: datetime) -> None:
    funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    with pytest.raises(AlreadyExists) as caught:
        funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "other-addr", at=at)
    assert caught.value.reason == WalletReason.WITHDRAWAL_EXISTS_WITH_DIFFERENT_PARAMS
    assert caught.value.metadata["differentFields"] == "destination"


def test_completed_withdrawal_posts_the_held_amount_to_withdrawals_in_transit(funded: Ledger, at: datetime) -> None:
    funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    outcome = funded.complete_withdrawal("w1", at=at + timedelta(minutes=5))
    assert outcome.withdrawal.state == WithdrawalState.COMPLETED
    assert outcome.withdrawal.update_time == at + timedelta(minutes=5)
    assert outcome.transfer is not None and outcome.transfer.kind == TransferKind.WITHDRAWAL
    assert funded.balance(ALICE, "USDC") == Balance(total=70_000_000, held=0)
    assert funded.balance(SystemAccount.WITHDRAWALS_IN_TRANSIT, "USDC") == Balance(total=30_000_000)
    assert not funded.hold(outcome.withdrawal.hold_id).is_open


def test_failed_withdrawal_releases_the_hold(funded: Ledger, at: datetime) -> None:
    funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    outcome = funded.fail_withdrawal("w1", "destination rejected", at=at)
    assert outcome.withdrawal.state == WithdrawalState.FAILED
    assert outcome.withdrawal.failure_reason == "destination rejected"
    assert outcome.release is not None and outcome.release.released_units == 30_000_000
    assert funded.balance(ALICE, "USDC") == Balance(total=100_000_000, held=0)


@pytest.mark.parametrize("first", ["complete", "fail"])
@pytest.mark.parametrize("second", ["complete", "fail"])
def test_a_resolved_withdrawal_cannot_be_resolved_again(funded: Ledger, at: datetime, first: str, second: str) -> None:
    funded.request_withdrawal("w1", ALICE, "USDC", Decimal("30"), "dest-addr", at=at)
    resolve = {
        "complete": lambda: funded.complete_withdrawal("w1", at=at),
        "fail": lambda: funded.fail_withdrawal("w1", "rejected", at=at),
    }
    resolve[first]()
    balances = funded.all_balances()
    with pytest.raises(FailedPrecondition) as caught:
        resolve[second]()
    assert caught.value.reason == WalletReason.WITHDRAWAL_NOT_PENDING
    assert funded.all_balances() == balances


def test_resolving_an_unknown_withdrawal_is_not_found(ledger: Ledger, at: datetime) -> None:
    with pytest.raises(NotFound) as caught:
        ledger.complete_withdrawal("nope", at=at)
    assert caught.value.reason == WalletReason.WITHDRAWAL_NOT_FOUND


def test_withdrawals_are_for_user_accounts_only(ledger: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ledger.request_withdrawal("w1", SystemAccount.FEES, "USDC", Decimal("1"), "dest", at=at)
    assert caught.value.reason == WalletReason.INVALID_ACCOUNT

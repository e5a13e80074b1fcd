"""Holds: set funds aside by order id, idempotently; release at most what is left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from services.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.wallet.domain import Balance, WalletReason
from tests.wallet.domain.ledger_model import Ledger

ALICE = "accounts/alice"


@pytest.fixture
def funded(ledger: Ledger, fund: Callable[[str, str, str], None]) -> Ledger:
    fund(ALICE, "USDC", "100")
    return ledger


def test_hold_moves_available_to_held(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    balance = funded.balance(ALICE, "USDC")
    assert (balance.available, balance.held, balance.total) == (70_000_000, 30_000_000, 100_000_000)


def test_hold_beyond_available_is_insufficient_funds_and_changes_nothing(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("80"), at=at)
    with pytest.raises(FailedPrecondition) as caught:
        funded.place_hold("order-2", ALICE, "USDC", Decimal("20.000001"), at=at)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS
    assert caught.value.metadata["shortfall"] == "1"
    assert funded.balance(ALICE, "USDC") == Balance(total=100_000_000, held=80_000_000)
    with pytest.raises(NotFound):
        funded.hold("order-2")


def test_hold_on_an_account_never_funded_is_insufficient_funds(ledger: Ledger, at: datetime) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        ledger.place_hold("order-1", "accounts/new", "USDC", Decimal("1"), at=at)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS


def test_replayed_hold_returns_the_first_hold_and_holds_nothing_more(funded: Ledger, at: datetime) -> None:
    first = funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    again = funded.place_hold("order-1", ALICE, "USDC", Decimal("30.000"), at=at + timedelta(seconds=5))
    assert again == first
    assert funded.balance(ALICE, "USDC").held == 30_000_000


def test_hold_id_reused_with_other_params_is_already_exists_naming_the_fields(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    with pytest.raises(AlreadyExists) as caught:
        funded.place_hold("order-1", ALICE, "USDC", Decimal("31"), at=at)
    assert caught.value.reason == WalletReason.HOLD_EXISTS_WITH_DIFFERENT_PARAMS
    assert caught.value.metadata == {"id": "order-1", "differentFields": "amount"}


def test_holds_are_for_user_accounts_only(ledger: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ledger.place_hold("order-1", "system/fees", "USDC", Decimal("1"), at=at)
    assert caught.value.reason == WalletReason.INVALID_ACCOUNT


def test_hold_ids_in_the_wallets_own_namespaces_are_refused(funded: Ledger, at: datetime) -> None:
    with pytest.raises(InvalidArgument) as caught:
        funded.place_hold("withdrawals/w1", ALICE, "USDC", Decimal("1"), at=at)
    assert caught.value.reason == WalletReason.INVALID_ID


def test_partial_release_returns_that_much_to_available(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    release = funded.release_hold("order-1", Decimal("10"))
    assert (release.released_units, release.remaining_units) == (10_000_000, 20_000_000)
    assert funded.balance(ALICE, "USDC") == Balance(total=100_000_000, held=20_000_000)


def test_full_release_returns_everything_left_and_repeating_it_releases_nothing(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    funded.release_hold("order-1", Decimal("10"))
    assert funded.release_hold("order-1").released_units == 20_000_000
    assert funded.release_hold("order-1").released_units == 0
    assert funded.balance(ALICE, "USDC") == Balance(total=100_000_000, held=0)


def test_releasing_more_than_remains_is_refused(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    funded.release_hold("order-1", Decimal("25"))
    with pytest.raises(FailedPrecondition) as caught:
        funded.release_hold("order-1", Decimal("5.000001"))
    assert caught.value.reason == WalletReason.HOLD_EXCEEDED
    assert funded.hold("order-1").remaining_units == 5_000_000


def test_partial_release_with_release_id_is_idempotent(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    first = funded.release_hold("order-1", Decimal("10"), release_id="cancel-1")
    assert funded.release_hold("order-1", Decimal("10"), release_id="cancel-1") == first
    assert funded.hold("order-1").remaining_units == 20_000_000


def test_release_id_reused_with_other_amount_is_already_exists(funded: Ledger, at: datetime) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    funded.release_hold("order-1", Decimal("10"), release_id="cancel-1")
    with pytest.raises(AlreadyExists) as caught:
        funded.release_hold("order-1", Decimal("11"), release_id="cancel-1")
    assert caught.value.reason == WalletReason.RELEASE_EXISTS_WITH_DIFFERENT_PARAMS


def test_releasing_an_unknown_hold_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound) as caught:
        ledger.release_hold("order-x")
    assert caught.value.reason == WalletReason.HOLD_NOT_FOUND


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1")])
def test_release_amount_must_be_positive(funded: Ledger, at: datetime, amount: Decimal) -> None:
    funded.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    with pytest.raises(InvalidArgument) as caught:
        funded.release_hold("order-1", amount)
    assert caught.value.reason == WalletReason.AMOUNT_NOT_POSITIVE

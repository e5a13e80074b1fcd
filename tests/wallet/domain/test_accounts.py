"""Account names and which accounts may go negative."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from services.wallet.domain import (
    SystemAccount,
    WalletReason,
    may_go_negative,
    require_user_account,
    user_account,
    validate_account,
)


def test_user_account_name_is_accounts_slash_id() -> None:
    assert user_account("3f2a-77") == "accounts/3f2a-77"


@pytest.mark.parametrize("name", ["accounts/", "accounts/a b", "accounts/a/b", "users/a", "system/other", "", "accounts/-x"])
def test_malformed_account_names_are_invalid(name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_account(name)
    assert caught.value.reason == WalletReason.INVALID_ACCOUNT


@pytest.mark.parametrize("account", list(SystemAccount))
def test_every_system_account_is_a_valid_name(account: SystemAccount) -> None:
    assert validate_account(account) == account


def test_system_accounts_are_not_user_accounts() -> None:
    with pytest.raises(InvalidArgument):
        require_user_account(SystemAccount.FEES)


@pytest.mark.parametrize(
    "account", [SystemAccount.DEPOSITS_IN_TRANSIT, SystemAccount.HOT_WALLET, SystemAccount.COLD_WALLET]
)
def test_asset_side_system_accounts_may_go_negative(account: str) -> None:
    assert may_go_negative(account)


@pytest.mark.parametrize(
    "account", ["accounts/alice", SystemAccount.FEES, SystemAccount.WITHDRAWALS_IN_TRANSIT]
)
def test_liability_accounts_may_not_go_negative(account: str) -> None:
    assert not may_go_negative(account)

"""Ledger account names and which of them may go negative.

Sign convention: a positive balance is what the platform owes the account's holder (a
liability: users, fees earned, payouts not yet sent); a negative balance is value the
platform holds or is owed on chain (an asset). With every transfer summing to zero, the
liabilities are always exactly covered by the asset accounts.

- `accounts/{id}`: a user; created on first use; available never below zero.
- `system/fees`: fee revenue; accrues from trades; never below zero.
- `system/withdrawals-in-transit`: payouts approved and debited from users but not yet
  sent on chain; the payout sweep drains it; never below zero.
- `system/deposits-in-transit`: the source of every deposit credit; goes negative by
  what was received on chain and not yet swept to a wallet (an asset).
- `system/hot-wallet`, `system/cold-wallet`: on-chain holdings (assets); negative is normal.

Operator sweeps are INTERNAL transfers: received deposits into the hot wallet
`Leg(HOT_WALLET, DEPOSITS_IN_TRANSIT, ...)`; a sent payout `Leg(WITHDRAWALS_IN_TRANSIT,
HOT_WALLET, ...)`; hot to cold storage `Leg(COLD_WALLET, HOT_WALLET, ...)`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from services.runtime.errors import InvalidArgument
from services.wallet.domain.reasons import WalletReason

USER_ACCOUNT_PREFIX = "accounts/"
# The id is the token's `sub`: UUIDs and similar opaque ids, URL-safe so names nest in paths.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")


class SystemAccount(StrEnum):
    FEES = "system/fees"
    DEPOSITS_IN_TRANSIT = "system/deposits-in-transit"
    WITHDRAWALS_IN_TRANSIT = "system/withdrawals-in-transit"
    HOT_WALLET = "system/hot-wallet"
    COLD_WALLET = "system/cold-wallet"


_SYSTEM_ACCOUNTS = frozenset(SystemAccount)
# The asset side of the books: balances here may be negative (see module docstring).
ASSET_SIDE_ACCOUNTS = frozenset(
    {SystemAccount.DEPOSITS_IN_TRANSIT, SystemAccount.HOT_WALLET, SystemAccount.COLD_WALLET}
)


def user_account(user_id: str) -> str:
    """`accounts/{user_id}`, validated."""
    return validate_account(USER_ACCOUNT_PREFIX + user_id)


def is_user_account(account: str) -> bool:
    return account.startswith(USER_ACCOUNT_PREFIX)


def may_go_negative(account: str) -> bool:
    return account in ASSET_SIDE_ACCOUNTS


def validate_account(account: str, *, field: str = "account") -> str:
    """Return `account` if it is a user account name or a system account, else raise."""
    if isinstance(account, str):
        if account in _SYSTEM_ACCOUNTS:
            return account
        if is_user_account(account) and _USER_ID.fullmatch(account[len(USER_ACCOUNT_PREFIX):]):
            return account
    raise InvalidArgument(
        WalletReason.INVALID_ACCOUNT,
        f"invalid account {account!r}",
        violations=[(field, "must be accounts/{id} or a system/... account")],
    )


def require_user_account(account: str, *, field: str = "account") -> str:
    """Holds and withdrawals belong to users only."""
    validate_account(account, field=field)
    if not is_user_account(account):
        raise InvalidArgument(
            WalletReason.INVALID_ACCOUNT,
            f"{account} is not a user account",
            violations=[(field, "must be accounts/{id}")],
        )
    return account

"""Balances per (account, asset) and how postings and holds change them.

`total` is the sum of the account's postings; `held` is the sum of its open holds;
`available = total - held` is what it may spend or hold. Pure value objects: the in-memory
ledger and the SQL store apply the same functions to their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.errors import FailedPrecondition
from services.wallet.domain.accounts import may_go_negative
from services.wallet.domain.postings import Posting
from services.wallet.domain.reasons import WalletReason

BalanceKey = tuple[str, str]  # (account, asset)


@dataclass(frozen=True, slots=True)
class Balance:
    total: int = 0
    held: int = 0

    @property
    def available(self) -> int:
        return self.total - self.held

    def hold(self, units: int) -> Balance:
        return Balance(self.total, self.held + units)

    def release(self, units: int) -> Balance:
        return Balance(self.total, self.held - units)

    def post(self, posting: Posting) -> Balance:
        # A debit out of a hold leaves available unchanged: the funds were already set aside.
        held = self.held + posting.units if posting.hold_id is not None else self.held
        return Balance(self.total + posting.units, held)


def check_floor(account: str, asset: str, balance: Balance, *, needed: int | None = None) -> None:
    """Raise INSUFFICIENT_FUNDS if `balance` leaves a non-negative account below zero.

    `needed` (minor units) only enriches the error for the caller who asked for that much.
    """
    if balance.available >= 0 or may_go_negative(account):
        return
    metadata = {"account": account, "asset": asset, "shortfall": str(-balance.available)}
    if needed is not None:
        metadata["requested"] = str(needed)
    raise FailedPrecondition(
        WalletReason.INSUFFICIENT_FUNDS,
        f"{account} has insufficient available {asset}",
        metadata=metadata,
    )

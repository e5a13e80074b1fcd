"""Prove stored balances are what the journal says: recompute from entries and compare.

`total` must equal the sum of the account's entries and `held` the sum of its open holds'
remaining amounts; every transfer must balance per asset; no account that must stay
non-negative may be below zero. Run by tests after every step and by the store's
reconciliation job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.wallet.domain.accounts import may_go_negative
from services.wallet.domain.balances import Balance, BalanceKey
from services.wallet.domain.holds import HoldStatus
from services.wallet.domain.postings import Entry


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account: str
    asset: str
    stored: Balance
    derived: Balance


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    mismatches: list[BalanceMismatch] = field(default_factory=list)
    unbalanced_transfers: dict[str, dict[str, int]] = field(default_factory=dict)
    negative_balances: list[BalanceKey] = field(default_factory=list)
    unbalanced_assets: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.unbalanced_transfers or self.negative_balances or self.unbalanced_assets)


def derive_balances(entries: Iterable[Entry], holds: Iterable[HoldStatus]) -> dict[BalanceKey, Balance]:
    totals: dict[BalanceKey, int] = defaultdict(int)
    held: dict[BalanceKey, int] = defaultdict(int)
    for entry in entries:
        totals[(entry.account, entry.asset)] += entry.units
    for status in holds:
        held[(status.hold.account, status.hold.asset)] += status.remaining_units
    return {key: Balance(totals.get(key, 0), held.get(key, 0)) for key in totals.keys() | held.keys()}


def check_consistency(
    entries: Iterable[Entry], holds: Iterable[HoldStatus], stored: Mapping[BalanceKey, Balance]
) -> ConsistencyReport:
    entries = list(entries)
    derived = derive_balances(entries, holds)
    zero = Balance()
    mismatches = [
        BalanceMismatch(account, asset, stored.get((account, asset), zero), derived.get((account, asset), zero))
        for account, asset in sorted(derived.keys() | stored.keys())
        if stored.get((account, asset), zero) != derived.get((account, asset), zero)
    ]
    by_transfer: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_asset: dict[str, int] = defaultdict(int)
    for entry in entries:
        by_transfer[entry.transfer_id][entry.asset] += entry.units
        by_asset[entry.asset] += entry.units
    unbalanced = {
        transfer_id: {asset: total for asset, total in sums.items() if total}
        for transfer_id, sums in by_transfer.items()
        if any(sums.values())
    }
    negative = sorted(
        key for key, balance in stored.items() if balance.available < 0 and not may_go_negative(key[0])
    )
    return ConsistencyReport(
        mismatches, unbalanced, negative, {asset: total for asset, total in by_asset.items() if total}
    )

"""Reconciliation: what Matching traded, what Settlement recorded, what the Wallet posted and
what was anchored must agree. Pure: the reconciler gathers the facts, this names differences.

Checks, each difference one human-readable line:
- every trade has exactly one settlement, and every settlement a trade;
- every POSTED or ANCHORED settlement's transfer is in the Wallet, moving the fees it should
  into `system/fees` (its fee entry equals buyer fee + seller fee);
- per asset, the fee account's total equals the sum of the settled fees;
- every anchored batch's root, recomputed from its leaves, equals the stored (anchored) root.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.settlement.domain.settlement import Settlement, transfer_id_for
from services.settlement.domain.states import State

SETTLED = frozenset({State.POSTED, State.ANCHORED})


@dataclass(frozen=True, slots=True)
class BatchCheck:
    batch_id: int
    stored_root_hex: str
    recomputed_root_hex: str
    stored_leaf_count: int
    member_count: int


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    # transfer id → asset → units the fee account received in it
    fee_entries: Mapping[str, Mapping[str, int]]
    # transfers found in the Wallet (with or without a fee entry)
    transfers: frozenset[str]


@dataclass
class Report:
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)


def reconcile(trades: Sequence[str], settlements: Sequence[Settlement], ledger: LedgerFacts,
              batches: Sequence[BatchCheck], *, check_fee_totals: bool) -> Report:
    report = Report(checked=len(trades))
    by_trade = {settlement.trade: settlement for settlement in settlements}
    traded = set(trades)
    report.mismatches += [f"{trade}: traded but has no settlement" for trade in trades if trade not in by_trade]
    report.mismatches += [f"{s.trade}: settlement settlements/{s.settlement_id} has no trade in Matching"
                          for s in settlements if s.trade not in traded]
    expected_totals: dict[str, int] = defaultdict(int)
    for settlement in settlements:
        if settlement.progress.state not in SETTLED:
            continue
        transfer = transfer_id_for(settlement.trade)
        fees = settlement.charges.buyer_fee_units + settlement.charges.seller_fee_units
        asset = settlement.terms.quote_asset
        expected_totals[asset] += fees
        if transfer not in ledger.transfers:
            report.mismatches.append(f"{settlement.trade}: {settlement.progress.state} but the Wallet has no "
                                     f"transfer transfers/{transfer}")
            continue
        received = ledger.fee_entries.get(transfer, {}).get(asset, 0)
        if received != fees:
            report.mismatches.append(f"{settlement.trade}: the fee account received {received} {asset} units "
                                     f"in its transfer, the fees are {fees}")
    if check_fee_totals:
        actual_totals: dict[str, int] = defaultdict(int)
        for entries in ledger.fee_entries.values():
            for asset, units in entries.items():
                actual_totals[asset] += units
        for asset in sorted(set(expected_totals) | set(actual_totals)):
            if expected_totals[asset] != actual_totals[asset]:
                report.mismatches.append(f"system/fees holds {actual_totals[asset]} {asset} units, the settled "
                                         f"fees sum to {expected_totals[asset]}")
    for batch in batches:
        if batch.member_count != batch.stored_leaf_count:
            report.mismatches.append(f"batch {batch.batch_id}: {batch.member_count} settlements, "
                                     f"{batch.stored_leaf_count} leaves anchored")
        if batch.recomputed_root_hex != batch.stored_root_hex:
            report.mismatches.append(f"batch {batch.batch_id}: root recomputed from its leaves is "
                                     f"{batch.recomputed_root_hex}, anchored {batch.stored_root_hex}")
    return report

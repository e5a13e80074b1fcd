"""Transfers as double-entry postings, and the pure rules every transfer obeys.

A `Leg` is what a caller asks for (move `amount` of `asset` from one account to another,
optionally out of a named hold); a `Posting` is what the ledger records (one signed
integer amount on one account). Every leg becomes a debit and a credit posting, and a
transfer's postings must sum to zero per asset. The SQL store calls the same functions, so
the rules live only here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.runtime.errors import DomainError, InvalidArgument
from services.wallet.domain.accounts import SystemAccount, validate_account
from services.wallet.domain.assets import Asset, AssetCatalog, to_units
from services.wallet.domain.identifiers import is_valid_id, validate_id
from services.wallet.domain.reasons import WalletReason


class TransferKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRADE = "TRADE"
    # Operator movements between system accounts, e.g. sweeping hot to cold.
    INTERNAL = "INTERNAL"


@dataclass(frozen=True, slots=True)
class Leg:
    from_account: str
    to_account: str
    asset: str
    amount: Decimal
    # When set, the debit is taken from this hold (held funds) instead of available funds.
    hold_id: str | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    asset: str
    units: int  # signed minor units: negative debits, positive credits
    hold_id: str | None = None  # on debits only: the hold this debit consumes


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    kind: TransferKind
    postings: tuple[Posting, ...]
    create_time: datetime


def legs_to_postings(legs: Sequence[Leg], assets: AssetCatalog) -> tuple[Posting, ...]:
    """Validate every leg (collecting all violations) and return its debit/credit postings."""
    if not legs:
        raise InvalidArgument(
            WalletReason.INVALID_TRANSFER, "a transfer needs at least one leg",
            violations=[("legs", "must not be empty")],
        )
    plain = _plain_postings(legs, assets)
    if plain is not None:
        check_balanced(plain)
        return plain
    violations: list[tuple[str, str]] = []
    postings: list[Posting] = []
    for index, leg in enumerate(legs):
        try:
            postings.extend(_leg_postings(leg, assets, field=f"legs[{index}]"))
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(WalletReason.INVALID_TRANSFER, "invalid transfer legs", violations=violations)
    result = tuple(postings)
    check_balanced(result)
    return result


def _plain_postings(legs: Sequence[Leg], assets: AssetCatalog) -> tuple[Posting, ...] | None:
    """The postings of legs that break no rule; None as soon as one breaks one (then
    `_leg_postings` checks every leg again, naming each violation). The same rules, without
    the field paths and the check closures built for each leg: Settlement builds three legs
    for every trade it posts, nearly always valid, and the checked path cost ~0.1 ms a trade."""
    postings: list[Posting] = []
    try:
        for leg in legs:
            from_account = validate_account(leg.from_account)
            to_account = validate_account(leg.to_account)
            hold_id = leg.hold_id
            asset = assets.by_code.get(leg.asset)
            if from_account == to_account or asset is None or (hold_id is not None and not is_valid_id(hold_id)):
                return None
            units = to_units(asset, leg.amount)
            if units <= 0:
                return None
            postings.append(Posting(str(from_account), leg.asset, -units, hold_id))
            postings.append(Posting(str(to_account), leg.asset, units))
    except DomainError:
        return None
    return tuple(postings)


def _leg_postings(leg: Leg, assets: AssetCatalog, *, field: str) -> tuple[Posting, Posting]:
    violations: list[tuple[str, str]] = []

    def check(action: Callable[[], object]) -> None:
        # Gather every problem of the leg rather than stopping at the first.
        try:
            action()
        except DomainError as exc:
            violations.extend(exc.violations)

    check(lambda: validate_account(leg.from_account, field=f"{field}.from_account"))
    check(lambda: validate_account(leg.to_account, field=f"{field}.to_account"))
    if leg.from_account == leg.to_account:
        violations.append((f"{field}.to_account", "must differ from from_account"))
    hold_id = leg.hold_id
    if hold_id is not None:
        check(lambda: validate_id(hold_id, field=f"{field}.hold_id"))
    units = 0
    try:
        asset = assets.resolve(leg.asset, field=f"{field}.asset")
        units = to_units(asset, leg.amount, field=f"{field}.amount")
        if units <= 0:
            violations.append((f"{field}.amount", "must be greater than zero"))
    except DomainError as exc:
        violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(WalletReason.INVALID_TRANSFER, "invalid leg", violations=violations)
    # str(): store plain strings even when callers pass SystemAccount members.
    return (
        Posting(str(leg.from_account), leg.asset, -units, leg.hold_id),
        Posting(str(leg.to_account), leg.asset, units),
    )


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise unless the postings sum to zero for every asset (double entry)."""
    sums = net_by_asset(postings)
    unbalanced = {asset: total for asset, total in sums.items() if total != 0}
    if unbalanced:
        raise InvalidArgument(
            WalletReason.UNBALANCED_TRANSFER,
            "postings must sum to zero per asset",
            metadata={asset: str(total) for asset, total in unbalanced.items()},
            violations=[("postings", f"{asset} sums to {total} minor units") for asset, total in unbalanced.items()],
        )


def net_by_asset(postings: Iterable[Posting]) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        sums[posting.asset] += posting.units
    return dict(sums)


def consumed_by_hold(postings: Iterable[Posting]) -> dict[str, int]:
    """Minor units each named hold gives up in these postings."""
    consumed: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.hold_id is not None:
            consumed[posting.hold_id] -= posting.units
    return dict(consumed)


def build_trade_legs(
    *,
    buyer: str,
    seller: str,
    base: Asset,
    quote: Asset,
    quantity: Decimal,
    quote_amount: Decimal,
    buyer_fee: Decimal,
    seller_fee: Decimal,
    buyer_hold_id: str,
    seller_hold_id: str,
    fee_account: str = SystemAccount.FEES,
) -> list[Leg]:
    """The linked chain for one trade; fees are charged in the quote asset.

    The buyer's quote hold pays the seller `quote_amount - seller_fee` and the fee account
    both fees; the seller's base hold pays the buyer `quantity`. Zero-amount legs are left
    out (a zero fee moves nothing).
    """
    violations: list[tuple[str, str]] = []
    for name, value in (("quantity", quantity), ("quote_amount", quote_amount)):
        if value <= 0:
            violations.append((name, "must be greater than zero"))
    for name, value in (("buyer_fee", buyer_fee), ("seller_fee", seller_fee)):
        if value < 0:
            violations.append((name, "must not be negative"))
    if seller_fee > quote_amount:
        violations.append(("seller_fee", "must not exceed quote_amount"))
    if violations:
        raise InvalidArgument(WalletReason.INVALID_TRANSFER, "invalid trade amounts", violations=violations)
    candidates = [
        Leg(buyer, seller, quote.code, quote_amount - seller_fee, buyer_hold_id),
        Leg(buyer, fee_account, quote.code, buyer_fee + seller_fee, buyer_hold_id),
        Leg(seller, buyer, base.code, quantity, seller_hold_id),
    ]
    return [leg for leg in candidates if leg.amount != 0]


def deposit_legs(account: str, asset: Asset, amount: Decimal) -> list[Leg]:
    return [Leg(SystemAccount.DEPOSITS_IN_TRANSIT, account, asset.code, amount)]


def withdrawal_legs(account: str, asset: Asset, amount: Decimal, hold_id: str) -> list[Leg]:
    return [Leg(account, SystemAccount.WITHDRAWALS_IN_TRANSIT, asset.code, amount, hold_id)]


@dataclass(frozen=True, slots=True)
class Entry:
    """One posting as stored in the append-only journal, in commit order."""

    sequence: int
    transfer_id: str
    kind: TransferKind
    account: str
    asset: str
    units: int
    hold_id: str | None
    create_time: datetime


def transfer_entries(transfer: Transfer, first_sequence: int) -> list[Entry]:
    return [
        Entry(
            first_sequence + offset, transfer.transfer_id, transfer.kind, posting.account,
            posting.asset, posting.units, posting.hold_id, transfer.create_time,
        )
        for offset, posting in enumerate(transfer.postings)
    ]
